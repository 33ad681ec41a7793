/**
 * Rendering one frame to JPEG or PNG (PS3.18 8.3.5 rendered / thumbnail resources, WADO-URI).
 *
 * Supported: native (uncompressed) pixel data, 1/8/16/32 bits allocated, signed or
 * unsigned, little or big endian; MONOCHROME1 (inverted) and MONOCHROME2 with the
 * Modality LUT (rescale slope/intercept) and a VOI window (request → file → frame
 * min/max); RGB (planar configuration 0 and 1), YBR_FULL and YBR_FULL_422 to RGB; PALETTE
 * COLOR through its red/green/blue lookup tables, plain or segmented (palette.ts); 1-bit
 * bitmaps (segmentations) as black and white.
 * Every encapsulated syntax codecs.ts lists (DCT JPEG of every process and precision, lossless
 * JPEG, JPEG-LS, JPEG 2000, HTJ2K, RLE, deflated frames) is decoded by its codecs in the worker
 * threads (frame-decoder.ts) — the JPEG process from the stream's own frame header, DCT JPEG
 * in the colour space the data set declares, as dcmtk does; all then take the same path. A stream that does not decode answers 422
 * FRAME_NOT_DECODABLE. A frame larger than the frame budget (rows × columns × samples × bytes
 * per sample, from the data set and from the codestream's own header) answers 422
 * FRAME_TOO_LARGE before anything is decoded or allocated. Anything else (JPEG XL, video, no
 * pixel data) answers 406 RENDERING_NOT_SUPPORTED: the media type asked for cannot be
 * produced for that resource; the client can still fetch the frames or the instance.
 *
 * A source region (WADO-URI `region`, fractions of the image; the viewport's source
 * rectangle, pixels, negative sizes flipping) is cut out before the image is fitted to the
 * requested size (PS3.18 9.5.2: region, then viewport).
 */
import sharp from 'sharp';
import { getFrame, getPixelDataInfo, type ParsedDicom, type PixelDataInfo } from '@yunying/dicom';
import { YunyingError, badRequest, notFound } from '../errors.ts';
import { codestreamDimensions, DECODABLE_SYNTAXES } from './codecs.ts';
import { applyPalette, PaletteError, readPalette } from './palette.ts';
import { frameNotDecodable, sharedFrameDecoder, type FrameDecoder } from './frame-decoder.ts';

// libvips' operation cache keeps results of earlier pipelines for reuse; every render here
// starts from new pixels in memory, so it only held memory (up to 50 MB) and cost lookups.
sharp.cache(false);

export type VoiFunction = 'linear' | 'linear-exact' | 'sigmoid';

export interface RenderWindow {
  center: number;
  width: number;
  fn: VoiFunction;
}

export interface RenderOptions {
  /** 1-based */
  frame: number;
  format: 'jpeg' | 'png';
  /** 1..100, JPEG only */
  quality?: number;
  window?: RenderWindow;
  /** fit inside this box keeping the aspect ratio (viewport, thumbnails, WADO-URI rows/columns) */
  fit?: { width?: number; height?: number };
  /** WADO-URI region: left, top, right, bottom as fractions 0..1 of the image (PS3.18 9.5.1.2.5) */
  region?: { left: number; top: number; right: number; bottom: number };
  /**
   * the viewport's source rectangle in image pixels (PS3.18 8.3.5.1.3): x, y of the top-left
   * corner; a negative width or height flips the image along that axis
   */
  sourceRectangle?: { x: number; y: number; width: number; height: number };
  /** where compressed frames are decoded [the process's worker pool] */
  decoder?: FrameDecoder;
  /** the frame budget: largest decoded frame rendered, bytes [DEFAULT_MAX_RENDER_FRAME_BYTES] */
  maxFrameBytes?: number;
}

/**
 * Default of YUNYING_RENDER_MAX_FRAME_BYTES (128 MiB). Real frames fit: 4096×4096 RGB at 16 bits
 * is 96 MiB, a mammogram 4096×3328×2 is 26 MiB; a header declaring 25000×25000 (625 MB at 8
 * bits) does not. Rendering holds a few buffers of about this size at once.
 */
export const DEFAULT_MAX_RENDER_FRAME_BYTES = 128 * 1024 * 1024;

export const frameTooLarge = (message: string): YunyingError => new YunyingError('FRAME_TOO_LARGE', message);

/** Throws 422 FRAME_TOO_LARGE when a frame of these dimensions decodes to more than `maxBytes`. */
export function checkFrameBudget(frame: Pick<PixelDataInfo, 'rows' | 'columns' | 'samplesPerPixel' | 'bitsAllocated'>, maxBytes: number, what = 'the frame'): void {
  const bytesPerSample = Math.max(1, Math.ceil(frame.bitsAllocated / 8));
  const bytes = frame.rows * frame.columns * Math.max(1, frame.samplesPerPixel) * bytesPerSample;
  if (bytes > maxBytes) {
    throw frameTooLarge(`${what} is ${frame.columns}×${frame.rows}, ${frame.samplesPerPixel} samples of ${bytesPerSample} bytes (${bytes} bytes), more than the ${maxBytes} bytes this server renders; retrieve the frames or the instance instead`);
  }
}

export const renderingNotSupported = (message: string): YunyingError =>
  new YunyingError('RENDERING_NOT_SUPPORTED', message);

const BIG_ENDIAN = '1.2.840.10008.1.2.2';
const RLE = '1.2.840.10008.1.2.5';

/** The first start-of-frame marker of a JPEG stream (0xC0…0xCF without DHT, JPG, DAC; 0xF7 JPEG-LS), and its precision. */
export function jpegFrameType(frame: Uint8Array): { marker: number; precision: number } | undefined {
  const limit = Math.min(frame.length - 4, 1 << 20);
  for (let i = 2; i < limit; i++) {
    if (frame[i] !== 0xff) continue;
    const marker = frame[i + 1]!;
    if ((marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) || marker === 0xf7) return { marker, precision: frame[i + 4]! };
    if (marker === 0xda) return undefined;
  }
  return undefined;
}

/** The transfer syntax a codestream's first markers imply (for data sets without File Meta). */
export function sniffTransferSyntax(frame: Uint8Array): string | undefined {
  if (frame[0] === 0xff && frame[1] === 0x4f) return '1.2.840.10008.1.2.4.90';
  if (frame.length > 8 && frame[4] === 0x6a && frame[5] === 0x50) return '1.2.840.10008.1.2.4.90';
  if (frame[0] !== 0xff || frame[1] !== 0xd8) return undefined;
  const type = jpegFrameType(frame);
  if (!type) return undefined;
  if (type.marker === 0xf7) return '1.2.840.10008.1.2.4.80';
  if (type.marker === 0xc3) return '1.2.840.10008.1.2.4.70';
  if (type.marker <= 0xc1 && type.precision === 8) return '1.2.840.10008.1.2.4.50';
  return undefined;
}

/**
 * A compressed frame decoded to native little-endian samples, with the pixel description
 * fitted to what the codec produced (its size, 8 or 16 bits, planes, RGB after an MCT).
 */
async function decodeCompressedFrame(frame: Uint8Array, info: PixelDataInfo, decoder: FrameDecoder, maxFrameBytes: number): Promise<{ frame: Uint8Array; info: PixelDataInfo }> {
  const bytesPerSample = info.bitsAllocated <= 8 ? 1 : 2;
  const expected = info.rows * info.columns * info.samplesPerPixel * bytesPerSample;
  // Rows/Columns/Samples per Pixel: RLE and deflated frames carry no header of their own
  // and Photometric Interpretation: DCT JPEG is decoded in the colour space the data set declares (RGB stays RGB)
  const request = { transferSyntaxUid: info.transferSyntaxUid, frame, bitsAllocated: info.bitsAllocated, pixelRepresentation: info.pixelRepresentation, maxOutputBytes: maxFrameBytes, rows: info.rows, columns: info.columns, samplesPerPixel: info.samplesPerPixel, photometricInterpretation: info.photometricInterpretation };
  const decoded = await decoder.decode(request, expected);
  if (decoded.components !== 1 && decoded.components !== 3) throw renderingNotSupported(`rendering ${decoded.components} components is not supported`);
  let photometric = info.photometricInterpretation;
  // YBR_RCT/ICT mean the JPEG 2000 colour transform, YBR_FULL* in DCT JPEG libjpeg's: the codec has undone it
  if (photometric === 'YBR_RCT' || photometric === 'YBR_ICT' || (decoded.colorTransformed && decoded.components === 3)) photometric = 'RGB';
  // decoded chroma is at full resolution
  if (photometric.endsWith('_422') || photometric.endsWith('_420')) photometric = 'YBR_FULL';
  // one component stays PALETTE COLOR or MONOCHROME1; anything else is gray
  if (decoded.components === 1 && photometric !== 'MONOCHROME1' && photometric !== 'PALETTE COLOR') photometric = 'MONOCHROME2';
  if (decoded.components === 3 && photometric.startsWith('MONOCHROME')) photometric = 'RGB';
  const bitsAllocated = decoded.bytesPerSample * 8;
  return {
    frame: decoded.data,
    info: {
      ...info,
      rows: decoded.height,
      columns: decoded.width,
      samplesPerPixel: decoded.components,
      photometricInterpretation: photometric,
      bitsAllocated,
      bitsStored: Math.min(info.bitsStored || bitsAllocated, bitsAllocated),
      planarConfiguration: decoded.planar ? 1 : 0,
      encapsulated: false,
      transferSyntaxUid: '1.2.840.10008.1.2.1',
    },
  };
}

interface RawImage {
  data: Uint8Array;
  width: number;
  height: number;
  channels: 1 | 3;
  /** data came from the gray output pool: given back once encoded */
  pooled?: boolean;
}

/**
 * 8-bit gray images by length, reused between renders: a fresh 256 KB array per rendered CT
 * slice was garbage that V8 answers with collections of the whole heap (issue 16). A few per
 * size, a few sizes: a viewer renders one series' size over and over.
 */
const grayPool = new Map<number, Uint8Array[]>();
const GRAY_POOL_PER_SIZE = 4;
const GRAY_POOL_SIZES = 8;

function takeGray(length: number): Uint8Array {
  return grayPool.get(length)?.pop() ?? new Uint8Array(length);
}

function giveBackGray(array: Uint8Array): void {
  let list = grayPool.get(array.length);
  if (!list) {
    if (grayPool.size >= GRAY_POOL_SIZES) return;
    list = [];
    grayPool.set(array.length, list);
  }
  if (list.length < GRAY_POOL_PER_SIZE) list.push(array);
}

/** Window → 8-bit output value for a modality value x (PS3.3 C.11.2.1.2). */
function makeVoi(window: RenderWindow): (x: number) => number {
  const { center: c, width: w, fn } = window;
  if (fn === 'linear-exact') {
    const lo = c - w / 2;
    const hi = c + w / 2;
    return (x) => (x <= lo ? 0 : x > hi ? 255 : ((x - c) / w + 0.5) * 255);
  }
  if (fn === 'sigmoid') return (x) => 255 / (1 + Math.exp((-4 * (x - c)) / w));
  const lo = c - 0.5 - (w - 1) / 2;
  const hi = c - 0.5 + (w - 1) / 2;
  const span = Math.max(w - 1, 1e-6);
  return (x) => (x <= lo ? 0 : x > hi ? 255 : ((x - (c - 0.5)) / span + 0.5) * 255);
}

/** stored (raw) value → modality value, with bitsStored masking and sign extension */
function makeModality(info: PixelDataInfo): (raw: number) => number {
  const bits = Math.min(info.bitsStored || info.bitsAllocated, 32);
  const mask = bits >= 32 ? 0xffffffff : 2 ** bits - 1;
  const signBit = 2 ** (bits - 1);
  const full = 2 ** bits;
  const slope = Number.isFinite(info.rescaleSlope) && info.rescaleSlope !== 0 ? info.rescaleSlope : 1;
  const intercept = Number.isFinite(info.rescaleIntercept) ? info.rescaleIntercept : 0;
  const signed = info.pixelRepresentation === 1;
  return (raw) => {
    let v = bits >= 32 ? raw : raw & mask;
    if (signed && bits < 32 && v >= signBit) v -= full;
    return v * slope + intercept;
  };
}

function toUint16(frame: Uint8Array, bigEndian: boolean): Uint16Array {
  const count = frame.byteLength >> 1;
  if (!bigEndian && frame.byteOffset % 2 === 0) return new Uint16Array(frame.buffer, frame.byteOffset, count);
  const copy = Buffer.from(frame.subarray(0, count * 2));
  if (bigEndian) copy.swap16();
  return new Uint16Array(copy.buffer, copy.byteOffset, count);
}

function renderGray(frame: Uint8Array, info: PixelDataInfo, requested: RenderWindow | undefined, bigEndian: boolean): Uint8Array {
  const pixels = info.rows * info.columns;
  const modality = makeModality(info);
  const invert = info.photometricInterpretation === 'MONOCHROME1';

  if (info.bitsAllocated === 8 || info.bitsAllocated === 16) {
    const out = takeGray(pixels);
    const src: Uint8Array | Uint16Array = info.bitsAllocated === 8 ? frame : toUint16(frame, bigEndian);
    const n = Math.min(pixels, src.length);
    // The lookup table covers only the stored words present (a 12-bit CT uses ~4,000 of the
    // 65,536): building all of it took as long as the JPEG encoding.
    let lo = n > 0 ? src[0]! : 0;
    let hi = lo;
    for (let i = 1; i < n; i++) {
      const v = src[i]!;
      if (v < lo) lo = v;
      else if (v > hi) hi = v;
    }
    let window = requested ?? fileWindow(info);
    if (!window) {
      // min/max of the modality values of the words present (masking and sign extension make them not monotonic in the word)
      const seen = new Uint8Array(hi - lo + 1);
      for (let i = 0; i < n; i++) seen[src[i]! - lo] = 1;
      let min = Infinity;
      let max = -Infinity;
      for (let v = lo; v <= hi; v++) {
        if (seen[v - lo] === 0) continue;
        const m = modality(v);
        if (m < min) min = m;
        if (m > max) max = m;
      }
      window = minMaxWindow(min, max);
    }
    const voi = makeVoi(window);
    const lut = new Uint8Array(hi - lo + 1);
    for (let v = lo; v <= hi; v++) {
      const y = Math.round(voi(modality(v)));
      lut[v - lo] = invert ? 255 - y : y;
    }
    for (let i = 0; i < n; i++) out[i] = lut[src[i]! - lo]!;
    out.fill(0, n); // a short frame: black, as a fresh array was
    return out;
  }

  const out = new Uint8Array(pixels);
  if (info.bitsAllocated === 32) {
    const count = Math.min(pixels, frame.byteLength >> 2);
    const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
    const values = new Float64Array(count);
    const signed = info.pixelRepresentation === 1;
    for (let i = 0; i < count; i++) {
      const raw = signed ? view.getInt32(i * 4, !bigEndian) : view.getUint32(i * 4, !bigEndian);
      values[i] = modality(raw);
    }
    let window = requested ?? fileWindow(info);
    if (!window) {
      let min = Infinity;
      let max = -Infinity;
      for (let i = 0; i < count; i++) {
        const v = values[i]!;
        if (v < min) min = v;
        if (v > max) max = v;
      }
      window = minMaxWindow(min, max);
    }
    const voi = makeVoi(window);
    for (let i = 0; i < count; i++) {
      const y = Math.round(voi(values[i]!));
      out[i] = invert ? 255 - y : y;
    }
    return out;
  }
  throw renderingNotSupported(`rendering ${info.bitsAllocated}-bit pixel data is not supported`);
}

function fileWindow(info: PixelDataInfo): RenderWindow | undefined {
  if (info.windowCenter === undefined || info.windowWidth === undefined || !(info.windowWidth > 0)) return undefined;
  return { center: info.windowCenter, width: info.windowWidth, fn: 'linear' };
}

function minMaxWindow(min: number, max: number): RenderWindow {
  if (!Number.isFinite(min) || !Number.isFinite(max)) return { center: 0, width: 1, fn: 'linear-exact' };
  return { center: (min + max) / 2, width: Math.max(max - min, 1), fn: 'linear-exact' };
}

const clamp = (v: number): number => (v < 0 ? 0 : v > 255 ? 255 : Math.round(v));

function ybrToRgb(data: Uint8Array): void {
  for (let i = 0; i + 2 < data.length; i += 3) {
    const y = data[i]!;
    const cb = data[i + 1]! - 128;
    const cr = data[i + 2]! - 128;
    data[i] = clamp(y + 1.402 * cr);
    data[i + 1] = clamp(y - 0.344136 * cb - 0.714136 * cr);
    data[i + 2] = clamp(y + 1.772 * cb);
  }
}

function renderColor(frame: Uint8Array, info: PixelDataInfo, bigEndian: boolean): Uint8Array {
  const pixels = info.rows * info.columns;
  const photometric = info.photometricInterpretation;
  if (photometric === 'YBR_FULL_422') {
    if (info.bitsAllocated !== 8) throw renderingNotSupported('YBR_FULL_422 with more than 8 bits is not supported');
    const out = new Uint8Array(pixels * 3);
    // two pixels per 4 bytes: Y1 Y2 Cb Cr
    for (let p = 0, s = 0; p < pixels && s + 3 < frame.length; p += 2, s += 4) {
      const cb = frame[s + 2]!;
      const cr = frame[s + 3]!;
      out[p * 3] = frame[s]!;
      out[p * 3 + 1] = cb;
      out[p * 3 + 2] = cr;
      if (p + 1 < pixels) {
        out[p * 3 + 3] = frame[s + 1]!;
        out[p * 3 + 4] = cb;
        out[p * 3 + 5] = cr;
      }
    }
    ybrToRgb(out);
    return out;
  }
  if (photometric !== 'RGB' && photometric !== 'YBR_FULL') {
    throw renderingNotSupported(`rendering ${photometric} is not supported`);
  }
  let samples: Uint8Array;
  if (info.bitsAllocated === 8) samples = frame.subarray(0, pixels * 3);
  else if (info.bitsAllocated === 16) {
    const src = toUint16(frame, bigEndian);
    const shift = Math.max((info.bitsStored || 16) - 8, 0);
    samples = new Uint8Array(Math.min(src.length, pixels * 3));
    for (let i = 0; i < samples.length; i++) samples[i] = src[i]! >> shift;
  } else throw renderingNotSupported(`rendering ${info.bitsAllocated}-bit colour is not supported`);

  let out: Uint8Array;
  if (info.planarConfiguration === 1) {
    out = new Uint8Array(pixels * 3);
    for (let i = 0; i < pixels; i++) {
      out[i * 3] = samples[i]!;
      out[i * 3 + 1] = samples[i + pixels]!;
      out[i * 3 + 2] = samples[i + 2 * pixels]!;
    }
  } else out = Uint8Array.from(samples);
  if (photometric === 'YBR_FULL') ybrToRgb(out);
  return out;
}

/** The codestream's declared size against the budget: codecs allocate what the stream says, not what Rows and Columns say. */
function checkCodestreamBudget(frame: Uint8Array, maxFrameBytes: number): void {
  const declared = codestreamDimensions(frame);
  if (!declared) return;
  checkFrameBudget({ rows: declared.height, columns: declared.width, samplesPerPixel: declared.components, bitsAllocated: declared.precision > 8 ? 16 : 8 }, maxFrameBytes, 'the compressed frame’s header says it');
}

/** 1 bit a pixel (segmentations, overlays kept as images): set bits white, least significant bit first (PS3.5 8.1.1). */
function renderBitmap(frame: Uint8Array, info: PixelDataInfo): Uint8Array {
  const pixels = info.rows * info.columns;
  const out = new Uint8Array(pixels);
  const invert = info.photometricInterpretation === 'MONOCHROME1';
  for (let i = 0; i < pixels; i++) {
    const set = ((frame[i >> 3] ?? 0) >> (i & 7)) & 1;
    out[i] = (set === 1) !== invert ? 255 : 0;
  }
  return out;
}

/** Stored value of pixel i of a one-sample frame: masked to Bits Stored, sign-extended when signed. */
function storedSampleReader(frame: Uint8Array, info: PixelDataInfo, bigEndian: boolean): (i: number) => number {
  if (info.bitsAllocated !== 8 && info.bitsAllocated !== 16) throw renderingNotSupported(`rendering PALETTE COLOR with ${info.bitsAllocated} bits allocated is not supported`);
  const src: Uint8Array | Uint16Array = info.bitsAllocated === 8 ? frame : toUint16(frame, bigEndian);
  const bits = Math.min(info.bitsStored || info.bitsAllocated, info.bitsAllocated);
  const mask = 2 ** bits - 1;
  const signBit = 2 ** (bits - 1);
  const signed = info.pixelRepresentation === 1;
  return (i) => {
    const v = (src[i] ?? 0) & mask;
    return signed && v >= signBit ? v - 2 ** bits : v;
  };
}

function renderPalette(parsed: ParsedDicom, frame: Uint8Array, info: PixelDataInfo, bigEndian: boolean): Uint8Array {
  let palette;
  try {
    palette = readPalette(parsed, info.pixelRepresentation === 1);
  } catch (error) {
    if (error instanceof PaletteError) throw renderingNotSupported(`the PALETTE COLOR image cannot be rendered: ${error.message}`);
    throw error;
  }
  return applyPalette(palette, info.rows * info.columns, storedSampleReader(frame, info, bigEndian));
}

/** Native (uncompressed, or decoded) samples → 8-bit gray or RGB. */
function renderNative(parsed: ParsedDicom, frame: Uint8Array, info: PixelDataInfo, window: RenderWindow | undefined): RawImage {
  const bigEndian = info.transferSyntaxUid === BIG_ENDIAN;
  const size = { width: info.columns, height: info.rows };
  if (info.samplesPerPixel === 1) {
    if (info.photometricInterpretation === 'PALETTE COLOR') return { data: renderPalette(parsed, frame, info, bigEndian), ...size, channels: 3 };
    if (info.bitsAllocated === 1) return { data: renderBitmap(frame, info), ...size, channels: 1 };
    return { data: renderGray(frame, info, window, bigEndian), ...size, channels: 1, pooled: info.bitsAllocated === 8 || info.bitsAllocated === 16 };
  }
  if (info.samplesPerPixel === 3) return { data: renderColor(frame, info, bigEndian), ...size, channels: 3 };
  throw renderingNotSupported(`rendering ${info.samplesPerPixel} samples per pixel is not supported`);
}

async function decodeFrame(parsed: ParsedDicom, pixelInfo: PixelDataInfo, frameNumber: number, window: RenderWindow | undefined, decoder: FrameDecoder, maxFrameBytes: number): Promise<RawImage> {
  let info = pixelInfo;
  if (frameNumber < 1 || frameNumber > Math.max(info.numberOfFrames, 1)) {
    throw notFound(`frame ${frameNumber} (the instance has ${info.numberOfFrames})`);
  }
  let frame: Uint8Array;
  try {
    frame = getFrame(parsed, frameNumber);
  } catch (error) {
    throw frameNotDecodable(`frame ${frameNumber} cannot be read: ${(error as Error).message}`);
  }
  if (info.encapsulated && parsed.transferSyntaxGuessed) {
    // no File Meta: the data set only says "encapsulated"; the codestream tells which codec
    const sniffed = sniffTransferSyntax(frame);
    if (sniffed) info = { ...info, transferSyntaxUid: sniffed };
  }
  if (info.encapsulated) {
    if (!DECODABLE_SYNTAXES.has(info.transferSyntaxUid)) {
      throw renderingNotSupported(`rendering transfer syntax ${info.transferSyntaxUid} is not supported; retrieve the frames or the instance instead`);
    }
    if (info.transferSyntaxUid !== RLE) checkCodestreamBudget(frame, maxFrameBytes);
    ({ frame, info } = await decodeCompressedFrame(frame, info, decoder, maxFrameBytes));
  }
  return renderNative(parsed, frame, info, window);
}

interface Crop { left: number; top: number; width: number; height: number; flipX: boolean; flipY: boolean }

/** The pixel rectangle the region / source rectangle select, clipped to the image; 400 when nothing is left. */
export function cropOf(options: Pick<RenderOptions, 'region' | 'sourceRectangle'>, width: number, height: number): Crop | undefined {
  let left = 0;
  let top = 0;
  let right = width;
  let bottom = height;
  let flipX = false;
  let flipY = false;
  if (options.region) {
    const r = options.region;
    left = Math.floor(r.left * width);
    top = Math.floor(r.top * height);
    right = Math.ceil(r.right * width);
    bottom = Math.ceil(r.bottom * height);
  }
  if (options.sourceRectangle) {
    // in pixels of what the region left (the whole image without one)
    const s = options.sourceRectangle;
    flipX = s.width < 0;
    flipY = s.height < 0;
    // a negative size selects the rectangle that ends at (x, y)
    const x0 = left + Math.round(flipX ? s.x + s.width : s.x);
    const y0 = top + Math.round(flipY ? s.y + s.height : s.y);
    right = Math.min(right, x0 + Math.abs(Math.round(s.width)));
    bottom = Math.min(bottom, y0 + Math.abs(Math.round(s.height)));
    left = Math.max(left, x0);
    top = Math.max(top, y0);
  }
  if (!options.region && !options.sourceRectangle) return undefined;
  left = Math.max(0, Math.min(left, width));
  top = Math.max(0, Math.min(top, height));
  right = Math.max(left, Math.min(right, width));
  bottom = Math.max(top, Math.min(bottom, height));
  if (right - left < 1 || bottom - top < 1) throw badRequest('INVALID_PARAMETER', `the requested region selects no pixel of the ${width}×${height} image`);
  return { left, top, width: right - left, height: bottom - top, flipX, flipY };
}

/** Renders one frame of an instance. Throws 404 for a frame out of range, 406 when not renderable. */
export async function renderFrame(parsed: ParsedDicom, options: RenderOptions): Promise<{ body: Buffer; contentType: string }> {
  let info: PixelDataInfo | undefined;
  try {
    info = getPixelDataInfo(parsed);
  } catch (error) {
    throw renderingNotSupported(`the pixel data cannot be read: ${(error as Error).message}`);
  }
  if (!info) throw renderingNotSupported('the instance has no pixel data to render');
  if (!(info.rows > 0 && info.columns > 0)) throw renderingNotSupported('the instance has no image dimensions');
  const maxFrameBytes = options.maxFrameBytes ?? DEFAULT_MAX_RENDER_FRAME_BYTES;
  checkFrameBudget(info, maxFrameBytes);
  const raw = await decodeFrame(parsed, info, options.frame, options.window, options.decoder ?? sharedFrameDecoder(), maxFrameBytes);
  let image = sharp(raw.data, { raw: { width: raw.width, height: raw.height, channels: raw.channels } });
  const crop = cropOf(options, raw.width, raw.height);
  if (crop) {
    image = image.extract({ left: crop.left, top: crop.top, width: crop.width, height: crop.height });
    if (crop.flipX) image = image.flop();
    if (crop.flipY) image = image.flip();
    // extract then resize on one pipeline: sharp applies them in that order
  }
  if (options.fit && (options.fit.width || options.fit.height)) {
    image = image.resize({ width: options.fit.width, height: options.fit.height, fit: 'inside', withoutEnlargement: false });
  }
  try {
    if (options.format === 'png') return { body: await image.png().toBuffer(), contentType: 'image/png' };
    // Without Huffman optimisation (sharp's default is a second pass over the coefficients): a
    // third less CPU for ~5 % more bytes on a 512×512 CT slice (issue 16, docs/benchmarks.md).
    return { body: await image.jpeg({ quality: options.quality ?? 90, optimiseCoding: false }).toBuffer(), contentType: 'image/jpeg' };
  } finally {
    // sharp has read the pixels once toBuffer settles (it keeps no reference: its cache is off)
    if (raw.pooled) giveBackGray(raw.data);
  }
}

/** window=center,width[,function] (PS3.18 8.3.5.1.4) */
export function parseWindowParam(text: string): RenderWindow {
  const [c, w, fn] = text.split(',').map((s) => s.trim());
  const center = Number(c);
  const width = Number(w);
  if (!c || !w || !Number.isFinite(center) || !Number.isFinite(width)) throw badRequest('INVALID_PARAMETER', `window must be center,width[,function], got "${text}"`);
  const fnName = (fn || 'linear').toLowerCase();
  if (fnName !== 'linear' && fnName !== 'linear-exact' && fnName !== 'sigmoid') {
    throw badRequest('INVALID_PARAMETER', `window function must be linear, linear-exact or sigmoid, got "${fn}"`);
  }
  if (fnName === 'linear' ? width < 1 : width <= 0) throw badRequest('INVALID_PARAMETER', `window width must be ${fnName === 'linear' ? '>= 1' : '> 0'}`);
  return { center, width, fn: fnName };
}

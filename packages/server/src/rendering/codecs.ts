/**
 * Decoders for every compressed transfer syntax the archive stores, all shipped inside npm
 * packages as WebAssembly or JavaScript (nothing is fetched at run time; the .wasm files are
 * read from the package directories): JPEG 2000 (OpenJPEG), HTJ2K (OpenJPH), JPEG-LS
 * (CharLS), lossless JPEG, processes 14 and 14 SV1 (jpeg-lossless-decoder-js), DCT JPEG
 * (8-bit: libjpeg-turbo as WebAssembly; 12-bit: the JavaScript decoder of the
 * dicom-image-loader), JPEG XL (libjxl), RLE Lossless and Deflated Image Frame Compression
 * (here, in JS / zlib).
 *
 * Why libjpeg-turbo and not sharp for 8-bit DCT: sharp (libvips) is as fast but is a native
 * addon that must be loaded by the main thread before any worker and keeps libvips' own
 * thread pool per process; the WebAssembly build runs in these workers like the other codecs
 * and, being libjpeg, decodes exactly like dcmtk's IJG libjpeg (islow IDCT, fancy upsampling).
 * The two libjpeg-turbo and libjxl packages come with @cornerstonejs/dicom-image-loader, which
 * pins their versions.
 *
 * This module runs in the decode workers (frame-decoder-worker.ts) and, for tests, in any
 * thread. A codec that threw is dropped and instantiated afresh on the next frame, so a
 * malformed stream cannot leave a WebAssembly instance in a broken state behind it.
 */
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { inflateRawSync, inflateSync } from 'node:zlib';
import { Decoder as LosslessDecoder } from '@cornerstonejs/jpeg-lossless-decoder-js';

const require = createRequire(import.meta.url);

export const RLE_LOSSLESS = '1.2.840.10008.1.2.5';
export const DEFLATED_IMAGE_FRAME = '1.2.840.10008.1.2.8.1';

/** The DCT (lossy) JPEG processes: baseline, extended and the retired ones. */
export const DCT_JPEG_SYNTAXES: ReadonlySet<string> = new Set([
  '1.2.840.10008.1.2.4.50', '1.2.840.10008.1.2.4.51', '1.2.840.10008.1.2.4.52', '1.2.840.10008.1.2.4.53',
  '1.2.840.10008.1.2.4.54', '1.2.840.10008.1.2.4.55', '1.2.840.10008.1.2.4.56',
]);

/** Encapsulated syntaxes decodeCompressed decodes (a frame each). */
export const DECODABLE_SYNTAXES: ReadonlyMap<string, string> = new Map([
  ['1.2.840.10008.1.2.4.50', 'JPEG baseline (process 1)'],
  ['1.2.840.10008.1.2.4.51', 'JPEG extended (processes 2 & 4)'],
  ['1.2.840.10008.1.2.4.52', 'JPEG extended (processes 3 & 5, retired)'],
  ['1.2.840.10008.1.2.4.53', 'JPEG spectral selection (processes 6 & 8, retired)'],
  ['1.2.840.10008.1.2.4.54', 'JPEG spectral selection (processes 7 & 9, retired)'],
  ['1.2.840.10008.1.2.4.55', 'JPEG full progression (processes 10 & 12, retired)'],
  ['1.2.840.10008.1.2.4.56', 'JPEG full progression (processes 11 & 13, retired)'],
  ['1.2.840.10008.1.2.4.57', 'lossless JPEG (process 14)'],
  ['1.2.840.10008.1.2.4.70', 'lossless JPEG (process 14 SV1)'],
  ['1.2.840.10008.1.2.4.80', 'JPEG-LS lossless'],
  ['1.2.840.10008.1.2.4.81', 'JPEG-LS near-lossless'],
  ['1.2.840.10008.1.2.4.90', 'JPEG 2000 lossless'],
  ['1.2.840.10008.1.2.4.91', 'JPEG 2000'],
  ['1.2.840.10008.1.2.4.92', 'JPEG 2000 part 2 lossless (part 1 codestreams)'],
  ['1.2.840.10008.1.2.4.93', 'JPEG 2000 part 2 (part 1 codestreams)'],
  ['1.2.840.10008.1.2.4.201', 'HTJ2K lossless'],
  ['1.2.840.10008.1.2.4.202', 'HTJ2K lossless RPCL'],
  ['1.2.840.10008.1.2.4.203', 'HTJ2K'],
  ['1.2.840.10008.1.2.4.110', 'JPEG XL lossless'],
  ['1.2.840.10008.1.2.4.111', 'JPEG XL JPEG recompression'],
  ['1.2.840.10008.1.2.4.112', 'JPEG XL'],
  [RLE_LOSSLESS, 'RLE lossless'],
  [DEFLATED_IMAGE_FRAME, 'deflated image frame compression'],
]);

/** What a frame decodes to: samples little-endian, 1 or 2 bytes each, interleaved unless `planar`. */
export interface DecodedFrame {
  data: Uint8Array;
  width: number;
  height: number;
  components: number;
  bytesPerSample: 1 | 2;
  /** JPEG-LS interleave mode 0: one plane per component */
  planar: boolean;
  /**
   * The codec turned the stored colour space into RGB: JPEG 2000 / HTJ2K with the
   * multiple-component transform (YBR_RCT / YBR_ICT), DCT JPEG whose YCbCr libjpeg converted.
   * The output is RGB, whatever the data set says.
   */
  colorTransformed: boolean;
}

export interface DecodeRequest {
  transferSyntaxUid: string;
  frame: Uint8Array;
  bitsAllocated: number;
  pixelRepresentation: number;
  /** refuse, before the codec allocates anything, a codestream whose header declares a larger output */
  maxOutputBytes?: number;
  /** the data set's PhotometricInterpretation: DCT JPEG is decoded in the colour space it declares */
  photometricInterpretation?: string;
  /** the data set's Rows / Columns / Samples per Pixel: RLE and deflated frames carry no header of their own */
  rows?: number;
  columns?: number;
  samplesPerPixel?: number;
}

export class CodecError extends Error {}

interface FrameInfo { width: number; height: number; bitsPerSample: number; componentCount: number; isSigned?: boolean }
interface WasmDecoder {
  getEncodedBuffer(length: number): Uint8Array;
  getDecodedBuffer(): Uint8Array;
  getFrameInfo(): FrameInfo;
  decode(): void;
  delete(): void;
  getInterleaveMode?(): number;
  getColorSpace?(): number;
  decodeSubResolution?(level: number): void;
}
interface WasmEncoder {
  getDecodedBuffer(info: { width: number; height: number; bitsPerSample: number; componentCount: number; isSigned: boolean; isUsingColorTransform?: boolean }): Uint8Array;
  getEncodedBuffer(): Uint8Array;
  encode(): void;
  setQuality(lossless: boolean, quality: number): void;
  setDecompositions?(levels: number): void;
  delete(): void;
}
interface WasmModule {
  J2KEncoder?: new () => WasmEncoder;
  HTJ2KEncoder?: new () => WasmEncoder;
  J2KDecoder?: new () => WasmDecoder;
  HTJ2KDecoder?: new () => WasmDecoder;
  JpegLSDecoder?: new () => WasmDecoder;
  JPEGDecoder?: new () => WasmDecoder;
  JpegXLDecoder?: new () => WasmDecoder;
  getExceptionMessage?(pointer: number): string;
  HEAPU8?: Uint8Array;
}
type Factory = (options?: object) => Promise<WasmModule>;

/** Codecs whose .wasm is passed in rather than found by the loader (ES-module emscripten builds). */
const WASM_BINARIES: Record<string, string> = { '@cornerstonejs/codec-libjxl/decodewasmjs': '@cornerstonejs/codec-libjxl/decodewasm' };

const modules = new Map<string, Promise<WasmModule>>();
const loaded = new Map<string, WasmModule>();

/** Bytes of WebAssembly memory the codecs of this thread hold (it grows and never shrinks). */
export function codecMemoryBytes(): number {
  let bytes = 0;
  for (const module of loaded.values()) bytes += module.HEAPU8?.byteLength ?? 0;
  return bytes;
}

function dropModule(specifier: string): void {
  modules.delete(specifier);
  loaded.delete(specifier);
}

function loadModule(specifier: string): Promise<WasmModule> {
  let module = modules.get(specifier);
  if (!module) {
    const exported = require(specifier) as Factory | { default: Factory };
    const factory = typeof exported === 'function' ? exported : exported.default;
    // emscripten's Node path reads the .wasm beside the script (__dirname); print nothing.
    // The ES-module builds (libjxl) fetch it by URL instead, which Node cannot: hand them the bytes.
    const wasm = WASM_BINARIES[specifier];
    module = factory({ print: () => undefined, printErr: () => undefined, ...(wasm ? { wasmBinary: readFileSync(require.resolve(wasm)) } : {}) });
    module.then((instance) => loaded.set(specifier, instance), () => dropModule(specifier));
    modules.set(specifier, module);
  }
  return module;
}

function messageOf(module: WasmModule | undefined, error: unknown): string {
  if (typeof error === 'number') {
    try {
      return module?.getExceptionMessage?.(error) ?? `codec exception ${error}`;
    } catch {
      return `codec exception ${error}`;
    }
  }
  return error instanceof Error ? error.message : String(error);
}

/** What a codestream's own header says it decodes to. */
export interface CodestreamDimensions {
  width: number;
  height: number;
  components: number;
  /** bits per sample of the first component */
  precision: number;
}

/**
 * The size a JPEG (SOFn), JPEG-LS (SOF55) or JPEG 2000 (SIZ) codestream declares, read from its
 * header without decoding: codecs allocate what the stream says, whatever Rows and Columns say,
 * so the frame budget is checked against both. undefined when the header is not found.
 */
export function codestreamDimensions(frame: Uint8Array): CodestreamDimensions | undefined {
  let stream: Uint8Array;
  try {
    stream = jpeg2000Codestream(frame);
  } catch {
    return undefined;
  }
  const view = new DataView(stream.buffer, stream.byteOffset, stream.byteLength);
  if (stream.length >= 43 && stream[0] === 0xff && stream[1] === 0x4f && stream[2] === 0xff && stream[3] === 0x51) {
    // SIZ: Lsiz Rsiz Xsiz Ysiz XOsiz YOsiz XTsiz YTsiz XTOsiz YTOsiz Csiz Ssiz…
    const width = view.getUint32(8) - view.getUint32(16);
    const height = view.getUint32(12) - view.getUint32(20);
    return { width, height, components: view.getUint16(40), precision: (stream[42]! & 0x7f) + 1 };
  }
  if (stream[0] !== 0xff || stream[1] !== 0xd8) return undefined;
  // walk the marker segments up to the frame header (no entropy-coded data before SOS)
  let at = 2;
  while (at + 10 <= stream.length) {
    if (stream[at] !== 0xff) return undefined;
    const marker = stream[at + 1]!;
    if (marker === 0xff) {
      at += 1; // fill byte
      continue;
    }
    const isFrameHeader = (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) || marker === 0xf7;
    if (isFrameHeader) return { precision: stream[at + 4]!, height: view.getUint16(at + 5), width: view.getUint16(at + 7), components: stream[at + 9]! };
    if (marker === 0xda || marker === 0xd9) return undefined;
    at += 2 + view.getUint16(at + 2);
  }
  return undefined;
}

/** The contiguous codestream of a JP2 file (its jp2c box), or the input when it is a bare codestream. */
export function jpeg2000Codestream(frame: Uint8Array): Uint8Array {
  const isJp2 = frame.length > 12 && frame[4] === 0x6a && frame[5] === 0x50 && frame[6] === 0x20 && frame[7] === 0x20;
  if (!isJp2) return frame;
  const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  let at = 0;
  while (at + 8 <= frame.length) {
    let length = view.getUint32(at);
    const type = String.fromCharCode(frame[at + 4]!, frame[at + 5]!, frame[at + 6]!, frame[at + 7]!);
    let header = 8;
    if (length === 1 && at + 16 <= frame.length) {
      length = Number(view.getBigUint64(at + 8));
      header = 16;
    }
    if (length === 0) length = frame.length - at;
    if (type === 'jp2c') return frame.subarray(at + header, Math.min(at + length, frame.length));
    if (length < header) break;
    at += length;
  }
  throw new CodecError('JP2 data without a contiguous codestream box');
}

async function decodeWasm(specifier: string, className: 'J2KDecoder' | 'HTJ2KDecoder' | 'JpegLSDecoder' | 'JPEGDecoder' | 'JpegXLDecoder', stream: Uint8Array): Promise<DecodedFrame> {
  const module = await loadModule(specifier);
  const Decoder = module[className];
  if (!Decoder) throw new CodecError(`${specifier} has no ${className}`);
  let decoder: WasmDecoder | undefined;
  try {
    decoder = new Decoder();
    decoder.getEncodedBuffer(stream.length).set(stream);
    if (className === 'HTJ2KDecoder') decoder.decodeSubResolution!(0);
    else decoder.decode();
    const info = decoder.getFrameInfo();
    const decoded = decoder.getDecodedBuffer();
    const bytesPerSample = info.bitsPerSample > 8 ? 2 : 1;
    const expected = info.width * info.height * info.componentCount * bytesPerSample;
    if (!(info.width > 0 && info.height > 0 && info.componentCount > 0) || decoded.length < expected) {
      throw new CodecError(`the codec returned ${decoded.length} bytes for ${info.width}×${info.height}×${info.componentCount}`);
    }
    return {
      data: decoded.slice(0, expected),
      width: info.width,
      height: info.height,
      components: info.componentCount,
      bytesPerSample,
      planar: className === 'JpegLSDecoder' && info.componentCount > 1 && decoder.getInterleaveMode?.() === 0,
      // libjxl gives RGB for colour whatever was coded (a recompressed YCbCr JPEG included)
      colorTransformed: className === 'JpegXLDecoder' ? info.componentCount === 3 : className !== 'JpegLSDecoder' && info.componentCount === 3 && jpeg2000UsesMct(stream),
    };
  } catch (error) {
    // a trap or abort may leave the instance unusable: start afresh next time
    dropModule(specifier);
    if (error instanceof CodecError) throw error;
    throw new CodecError(messageOf(module, error));
  } finally {
    try {
      decoder?.delete();
    } catch {
      dropModule(specifier);
    }
  }
}

async function decodeLossless(request: DecodeRequest): Promise<DecodedFrame> {
  const bytesPerSample = request.bitsAllocated <= 8 ? 1 : 2;
  const frame = request.frame;
  const decoder = new LosslessDecoder();
  let output: Uint8Array | Uint16Array;
  try {
    output = decoder.decode(frame.buffer as ArrayBuffer, frame.byteOffset, frame.byteLength, bytesPerSample);
  } catch (error) {
    throw new CodecError(error instanceof Error ? error.message : String(error));
  }
  const { xDim: width, yDim: height, numComp: components } = decoder;
  const expected = width * height * components * bytesPerSample;
  const data = new Uint8Array(output.buffer, output.byteOffset, output.byteLength);
  if (!(width > 0 && height > 0 && components > 0) || data.length < expected) throw new CodecError(`the lossless JPEG stream decoded to ${data.length} bytes for ${width}×${height}×${components}`);
  const result = data.slice(0, expected);
  applyPointTransform(frame, result, bytesPerSample);
  return { data: result, width, height, components, bytesPerSample, planar: false, colorTransformed: false };
}

/**
 * jpeg-lossless-decoder-js ignores the point transform Pt (ITU T.81 H.1.2.1): it starts the
 * prediction at 2^(P-1) instead of 2^(P-Pt-1) and does not shift the result left by Pt.
 */
function applyPointTransform(stream: Uint8Array, samples: Uint8Array, bytesPerSample: 1 | 2): void {
  let precision = 0;
  let pt = 0;
  for (let i = 2; i + 8 < stream.length && i < 1 << 20; i++) {
    if (stream[i] !== 0xff) continue;
    const marker = stream[i + 1]!;
    if (marker === 0xc3 || marker === 0xc7) precision = stream[i + 4]!;
    if (marker === 0xda) {
      const components = stream[i + 4]!;
      pt = (stream[i + 7 + 2 * components] ?? 0) & 0x0f;
      break;
    }
  }
  if (pt === 0 || precision === 0 || pt >= precision) return;
  const delta = 2 ** (precision - 1) - 2 ** (precision - pt - 1);
  const modulus = 2 ** (precision - pt);
  if (bytesPerSample === 2) {
    const values = new Uint16Array(samples.buffer, samples.byteOffset, samples.byteLength >> 1);
    for (let i = 0; i < values.length; i++) values[i] = (((values[i]! - delta) % modulus + modulus) % modulus) << pt;
  } else {
    for (let i = 0; i < samples.length; i++) samples[i] = (((samples[i]! - delta) % modulus + modulus) % modulus) << pt;
  }
}

/** A codec allocates what the codestream header declares: check that against the request's bound first. */
function checkDeclaredOutput(request: DecodeRequest): void {
  if (request.maxOutputBytes === undefined) return;
  const declared = codestreamDimensions(request.frame);
  if (!declared) return;
  const bytes = declared.width * declared.height * declared.components * (declared.precision > 8 ? 2 : 1);
  if (bytes > request.maxOutputBytes) {
    throw new CodecError(`the codestream declares ${declared.width}×${declared.height}×${declared.components} (${bytes} bytes), more than the ${request.maxOutputBytes} bytes allowed`);
  }
}

/**
 * Whether a JPEG 2000 codestream applies the multiple-component transform (COD marker, SGcod's
 * last byte, ISO 15444-1 A.6.1): only then does the codec turn YBR_RCT / YBR_ICT into RGB.
 */
export function jpeg2000UsesMct(frame: Uint8Array): boolean {
  const stream = frame[0] === 0xff && frame[1] === 0x4f ? frame : jpeg2000Codestream(frame);
  const view = new DataView(stream.buffer, stream.byteOffset, stream.byteLength);
  let at = 2;
  while (at + 4 <= stream.length && stream[at] === 0xff) {
    const marker = stream[at + 1]!;
    if (marker === 0x90 || marker === 0x93) return false; // SOT / SOD: the main header ended without a COD
    const length = view.getUint16(at + 2);
    if (marker === 0x52) return at + 8 < stream.length && stream[at + 8] === 1;
    at += 2 + length;
  }
  return false;
}

interface JpegImageLike {
  width: number;
  height: number;
  components: unknown[];
  colorTransform?: boolean;
  parse(data: Uint8Array): void;
  getData(width: number, height: number): Uint8Array;
  getData16(width: number, height: number): Uint16Array;
}
let jpegJs: Promise<new () => JpegImageLike> | undefined;

/** pdf.js's 8-bit level shift (128·16 + 8), scaled by 4095/255 for 12-bit data: 15.06 too high. */
const JPEG_JS_LEVEL_SHIFT = `q =
            q <= -2056 / component.bitConversion
                ? 0
                : q >= 2024 / component.bitConversion
                    ? 255 / component.bitConversion
                    : (q + 2056 / component.bitConversion) >> 4;`;
/** The level shift of ITU T.81 A.3.1 for precision P, 2^(P-1), in the same ×16 fixed point, rounded. */
const JPEG_JS_LEVEL_SHIFT_FIXED = `var maxValue = Math.round(255 / component.bitConversion);
        var shift = (maxValue + 1) * 8 + 8;
        q = q <= -shift ? 0 : q >= maxValue * 16 - shift ? maxValue : (q + shift) >> 4;`;

/** Its successive-approximation refinement adds the correction bit whatever the coefficient's sign. */
const JPEG_JS_AC_REFINEMENT = 'component.blockData[offset + z] += readBit() << successive;';
/** T.81 G.1.2.3 (libjpeg's decode_mcu_AC_refine): the bit raises the magnitude, so a negative coefficient goes down. */
const JPEG_JS_AC_REFINEMENT_FIXED = 'component.blockData[offset + z] += (component.blockData[offset + z] < 0 ? -1 : 1) * (readBit() << successive);';

/**
 * The dicom-image-loader's JavaScript DCT decoder (a pdf.js descendant, the only one on npm that
 * decodes 12-bit DCT JPEG). Its package does not export the file, so it is read by path.
 * Its level shift is pdf.js's 8-bit one scaled by 4095/255, which leaves every 12-bit sample
 * 15 or 16 too high (a CT 15 HU off), and its progressive refinement gets negative
 * coefficients wrong; the module is loaded with those expressions replaced by T.81's. Should a
 * later version change the code, what is not found is left as it is.
 */
function loadJpegJs(): Promise<new () => JpegImageLike> {
  jpegJs ??= (async () => {
    const entry = require.resolve('@cornerstonejs/dicom-image-loader');
    const file = path.join(path.dirname(entry), 'codecs', 'jpeg.js');
    const source = await readFile(file, 'utf8');
    // the file imports nothing, so it can be evaluated from a data: URL
    const fixed = source.replace(JPEG_JS_LEVEL_SHIFT, JPEG_JS_LEVEL_SHIFT_FIXED).replaceAll(JPEG_JS_AC_REFINEMENT, JPEG_JS_AC_REFINEMENT_FIXED);
    const url = fixed !== source ? `data:text/javascript;base64,${Buffer.from(fixed).toString('base64')}` : pathToFileURL(file).href;
    const module = (await import(url)) as { default: new () => JpegImageLike };
    return module.default;
  })();
  return jpegJs;
}

/** Whether the 12-bit level-shift fix applied to the loaded jpeg.js (tests). */
export async function jpegJsLevelShiftFixed(): Promise<boolean> {
  const entry = require.resolve('@cornerstonejs/dicom-image-loader');
  return (await readFile(path.join(path.dirname(entry), 'codecs', 'jpeg.js'), 'utf8')).includes(JPEG_JS_LEVEL_SHIFT);
}

/**
 * DCT JPEG: 8-bit through libjpeg-turbo (WebAssembly), 12-bit (processes 2 & 4, 10 & 12)
 * through the dicom-image-loader's JavaScript decoder, greyscale only (12-bit colour is not
 * used by any modality we know of).
 */
async function decodeDct(request: DecodeRequest, precision: number): Promise<DecodedFrame> {
  if (precision <= 8) {
    const { stream, colorSpace } = withDicomColorSpace(request.frame, request.photometricInterpretation);
    const frame = await decodeWasm('@cornerstonejs/codec-libjpeg-turbo-8bit/decodewasmjs', 'JPEGDecoder', stream);
    // libjpeg turns YCbCr into RGB; RGB-coded data stay RGB
    return { ...frame, planar: false, colorTransformed: frame.components === 3 && colorSpace === 'YCbCr' };
  }
  const JpegImage = await loadJpegJs();
  const image = new JpegImage();
  try {
    image.parse(request.frame);
  } catch (error) {
    throw new CodecError(`the ${precision}-bit JPEG stream cannot be decoded: ${error instanceof Error ? error.message : String(error)}`);
  }
  const { width, height } = image;
  const components = image.components.length;
  if (components !== 1) throw new CodecError(`${precision}-bit DCT JPEG with ${components} components is not supported`);
  if (!(width > 0 && height > 0)) throw new CodecError('the JPEG stream has no image size');
  const samples = image.getData16(width, height);
  const data = new Uint8Array(samples.buffer, samples.byteOffset, samples.byteLength);
  return { data, width, height, components: 1, bytesPerSample: 2, planar: false, colorTransformed: false };
}

interface JpegMarkers { jfif: boolean; adobeTransform?: number; componentIds: number[]; segments: Array<{ at: number; end: number; drop: boolean }> }

/** The APP0 JFIF, APP14 Adobe and SOF component ids of a JPEG stream, up to its first scan. */
function jpegMarkers(stream: Uint8Array): JpegMarkers {
  const view = new DataView(stream.buffer, stream.byteOffset, stream.byteLength);
  const found: JpegMarkers = { jfif: false, componentIds: [], segments: [] };
  const text = (at: number, length: number) => String.fromCharCode(...stream.subarray(at, at + length));
  let at = 2;
  while (at + 4 <= stream.length && stream[at] === 0xff) {
    const marker = stream[at + 1]!;
    if (marker === 0xff) {
      at += 1;
      continue;
    }
    if (marker === 0xda || marker === 0xd9) break;
    const end = at + 2 + view.getUint16(at + 2);
    const jfif = marker === 0xe0 && text(at + 4, 5) === 'JFIF\0';
    const adobe = marker === 0xee && text(at + 4, 5) === 'Adobe';
    if (jfif) found.jfif = true;
    if (adobe) found.adobeTransform = stream[at + 15];
    if ((marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc)) {
      for (let c = 0; c < (stream[at + 9] ?? 0); c++) found.componentIds.push(stream[at + 10 + c * 3]!);
    }
    found.segments.push({ at, end, drop: jfif || adobe });
    at = end;
  }
  return found;
}

/** The colour space libjpeg assumes for a 3-component stream (jdapimin.c, default_decompress_parms). */
function libjpegColorSpace(markers: JpegMarkers): 'RGB' | 'YCbCr' {
  if (markers.jfif) return 'YCbCr';
  if (markers.adobeTransform !== undefined) return markers.adobeTransform === 0 ? 'RGB' : 'YCbCr';
  const [a, b, c] = markers.componentIds;
  return a === 0x52 && b === 0x47 && c === 0x42 ? 'RGB' : 'YCbCr';
}

/**
 * The stream with the colour space the data set declares, as dcmtk's dcmdjpeg decodes it
 * (--conv-photometric): RGB stays RGB and YBR_* is converted, whatever libjpeg would guess from
 * the markers. Where the two disagree, the JFIF and Adobe segments are replaced by one Adobe
 * segment whose transform flag says the declared space (0 RGB, 1 YCbCr).
 */
export function withDicomColorSpace(stream: Uint8Array, photometric: string | undefined): { stream: Uint8Array; colorSpace: 'RGB' | 'YCbCr' } {
  const markers = jpegMarkers(stream);
  const guessed = libjpegColorSpace(markers);
  const declared = photometric === 'RGB' ? 'RGB' : photometric?.startsWith('YBR') ? 'YCbCr' : undefined;
  if (markers.componentIds.length !== 3 || !declared || declared === guessed) return { stream, colorSpace: guessed };
  const adobe = Uint8Array.from([0xff, 0xee, 0x00, 0x0e, 0x41, 0x64, 0x6f, 0x62, 0x65, 0x00, 0x64, 0x00, 0x00, 0x00, 0x00, declared === 'RGB' ? 0 : 1]);
  const kept = [stream.subarray(0, 2), adobe];
  let from = 2;
  for (const segment of markers.segments) {
    if (!segment.drop) continue;
    kept.push(stream.subarray(from, segment.at));
    from = segment.end;
  }
  kept.push(stream.subarray(from));
  return { stream: Buffer.concat(kept), colorSpace: declared };
}

/**
 * RLE Lossless (PS3.5 Annex G) → native little-endian, interleaved (planar 0) bytes.
 * Segments are ordered by sample, then by byte from most to least significant. (render.ts has
 * the main-thread copy it has always used; this one runs in the decode workers.)
 */
export function decodeRle(request: DecodeRequest): DecodedFrame {
  const { frame, rows = 0, columns = 0, samplesPerPixel: spp = 1 } = request;
  const pixels = rows * columns;
  const bytesPerSample = request.bitsAllocated / 8;
  if (!(pixels > 0) || !Number.isInteger(bytesPerSample) || bytesPerSample < 1 || frame.length < 64) throw new CodecError('the RLE frame is malformed');
  const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  const segments = view.getUint32(0, true);
  if (segments !== spp * bytesPerSample || segments > 15) throw new CodecError(`the RLE frame has ${segments} segments, expected ${spp * bytesPerSample}`);
  // A replicate run turns 2 bytes into at most 128: a stream under half that bound cannot be
  // the declared frame (a few KB claiming megapixels), so nothing is allocated for it.
  if ((frame.length - 64) * 128 < pixels * segments) throw new CodecError(`the RLE frame of ${frame.length} bytes cannot hold ${columns}×${rows} pixels`);
  const out = new Uint8Array(pixels * spp * bytesPerSample);
  const stride = spp * bytesPerSample;
  for (let seg = 0; seg < segments; seg++) {
    const start = view.getUint32(4 + seg * 4, true);
    const end = seg + 1 < segments ? view.getUint32(8 + seg * 4, true) : frame.length;
    if (start < 64 || start > frame.length || end > frame.length || end < start) throw new CodecError(`RLE segment ${seg + 1} lies outside the frame`);
    const sample = Math.floor(seg / bytesPerSample);
    const byteInSample = bytesPerSample - 1 - (seg % bytesPerSample);
    let o = sample * bytesPerSample + byteInSample;
    let i = start;
    let written = 0;
    while (i < end && written < pixels) {
      const n = frame[i++]!;
      if (n < 128) {
        for (let k = 0; k <= n && i < end && written < pixels; k++, written++, o += stride) out[o] = frame[i++]!;
      } else if (n > 128) {
        const value = frame[i++]!;
        for (let k = 0; k < 257 - n && written < pixels; k++, written++, o += stride) out[o] = value;
      }
    }
    if (written < pixels) throw new CodecError(`RLE segment ${seg + 1} holds ${written} of ${pixels} bytes`);
  }
  return { data: out, width: columns, height: rows, components: spp, bytesPerSample: bytesPerSample > 1 ? 2 : 1, planar: false, colorTransformed: false };
}

/** Deflated Image Frame Compression (PS3.5 8.2.16): each frame is a raw deflate stream of the native frame. */
function decodeDeflatedFrame(request: DecodeRequest): DecodedFrame {
  const { rows = 0, columns = 0, samplesPerPixel: spp = 1 } = request;
  let data: Uint8Array;
  try {
    data = inflateRawSync(request.frame, { maxOutputLength: request.maxOutputBytes ?? 2 ** 30 });
  } catch {
    try {
      data = inflateSync(request.frame, { maxOutputLength: request.maxOutputBytes ?? 2 ** 30 });
    } catch (error) {
      throw new CodecError(`the deflated frame cannot be inflated: ${(error as Error).message}`);
    }
  }
  const bytesPerSample = request.bitsAllocated > 8 ? 2 : 1;
  return { data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), width: columns, height: rows, components: spp, bytesPerSample, planar: false, colorTransformed: false };
}

const JPEG_FAMILY = new Set([...DCT_JPEG_SYNTAXES, '1.2.840.10008.1.2.4.57', '1.2.840.10008.1.2.4.70']);

/**
 * The JPEG processes are told apart by the stream's own frame header, not by the label: some
 * modalities write 8-bit DCT JPEG as "lossless", and 12-bit extended streams as baseline.
 */
function decodeJpegFamily(request: DecodeRequest): Promise<DecodedFrame> {
  const declared = codestreamDimensions(request.frame);
  const marker = jpegStartOfFrame(request.frame);
  if (marker === undefined || !declared) throw new CodecError('the JPEG stream has no frame header (SOF)');
  if (marker === 0xc3 || marker === 0xc7) return decodeLossless(request);
  if (marker === 0xf7) return decodeWasm('@cornerstonejs/codec-charls/decodewasmjs', 'JpegLSDecoder', request.frame);
  return decodeDct(request, declared.precision);
}

/** The first start-of-frame marker of a JPEG stream, or undefined before the first scan. */
export function jpegStartOfFrame(stream: Uint8Array): number | undefined {
  if (stream[0] !== 0xff || stream[1] !== 0xd8) return undefined;
  const view = new DataView(stream.buffer, stream.byteOffset, stream.byteLength);
  let at = 2;
  while (at + 4 <= stream.length) {
    if (stream[at] !== 0xff) return undefined;
    const marker = stream[at + 1]!;
    if (marker === 0xff) {
      at += 1;
      continue;
    }
    if ((marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) || marker === 0xf7) return marker;
    if (marker === 0xda || marker === 0xd9) return undefined;
    at += 2 + view.getUint16(at + 2);
  }
  return undefined;
}

/** Decodes one frame of a transfer syntax in DECODABLE_SYNTAXES. Throws CodecError. */
export async function decodeCompressed(request: DecodeRequest): Promise<DecodedFrame> {
  const ts = request.transferSyntaxUid;
  if (ts === RLE_LOSSLESS) return decodeRle(request);
  if (ts === DEFLATED_IMAGE_FRAME) return decodeDeflatedFrame(request);
  checkDeclaredOutput(request);
  if (JPEG_FAMILY.has(ts)) return decodeJpegFamily(request);
  if (ts === '1.2.840.10008.1.2.4.80' || ts === '1.2.840.10008.1.2.4.81') return decodeWasm('@cornerstonejs/codec-charls/decodewasmjs', 'JpegLSDecoder', request.frame);
  if (/^1\.2\.840\.10008\.1\.2\.4\.9[0-3]$/.test(ts)) return decodeWasm('@cornerstonejs/codec-openjpeg/decodewasmjs', 'J2KDecoder', jpeg2000Codestream(request.frame));
  if (/^1\.2\.840\.10008\.1\.2\.4\.11[0-2]$/.test(ts)) return decodeWasm('@cornerstonejs/codec-libjxl/decodewasmjs', 'JpegXLDecoder', request.frame);
  if (ts.startsWith('1.2.840.10008.1.2.4.20')) return decodeWasm('@cornerstonejs/codec-openjph/wasmjs', 'HTJ2KDecoder', jpeg2000Codestream(request.frame));
  throw new CodecError(`no decoder for transfer syntax ${ts}`);
}

export const J2K_LOSSLESS = '1.2.840.10008.1.2.4.90';
export const HTJ2K_LOSSLESS = '1.2.840.10008.1.2.4.201';
/** Lossless syntaxes encodeLossless writes (compression on ingest). */
export const ENCODABLE_SYNTAXES: ReadonlySet<string> = new Set([J2K_LOSSLESS, HTJ2K_LOSSLESS]);

/** One native little-endian frame (interleaved) to compress losslessly. */
export interface EncodeRequest {
  transferSyntaxUid: string;
  frame: Uint8Array;
  width: number;
  height: number;
  components: number;
  bitsAllocated: number;
  bitsStored: number;
  signed: boolean;
}

export interface EncodedFrame {
  data: Uint8Array;
  /** the codestream applies the reversible colour transform: the data set says YBR_RCT */
  colorTransformed: boolean;
}

/** The codec's output widened to the frame's sample size, to compare with it. */
function asFrameBytes(decoded: DecodedFrame, bytesPerSample: number): Uint8Array {
  const data = new Uint8Array(decoded.data.buffer, decoded.data.byteOffset, decoded.data.byteLength);
  if (decoded.bytesPerSample === bytesPerSample) return data;
  const out = new Uint8Array(data.length * 2);
  for (let i = 0; i < data.length; i++) out[i * 2] = data[i]!;
  return out;
}

/**
 * Lossless JPEG 2000 (OpenJPEG, its full build has the encoder) or HTJ2K (OpenJPH). The
 * codestream is decoded again here and must give back every byte of the frame: bits above
 * Bits Stored (overlays, garbage) or a sign the header did not declare would be lost at the
 * stored precision, so a frame that does not survive is tried at the full Bits Allocated, and
 * refused (CodecError) if it still does not.
 */
export async function encodeLossless(request: EncodeRequest): Promise<EncodedFrame> {
  const j2k = request.transferSyntaxUid === J2K_LOSSLESS;
  if (!j2k && request.transferSyntaxUid !== HTJ2K_LOSSLESS) throw new CodecError(`no encoder for transfer syntax ${request.transferSyntaxUid}`);
  if (request.bitsAllocated !== 8 && request.bitsAllocated !== 16) throw new CodecError(`${request.bitsAllocated}-bit samples are not encoded`);
  const bytesPerSample = request.bitsAllocated / 8;
  const expected = request.width * request.height * request.components * bytesPerSample;
  if (request.frame.length !== expected) throw new CodecError(`the frame holds ${request.frame.length} bytes, ${expected} expected`);
  const specifier = j2k ? '@cornerstonejs/codec-openjpeg/wasmjs' : '@cornerstonejs/codec-openjph/wasmjs';
  const precisions = request.bitsAllocated === 8 ? [8] : [...new Set([Math.max(9, Math.min(16, request.bitsStored)), 16])];
  for (const bitsPerSample of precisions) {
    const module = await loadModule(specifier);
    const Encoder = j2k ? module.J2KEncoder : module.HTJ2KEncoder;
    if (!Encoder) throw new CodecError(`${specifier} has no encoder`);
    let encoder: WasmEncoder | undefined;
    let data: Uint8Array;
    try {
      encoder = new Encoder();
      encoder.getDecodedBuffer({ width: request.width, height: request.height, bitsPerSample, componentCount: request.components, isSigned: request.signed, isUsingColorTransform: request.components === 3 }).set(request.frame);
      encoder.setQuality(true, 0);
      encoder.encode();
      data = Uint8Array.from(encoder.getEncodedBuffer());
    } catch (error) {
      dropModule(specifier);
      throw new CodecError(messageOf(module, error));
    } finally {
      try {
        encoder?.delete();
      } catch {
        dropModule(specifier);
      }
    }
    const decoded = await decodeCompressed({ transferSyntaxUid: request.transferSyntaxUid, frame: data, bitsAllocated: request.bitsAllocated, pixelRepresentation: request.signed ? 1 : 0 });
    const back = asFrameBytes(decoded, bytesPerSample);
    if (decoded.width === request.width && decoded.height === request.height && Buffer.compare(Buffer.from(back.buffer, back.byteOffset, back.byteLength), Buffer.from(request.frame.buffer, request.frame.byteOffset, request.frame.byteLength)) === 0) {
      return { data, colorTransformed: j2k && request.components === 3 && jpeg2000UsesMct(data) };
    }
  }
  throw new CodecError('the frame does not decode back to the same bytes after lossless compression');
}

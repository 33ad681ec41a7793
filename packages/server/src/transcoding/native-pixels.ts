/**
 * Decoded frames made into native little-endian Pixel Data, and the attributes that must change
 * with them so the data set tells the truth about its pixels (PS3.5 8.2, PS3.3 C.7.6.3.1):
 * PhotometricInterpretation after the codec's colour conversion, PlanarConfiguration 0 for the
 * interleaved samples written, Lossy Image Compression kept (or set) for a lossy source.
 */
import { getFrame, TRANSFER_SYNTAX, type ParsedDicom, type PixelDataInfo } from '@yunying/dicom';
import { YunyingError } from '../errors.ts';
import { DCT_JPEG_SYNTAXES, jpegStartOfFrame, type DecodedFrame } from '../rendering/codecs.ts';

export const BIG_ENDIAN = TRANSFER_SYNTAX.EXPLICIT_BE;

export const transcodeFailed = (message: string): YunyingError => new YunyingError('TRANSCODE_FAILED', message);
export const notDecodable = (message: string): YunyingError => new YunyingError('FRAME_NOT_DECODABLE', message);

/** Bytes per sample of native Pixel Data (1-bit data is packed and reported as 1). */
export function nativeBytesPerSample(bitsAllocated: number): number {
  return Math.max(1, Math.ceil(bitsAllocated / 8));
}

/** Bytes one native frame occupies (the 1-bit case rounded up to whole bytes). */
export function nativeFrameBytes(info: PixelDataInfo): number {
  const samples = info.rows * info.columns * Math.max(1, info.samplesPerPixel);
  return info.bitsAllocated === 1 ? Math.ceil(samples / 8) : samples * nativeBytesPerSample(info.bitsAllocated);
}

function interleave(planes: Uint8Array, pixels: number, components: number, bytesPerSample: number): Uint8Array {
  const out = new Uint8Array(planes.length);
  const planeBytes = pixels * bytesPerSample;
  for (let c = 0; c < components; c++) {
    for (let p = 0; p < pixels; p++) {
      for (let b = 0; b < bytesPerSample; b++) out[(p * components + c) * bytesPerSample + b] = planes[c * planeBytes + p * bytesPerSample + b]!;
    }
  }
  return out;
}

/** 8-bit samples into 16-bit words, or 16-bit words whose values fit into bytes (a codec's width differs from Bits Allocated). */
function resample(data: Uint8Array, from: number, to: number): Uint8Array {
  if (from === to) return data;
  if (from === 1 && to === 2) {
    const out = new Uint8Array(data.length * 2);
    for (let i = 0; i < data.length; i++) out[i * 2] = data[i]!;
    return out;
  }
  if (from === 2 && to === 1) {
    const out = new Uint8Array(data.length / 2);
    for (let i = 0; i < out.length; i++) {
      if (data[i * 2 + 1] !== 0) throw notDecodable('the codec produced 16-bit samples for 8-bit Bits Allocated');
      out[i] = data[i * 2]!;
    }
    return out;
  }
  throw notDecodable(`the codec produced ${from}-byte samples for ${to}-byte Bits Allocated`);
}

/**
 * A decoded frame as it would sit inside native Pixel Data: its size checked against the data
 * set (a codestream saying 256×256 where Rows/Columns say 512×512 is not our frame), samples
 * as wide as Bits Allocated, planes interleaved.
 */
export function toNativeFrame(decoded: DecodedFrame, info: PixelDataInfo, frameNumber: number): Uint8Array {
  const spp = Math.max(1, info.samplesPerPixel);
  if (decoded.width !== info.columns || decoded.height !== info.rows || decoded.components !== spp) {
    throw notDecodable(`frame ${frameNumber} decodes to ${decoded.width}×${decoded.height}×${decoded.components}, but the data set says ${info.columns}×${info.rows}×${spp}`);
  }
  // codecs hand back Uint8ClampedArray and other views: make it a plain byte view
  let data = new Uint8Array(decoded.data.buffer, decoded.data.byteOffset, decoded.data.byteLength);
  if (info.bitsAllocated === 1) return data;
  const target = nativeBytesPerSample(info.bitsAllocated);
  if (decoded.planar && spp > 1) data = interleave(data, info.rows * info.columns, spp, decoded.bytesPerSample);
  data = resample(data, decoded.bytesPerSample, target);
  const expected = nativeFrameBytes(info);
  if (data.length < expected) throw notDecodable(`frame ${frameNumber} decodes to ${data.length} bytes, ${expected} expected`);
  return data.length === expected ? data : data.subarray(0, expected);
}

/**
 * Frames joined into one Pixel Data value. 1-bit frames are packed back to back (PS3.5 8.1.1):
 * when a frame is not a whole number of bytes, the next starts inside the last byte.
 */
export function joinFrames(frames: readonly Uint8Array[], info: PixelDataInfo): Uint8Array {
  const bitsPerFrame = info.rows * info.columns * Math.max(1, info.samplesPerPixel);
  if (info.bitsAllocated !== 1 || bitsPerFrame % 8 === 0) return Buffer.concat(frames);
  const out = new Uint8Array(Math.ceil((bitsPerFrame * frames.length) / 8));
  frames.forEach((frame, index) => {
    for (let bit = 0; bit < bitsPerFrame; bit++) {
      if ((frame[bit >> 3]! >> (bit & 7)) & 1) {
        const at = index * bitsPerFrame + bit;
        out[at >> 3]! |= 1 << (at & 7);
      }
    }
  });
  return out;
}

/** Native big-endian samples to little endian: words of Bits Allocated (an OW of 8-bit data is swapped in pairs). */
export function swapNativeToLittleEndian(bytes: Uint8Array, bitsAllocated: number, vr: string | undefined): Buffer {
  const out = Buffer.from(bytes);
  const size = bitsAllocated > 8 ? nativeBytesPerSample(bitsAllocated) : vr === 'OW' ? 2 : 1;
  const whole = out.length - (out.length % size);
  if (size === 2) out.subarray(0, whole).swap16();
  else if (size === 4) out.subarray(0, whole).swap32();
  else if (size === 8) out.subarray(0, whole).swap64();
  return out;
}

/** A stored native frame (not encapsulated) as little-endian bytes. */
export function nativeStoredFrame(parsed: ParsedDicom, info: PixelDataInfo, frameNumber: number, vr: string | undefined): Uint8Array {
  const frame = getFrame(parsed, frameNumber);
  return parsed.transferSyntaxUid === BIG_ENDIAN ? swapNativeToLittleEndian(frame, info.bitsAllocated, vr) : Uint8Array.from(frame);
}

const JPEG_LS_NEAR_LOSSLESS = '1.2.840.10008.1.2.4.81';
const J2K_LOSSY_CAPABLE = new Set(['1.2.840.10008.1.2.4.91', '1.2.840.10008.1.2.4.93', '1.2.840.10008.1.2.4.203']);
const LOSSLESS_JPEG = new Set(['1.2.840.10008.1.2.4.57', '1.2.840.10008.1.2.4.70']);

/** The NEAR parameter of a JPEG-LS stream's first scan (0: lossless), undefined when not found. */
function jpegLsNear(stream: Uint8Array): number | undefined {
  for (let at = 2; at + 4 < stream.length && at < 1 << 20; at++) {
    if (stream[at] !== 0xff || stream[at + 1] !== 0xda) continue;
    const components = stream[at + 4]!;
    return stream[at + 5 + components * 2];
  }
  return undefined;
}

/** Whether a J2K codestream's COD says 9-7 irreversible wavelet (lossy for certain). */
function jpeg2000Irreversible(stream: Uint8Array): boolean {
  for (let at = 0; at + 14 < stream.length && at < 1 << 16; at++) {
    if (stream[at] === 0xff && stream[at + 1] === 0x52) return stream[at + 13] === 0;
  }
  return false;
}

/**
 * The Lossy Image Compression Method (0028,2114) of the source's codestream when it was lossy,
 * undefined when it was lossless (as far as the stream says).
 */
export function lossyMethod(transferSyntaxUid: string, firstFrame: Uint8Array): string | undefined {
  // JPEG XL's JPEG recompression holds a DCT JPEG's coefficients: the loss happened there
  if (DCT_JPEG_SYNTAXES.has(transferSyntaxUid) || transferSyntaxUid === '1.2.840.10008.1.2.4.111') return 'ISO_10918_1';
  if (LOSSLESS_JPEG.has(transferSyntaxUid)) {
    const marker = jpegStartOfFrame(firstFrame);
    return marker !== undefined && marker <= 0xc2 ? 'ISO_10918_1' : undefined; // DCT under a lossless label
  }
  if (transferSyntaxUid === JPEG_LS_NEAR_LOSSLESS) return (jpegLsNear(firstFrame) ?? 1) > 0 ? 'ISO_14495_1' : undefined;
  if (J2K_LOSSY_CAPABLE.has(transferSyntaxUid) && jpeg2000Irreversible(firstFrame)) {
    return transferSyntaxUid.endsWith('.203') ? 'ISO_15444_15' : 'ISO_15444_1';
  }
  return undefined;
}

/** PhotometricInterpretation of the decoded pixels (PS3.3 C.7.6.3.1.2). */
export function decodedPhotometric(stored: string, colorTransformed: boolean, components: number): string {
  if (components === 1) return stored === 'MONOCHROME1' || stored === 'PALETTE COLOR' ? stored : stored.startsWith('MONOCHROME') ? stored : 'MONOCHROME2';
  if (colorTransformed) return 'RGB';
  // the codec undid the JPEG 2000 colour transform; YBR_RCT/ICT never describe native data
  if (stored === 'YBR_RCT' || stored === 'YBR_ICT') return 'RGB';
  // decoded chroma is at full resolution
  if (stored.endsWith('_422') || stored.endsWith('_420')) return 'YBR_FULL';
  return stored;
}

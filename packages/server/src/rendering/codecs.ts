/**
 * Decoders for the compressed transfer syntaxes sharp cannot read, all shipped inside npm
 * packages as WebAssembly or JavaScript (nothing is fetched at run time; the .wasm files are
 * read from the package directories): JPEG 2000 (OpenJPEG), HTJ2K (OpenJPH), JPEG-LS
 * (CharLS) and lossless JPEG, processes 14 and 14 SV1 (jpeg-lossless-decoder-js).
 *
 * This module runs in the decode workers (frame-decoder-worker.ts) and, for tests, in any
 * thread. A codec that threw is dropped and instantiated afresh on the next frame, so a
 * malformed stream cannot leave a WebAssembly instance in a broken state behind it.
 */
import { createRequire } from 'node:module';
import { Decoder as LosslessDecoder } from '@cornerstonejs/jpeg-lossless-decoder-js';

const require = createRequire(import.meta.url);

export const DECODABLE_SYNTAXES: ReadonlyMap<string, string> = new Map([
  ['1.2.840.10008.1.2.4.57', 'lossless JPEG (process 14)'],
  ['1.2.840.10008.1.2.4.70', 'lossless JPEG (process 14 SV1)'],
  ['1.2.840.10008.1.2.4.80', 'JPEG-LS lossless'],
  ['1.2.840.10008.1.2.4.81', 'JPEG-LS near-lossless'],
  ['1.2.840.10008.1.2.4.90', 'JPEG 2000 lossless'],
  ['1.2.840.10008.1.2.4.91', 'JPEG 2000'],
  ['1.2.840.10008.1.2.4.201', 'HTJ2K lossless'],
  ['1.2.840.10008.1.2.4.202', 'HTJ2K lossless RPCL'],
  ['1.2.840.10008.1.2.4.203', 'HTJ2K'],
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
  /** JPEG 2000 with the multiple-component transform: the output is RGB, whatever the data set says */
  colorTransformed: boolean;
}

export interface DecodeRequest {
  transferSyntaxUid: string;
  frame: Uint8Array;
  bitsAllocated: number;
  pixelRepresentation: number;
  /** refuse, before the codec allocates anything, a codestream whose header declares a larger output */
  maxOutputBytes?: number;
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
interface WasmModule {
  J2KDecoder?: new () => WasmDecoder;
  HTJ2KDecoder?: new () => WasmDecoder;
  JpegLSDecoder?: new () => WasmDecoder;
  getExceptionMessage?(pointer: number): string;
  HEAPU8?: Uint8Array;
}
type Factory = (options?: object) => Promise<WasmModule>;

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
    // emscripten's Node path reads the .wasm beside the script (__dirname); print nothing
    module = factory({ print: () => undefined, printErr: () => undefined });
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

async function decodeWasm(specifier: string, className: 'J2KDecoder' | 'HTJ2KDecoder' | 'JpegLSDecoder', stream: Uint8Array): Promise<DecodedFrame> {
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
      colorTransformed: className !== 'JpegLSDecoder' && info.componentCount === 3,
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

/** Decodes one frame of a transfer syntax in DECODABLE_SYNTAXES. Throws CodecError. */
export async function decodeCompressed(request: DecodeRequest): Promise<DecodedFrame> {
  checkDeclaredOutput(request);
  const ts = request.transferSyntaxUid;
  if (ts === '1.2.840.10008.1.2.4.57' || ts === '1.2.840.10008.1.2.4.70') return decodeLossless(request);
  if (ts === '1.2.840.10008.1.2.4.80' || ts === '1.2.840.10008.1.2.4.81') return decodeWasm('@cornerstonejs/codec-charls/decodewasmjs', 'JpegLSDecoder', request.frame);
  if (ts === '1.2.840.10008.1.2.4.90' || ts === '1.2.840.10008.1.2.4.91') return decodeWasm('@cornerstonejs/codec-openjpeg/decodewasmjs', 'J2KDecoder', jpeg2000Codestream(request.frame));
  if (ts.startsWith('1.2.840.10008.1.2.4.20')) return decodeWasm('@cornerstonejs/codec-openjph/wasmjs', 'HTJ2KDecoder', jpeg2000Codestream(request.frame));
  throw new CodecError(`no decoder for transfer syntax ${ts}`);
}

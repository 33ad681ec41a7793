/**
 * Lossless compression of an uncompressed instance (issue 15 item 1, compression on ingest):
 * JPEG 2000 lossless (1.2.840.10008.1.2.4.90) or HTJ2K lossless (.4.201), one fragment per
 * frame, encoded in the shared decode workers and decoded back there before it is accepted
 * (codecs.ts encodeLossless), so the stored pixels are the received ones, bit for bit.
 *
 * Only what the codecs can carry exactly is compressed: native pixel data of 8 or 16 bits
 * allocated, 1 or 3 samples, MONOCHROME1/2, PALETTE COLOR, RGB or YBR_FULL. Anything else
 * (float pixels, 1- or 32-bit, YBR_FULL_422 native, no pixel data, already compressed) is
 * answered `undefined`: the caller stores the instance as received.
 */
import type { DataSet } from 'dicom-parser';
import { buildPart10Header, getPixelDataInfo, parseDicom, type ParsedDicom, type PixelDataInfo } from '@yunying/dicom';
import { YunyingError } from '../errors.ts';
import { ENCODABLE_SYNTAXES, CodecError } from '../rendering/codecs.ts';
import { sharedFrameDecoder, type FrameDecoder } from '../rendering/frame-decoder.ts';
import { encodeElement, mergePieces, PIXEL_DATA, rewritePieces, verbatimPieces } from './element-writer.ts';
import { nativeStoredFrame, BIG_ENDIAN } from './native-pixels.ts';

const IMPLICIT_LE = '1.2.840.10008.1.2';
const EXPLICIT_LE = '1.2.840.10008.1.2.1';
const DEFLATED_LE = '1.2.840.10008.1.2.1.99';
const UNCOMPRESSED = new Set([IMPLICIT_LE, EXPLICIT_LE, DEFLATED_LE, BIG_ENDIAN]);
const PHOTOMETRICS = new Set(['MONOCHROME1', 'MONOCHROME2', 'PALETTE COLOR', 'RGB', 'YBR_FULL']);

export const J2K_LOSSLESS = '1.2.840.10008.1.2.4.90';
export const HTJ2K_LOSSLESS = '1.2.840.10008.1.2.4.201';

/** Why an instance is kept as received; undefined: it can be compressed. */
export function notCompressible(parsed: ParsedDicom, info: PixelDataInfo | undefined): string | undefined {
  if (!UNCOMPRESSED.has(parsed.transferSyntaxUid) || parsed.transferSyntaxGuessed) return `stored in ${parsed.transferSyntaxUid}`;
  if (!info) return 'no pixel data';
  if (info.encapsulated) return 'encapsulated pixel data';
  if (info.bitsAllocated !== 8 && info.bitsAllocated !== 16) return `${info.bitsAllocated} bits allocated`;
  if (info.samplesPerPixel !== 1 && info.samplesPerPixel !== 3) return `${info.samplesPerPixel} samples per pixel`;
  if (!PHOTOMETRICS.has(info.photometricInterpretation)) return `photometric ${info.photometricInterpretation}`;
  if (!(info.rows > 0 && info.columns > 0)) return 'no image size';
  return undefined;
}

function interleave(planes: Uint8Array, pixels: number, bytesPerSample: number): Uint8Array {
  const out = new Uint8Array(planes.length);
  for (let c = 0; c < 3; c++) {
    for (let p = 0; p < pixels; p++) {
      for (let b = 0; b < bytesPerSample; b++) out[(p * 3 + c) * bytesPerSample + b] = planes[(c * pixels + p) * bytesPerSample + b]!;
    }
  }
  return out;
}

const item = (value: Uint8Array): Buffer => {
  const header = Buffer.alloc(8);
  header.writeUInt32LE(0xe000fffe, 0);
  header.writeUInt32LE(value.length, 4);
  return Buffer.concat([header, value]);
};

/** Encapsulated Pixel Data (PS3.5 A.4): undefined length, an empty Basic Offset Table, one fragment per frame. */
function encapsulatedPixelData(fragments: readonly Uint8Array[]): Buffer {
  const header = Buffer.alloc(12);
  header.writeUInt16LE(0x7fe0, 0);
  header.writeUInt16LE(0x0010, 2);
  header.write('OB', 4, 'latin1');
  header.writeUInt32LE(0xffffffff, 8);
  const delimiter = Buffer.alloc(8);
  delimiter.writeUInt32LE(0xe0ddfffe, 0);
  const padded = fragments.map((fragment) => (fragment.length % 2 === 0 ? fragment : Buffer.concat([fragment, Buffer.from([0])])));
  return Buffer.concat([header, item(new Uint8Array(0)), ...padded.map(item), delimiter]);
}

const textValue = (text: string): Buffer => Buffer.from(text.length % 2 === 0 ? text : `${text} `, 'latin1');

function metaValue(parsed: ParsedDicom, tag: string): string | undefined {
  const value = parsed.meta?.[tag]?.Value?.[0];
  return typeof value === 'string' ? value : undefined;
}

export interface CompressOptions {
  /** where frames are encoded [the process's pool] */
  decoder?: FrameDecoder;
}

/**
 * The instance losslessly compressed in `syntax`, or undefined when it is kept as received
 * (not an uncompressed image the codecs carry exactly, or a frame that did not survive the
 * round trip). Throws only for a syntax that is not a lossless one we encode.
 */
export async function compressPart10(part10: Buffer, syntax: string, options: CompressOptions = {}): Promise<Buffer | undefined> {
  if (!ENCODABLE_SYNTAXES.has(syntax)) throw new Error(`compression on ingest writes ${[...ENCODABLE_SYNTAXES].join(' or ')}, not ${syntax}`);
  const decoder = options.decoder ?? sharedFrameDecoder();
  if (!decoder.encode) return undefined;
  let parsed: ParsedDicom;
  let info: PixelDataInfo | undefined;
  try {
    parsed = parseDicom(part10);
    info = getPixelDataInfo(parsed);
  } catch {
    return undefined;
  }
  if (!info || notCompressible(parsed, info)) return undefined;
  const ds = parsed.raw as DataSet;
  const pixelVr = ds.elements.x7fe00010?.vr;
  const bytesPerSample = info.bitsAllocated / 8;
  const frameBytes = info.rows * info.columns * info.samplesPerPixel * bytesPerSample;
  const fragments: Uint8Array[] = [];
  let colorTransformed = false;
  try {
    for (let frameNumber = 1; frameNumber <= info.numberOfFrames; frameNumber++) {
      let frame = nativeStoredFrame(parsed, info, frameNumber, pixelVr);
      if (frame.length < frameBytes) return undefined;
      if (info.samplesPerPixel === 3 && info.planarConfiguration === 1) frame = interleave(frame, info.rows * info.columns, bytesPerSample);
      const encoded = await decoder.encode({
        transferSyntaxUid: syntax, frame: frame.subarray(0, frameBytes), width: info.columns, height: info.rows, components: info.samplesPerPixel,
        bitsAllocated: info.bitsAllocated, bitsStored: info.bitsStored, signed: info.pixelRepresentation === 1,
      });
      colorTransformed ||= encoded.colorTransformed;
      fragments.push(encoded.data);
    }
  } catch (error) {
    // a frame the codec refused, or a pool too busy or failing: the instance is stored as received
    if (error instanceof CodecError || error instanceof YunyingError) return undefined;
    throw error;
  }
  const from = parsed.transferSyntaxUid;
  const except = new Set([PIXEL_DATA]);
  // encapsulated syntaxes are explicit VR little endian
  const pieces = from === EXPLICIT_LE || from === DEFLATED_LE ? verbatimPieces(ds, except) : rewritePieces(ds, { implicit: from === IMPLICIT_LE, bigEndian: from === BIG_ENDIAN }, { explicit: true, signedPixels: false }, true, except);
  const overrides = new Map<number, Uint8Array | null>([[PIXEL_DATA, encapsulatedPixelData(fragments)]]);
  if (info.samplesPerPixel === 3) overrides.set(0x00280006, encodeElement(0x00280006, 'US', Buffer.from([0, 0]), true));
  // the reversible colour transform: PS3.5 8.2.4 says YBR_RCT for what was RGB
  if (colorTransformed && info.photometricInterpretation === 'RGB') overrides.set(0x00280004, encodeElement(0x00280004, 'CS', textValue('YBR_RCT'), true));
  const header = buildPart10Header({
    transferSyntaxUid: syntax,
    sopClassUid: metaValue(parsed, '00020002') ?? ds.string('x00080016')?.trim() ?? '',
    sopInstanceUid: metaValue(parsed, '00020003') ?? ds.string('x00080018')?.trim() ?? '',
    sourceAeTitle: metaValue(parsed, '00020016'),
  });
  return Buffer.concat([header, mergePieces(pieces, overrides)]);
}

/**
 * The process's Transcoder (index.ts): any syntax the archive stores and can decode → native
 * little endian (Explicit, Implicit, Deflated Explicit VR LE). Compressed frames are decoded in
 * the shared frame-decoder pool (rendering/frame-decoder.ts), a few at a time so a 96-frame
 * instance does not fill the pool's queue; everything but Pixel Data and the attributes that
 * describe it keeps its stored bytes (element-writer.ts).
 */
import { deflateRawSync } from 'node:zlib';
import type { DataSet } from 'dicom-parser';
import { buildPart10Header, getPixelDataInfo, parseDicom, getFrame, TRANSFER_SYNTAX, type ParsedDicom, type PixelDataInfo } from '@yunying/dicom';
import { YunyingError } from '../errors.ts';
import { DECODABLE_SYNTAXES, CodecError, type DecodedFrame } from '../rendering/codecs.ts';
import { sharedFrameDecoder, type FrameDecoder } from '../rendering/frame-decoder.ts';
import type { Transcoder } from './contract.ts';
import { encodeElement, mergePieces, PIXEL_DATA, rewritePieces, verbatimPieces, type Piece } from './element-writer.ts';
import {
  BIG_ENDIAN, decodedPhotometric, joinFrames, lossyMethod, nativeFrameBytes, nativeStoredFrame,
  notDecodable, swapNativeToLittleEndian, toNativeFrame, transcodeFailed,
} from './native-pixels.ts';

const { IMPLICIT_LE, EXPLICIT_LE, DEFLATED_LE } = TRANSFER_SYNTAX;

/** Syntaxes whose Pixel Data is native (never encapsulated). */
export const NATIVE_SYNTAXES: ReadonlySet<string> = new Set([IMPLICIT_LE, EXPLICIT_LE, DEFLATED_LE, BIG_ENDIAN]);
/** What the transcoder produces. */
export const NATIVE_TARGETS: ReadonlySet<string> = new Set([IMPLICIT_LE, EXPLICIT_LE, DEFLATED_LE]);

const PHOTOMETRIC = 0x00280004;
const PLANAR_CONFIGURATION = 0x00280006;
const LOSSY_IMAGE_COMPRESSION = 0x00282110;
const LOSSY_METHOD = 0x00282114;
const EXTENDED_OFFSET_TABLE = 0x7fe00001;
const EXTENDED_OFFSET_LENGTHS = 0x7fe00002;

export interface TranscoderOptions {
  /** where compressed frames are decoded [the process's pool] */
  decoder?: () => FrameDecoder;
  /** frames of one instance decoding at once [4] */
  framesInFlight?: number;
}

/** What decoding all frames of an instance found out about them. */
interface DecodedPixels {
  data: Uint8Array;
  colorTransformed: boolean;
  firstFrame: Uint8Array;
}

const textValue = (text: string): Buffer => Buffer.from(text.length % 2 === 0 ? text : `${text} `, 'latin1');
const us = (value: number): Buffer => {
  const out = Buffer.alloc(2);
  out.writeUInt16LE(value);
  return out;
};

function rawOf(parsed: ParsedDicom): DataSet {
  return parsed.raw as DataSet;
}

function readText(ds: DataSet, tag: string): string | undefined {
  return ds.elements[tag] ? ds.string(tag)?.trim() : undefined;
}

function metaValue(parsed: ParsedDicom, tag: string): string | undefined {
  const value = parsed.meta?.[tag]?.Value?.[0];
  return typeof value === 'string' ? value : undefined;
}

/** The transfer syntax a codestream implies, for data sets without File Meta whose syntax was guessed as "some explicit LE". */
function sniffSyntax(frame: Uint8Array): string | undefined {
  if (frame[0] === 0xff && frame[1] === 0xd8) return '1.2.840.10008.1.2.4.70'; // the JPEG family is dispatched by its SOF marker
  if ((frame[0] === 0xff && frame[1] === 0x4f) || (frame[4] === 0x6a && frame[5] === 0x50)) return '1.2.840.10008.1.2.4.90';
  return undefined;
}

export class PooledTranscoder implements Transcoder {
  private readonly decoder: () => FrameDecoder;
  private readonly framesInFlight: number;

  constructor(options: TranscoderOptions = {}) {
    this.decoder = options.decoder ?? sharedFrameDecoder;
    this.framesInFlight = Math.max(1, options.framesInFlight ?? 4);
  }

  canTranscode(from: string, to: string): boolean {
    if (from === to) return true;
    if (!NATIVE_TARGETS.has(to)) return false;
    return NATIVE_SYNTAXES.has(from) || DECODABLE_SYNTAXES.has(from);
  }

  async decodeFrameNative(parsed: ParsedDicom, frameNumber: number): Promise<Uint8Array> {
    const info = this.pixelInfo(parsed);
    const frames = info.numberOfFrames;
    if (!Number.isInteger(frameNumber) || frameNumber < 1 || frameNumber > frames) {
      throw new YunyingError('NOT_FOUND', `frame ${frameNumber} not found: the instance has ${frames} frame(s)`);
    }
    if (!info.encapsulated) return nativeStoredFrame(parsed, info, frameNumber, rawOf(parsed).elements.x7fe00010?.vr);
    return (await this.decodeOne(parsed, info, frameNumber)).data;
  }

  async transcodePart10(part10: Buffer, to: string): Promise<Buffer> {
    let parsed: ParsedDicom;
    try {
      parsed = parseDicom(part10);
    } catch (error) {
      throw transcodeFailed(`the instance cannot be parsed: ${(error as Error).message}`);
    }
    const from = parsed.transferSyntaxUid;
    if (from === to && !parsed.transferSyntaxGuessed) return part10;
    if (!this.canTranscode(from, to)) throw transcodeFailed(`an instance in ${from} cannot be converted to ${to}`);
    const dataset = await this.nativeDataset(parsed, to === IMPLICIT_LE ? 'implicit' : 'explicit');
    const sopClassUid = metaValue(parsed, '00020002') ?? readText(rawOf(parsed), 'x00080016') ?? '';
    const sopInstanceUid = metaValue(parsed, '00020003') ?? readText(rawOf(parsed), 'x00080018') ?? '';
    const header = buildPart10Header({ transferSyntaxUid: to, sopClassUid, sopInstanceUid, sourceAeTitle: metaValue(parsed, '00020016') });
    return Buffer.concat([header, to === DEFLATED_LE ? deflateRawSync(dataset) : dataset]);
  }

  /** The data set (no File Meta) in explicit or implicit VR little endian, Pixel Data native. */
  private async nativeDataset(parsed: ParsedDicom, vr: 'explicit' | 'implicit'): Promise<Buffer> {
    const ds = rawOf(parsed);
    const from = parsed.transferSyntaxUid;
    const explicit = vr === 'explicit';
    const pixelElement = ds.elements.x7fe00010;
    const encapsulated = pixelElement?.encapsulatedPixelData === true;
    const source = { implicit: from === IMPLICIT_LE, bigEndian: from === BIG_ENDIAN };
    // explicit LE in and out: the stored bytes of every element but Pixel Data
    const verbatim = explicit && !source.implicit && !source.bigEndian;
    const except = new Set([PIXEL_DATA]);
    const pieces: Piece[] = verbatim ? verbatimPieces(ds, except) : rewritePieces(ds, source, { explicit, signedPixels: false }, true, except);
    const overrides = new Map<number, Uint8Array | null>();
    if (pixelElement && encapsulated) {
      const info = this.pixelInfo(parsed);
      const decoded = await this.decodeAll(parsed, info);
      this.describeDecoded(overrides, info, decoded, from, ds, explicit);
      overrides.set(PIXEL_DATA, encodeElement(PIXEL_DATA, info.bitsAllocated > 8 ? 'OW' : 'OB', padded(decoded.data), explicit));
    } else if (pixelElement) {
      const bytes = ds.byteArray.subarray(pixelElement.dataOffset, pixelElement.dataOffset + pixelElement.length);
      const bitsAllocated = ds.elements.x00280100 ? (ds.uint16('x00280100') ?? 16) : 16;
      const value = source.bigEndian ? swapNativeToLittleEndian(bytes, bitsAllocated, pixelElement.vr) : bytes;
      const pixelVr = bitsAllocated > 8 ? 'OW' : pixelElement.vr === 'OB' || pixelElement.vr === 'OW' ? pixelElement.vr : source.implicit ? 'OW' : 'OB';
      overrides.set(PIXEL_DATA, encodeElement(PIXEL_DATA, pixelVr, padded(value), explicit));
    }
    return mergePieces(pieces, overrides);
  }

  /** Photometric, planar configuration and lossy-compression attributes of the decoded pixels; no offset tables. */
  private describeDecoded(overrides: Map<number, Uint8Array | null>, info: PixelDataInfo, decoded: DecodedPixels, from: string, ds: DataSet, explicit: boolean): void {
    const spp = Math.max(1, info.samplesPerPixel);
    const photometric = decodedPhotometric(info.photometricInterpretation, decoded.colorTransformed, spp);
    if (photometric !== info.photometricInterpretation || !ds.elements.x00280004) overrides.set(PHOTOMETRIC, encodeElement(PHOTOMETRIC, 'CS', textValue(photometric), explicit));
    if (spp > 1) overrides.set(PLANAR_CONFIGURATION, encodeElement(PLANAR_CONFIGURATION, 'US', us(0), explicit));
    const method = lossyMethod(from, decoded.firstFrame);
    if (method && readText(ds, 'x00282110') !== '01') {
      overrides.set(LOSSY_IMAGE_COMPRESSION, encodeElement(LOSSY_IMAGE_COMPRESSION, 'CS', textValue('01'), explicit));
      if (!ds.elements.x00282114) overrides.set(LOSSY_METHOD, encodeElement(LOSSY_METHOD, 'CS', textValue(method), explicit));
    }
    overrides.set(EXTENDED_OFFSET_TABLE, null);
    overrides.set(EXTENDED_OFFSET_LENGTHS, null);
  }

  private pixelInfo(parsed: ParsedDicom): PixelDataInfo {
    if (parsed.stoppedAtPixelData) throw new Error('the transcoder needs the whole instance, not one parsed until Pixel Data');
    let info: PixelDataInfo | undefined;
    try {
      info = getPixelDataInfo(parsed);
    } catch (error) {
      throw transcodeFailed(`the pixel description cannot be read: ${(error as Error).message}`);
    }
    if (!info) throw transcodeFailed('the instance has no Pixel Data');
    if (!(info.rows > 0 && info.columns > 0 && info.bitsAllocated > 0)) throw transcodeFailed('the instance has no Rows, Columns or Bits Allocated');
    return info;
  }

  /** Every frame decoded, in order, at most `framesInFlight` at a time. */
  private async decodeAll(parsed: ParsedDicom, info: PixelDataInfo): Promise<DecodedPixels> {
    const count = info.numberOfFrames;
    const frames: Uint8Array[] = new Array<Uint8Array>(count);
    let colorTransformed = false;
    let firstFrame: Uint8Array = new Uint8Array(0);
    let next = 1;
    const worker = async (): Promise<void> => {
      while (next <= count) {
        const frameNumber = next++;
        const one = await this.decodeOne(parsed, info, frameNumber);
        frames[frameNumber - 1] = one.data;
        if (frameNumber === 1) {
          colorTransformed = one.colorTransformed;
          firstFrame = one.stored;
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.framesInFlight, count) }, worker));
    return { data: joinFrames(frames, info), colorTransformed, firstFrame };
  }

  private async decodeOne(parsed: ParsedDicom, info: PixelDataInfo, frameNumber: number): Promise<{ data: Uint8Array; colorTransformed: boolean; stored: Uint8Array }> {
    let stored: Uint8Array;
    try {
      stored = getFrame(parsed, frameNumber);
    } catch (error) {
      throw notDecodable(`frame ${frameNumber} cannot be read: ${(error as Error).message}`);
    }
    const transferSyntaxUid = parsed.transferSyntaxGuessed ? (sniffSyntax(stored) ?? parsed.transferSyntaxUid) : parsed.transferSyntaxUid;
    if (!DECODABLE_SYNTAXES.has(transferSyntaxUid)) throw transcodeFailed(`frames in transfer syntax ${transferSyntaxUid} cannot be decoded by this server`);
    let decoded: DecodedFrame;
    try {
      decoded = await this.decoder().decode({
        transferSyntaxUid, frame: stored, bitsAllocated: info.bitsAllocated, pixelRepresentation: info.pixelRepresentation,
        photometricInterpretation: info.photometricInterpretation,
        rows: info.rows, columns: info.columns, samplesPerPixel: info.samplesPerPixel, maxOutputBytes: Math.max(nativeFrameBytes(info) * 2, 1 << 20),
      }, nativeFrameBytes(info));
    } catch (error) {
      if (error instanceof YunyingError) throw error;
      if (error instanceof CodecError) throw notDecodable(`frame ${frameNumber}: ${error.message}`);
      throw notDecodable(`frame ${frameNumber} cannot be decoded: ${(error as Error).message}`);
    }
    return { data: toNativeFrame(decoded, info, frameNumber), colorTransformed: decoded.colorTransformed, stored };
  }
}

/** Odd-length Pixel Data gets one zero byte (PS3.5 8.1.1). */
function padded(value: Uint8Array): Uint8Array {
  return value.length % 2 === 0 ? value : Buffer.concat([value, Buffer.from([0])]);
}

export function createDefaultTranscoder(): Transcoder {
  return new PooledTranscoder();
}

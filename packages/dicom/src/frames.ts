/**
 * Pixel data frames as stored: native frames are views on the parsed buffer, encapsulated
 * frames are their fragments joined. Nothing is decoded here.
 */
import dicomParser from 'dicom-parser';
import type { DataSet, Element } from 'dicom-parser';
import { DicomParseError } from './errors.ts';
import { rawDataSet, type ParsedDicom } from './parse.ts';
import { characterSetOf, parseDecimalString, parseIntegerString, readAscii, readText } from './values.ts';

export interface PixelDataInfo {
  rows: number; columns: number; samplesPerPixel: number; bitsAllocated: number; bitsStored: number;
  pixelRepresentation: number; photometricInterpretation: string; numberOfFrames: number;
  planarConfiguration: number; rescaleSlope: number; rescaleIntercept: number;
  windowCenter?: number; windowWidth?: number;
  transferSyntaxUid: string; encapsulated: boolean;
}

const PIXEL_DATA = 'x7fe00010';
/** JPEG processes and JPEG-LS: every frame ends with an EOI marker dicom-parser can find. */
const EOI_TERMINATED_SYNTAXES = new Set(['1.2.840.10008.1.2.4.50', '1.2.840.10008.1.2.4.51', '1.2.840.10008.1.2.4.53',
  '1.2.840.10008.1.2.4.55', '1.2.840.10008.1.2.4.57', '1.2.840.10008.1.2.4.70', '1.2.840.10008.1.2.4.80', '1.2.840.10008.1.2.4.81']);

function uint16(dataSet: DataSet, tag: string, fallback: number): number {
  const element = dataSet.elements[tag];
  return element && element.length >= 2 ? dataSet.uint16(tag)! : fallback;
}

function firstNumber(dataSet: DataSet, tag: string): number | undefined {
  const element = dataSet.elements[tag];
  return element ? parseDecimalString(readAscii(dataSet, element).split('\\')[0]) : undefined;
}

function pixelDataElement(parsed: ParsedDicom): Element | undefined {
  return rawDataSet(parsed).elements[PIXEL_DATA];
}

export function getPixelDataInfo(parsed: ParsedDicom): PixelDataInfo | undefined {
  const dataSet = rawDataSet(parsed);
  const pixelData = pixelDataElement(parsed);
  if (!pixelData) return undefined;
  const bitsAllocated = uint16(dataSet, 'x00280100', 0);
  const photometric = dataSet.elements.x00280004;
  const frames = dataSet.elements.x00280008;
  return {
    rows: uint16(dataSet, 'x00280010', 0),
    columns: uint16(dataSet, 'x00280011', 0),
    samplesPerPixel: uint16(dataSet, 'x00280002', 1),
    bitsAllocated,
    bitsStored: uint16(dataSet, 'x00280101', bitsAllocated),
    pixelRepresentation: uint16(dataSet, 'x00280103', 0),
    photometricInterpretation: photometric ? readText(dataSet, photometric, characterSetOf(dataSet)).trim() : 'MONOCHROME2',
    numberOfFrames: Math.max(1, (frames && parseIntegerString(readAscii(dataSet, frames))) || 1),
    planarConfiguration: uint16(dataSet, 'x00280006', 0),
    rescaleSlope: firstNumber(dataSet, 'x00281053') ?? 1,
    rescaleIntercept: firstNumber(dataSet, 'x00281052') ?? 0,
    windowCenter: firstNumber(dataSet, 'x00281050'),
    windowWidth: firstNumber(dataSet, 'x00281051'),
    transferSyntaxUid: parsed.transferSyntaxUid,
    encapsulated: pixelData.encapsulatedPixelData === true,
  };
}

/** Frames in the instance; 0 when it has no Pixel Data. */
export function countFrames(parsed: ParsedDicom): number {
  return getPixelDataInfo(parsed)?.numberOfFrames ?? 0;
}

/** Bits one native frame occupies; YBR_*_422 stores two samples per pixel, not three. */
function bitsPerFrame(info: PixelDataInfo): number {
  const samples = info.photometricInterpretation.endsWith('_422') ? 2 : info.samplesPerPixel;
  return info.rows * info.columns * samples * info.bitsAllocated;
}

/** 1-bit frames are packed back to back, so a frame may start inside a byte (PS3.5 8.1.1). */
function unpackBits(data: Uint8Array, startBit: number, bitCount: number): Uint8Array {
  const out = new Uint8Array(Math.ceil(bitCount / 8));
  for (let i = 0; i < bitCount; i++) {
    const source = startBit + i;
    const bit = (data[source >> 3]! >> (source & 7)) & 1;
    out[i >> 3]! |= bit << (i & 7);
  }
  return out;
}

function nativeFrame(dataSet: DataSet, element: Element, info: PixelDataInfo, frameNumber: number): Uint8Array {
  const bits = bitsPerFrame(info);
  const startBit = (frameNumber - 1) * bits;
  if (bits === 0) throw new DicomParseError('pixel data frame size is 0: Rows, Columns or Bits Allocated missing');
  if (Math.ceil((startBit + bits) / 8) > element.length) {
    throw new DicomParseError(`pixel data holds ${element.length} bytes, too few for frame ${frameNumber} of ${info.numberOfFrames}`);
  }
  const data = dataSet.byteArray.subarray(element.dataOffset, element.dataOffset + element.length);
  if (startBit % 8 === 0 && bits % 8 === 0) return data.subarray(startBit / 8, (startBit + bits) / 8);
  return unpackBits(data, startBit, bits);
}

const startsWith = (dataSet: DataSet, position: number, signature: number[]) =>
  signature.every((byte, k) => dataSet.byteArray[position + k] === byte);

/** Fragments that open a JPEG/JPEG-LS (SOI), J2K/HTJ2K (SOC+SIZ) or JP2 codestream start a frame. */
function isCodestreamStart(dataSet: DataSet, position: number): boolean {
  return startsWith(dataSet, position, [0xff, 0xd8]) || startsWith(dataSet, position, [0xff, 0x4f, 0xff, 0x51])
    || startsWith(dataSet, position, [0x00, 0x00, 0x00, 0x0c, 0x6a, 0x50, 0x20, 0x20]);
}

/** First fragment index of every frame, found from codestream start markers. */
function framesByMarkers(dataSet: DataSet, element: Element): number[] {
  const starts: number[] = [];
  element.fragments!.forEach((fragment, index) => {
    if (index === 0 || isCodestreamStart(dataSet, fragment.position)) starts.push(index);
  });
  return starts;
}

function fragmentsOf(dataSet: DataSet, element: Element, start: number, count: number): Uint8Array {
  return dicomParser.readEncapsulatedPixelDataFromFragments(dataSet, element, start, count);
}

/** The Extended Offset Table (7FE0,0001), when present: one fragment per frame, 64-bit offsets. */
function extendedOffsets(dataSet: DataSet): number[] | undefined {
  const element = dataSet.elements.x7fe00001;
  if (!element || element.length === 0) return undefined;
  const view = new DataView(dataSet.byteArray.buffer, dataSet.byteArray.byteOffset + element.dataOffset, element.length);
  const offsets: number[] = [];
  for (let at = 0; at + 8 <= element.length; at += 8) offsets.push(Number(view.getBigUint64(at, true)));
  return offsets;
}

function encapsulatedFrame(dataSet: DataSet, element: Element, info: PixelDataInfo, frameNumber: number): Uint8Array {
  const fragments = element.fragments ?? [];
  const frames = info.numberOfFrames;
  if (fragments.length === 0) throw new DicomParseError('encapsulated pixel data has no fragments');
  if (frames === 1) return fragmentsOf(dataSet, element, 0, fragments.length);
  if (element.basicOffsetTable?.length) return dicomParser.readEncapsulatedImageFrame(dataSet, element, frameNumber - 1);
  const extended = extendedOffsets(dataSet);
  if (extended?.length === frames) {
    const index = fragments.findIndex((fragment) => fragment.offset === extended[frameNumber - 1]);
    if (index >= 0) return fragmentsOf(dataSet, element, index, 1);
  }
  if (fragments.length === frames) return fragmentsOf(dataSet, element, frameNumber - 1, 1);
  if (EOI_TERMINATED_SYNTAXES.has(info.transferSyntaxUid)) {
    const table = dicomParser.createJPEGBasicOffsetTable(dataSet, element);
    if (table.length === frames) return dicomParser.readEncapsulatedImageFrame(dataSet, element, frameNumber - 1, table);
  }
  const starts = framesByMarkers(dataSet, element);
  if (starts.length === frames) {
    const end = starts[frameNumber] ?? fragments.length;
    return fragmentsOf(dataSet, element, starts[frameNumber - 1]!, end - starts[frameNumber - 1]!);
  }
  throw new DicomParseError(`cannot tell which of ${fragments.length} fragments belong to frame ${frameNumber} of ${frames}: no offset table`);
}

/** Frame `frameNumber` (1-based) as stored: native bytes or the encapsulated fragments joined. Big endian native data is returned as stored. */
export function getFrame(parsed: ParsedDicom, frameNumber: number): Uint8Array {
  if (parsed.stoppedAtPixelData) throw new Error('getFrame: the data set was parsed with untilPixelData; parse it in full to read frames');
  const info = getPixelDataInfo(parsed);
  const element = pixelDataElement(parsed);
  const frames = info?.numberOfFrames ?? 0;
  if (!info || !element) throw new RangeError(`frame ${frameNumber} is out of range: the instance has no Pixel Data`);
  if (!Number.isInteger(frameNumber) || frameNumber < 1 || frameNumber > frames) {
    throw new RangeError(`frame ${frameNumber} is out of range: the instance has ${frames} frame(s)`);
  }
  const dataSet = rawDataSet(parsed);
  try {
    return info.encapsulated ? encapsulatedFrame(dataSet, element, info, frameNumber) : nativeFrame(dataSet, element, info, frameNumber);
  } catch (error) {
    if (error instanceof DicomParseError) throw error;
    const reason = (typeof error === 'string' ? error : (error as Error).message).replace(/^dicomParser\.[\w.]*:\s*/, '');
    throw new DicomParseError(`cannot read frame ${frameNumber}: ${reason}`);
  }
}

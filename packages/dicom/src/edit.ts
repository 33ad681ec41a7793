import type { DataSet } from 'dicom-parser';
import { encodeText, decodeText } from './charset.ts';
import { encodeElement } from './dataset-writer.ts';
import { DicomParseError } from './errors.ts';
import { parseDicom, rawDataSet } from './parse.ts';
import { TRANSFER_SYNTAX } from './types.ts';

/** A top-level text element to set (value) or remove (value undefined). */
export interface TextElementChange {
  /** e.g. 0x00100010 */
  tag: number;
  /** PN, LO, DA, CS, … (short-length VRs) */
  vr: string;
  value: string | undefined;
}

const LONG_LENGTH_VRS = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'SQ', 'SV', 'UC', 'UN', 'UR', 'UT', 'UV']);

/**
 * Sets or removes top-level text elements of a Part 10 object in place, leaving every
 * other byte as it was (pixel data is never decoded or moved between syntaxes). This is
 * what a demographics correction needs; dcmjs would re-encode the whole object and its
 * character set. Little-endian syntaxes only: the big-endian syntax is retired, and a
 * deflated data set would have to be re-compressed — both are refused with a reason.
 * Values are encoded in the object's own Specific Character Set; one it cannot represent
 * is refused rather than written lossily.
 */
export function setTopLevelTextElements(part10: Uint8Array, changes: readonly TextElementChange[]): Buffer {
  const parsed = parseDicom(part10, { untilPixelData: true });
  if (parsed.transferSyntaxUid === TRANSFER_SYNTAX.EXPLICIT_BE || parsed.transferSyntaxUid === TRANSFER_SYNTAX.DEFLATED_LE) {
    throw new DicomParseError(`objects in transfer syntax ${parsed.transferSyntaxUid} cannot be edited in place`);
  }
  const explicit = parsed.transferSyntaxUid !== TRANSFER_SYNTAX.IMPLICIT_LE;
  const dataSet = rawDataSet(parsed);
  const charset = specificCharacterSetOf(dataSet);
  const bytes = Buffer.from(part10.buffer, part10.byteOffset, part10.byteLength);
  const elements = topLevelElements(dataSet, bytes, explicit, parsed.datasetOffset);

  // Splices from the end of the object backwards, so earlier offsets stay valid.
  const splices: Array<{ start: number; end: number; bytes: Buffer }> = [];
  const groupLengths = new Set(changes.map((change) => (change.tag & 0xffff0000) >>> 0));
  for (const element of elements) {
    // A group length would be wrong after the edit; it is retired (PS3.5 7.2), so drop it.
    if ((element.tag & 0xffff) === 0 && groupLengths.has((element.tag & 0xffff0000) >>> 0)) splices.push({ start: element.start, end: element.end, bytes: Buffer.alloc(0) });
  }
  for (const change of changes) {
    const encoded = change.value === undefined ? undefined : encodeElement(change.tag, change.vr, encodeValue(change.value, charset), explicit);
    const existing = elements.find((element) => element.tag === change.tag);
    if (existing) splices.push({ start: existing.start, end: existing.end, bytes: encoded ?? Buffer.alloc(0) });
    else if (encoded) {
      const next = elements.find((element) => element.tag > change.tag);
      const at = next ? next.start : bytes.length;
      splices.push({ start: at, end: at, bytes: encoded });
    }
  }
  splices.sort((a, b) => b.start - a.start || b.end - a.end);
  let out = bytes;
  for (const splice of splices) out = Buffer.concat([out.subarray(0, splice.start), splice.bytes, out.subarray(splice.end)]);
  return out;
}

interface ElementSpan {
  tag: number;
  /** offset of the element's header */
  start: number;
  /** offset just past its value */
  end: number;
}

/** Header and value span of every top-level element before Pixel Data, in tag order. */
function topLevelElements(dataSet: DataSet, bytes: Buffer, explicit: boolean, datasetOffset: number): ElementSpan[] {
  const spans: ElementSpan[] = [];
  for (const [key, element] of Object.entries(dataSet.elements)) {
    const tag = Number.parseInt(key.slice(1), 16);
    if (tag < 0x00080000 && tag >>> 16 === 0x0002) continue; // file meta
    if (element.dataOffset < datasetOffset) continue;
    const headerLength = explicit ? explicitHeaderLength(bytes, element.dataOffset) : 8;
    const start = element.dataOffset - headerLength;
    if (bytes.readUInt16LE(start) !== tag >>> 16 || bytes.readUInt16LE(start + 2) !== (tag & 0xffff)) {
      throw new DicomParseError(`cannot locate the header of element ${key}`);
    }
    // Only defined-length text elements are edited; others only bound the insertion point.
    const end = element.hadUndefinedLength ? start : element.dataOffset + element.length;
    spans.push({ tag, start, end });
  }
  return spans.sort((a, b) => a.tag - b.tag);
}

/** Explicit VR: 8 bytes for short VRs, 12 for the long ones (VR read back from the header). */
function explicitHeaderLength(bytes: Buffer, dataOffset: number): number {
  const shortVr = bytes.toString('latin1', dataOffset - 4, dataOffset - 2);
  if (/^[A-Z]{2}$/.test(shortVr) && !LONG_LENGTH_VRS.has(shortVr)) return 8;
  return 12;
}

function specificCharacterSetOf(dataSet: DataSet): string[] | undefined {
  const element = dataSet.elements.x00080005;
  if (!element) return undefined;
  return decodeText(dataSet.byteArray.subarray(element.dataOffset, element.dataOffset + element.length), undefined).trim().split('\\').map((term) => term.trim());
}

function encodeValue(value: string, charset: string[] | undefined): Buffer {
  let encoded: Buffer;
  try {
    encoded = encodeText(value, charset);
  } catch (error) {
    throw new DicomParseError(`the value cannot be written in the object's character set: ${(error as Error).message}`);
  }
  return encoded.length % 2 === 0 ? encoded : Buffer.concat([encoded, Buffer.from(' ')]);
}

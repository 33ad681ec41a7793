/**
 * Reads the Part 10 preamble and File Meta Information group (PS3.10 7.1) with a tiny
 * hand-written reader: ingest needs the transfer syntax and the data set offset before the
 * full parse, and the meta group is always explicit VR little endian.
 */
import { DicomParseError } from './errors.ts';
import type { DicomJsonElement } from './types.ts';
import { KNOWN_VRS, tagToHex } from './vr-dictionary.ts';

export interface FileMetaElement { vr: string; offset: number; length: number }

export interface FileMeta {
  /** offset of the first meta element (after "DICM") */
  metaOffset: number;
  datasetOffset: number;
  elements: Map<number, FileMetaElement>;
  transferSyntaxUid?: string;
  sopClassUid?: string;
  sopInstanceUid?: string;
}

/** VRs whose explicit-VR header has 2 reserved bytes and a 32-bit length (PS3.5 7.1.2). */
export const LONG_LENGTH_VRS: ReadonlySet<string> = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'SQ', 'UC', 'UN', 'UR', 'UT', 'SV', 'UV']);

const DICM = [0x44, 0x49, 0x43, 0x4d];

function hasDicmAt(bytes: Uint8Array, at: number): boolean {
  return bytes.length >= at + 4 && DICM.every((b, k) => bytes[at + k] === b);
}

function u16(bytes: Uint8Array, at: number): number {
  return bytes[at]! | (bytes[at + 1]! << 8);
}

function u32(bytes: Uint8Array, at: number): number {
  return (u16(bytes, at) + u16(bytes, at + 2) * 0x10000);
}

function ascii(bytes: Uint8Array, at: number, length: number): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset + at, length).toString('latin1');
}

/** Trailing NUL/space padding of a UI or text value. */
export function trimPadding(value: string): string {
  return value.replace(/[\0 ]+$/, '');
}

function formatTag(tag: number): string {
  const hex = tagToHex(tag);
  return `(${hex.slice(0, 4)},${hex.slice(4)})`;
}

/** Where the "DICM" magic is: after a 128-byte preamble, or (non-conformant) at 0. */
export function findMetaStart(bytes: Uint8Array): number | undefined {
  if (hasDicmAt(bytes, 128)) return 132;
  if (hasDicmAt(bytes, 0)) return 4;
  return undefined;
}

interface RawElement { tag: number; vr: string; offset: number; length: number; end: number }

function readMetaElement(bytes: Uint8Array, pos: number): RawElement {
  const tag = u16(bytes, pos) * 0x10000 + u16(bytes, pos + 2);
  const vr = ascii(bytes, pos + 4, 2);
  if (!KNOWN_VRS.has(vr)) throw new DicomParseError(`file meta element ${formatTag(tag)} has no valid explicit VR`);
  const long = LONG_LENGTH_VRS.has(vr);
  if (long && pos + 12 > bytes.length) throw new DicomParseError('truncated file meta information');
  const length = long ? u32(bytes, pos + 8) : u16(bytes, pos + 6);
  const offset = pos + (long ? 12 : 8);
  if (length === 0xffffffff) throw new DicomParseError(`file meta element ${formatTag(tag)} has undefined length`);
  if (offset + length > bytes.length) {
    throw new DicomParseError(`truncated file meta: element ${formatTag(tag)} length ${length} exceeds the ${bytes.length - offset} bytes left`);
  }
  return { tag, vr, offset, length, end: offset + length };
}

/**
 * The File Meta group, or undefined when the bytes have no "DICM" magic followed by group
 * 0002 elements (a bare data set).
 * The group ends where (0002,0000) says when the elements land exactly there; otherwise at
 * the first element outside group 0002 (some writers omit or miscount the group length).
 */
export function readFileMeta(bytes: Uint8Array): FileMeta | undefined {
  const metaOffset = findMetaStart(bytes);
  if (metaOffset === undefined) return undefined;
  const elements = new Map<number, FileMetaElement>();
  let pos = metaOffset;
  let declaredEnd: number | undefined;
  while (pos + 8 <= bytes.length && u16(bytes, pos) === 0x0002 && pos !== declaredEnd) {
    const el = readMetaElement(bytes, pos);
    if (el.tag === 0x00020000 && el.length === 4) declaredEnd = el.end + u32(bytes, el.offset);
    elements.set(el.tag, { vr: el.vr, offset: el.offset, length: el.length });
    pos = el.end;
  }
  // "DICM" followed by no meta element is data that happens to contain those bytes.
  if (elements.size === 0) return undefined;
  const uid = (tag: number): string | undefined => {
    const el = elements.get(tag);
    const value = el ? trimPadding(ascii(bytes, el.offset, el.length)).trim() : '';
    return value || undefined;
  };
  return {
    metaOffset, datasetOffset: pos, elements,
    transferSyntaxUid: uid(0x00020010), sopClassUid: uid(0x00020002), sopInstanceUid: uid(0x00020003),
  };
}

const TEXT_META_VRS = new Set(['UI', 'AE', 'SH', 'LO', 'CS', 'UR', 'UT', 'ST', 'LT']);

/** The meta group as DICOM JSON (text trimmed, UL numbers, OB as InlineBinary). */
export function fileMetaToJson(bytes: Uint8Array, meta: FileMeta): Record<string, DicomJsonElement> {
  const json: Record<string, DicomJsonElement> = {};
  for (const tag of [...meta.elements.keys()].sort((a, b) => a - b)) {
    const el = meta.elements.get(tag)!;
    const key = tagToHex(tag);
    if (el.length === 0) json[key] = { vr: el.vr };
    else if (TEXT_META_VRS.has(el.vr)) json[key] = { vr: el.vr, Value: trimPadding(ascii(bytes, el.offset, el.length)).trim().split('\\') };
    else if (el.vr === 'UL' && el.length === 4) json[key] = { vr: el.vr, Value: [u32(bytes, el.offset)] };
    else json[key] = { vr: el.vr, InlineBinary: Buffer.from(bytes.buffer, bytes.byteOffset + el.offset, el.length).toString('base64') };
  }
  return json;
}

function looksLikeVr(bytes: Uint8Array, at: number): boolean {
  return at + 6 <= bytes.length && KNOWN_VRS.has(ascii(bytes, at + 4, 2));
}

/**
 * A transfer syntax for a data set that does not declare one (no File Meta, or meta without
 * (0002,0010)): explicit when the first element header carries a valid VR, big endian when the
 * group number reads as 0x00gg in big-endian order, else implicit VR little endian.
 */
export function guessTransferSyntax(bytes: Uint8Array, offset: number): string {
  const explicit = looksLikeVr(bytes, offset);
  const bigEndian = bytes[offset] === 0 && bytes[offset + 1] !== 0;
  if (explicit) return bigEndian ? '1.2.840.10008.1.2.2' : '1.2.840.10008.1.2.1';
  return '1.2.840.10008.1.2';
}

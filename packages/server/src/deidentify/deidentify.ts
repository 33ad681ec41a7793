/**
 * De-identifying one DICOM instance with the PS3.15 Annex E Basic Application Level
 * Confidentiality Profile (basic-profile.ts), element by element on the encoded bytes.
 *
 * Why on the bytes, not through DICOM JSON: pixel data (encapsulated frames included) and every
 * kept value are copied as stored, so nothing but the identifying attributes changes — no
 * character set is re-encoded, no number reformatted, no frame decoded. Sequences are walked at
 * every depth (the profile applies inside them too) and written back with undefined lengths, so
 * their items may shrink. The input is Part 10 in Implicit or Explicit VR Little Endian; the
 * caller converts big endian and deflated instances first (the transcoder does).
 *
 * Added, as E.1.1 requires: Patient Identity Removed (0012,0062) YES, De-identification Method
 * (0012,0063) and its Code Sequence (0012,0064: DCM 113100). An instance whose Burned In
 * Annotation (0028,0301) is YES is refused: its pixels carry identifying text this profile
 * does not remove. An explicit-VR UN element of undefined length (a sequence the writer did
 * not know) cannot be inspected reliably and is removed.
 *
 * UIDs are replaced through a keyed hash (HMAC-SHA-256 → a 2.25 UUID-form UID): the same
 * original gives the same replacement under the same key, so instances exported separately
 * still reference each other, and without the key nobody can map them back.
 */
import { createHmac } from 'node:crypto';
import { createRequire } from 'node:module';
import { buildPart10, splitPart10 } from '@yunying/dicom';
import { profileAction } from './basic-profile.ts';

export class DeidentificationError extends Error {}

export interface DeidentifyOptions {
  /** key of the UID and patient pseudonym hashes: the same key, the same replacements */
  key: Uint8Array | string;
  /** Patient's Name written in place of the original [ANONYMIZED] */
  patientName?: string;
}

export interface DeidentifiedInstance {
  /** Part 10, same transfer syntax as the input */
  bytes: Buffer;
  sopInstanceUid: string;
  studyInstanceUid: string;
  seriesInstanceUid: string;
  /** the Patient ID written (a pseudonym of the original) */
  patientId: string;
}

const IMPLICIT_LE = '1.2.840.10008.1.2';
const EXPLICIT_LE = '1.2.840.10008.1.2.1';
const UNDEFINED = 0xffffffff;
const ITEM = 0xfffee000;
const ITEM_END = 0xfffee00d;
const SEQUENCE_END = 0xfffee0dd;
const PIXEL_DATA = 0x7fe00010;
const LONG_VRS = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'SQ', 'UC', 'UN', 'UR', 'UT', 'SV', 'UV']);
const TEXT_VRS = new Set(['AE', 'AS', 'CS', 'DA', 'DS', 'DT', 'IS', 'LO', 'LT', 'PN', 'SH', 'ST', 'TM', 'UC', 'UR', 'UT']);
const NUMBER_SIZES: Record<string, number> = { US: 2, SS: 2, UL: 4, SL: 4, FL: 4, FD: 8, AT: 4, SV: 8, UV: 8 };
/** UI attributes that name kinds of things, not instances: never replaced */
const KIND_UIDS = new Set([0x00080016, 0x00081150, 0x0008001a, 0x0008001b, 0x00080062, 0x0008010c, 0x0008010d, 0x00080118, 0x00041512, 0x00040510, 0x00041510, 0x00081152, 0x0040a170]);
const DUMMY_TEXT: Record<string, string> = { DA: '19000101', TM: '000000', DT: '19000101000000', AS: '000D', IS: '0', DS: '0' };
const METHOD = 'PS3.15 E.1 Basic Application Confidentiality Profile (Yunying)';

type Dictionary = Record<string, { vr?: string } | undefined>;
let dictionary: Dictionary | undefined;

/** VR of a standard tag for implicit-VR data (dcmtk's and dcmjs's data dictionary). */
function dictionaryVr(tag: number): string {
  if (!dictionary) {
    const require = createRequire(import.meta.url);
    dictionary = (require('dcmjs') as { data: { DicomMetaDictionary: { dictionary: Dictionary } } }).data.DicomMetaDictionary.dictionary;
  }
  if ((tag >>> 16) % 2 === 1) return 'UN';
  if ((tag & 0xffff) === 0) return 'UL';
  const hex = tag.toString(16).toUpperCase().padStart(8, '0');
  const vr = dictionary[hex]?.vr ?? dictionary[`(${hex.slice(0, 4)},${hex.slice(4)})`]?.vr;
  if (!vr || vr === 'na') return 'UN';
  if (vr === 'ox' || vr === 'lt') return 'OW';
  if (vr === 'xs') return 'US';
  return vr.slice(0, 2);
}

/** 2.25.<128-bit integer> from the keyed hash of the original UID (UUID version 8 bits set). */
export function replacementUid(key: Uint8Array | string, uid: string): string {
  const digest = createHmac('sha256', key).update(`uid:${uid}`).digest().subarray(0, 16);
  digest[6] = (digest[6]! & 0x0f) | 0x80;
  digest[8] = (digest[8]! & 0x3f) | 0x80;
  return `2.25.${BigInt(`0x${digest.toString('hex')}`).toString()}`;
}

export function patientPseudonym(key: Uint8Array | string, patientId: string): string {
  return `ANON-${createHmac('sha256', key).update(`patient:${patientId}`).digest('hex').slice(0, 16).toUpperCase()}`;
}

interface Header {
  tag: number;
  vr: string;
  /** bytes before the value */
  headerLength: number;
  /** undefined length as UNDEFINED */
  length: number;
}

interface Context {
  bytes: Buffer;
  explicit: boolean;
  options: DeidentifyOptions;
  uids: Map<string, string>;
  patientId?: string;
}

function readHeader(ctx: Context, at: number): Header {
  const { bytes } = ctx;
  if (at + 8 > bytes.length) throw new DeidentificationError(`the data set ends inside an element header at byte ${at}`);
  const tag = ((bytes.readUInt16LE(at) << 16) | bytes.readUInt16LE(at + 2)) >>> 0;
  if ((tag >>> 16) === 0xfffe) return { tag, vr: '', headerLength: 8, length: bytes.readUInt32LE(at + 4) };
  if (!ctx.explicit) {
    const length = bytes.readUInt32LE(at + 4);
    const vr = length === UNDEFINED && tag !== PIXEL_DATA ? 'SQ' : dictionaryVr(tag);
    return { tag, vr, headerLength: 8, length };
  }
  const vr = bytes.toString('latin1', at + 4, at + 6);
  if (LONG_VRS.has(vr)) {
    if (at + 12 > bytes.length) throw new DeidentificationError(`the data set ends inside an element header at byte ${at}`);
    return { tag, vr, headerLength: 12, length: bytes.readUInt32LE(at + 8) };
  }
  return { tag, vr, headerLength: 8, length: bytes.readUInt16LE(at + 6) };
}

function header(ctx: Context, tag: number, vr: string, length: number): Buffer {
  const long = ctx.explicit && LONG_VRS.has(vr);
  const out = Buffer.alloc(long ? 12 : 8);
  out.writeUInt16LE(tag >>> 16, 0);
  out.writeUInt16LE(tag & 0xffff, 2);
  if (!ctx.explicit) out.writeUInt32LE(length, 4);
  else if (long) {
    out.write(vr, 4, 'latin1');
    out.writeUInt32LE(length, 8);
  } else {
    out.write(vr, 4, 'latin1');
    out.writeUInt16LE(length, 6);
  }
  return out;
}

function pad(value: Buffer, vr: string): Buffer {
  return value.length % 2 === 0 ? value : Buffer.concat([value, Buffer.from([TEXT_VRS.has(vr) ? 0x20 : 0])]);
}

function element(ctx: Context, tag: number, vr: string, value: Buffer): Buffer {
  const padded = pad(value, vr);
  // a short-header VR cannot hold more than 64 KiB; never the case for the values written here
  return Buffer.concat([header(ctx, tag, vr, padded.length), padded]);
}

/** Where a value of undefined length ends: after its sequence delimiter (items skipped by their lengths, or walked). */
function endOfUndefined(ctx: Context, start: number): number {
  let at = start;
  while (at < ctx.bytes.length) {
    const h = readHeader(ctx, at);
    if (h.tag === SEQUENCE_END) return at + 8;
    if (h.tag !== ITEM) throw new DeidentificationError(`expected an item at byte ${at}`);
    at += 8;
    if (h.length === UNDEFINED) at = endOfItem(ctx, at);
    else at += h.length;
  }
  throw new DeidentificationError('a sequence of undefined length has no delimiter');
}

/** Where an item of undefined length ends: after its item delimiter. */
function endOfItem(ctx: Context, start: number): number {
  let at = start;
  while (at < ctx.bytes.length) {
    const h = readHeader(ctx, at);
    if (h.tag === ITEM_END) return at + 8;
    at += h.headerLength;
    at = h.length === UNDEFINED ? endOfUndefined(ctx, at) : at + h.length;
  }
  throw new DeidentificationError('an item of undefined length has no delimiter');
}

function mapUid(ctx: Context, uid: string): string {
  let mapped = ctx.uids.get(uid);
  if (!mapped) {
    mapped = replacementUid(ctx.options.key, uid);
    ctx.uids.set(uid, mapped);
  }
  return mapped;
}

function uidValue(ctx: Context, raw: Buffer, always: boolean): Buffer {
  const values = raw.toString('latin1').replace(/[\0 ]+$/, '').split('\\');
  const mapped = values.map((uid) => {
    const trimmed = uid.trim();
    if (trimmed === '') return trimmed;
    if (!always && trimmed.startsWith('1.2.840.10008.')) return trimmed; // DICOM-defined (well-known) UIDs identify no one
    return mapUid(ctx, trimmed);
  });
  return Buffer.from(mapped.join('\\'), 'latin1');
}

function dummy(ctx: Context, tag: number, vr: string): Buffer | undefined {
  if (tag === 0x00100010) return Buffer.from(ctx.options.patientName ?? 'ANONYMIZED', 'latin1');
  if (tag === 0x00100020) return Buffer.from(patientPseudonym(ctx.options.key, ctx.patientId ?? ''), 'latin1');
  if (DUMMY_TEXT[vr]) return Buffer.from(DUMMY_TEXT[vr], 'latin1');
  if (TEXT_VRS.has(vr) && vr !== 'UR') return Buffer.from('ANONYMIZED', 'latin1');
  if (NUMBER_SIZES[vr]) return Buffer.alloc(NUMBER_SIZES[vr]);
  return undefined;
}

/** The items of a sequence, each cleaned, as undefined-length items. */
function rewriteSequence(ctx: Context, start: number, length: number, depth: number): { pieces: Buffer[]; end: number } {
  const pieces: Buffer[] = [];
  let at = start;
  const limit = length === UNDEFINED ? ctx.bytes.length : start + length;
  while (at < limit) {
    const h = readHeader(ctx, at);
    if (h.tag === SEQUENCE_END) return { pieces, end: at + 8 };
    if (h.tag !== ITEM) throw new DeidentificationError(`expected an item at byte ${at}`);
    at += 8;
    const itemEnd = h.length === UNDEFINED ? undefined : at + h.length;
    const item = rewriteDataSet(ctx, at, itemEnd, depth + 1);
    pieces.push(itemHeader(ITEM, UNDEFINED), ...item.pieces, itemHeader(ITEM_END, 0));
    at = item.end;
  }
  if (length === UNDEFINED) throw new DeidentificationError('a sequence of undefined length has no delimiter');
  return { pieces, end: limit };
}

function itemHeader(tag: number, length: number): Buffer {
  const out = Buffer.alloc(8);
  out.writeUInt16LE(tag >>> 16, 0);
  out.writeUInt16LE(tag & 0xffff, 2);
  out.writeUInt32LE(length, 4);
  return out;
}

function sequence(ctx: Context, tag: number, items: Buffer[]): Buffer[] {
  return [header(ctx, tag, 'SQ', UNDEFINED), ...items, itemHeader(SEQUENCE_END, 0)];
}

/** Patient Identity Removed, De-identification Method and its code (PS3.15 E.1.1). */
function identityRemoved(ctx: Context): Buffer[] {
  const code = [
    element(ctx, 0x00080100, 'SH', Buffer.from('113100', 'latin1')),
    element(ctx, 0x00080102, 'SH', Buffer.from('DCM', 'latin1')),
    element(ctx, 0x00080104, 'LO', Buffer.from('Basic Application Confidentiality Profile', 'latin1')),
  ];
  return [
    element(ctx, 0x00120062, 'CS', Buffer.from('YES', 'latin1')),
    element(ctx, 0x00120063, 'LO', Buffer.from(METHOD, 'latin1')),
    ...sequence(ctx, 0x00120064, [itemHeader(ITEM, UNDEFINED), ...code, itemHeader(ITEM_END, 0)]),
  ];
}

/**
 * One data set (top level or an item) from `start` to `end` (or its item delimiter when end is
 * undefined), cleaned. Returns the pieces and where the input data set ended.
 */
function rewriteDataSet(ctx: Context, start: number, end: number | undefined, depth: number): { pieces: Buffer[]; end: number } {
  if (depth > 32) throw new DeidentificationError('sequences nest more than 32 deep');
  const pieces: Buffer[] = [];
  const topLevel = depth === 0;
  let marked = false;
  let at = start;
  const limit = end ?? ctx.bytes.length;
  while (at < limit) {
    const h = readHeader(ctx, at);
    if (h.tag === ITEM_END && end === undefined) return { pieces, end: at + 8 };
    if (topLevel && !marked && h.tag > 0x00120064) {
      pieces.push(...identityRemoved(ctx));
      marked = true;
    }
    const valueStart = at + h.headerLength;
    const isSequence = h.vr === 'SQ';
    if (h.length !== UNDEFINED && valueStart + h.length > ctx.bytes.length) throw new DeidentificationError(`element (${h.tag.toString(16)}) runs past the end of the data`);
    const elementEnd = h.length === UNDEFINED ? (isSequence ? -1 : endOfUndefined(ctx, valueStart)) : valueStart + h.length;
    const value = () => ctx.bytes.subarray(valueStart, elementEnd);
    const skip = (): number => (isSequence && h.length === UNDEFINED ? endOfUndefined(ctx, valueStart) : elementEnd);

    const action = profileAction(h.tag);
    const replacedByUs = topLevel && (h.tag === 0x00120062 || h.tag === 0x00120063 || h.tag === 0x00120064);
    if (h.tag === 0x00280301 && value().toString('latin1').trim().toUpperCase() === 'YES') {
      throw new DeidentificationError('Burned In Annotation is YES: identifying text in the pixels is not removed by this profile');
    }
    if (h.tag === 0x00100020 && topLevel) ctx.patientId = value().toString('latin1').trim();
    if ((h.tag >>> 16) === 0x0002 || replacedByUs || action === 'X' || (h.vr === 'UN' && h.length === UNDEFINED)) {
      at = skip();
      continue;
    }
    if (action === 'Z' || (action === 'D' && isSequence)) {
      at = skip();
      pieces.push(isSequence ? header(ctx, h.tag, 'SQ', 0) : header(ctx, h.tag, h.vr, 0));
      continue;
    }
    if (action === 'D') {
      const replacement = h.vr === 'UI' ? uidValue(ctx, Buffer.from(value()), true) : dummy(ctx, h.tag, h.vr);
      pieces.push(replacement ? element(ctx, h.tag, h.vr, replacement) : header(ctx, h.tag, h.vr, 0));
      at = elementEnd;
      continue;
    }
    if (isSequence) {
      const items = rewriteSequence(ctx, valueStart, h.length, depth);
      pieces.push(...sequence(ctx, h.tag, items.pieces));
      at = items.end;
      continue;
    }
    if (h.vr === 'UI' && (action === 'U' || !KIND_UIDS.has(h.tag))) {
      pieces.push(element(ctx, h.tag, 'UI', uidValue(ctx, Buffer.from(value()), false)));
      at = elementEnd;
      continue;
    }
    // kept: the element's bytes exactly as stored (encapsulated pixel data included)
    pieces.push(ctx.bytes.subarray(at, elementEnd));
    at = elementEnd;
  }
  if (end === undefined) throw new DeidentificationError('an item of undefined length has no delimiter');
  if (topLevel && !marked) pieces.push(...identityRemoved(ctx));
  return { pieces, end: limit };
}

/** De-identifies a Part 10 instance (Implicit or Explicit VR Little Endian). Throws DeidentificationError. */
export function deidentifyPart10(part10: Uint8Array, options: DeidentifyOptions): DeidentifiedInstance {
  const input = Buffer.from(part10.buffer, part10.byteOffset, part10.byteLength);
  let meta;
  try {
    meta = splitPart10(input);
  } catch (error) {
    throw new DeidentificationError(`not a DICOM Part 10 instance: ${(error as Error).message}`);
  }
  if (meta.transferSyntaxUid !== IMPLICIT_LE && meta.transferSyntaxUid !== EXPLICIT_LE && !isEncapsulatedExplicit(meta.transferSyntaxUid)) {
    throw new DeidentificationError(`instances in transfer syntax ${meta.transferSyntaxUid} are converted to little endian before de-identification`);
  }
  const ctx: Context = { bytes: input, explicit: meta.transferSyntaxUid !== IMPLICIT_LE, options, uids: new Map() };
  const body = Buffer.concat(rewriteDataSet(ctx, meta.datasetOffset, input.length, 0).pieces);
  const ids = readIds(body, ctx.explicit);
  // the file meta is written afresh: Media Storage SOP Instance UID is the new one, no Source AE
  const sopInstanceUid = ids.sop ?? (meta.sopInstanceUid ? mapUid(ctx, meta.sopInstanceUid) : '');
  const bytes = buildPart10(body, { transferSyntaxUid: meta.transferSyntaxUid, sopClassUid: meta.sopClassUid, sopInstanceUid });
  return { bytes, sopInstanceUid, studyInstanceUid: ids.study ?? '', seriesInstanceUid: ids.series ?? '', patientId: ids.patient ?? '' };
}

/** Every encapsulated syntax is explicit VR little endian (PS3.5 A.4). */
function isEncapsulatedExplicit(uid: string): boolean {
  return uid.startsWith('1.2.840.10008.1.2.4.') || uid === '1.2.840.10008.1.2.5' || uid.startsWith('1.2.840.10008.1.2.8');
}

/** The identifiers the cleaned top level now carries. */
function readIds(body: Buffer, explicit: boolean): { sop?: string; study?: string; series?: string; patient?: string } {
  const ctx: Context = { bytes: body, explicit, options: { key: '' }, uids: new Map() };
  const found: Record<number, string> = {};
  const wanted = new Set([0x00080018, 0x0020000d, 0x0020000e, 0x00100020]);
  let at = 0;
  while (at < body.length) {
    const h = readHeader(ctx, at);
    const valueStart = at + h.headerLength;
    if (wanted.has(h.tag)) found[h.tag] = body.toString('latin1', valueStart, valueStart + h.length).replace(/[\0 ]+$/, '');
    if (h.tag > 0x0020000e) break;
    at = h.length === UNDEFINED ? endOfUndefined(ctx, valueStart) : valueStart + h.length;
  }
  return { sop: found[0x00080018], study: found[0x0020000d], series: found[0x0020000e], patient: found[0x00100020] };
}

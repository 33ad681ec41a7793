/**
 * Writing a parsed data set (dicom-parser's element index over the stored bytes) again in
 * Explicit or Implicit VR Little Endian, value bytes kept as stored: text is not decoded and
 * re-encoded (so a GB18030 instance stays GB18030, unlike the DICOM JSON round trip), numbers of
 * a big-endian source are swapped word by word, implicit VRs come from the data dictionary.
 *
 * Two ways: `verbatimPieces` copies each top-level element's bytes, header included, when the
 * source already is explicit VR little endian (every encapsulated syntax, deflate once inflated)
 * and the target too; `rewritePieces` rebuilds every element (implicit ↔ explicit, big endian),
 * sequences with defined lengths. Pixel Data is the caller's (it decodes or swaps it).
 */
import { createRequire } from 'node:module';
import type { DataSet, Element } from 'dicom-parser';

export const PIXEL_DATA = 0x7fe00010;
const ITEM = 0xfffee000;

/** VRs with the 12-byte explicit header (2 reserved bytes, 32-bit length), PS3.5 7.1.2. */
export const LONG_LENGTH_VRS: ReadonlySet<string> = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'SQ', 'UC', 'UN', 'UR', 'UT', 'SV', 'UV']);
const TEXT_VRS = new Set(['AE', 'AS', 'CS', 'DA', 'DS', 'DT', 'IS', 'LO', 'LT', 'PN', 'SH', 'ST', 'TM', 'UC', 'UR', 'UT']);
/** Bytes per number of a VR whose values are swapped when read from big endian. */
const WORD_SIZE: Record<string, number> = { US: 2, SS: 2, OW: 2, AT: 2, UL: 4, SL: 4, FL: 4, OF: 4, OL: 4, FD: 8, OD: 8, SV: 8, UV: 8, OV: 8 };

export interface SourceEncoding {
  implicit: boolean;
  bigEndian: boolean;
}

/** One top-level element as bytes, with its tag so overrides can be merged in tag order. */
export interface Piece {
  tag: number;
  bytes: Uint8Array;
}

export const tagNumber = (key: string): number => Number.parseInt(key.slice(1), 16);

type Dictionary = Record<string, { vr?: string } | undefined>;
let dictionary: Dictionary | undefined;
const vrCache = new Map<number, string | null>();

/**
 * The dictionary VR of a standard tag for implicit-VR data, ambiguous ones resolved as PS3.5
 * Annex A does (OB/OW → OW, US/SS → SS when the pixels are signed); undefined for private and
 * unknown tags. dcmjs's dictionary (a server dependency) is the same one @yunying/dicom uses.
 */
export function dictionaryVr(tag: number, signedPixels: boolean): string | undefined {
  let raw = vrCache.get(tag);
  if (raw === undefined) {
    if (!dictionary) {
      const require = createRequire(import.meta.url);
      dictionary = (require('dcmjs') as { data: { DicomMetaDictionary: { dictionary: Dictionary } } }).data.DicomMetaDictionary.dictionary;
    }
    const group = tag >>> 16;
    const hex = tag.toString(16).toUpperCase().padStart(8, '0');
    raw = group % 2 === 0 ? (dictionary[hex]?.vr ?? dictionary[`(${hex.slice(0, 4)},${hex.slice(4)})`]?.vr ?? null) : null;
    if (raw === 'na') raw = null;
    vrCache.set(tag, raw);
  }
  if (raw === null) return undefined;
  if (raw === 'ox' || raw === 'lt') return 'OW';
  if (raw === 'xs') return signedPixels ? 'SS' : 'US';
  return raw.slice(0, 2);
}

/** An element: tag, VR (explicit only), length, value. A short-header VR too long for 16 bits becomes UN. */
export function encodeElement(tag: number, vr: string, value: Uint8Array, explicit: boolean): Buffer {
  const written = explicit && !LONG_LENGTH_VRS.has(vr) && value.length > 0xffff ? 'UN' : vr;
  const long = LONG_LENGTH_VRS.has(written);
  const header = Buffer.alloc(explicit && long ? 12 : 8);
  header.writeUInt16LE(tag >>> 16, 0);
  header.writeUInt16LE(tag & 0xffff, 2);
  if (!explicit) header.writeUInt32LE(value.length, 4);
  else if (long) {
    header.write(written, 4, 'latin1');
    header.writeUInt32LE(value.length, 8);
  } else {
    header.write(written, 4, 'latin1');
    header.writeUInt16LE(value.length, 6);
  }
  return Buffer.concat([header, value]);
}

/** Values have even length (PS3.5 7.1.1): NUL after UI and binary, space after text. */
export function padEven(value: Uint8Array, vr: string): Uint8Array {
  if (value.length % 2 === 0) return value;
  return Buffer.concat([value, Buffer.from([TEXT_VRS.has(vr) ? 0x20 : 0])]);
}

/** A copy with every `size`-byte word reversed (big → little endian). */
export function swapWords(bytes: Uint8Array, size: number): Buffer {
  const out = Buffer.from(bytes);
  const whole = out.length - (out.length % size);
  if (size === 2) out.subarray(0, whole).swap16();
  else if (size === 4) out.subarray(0, whole).swap32();
  else if (size === 8) out.subarray(0, whole).swap64();
  return out;
}

/** Top-level elements in stream order: their header start is where the previous one ended. */
function inStreamOrder(ds: DataSet): Element[] {
  return Object.values(ds.elements).sort((a, b) => a.dataOffset - b.dataOffset);
}

function explicitHeaderLength(el: Element): number {
  return el.vr && LONG_LENGTH_VRS.has(el.vr) ? 12 : 8;
}

const isSkipped = (tag: number, topLevel: boolean): boolean =>
  (tag >>> 16) === 0xfffe || tag === 0xfffcfffc || (topLevel && (tag >>> 16) === 0x0002) || (tag & 0xffff) === 0;

/**
 * Explicit VR little endian in, explicit VR little endian out: each top-level element's bytes
 * copied unchanged (undefined-length sequences and all), but for `except`.
 */
export function verbatimPieces(ds: DataSet, except: ReadonlySet<number>): Piece[] {
  const elements = inStreamOrder(ds);
  const pieces: Piece[] = [];
  elements.forEach((el, index) => {
    const tag = tagNumber(el.tag);
    if (except.has(tag) || isSkipped(tag, true)) return;
    const start = el.dataOffset - explicitHeaderLength(el);
    const next = elements[index + 1];
    const end = next ? next.dataOffset - explicitHeaderLength(next) : ds.byteArray.length;
    pieces.push({ tag, bytes: ds.byteArray.subarray(start, end) });
  });
  return pieces;
}

interface RewriteContext {
  explicit: boolean;
  signedPixels: boolean;
}

function resolveVr(el: Element, tag: number, source: SourceEncoding, signedPixels: boolean): string {
  if (!source.implicit && el.vr) return el.vr;
  if (el.items) return 'SQ';
  return dictionaryVr(tag, signedPixels) ?? 'UN';
}

function valueBytes(ds: DataSet, el: Element, vr: string, source: SourceEncoding): Uint8Array {
  const bytes = ds.byteArray.subarray(el.dataOffset, el.dataOffset + el.length);
  const size = WORD_SIZE[vr];
  return source.bigEndian && size ? swapWords(bytes, size) : bytes;
}

function encodeItems(items: NonNullable<Element['items']>, source: SourceEncoding, ctx: RewriteContext): Uint8Array {
  const chunks = items.map((item) => {
    const content = item.dataSet ? Buffer.concat(rewritePieces(item.dataSet, source, ctx, false).map((p) => p.bytes)) : Buffer.alloc(0);
    return encodeElement(ITEM, 'SQ', content, false); // an item header has no VR in either encoding
  });
  return Buffer.concat(chunks);
}

/**
 * Every element of `ds` rebuilt in explicit (or implicit) VR little endian. Items of a UN
 * element of undefined length hold implicit VR little endian whatever the source is (PS3.5
 * 6.2.2), so they are read that way and written as a sequence.
 */
export function rewritePieces(ds: DataSet, source: SourceEncoding, ctx: RewriteContext, topLevel: boolean, except: ReadonlySet<number> = new Set()): Piece[] {
  const pixelRepresentation = ds.elements.x00280103;
  const signedPixels = pixelRepresentation && pixelRepresentation.length >= 2 ? ds.uint16('x00280103') === 1 : ctx.signedPixels;
  const inner: RewriteContext = { ...ctx, signedPixels };
  const pieces: Piece[] = [];
  for (const el of inStreamOrder(ds)) {
    const tag = tagNumber(el.tag);
    if (except.has(tag) || isSkipped(tag, topLevel)) continue;
    const vr = resolveVr(el, tag, source, signedPixels);
    if (el.items && (vr === 'SQ' || vr === 'UN')) {
      const itemSource = vr === 'UN' ? { implicit: true, bigEndian: false } : source;
      pieces.push({ tag, bytes: encodeElement(tag, 'SQ', encodeItems(el.items, itemSource, inner), ctx.explicit) });
      continue;
    }
    if (el.length === 0xffffffff) continue; // an undefined-length value we could not delimit: not writable with a length
    pieces.push({ tag, bytes: encodeElement(tag, vr, padEven(valueBytes(ds, el, vr, source), vr), ctx.explicit) });
  }
  return pieces;
}

/** Pieces merged with replacements (a Piece) and removals (null), in ascending tag order. */
export function mergePieces(pieces: readonly Piece[], overrides: ReadonlyMap<number, Uint8Array | null>): Buffer {
  const byTag = new Map<number, Uint8Array>();
  for (const piece of pieces) byTag.set(piece.tag, piece.bytes);
  for (const [tag, bytes] of overrides) {
    if (bytes === null) byTag.delete(tag);
    else byTag.set(tag, bytes);
  }
  const tags = [...byTag.keys()].sort((a, b) => a - b);
  return Buffer.concat(tags.map((tag) => byTag.get(tag)!));
}

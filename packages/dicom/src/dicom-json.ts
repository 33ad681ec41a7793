/**
 * PS3.18 F.2 DICOM JSON from a parsed data set. Reads values straight from the parsed
 * buffer; pixel data is only touched when it is small enough to inline.
 */
import dicomParser from 'dicom-parser';
import type { DataSet, Element } from 'dicom-parser';
import { decodeText } from './charset.ts';
import type { DicomJsonDataset, DicomJsonElement } from './types.ts';
import { isImplicitVr, rawDataSet, type ParsedDicom } from './parse.ts';
import { characterSetOf, elementBytes, isLittleEndian, parseDecimalString, trimTrailing } from './values.ts';
import { KNOWN_VRS, dictionaryVr, tagToHex } from './vr-dictionary.ts';

export interface DicomJsonOptions {
  /**
   * binary values (OB/OW/OF/OD/OL/OV/UN and Pixel Data) larger than this many bytes get a
   * BulkDataURI instead of InlineBinary. Default 1024. Without `bulkDataUri`, larger values
   * are left without a value (only `vr`); pass Infinity to inline everything.
   * Encapsulated Pixel Data is never inlined.
   */
  inlineBinaryMaxBytes?: number;
  /** builds the BulkDataURI for a binary element; tagPath like "7FE00010" or "00540016/0/00181072" */
  bulkDataUri?: (tagPath: string) => string;
  /** leave out binary elements entirely (e.g. C-FIND identifiers) */
  omitBinary?: boolean;
}

const DEFAULT_INLINE_MAX_BYTES = 1024;
const SINGLE_VALUED_TEXT = new Set(['LT', 'ST', 'UT', 'UR']);
/** VRs whose leading spaces are significant (PS3.5 6.2): only trailing padding is removed. */
const LEADING_SPACE_KEPT = new Set(['LT', 'ST', 'UT', 'UR', 'UC']);
const STRING_VRS = new Set(['AE', 'AS', 'CS', 'DA', 'DS', 'DT', 'IS', 'LO', 'LT', 'PN', 'SH', 'ST', 'TM', 'UC', 'UI', 'UR', 'UT']);
const BINARY_VRS = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'UN']);
/** Word size of the binary VRs that need swapping when the data set is big endian. */
const WORD_SIZE: Record<string, number> = { OW: 2, OF: 4, OL: 4, OD: 8, OV: 8 };
const NUMBER_READERS: Record<string, { size: number; read: (view: DataView, at: number, le: boolean) => number | string }> = {
  US: { size: 2, read: (v, at, le) => v.getUint16(at, le) },
  SS: { size: 2, read: (v, at, le) => v.getInt16(at, le) },
  UL: { size: 4, read: (v, at, le) => v.getUint32(at, le) },
  SL: { size: 4, read: (v, at, le) => v.getInt32(at, le) },
  FL: { size: 4, read: (v, at, le) => v.getFloat32(at, le) },
  FD: { size: 8, read: (v, at, le) => v.getFloat64(at, le) },
  UV: { size: 8, read: (v, at, le) => safeNumber(v.getBigUint64(at, le)) },
  SV: { size: 8, read: (v, at, le) => safeNumber(v.getBigInt64(at, le)) },
};

interface Context {
  options: DicomJsonOptions;
  inlineMax: number;
  /** the data set was encoded implicit VR: element VRs come from the dictionary */
  implicit: boolean;
  characterSet: readonly string[] | undefined;
  signedPixels: boolean;
  /** tag path prefix for BulkDataURIs, e.g. "00540016/0/" */
  path: string;
}

/** 64-bit integers: a JSON number when exact, else a decimal string. */
function safeNumber(value: bigint): number | string {
  return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value.toString();
}

const views = new WeakMap<Uint8Array, DataView>();
function viewOf(bytes: Uint8Array): DataView {
  let view = views.get(bytes);
  if (!view) views.set(bytes, (view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)));
  return view;
}

function isSkipped(tag: number, topLevel: boolean): boolean {
  const group = tag >>> 16;
  if (group === 0xfffe || tag === 0xfffcfffc) return true; // item delimiters, trailing padding
  if ((tag & 0xffff) === 0) return true; // group lengths: meaningless once re-encoded
  return topLevel && group === 0x0002; // file meta (and stray copies of it in the data set)
}

/**
 * The element's VR. Explicit VRs are trusted, except UN for a tag the dictionary knows: its
 * value is implicit VR little endian (PS3.5 6.2.2), so we can present it with the real VR.
 */
function resolveVr(el: Element, tag: number, ctx: Context): { vr: string; fromUn: boolean } {
  const explicit = !ctx.implicit && el.vr && KNOWN_VRS.has(el.vr) ? el.vr : undefined;
  if (explicit && explicit !== 'UN') return { vr: explicit, fromUn: false };
  if (el.items && tag !== 0x7fe00010) return { vr: 'SQ', fromUn: explicit === 'UN' };
  const known = dictionaryVr(tag, ctx.signedPixels);
  if (known) return { vr: known, fromUn: explicit === 'UN' };
  return { vr: 'UN', fromUn: false };
}

/** Strings → Value (split, trimmed, empty → null; IS/DS numbers; PN objects). */
function stringValues(bytes: Uint8Array, vr: string, ctx: Context): unknown[] | undefined {
  const text = vr === 'UI' || vr === 'UR' ? Buffer.from(bytes).toString('latin1') : decodeText(bytes, ctx.characterSet);
  const trimmed = trimTrailing(text);
  if (trimmed === '') return undefined;
  const parts = SINGLE_VALUED_TEXT.has(vr) ? [trimmed] : trimmed.split('\\');
  return parts.map((part) => {
    const value = LEADING_SPACE_KEPT.has(vr) ? trimTrailing(part) : trimTrailing(part).trim();
    if (value === '') return null;
    if (vr === 'PN') return personName(value);
    // An invalid number (e.g. IS "1A") is kept as its text rather than lost.
    if (vr === 'IS' || vr === 'DS') return parseDecimalString(value) ?? value;
    return value;
  });
}

function personName(value: string): Record<string, string> {
  const [alphabetic, ideographic, phonetic] = value.split('=').map((g) => trimTrailing(g));
  const name: Record<string, string> = {};
  if (alphabetic) name.Alphabetic = alphabetic;
  if (ideographic) name.Ideographic = ideographic;
  if (phonetic) name.Phonetic = phonetic;
  return name;
}

function numberValues(bytes: Uint8Array, vr: string, littleEndian: boolean): unknown[] | undefined {
  const view = viewOf(bytes);
  const values: unknown[] = [];
  if (vr === 'AT') {
    for (let at = 0; at + 4 <= bytes.length; at += 4) {
      values.push(tagToHex(view.getUint16(at, littleEndian) * 0x10000 + view.getUint16(at + 2, littleEndian)));
    }
  } else {
    const { size, read } = NUMBER_READERS[vr]!;
    for (let at = 0; at + size <= bytes.length; at += size) values.push(read(view, at, littleEndian));
  }
  return values.length ? values : undefined;
}

function swapToLittleEndian(bytes: Uint8Array, wordSize: number): Uint8Array {
  const out = Buffer.from(bytes);
  for (let at = 0; at + wordSize <= out.length; at += wordSize) out.subarray(at, at + wordSize).reverse();
  return out;
}

function binaryElement(ds: DataSet, el: Element, vr: string, path: string, ctx: Context, swap: boolean): DicomJsonElement | undefined {
  if (ctx.options.omitBinary) return undefined;
  const encapsulated = el.encapsulatedPixelData === true || el.length === 0xffffffff;
  if (!encapsulated && el.length <= ctx.inlineMax) {
    if (el.length === 0) return { vr };
    const bytes = elementBytes(ds, el);
    const wordSize = WORD_SIZE[vr];
    const data = swap && wordSize ? swapToLittleEndian(bytes, wordSize) : bytes;
    return { vr, InlineBinary: Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('base64') };
  }
  if (ctx.options.bulkDataUri) return { vr, BulkDataURI: ctx.options.bulkDataUri(path) };
  return { vr };
}

/**
 * Items of a UN element with a defined length that the dictionary says is a sequence: its
 * content is implicit VR little endian, which dicom-parser left unparsed.
 */
function unSequenceItems(ds: DataSet, el: Element): Element['items'] {
  if (el.items) return el.items;
  if (el.length === 0) return [];
  try {
    const stream = new dicomParser.ByteStream(dicomParser.littleEndianByteArrayParser, ds.byteArray, el.dataOffset);
    const copy: Element = { ...el, items: [] };
    dicomParser.readSequenceItemsImplicit(stream, copy, (tag) => dictionaryVr(Number.parseInt(tag.slice(1), 16)) as string);
    return copy.items;
  } catch {
    return undefined;
  }
}

function sequenceElement(ds: DataSet, el: Element, path: string, ctx: Context, fromUn: boolean): DicomJsonElement {
  const items = fromUn ? unSequenceItems(ds, el) : el.items;
  if (!items) return binaryElement(ds, el, 'UN', path, ctx, false) ?? { vr: 'UN' };
  if (items.length === 0) return { vr: 'SQ' };
  const itemContext = { ...ctx, implicit: ctx.implicit && !fromUn };
  return {
    vr: 'SQ',
    Value: items.map((item, index) => (item.dataSet ? datasetToJson(item.dataSet, { ...itemContext, path: `${path}/${index}/` }, false) : {})),
  };
}

function elementToJson(ds: DataSet, el: Element, tag: number, ctx: Context): DicomJsonElement | undefined {
  const { vr, fromUn } = resolveVr(el, tag, ctx);
  const path = `${ctx.path}${tagToHex(tag)}`;
  if (vr === 'SQ') return sequenceElement(ds, el, path, ctx, fromUn);
  if (tag === 0x7fe00010 || BINARY_VRS.has(vr)) {
    const pixelVr = tag === 0x7fe00010 && (el.encapsulatedPixelData || vr === 'UN') ? 'OB' : vr;
    return binaryElement(ds, el, pixelVr, path, ctx, !fromUn && !isLittleEndian(ds));
  }
  if (el.length === 0 || el.length === 0xffffffff) return { vr };
  const bytes = elementBytes(ds, el);
  // UN values are always little endian, whatever the transfer syntax.
  const littleEndian = fromUn || isLittleEndian(ds);
  const value = STRING_VRS.has(vr) ? stringValues(bytes, vr, ctx) : numberValues(bytes, vr, littleEndian);
  return value ? { vr, Value: value } : { vr };
}

function datasetToJson(ds: DataSet, inherited: Context, topLevel: boolean): DicomJsonDataset {
  const pixelRepresentation = ds.elements.x00280103;
  const ctx: Context = {
    ...inherited,
    characterSet: characterSetOf(ds, inherited.characterSet),
    signedPixels: pixelRepresentation && pixelRepresentation.length >= 2 ? ds.uint16('x00280103') === 1 : inherited.signedPixels,
  };
  const json: DicomJsonDataset = {};
  for (const key of Object.keys(ds.elements).sort()) {
    const tag = Number.parseInt(key.slice(1), 16);
    if (isSkipped(tag, topLevel)) continue;
    const element = elementToJson(ds, ds.elements[key]!, tag, ctx);
    if (element) json[tagToHex(tag)] = element;
  }
  return json;
}

/** The whole data set as PS3.18 F.2 DICOM JSON, text decoded from its Specific Character Set to UTF-8. */
export function toDicomJson(parsed: ParsedDicom, options: DicomJsonOptions = {}): DicomJsonDataset {
  const context: Context = {
    options,
    inlineMax: options.inlineBinaryMaxBytes ?? DEFAULT_INLINE_MAX_BYTES,
    implicit: isImplicitVr(parsed.transferSyntaxUid),
    characterSet: undefined,
    signedPixels: false,
    path: '',
  };
  return datasetToJson(rawDataSet(parsed), context, true);
}

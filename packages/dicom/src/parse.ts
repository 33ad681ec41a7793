/**
 * parseDicom: dicom-parser's element scanner behind a stricter front door. We drive
 * dicom-parser's lower-level functions ourselves (instead of its parseDicom; explicit VR
 * through element-reader.ts, which fixes two dicom-parser VR bugs) so that Part 10
 * files without a preamble, bare DIMSE data sets, a missing Transfer Syntax UID and deflate
 * all go through one path, and so that every failure, including the partial data sets
 * dicom-parser returns for truncated input, surfaces as a DicomParseError.
 */
import { inflateRawSync, inflateSync } from 'node:zlib';
import dicomParser from 'dicom-parser';
import type { DataSet, Element } from 'dicom-parser';
import { createDataSet, readExplicitDataSet, vrCallback } from './element-reader.ts';
import { DicomParseError } from './errors.ts';
import { fileMetaToJson, guessTransferSyntax, readFileMeta } from './file-meta.ts';
import { TRANSFER_SYNTAX, type DicomJsonElement } from './types.ts';

export { DicomParseError } from './errors.ts';

export interface ParseOptions {
  /** parse a bare data set (no preamble / file meta) encoded in this transfer syntax (DIMSE) */
  transferSyntaxUid?: string;
  /** stop before (7FE0,0010) Pixel Data: enough for indexing and much faster */
  untilPixelData?: boolean;
  /**
   * With untilPixelData: the length of the whole object when `bytes` is only its beginning
   * (a header read from a file that is not held in memory). Pixel Data may then run past the
   * end of `bytes` up to this length; every element before it must fit in `bytes`.
   */
  wholeLength?: number;
}
/** A parsed data set. Holds a reference to the bytes; pixel data is never decoded. */
export interface ParsedDicom {
  transferSyntaxUid: string;
  /** the file meta information group as DICOM JSON, when the input was Part 10 */
  meta?: Record<string, DicomJsonElement>;
  /** offset of the data set (after file meta) in the input bytes */
  datasetOffset: number;
  /** the underlying dicom-parser DataSet, for the helpers of this package */
  readonly raw: unknown;
  readonly bytes: Uint8Array;
  /** true when parsed with untilPixelData: Pixel Data and anything after it were not read */
  stoppedAtPixelData?: boolean;
  /** the transfer syntax was not declared and was guessed from the first element header */
  transferSyntaxGuessed?: boolean;
  /** non-fatal oddities dicom-parser reported */
  warnings?: string[];
}

const PIXEL_DATA = 'x7fe00010';
const UNDEFINED_LENGTH = 0xffffffff;

/** The dicom-parser DataSet behind a ParsedDicom. */
export function rawDataSet(parsed: ParsedDicom): DataSet {
  return parsed.raw as DataSet;
}

export function isBigEndian(transferSyntaxUid: string): boolean {
  return transferSyntaxUid === TRANSFER_SYNTAX.EXPLICIT_BE;
}

export function isImplicitVr(transferSyntaxUid: string): boolean {
  return transferSyntaxUid === TRANSFER_SYNTAX.IMPLICIT_LE;
}

export function formatTag(tag: string): string {
  const hex = tag.replace(/^x/, '').toUpperCase();
  return `(${hex.slice(0, 4)},${hex.slice(4)})`;
}

/** dicom-parser throws strings, Errors and {exception, dataSet}: reduce them to one short reason. */
function describeFailure(error: unknown, position: number): string {
  let cause: unknown = error;
  while (cause && typeof cause === 'object' && 'exception' in cause) cause = (cause as { exception: unknown }).exception;
  const text = typeof cause === 'string' ? cause : cause instanceof Error ? cause.message : String(cause);
  const reason = text.replace(/^dicomParser[\w.:]*\s*/, '').replace(/^:\s*/, '');
  if (/maxP ?osition/.test(text)) return `truncated data set: a sequence item near byte ${position} runs past the end of the data`;
  if (/past end of buffer|overread|overrun|cannot be greater than or equal/i.test(text)) {
    return `truncated data set: unexpected end of data near byte ${position} (${reason})`;
  }
  return `unreadable data set near byte ${position}: ${reason}`;
}

function inflate(bytes: Uint8Array): Uint8Array {
  try {
    return inflateRawSync(bytes);
  } catch {
    // A few writers wrap the deflate stream in a zlib header, which the standard forbids.
    try {
      return inflateSync(bytes);
    } catch (error) {
      throw new DicomParseError(`deflated data set could not be inflated: ${(error as Error).message}`);
    }
  }
}

/** Rejects the partial results dicom-parser produces for truncated input: every value must fit. */
function checkBounds(dataSet: DataSet, limit: number, pixelDataLimit = limit): void {
  const elements = dataSet.elements;
  for (const key in elements) {
    const el = elements[key]!;
    if (el.fragments) checkFragments(el, limit);
    if (el.dataOffset + el.length > (key === PIXEL_DATA ? pixelDataLimit : limit) && !(el.length === UNDEFINED_LENGTH && el.hadUndefinedLength)) {
      const left = Math.max(0, limit - el.dataOffset);
      throw new DicomParseError(`truncated data set: element ${formatTag(el.tag)} length ${el.length} exceeds the ${left} bytes left`);
    }
    if (el.items) checkItems(el, limit);
  }
}

function checkItems(el: Element, limit: number): void {
  for (const item of el.items!) {
    if (item.dataOffset + item.length > limit) {
      throw new DicomParseError(`truncated data set: an item of sequence ${formatTag(el.tag)} runs past the end of the data`);
    }
    if (item.dataSet) checkBounds(item.dataSet, limit);
  }
}

function checkFragments(el: Element, limit: number): void {
  for (const fragment of el.fragments ?? []) {
    if (fragment.position + fragment.length > limit) {
      throw new DicomParseError(`truncated data set: pixel data fragment of ${fragment.length} bytes exceeds the ${Math.max(0, limit - fragment.position)} bytes left`);
    }
  }
  // All fragments are whole but the sequence delimiter is missing: the data are usable.
  if (el.length === UNDEFINED_LENGTH) el.length = limit - el.dataOffset;
}

/**
 * Pixel Data written with VR UN (a known gdcmconv bug) reaches us as a "sequence" of items;
 * rebuild the basic offset table and fragment list dicom-parser gives encapsulated data.
 */
function normalizeUnPixelData(dataSet: DataSet): void {
  const el = dataSet.elements[PIXEL_DATA];
  const [table, ...fragments] = el?.vr === 'UN' && el.items ? el.items : [];
  if (!el || !table) return;
  const base = table.dataOffset + table.length;
  el.basicOffsetTable = [];
  for (let at = table.dataOffset; at + 4 <= base; at += 4) el.basicOffsetTable.push(dicomParser.littleEndianByteArrayParser.readUint32(dataSet.byteArray, at));
  el.fragments = fragments.map((item) => ({ offset: item.dataOffset - 8 - base, position: item.dataOffset, length: item.length }));
  el.encapsulatedPixelData = true;
  el.items = undefined;
}

/** Warnings dicom-parser emits when it ran out of data inside a sequence or item. */
function checkWarnings(warnings: string[]): void {
  const eof = warnings.find((w) => w.startsWith('eof encountered'));
  if (eof) throw new DicomParseError(`truncated data set: ${eof}`);
}

interface Layout { transferSyntaxUid: string; datasetOffset: number; guessed: boolean; meta?: Record<string, DicomJsonElement> }

function layoutOf(bytes: Uint8Array, options: ParseOptions): Layout {
  if (options.transferSyntaxUid) return { transferSyntaxUid: options.transferSyntaxUid, datasetOffset: 0, guessed: false };
  const meta = readFileMeta(bytes);
  const datasetOffset = meta?.datasetOffset ?? 0;
  const declared = meta?.transferSyntaxUid;
  return {
    transferSyntaxUid: declared ?? guessTransferSyntax(bytes, datasetOffset),
    datasetOffset,
    guessed: declared === undefined,
    meta: meta && fileMetaToJson(bytes, meta),
  };
}

function scan(byteArray: Uint8Array, start: number, transferSyntaxUid: string, untilPixelData: boolean): DataSet {
  const parser = isBigEndian(transferSyntaxUid) ? dicomParser.bigEndianByteArrayParser : dicomParser.littleEndianByteArrayParser;
  if (start >= byteArray.length) return createDataSet(parser, byteArray, []);
  const stream = new dicomParser.ByteStream(parser, byteArray, start);
  const dataSet = createDataSet(parser, byteArray, stream.warnings);
  const untilTag = untilPixelData ? PIXEL_DATA : undefined;
  try {
    if (isImplicitVr(transferSyntaxUid)) {
      dicomParser.parseDicomDataSetImplicit(dataSet, stream, byteArray.length, { untilTag, vrCallback } as { untilTag: string });
    } else {
      readExplicitDataSet(dataSet, stream, byteArray.length, { untilTag });
    }
  } catch (error) {
    // The elements read so far usually name the culprit (a length running past the end).
    checkBounds(dataSet, byteArray.length);
    throw new DicomParseError(describeFailure(error, stream.position));
  }
  return dataSet;
}

/**
 * Parses a Part 10 file (with or without the 128-byte preamble, with or without File Meta)
 * or, given options.transferSyntaxUid, a bare data set. Throws DicomParseError.
 */
export function parseDicom(bytes: Uint8Array, options: ParseOptions = {}): ParsedDicom {
  if (!(bytes instanceof Uint8Array)) throw new DicomParseError('input is not a byte array');
  if (bytes.length === 0) throw new DicomParseError('empty input');
  try {
    const layout = layoutOf(bytes, options);
    const deflated = layout.transferSyntaxUid === TRANSFER_SYNTAX.DEFLATED_LE;
    const byteArray = deflated ? inflate(bytes.subarray(layout.datasetOffset)) : bytes;
    const start = deflated ? 0 : layout.datasetOffset;
    const dataSet = scan(byteArray, start, layout.transferSyntaxUid, options.untilPixelData === true);
    const partial = options.untilPixelData === true && !deflated && options.wholeLength !== undefined;
    checkBounds(dataSet, byteArray.length, partial ? options.wholeLength! : byteArray.length);
    checkWarnings(dataSet.warnings);
    normalizeUnPixelData(dataSet);
    if (Object.keys(dataSet.elements).length === 0) throw new DicomParseError('no data set elements found');
    return {
      transferSyntaxUid: layout.transferSyntaxUid,
      meta: layout.meta,
      datasetOffset: layout.datasetOffset,
      raw: dataSet,
      bytes,
      stoppedAtPixelData: options.untilPixelData === true && dataSet.elements[PIXEL_DATA] !== undefined,
      transferSyntaxGuessed: layout.guessed || undefined,
      warnings: dataSet.warnings.length ? [...dataSet.warnings] : undefined,
    };
  } catch (error) {
    if (error instanceof DicomParseError) throw error;
    throw new DicomParseError(describeFailure(error, 0));
  }
}

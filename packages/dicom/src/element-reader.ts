/**
 * Explicit VR element reading. dicom-parser's own reader gives SV, UV and OV a 16-bit length
 * (they have a 32-bit one, PS3.5 Table 7.1-1) and reads the implicit little-endian content
 * of an undefined-length UN big endian; this reader fixes both at every nesting level and
 * reuses dicom-parser for the scans it gets right (delimiters, encapsulated pixel data).
 */
import dicomParser from 'dicom-parser';
import type { ByteArrayParser, ByteStream, DataSet, Element } from 'dicom-parser';
import { LONG_LENGTH_VRS } from './file-meta.ts';
import { dictionaryVr } from './vr-dictionary.ts';

const UNDEFINED_LENGTH = 0xffffffff;
const ITEM = 'xfffee000';
const ITEM_DELIMITER = 'xfffee00d';
const SEQUENCE_DELIMITER = 'xfffee0dd';
const PIXEL_DATA = 'x7fe00010';

type Item = NonNullable<Element['items']>[number];

const HEX = Array.from({ length: 256 }, (_, b) => b.toString(16).padStart(2, '0'));

/** dicom-parser's readTag, without its number → string → substr round trip (it runs per element). */
function readTag(stream: ByteStream): string {
  const { byteArray: b, position: at } = stream;
  if (at + 4 > b.length) throw 'readTag: attempt to read past end of buffer';
  stream.position = at + 4;
  return stream.byteArrayParser === dicomParser.bigEndianByteArrayParser
    ? `x${HEX[b[at]!]}${HEX[b[at + 1]!]}${HEX[b[at + 2]!]}${HEX[b[at + 3]!]}`
    : `x${HEX[b[at + 1]!]}${HEX[b[at]!]}${HEX[b[at + 3]!]}${HEX[b[at + 2]!]}`;
}

// dicom-parser's typings omit the DataSet class, which a hand-driven parse must construct.
const DataSetClass = (dicomParser as unknown as {
  DataSet: new (parser: ByteArrayParser, byteArray: Uint8Array, elements: Record<string, Element>) => DataSet;
}).DataSet;

export function createDataSet(parser: ByteArrayParser, byteArray: Uint8Array, warnings: string[]): DataSet {
  const dataSet = new DataSetClass(parser, byteArray, {});
  dataSet.warnings = warnings;
  return dataSet;
}

/** Implicit VR: the dictionary VR, or undefined so dicom-parser peeks for sequence items. */
export function vrCallback(tag: string): string {
  // dicom-parser's typings say string; undefined (unknown tag) is what makes it peek.
  return dictionaryVr(Number.parseInt(tag.slice(1), 16)) as string;
}

/** UN of undefined length holds implicit VR little endian items whatever the transfer syntax. */
function readUnSequence(stream: ByteStream, element: Element): void {
  const littleEndian = new dicomParser.ByteStream(dicomParser.littleEndianByteArrayParser, stream.byteArray, stream.position);
  littleEndian.warnings = stream.warnings;
  dicomParser.readSequenceItemsImplicit(littleEndian, element, vrCallback);
  stream.seek(littleEndian.position - stream.position);
}

function readItem(stream: ByteStream, warnings: string[]): Item {
  const start = stream.position;
  const tag = readTag(stream);
  const length = stream.readUint32();
  if (tag !== ITEM) throw `item tag (FFFE,E000) not found at offset ${start}`;
  const item: Item = { tag, length, dataOffset: stream.position };
  item.dataSet = createDataSet(stream.byteArrayParser, stream.byteArray, warnings);
  if (length === UNDEFINED_LENGTH) {
    item.hadUndefinedLength = true;
    const closed = readExplicitDataSet(item.dataSet, stream, stream.byteArray.length, { untilItemDelimiter: true });
    if (!closed) warnings.push('eof encountered before finding item delimiter tag while reading sequence item of undefined length');
    item.length = stream.position - item.dataOffset;
  } else {
    if (item.dataOffset + length > stream.byteArray.length) throw `invalid value for parameter 'maxPosition' (item at ${start})`;
    readExplicitDataSet(item.dataSet, stream, item.dataOffset + length);
  }
  return item;
}

function readSequence(stream: ByteStream, element: Element, warnings: string[]): void {
  element.items = [];
  const undefinedLength = element.length === UNDEFINED_LENGTH;
  const end = undefinedLength ? stream.byteArray.length : element.dataOffset + element.length;
  while (stream.position < end && stream.position + 8 <= stream.byteArray.length) {
    if (readTag(stream) === SEQUENCE_DELIMITER) {
      if (undefinedLength) element.length = stream.position - 4 - element.dataOffset;
      stream.seek(4);
      return;
    }
    stream.seek(-4);
    element.items.push(readItem(stream, warnings));
  }
  if (undefinedLength) {
    warnings.push('eof encountered before finding sequence delimitation tag while reading sequence of undefined length');
    element.length = stream.position - element.dataOffset;
  } else if (stream.position < end) {
    throw 'buffer overrun';
  }
}

function readExplicitElement(stream: ByteStream, warnings: string[], untilTag: string | undefined): Element {
  const tag = readTag(stream);
  if (tag === ITEM_DELIMITER || tag === SEQUENCE_DELIMITER) {
    const length = stream.readUint32();
    return { tag, length, dataOffset: stream.position };
  }
  const vr = stream.readFixedString(2);
  let length: number;
  if (LONG_LENGTH_VRS.has(vr)) {
    stream.seek(2);
    length = stream.readUint32();
  } else {
    length = stream.readUint16();
  }
  const element: Element = { tag, vr, length, dataOffset: stream.position };
  if (length === UNDEFINED_LENGTH) element.hadUndefinedLength = true;
  if (tag === untilTag) return element;
  if (vr === 'SQ') readSequence(stream, element, warnings);
  else if (length !== UNDEFINED_LENGTH) stream.seek(length);
  else if (tag === PIXEL_DATA) dicomParser.findEndOfEncapsulatedElement(stream, element, warnings);
  else if (vr === 'UN') readUnSequence(stream, element);
  else dicomParser.findItemDelimitationItemAndSetElementLength(stream, element);
  return element;
}

/**
 * Reads explicit VR elements into dataSet up to maxPosition. Returns true when it stopped at
 * an item delimiter (for items of undefined length) or at untilTag.
 */
export function readExplicitDataSet(
  dataSet: DataSet, stream: ByteStream, maxPosition: number,
  options: { untilTag?: string; untilItemDelimiter?: boolean } = {},
): boolean {
  while (stream.position < maxPosition) {
    const element = readExplicitElement(stream, dataSet.warnings, options.untilTag);
    if (element.tag === ITEM_DELIMITER && options.untilItemDelimiter) return true;
    dataSet.elements[element.tag] = element;
    if (element.tag === options.untilTag) return true;
  }
  if (stream.position > maxPosition) throw 'buffer overrun';
  return false;
}

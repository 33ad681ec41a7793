/**
 * Reading element values out of a dicom-parser DataSet without copying: shared by the
 * index-attribute reader, the DICOM JSON converter and the frame reader.
 */
import dicomParser from 'dicom-parser';
import type { DataSet, Element } from 'dicom-parser';
import { decodeText } from './charset.ts';

/** The value bytes of an element: a view on the parsed buffer, never a copy. */
export function elementBytes(dataSet: DataSet, element: Element): Uint8Array {
  return dataSet.byteArray.subarray(element.dataOffset, element.dataOffset + element.length);
}

export function isLittleEndian(dataSet: DataSet): boolean {
  return dataSet.byteArrayParser !== dicomParser.bigEndianByteArrayParser;
}

/** Removes the trailing padding writers use: spaces for text, NUL for UIDs (and by mistake for text). */
export function trimTrailing(value: string): string {
  return value.replace(/[\0 ]+$/, '');
}

/**
 * The Specific Character Set an item or data set declares, else the one it inherits. An
 * empty value 1 stays as '' because it means "default repertoire initially" for ISO 2022.
 */
export function characterSetOf(dataSet: DataSet, inherited?: readonly string[]): readonly string[] | undefined {
  const element = dataSet.elements.x00080005;
  if (!element) return inherited;
  const raw = Buffer.from(elementBytes(dataSet, element)).toString('latin1');
  const terms = trimTrailing(raw).split('\\').map((t) => t.trim());
  return terms.length === 1 && terms[0] === '' ? [] : terms;
}

/** An element's text decoded from the character set, with trailing padding removed. */
export function readText(dataSet: DataSet, element: Element, characterSet: readonly string[] | undefined): string {
  return trimTrailing(decodeText(elementBytes(dataSet, element), characterSet));
}

/** A UID / ASCII value: no character set applies, and NUL padding is common. */
export function readAscii(dataSet: DataSet, element: Element): string {
  return trimTrailing(Buffer.from(elementBytes(dataSet, element)).toString('latin1')).trim();
}

/** Integer String: undefined when absent or not a valid integer (e.g. "1A"). */
export function parseIntegerString(value: string | undefined): number | undefined {
  const text = value?.trim();
  if (!text || !/^[+-]?\d+$/.test(text)) return undefined;
  return Number(text);
}

/** Decimal String: undefined when not a number. */
export function parseDecimalString(value: string | undefined): number | undefined {
  const text = value?.trim();
  if (!text) return undefined;
  const number = Number(text);
  return Number.isFinite(number) ? number : undefined;
}

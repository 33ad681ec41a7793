/**
 * UID syntax (PS3.5 9.1): digits in components separated by '.', at most 64 characters.
 * Trailing NUL or space is padding, not part of the value. The letter of the standard also
 * forbids leading zeros in a component; real archives hold many UIDs that break that rule
 * and nothing downstream is harmed by them, so the check is the shape a URL path segment,
 * a FHIR token and an HTML attribute can all carry unescaped: `^[0-9]+(\.[0-9]+)*$`.
 */
import type { DataSet } from 'dicom-parser';
import { rawDataSet, type ParsedDicom } from './parse.ts';
import { readAscii } from './values.ts';
import { dictionaryVr, KNOWN_VRS, tagToHex } from './vr-dictionary.ts';

export const UID_MAX_LENGTH = 64;
const UID_SYNTAX = /^[0-9]+(\.[0-9]+)*$/;

/** True for a syntactically valid UID (already stripped of padding). */
export function isValidUid(value: string): boolean {
  return value.length <= UID_MAX_LENGTH && UID_SYNTAX.test(value);
}

export interface InvalidUid {
  /** "(0020,000E)" */
  tag: string;
  /** the offending value, cut to 80 characters so an error message stays short */
  value: string;
}

/**
 * Every top-level UI element of the data set whose value (any of its values, for a
 * multi-valued element) is not a valid UID, in tag order. Empty values are not invalid: an
 * absent optional UID is written as a zero-length element. Sequence items are not walked:
 * nothing is indexed, rendered or routed by a UID inside an item.
 */
export function findInvalidUids(parsed: ParsedDicom): InvalidUid[] {
  const dataSet = rawDataSet(parsed);
  const invalid: InvalidUid[] = [];
  for (const key of Object.keys(dataSet.elements).sort()) {
    const element = dataSet.elements[key]!;
    if (element.items || vrOf(element, key) !== 'UI') continue;
    const text = readAscii(dataSet, element);
    if (text === '') continue;
    const bad = text.split('\\').map((part) => part.replace(/[\0 ]+$/, '').trim()).find((part) => part !== '' && !isValidUid(part));
    if (bad !== undefined) invalid.push({ tag: formatTagKey(key), value: bad.length > 80 ? `${bad.slice(0, 80)}…` : bad });
  }
  return invalid;
}

/** The explicit VR, else (implicit VR, or UN) the dictionary's. */
function vrOf(element: DataSet['elements'][string], key: string): string | undefined {
  if (element.vr && KNOWN_VRS.has(element.vr) && element.vr !== 'UN') return element.vr;
  return dictionaryVr(Number.parseInt(key.slice(1), 16));
}

function formatTagKey(key: string): string {
  const hex = tagToHex(Number.parseInt(key.slice(1), 16));
  return `(${hex.slice(0, 4)},${hex.slice(4)})`;
}

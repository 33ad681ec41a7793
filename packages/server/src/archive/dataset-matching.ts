import type { DicomJsonDataset, DicomJsonElement } from '@yunying/dicom';
import { badRequest } from '../errors.ts';
import { personNameSearchGroups, personNameSearchText, textValues, wildcardToLike, type MatchOptions } from './matching.ts';
import { personNamePinyinText, toPinyin } from './pinyin.ts';

/**
 * Matching keys the index has no column for, matched on a study's or series' stored
 * attributes (attributes_json) instead of in SQL: sequence matching (PS3.4 C.2.2.2.6,
 * e.g. ReferencedStudySequence or RequestAttributesSequence items) and PN attributes
 * other than the indexed ones (NameOfPhysiciansReadingStudy, OperatorsName, …), with the
 * same PN rules as the SQL path: case-insensitive, per component group, pinyin when fuzzy.
 */
export type DatasetPredicate = (stored: DicomJsonDataset) => boolean;
type ElementPredicate = (stored: DicomJsonElement | undefined) => boolean;

/** A predicate for one key, or undefined when the key asks for universal matching. */
export function datasetPredicate(tag: string, key: DicomJsonElement, options: MatchOptions = {}): DatasetPredicate | undefined {
  const matches = elementPredicate(tag, key, options);
  if (!matches) return undefined;
  return (stored) => matches(stored[tag] ?? stored[tag.toLowerCase()]);
}

function elementPredicate(tag: string, key: DicomJsonElement, options: MatchOptions): ElementPredicate | undefined {
  if (key.vr === 'SQ') return sequencePredicate(key, options);
  const keyValues = textValues(key).map((v) => v.replace(/[\0 ]+$/, '').trim()).filter((v) => v !== '' && v !== '*');
  if (keyValues.length === 0) return undefined;
  const tests = keyValues.map((value) => valueTest(tag, key.vr, value, options));
  // A multi-valued stored attribute matches when any of its values does (a list of keys: any of them).
  return (stored) => storedValues(stored).some((value) => tests.some((test) => test(value)));
}

/**
 * PS3.4 C.2.2.2.6: the key's one item holds the keys; a stored item matches when every one
 * of them does, and the sequence matches when any item does. An item of return keys only
 * (or no item) is universal matching.
 */
function sequencePredicate(key: DicomJsonElement, options: MatchOptions): ElementPredicate | undefined {
  const item = (key.Value ?? [])[0] as DicomJsonDataset | undefined;
  if (!item || typeof item !== 'object') return undefined;
  const itemTests = Object.entries(item)
    .map(([tag, element]) => ({ tag: tag.toUpperCase(), test: elementPredicate(tag.toUpperCase(), element, options) }))
    .filter((entry): entry is { tag: string; test: ElementPredicate } => entry.test !== undefined);
  if (itemTests.length === 0) return undefined;
  return (stored) => ((stored?.Value ?? []) as DicomJsonDataset[]).some((storedItem) => storedItem && typeof storedItem === 'object' && itemTests.every(({ tag, test }) => test(storedItem[tag])));
}

function storedValues(stored: DicomJsonElement | undefined): string[] {
  if (!stored) return [];
  return textValues(stored).map((v) => v.trim()).filter((v) => v !== '');
}

const NUMERIC_VRS = new Set(['IS', 'DS', 'US', 'SS', 'UL', 'SL', 'FL', 'FD', 'UV', 'SV']);

function valueTest(tag: string, vr: string, value: string, options: MatchOptions): (stored: string) => boolean {
  switch (vr) {
    case 'PN':
      return personNameTest(value, options.fuzzy === true);
    case 'UI': {
      const uids = new Set(value.split('\\').map((v) => v.trim()).filter(Boolean));
      return (stored) => uids.has(stored);
    }
    case 'DA':
    case 'TM':
    case 'DT':
      return rangeTest(tag, vr, value);
    default:
      if (NUMERIC_VRS.has(vr)) {
        const number = Number(value);
        if (!Number.isFinite(number)) throw badRequest('INVALID_MATCHING_KEY', `(${tag.slice(0, 4)},${tag.slice(4)}) "${value}" is not a number`);
        return (stored) => Number(stored) === number;
      }
      // Single value and wildcard matching, case-sensitive as PS3.4 C.2.2.2.4 says for these VRs.
      if (value.includes('*') || value.includes('?')) {
        const pattern = likeToRegExp(wildcardToLike(value));
        return (stored) => pattern.test(stored);
      }
      return (stored) => stored === value;
  }
}

/** The same forms the SQL path matches in (archive/matching.ts): each group, with and without "^"; pinyin when fuzzy. */
function personNameTest(value: string, fuzzy: boolean): (stored: string) => boolean {
  const upper = value.toUpperCase();
  const pattern = likeToRegExp(wildcardToLike(upper));
  if (upper.includes('=')) return (stored) => pattern.test(stored.toUpperCase());
  const pinyinPattern = fuzzy ? likeToRegExp(toPinyin(wildcardToLike(upper))) : undefined;
  return (stored) => {
    const forms = (personNameSearchText(personNameSearchGroups(stored)) ?? '').split('|').filter(Boolean);
    if (forms.some((form) => pattern.test(form))) return true;
    if (!pinyinPattern) return false;
    return (personNamePinyinText(stored) ?? '').split('|').some((form) => form !== '' && pinyinPattern.test(form));
  };
}

/** DA/TM/DT: one value (a TM prefix is its whole minute or second) or an inclusive range "from-to". */
function rangeTest(tag: string, vr: string, value: string): (stored: string) => boolean {
  const compact = (text: string) => (vr === 'DA' ? text.replace(/[.\-/]/g, '') : vr === 'TM' ? text.replace(/:/g, '') : text);
  const dash = vr === 'DA' && /^\d{4}-\d{2}-\d{2}$/.test(value) ? -1 : value.indexOf('-');
  if (dash < 0) {
    const single = compact(value);
    return (stored) => (vr === 'DA' ? compact(stored) === single : compact(stored).startsWith(single));
  }
  const from = compact(value.slice(0, dash).trim());
  const to = compact(value.slice(dash + 1).trim());
  if (!from && !to) throw badRequest('INVALID_MATCHING_KEY', `(${tag.slice(0, 4)},${tag.slice(4)}) range "${value}" has neither start nor end`);
  // "~" sorts after digits: an end "1200" includes "120059".
  const end = vr === 'DA' ? to : `${to}~`;
  return (stored) => {
    const v = compact(stored);
    return (!from || v >= from) && (!to || v <= end);
  };
}

/** A LIKE pattern with "!" escapes (archive/matching.ts wildcardToLike) as an anchored RegExp. */
export function likeToRegExp(pattern: string): RegExp {
  let source = '';
  const chars = [...pattern];
  for (let i = 0; i < chars.length; i++) {
    const char = chars[i]!;
    if (char === '!' && i + 1 < chars.length) source += escapeRegExp(chars[++i]!);
    else if (char === '%') source += '.*';
    else if (char === '_') source += '.';
    else source += escapeRegExp(char);
  }
  return new RegExp(`^${source}$`, 'su');
}

function escapeRegExp(char: string): string {
  // Only syntax characters may be escaped in a unicode RegExp.
  return /[\\^$.*+?()[\]{}|/]/.test(char) ? `\\${char}` : char;
}

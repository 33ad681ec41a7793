import type { DicomJsonElement } from '@yunying/dicom';
import { badRequest } from '../errors.ts';
import type { IndexedAttribute } from './attribute-catalog.ts';
import { personNamePinyinText } from './pinyin.ts';

/**
 * A matching key translated from DICOM (PS3.4 C.2.2.2) into a database-neutral condition.
 * The index store turns these into SQL; nothing here knows which database runs.
 */
export type MatchCondition =
  | { kind: 'equals'; attribute: IndexedAttribute; value: string | number }
  | { kind: 'in'; attribute: IndexedAttribute; values: Array<string | number> }
  /** SQL LIKE pattern with "!" as the escape character */
  | { kind: 'like'; attribute: IndexedAttribute; pattern: string }
  | { kind: 'range'; attribute: IndexedAttribute; from?: string; to?: string }
  /**
   * PN: upper-cased LIKE pattern, tried on the whole name or on each component group; fuzzy
   * (QIDO fuzzymatching=true) also tries it, hanzi in pinyin, on the name's pinyin forms
   */
  | { kind: 'personName'; attribute: IndexedAttribute; pattern: string; wholeName: boolean; fuzzy?: boolean }
  | { kind: 'modalities'; values: string[] }
  | { kind: 'anyOf'; conditions: MatchCondition[] };

export interface MatchOptions {
  /** PS3.18 fuzzymatching=true: PN keys also match in pinyin (archive/pinyin.ts) */
  fuzzy?: boolean;
}

/** Returns the condition for a key element, or undefined for universal matching (no value). */
export function toMatchCondition(attribute: IndexedAttribute, element: DicomJsonElement, options: MatchOptions = {}): MatchCondition | undefined {
  const values = textValues(element);
  if (values.length === 0 || attribute.match === 'returnOnly') return undefined;
  if (attribute.match === 'uid') return uidCondition(attribute, values);
  if (attribute.match === 'modalities') return modalitiesCondition(values);
  const conditions = values.map((value) => singleValueCondition(attribute, value, options)).filter((c): c is MatchCondition => c !== undefined);
  if (conditions.length === 0) return undefined;
  return conditions.length === 1 ? conditions[0] : { kind: 'anyOf', conditions };
}

/**
 * ModalitiesInStudy matches a study with any of the listed modalities. The list comes as
 * DICOM values (C-FIND), or in one QIDO parameter as "MG\\SEG" or "MG,SEG" (PS3.18 8.3.4.1
 * lists values with commas; OHIF and dicomweb-client send the backslash): both are split.
 */
function modalitiesCondition(values: string[]): MatchCondition | undefined {
  const modalities = [...new Set(values.flatMap((v) => v.split(/[\\,]/)).map((v) => v.trim()).filter((v) => v !== '' && v !== '*'))];
  return modalities.length === 0 ? undefined : { kind: 'modalities', values: modalities };
}

function singleValueCondition(attribute: IndexedAttribute, rawValue: string, options: MatchOptions): MatchCondition | undefined {
  const value = rawValue.trim();
  if (value === '' || value === '*') return undefined; // universal matching
  switch (attribute.match) {
    case 'date':
    case 'time':
      return dateOrTimeCondition(attribute, value);
    case 'number':
      return numberCondition(attribute, value);
    case 'pn':
      return personNameCondition(attribute, value, options.fuzzy === true);
    default:
      return hasWildcard(value) ? { kind: 'like', attribute, pattern: wildcardToLike(value) } : { kind: 'equals', attribute, value };
  }
}

/** List of UID matching: any of the UIDs; wildcards are not allowed on UIDs (PS3.4 C.2.2.2.2). */
function uidCondition(attribute: IndexedAttribute, values: string[]): MatchCondition | undefined {
  const uids = values.flatMap((v) => v.split('\\')).map((v) => v.trim().replace(/\0+$/, '')).filter(Boolean);
  if (uids.length === 0) return undefined;
  for (const uid of uids) {
    if (!/^[0-9.]{1,64}$/.test(uid)) throw badRequest('INVALID_UID', `${attribute.keyword} "${uid.slice(0, 70)}" is not a valid UID`);
  }
  return uids.length === 1 ? { kind: 'equals', attribute, value: uids[0] } : { kind: 'in', attribute, values: uids };
}

function dateOrTimeCondition(attribute: IndexedAttribute, value: string): MatchCondition {
  const compact = (part: string): string => (attribute.match === 'date' ? part.replace(/[.\-/]/g, '') : part.replace(/:/g, ''));
  const dash = value.indexOf('-');
  const pattern = attribute.match === 'date' ? /^\d{8}$/ : /^\d{2}(\d{2}(\d{2}(\.\d{1,6})?)?)?$/;
  const check = (part: string): string => {
    if (!pattern.test(part)) throw badRequest('INVALID_MATCHING_KEY', `${attribute.keyword} "${value}" is not a valid ${attribute.vr} value or range`);
    return part;
  };
  if (attribute.match === 'date' && /^\d{4}-\d{2}-\d{2}$/.test(value)) return { kind: 'equals', attribute, value: compact(value) };
  if (dash < 0) {
    const single = check(compact(value));
    // A time like "0930" means the whole minute: match it as a range so "093015" is found.
    if (attribute.match === 'time' && single.length < 6) return { kind: 'range', attribute, from: single, to: `${single}~` };
    return { kind: 'equals', attribute, value: single };
  }
  const from = value.slice(0, dash).trim();
  const to = value.slice(dash + 1).trim();
  if (!from && !to) throw badRequest('INVALID_MATCHING_KEY', `${attribute.keyword} range "${value}" has neither start nor end`);
  return {
    kind: 'range',
    attribute,
    from: from ? check(compact(from)) : undefined,
    // Inclusive end: "20240131" must include times on that day; for TM "1200" includes "120059".
    to: to ? inclusiveEnd(attribute, check(compact(to))) : undefined,
  };
}

function numberCondition(attribute: IndexedAttribute, value: string): MatchCondition {
  const number = Number(value);
  if (!Number.isFinite(number)) throw badRequest('INVALID_MATCHING_KEY', `${attribute.keyword} "${value}" is not a number`);
  return { kind: 'equals', attribute, value: number };
}

/**
 * PN matching: case-insensitive, with wildcards. A key with "=" is matched against the whole
 * name; otherwise against each component group (alphabetic, ideographic, phonetic) and the
 * group with its "^" removed, so "张三" finds "Zhang^San=张^三=" and "王*" finds "Wang^XiaoDong=王^小东=".
 */
function personNameCondition(attribute: IndexedAttribute, value: string, fuzzy: boolean): MatchCondition {
  const upper = value.toUpperCase();
  const condition: MatchCondition = { kind: 'personName', attribute, pattern: wildcardToLike(upper), wholeName: upper.includes('=') };
  return fuzzy ? { ...condition, fuzzy } : condition;
}

export function hasWildcard(value: string): boolean {
  return value.includes('*') || value.includes('?');
}

/** DICOM "*" and "?" to SQL LIKE "%" and "_", escaping LIKE's own special characters with "!". */
export function wildcardToLike(value: string): string {
  let pattern = '';
  for (const char of value) {
    if (char === '*') pattern += '%';
    else if (char === '?') pattern += '_';
    else if (char === '%' || char === '_' || char === '!') pattern += `!${char}`;
    else pattern += char;
  }
  return pattern;
}

/** The element's values as strings (PN objects joined back into "A=I=P" form). */
export function textValues(element: DicomJsonElement): string[] {
  if (!element.Value) return [];
  return element.Value.filter((v) => v !== null && v !== undefined).map((v) => (typeof v === 'object' ? personNameToString(v as PersonNameJson) : String(v)));
}

export interface PersonNameJson {
  Alphabetic?: string;
  Ideographic?: string;
  Phonetic?: string;
}

export function personNameToString(name: PersonNameJson): string {
  return [name.Alphabetic ?? '', name.Ideographic ?? '', name.Phonetic ?? ''].join('=').replace(/=+$/, '');
}

export function personNameFromString(name: string): PersonNameJson {
  const [alphabetic, ideographic, phonetic] = name.split('=');
  const result: PersonNameJson = {};
  if (alphabetic) result.Alphabetic = alphabetic;
  if (ideographic) result.Ideographic = ideographic;
  if (phonetic) result.Phonetic = phonetic;
  return result;
}

/** Upper-cased component groups of a PN, for the search columns. */
export function personNameSearchGroups(name: string | undefined): { alphabetic: string | null; ideographic: string | null; phonetic: string | null } {
  const [alphabetic, ideographic, phonetic] = (name ?? '').split('=');
  const clean = (group: string | undefined): string | null => (group ? group.replace(/\^+$/, '').toUpperCase() || null : null);
  return { alphabetic: clean(alphabetic), ideographic: clean(ideographic), phonetic: clean(phonetic) };
}

/**
 * The derived columns of an indexed PN attribute (`<column>_alphabetic`, `_ideographic`,
 * `_phonetic`, `_search`, `_pinyin`), as ingest, corrections and migration 0024 fill them.
 */
export function personNameIndexColumns(name: string | null | undefined): { alphabetic: string | null; ideographic: string | null; phonetic: string | null; search: string | null; pinyin: string | null } {
  const groups = personNameSearchGroups(name ?? undefined);
  return { ...groups, search: personNameSearchText(groups), pinyin: personNamePinyinText(name) };
}

/** "~" sorts after digits and ".", so a TM end "1200" includes "120059.5"; DA ends are exact. */
function inclusiveEnd(attribute: IndexedAttribute, end: string): string {
  return attribute.match === 'time' ? `${end}~` : end;
}

/**
 * Every form a name is matched in (each component group, with and without "^"), between "|"
 * separators: a "contains" search ("*罗*") is then one LIKE on one column instead of six.
 */
export function personNameSearchText(groups: ReturnType<typeof personNameSearchGroups>): string | null {
  const forms = new Set<string>();
  for (const group of [groups.alphabetic, groups.ideographic, groups.phonetic]) {
    if (!group) continue;
    forms.add(group);
    forms.add(group.replace(/\^/g, ''));
  }
  return forms.size > 0 ? `|${[...forms].join('|')}|` : null;
}

/**
 * The LIKE pattern that finds `pattern` (already a LIKE pattern for one name form) in the
 * search text, or undefined when only the per-group comparison is exact: an inner "%" or a
 * "_" could match across the "|" between forms. Unanchored ends stay open; anchored ends
 * are pinned to a "|", so "ZHANG%" becomes "%|ZHANG%" and "ZHANG^WEI" "%|ZHANG^WEI|%".
 */
export function searchTextPattern(pattern: string): string | undefined {
  const inner = pattern.replace(/^%/, '').replace(/%$/, '');
  if (inner === '' || /[%_|]/.test(inner.replace(/!./g, ''))) return undefined;
  return `${pattern.startsWith('%') ? '' : '%|'}${pattern}${pattern.endsWith('%') && !pattern.endsWith('!%') ? '' : '|%'}`;
}

/**
 * The distinct two-character substrings of a name's search text that hold a non-ASCII
 * character ("|王", "王^", "王小", "小东"), for PostgreSQL's GIN index on
 * studies.patient_name_bigrams: trigrams cannot serve a two-hanzi literal, bigrams can.
 * Pure-ASCII pairs are left out (pinyin goes through the trigram index), which keeps the
 * array short. Characters are code points, as PostgreSQL's substr counts them; migration
 * 0003 computes the same set in SQL for rows stored before it.
 */
export function personNameBigrams(searchText: string | null): string[] | null {
  if (!searchText) return null;
  const bigrams = literalBigrams(searchText);
  return bigrams.length > 0 ? bigrams : null;
}

/**
 * The bigrams a literal (a LIKE pattern's fixed text, escapes removed) must have in common
 * with a name for the name to contain it; empty when the literal has no non-ASCII pair.
 */
export function literalBigrams(literal: string): string[] {
  const chars = [...literal];
  const bigrams = new Set<string>();
  for (let i = 0; i + 1 < chars.length; i++) {
    if (chars[i].codePointAt(0)! > 0x7f || chars[i + 1].codePointAt(0)! > 0x7f) bigrams.add(chars[i] + chars[i + 1]);
  }
  return [...bigrams];
}

/**
 * The fixed text of a LIKE pattern for one name form (escapes removed), with whether it is
 * anchored at both ends (no "%" before or after it); undefined when a wildcard sits inside,
 * so that no one literal must appear whole.
 */
export function likeLiteral(pattern: string): { literal: string; exact: boolean } | undefined {
  const tokens: Array<{ wildcard?: '%' | '_'; char?: string }> = [];
  const chars = [...pattern];
  for (let i = 0; i < chars.length; i++) {
    if (chars[i] === '!' && i + 1 < chars.length) tokens.push({ char: chars[++i] });
    else if (chars[i] === '%' || chars[i] === '_') tokens.push({ wildcard: chars[i] as '%' | '_' });
    else tokens.push({ char: chars[i] });
  }
  let start = 0;
  let end = tokens.length;
  while (start < end && tokens[start].wildcard === '%') start++;
  while (end > start && tokens[end - 1].wildcard === '%') end--;
  const inner = tokens.slice(start, end);
  if (inner.length === 0 || inner.some((token) => token.wildcard)) return undefined;
  return { literal: inner.map((token) => token.char).join(''), exact: start === 0 && end === tokens.length };
}

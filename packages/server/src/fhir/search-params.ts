/**
 * FHIR search parameters (R4 §3.1.1.4): what the façade accepts and how token, reference and
 * date values are read. Parameters a resource does not support, and modifiers, are a 400:
 * ignoring them would answer a broader search than the client asked for.
 */
import { badRequest } from '../errors.ts';

export type QueryParams = Record<string, string | string[] | undefined>;

export const DEFAULT_COUNT = 20;
/** Each study on a page costs its series and instances too; bigger pages must be paged. */
export const MAX_COUNT = 100;

export interface ParsedSearch {
  /** values per parameter, in order; a repeated parameter gives several entries (AND) */
  params: Map<string, string[]>;
  count: number;
  offset: number;
}

/** Splits a query into the resource's parameters and the paging ones; 400 for the rest. */
export function parseSearch(query: QueryParams, resourceType: string, supported: readonly string[]): ParsedSearch {
  const params = new Map<string, string[]>();
  let count = DEFAULT_COUNT;
  let offset = 0;
  for (const [name, raw] of Object.entries(query)) {
    const values = (Array.isArray(raw) ? raw : raw === undefined ? [] : [raw]).map((v) => v.trim());
    if (name === '_format') continue; // negotiated before the route runs
    if (name === '_count') count = Math.min(parseNonNegative(name, values), MAX_COUNT);
    else if (name === '_offset') offset = parseNonNegative(name, values);
    else if (name.includes(':')) throw badRequest('UNSUPPORTED_SEARCH_PARAMETER', `search modifiers are not supported: "${name}"`);
    else if (!supported.includes(name)) {
      throw badRequest('UNSUPPORTED_SEARCH_PARAMETER', `unknown or unsupported search parameter "${name}" for ${resourceType} (supported: ${supported.join(', ')}, _count, _offset, _format)`);
    } else {
      // R4 §3.1.1.4: a parameter with an empty value is ignored.
      const nonEmpty = values.filter((v) => v !== '');
      if (nonEmpty.length > 0) params.set(name, nonEmpty);
    }
  }
  return { params, count, offset };
}

function parseNonNegative(name: string, values: string[]): number {
  if (values.length !== 1 || !/^\d{1,9}$/.test(values[0]!)) throw badRequest('INVALID_SEARCH_PARAMETER', `${name} must be given once, as a non-negative integer`);
  return Number(values[0]);
}

/** The one value of a parameter that may not be repeated (AND of two values of these is not supported). */
export function singleValue(search: ParsedSearch, name: string): string | undefined {
  const values = search.params.get(name);
  if (!values) return undefined;
  if (values.length > 1) throw badRequest('INVALID_SEARCH_PARAMETER', `${name} given more than once: give alternatives as one comma-separated value`);
  return values[0];
}

/** Splits on `separator` where it is not escaped with "\" (R4 §3.1.1.4.7), unescaping the parts. */
export function splitEscaped(text: string, separator: ',' | '|'): string[] {
  const parts: string[] = [];
  let current = '';
  for (let i = 0; i < text.length; i++) {
    const char = text[i]!;
    if (char === '\\' && i + 1 < text.length) current += text[++i];
    else if (char === separator) {
      parts.push(current);
      current = '';
    } else current += char;
  }
  parts.push(current);
  return parts;
}

/** The comma-separated alternatives (OR) of one value, escapes kept for a further split on "|". */
export function alternatives(text: string): string[] {
  return text.split(/(?<!\\),/).map((v) => v.trim()).filter((v) => v !== '');
}

export interface Token {
  /** undefined: any system ("code"); '': explicitly none ("|code") */
  system?: string;
  code: string;
}

export function parseToken(text: string): Token {
  const parts = splitEscaped(text, '|');
  if (parts.length === 1) return { code: parts[0]! };
  if (parts.length === 2) return { system: parts[0]!, code: parts[1]! };
  throw badRequest('INVALID_SEARCH_PARAMETER', `"${text}" is not a token (system|code)`);
}

/** A date range in DICOM DA form (YYYYMMDD), both ends inclusive; either end may be open. */
export interface DateRange {
  from?: string;
  to?: string;
}

const DATE_PREFIXES = ['eq', 'ge', 'gt', 'le', 'lt'] as const;

/**
 * Every value of a date parameter ANDed into one range ("started=ge2024-01-01&started=lt2025").
 * Only date precision (YYYY, YYYY-MM, YYYY-MM-DD): DICOM study times are zone-less local
 * times, so a comparison with an instant would be a guess.
 */
export function parseDateRange(name: string, values: readonly string[]): DateRange {
  let range: DateRange = {};
  for (const value of values) {
    if (alternatives(value).length > 1) throw badRequest('INVALID_SEARCH_PARAMETER', `${name}: alternatives (comma) are not supported for dates`);
    range = intersect(range, parseDateValue(name, value));
  }
  return range;
}

function parseDateValue(name: string, value: string): DateRange {
  const prefix = DATE_PREFIXES.find((p) => value.startsWith(p));
  const date = prefix ? value.slice(2) : value;
  if (!prefix && /^[a-z]{2}/.test(value)) throw badRequest('INVALID_SEARCH_PARAMETER', `${name}: prefix "${value.slice(0, 2)}" is not supported (eq, ge, gt, le, lt)`);
  const span = dateSpan(name, date);
  switch (prefix ?? 'eq') {
    case 'eq': return span;
    case 'ge': return { from: span.from };
    case 'gt': return { from: shiftDay(span.to!, 1) };
    case 'le': return { to: span.to };
    default: return { to: shiftDay(span.from!, -1) }; // lt
  }
}

/** The first and last day a date of some precision covers: "2024-02" → 20240201..20240229. */
function dateSpan(name: string, date: string): Required<DateRange> {
  const match = /^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$/.exec(date);
  if (!match) throw badRequest('INVALID_SEARCH_PARAMETER', `${name}: "${date}" is not a date (YYYY, YYYY-MM or YYYY-MM-DD)`);
  const [, year, month, day] = match;
  const start = new Date(Date.UTC(Number(year), month ? Number(month) - 1 : 0, day ? Number(day) : 1));
  if (start.getUTCFullYear() !== Number(year) || (month && start.getUTCMonth() !== Number(month) - 1) || (day && start.getUTCDate() !== Number(day))) {
    throw badRequest('INVALID_SEARCH_PARAMETER', `${name}: "${date}" is not a calendar date`);
  }
  const end = day ? start : month ? new Date(Date.UTC(Number(year), Number(month), 0)) : new Date(Date.UTC(Number(year), 11, 31));
  return { from: toDicomDate(start), to: toDicomDate(end) };
}

function shiftDay(dicomDate: string, days: number): string {
  const date = new Date(Date.UTC(Number(dicomDate.slice(0, 4)), Number(dicomDate.slice(4, 6)) - 1, Number(dicomDate.slice(6, 8)) + days));
  return toDicomDate(date);
}

function toDicomDate(date: Date): string {
  return date.toISOString().slice(0, 10).replace(/-/g, '');
}

function intersect(a: DateRange, b: DateRange): DateRange {
  const from = a.from && b.from ? (a.from > b.from ? a.from : b.from) : (a.from ?? b.from);
  const to = a.to && b.to ? (a.to < b.to ? a.to : b.to) : (a.to ?? b.to);
  return { from, to };
}

export function isEmptyRange(range: DateRange): boolean {
  return range.from !== undefined && range.to !== undefined && range.from > range.to;
}

/** DICOM range matching text: "20240101-20241231", "20240101-", "-20241231". */
export function toDicomRange(range: DateRange): string | undefined {
  if (range.from === undefined && range.to === undefined) return undefined;
  if (range.from !== undefined && range.from === range.to) return range.from;
  return `${range.from ?? ''}-${range.to ?? ''}`;
}

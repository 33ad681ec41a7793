/**
 * Media-type parsing and Accept negotiation for DICOMweb (PS3.18 8.7). Only what the
 * routes of this folder need: type/subtype, parameters (lower-cased names, unquoted
 * values) and q-values.
 */
import { TRANSFER_SYNTAX } from '@yunying/dicom';

export interface MediaRange {
  /** lower-cased "type/subtype" */
  type: string;
  /** parameter names lower-cased, values unquoted (case kept: boundaries are case-sensitive) */
  params: Record<string, string>;
  q: number;
}

/** Splits on `sep` outside double quotes. */
function splitOutsideQuotes(text: string, sep: string): string[] {
  const out: string[] = [];
  let start = 0;
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"' && text[i - 1] !== '\\') quoted = !quoted;
    else if (c === sep && !quoted) {
      out.push(text.slice(start, i));
      start = i + 1;
    }
  }
  out.push(text.slice(start));
  return out;
}

function unquote(value: string): string {
  const v = value.trim();
  if (v.length >= 2 && v.startsWith('"') && v.endsWith('"')) return v.slice(1, -1).replace(/\\(.)/g, '$1');
  return v;
}

export function parseMediaType(text: string): MediaRange {
  const [head, ...rest] = splitOutsideQuotes(text, ';');
  const params: Record<string, string> = {};
  let q = 1;
  for (const p of rest) {
    const eq = p.indexOf('=');
    if (eq < 0) continue;
    const name = p.slice(0, eq).trim().toLowerCase();
    const value = unquote(p.slice(eq + 1));
    if (name === 'q') {
      const n = Number(value);
      q = Number.isFinite(n) ? n : 1;
    } else params[name] = value;
  }
  return { type: (head ?? '').trim().toLowerCase(), params, q };
}

/** The Accept header as media ranges, best first; `[*\/*]` when absent or empty. */
export function parseAccept(header: string | string[] | undefined): MediaRange[] {
  const text = Array.isArray(header) ? header.join(',') : header;
  if (!text || !text.trim()) return [{ type: '*/*', params: {}, q: 1 }];
  const ranges = splitOutsideQuotes(text, ',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
    .map(parseMediaType)
    .filter((m) => m.q > 0);
  return ranges.sort((a, b) => b.q - a.q);
}

/** True when `range` (possibly with wildcards) covers the concrete `type`. */
export function typeMatches(range: string, type: string): boolean {
  if (range === '*/*' || range === '*') return true;
  if (range.endsWith('/*')) return type.startsWith(range.slice(0, -1));
  return range === type;
}

/** The first concrete type of `offered` that the Accept ranges allow (in Accept order), or undefined. */
export function negotiateSimple(accept: MediaRange[], offered: readonly string[]): string | undefined {
  for (const range of accept) {
    const hit = offered.find((t) => typeMatches(range.type, t));
    if (hit) return hit;
  }
  return undefined;
}

/**
 * One acceptable representation for a multipart response: the part media type the
 * client asked for and the transfer syntax it demands (`*` or undefined: any / as stored).
 */
export interface PartRequest {
  partType: string;
  transferSyntax?: string;
}

/**
 * Multipart requests in the Accept header: `multipart/related; type="X"; transfer-syntax=Y`
 * (type defaults to `defaultPartType`), and bare `X` (single-part ask, treated as the same
 * part type), and wildcards mapping to `defaultPartType`.
 */
export function multipartRequests(accept: MediaRange[], defaultPartType: string): PartRequest[] {
  const out: PartRequest[] = [];
  for (const range of accept) {
    if (range.type === 'multipart/related' || range.type === 'multipart/*') {
      out.push({ partType: (range.params.type ?? defaultPartType).toLowerCase(), transferSyntax: range.params['transfer-syntax'] });
    } else if (range.type === '*/*') {
      out.push({ partType: '*/*', transferSyntax: range.params['transfer-syntax'] });
    } else {
      out.push({ partType: range.type, transferSyntax: range.params['transfer-syntax'] });
    }
  }
  return out;
}

/**
 * Transfer syntaxes whose frames/bulk data bytes are identical once the data set is read:
 * native little endian (implicit, explicit, deflated — inflated data is explicit LE).
 */
export function normalizeNativeTransferSyntax(uid: string): string {
  if (uid === TRANSFER_SYNTAX.IMPLICIT_LE || uid === TRANSFER_SYNTAX.DEFLATED_LE) return TRANSFER_SYNTAX.EXPLICIT_LE;
  return uid;
}

const JPEG = ['1.2.840.10008.1.2.4.50', '1.2.840.10008.1.2.4.51', '1.2.840.10008.1.2.4.53', '1.2.840.10008.1.2.4.55', '1.2.840.10008.1.2.4.57', '1.2.840.10008.1.2.4.70'];

/** Media type of an encapsulated frame in this transfer syntax (PS3.18 Table 8.7.3-5 and later additions). */
export function frameMediaType(transferSyntaxUid: string, encapsulated: boolean): string {
  if (!encapsulated) return 'application/octet-stream';
  if (JPEG.includes(transferSyntaxUid)) return 'image/jpeg';
  switch (transferSyntaxUid) {
    case '1.2.840.10008.1.2.4.80':
    case '1.2.840.10008.1.2.4.81':
      return 'image/jls';
    case '1.2.840.10008.1.2.4.90':
    case '1.2.840.10008.1.2.4.91':
      return 'image/jp2';
    case '1.2.840.10008.1.2.4.92':
    case '1.2.840.10008.1.2.4.93':
      return 'image/jpx';
    case '1.2.840.10008.1.2.4.201':
    case '1.2.840.10008.1.2.4.202':
    case '1.2.840.10008.1.2.4.203':
      return 'image/jphc';
    case '1.2.840.10008.1.2.4.110':
    case '1.2.840.10008.1.2.4.111':
    case '1.2.840.10008.1.2.4.112':
      return 'image/jxl';
    case '1.2.840.10008.1.2.5':
      return 'image/dicom-rle';
    case '1.2.840.10008.1.2.4.100':
    case '1.2.840.10008.1.2.4.101':
      return 'video/mpeg';
    case '1.2.840.10008.1.2.4.102':
    case '1.2.840.10008.1.2.4.103':
    case '1.2.840.10008.1.2.4.104':
    case '1.2.840.10008.1.2.4.105':
    case '1.2.840.10008.1.2.4.106':
      return 'video/mp4';
    case '1.2.840.10008.1.2.4.107':
    case '1.2.840.10008.1.2.4.108':
      return 'video/H265';
    default:
      return 'application/octet-stream';
  }
}

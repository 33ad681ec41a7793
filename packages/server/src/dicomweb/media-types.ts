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
export function multipartRequests(accept: readonly MediaRange[], defaultPartType: string): PartRequest[] {
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

// ---------------------------------------------------------------- transfer syntax negotiation (PS3.18 8.7.3)

export const EXPLICIT_VR_LE = TRANSFER_SYNTAX.EXPLICIT_LE;
/** `transfer-syntax=*`: the representation as stored, byte for byte */
export const AS_STORED = '*';

/** What the server can produce: true when an instance stored in `from` can be sent in `to` (`from === to` always). */
export type TranscodeCapability = (from: string, to: string) => boolean;

export interface InstanceTarget {
  /** a single-part application/dicom response (instance level, when asked for exactly that) */
  singlePart: boolean;
  /** the syntax to send every instance in, or AS_STORED */
  transferSyntax: string;
  /**
   * no transfer-syntax parameter: PS3.18's default (Explicit VR Little Endian) was chosen, and
   * an instance that cannot be decoded (video) goes as stored rather than failing the whole
   * study; a syntax the client names is produced for every instance or refused (406)
   */
  defaulted: boolean;
}

/**
 * Accept negotiation for application/dicom (instances, series, studies). Ranges are tried in
 * q order: no transfer-syntax parameter is Explicit VR LE (PS3.18 Table 8.7.3-2), `*` is as
 * stored, a named syntax is chosen when every stored syntax can be produced in it. Undefined:
 * nothing acceptable (406).
 */
export function negotiateInstances(accept: readonly MediaRange[], storedSyntaxes: readonly string[], canTranscode: TranscodeCapability, allowSinglePart: boolean): InstanceTarget | undefined {
  for (const range of accept) {
    const isMultipart = range.type === 'multipart/related' || range.type === 'multipart/*';
    const partType = isMultipart ? (range.params.type ?? 'application/dicom').toLowerCase() : range.type;
    if (!typeMatches(partType, 'application/dicom')) continue;
    const singlePart = allowSinglePart && range.type === 'application/dicom';
    const ts = range.params['transfer-syntax']?.trim();
    if (ts === undefined || ts === '') return { singlePart, transferSyntax: EXPLICIT_VR_LE, defaulted: true };
    if (ts === AS_STORED) return { singlePart, transferSyntax: AS_STORED, defaulted: false };
    if (storedSyntaxes.every((stored) => stored === ts || canTranscode(stored, ts))) return { singlePart, transferSyntax: ts, defaulted: false };
  }
  return undefined;
}

/** The syntax one instance stored in `stored` is sent in under `target`. */
export function instanceSyntax(target: InstanceTarget, stored: string, canTranscode: TranscodeCapability): string {
  if (target.transferSyntax === AS_STORED || target.transferSyntax === stored) return stored;
  if (canTranscode(stored, target.transferSyntax)) return target.transferSyntax;
  // only reachable for the default (negotiateInstances checked a named syntax for every instance)
  return stored;
}

/** How frames (or Pixel Data bulk data) go out: the stored bytes, or decoded to native little endian. */
export type FrameChoice = 'stored' | 'native';

/** The stored representation of an instance's frames: their media type and (normalized) transfer syntax. */
export interface FrameRepresentation {
  mediaType: string;
  transferSyntax: string;
}

/**
 * Accept negotiation for frames and Pixel Data bulk data (PS3.18 8.7.3.3–4).
 * `application/octet-stream` without a transfer-syntax, or with Explicit VR LE, asks for
 * native frames: the stored ones when they are native little endian, else decoded (when
 * `canDecode`); with `*` or the stored syntax, the stored bytes. A compressed media type
 * (image/jpeg, image/jls, image/jp2 …) gets the stored frames when it is theirs (its
 * transfer-syntax absent, `*` or the stored one; we do not compress).
 */
export function negotiateFrames(accept: readonly MediaRange[], rep: FrameRepresentation, canDecode: boolean): FrameChoice | undefined {
  const nativeStored = rep.mediaType === 'application/octet-stream' && rep.transferSyntax === EXPLICIT_VR_LE;
  const nativeChoice = (): FrameChoice | undefined => (nativeStored ? 'stored' : canDecode ? 'native' : undefined);
  for (const req of multipartRequests(accept, rep.mediaType)) {
    const ts = req.transferSyntax?.trim() || undefined;
    const normalized = ts === undefined || ts === AS_STORED ? ts : normalizeNativeTransferSyntax(ts);
    if (req.partType === 'application/octet-stream') {
      if (ts === AS_STORED || normalized === rep.transferSyntax) return 'stored';
      if (ts === undefined || normalized === EXPLICIT_VR_LE) {
        const choice = nativeChoice();
        if (choice) return choice;
      }
      continue;
    }
    if (req.partType === '*/*' || typeMatches(req.partType, rep.mediaType)) {
      if (ts === undefined || ts === AS_STORED || normalized === rep.transferSyntax) return 'stored';
      if (normalized === EXPLICIT_VR_LE) {
        const choice = nativeChoice();
        if (choice) return choice;
      }
    }
  }
  return undefined;
}

/**
 * multipart/related (RFC 2387 over RFC 2046) for DICOMweb: splitting a request body
 * with Buffer.indexOf (no per-byte loops) and writing responses part by part.
 */
import { randomUUID } from 'node:crypto';

export interface MultipartPart {
  /** header names lower-cased */
  headers: Record<string, string>;
  /** a view into the request body (no copy) */
  body: Buffer;
}

export class MultipartError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MultipartError';
  }
}

/** The body holds more parts than the caller allows; splitting stopped at the first one too many. */
export class TooManyPartsError extends MultipartError {
  readonly maxParts: number;
  constructor(maxParts: number) {
    super(`the multipart body has more than ${maxParts} parts`);
    this.maxParts = maxParts;
    this.name = 'TooManyPartsError';
  }
}

const CRLF = Buffer.from('\r\n');
const HEADER_END = Buffer.from('\r\n\r\n');

function parsePartHeaders(text: string): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const line of text.split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return headers;
}

/**
 * Splits a multipart body. Tolerates a preamble (including the leading CRLF that some
 * clients send), transport padding after delimiters, LF-only header blocks and a missing
 * close delimiter (the last part then runs to the end of the body, minus a trailing CRLF).
 * Throws MultipartError when the boundary never occurs, and TooManyPartsError as soon as a
 * part beyond `maxParts` starts (the rest of the body is not looked at).
 */
export function splitMultipart(body: Buffer, boundary: string, maxParts = Infinity): MultipartPart[] {
  if (!boundary || boundary.length > 200) throw new MultipartError('invalid multipart boundary');
  const dash = Buffer.from(`--${boundary}`);
  const delimiter = Buffer.from(`\r\n--${boundary}`);
  let pos: number;
  if (body.subarray(0, dash.length).equals(dash)) pos = dash.length;
  else {
    const at = body.indexOf(delimiter);
    if (at < 0) throw new MultipartError('the multipart boundary does not occur in the body');
    pos = at + delimiter.length;
  }
  const parts: MultipartPart[] = [];
  for (;;) {
    // after a delimiter: "--" closes; else transport padding up to CRLF
    if (body[pos] === 0x2d && body[pos + 1] === 0x2d) break;
    const lineEnd = body.indexOf(CRLF, pos);
    if (lineEnd < 0) break; // delimiter at the very end without close: no more parts
    if (parts.length >= maxParts) throw new TooManyPartsError(maxParts);
    const headerStart = lineEnd + 2;
    let headerEnd: number;
    let bodyStart: number;
    if (body[headerStart] === 0x0d && body[headerStart + 1] === 0x0a) {
      headerEnd = headerStart; // no headers
      bodyStart = headerStart + 2;
    } else {
      headerEnd = body.indexOf(HEADER_END, headerStart);
      if (headerEnd < 0) {
        const lf = body.indexOf('\n\n', headerStart);
        if (lf < 0) throw new MultipartError('a multipart part has no end of headers');
        headerEnd = lf;
        bodyStart = lf + 2;
      } else bodyStart = headerEnd + 4;
    }
    const headers = parsePartHeaders(body.toString('latin1', headerStart, headerEnd));
    const next = body.indexOf(delimiter, bodyStart);
    if (next < 0) {
      let end = body.length;
      if (end - 2 >= bodyStart && body[end - 2] === 0x0d && body[end - 1] === 0x0a) end -= 2;
      parts.push({ headers, body: body.subarray(bodyStart, end) });
      break;
    }
    parts.push({ headers, body: body.subarray(bodyStart, next) });
    pos = next + delimiter.length;
  }
  return parts;
}

export function newBoundary(): string {
  return `yunying-${randomUUID()}`;
}

export interface OutgoingPart {
  contentType: string;
  body: Uint8Array;
  /** extra headers, e.g. Content-Location */
  headers?: Record<string, string>;
}

export function partHeader(boundary: string, part: Omit<OutgoingPart, 'body'> & { length: number }, first: boolean): Buffer {
  let text = `${first ? '' : '\r\n'}--${boundary}\r\nContent-Type: ${part.contentType}\r\nContent-Length: ${part.length}\r\n`;
  for (const [name, value] of Object.entries(part.headers ?? {})) text += `${name}: ${value}\r\n`;
  return Buffer.from(`${text}\r\n`, 'latin1');
}

export function closeDelimiter(boundary: string, anyPart: boolean): Buffer {
  return Buffer.from(`${anyPart ? '\r\n' : ''}--${boundary}--\r\n`, 'latin1');
}

/** The whole message at once, for small responses (a few frames). */
export function encodeMultipart(boundary: string, parts: readonly OutgoingPart[]): Buffer {
  const chunks: Uint8Array[] = [];
  parts.forEach((part, i) => {
    chunks.push(partHeader(boundary, { ...part, length: part.body.length }, i === 0), part.body);
  });
  chunks.push(closeDelimiter(boundary, parts.length > 0));
  return Buffer.concat(chunks);
}

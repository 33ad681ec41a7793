/**
 * multipart/related (RFC 2387 over RFC 2046) as DICOMweb uses it (PS3.18 8.6): the one
 * parser and writer of the server, the gateway and the web viewer.
 *
 * Browser-safe: Uint8Array, async iterables and web ReadableStreams only, no node: imports
 * (the viewer imports this module through `@yunying/dicom/multipart`).
 *
 * The parser is a push scanner (`MultipartScanner`: bytes in, events out) under two
 * drivers: `readMultipart` streams a body (each part yielded as its headers arrive, its body
 * an async iterable of chunks, the whole body never held), `splitMultipart` splits a body
 * already in memory (views into it, no copy). Both share every rule:
 *  - a preamble before the first boundary is skipped (also the leading CRLF some clients send);
 *  - transport padding after a delimiter, up to its CRLF, is ignored;
 *  - header blocks may end in CRLF CRLF or LF LF; an empty header block is allowed;
 *  - a missing close delimiter ends the last part at the end of the body (minus a trailing
 *    CRLF), and that part is marked `closed: false`;
 *  - no boundary at all, a header block that never ends (or is over `maxHeaderBytes`) and
 *    garbage after a delimiter are MultipartError; a part beyond `maxParts` is
 *    TooManyPartsError as soon as it starts.
 */

export class MultipartError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MultipartError';
  }
}

/** The body holds more parts than the caller allows; parsing stopped at the first one too many. */
export class TooManyPartsError extends MultipartError {
  readonly maxParts: number;
  constructor(maxParts: number) {
    super(`the multipart body has more than ${maxParts} parts`);
    this.name = 'TooManyPartsError';
    this.maxParts = maxParts;
  }
}

export interface MultipartOptions {
  /** parts allowed before TooManyPartsError [unbounded] */
  maxParts?: number;
  /** bytes one part's header block may take [16 KiB] */
  maxHeaderBytes?: number;
}

/** Header names lower-cased; values trimmed. */
export type PartHeaders = Record<string, string>;

export type MultipartEvent =
  | { type: 'part'; headers: PartHeaders }
  | { type: 'data'; bytes: Uint8Array }
  /** the current part's body is complete; `closed` is false when the body ended without a delimiter */
  | { type: 'partEnd'; closed: boolean };

const CR = 0x0d;
const LF = 0x0a;
const DASH = 0x2d;
const EMPTY = new Uint8Array(0);
const DEFAULT_MAX_HEADER_BYTES = 16 * 1024;
/** transport padding allowed after a delimiter before its CRLF */
const MAX_PADDING_BYTES = 1024;

function latin1Bytes(text: string): Uint8Array {
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i) & 0xff;
  return bytes;
}

function latin1Text(bytes: Uint8Array): string {
  let text = '';
  for (let i = 0; i < bytes.length; i += 4096) text += String.fromCharCode(...bytes.subarray(i, i + 4096));
  return text;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (a.length === 0) return b;
  if (b.length === 0) return a;
  const joined = new Uint8Array(a.length + b.length);
  joined.set(a, 0);
  joined.set(b, a.length);
  return joined;
}

/**
 * First index ≥ from where `pattern` occurs in `data`, or -1. Native indexOf finds the
 * candidates for the pattern's last byte: for a delimiter that is a character of the boundary,
 * rare in binary data (CR, its first byte, is one byte in 30 of 12-bit pixel data).
 */
function indexOf(data: Uint8Array, pattern: Uint8Array, from: number): number {
  const lastIndex = pattern.length - 1;
  const anchor = pattern[lastIndex]!;
  for (let end = data.indexOf(anchor, from + lastIndex); end >= 0; end = data.indexOf(anchor, end + 1)) {
    const start = end - lastIndex;
    let j = 0;
    while (j < lastIndex && data[start + j] === pattern[j]) j++;
    if (j === lastIndex) return start;
  }
  return -1;
}

/** Length of the longest suffix of data[from..] that is a proper prefix of `pattern` (a delimiter that may continue in the next chunk). */
function partialMatchAtEnd(data: Uint8Array, pattern: Uint8Array, from: number): number {
  const longest = Math.min(pattern.length - 1, data.length - from);
  for (let length = longest; length > 0; length--) {
    const start = data.length - length;
    let j = 0;
    while (j < length && data[start + j] === pattern[j]) j++;
    if (j === length) return length;
  }
  return 0;
}

function parsePartHeaders(text: string): PartHeaders {
  const headers: PartHeaders = {};
  for (const line of text.split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return headers;
}

export function checkBoundary(boundary: string): void {
  // RFC 2046: 1 to 70 characters; longer ones are tolerated up to 200 as before.
  if (!boundary || boundary.length > 200) throw new MultipartError('invalid multipart boundary');
}

type State = 'preamble' | 'afterDelimiter' | 'headers' | 'body' | 'epilogue';

/**
 * Bytes in (`push`, then `finish` at the end of the body), events out. Events of `data`
 * are views into the pushed chunks (copied only where a delimiter straddles two chunks),
 * so a caller that keeps them keeps those chunks.
 */
export class MultipartScanner {
  private readonly delimiter: Uint8Array;
  /** the first boundary line where the body starts with it (no CRLF before it) */
  private readonly dashBoundary: Uint8Array;
  private readonly maxParts: number;
  private readonly maxHeaderBytes: number;
  private state: State = 'preamble';
  /** bytes not yet scanned: a possible start of a delimiter, or an incomplete header block */
  private pending: Uint8Array = EMPTY;
  private atStart = true;
  private parts = 0;
  /** an error met after some events of the same chunk: thrown once those were handed out */
  private failure: unknown;
  /** where an incomplete header block grows (see append) */
  private store: Uint8Array | undefined;

  constructor(boundary: string, options: MultipartOptions = {}) {
    checkBoundary(boundary);
    this.delimiter = latin1Bytes(`\r\n--${boundary}`);
    this.dashBoundary = this.delimiter.subarray(2);
    this.maxParts = options.maxParts ?? Infinity;
    this.maxHeaderBytes = options.maxHeaderBytes ?? DEFAULT_MAX_HEADER_BYTES;
  }

  /** Throws the error that stopped the scan, if any (push and finish throw it too). */
  throwIfFailed(): void {
    if (this.failure !== undefined) throw this.failure;
  }

  /** Parts started so far. */
  get partCount(): number {
    return this.parts;
  }

  /**
   * The events the chunk completes. An error (malformed body, too many parts) is thrown
   * here when it is the chunk's first event, else by the next call, so that the parts
   * before it are handed out first.
   */
  push(chunk: Uint8Array): MultipartEvent[] {
    this.throwIfFailed();
    const events: MultipartEvent[] = [];
    const data = this.pending.length === 0 ? chunk : this.append(chunk);
    this.pending = EMPTY;
    let pos = 0;
    try {
      for (;;) {
        const next = this.step(data, pos, events);
        if (next < 0) return events;
        pos = next;
      }
    } catch (error) {
      this.failure = error;
      if (events.length === 0) throw error;
      return events;
    }
  }

  /** The body ended: what the last bytes complete, or the error they make. */
  finish(): MultipartEvent[] {
    this.throwIfFailed();
    const rest = this.pending;
    this.pending = EMPTY;
    switch (this.state) {
      case 'preamble':
        throw new MultipartError('the multipart boundary does not occur in the body');
      case 'headers':
        throw new MultipartError('a multipart part has no end of headers');
      case 'body': {
        // No close delimiter: the part runs to the end, minus the CRLF that would have begun one.
        this.state = 'epilogue';
        const isTrailingCrlf = rest.length === 2 && rest[0] === CR && rest[1] === LF;
        const events: MultipartEvent[] = [];
        if (rest.length > 0 && !isTrailingCrlf) events.push({ type: 'data', bytes: rest });
        events.push({ type: 'partEnd', closed: false });
        return events;
      }
      default:
        // after a delimiter without "--" or CRLF, or after the close delimiter: no more parts
        this.state = 'epilogue';
        return [];
    }
  }

  /** Scans from pos; returns where to go on, or -1 once the data is used up (the unscanned tail kept in pending). */
  private step(data: Uint8Array, pos: number, events: MultipartEvent[]): number {
    switch (this.state) {
      case 'preamble': {
        if (this.atStart) {
          // A body that starts with the boundary line has no CRLF before it.
          const available = Math.min(data.length - pos, this.dashBoundary.length);
          let j = 0;
          while (j < available && data[pos + j] === this.dashBoundary[j]) j++;
          if (j === this.dashBoundary.length) {
            this.atStart = false;
            this.state = 'afterDelimiter';
            return pos + j;
          }
          if (j === available) return this.keep(data, pos); // too short to tell yet
          this.atStart = false;
        }
        const at = indexOf(data, this.delimiter, pos);
        if (at < 0) return this.keepPartialDelimiter(data, pos);
        this.state = 'afterDelimiter';
        return at + this.delimiter.length;
      }
      case 'afterDelimiter': {
        if (data.length - pos < 2) return this.keep(data, pos);
        if (data[pos] === DASH && data[pos + 1] === DASH) {
          this.state = 'epilogue';
          return data.length;
        }
        const lineEnd = indexOf(data, CRLF, pos);
        if (lineEnd < 0) {
          if (data.length - pos > MAX_PADDING_BYTES) throw new MultipartError('garbage after a multipart boundary');
          return this.keep(data, pos);
        }
        if (lineEnd - pos > MAX_PADDING_BYTES) throw new MultipartError('garbage after a multipart boundary');
        if (this.parts >= this.maxParts) throw new TooManyPartsError(this.maxParts);
        this.parts++;
        this.state = 'headers';
        return lineEnd + 2;
      }
      case 'headers': {
        if (data.length - pos < 2) return this.keep(data, pos);
        let headerEnd: number;
        let bodyStart: number;
        if (data[pos] === CR && data[pos + 1] === LF) {
          headerEnd = pos;
          bodyStart = pos + 2;
        } else {
          // only the header block's room is searched: a part's body is not scanned for its header end
          const room = data.subarray(0, Math.min(data.length, pos + this.maxHeaderBytes + HEADER_END.length));
          const crlf = indexOf(room, HEADER_END, pos);
          const lf = indexOf(room, LF_HEADER_END, pos);
          if (crlf < 0 && lf < 0) {
            if (data.length - pos > this.maxHeaderBytes) throw new MultipartError(`a multipart part's headers are longer than ${this.maxHeaderBytes} bytes`);
            return this.keep(data, pos);
          }
          if (lf >= 0 && (crlf < 0 || lf < crlf)) {
            headerEnd = lf;
            bodyStart = lf + 2;
          } else {
            headerEnd = crlf;
            bodyStart = crlf + 4;
          }
        }
        if (headerEnd - pos > this.maxHeaderBytes) throw new MultipartError(`a multipart part's headers are longer than ${this.maxHeaderBytes} bytes`);
        events.push({ type: 'part', headers: parsePartHeaders(latin1Text(data.subarray(pos, headerEnd))) });
        this.state = 'body';
        return bodyStart;
      }
      case 'body': {
        const at = indexOf(data, this.delimiter, pos);
        if (at >= 0) {
          if (at > pos) events.push({ type: 'data', bytes: data.subarray(pos, at) });
          events.push({ type: 'partEnd', closed: true });
          this.state = 'afterDelimiter';
          return at + this.delimiter.length;
        }
        const kept = partialMatchAtEnd(data, this.delimiter, pos);
        if (data.length - kept > pos) events.push({ type: 'data', bytes: data.subarray(pos, data.length - kept) });
        this.pending = data.subarray(data.length - kept);
        return -1;
      }
      case 'epilogue':
        return -1;
    }
  }

  private keepPartialDelimiter(data: Uint8Array, pos: number): number {
    const kept = partialMatchAtEnd(data, this.delimiter, pos);
    this.pending = data.subarray(data.length - kept);
    return -1;
  }

  private keep(data: Uint8Array, pos: number): number {
    // At the start of the store it stays there, to grow in place; a chunk's tail is copied
    // (it must not pin the whole chunk while it waits).
    this.pending = pos === 0 && this.isStore(data) ? data : data.slice(pos);
    return -1;
  }

  private isStore(view: Uint8Array): boolean {
    return this.store !== undefined && view.buffer === this.store.buffer && view.byteOffset === this.store.byteOffset;
  }

  /**
   * pending + chunk, in a store with room to spare that an incomplete header block grows in:
   * a header block arriving a byte at a time then costs linear time, not quadratic. Nothing
   * handed out points into the store's unused room: bytes before pending were handed out
   * (and then pending is not at the store's start, so the next append takes a new store).
   */
  private append(chunk: Uint8Array): Uint8Array {
    const needed = this.pending.length + chunk.length;
    let store = this.store;
    if (!store || !this.isStore(this.pending) || needed > store.length) {
      store = new Uint8Array(Math.max(needed, 2 * this.pending.length, 256));
      store.set(this.pending, 0);
    }
    store.set(chunk, this.pending.length);
    this.store = store;
    return store.subarray(0, needed);
  }
}

const CRLF = latin1Bytes('\r\n');
const HEADER_END = latin1Bytes('\r\n\r\n');
const LF_HEADER_END = latin1Bytes('\n\n');

// ---------------------------------------------------------------- whole bodies

export interface MultipartPart {
  headers: PartHeaders;
  /** a view into the body (no copy) where the part arrived in one piece */
  body: Uint8Array;
  /** false for a last part that ended without a close delimiter */
  closed: boolean;
}

/** Splits a multipart body held in memory. */
export function splitMultipart(body: Uint8Array, boundary: string, options: MultipartOptions = {}): MultipartPart[] {
  const scanner = new MultipartScanner(boundary, options);
  const parts: MultipartPart[] = [];
  let pieces: Uint8Array[] = [];
  let headers: PartHeaders = {};
  for (const event of [...scanner.push(body), ...scanner.finish()]) {
    if (event.type === 'part') {
      headers = event.headers;
      pieces = [];
    } else if (event.type === 'data') pieces.push(event.bytes);
    else parts.push({ headers, body: pieces.length === 1 ? pieces[0]! : pieces.reduce(concat, EMPTY), closed: event.closed });
  }
  return parts;
}

// ---------------------------------------------------------------- streams

export interface StreamedPart {
  headers: PartHeaders;
  /**
   * The part's body as it arrives. Read it (or abandon it) before asking for the next part:
   * asking for the next part skips what is left of this one. Each chunk is a view that stays
   * valid after the next one is read.
   */
  body: AsyncIterable<Uint8Array>;
  /** after the body was read to its end: false when it ended without a close delimiter */
  readonly closed: boolean | undefined;
}

export type ByteSource = AsyncIterable<Uint8Array> | ReadableStream<Uint8Array>;

/** A web ReadableStream as an async iterable (not every browser iterates one natively). */
export async function* iterateBytes(source: ByteSource): AsyncGenerator<Uint8Array> {
  if (Symbol.asyncIterator in source) {
    yield* source as AsyncIterable<Uint8Array>;
    return;
  }
  const reader = (source as ReadableStream<Uint8Array>).getReader();
  let ended = false;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) {
        ended = true;
        return;
      }
      yield value;
    }
  } finally {
    // left early (the first part was all the caller wanted): the rest is not fetched
    if (!ended) await reader.cancel().catch(() => undefined);
    reader.releaseLock();
  }
}

/**
 * Streams the parts of a multipart body: each part is yielded once its headers have
 * arrived, its body streams from the source as it is read (backpressure reaches the source:
 * nothing is read ahead of the consumer but the chunk at hand). Errors of the source and
 * MultipartErrors surface from whichever read meets them.
 */
export async function* readMultipart(source: ByteSource, boundary: string, options: MultipartOptions = {}): AsyncGenerator<StreamedPart> {
  const scanner = new MultipartScanner(boundary, options);
  const chunks = iterateBytes(source)[Symbol.asyncIterator]();
  const queue: MultipartEvent[] = [];
  let head = 0;
  let sourceEnded = false;
  const nextEvent = async (): Promise<MultipartEvent | undefined> => {
    while (head === queue.length) {
      queue.length = 0;
      head = 0;
      if (sourceEnded) return undefined;
      scanner.throwIfFailed(); // before waiting for more of the body
      const chunk = await chunks.next();
      if (chunk.done) {
        sourceEnded = true;
        queue.push(...scanner.finish());
      } else queue.push(...scanner.push(chunk.value));
    }
    return queue[head++];
  };

  interface Current {
    ended: boolean;
    closed?: boolean;
  }
  let current: Current | undefined;
  /** The current part's next chunk, or undefined at its end (and for a part that is no longer current). */
  const nextBodyChunk = async (part: Current): Promise<Uint8Array | undefined> => {
    if (part !== current || part.ended) return undefined;
    const event = await nextEvent();
    if (event?.type === 'data') return event.bytes;
    part.ended = true;
    part.closed = event?.type === 'partEnd' ? event.closed : false;
    return undefined;
  };

  try {
    for (;;) {
      if (current) while ((await nextBodyChunk(current)) !== undefined); // skip the rest of the last part
      const event = await nextEvent();
      if (event === undefined) return;
      if (event.type !== 'part') continue;
      const part: Current = { ended: false };
      current = part;
      const body: AsyncIterable<Uint8Array> = {
        [Symbol.asyncIterator]: () => ({
          async next(): Promise<IteratorResult<Uint8Array>> {
            const bytes = await nextBodyChunk(part);
            return bytes === undefined ? { done: true, value: undefined } : { done: false, value: bytes };
          },
        }),
      };
      yield {
        headers: event.headers,
        body,
        get closed() {
          return part.closed;
        },
      };
    }
  } finally {
    if (!sourceEnded) await chunks.return?.(undefined);
  }
}

/** A part's body read whole (small parts: bulk data, a test's answer). */
export async function readAll(body: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const pieces: Uint8Array[] = [];
  let length = 0;
  for await (const piece of body) {
    pieces.push(piece);
    length += piece.length;
  }
  if (pieces.length === 1) return pieces[0]!;
  const joined = new Uint8Array(length);
  let offset = 0;
  for (const piece of pieces) {
    joined.set(piece, offset);
    offset += piece.length;
  }
  return joined;
}

// ---------------------------------------------------------------- writing

export interface OutgoingPart {
  contentType: string;
  body: Uint8Array;
  /** extra headers, e.g. Content-Location */
  headers?: Record<string, string>;
}

/** A fresh boundary: random, so it cannot occur in the parts by more than chance (2^-122). */
export function newBoundary(prefix = 'yunying'): string {
  return `${prefix}-${crypto.randomUUID()}`;
}

/**
 * The bytes before a part's body: the delimiter (no CRLF before the first, so the message
 * starts with the boundary, which some clients require), Content-Type, Content-Length when
 * known, extra headers, the blank line.
 */
export function partHeader(boundary: string, part: { contentType: string; length?: number; headers?: Record<string, string> }, first: boolean): Uint8Array {
  let text = `${first ? '' : '\r\n'}--${boundary}\r\nContent-Type: ${part.contentType}\r\n`;
  if (part.length !== undefined) text += `Content-Length: ${part.length}\r\n`;
  for (const [name, value] of Object.entries(part.headers ?? {})) text += `${name}: ${value}\r\n`;
  return latin1Bytes(`${text}\r\n`);
}

/** The close delimiter, after the last part (`anyPart`) or alone. */
export function closeDelimiter(boundary: string, anyPart: boolean): Uint8Array {
  return latin1Bytes(`${anyPart ? '\r\n' : ''}--${boundary}--\r\n`);
}

/**
 * The message as consecutive pieces (headers and the parts' own bytes, not copied), for a
 * writer that sends them one by one; `encodeMultipart` joins them.
 */
export function multipartPieces(boundary: string, parts: readonly OutgoingPart[], options: { contentLength?: boolean } = {}): Uint8Array[] {
  const pieces: Uint8Array[] = [];
  parts.forEach((part, i) => {
    pieces.push(partHeader(boundary, { contentType: part.contentType, headers: part.headers, length: options.contentLength === false ? undefined : part.body.length }, i === 0), part.body);
  });
  pieces.push(closeDelimiter(boundary, parts.length > 0));
  return pieces;
}

/** The whole message at once, for small responses (a few frames). */
export function encodeMultipart(boundary: string, parts: readonly OutgoingPart[]): Uint8Array {
  const pieces = multipartPieces(boundary, parts);
  const whole = new Uint8Array(pieces.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const piece of pieces) {
    whole.set(piece, offset);
    offset += piece.length;
  }
  return whole;
}

/** The Content-Type of a multipart/related message of parts of `type`. */
export function multipartContentType(boundary: string, type: string, extra = ''): string {
  return `multipart/related; type="${type}"; boundary=${boundary}${extra}`;
}

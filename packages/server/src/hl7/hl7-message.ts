/**
 * HL7 v2 messages as text: parsing with the delimiters a message declares in MSH-1/MSH-2,
 * the escape sequences of v2.5 section 2.7, the character set of MSH-18, and building
 * messages with every value escaped.
 *
 * Hand-written rather than node-hl7-client's Message (tried and dropped): its `escape()`
 * returns the text unchanged, so a report whose findings hold `|`, `^`, `&` or `~` (common in
 * Chinese radiology text: "左肺上叶结节 8^9 mm") would corrupt the ORU^R01 we send, and it
 * reads MSH-18 nowhere, so GB 18030 messages from a HIS would be mojibake. This codec is
 * small and has no I/O; mllp.ts frames it on the wire.
 */

export interface Hl7Delimiters {
  field: string;
  component: string;
  repetition: string;
  escape: string;
  subcomponent: string;
}

export const DEFAULT_DELIMITERS: Hl7Delimiters = { field: '|', component: '^', repetition: '~', escape: '\\', subcomponent: '&' };

/** A message that cannot be read as HL7 v2 (the ACK says why: MSA-3, ERR-8). */
export class Hl7ParseError extends Error {
  /** HL7 table 0357: 100 segment sequence error, 101 required field missing, 102 data type error */
  readonly errorCode: string;

  constructor(message: string, errorCode = '100') {
    super(message);
    this.name = 'Hl7ParseError';
    this.errorCode = errorCode;
  }
}

export interface Hl7Segment {
  name: string;
  /** raw (still escaped) fields by HL7 field number: fields[1] is PID-1; for MSH, fields[1] is the field separator and fields[2] the encoding characters */
  fields: string[];
}

/** A parsed message: its delimiters and its segments in order. */
export class Hl7Message {
  readonly delimiters: Hl7Delimiters;
  readonly segments: readonly Hl7Segment[];

  constructor(delimiters: Hl7Delimiters, segments: readonly Hl7Segment[]) {
    this.delimiters = delimiters;
    this.segments = segments;
  }

  segment(name: string): Hl7Segment | undefined {
    return this.segments.find((segment) => segment.name === name);
  }

  all(name: string): Hl7Segment[] {
    return this.segments.filter((segment) => segment.name === name);
  }

  /** The repetitions of a field, each as components of subcomponents, unescaped. */
  repetitions(segment: Hl7Segment | undefined, field: number): string[][][] {
    const raw = segment?.fields[field] ?? '';
    if (raw === '') return [];
    if (segment?.name === 'MSH' && field <= 2) return [[[raw]]];
    const d = this.delimiters;
    return raw.split(d.repetition).map((repetition) => repetition.split(d.component).map((component) => component.split(d.subcomponent).map((sub) => unescapeHl7(sub, d))));
  }

  /** One value: field, component and subcomponent numbers from 1, the repetition from 0; '' when absent. */
  value(segment: Hl7Segment | undefined, field: number, component = 1, subcomponent = 1, repetition = 0): string {
    return this.repetitions(segment, field)[repetition]?.[component - 1]?.[subcomponent - 1] ?? '';
  }

  /** Shorthand: the value at 'PID-3.4.1' of the first segment with that name (repetition 0). */
  get(path: string): string {
    const match = /^([A-Z][A-Z0-9]{2})-(\d+)(?:\.(\d+))?(?:\.(\d+))?$/.exec(path);
    if (!match) throw new Error(`not an HL7 path: ${path}`);
    return this.value(this.segment(match[1]!), Number(match[2]), match[3] ? Number(match[3]) : 1, match[4] ? Number(match[4]) : 1);
  }
}

/**
 * Parses one message's text (segments separated by CR; LF and CRLF are tolerated, as some
 * senders write them). It must start with MSH and declare its delimiters there.
 */
export function parseHl7(text: string): Hl7Message {
  const body = text.replace(/^[\r\n\s]+/, '');
  if (!body.startsWith('MSH')) throw new Hl7ParseError('the message does not start with an MSH segment');
  if (body.length < 8) throw new Hl7ParseError('the MSH segment is too short to declare the delimiters');
  const field = body[3]!;
  const encoding = body.slice(4, body.indexOf(field, 4) === -1 ? 8 : body.indexOf(field, 4));
  if (encoding.length < 4 || /[A-Za-z0-9\r\n]/.test(field + encoding)) throw new Hl7ParseError('MSH-1/MSH-2 do not declare valid delimiters (expected |^~\\&)');
  const delimiters: Hl7Delimiters = { field, component: encoding[0]!, repetition: encoding[1]!, escape: encoding[2]!, subcomponent: encoding[3]! };
  if (new Set(Object.values(delimiters)).size !== 5) throw new Hl7ParseError('MSH-1/MSH-2 declare the same delimiter twice');
  const segments: Hl7Segment[] = [];
  for (const line of body.split(/\r\n|\r|\n/)) {
    if (line.trim() === '') continue;
    const parts = line.split(field);
    const name = parts[0]!;
    if (!/^[A-Z][A-Z0-9]{2}$/.test(name)) throw new Hl7ParseError(`segment ${segments.length + 1} has no valid segment name`);
    // MSH-1 is the field separator itself, so MSH's field numbers are one more than its parts' indexes.
    const fields = name === 'MSH' ? ['MSH', field, ...parts.slice(1)] : parts;
    segments.push({ name, fields });
  }
  return new Hl7Message(delimiters, segments);
}

/** v2.5 2.7: \F\ \S\ \T\ \R\ \E\, \X..\ (hex, taken as UTF-8), \.br\ (FT line break); highlighting and charset switches are dropped. */
export function unescapeHl7(value: string, d: Hl7Delimiters = DEFAULT_DELIMITERS): string {
  if (!value.includes(d.escape)) return value;
  let out = '';
  let index = 0;
  while (index < value.length) {
    const char = value[index]!;
    const end = char === d.escape ? value.indexOf(d.escape, index + 1) : -1;
    if (end === -1) {
      out += char;
      index += 1;
      continue;
    }
    const sequence = value.slice(index + 1, end);
    out += unescapeSequence(sequence, d) ?? `${d.escape}${sequence}${d.escape}`;
    index = end + 1;
  }
  return out;
}

function unescapeSequence(sequence: string, d: Hl7Delimiters): string | undefined {
  switch (sequence) {
    case 'F':
      return d.field;
    case 'S':
      return d.component;
    case 'T':
      return d.subcomponent;
    case 'R':
      return d.repetition;
    case 'E':
      return d.escape;
    case '.br':
      return '\n';
    case 'H':
    case 'N':
      return '';
  }
  if (/^X([0-9A-Fa-f]{2})+$/.test(sequence)) return Buffer.from(sequence.slice(1), 'hex').toString('utf8');
  if (/^[CM][0-9A-Fa-f]{4,6}$/.test(sequence)) return '';
  return undefined;
}

/** A value escaped for a field: delimiters as escape sequences, line breaks as \.br\ (FT) since CR ends a segment. */
export function escapeHl7(value: string, d: Hl7Delimiters = DEFAULT_DELIMITERS): string {
  let out = '';
  for (const char of value.replace(/\r\n|\r/g, '\n')) {
    if (char === d.escape) out += `${d.escape}E${d.escape}`;
    else if (char === d.field) out += `${d.escape}F${d.escape}`;
    else if (char === d.component) out += `${d.escape}S${d.escape}`;
    else if (char === d.subcomponent) out += `${d.escape}T${d.escape}`;
    else if (char === d.repetition) out += `${d.escape}R${d.escape}`;
    else if (char === '\n') out += `${d.escape}.br${d.escape}`;
    else out += char;
  }
  return out;
}

type Components = ReadonlyArray<string | undefined | null | ReadonlyArray<string | undefined | null>>;

/** A field value to build: a string, components, components of subcomponents (each escaped), or repetitions of those. */
export type FieldValue = string | undefined | null | Components | { repeat: ReadonlyArray<string | Components> };

function encodeField(value: FieldValue): string {
  if (value === undefined || value === null) return '';
  if (typeof value === 'string') return escapeHl7(value);
  if ('repeat' in value) return value.repeat.map((repetition) => encodeField(repetition)).join('~');
  return trimEmpty(value.map((component) => (component === undefined || component === null ? '' : typeof component === 'string' ? escapeHl7(component) : trimEmpty(component.map((sub) => escapeHl7(sub ?? ''))).join('&')))).join('^');
}

function trimEmpty(values: string[]): string[] {
  let end = values.length;
  while (end > 0 && values[end - 1] === '') end -= 1;
  return values.slice(0, end);
}

/** One segment's text: fields from 1 (for MSH, from MSH-3: MSH-1 and MSH-2 are written as |^~\&). */
export function buildSegment(name: string, fields: readonly FieldValue[]): string {
  const encoded = trimEmpty(fields.map(encodeField));
  return name === 'MSH' ? ['MSH|^~\\&', ...encoded].join('|') : [name, ...encoded].join('|');
}

/** A message's text: segments joined by CR (no trailing CR is needed inside an MLLP frame, but it is customary). */
export function buildMessage(segments: readonly string[]): string {
  return `${segments.join('\r')}\r`;
}

/** HL7 DTM in the platform's zone: YYYYMMDDHHMMSS+ZZZZ. */
export function hl7Timestamp(date: Date, timeZone: string): string {
  const parts = Object.fromEntries(new Intl.DateTimeFormat('en-GB', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23', timeZoneName: 'longOffset' }).formatToParts(date).map((part) => [part.type, part.value]));
  const offset = /GMT([+-]\d{2}):?(\d{2})?/.exec(parts.timeZoneName ?? '');
  const zone = offset ? `${offset[1]}${offset[2] ?? '00'}` : '+0000';
  return `${parts.year}${parts.month}${parts.day}${parts.hour}${parts.minute}${parts.second}${zone}`;
}

// ---- character sets (MSH-18) ----

/** The decoders for the MSH-18 values a Chinese HIS sends; the rest are refused with a clear text. */
const CHARSETS: Record<string, string> = {
  '': 'utf-8',
  'UNICODE UTF-8': 'utf-8',
  'UTF-8': 'utf-8',
  ASCII: 'utf-8',
  'GB 18030-2000': 'gb18030',
  'GB 18030': 'gb18030',
  GB18030: 'gb18030',
  GBK: 'gbk',
  'GB 2312': 'gbk',
  '8859/1': 'latin1',
};

/**
 * Decodes one message's bytes by its own MSH-18 (MSH is ASCII, so it is read before the rest
 * is decoded). No MSH-18 means UTF-8 here, checked: a message that is not valid UTF-8 then
 * is refused, rather than stored with replacement characters.
 */
export function decodeHl7Bytes(bytes: Uint8Array): { text: string; charset: string } {
  const head = Buffer.from(bytes.subarray(0, Math.min(bytes.length, 2048))).toString('latin1');
  const mshEnd = head.search(/[\r\n]/);
  const msh = mshEnd === -1 ? head : head.slice(0, mshEnd);
  const charset = msh.startsWith('MSH') && msh.length > 4 ? (msh.split(msh[3]!)[17] ?? '').split(msh[4] ?? '^')[0]!.trim().toUpperCase() : '';
  const encoding = CHARSETS[charset];
  if (!encoding) throw new Hl7ParseError(`MSH-18 character set "${charset}" is not supported (use UNICODE UTF-8 or GB 18030)`, '102');
  try {
    return { text: new TextDecoder(encoding, { fatal: true }).decode(bytes), charset: charset || 'UNICODE UTF-8' };
  } catch {
    throw new Hl7ParseError(charset ? `the message is not valid ${charset} (MSH-18)` : 'the message is not valid UTF-8 and MSH-18 names no character set (e.g. GB 18030)', '102');
  }
}

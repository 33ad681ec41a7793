/**
 * Specific Character Set (0008,0005) decoding and encoding (PS3.5 6.1, PS3.3 C.12.1.1.2).
 *
 * Two kinds of value exist: a single character set without code extensions (ISO_IR 100,
 * ISO_IR 192, GB18030, ...) that applies to the whole value, and ISO 2022 code extensions
 * ("ISO 2022 IR 87", ...) where escape sequences switch the G0/G1 sets mid-string and every
 * delimiter resets them to the initial sets of value 1.
 */
import iconv from 'iconv-lite';

/** A graphic set that can be designated to G0 or G1. */
interface CodeSet {
  /** iconv-lite encoding of the set's bytes (after adjustment, see `prefix`/`setHighBit`) */
  encoding: string;
  /** bytes per character in this set */
  width: 1 | 2;
  /** 7-bit sets used in G0 are decoded by their EUC form, which needs the high bit set */
  setHighBit?: boolean;
  /** EUC-JP reaches JIS X 0212 through single-shift 3 */
  prefix?: number;
}

const ASCII: CodeSet = { encoding: 'latin1', width: 1 };
// JIS X 0201 Romaji differs from ASCII only at 0x5C (¥) and 0x7E (‾). We read them as ASCII
// so that a backslash still separates values.
const JIS_ROMAJI: CodeSet = { encoding: 'latin1', width: 1 };
const JIS_KATAKANA: CodeSet = { encoding: 'shift_jis', width: 1 };
const JIS_X0208: CodeSet = { encoding: 'euc-jp', width: 2, setHighBit: true };
const JIS_X0212: CodeSet = { encoding: 'euc-jp', width: 2, setHighBit: true, prefix: 0x8f };
const KS_X1001: CodeSet = { encoding: 'euc-kr', width: 2 };
const GB2312: CodeSet = { encoding: 'gb2312', width: 2 };

/** Single-byte ISO 8859 style sets: the G1 (high) half as an iconv encoding. */
const SINGLE_BYTE: Record<string, string> = {
  'IR 100': 'iso-8859-1', 'IR 101': 'iso-8859-2', 'IR 109': 'iso-8859-3', 'IR 110': 'iso-8859-4',
  'IR 144': 'iso-8859-5', 'IR 127': 'iso-8859-6', 'IR 126': 'iso-8859-7', 'IR 138': 'iso-8859-8',
  'IR 148': 'iso-8859-9', 'IR 203': 'iso-8859-15', 'IR 166': 'tis620', 'IR 13': 'shift_jis',
};

/** Character sets that are not ISO 2022 code extensions: one decoder for the whole value. */
const WHOLE_VALUE: Record<string, string> = {
  'ISO_IR 192': 'utf8', GB18030: 'gb18030', GBK: 'gbk',
  ...Object.fromEntries(Object.entries(SINGLE_BYTE).map(([ir, enc]) => [`ISO_${ir}`, enc])),
};

/** Escape sequences (bytes after ESC) → which register they designate and the set. */
const ESCAPES: { bytes: number[]; g: 0 | 1; set: CodeSet }[] = [
  { bytes: [0x28, 0x42], g: 0, set: ASCII }, // ESC ( B  ISO 646 / IR 6
  { bytes: [0x28, 0x4a], g: 0, set: JIS_ROMAJI }, // ESC ( J  JIS X 0201 Romaji
  { bytes: [0x29, 0x49], g: 1, set: JIS_KATAKANA }, // ESC ) I  JIS X 0201 Katakana
  { bytes: [0x24, 0x42], g: 0, set: JIS_X0208 }, // ESC $ B  JIS X 0208 (IR 87)
  { bytes: [0x24, 0x28, 0x44], g: 0, set: JIS_X0212 }, // ESC $ ( D  JIS X 0212 (IR 159)
  { bytes: [0x24, 0x29, 0x43], g: 1, set: KS_X1001 }, // ESC $ ) C  KS X 1001 (IR 149)
  { bytes: [0x24, 0x29, 0x41], g: 1, set: GB2312 }, // ESC $ ) A  GB 2312 (IR 58)
  ...([['A', 'IR 100'], ['B', 'IR 101'], ['C', 'IR 109'], ['D', 'IR 110'], ['L', 'IR 144'], ['G', 'IR 127'],
    ['F', 'IR 126'], ['H', 'IR 138'], ['M', 'IR 148'], ['T', 'IR 166'], ['b', 'IR 203']] as const)
    .map(([final, ir]) => ({ bytes: [0x2d, final.charCodeAt(0)], g: 1 as const, set: { encoding: SINGLE_BYTE[ir] ?? 'latin1', width: 1 as const } })),
];

/** Initial G0/G1 designations for value 1 of an ISO 2022 Specific Character Set. */
function initialSets(term: string): [CodeSet, CodeSet | undefined] {
  const ir = term.replace(/^ISO[ _]2022[ _]/, '').replace(/^ISO_/, '').replace('_', ' ');
  if (ir === 'IR 13') return [JIS_ROMAJI, JIS_KATAKANA];
  if (ir === 'IR 149') return [ASCII, KS_X1001];
  if (ir === 'IR 58') return [ASCII, GB2312];
  const single = SINGLE_BYTE[ir];
  return [ASCII, single ? { encoding: single, width: 1 } : undefined];
}

function normalizeTerms(specificCharacterSet: readonly string[] | undefined): string[] {
  return (specificCharacterSet ?? []).map((t) => t.trim());
}

function isAscii(bytes: Uint8Array): boolean {
  for (let i = 0; i < bytes.length; i++) if (bytes[i]! >= 0x80 || bytes[i] === 0x1b) return false;
  return true;
}

function toBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Bytes in the default repertoire should be ASCII; real modalities often write UTF-8 or
 * Latin-1 without saying so. Prefer valid UTF-8, else keep every byte as Latin-1.
 */
function decodeUndeclared(bytes: Uint8Array): string {
  try {
    return strictUtf8.decode(bytes);
  } catch {
    return toBuffer(bytes).toString('latin1');
  }
}

/** Decodes text bytes given the (possibly multi-valued) Specific Character Set, with ISO 2022 escapes. */
export function decodeText(bytes: Uint8Array, specificCharacterSet: readonly string[] | undefined): string {
  if (isAscii(bytes)) return toBuffer(bytes).toString('latin1');
  const terms = normalizeTerms(specificCharacterSet);
  if (terms.some((t) => t.startsWith('ISO 2022'))) return decodeIso2022(bytes, terms[0] ?? '');
  const encoding = WHOLE_VALUE[terms.find((t) => t !== '') ?? ''];
  return encoding ? iconv.decode(toBuffer(bytes), encoding) : decodeUndeclared(bytes);
}

/** Control codes and delimiters that end an escape sequence's scope (PS3.5 6.1.2.5.3). */
function isResetByte(b: number): boolean {
  return b === 0x5e || b === 0x3d || b === 0x5c || b === 0x0d || b === 0x0a || b === 0x09 || b === 0x0c;
}

function matchEscape(bytes: Uint8Array, at: number): (typeof ESCAPES)[number] | undefined {
  return ESCAPES.find((e) => e.bytes.every((b, k) => bytes[at + 1 + k] === b));
}

/** Appends decoded runs: consecutive bytes of one set are decoded together. */
class RunDecoder {
  private out = '';
  private run: number[] = [];
  private runSet: CodeSet | undefined;

  push(set: CodeSet, byteValues: number[]): void {
    if (set !== this.runSet) this.flush();
    this.runSet = set;
    if (set.prefix !== undefined) this.run.push(set.prefix);
    for (const b of byteValues) this.run.push(set.setHighBit ? b | 0x80 : b);
  }

  flush(): void {
    if (this.runSet && this.run.length) this.out += iconv.decode(Buffer.from(this.run), this.runSet.encoding);
    this.run = [];
    this.runSet = undefined;
  }

  text(): string {
    this.flush();
    return this.out;
  }
}

function decodeIso2022(bytes: Uint8Array, firstTerm: string): string {
  const [initialG0, initialG1] = initialSets(firstTerm);
  let g0 = initialG0;
  let g1 = initialG1;
  const out = new RunDecoder();
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i]!;
    if (b === 0x1b) {
      const escape = matchEscape(bytes, i);
      if (escape) {
        if (escape.g === 0) g0 = escape.set;
        else g1 = escape.set;
        i += 1 + escape.bytes.length;
        continue;
      }
    }
    const high = b >= 0x80;
    // Without a G1 set, a high byte is undeclared data: keep it readable rather than failing.
    const set = high ? (g1 ?? { encoding: 'latin1', width: 1 }) : g0;
    if (set.width === 2 && i + 1 < bytes.length && b > 0x20 && b !== 0x7f) {
      out.push(set, [b, bytes[i + 1]!]);
      i += 2;
      continue;
    }
    if (!high && isResetByte(b)) {
      g0 = initialG0;
      g1 = initialG1;
    }
    out.push(set.width === 2 ? ASCII : set, [b]);
    i += 1;
  }
  return out.text();
}

/** Encodes text for the given Specific Character Set (e.g. GB18030, ISO_IR 192). */
export function encodeText(text: string, specificCharacterSet: readonly string[] | undefined): Buffer {
  const term = normalizeTerms(specificCharacterSet).find((t) => t !== '') ?? 'ISO_IR 6';
  if (term === 'ISO_IR 6' || term === 'ISO 2022 IR 6') {
    if (/[^\p{ASCII}]/u.test(text)) throw new Error(`encodeText: text is not ASCII but the character set is ${term}`);
    return Buffer.from(text, 'latin1');
  }
  const encoding = term.startsWith('ISO 2022') ? undefined : WHOLE_VALUE[term];
  if (!encoding) throw new Error(`encodeText: unsupported Specific Character Set "${term}"`);
  const bytes = iconv.encode(text, encoding);
  // iconv-lite silently substitutes unmappable characters; a lossy write must not pass unnoticed.
  if (encoding !== 'utf8' && iconv.decode(bytes, encoding) !== text) {
    throw new Error(`encodeText: text cannot be represented in ${term}`);
  }
  return bytes;
}

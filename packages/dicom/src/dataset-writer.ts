/**
 * DICOM JSON → bytes, implicit or explicit VR little endian. Sequences use defined lengths
 * (computed bottom-up), which every reader handles and keeps the writer simple.
 */
import { LONG_LENGTH_VRS } from './file-meta.ts';
import { encodeText } from './charset.ts';
import { TRANSFER_SYNTAX, type DicomJsonDataset, type DicomJsonElement } from './types.ts';

const STRING_VRS = new Set(['AE', 'AS', 'CS', 'DA', 'DS', 'DT', 'IS', 'LO', 'LT', 'PN', 'SH', 'ST', 'TM', 'UC', 'UI', 'UR', 'UT']);
const NUMBER_WRITERS: Record<string, { size: number; write: (buf: Buffer, value: unknown, at: number) => void }> = {
  US: { size: 2, write: (b, v, at) => b.writeUInt16LE(Number(v), at) },
  SS: { size: 2, write: (b, v, at) => b.writeInt16LE(Number(v), at) },
  UL: { size: 4, write: (b, v, at) => b.writeUInt32LE(Number(v), at) },
  SL: { size: 4, write: (b, v, at) => b.writeInt32LE(Number(v), at) },
  FL: { size: 4, write: (b, v, at) => b.writeFloatLE(Number(v), at) },
  FD: { size: 8, write: (b, v, at) => b.writeDoubleLE(Number(v), at) },
  UV: { size: 8, write: (b, v, at) => b.writeBigUInt64LE(BigInt(v as string | number), at) },
  SV: { size: 8, write: (b, v, at) => b.writeBigInt64LE(BigInt(v as string | number), at) },
};
const ITEM = 0xfffee000;

interface WriteContext {
  explicit: boolean;
  utf8: boolean;
  /** text in this Specific Character Set instead of UTF-8 (encodeDataset's option) */
  charset?: string;
}

/** The VRs whose text the Specific Character Set applies to (PS3.5 6.1.2.3); the others are ASCII. */
const CHARSET_VRS = new Set(['SH', 'LO', 'ST', 'LT', 'PN', 'UC', 'UT']);

/** One element, header included. Explicit VR uses the 32-bit length form for the long VRs. */
export function encodeElement(tag: number, vr: string, value: Buffer, explicit: boolean): Buffer {
  const long = LONG_LENGTH_VRS.has(vr);
  if (explicit && !long && value.length > 0xffff) {
    throw new Error(`encodeDataset: (${tag.toString(16)}) ${vr} value of ${value.length} bytes exceeds the 65535 an explicit ${vr} can hold`);
  }
  const header = Buffer.alloc(explicit && long ? 12 : 8);
  header.writeUInt16LE(tag >>> 16, 0);
  header.writeUInt16LE(tag & 0xffff, 2);
  if (!explicit) header.writeUInt32LE(value.length, 4);
  else if (long) {
    header.write(vr, 4, 'latin1');
    header.writeUInt32LE(value.length, 8);
  } else {
    header.write(vr, 4, 'latin1');
    header.writeUInt16LE(value.length, 6);
  }
  return Buffer.concat([header, value]);
}

/** Values are padded to even length: NUL for UI, space for text, zero for binary (PS3.5 6.2). */
function padEven(value: Buffer, pad: number): Buffer {
  return value.length % 2 === 0 ? value : Buffer.concat([value, Buffer.from([pad])]);
}

function personNameText(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'string') return value;
  const name = value as { Alphabetic?: string; Ideographic?: string; Phonetic?: string };
  return [name.Alphabetic ?? '', name.Ideographic ?? '', name.Phonetic ?? ''].join('=').replace(/=+$/, '');
}

/** A Decimal String holds at most 16 characters: shorten precision until it fits. */
export function formatDecimal(value: number): string {
  if (!Number.isFinite(value)) throw new Error(`encodeDataset: ${value} cannot be written as a Decimal String`);
  let text = String(value);
  for (let precision = 15; text.length > 16 && precision > 0; precision--) {
    const [mantissa = '', exponent] = value.toPrecision(precision).split('e');
    const trimmed = mantissa.includes('.') ? mantissa.replace(/\.?0+$/, '') : mantissa;
    text = exponent ? `${trimmed}e${exponent}` : trimmed;
  }
  return text;
}

function stringText(vr: string, value: unknown): string {
  if (value === null || value === undefined) return '';
  if (vr === 'PN') return personNameText(value);
  if (typeof value === 'number') return vr === 'DS' ? formatDecimal(value) : String(value);
  return String(value);
}

function stringValue(element: DicomJsonElement, vr: string, ctx: WriteContext): Buffer {
  const text = (element.Value ?? []).map((v) => stringText(vr, v)).join('\\');
  const bytes = ctx.charset && CHARSET_VRS.has(vr) ? encodeText(text, [ctx.charset]) : Buffer.from(text, ctx.utf8 ? 'utf8' : 'latin1');
  return padEven(bytes, vr === 'UI' ? 0 : 0x20);
}

function numberValue(element: DicomJsonElement, vr: string): Buffer {
  const values = element.Value ?? [];
  if (vr === 'AT') {
    const out = Buffer.alloc(values.length * 4);
    values.forEach((v, i) => {
      const tag = Number.parseInt(String(v), 16);
      out.writeUInt16LE(tag >>> 16, i * 4);
      out.writeUInt16LE(tag & 0xffff, i * 4 + 2);
    });
    return out;
  }
  const { size, write } = NUMBER_WRITERS[vr]!;
  const out = Buffer.alloc(values.length * size);
  values.forEach((v, i) => write(out, v, i * size));
  return out;
}

/** InlineBinary is written; a BulkDataURI cannot be resolved here, so the value is left empty. */
function binaryValue(element: DicomJsonElement): Buffer {
  return padEven(element.InlineBinary ? Buffer.from(element.InlineBinary, 'base64') : Buffer.alloc(0), 0);
}

function sequenceValue(element: DicomJsonElement, ctx: WriteContext): Buffer {
  const items = (element.Value ?? []) as DicomJsonDataset[];
  return Buffer.concat(items.map((item) => encodeElement(ITEM, 'SQ', writeDataset(item ?? {}, ctx, false), false)));
}

function elementValue(element: DicomJsonElement, vr: string, ctx: WriteContext): Buffer {
  if (vr === 'SQ') return sequenceValue(element, ctx);
  if (STRING_VRS.has(vr)) return stringValue(element, vr, ctx);
  if (vr === 'AT' || NUMBER_WRITERS[vr]) return numberValue(element, vr);
  return binaryValue(element);
}

function isWritten(tag: number): boolean {
  const group = tag >>> 16;
  return group !== 0x0002 && group !== 0xfffe && (tag & 0xffff) !== 0;
}

function writeDataset(dataset: DicomJsonDataset, ctx: WriteContext, topLevel: boolean): Buffer {
  const entries = new Map<number, DicomJsonElement>();
  for (const [key, element] of Object.entries(dataset)) entries.set(Number.parseInt(key, 16), element);
  // Text goes out as UTF-8, so every character set declaration must say so; items that had
  // their own declaration get it rewritten too.
  if (ctx.utf8 && (topLevel || entries.has(0x00080005))) entries.set(0x00080005, { vr: 'CS', Value: [ctx.charset ?? 'ISO_IR 192'] });
  const chunks: Buffer[] = [];
  for (const tag of [...entries.keys()].sort((a, b) => a - b)) {
    if (!isWritten(tag)) continue;
    const element = entries.get(tag)!;
    const vr = element.vr || 'UN';
    chunks.push(encodeElement(tag, vr, elementValue(element, vr, ctx), ctx.explicit));
  }
  return Buffer.concat(chunks);
}

function hasNonAsciiText(dataset: DicomJsonDataset): boolean {
  return Object.values(dataset).some((element) => {
    if (element.vr === 'SQ') return ((element.Value ?? []) as DicomJsonDataset[]).some((item) => item && hasNonAsciiText(item));
    if (!STRING_VRS.has(element.vr)) return false;
    return (element.Value ?? []).some((v) => /[^\p{ASCII}]/u.test(stringText(element.vr, v)));
  });
}

export interface EncodeDatasetOptions {
  /**
   * a whole-value character set (GB18030, GBK) to write non-ASCII text in instead of UTF-8,
   * e.g. 'GB18030' for a modality that asked in it (a worklist answer in the request's
   * character set); throws when a text cannot be represented in it
   */
  specificCharacterSet?: string;
}

/**
 * Encodes a DICOM JSON data set (no file meta) in implicit or explicit VR little endian.
 * Text is written as UTF-8 and (0008,0005) is set to ISO_IR 192 when any text is not ASCII.
 * Used for C-FIND responses and identifiers.
 */
export function encodeDataset(dataset: DicomJsonDataset, transferSyntaxUid: string, options: EncodeDatasetOptions = {}): Buffer {
  if (transferSyntaxUid !== TRANSFER_SYNTAX.IMPLICIT_LE && transferSyntaxUid !== TRANSFER_SYNTAX.EXPLICIT_LE) {
    throw new Error(`encodeDataset: unsupported transfer syntax ${transferSyntaxUid} (implicit or explicit VR little endian only)`);
  }
  const utf8 = hasNonAsciiText(dataset);
  const charset = options.specificCharacterSet && options.specificCharacterSet !== 'ISO_IR 192' ? options.specificCharacterSet : undefined;
  const ctx: WriteContext = { explicit: transferSyntaxUid === TRANSFER_SYNTAX.EXPLICIT_LE, utf8, charset: utf8 ? charset : undefined };
  return writeDataset(dataset, ctx, true);
}

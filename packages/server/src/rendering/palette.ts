/**
 * PALETTE COLOR (PS3.3 C.7.6.3.1.5, C.7.9): one stored sample per pixel, looked up in three
 * Palette Color Lookup Tables (red, green, blue). Township ultrasound machines send most of
 * their images this way (often RLE compressed).
 *
 * Read here: the three descriptors (entries, 0 meaning 65536; first stored value mapped, US or
 * SS as the Pixel Representation says; 8 or 16 bits an entry), the tables' data (0028,1201-1203)
 * or the Segmented Palette Color LUT Data (0028,1221-1223: discrete, linear and indirect
 * segments, C.7.9.2), in either byte order. Values below the first mapped one take the first
 * entry, values above the last take the last (C.7.6.3.1.5).
 *
 * Writers disagree on 8-bit tables: PS3.3 packs two 8-bit entries in each OW word, some
 * modalities put one entry in each 16-bit word (low or high byte), and some declare 16-bit
 * entries that only hold 0..255. Each case is recognised from the data length and the values,
 * as dcmtk and pydicom do, so the colours are those the modality meant.
 */
import type { ParsedDicom } from '@yunying/dicom';

interface RawElement { length: number; dataOffset: number }
interface RawDataSet { byteArray: Uint8Array; elements: Record<string, RawElement | undefined> }

/** Three tables of 8-bit output values, indexed by stored value − firstMapped. */
export interface Palette {
  red: Uint8Array;
  green: Uint8Array;
  blue: Uint8Array;
  firstMapped: number;
}

export class PaletteError extends Error {}

const CHANNELS = [
  { name: 'red', descriptor: 'x00281101', data: 'x00281201', segmented: 'x00281221' },
  { name: 'green', descriptor: 'x00281102', data: 'x00281202', segmented: 'x00281222' },
  { name: 'blue', descriptor: 'x00281103', data: 'x00281203', segmented: 'x00281223' },
] as const;

function isRawDataSet(value: unknown): value is RawDataSet {
  return typeof value === 'object' && value !== null && 'elements' in value && 'byteArray' in value;
}

function bytesOf(dataSet: RawDataSet, element: RawElement): Uint8Array {
  return dataSet.byteArray.subarray(element.dataOffset, element.dataOffset + element.length);
}

function words(bytes: Uint8Array, littleEndian: boolean): Uint16Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Uint16Array(bytes.byteLength >> 1);
  for (let i = 0; i < out.length; i++) out[i] = view.getUint16(i * 2, littleEndian);
  return out;
}

interface Descriptor { entries: number; firstMapped: number; bits: number }

function readDescriptor(dataSet: RawDataSet, tag: string, littleEndian: boolean, signedPixels: boolean, name: string): Descriptor {
  const element = dataSet.elements[tag];
  if (!element || element.length < 6) throw new PaletteError(`the ${name} palette descriptor is missing`);
  const [count, first, bits] = words(bytesOf(dataSet, element).subarray(0, 6), littleEndian) as unknown as [number, number, number];
  // the first mapped value is SS when pixels are signed (C.7.6.3.1.5)
  const firstMapped = signedPixels && first >= 0x8000 ? first - 0x10000 : first;
  return { entries: count === 0 ? 65536 : count, firstMapped, bits };
}

/** Expands Segmented Palette Color LUT Data (PS3.3 C.7.9.2) into entry values. */
export function expandSegmented(data: ArrayLike<number>, maxEntries = 65536): number[] {
  const out: number[] = [];
  const expand = (start: number, end: number, segmentLimit: number, depth: number): void => {
    if (depth > 4) throw new PaletteError('segmented palette: indirect segments nest too deeply');
    let at = start;
    let segments = 0;
    while (at < end && segments < segmentLimit) {
      const opcode = data[at]!;
      const length = data[at + 1];
      if (length === undefined) throw new PaletteError('segmented palette: a segment is cut short');
      if (out.length + (opcode === 2 ? 0 : length) > maxEntries) throw new PaletteError('segmented palette: more entries than the descriptor allows');
      if (opcode === 0) {
        // discrete: `length` values follow
        if (at + 2 + length > end) throw new PaletteError('segmented palette: a discrete segment is cut short');
        for (let i = 0; i < length; i++) out.push(data[at + 2 + i]!);
        at += 2 + length;
      } else if (opcode === 1) {
        // linear: from the previous segment's last value to the end value, over `length` entries
        if (out.length === 0) throw new PaletteError('segmented palette: a linear segment cannot come first');
        const y0 = out[out.length - 1]!;
        const y1 = data[at + 2]!;
        for (let i = 1; i <= length; i++) out.push(Math.round(y0 + ((y1 - y0) * i) / length));
        at += 3;
      } else if (opcode === 2) {
        // indirect: `length` segments copied from a word offset (least significant word first)
        if (at + 3 >= end) throw new PaletteError('segmented palette: an indirect segment is cut short');
        const offset = data[at + 2]! + data[at + 3]! * 0x10000;
        if (offset >= start && offset <= at) expand(offset, end, length, depth + 1);
        else throw new PaletteError('segmented palette: an indirect segment points outside the earlier segments');
        at += 4;
      } else throw new PaletteError(`segmented palette: unknown segment type ${opcode}`);
      segments++;
    }
  };
  expand(0, data.length, Infinity, 0);
  return out;
}

/** The entry values of one table, before scaling to 8 bits. */
function tableValues(dataSet: RawDataSet, channel: (typeof CHANNELS)[number], descriptor: Descriptor, littleEndian: boolean): { values: ArrayLike<number>; bits: number } {
  const plain = dataSet.elements[channel.data];
  const segmented = dataSet.elements[channel.segmented];
  if (plain && plain.length > 0) {
    const bytes = bytesOf(dataSet, plain);
    if (descriptor.bits <= 8 && bytes.length < descriptor.entries * 2) return { values: bytes, bits: 8 }; // two entries a word
    const values = words(bytes, littleEndian);
    if (descriptor.bits <= 8) {
      // one 8-bit entry a word: in the low byte, or (some writers) the high one
      const highByte = values.some((v) => v > 0xff);
      return { values: highByte ? values.map((v) => v >> 8) : values, bits: 8 };
    }
    return { values, bits: 16 };
  }
  if (segmented && segmented.length > 0) {
    const bytes = bytesOf(dataSet, segmented);
    const data = descriptor.bits <= 8 && bytes.length < descriptor.entries * 2 ? bytes : words(bytes, littleEndian);
    return { values: expandSegmented(data, descriptor.entries), bits: descriptor.bits <= 8 ? 8 : 16 };
  }
  throw new PaletteError(`the ${channel.name} palette has no data`);
}

function to8Bit(values: ArrayLike<number>, bits: number, entries: number): Uint8Array {
  const out = new Uint8Array(entries);
  let max = 0;
  for (let i = 0; i < Math.min(values.length, entries); i++) max = Math.max(max, values[i]!);
  // a "16-bit" table whose values never pass 255 was written with 8-bit values
  const shift = bits > 8 && max > 0xff ? 8 : 0;
  for (let i = 0; i < entries; i++) out[i] = Math.min(255, (values[Math.min(i, values.length - 1)] ?? 0) >> shift);
  return out;
}

/** The palette of an instance, or a PaletteError saying what is missing or malformed. */
export function readPalette(parsed: ParsedDicom, signedPixels: boolean): Palette {
  if (!isRawDataSet(parsed.raw)) throw new PaletteError('the parsed data set does not expose its elements');
  const dataSet = parsed.raw;
  const littleEndian = parsed.transferSyntaxUid !== '1.2.840.10008.1.2.2';
  const tables = CHANNELS.map((channel) => {
    const descriptor = readDescriptor(dataSet, channel.descriptor, littleEndian, signedPixels, channel.name);
    const { values, bits } = tableValues(dataSet, channel, descriptor, littleEndian);
    if (values.length === 0) throw new PaletteError(`the ${channel.name} palette is empty`);
    return { descriptor, table: to8Bit(values, bits, descriptor.entries) };
  });
  return { red: tables[0]!.table, green: tables[1]!.table, blue: tables[2]!.table, firstMapped: tables[0]!.descriptor.firstMapped };
}

/**
 * Stored samples (already masked and sign-extended by the caller's reader) → interleaved RGB.
 * `sample(i)` returns the stored value of pixel i.
 */
export function applyPalette(palette: Palette, pixels: number, sample: (i: number) => number): Uint8Array {
  const out = new Uint8Array(pixels * 3);
  const { red, green, blue, firstMapped } = palette;
  const last = [red.length - 1, green.length - 1, blue.length - 1] as const;
  for (let i = 0; i < pixels; i++) {
    const index = sample(i) - firstMapped;
    out[i * 3] = red[index < 0 ? 0 : index > last[0] ? last[0] : index]!;
    out[i * 3 + 1] = green[index < 0 ? 0 : index > last[1] ? last[1] : index]!;
    out[i * 3 + 2] = blue[index < 0 ? 0 : index > last[2] ? last[2] : index]!;
  }
  return out;
}

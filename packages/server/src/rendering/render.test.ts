import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { buildPart10, encodeDataset, parseDicom, TRANSFER_SYNTAX, type DicomJsonDataset } from '@yunying/dicom';
import { runTool } from '@yunying/testing/dcmtk';
import { samplePath } from '@yunying/testing/samples';
import { newUid } from '@yunying/testing/synthetic-dicom';
import { YunyingError } from '../errors.ts';
import { parseWindowParam, renderFrame } from './render.ts';
import { expandSegmented, PaletteError } from './palette.ts';
import { sample } from '../dicomweb/test-support.ts';

async function pixels(file: string, frame = 1): Promise<Buffer> {
  const rendered = await renderFrame(parseDicom(await sample(file)), { frame, format: 'png' });
  return sharp(rendered.body).raw().toBuffer();
}

test('the same image renders identically from native LE, big endian and RLE', async () => {
  const reference = await pixels('transfer-syntax/ct-same-image/ct_1.2.840.10008.1.2_implicit-vr-le.dcm');
  for (const variant of ['ct_1.2.840.10008.1.2.1_explicit-vr-le.dcm', 'ct_1.2.840.10008.1.2.2_explicit-vr-be.dcm', 'ct_1.2.840.10008.1.2.5_rle.dcm']) {
    assert.ok((await pixels(`transfer-syntax/ct-same-image/${variant}`)).equals(reference), variant);
  }
  const rgb = await pixels('color/SC_rgb.dcm');
  for (const variant of ['color/SC_rgb_expb.dcm', 'transfer-syntax/other/SC_rgb_rle.dcm', 'transfer-syntax/other/SC_rgb_rle_16bit.dcm']) {
    assert.ok((await pixels(variant)).equals(rgb), variant);
  }
});

test('JPEG baseline frames decode in the workers; YBR converts to RGB', async () => {
  const jpeg = await renderFrame(parseDicom(await sample('modality/xa/XA_multiframe_96f_jpeg.dcm')), { frame: 96, format: 'jpeg', fit: { width: 128, height: 128 } });
  const meta = await sharp(jpeg.body).metadata();
  assert.equal(meta.width, 128);
  const ybr = await pixels('color/SC_ybr_full_uncompressed.dcm');
  const rgb = await pixels('color/SC_rgb.dcm');
  let maxDiff = 0;
  for (let i = 0; i < rgb.length; i++) maxDiff = Math.max(maxDiff, Math.abs(rgb[i]! - ybr[i]!));
  assert.ok(maxDiff <= 8, `YBR_FULL vs RGB differ by ${maxDiff}`);
});

test('window parameter parsing; frames out of range are 404', async () => {
  const parsed = parseDicom(await sample('transfer-syntax/mr-small/MR_small.dcm'));
  const window = { center: 600, width: 1200, fn: 'linear' as const };
  const normal = await renderFrame(parsed, { frame: 1, format: 'png', window });
  assert.ok(normal.body.length > 0);
  await assert.rejects(renderFrame(parsed, { frame: 2, format: 'png' }), (e: unknown) => e instanceof YunyingError && e.httpStatus === 404);
  assert.deepEqual(parseWindowParam('40,400'), { center: 40, width: 400, fn: 'linear' });
  assert.deepEqual(parseWindowParam('40,400,SIGMOID'), { center: 40, width: 400, fn: 'sigmoid' });
  assert.throws(() => parseWindowParam('40,0,linear'), YunyingError);
  assert.throws(() => parseWindowParam('40,400,cubic'), YunyingError);
});

// ---------------------------------------------------------------- PALETTE COLOR

/** dcmtk's own rendering of one frame (dcm2pnm, no VOI: palette images have none) as raw RGB. */
async function dcmtkRgb(file: string, frame = 1): Promise<Buffer> {
  const dir = await mkdtemp(path.join(tmpdir(), 'yunying-palette-'));
  try {
    const out = path.join(dir, 'frame.png');
    const result = await runTool('dcm2pnm', ['--write-png', '--frame', String(frame), file, out]);
    assert.equal(result.code, 0, result.stderr);
    return await sharp(out).removeAlpha().raw().toBuffer();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function ourRgb(bytes: Uint8Array, frame = 1): Promise<{ data: Buffer; width: number; height: number }> {
  const rendered = await renderFrame(parseDicom(bytes), { frame, format: 'png' });
  const { data, info } = await sharp(rendered.body).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  assert.equal(info.channels, 3, 'a palette image renders in colour');
  return { data, width: info.width, height: info.height };
}

function assertSamePixels(actual: Buffer, expected: Buffer, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: size`);
  let differing = 0;
  for (let i = 0; i < actual.length; i++) if (actual[i] !== expected[i]) differing++;
  assert.equal(differing, 0, `${what}: ${differing} samples differ from dcmtk`);
}

test('PALETTE COLOR samples render pixel for pixel as dcmtk renders them (8- and 16-bit entries, RLE, multi-frame)', async () => {
  const cases: Array<[string, number]> = [
    ['color/TestPattern_Palette.dcm', 1], // 8-bit entries, two to an OW word
    ['color/TestPattern_Palette_16.dcm', 1], // 16-bit entries
    ['modality/us/US_multiframe_10f_palette_rle.dcm', 1], // township-style US: RLE, multi-frame
    ['modality/us/US_multiframe_10f_palette_rle.dcm', 7],
    ['malformed/us_palette_no_pixel_spacing.dcm', 1],
  ];
  for (const [file, frame] of cases) {
    const ours = await ourRgb(await sample(file), frame);
    assertSamePixels(ours.data, await dcmtkRgb(samplePath(file), frame), `${file} frame ${frame}`);
    // not a gray picture: the palette's colours are there
    let colourful = 0;
    for (let i = 0; i < ours.data.length; i += 3) if (ours.data[i] !== ours.data[i + 1] || ours.data[i + 1] !== ours.data[i + 2]) colourful++;
    assert.ok(colourful > 0 || file.includes('US_multiframe'), `${file}: only gray pixels`);
  }
});

/** A generated PALETTE COLOR image: 16 bits allocated, 12 stored, a first mapped value of 100. */
function paletteInstance(tables: { red: DicomJsonDataset; green: DicomJsonDataset; blue: DicomJsonDataset }, pixels: number[], columns: number): Buffer {
  const sopInstanceUid = newUid();
  const values = Uint16Array.from(pixels);
  const dataset: DicomJsonDataset = {
    '00080016': { vr: 'UI', Value: ['1.2.840.10008.5.1.4.1.1.7'] },
    '00080018': { vr: 'UI', Value: [sopInstanceUid] },
    '0020000D': { vr: 'UI', Value: [newUid()] },
    '0020000E': { vr: 'UI', Value: [newUid()] },
    '00280002': { vr: 'US', Value: [1] },
    '00280004': { vr: 'CS', Value: ['PALETTE COLOR'] },
    '00280010': { vr: 'US', Value: [pixels.length / columns] },
    '00280011': { vr: 'US', Value: [columns] },
    '00280100': { vr: 'US', Value: [16] },
    '00280101': { vr: 'US', Value: [12] },
    '00280102': { vr: 'US', Value: [11] },
    '00280103': { vr: 'US', Value: [0] },
    ...tables.red,
    ...tables.green,
    ...tables.blue,
    '7FE00010': { vr: 'OW', InlineBinary: Buffer.from(values.buffer).toString('base64') },
  };
  const body = encodeDataset(dataset, TRANSFER_SYNTAX.EXPLICIT_LE);
  return buildPart10(body, { transferSyntaxUid: TRANSFER_SYNTAX.EXPLICIT_LE, sopClassUid: '1.2.840.10008.5.1.4.1.1.7', sopInstanceUid });
}

const words = (values: number[]): string => Buffer.from(Uint16Array.from(values).buffer).toString('base64');

test('RGB JPEG without a colour transform keeps its colours (not libjpeg\'s YCbCr guess), as dcmtk decodes it', async () => {
  const file = 'transfer-syntax/other/SC_jpeg_baseline_rgb_no_color_transform.dcm';
  const rendered = await renderFrame(parseDicom(await sample(file)), { frame: 1, format: 'png' });
  const ours = await sharp(rendered.body).removeAlpha().raw().toBuffer();
  const dir = await mkdtemp(path.join(tmpdir(), 'yunying-jpeg-'));
  try {
    const out = path.join(dir, 'frame.png');
    const result = await runTool('dcmj2pnm', ['--write-png', samplePath(file), out]);
    assert.equal(result.code, 0, result.stderr);
    assertSamePixels(ours, await sharp(out).removeAlpha().raw().toBuffer(), file);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a generated palette: segmented red (discrete, linear, indirect), 8-bit entries one to a word, out-of-range values clamp', async () => {
  const first = 100;
  // red: 4 discrete entries, a linear ramp of 4 to 0xFFFF, then an indirect copy of both: 16 entries
  const redSegments = [0, 4, 0x0000, 0x4000, 0x8000, 0xc000, 1, 4, 0xffff, 2, 2, 0, 0];
  const green = Array.from({ length: 16 }, (_, i) => i * 16); // 8-bit entries, one to a 16-bit word
  const blue = Array.from({ length: 16 }, (_, i) => (15 - i) * 0x1111); // 16-bit entries
  const tables = {
    red: { '00281101': { vr: 'US', Value: [16, first, 16] }, '00281221': { vr: 'OW', InlineBinary: words(redSegments) } },
    green: { '00281102': { vr: 'US', Value: [16, first, 8] }, '00281202': { vr: 'OW', InlineBinary: words(green) } },
    blue: { '00281103': { vr: 'US', Value: [16, first, 16] }, '00281203': { vr: 'OW', InlineBinary: words(blue) } },
  } satisfies Record<string, DicomJsonDataset>;
  // below the first mapped value, each entry once, above the last; 0xF064 is 100 once masked to 12 bits
  const pixels = [0, ...Array.from({ length: 16 }, (_, i) => first + i), 4095, 0xf064, first + 3];
  const bytes = paletteInstance(tables, pixels, 4);
  const ours = await ourRgb(bytes);
  const rgb = (i: number) => [...ours.data.subarray(i * 3, i * 3 + 3)];
  // the expanded red table: 0, 0x40, 0x80, 0xC0, the ramp C0→FF, then the same 8 again
  const ramp = [1, 2, 3, 4].map((k) => Math.round(0xc000 + ((0xffff - 0xc000) * k) / 4) >> 8);
  const red = [0x00, 0x40, 0x80, 0xc0, ...ramp, 0x00, 0x40, 0x80, 0xc0, ...ramp];
  assert.deepEqual(rgb(0), [red[0], green[0], blue[0]! >> 8], 'below the first mapped value: the first entry');
  for (let i = 0; i < 16; i++) assert.deepEqual(rgb(1 + i), [red[i], green[i], blue[i]! >> 8], `entry ${i}`);
  assert.deepEqual(rgb(17), [red[15], green[15], blue[15]! >> 8], 'above the last entry: the last entry');
  assert.deepEqual(rgb(18), rgb(1), 'bits above Bits Stored are not part of the value');
  // dcmtk reads neither segmented tables ("not yet supported") nor 8-bit entries one to a word
  // (it takes their high byte: black), and scales tables of mixed depths to the deepest: the
  // same palette as three plain 16-bit tables renders identically here and there
  const conformant = {
    ...tables,
    red: { '00281101': { vr: 'US', Value: [16, first, 16] }, '00281201': { vr: 'OW', InlineBinary: words(red.map((v) => v << 8)) } },
    green: { '00281102': { vr: 'US', Value: [16, first, 16] }, '00281202': { vr: 'OW', InlineBinary: words(green.map((v) => v << 8)) } },
  };
  const plain = paletteInstance(conformant, pixels, 4);
  assertSamePixels((await ourRgb(plain)).data, ours.data, 'segmented and plain tables');
  const dir = await mkdtemp(path.join(tmpdir(), 'yunying-palette-'));
  try {
    const file = path.join(dir, 'palette.dcm');
    await writeFile(file, plain);
    assertSamePixels(ours.data, await dcmtkRgb(file), 'generated palette');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('expandSegmented: the three segment types, and malformed data refused', () => {
  assert.deepEqual(expandSegmented([0, 2, 10, 20, 1, 2, 40]), [10, 20, 30, 40]);
  assert.deepEqual(expandSegmented([0, 1, 5, 1, 1, 7, 2, 2, 0, 0]), [5, 7, 5, 7]);
  assert.throws(() => expandSegmented([1, 2, 40]), PaletteError, 'a linear segment needs a previous value');
  assert.throws(() => expandSegmented([0, 5, 1]), PaletteError, 'cut short');
  assert.throws(() => expandSegmented([0, 1, 5, 2, 1, 40, 0]), PaletteError, 'an indirect segment pointing forward');
  assert.throws(() => expandSegmented([7, 1, 5]), PaletteError, 'unknown opcode');
});

test('a palette image without its tables answers 406, not a gray picture', async () => {
  const bytes = paletteInstance({ red: {}, green: {}, blue: {} }, [1, 2, 3, 4], 2);
  await assert.rejects(renderFrame(parseDicom(bytes), { frame: 1, format: 'png' }), (e: unknown) => e instanceof YunyingError && e.httpStatus === 406 && /palette/.test(e.message));
});

/**
 * The transcoder against dcmtk on the shared samples: every lossless sample decompressed by us
 * and by dcmdjpeg / dcmdjpls / dcmdrle / dcmconv +te must give the same Pixel Data bytes; lossy
 * DCT JPEG within ±1 of dcmdjpeg (see TOLERANCE); JPEG 2000 / HTJ2K (dcmtk has no decoder)
 * against the uncompressed original of the same image. Everything but the pixel description
 * keeps its values (DICOM JSON of source and result compared), big endian included.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { getPixelDataInfo, parseDicom, toDicomJson, type DicomJsonDataset, type PixelDataInfo } from '@yunying/dicom';
import { readManifest, samplePath } from '@yunying/testing/samples';
import { YunyingError } from '../errors.ts';
import { FrameDecoderPool } from '../rendering/frame-decoder.ts';
import { jpegJsLevelShiftFixed } from '../rendering/codecs.ts';
import { sharedTranscoder } from './index.ts';
import { PooledTranscoder } from './transcoder.ts';

const EXPLICIT_LE = '1.2.840.10008.1.2.1';
const IMPLICIT_LE = '1.2.840.10008.1.2';

const pool = new FrameDecoderPool({ size: 2 });
after(() => pool.close());
const transcoder = new PooledTranscoder({ decoder: () => pool });
const scratch = mkdtempSync(path.join(tmpdir(), 'yunying-transcode-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

interface Entry { file: string; ts: string; frames: number }
const manifest: Entry[] = readManifest().map((row) => ({ file: row.path, ts: row.transfer_syntax_uid ?? '', frames: Number(row.number_of_frames) || 0 }));

/** The dcmtk tool that writes a sample's syntax as Explicit VR Little Endian. */
function dcmtkTool(ts: string): string[] | undefined {
  if (/^1\.2\.840\.10008\.1\.2\.4\.(5\d|70)$/.test(ts)) return ['dcmdjpeg'];
  if (/^1\.2\.840\.10008\.1\.2\.4\.8[01]$/.test(ts)) return ['dcmdjpls'];
  if (ts === '1.2.840.10008.1.2.5') return ['dcmdrle'];
  if (ts === '1.2.840.10008.1.2.1.99' || ts === '1.2.840.10008.1.2.2' || ts === IMPLICIT_LE) return ['dcmconv', '+te'];
  return undefined;
}

/**
 * Largest difference from dcmtk allowed per sample value. 0 for every lossless syntax. DCT JPEG
 * is lossy and the IDCT is not standardised bit-exactly: 8-bit (libjpeg-turbo, islow) matches
 * dcmtk's IJG libjpeg exactly on every sample; 12-bit (the dicom-image-loader's jpeg.js, a
 * different fixed-point IDCT; loaded with its level shift and progressive refinement fixed,
 * codecs.ts) is within ±1 of dcmdjpeg (≈5 % of samples differ by 1), progressive included.
 */
const TOLERANCE = new Map<string, number>([
  ['1.2.840.10008.1.2.4.51', 1], ['1.2.840.10008.1.2.4.53', 1], ['1.2.840.10008.1.2.4.55', 1],
]);
/** dcmtk refuses these; ours must still answer, decoded or with a clear error. */
const DCMTK_REFUSES = new Set(['transfer-syntax/other/JLSL_08_07_0_1F.dcm', 'malformed/encapsulated_missing_sequence_delimiter.dcm']);
/** Broken on purpose: an error, never a crash. */
const EXPECTED_FAILURES = new Set(['malformed/j2k_fragment_contains_delimiter_bytes.dcm', 'malformed/bad_private_sequence_odd_length.dcm']);
/** Decoded but not compared with dcmtk (none at present). */
const NOT_COMPARED = new Set<string>();

const comparable = manifest.filter((e) => e.frames > 0 && dcmtkTool(e.ts) && !EXPECTED_FAILURES.has(e.file));

function pixelsOf(bytes: Uint8Array): { info: PixelDataInfo; data: Uint8Array; vr: string | undefined } {
  const parsed = parseDicom(bytes);
  const el = (parsed.raw as { elements: Record<string, { dataOffset: number; length: number; vr?: string }>; byteArray: Uint8Array }).elements.x7fe00010!;
  const raw = parsed.raw as { byteArray: Uint8Array };
  return { info: getPixelDataInfo(parsed)!, data: raw.byteArray.subarray(el.dataOffset, el.dataOffset + el.length), vr: el.vr };
}

/** dcmtk's planar-configuration-1 output made interleaved, frame by frame, to compare with ours (always 0). */
function interleaved(data: Uint8Array, info: PixelDataInfo): Uint8Array {
  if (info.planarConfiguration !== 1 || info.samplesPerPixel < 2) return data;
  const bps = info.bitsAllocated / 8;
  const pixels = info.rows * info.columns;
  const frameBytes = pixels * info.samplesPerPixel * bps;
  const out = new Uint8Array(data.length);
  for (let f = 0; (f + 1) * frameBytes <= data.length; f++) {
    for (let c = 0; c < info.samplesPerPixel; c++) {
      for (let p = 0; p < pixels; p++) {
        for (let k = 0; k < bps; k++) out[f * frameBytes + (p * info.samplesPerPixel + c) * bps + k] = data[f * frameBytes + c * pixels * bps + p * bps + k]!;
      }
    }
  }
  return out;
}

/** Largest per-sample difference (samples of Bits Allocated). */
function maxSampleDiff(a: Uint8Array, b: Uint8Array, bitsAllocated: number): number {
  assert.equal(a.length, b.length, 'Pixel Data lengths');
  const wide = bitsAllocated > 8;
  let max = 0;
  for (let i = 0; i < a.length; i += wide ? 2 : 1) {
    const x = wide ? a[i]! | (a[i + 1]! << 8) : a[i]!;
    const y = wide ? b[i]! | (b[i + 1]! << 8) : b[i]!;
    if (x !== y) max = Math.max(max, Math.abs(x - y));
  }
  return max;
}

function dcmtkDecoded(entry: Entry): Uint8Array {
  const [tool, ...args] = dcmtkTool(entry.ts)!;
  const out = path.join(scratch, entry.file.replace(/\//g, '_'));
  execFileSync(tool!, [...args, samplePath(entry.file), out], { stdio: 'pipe' });
  return readFileSync(out);
}

/** The data set without what decoding may change (pixel description, Pixel Data, group lengths). */
function comparableJson(bytes: Uint8Array): DicomJsonDataset {
  const json = toDicomJson(parseDicom(bytes), { inlineBinaryMaxBytes: 1 << 20 });
  for (const tag of ['00280004', '00280006', '00282110', '00282114', '7FE00010', '7FE00001', '7FE00002', '00080005']) delete json[tag];
  return json;
}

describe('decompressed Pixel Data equals dcmtk’s on every sample', () => {
  for (const entry of comparable) {
    test(`${entry.file} (${entry.ts})`, async () => {
      const source = readFileSync(samplePath(entry.file));
      const ours = await transcoder.transcodePart10(source, EXPLICIT_LE);
      const mine = pixelsOf(ours);
      assert.equal(parseDicom(ours).transferSyntaxUid, EXPLICIT_LE);
      if (DCMTK_REFUSES.has(entry.file) || NOT_COMPARED.has(entry.file)) return;
      const theirs = pixelsOf(dcmtkDecoded(entry));
      const encapsulated = !dcmtkTool(entry.ts)![0]!.startsWith('dcmconv');
      const reference = encapsulated ? interleaved(theirs.data, theirs.info) : theirs.data;
      assert.equal(maxSampleDiff(mine.data, reference, mine.info.bitsAllocated) <= (TOLERANCE.get(entry.ts) ?? 0), true, `within ${TOLERANCE.get(entry.ts) ?? 0} of dcmtk`);
      assert.equal(mine.info.photometricInterpretation, theirs.info.photometricInterpretation, 'PhotometricInterpretation as dcmtk writes it');
      if (mine.info.samplesPerPixel > 1 && encapsulated) assert.equal(mine.info.planarConfiguration, 0);
      assert.equal(mine.vr, mine.info.bitsAllocated > 8 ? 'OW' : mine.vr === 'OB' || mine.vr === 'OW' ? mine.vr : 'invalid VR');
      assert.deepEqual(comparableJson(ours), comparableJson(source), 'every other attribute keeps its value');
    });
  }
});

describe('JPEG 2000 and HTJ2K decode to the uncompressed original of the same image', () => {
  const pairs: Array<[string, string]> = [
    ['transfer-syntax/ct-same-image/ct_1.2.840.10008.1.2.4.90_j2k-lossless.dcm', 'transfer-syntax/ct-same-image/ct_1.2.840.10008.1.2.1_explicit-vr-le.dcm'],
    ['transfer-syntax/mr-small/MR_small_jp2klossless.dcm', 'transfer-syntax/mr-small/MR_small.dcm'],
  ];
  for (const [compressed, original] of pairs) {
    test(compressed, async () => {
      const ours = pixelsOf(await transcoder.transcodePart10(readFileSync(samplePath(compressed)), EXPLICIT_LE));
      const reference = pixelsOf(readFileSync(samplePath(original)));
      assert.equal(maxSampleDiff(ours.data, reference.data, ours.info.bitsAllocated), 0);
    });
  }
  test('lossy JPEG 2000 stays near the original and says it is lossy', async () => {
    const bytes = await transcoder.transcodePart10(readFileSync(samplePath('transfer-syntax/ct-same-image/ct_1.2.840.10008.1.2.4.91_j2k-lossy.dcm')), EXPLICIT_LE);
    const reference = pixelsOf(readFileSync(samplePath('transfer-syntax/ct-same-image/ct_1.2.840.10008.1.2.1_explicit-vr-le.dcm')));
    const ours = new Int16Array(Uint8Array.from(pixelsOf(bytes).data).buffer);
    const original = new Int16Array(Uint8Array.from(reference.data).buffer);
    let sum = 0;
    for (let i = 0; i < ours.length; i++) sum += Math.abs(ours[i]! - original[i]!);
    assert.ok(sum / ours.length < 8, `mean difference ${sum / ours.length}`);
    assert.equal(toDicomJson(parseDicom(bytes))['00282110']?.Value?.[0], '01');
  });
  test('HTJ2K lossless and lossy of the same RGB picture agree; YBR_ICT/RCT become RGB', async () => {
    const lossless = pixelsOf(await transcoder.transcodePart10(readFileSync(samplePath('transfer-syntax/other/HTJ2KLossless_08_RGB.dcm')), EXPLICIT_LE));
    const lossy = pixelsOf(await transcoder.transcodePart10(readFileSync(samplePath('transfer-syntax/other/HTJ2K_08_RGB.dcm')), EXPLICIT_LE));
    assert.equal(lossless.info.photometricInterpretation, 'RGB');
    assert.equal(lossless.info.planarConfiguration, 0);
    let sum = 0;
    for (let i = 0; i < lossless.data.length; i++) sum += Math.abs(lossless.data[i]! - lossy.data[i]!);
    assert.ok(sum / lossless.data.length < 4, `mean difference ${sum / lossless.data.length}`);
    const ict = pixelsOf(await transcoder.transcodePart10(readFileSync(samplePath('modality/us/US1_J2KI_rgb.dcm')), EXPLICIT_LE));
    assert.equal(ict.info.photometricInterpretation, 'RGB');
  });
  test('every other J2K sample decodes', async () => {
    for (const entry of manifest.filter((e) => e.frames > 0 && /\.4\.(9[0-3]|20[1-3])$/.test(e.ts) && !EXPECTED_FAILURES.has(e.file))) {
      const bytes = await transcoder.transcodePart10(readFileSync(samplePath(entry.file)), EXPLICIT_LE);
      const { info, data } = pixelsOf(bytes);
      assert.ok(data.length >= info.rows * info.columns * info.samplesPerPixel * info.numberOfFrames * (info.bitsAllocated > 8 ? 2 : 1), entry.file);
    }
  });
});

describe('JPEG XL (libjxl)', () => {
  test('a JPEG-recompressed multi-frame ultrasound decodes every frame to RGB, lossy', async () => {
    const bytes = await transcoder.transcodePart10(readFileSync(samplePath('transfer-syntax/other/will-jxl_jpegxl_us-multiframe.dcm')), EXPLICIT_LE);
    const { info, data } = pixelsOf(bytes);
    assert.equal(info.photometricInterpretation, 'RGB');
    assert.equal(info.planarConfiguration, 0);
    assert.equal(data.length, info.rows * info.columns * 3 * info.numberOfFrames);
    assert.equal(toDicomJson(parseDicom(bytes))['00282110']?.Value?.[0], '01');
    // an ultrasound sector: dark corners, a bright middle, colour somewhere (the Doppler box)
    const at = (x: number, y: number) => data.subarray((y * info.columns + x) * 3, (y * info.columns + x) * 3 + 3);
    assert.ok(Math.max(...at(2, info.rows - 2)) < 40, 'a dark corner');
    let coloured = 0;
    for (let i = 0; i < info.rows * info.columns * 3; i += 3) if (Math.abs(data[i]! - data[i + 2]!) > 60) coloured++;
    assert.ok(coloured > 1000, `${coloured} coloured pixels`);
  });
});

describe('the data set around the pixels', () => {
  test('implicit VR LE out: the same attributes, readable by dcmtk', async () => {
    for (const file of ['color/TestPattern_JPEG-Baseline_YBR422.dcm', 'transfer-syntax/mr-small/MR_small_bigendian.dcm', 'modality/pt/PT_jpeg_lossless_private_nested_sq.dcm']) {
      const source = readFileSync(samplePath(file));
      const out = await transcoder.transcodePart10(source, IMPLICIT_LE);
      assert.equal(parseDicom(out).transferSyntaxUid, IMPLICIT_LE);
      const json = comparableJson(out);
      const expected = comparableJson(source);
      // implicit VR: private elements lose their VR (UN), standard ones keep theirs
      for (const [tag, element] of Object.entries(expected)) if (Number.parseInt(tag.slice(0, 4), 16) % 2 === 0) assert.deepEqual(json[tag], element, `${file} ${tag}`);
      const target = path.join(scratch, `implicit-${path.basename(file)}`);
      execFileSync('sh', ['-c', `cat > ${target}`], { input: out });
      execFileSync('dcmdump', ['-q', '+E', target], { stdio: 'pipe' });
    }
  });
  test('a GB18030 instance keeps its character set and bytes (not re-encoded)', async () => {
    const source = readFileSync(samplePath('charset/chrX2_GB18030_patientsex_chinese.dcm'));
    const out = await transcoder.transcodePart10(source, IMPLICIT_LE);
    assert.deepEqual(toDicomJson(parseDicom(out))['00080005'], toDicomJson(parseDicom(source))['00080005']);
    assert.deepEqual(comparableJson(out)['00100010'], comparableJson(source)['00100010']);
  });
  test('YBR_FULL_422 baseline JPEG: RGB, interleaved, lossy stays lossy, one Pixel Data of every frame', async () => {
    const bytes = await transcoder.transcodePart10(readFileSync(samplePath('modality/us/US_multiframe_30f_ybr422_jpeg.dcm')), EXPLICIT_LE);
    const json = toDicomJson(parseDicom(bytes));
    const { info, data } = pixelsOf(bytes);
    assert.equal(info.photometricInterpretation, 'RGB');
    assert.equal(json['00280006']?.Value?.[0], 0);
    assert.equal(json['00282110']?.Value?.[0], '01');
    assert.equal(data.length, info.rows * info.columns * 3 * 30);
  });
  test('an instance already in the target syntax comes back unchanged; deflate out inflates to the same', async () => {
    const source = readFileSync(samplePath('transfer-syntax/ct-same-image/ct_1.2.840.10008.1.2.1_explicit-vr-le.dcm'));
    assert.equal(await transcoder.transcodePart10(source, EXPLICIT_LE), source);
    const deflated = await transcoder.transcodePart10(source, '1.2.840.10008.1.2.1.99');
    assert.ok(deflated.length < source.length);
    assert.deepEqual(pixelsOf(deflated).data, pixelsOf(source).data);
  });
  test('decodeFrameNative gives the frame as it sits in the Explicit VR LE Pixel Data', async () => {
    const source = readFileSync(samplePath('multiframe/CT0012_fragmented_no_bot_jpeg_sv1.dcm'));
    const whole = pixelsOf(await transcoder.transcodePart10(source, EXPLICIT_LE));
    const frameBytes = whole.info.rows * whole.info.columns * 2;
    const second = await transcoder.decodeFrameNative(parseDicom(source), 2);
    assert.deepEqual(Buffer.from(second), Buffer.from(whole.data.subarray(frameBytes, 2 * frameBytes)));
    const big = readFileSync(samplePath('transfer-syntax/mr-small/MR_small_bigendian.dcm'));
    const little = pixelsOf(readFileSync(samplePath('transfer-syntax/mr-small/MR_small.dcm')));
    assert.deepEqual(Buffer.from(await transcoder.decodeFrameNative(parseDicom(big), 1)), Buffer.from(little.data));
    await assert.rejects(transcoder.decodeFrameNative(parseDicom(source), 99), (e: unknown) => e instanceof YunyingError && e.code === 'NOT_FOUND');
  });
  test('canTranscode: native targets from every decodable syntax; not to compressed syntaxes, not from video', () => {
    assert.equal(transcoder.canTranscode('1.2.840.10008.1.2.4.50', EXPLICIT_LE), true);
    assert.equal(transcoder.canTranscode('1.2.840.10008.1.2.5', IMPLICIT_LE), true);
    assert.equal(transcoder.canTranscode('1.2.840.10008.1.2.2', EXPLICIT_LE), true);
    assert.equal(transcoder.canTranscode('1.2.840.10008.1.2.4.102', EXPLICIT_LE), false);
    assert.equal(transcoder.canTranscode(EXPLICIT_LE, '1.2.840.10008.1.2.4.50'), false);
    assert.equal(transcoder.canTranscode('1.2.840.10008.1.2.4.50', '1.2.840.10008.1.2.4.50'), true);
  });
  test('the shared transcoder works without installTranscoder', async () => {
    const source = readFileSync(samplePath('transfer-syntax/mr-small/MR_small_RLE.dcm'));
    const out = await sharedTranscoder().transcodePart10(source, EXPLICIT_LE);
    assert.equal(parseDicom(out).transferSyntaxUid, EXPLICIT_LE);
  });
  test('jpeg.js’s 12-bit level shift is the one corrected (a newer loader would need the tolerance re-checked)', async () => {
    assert.equal(await jpegJsLevelShiftFixed(), true);
  });
});

describe('errors, never a crash', () => {
  const code = (...codes: string[]) => (e: unknown) => e instanceof YunyingError && codes.includes(e.code);
  test('a corrupt codestream answers FRAME_NOT_DECODABLE and the pool keeps working', async () => {
    for (const file of ['transfer-syntax/ct-same-image/ct_1.2.840.10008.1.2.4.90_j2k-lossless.dcm', 'transfer-syntax/ct-same-image/ct_1.2.840.10008.1.2.4.50_jpeg-baseline.dcm', 'transfer-syntax/ct-same-image/ct_1.2.840.10008.1.2.4.80_jpegls-lossless.dcm', 'transfer-syntax/ct-same-image/ct_1.2.840.10008.1.2.5_rle.dcm', 'transfer-syntax/ct-same-image/ct_1.2.840.10008.1.2.4.51_jpeg-extended-12bit.dcm']) {
      const bytes = Buffer.from(readFileSync(samplePath(file)));
      const { data } = pixelsOf(bytes);
      // keep the codestream headers, overwrite the entropy-coded data with garbage and cut it short
      const start = data.byteOffset - bytes.byteOffset;
      for (let i = start + 400; i < start + data.length; i++) bytes[i] = (i * 7919) & 0xff;
      await assert.rejects(transcoder.transcodePart10(bytes, EXPLICIT_LE), code('FRAME_NOT_DECODABLE', 'TRANSCODE_FAILED'), file);
    }
    const after = await transcoder.transcodePart10(readFileSync(samplePath('transfer-syntax/mr-small/MR_small_jp2klossless.dcm')), EXPLICIT_LE);
    assert.equal(parseDicom(after).transferSyntaxUid, EXPLICIT_LE);
  });
  test('broken samples, garbage and impossible targets answer TRANSCODE_FAILED / FRAME_NOT_DECODABLE', async () => {
    for (const file of EXPECTED_FAILURES) await assert.rejects(transcoder.transcodePart10(readFileSync(samplePath(file)), EXPLICIT_LE), code('FRAME_NOT_DECODABLE', 'TRANSCODE_FAILED'), file);
    await assert.rejects(transcoder.transcodePart10(Buffer.from('not dicom at all'), EXPLICIT_LE), code('TRANSCODE_FAILED'));
    const ct = readFileSync(samplePath('transfer-syntax/ct-same-image/ct_1.2.840.10008.1.2.1_explicit-vr-le.dcm'));
    await assert.rejects(transcoder.transcodePart10(ct, '1.2.840.10008.1.2.4.102'), code('TRANSCODE_FAILED'));
  });
});

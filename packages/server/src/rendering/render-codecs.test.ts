import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { parseDicom, type ParsedDicom } from '@yunying/dicom';
import { YunyingError } from '../errors.ts';
import { FrameDecoderPool } from './frame-decoder.ts';
import { renderFrame, type RenderWindow } from './render.ts';
import { sample } from '../dicomweb/test-support.ts';
import { readManifest, samplePath } from '@yunying/testing/samples';

const decoder = new FrameDecoderPool({ size: 2 });
after(() => decoder.close());

const COMPRESSED = /^1\.2\.840\.10008\.1\.2\.4\.(57|70|80|81|90|91|201|202|203)$/;
const LOSSLESS_JPEG = /^1\.2\.840\.10008\.1\.2\.4\.(57|70)$/;
const JPEG_LS = /^1\.2\.840\.10008\.1\.2\.4\.8[01]$/;

interface Entry { file: string; ts: string; frames: number; notes: string }
const manifest: Entry[] = readManifest().map((row) => ({ file: row.path, ts: row.transfer_syntax_uid ?? '', frames: Number(row.number_of_frames) || 0, notes: row.notes ?? '' }));
const compressed = manifest.filter((e) => COMPRESSED.test(e.ts) && e.frames > 0);

/** Broken on purpose, or not decodable by anyone: must answer an error, never crash. */
const EXPECTED_FAILURES = new Set(['malformed/j2k_fragment_contains_delimiter_bytes.dcm']);
/** Labelled lossless JPEG but holding 8-bit DCT JPEG (decoded by sharp: libjpeg-turbo and dcmtk's IJG round differently). */
const DCT_TOLERANCE = new Map([['modality/op/ophthalmic_photo_8bit.dcm', 8]]);

async function render(parsed: ParsedDicom, format: 'png' | 'jpeg', frame = 1, window?: RenderWindow): Promise<{ data: Buffer; width: number; height: number; channels: number }> {
  const rendered = await renderFrame(parsed, { frame, format, decoder, ...(window ? { window } : {}) });
  const { data, info } = await sharp(rendered.body).raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height, channels: info.channels };
}

function maxDiff(a: Buffer, b: Buffer): number {
  assert.equal(a.length, b.length);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i]! - b[i]!));
  return max;
}

function meanDiff(a: Buffer, b: Buffer): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += Math.abs(a[i]! - b[i]!);
  return sum / a.length;
}

const hasDcmtk = (() => {
  try {
    execFileSync('dcmdjpeg', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();
const scratch = mkdtempSync(path.join(tmpdir(), 'yunying-codecs-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

/** The same file decompressed by dcmtk (dcmdjpeg / dcmdjpls) to Explicit VR Little Endian. */
function dcmtkDecoded(entry: Entry): ParsedDicom {
  const out = path.join(scratch, `${path.basename(entry.file)}.raw.dcm`);
  execFileSync(JPEG_LS.test(entry.ts) ? 'dcmdjpls' : 'dcmdjpeg', ['-q', samplePath(entry.file), out], { stdio: 'ignore' });
  return parseDicom(readFileSync(out));
}

describe('every JPEG 2000, HTJ2K, JPEG-LS and lossless JPEG sample renders', () => {
  for (const entry of compressed) {
    test(entry.file, async () => {
      const parsed = parseDicom(await sample(entry.file));
      if (EXPECTED_FAILURES.has(entry.file)) {
        await assert.rejects(render(parsed, 'png'), (e: unknown) => e instanceof YunyingError && e.httpStatus >= 400 && e.httpStatus < 600);
        return;
      }
      const png = await render(parsed, 'png');
      const jpeg = await render(parsed, 'jpeg');
      assert.equal(jpeg.width, png.width);
      assert.equal(jpeg.height, png.height);
      assert.ok(png.channels !== jpeg.channels || meanDiff(png.data, jpeg.data) < 16, 'the JPEG looks like the PNG'); // JLSN_RGB_ILV0 has a noise quadrant
      let lo = 255;
      let hi = 0;
      for (const v of png.data) {
        lo = Math.min(lo, v);
        hi = Math.max(hi, v);
      }
      assert.ok(hi > lo, 'the image is not blank');
      // lossless JPEG and JPEG-LS: pixel for pixel what dcmtk decodes (JPEG 2000: dcmtk has no decoder)
      const comparable = LOSSLESS_JPEG.test(entry.ts) || JPEG_LS.test(entry.ts);
      if (comparable && hasDcmtk) {
        let reference: ParsedDicom;
        try {
          reference = dcmtkDecoded(entry);
        } catch {
          return; // dcmtk refuses some (e.g. JLSL_08_07_0_1F): nothing to compare with
        }
        const expected = await render(reference, 'png');
        // near-lossless too: both decoders reconstruct the same values from the stream
        const tolerance = DCT_TOLERANCE.get(entry.file) ?? 0;
        assert.ok(maxDiff(png.data, expected.data) <= tolerance, `differs from dcmtk by ${maxDiff(png.data, expected.data)}`);
      }
    });
  }
});

describe('compressed versions of the same image match the uncompressed one', () => {
  const ctWindow: RenderWindow = { center: 40, width: 400, fn: 'linear' };
  const siblings: Array<[string, string, number]> = [
    ['transfer-syntax/ct-same-image/ct_1.2.840.10008.1.2.4.57_jpeg-lossless-p14.dcm', 'transfer-syntax/ct-same-image/ct_1.2.840.10008.1.2.1_explicit-vr-le.dcm', 0],
    ['transfer-syntax/ct-same-image/ct_1.2.840.10008.1.2.4.70_jpeg-lossless-sv1.dcm', 'transfer-syntax/ct-same-image/ct_1.2.840.10008.1.2.1_explicit-vr-le.dcm', 0],
    ['transfer-syntax/ct-same-image/ct_1.2.840.10008.1.2.4.80_jpegls-lossless.dcm', 'transfer-syntax/ct-same-image/ct_1.2.840.10008.1.2.1_explicit-vr-le.dcm', 0],
    ['transfer-syntax/ct-same-image/ct_1.2.840.10008.1.2.4.90_j2k-lossless.dcm', 'transfer-syntax/ct-same-image/ct_1.2.840.10008.1.2.1_explicit-vr-le.dcm', 0],
    ['transfer-syntax/ct-same-image/ct_1.2.840.10008.1.2.4.81_jpegls-near-lossless.dcm', 'transfer-syntax/ct-same-image/ct_1.2.840.10008.1.2.1_explicit-vr-le.dcm', 3],
    ['transfer-syntax/ct-same-image/ct_1.2.840.10008.1.2.4.91_j2k-lossy.dcm', 'transfer-syntax/ct-same-image/ct_1.2.840.10008.1.2.1_explicit-vr-le.dcm', 6],
    ['transfer-syntax/mr-small/MR_small_jp2klossless.dcm', 'transfer-syntax/mr-small/MR_small.dcm', 0],
    ['transfer-syntax/mr-small/MR_small_jpeg_ls_lossless.dcm', 'transfer-syntax/mr-small/MR_small.dcm', 0],
  ];
  for (const [compressedFile, uncompressedFile, tolerance] of siblings) {
    test(`${path.basename(compressedFile)} (tolerance ${tolerance})`, async () => {
      const actual = parseDicom(await sample(compressedFile));
      const reference = parseDicom(await sample(uncompressedFile));
      for (const window of [ctWindow, undefined]) {
        if (tolerance > 0 && window === undefined) continue; // min/max windows move with lossy values
        const a = await render(actual, 'png', 1, window);
        const b = await render(reference, 'png', 1, window);
        assert.equal(a.width, b.width);
        const max = maxDiff(a.data, b.data);
        assert.ok(max <= tolerance, `max difference ${max} > ${tolerance}`);
        if (tolerance > 0) assert.ok(meanDiff(a.data, b.data) < 1, `mean difference ${meanDiff(a.data, b.data)}`);
      }
    });
  }
});

describe('malformed compressed streams answer an error; the decoder keeps working', () => {
  /** The file with the bytes of its (single-fragment) codestream overwritten after the headers. */
  function corrupt(bytes: Buffer, keep: number, fill: (i: number) => number): ParsedDicom {
    const copy = Buffer.from(bytes);
    const parsed = parseDicom(copy);
    const raw = parsed.raw as { elements: Record<string, { fragments?: Array<{ position: number; length: number }> }> };
    const fragment = raw.elements.x7fe00010!.fragments!.at(-1)!;
    for (let i = fragment.position + keep; i < fragment.position + fragment.length; i++) copy[i] = fill(i);
    return parsed;
  }
  const cases: Array<[string, string]> = [
    ['JPEG 2000', 'transfer-syntax/ct-same-image/ct_1.2.840.10008.1.2.4.90_j2k-lossless.dcm'],
    ['JPEG-LS', 'transfer-syntax/ct-same-image/ct_1.2.840.10008.1.2.4.80_jpegls-lossless.dcm'],
    ['lossless JPEG', 'transfer-syntax/ct-same-image/ct_1.2.840.10008.1.2.4.70_jpeg-lossless-sv1.dcm'],
    ['HTJ2K', 'transfer-syntax/other/HTJ2KLossless_08_RGB.dcm'],
  ];
  for (const [name, file] of cases) {
    test(name, async () => {
      const bytes = await sample(file);
      for (const [keep, fill] of [[2, () => 0xff], [40, (i: number) => (i * 7919) & 0xff], [0, () => 0]] as Array<[number, (i: number) => number]>) {
        const broken = corrupt(bytes, keep, fill);
        try {
          await render(broken, 'png');
        } catch (error) {
          assert.ok(error instanceof YunyingError, String(error));
          assert.ok(error.httpStatus >= 400 && error.httpStatus < 600, `status ${error.httpStatus}`);
        }
      }
      // and the codec still decodes a good stream afterwards
      const good = await render(parseDicom(bytes), 'png');
      assert.ok(good.width > 0);
    });
  }
  test('a truncated JPEG 2000 multi-frame answers per frame, never crashes', async () => {
    const parsed = parseDicom(await sample('malformed/j2k_codestream_too_short.dcm'));
    for (let frame = 1; frame <= 10; frame++) {
      await render(parsed, 'png', frame).catch((error: unknown) => assert.ok(error instanceof YunyingError, String(error)));
    }
  });
  test('a frame larger than the decoder accepts is refused before decoding', async () => {
    const small = new FrameDecoderPool({ size: 1, maxFrameBytes: 1000 });
    try {
      const parsed = parseDicom(await sample('transfer-syntax/ct-same-image/ct_1.2.840.10008.1.2.4.90_j2k-lossless.dcm'));
      await assert.rejects(renderFrame(parsed, { frame: 1, format: 'png', decoder: small }), (e: unknown) => e instanceof YunyingError && e.httpStatus === 422);
    } finally {
      await small.close();
    }
  });
});

/**
 * A thumbnail of every sample (issue 15 item 2): every non-malformed file of the shared sample
 * set (../shared/dicom-samples, MANIFEST.tsv: every transfer syntax, modality and photometric
 * interpretation it holds) goes through the thumbnail rendering the DICOMweb and WADO-URI
 * routes use (JPEG, fit in 128×128). An object with pixel data must come back as a real image
 * of its own proportions; an object without (SR, RT plan, presentation state, waveform,
 * DICOMDIR…) must answer 406 RENDERING_NOT_SUPPORTED, which the routes send as a clear error.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import { getPixelDataInfo, parseDicom, type ParsedDicom } from '@yunying/dicom';
import { readManifest, readSample } from '@yunying/testing/samples';
import { YunyingError } from '../errors.ts';
import { sharedFrameDecoder } from './frame-decoder.ts';
import { renderFrame } from './render.ts';

const THUMBNAIL = 128;

/**
 * Images that render correctly as one flat colour: their own VOI window maps every pixel of
 * the downsized frame to white (dcmtk's dcm2pnm --use-window 1 gives 249..255), or the first
 * tile of the slide is empty glass. They still must render.
 */
const UNIFORM = new Map([
  ['dicomdir/77654033/CT2/17136', 'the file window (30/100) saturates the 16×16 downsized frame'],
  ['dicomdir/77654033/CT2/17166', 'the file window (30/100) saturates the 16×16 downsized frame'],
  ['dicomdir/77654033/CT2/17196', 'the file window (30/100) saturates the 16×16 downsized frame'],
  ['modality/sm/sm_image.dcm', 'the first 10×10 tile of the slide is blank'],
  ['transfer-syntax/other/SC_jpeg_baseline_rgb_no_color_transform.dcm', 'a nearly empty slide tile, 244/244/244 (its colours are checked against dcmtk in render.test.ts)'],
]);

/**
 * Objects whose images this renderer does not draw yet, with the reason: none today. A sample
 * that stops rendering fails the test until it is fixed or listed here with its reason.
 */
const NOT_RENDERED_YET = new Map<string, string>([]);

/** Objects with image data that is not Pixel Data (7FE0,0010): answered 406 like non-images. */
const OTHER_PIXEL_DATA = new Map([
  ['modality/pmap/parametric_map_float.dcm', 'Float Pixel Data (7FE0,0008): a parametric map, not rendered'],
]);

after(async () => {
  await sharedFrameDecoder().close();
});

function failureOf(error: unknown): string {
  return error instanceof YunyingError ? `${error.code} (${error.httpStatus}): ${error.message}` : String(error);
}

test('every non-malformed sample: a thumbnail of the right shape, or a clear 406 when it has no image', async () => {
  const rows = readManifest().filter((row) => !row.path.startsWith('malformed/'));
  assert.ok(rows.length > 100, `the sample set has ${rows.length} files`);
  const problems: string[] = [];
  const seen = { images: 0, notImages: 0, syntaxes: new Set<string>(), photometrics: new Set<string>() };
  for (const row of rows) {
    let parsed: ParsedDicom;
    try {
      parsed = parseDicom(readSample(row.path));
    } catch (error) {
      problems.push(`${row.path}: does not parse: ${(error as Error).message}`);
      continue;
    }
    const info = getPixelDataInfo(parsed);
    let thumbnail: { body: Buffer; contentType: string } | undefined;
    let failure: unknown;
    try {
      thumbnail = await renderFrame(parsed, { frame: 1, format: 'jpeg', fit: { width: THUMBNAIL, height: THUMBNAIL } });
    } catch (error) {
      failure = error;
    }
    if (!info || OTHER_PIXEL_DATA.has(row.path)) {
      seen.notImages++;
      if (!(failure instanceof YunyingError && failure.code === 'RENDERING_NOT_SUPPORTED' && failure.httpStatus === 406)) {
        problems.push(`${row.path}: no image, expected 406 RENDERING_NOT_SUPPORTED, got ${thumbnail ? 'an image' : failureOf(failure)}`);
      }
      continue;
    }
    if (NOT_RENDERED_YET.has(row.path)) {
      if (thumbnail) problems.push(`${row.path}: renders now; take it off NOT_RENDERED_YET`);
      continue;
    }
    if (!thumbnail) {
      problems.push(`${row.path} (${row.transfer_syntax_uid}, ${info.photometricInterpretation}): ${failureOf(failure)}`);
      continue;
    }
    seen.images++;
    seen.syntaxes.add(info.transferSyntaxUid);
    seen.photometrics.add(info.photometricInterpretation);
    assert.equal(thumbnail.contentType, 'image/jpeg');
    const image = sharp(thumbnail.body);
    const meta = await image.metadata();
    const stats = await image.stats();
    const longest = Math.max(meta.width ?? 0, meta.height ?? 0);
    // fit inside 128×128, the long side at 128 (small images are enlarged), proportions kept
    if (meta.format !== 'jpeg' || longest !== THUMBNAIL) problems.push(`${row.path}: ${meta.format} ${meta.width}×${meta.height}`);
    const expectedRatio = info.columns / info.rows;
    const ratio = meta.width! / meta.height!;
    if (Math.abs(ratio - expectedRatio) > (2 / THUMBNAIL) * Math.max(ratio, expectedRatio)) problems.push(`${row.path}: ${meta.width}×${meta.height} for a ${info.columns}×${info.rows} image`);
    // under one grey level of spread: a flat picture (enlarging and JPEG add a trace of noise)
    const flat = stats.channels.every((channel) => channel.stdev < 1);
    if (flat && !UNIFORM.has(row.path)) problems.push(`${row.path}: a single flat colour (${stats.channels.map((c) => c.mean.toFixed(0)).join('/')})`);
  }
  assert.deepEqual(problems, []);
  // the set covers what the issue asks for: every transfer syntax family and colour model
  for (const uid of ['1.2.840.10008.1.2', '1.2.840.10008.1.2.1', '1.2.840.10008.1.2.2', '1.2.840.10008.1.2.1.99', '1.2.840.10008.1.2.4.50', '1.2.840.10008.1.2.4.51', '1.2.840.10008.1.2.4.53', '1.2.840.10008.1.2.4.55', '1.2.840.10008.1.2.4.57', '1.2.840.10008.1.2.4.70', '1.2.840.10008.1.2.4.80', '1.2.840.10008.1.2.4.81', '1.2.840.10008.1.2.4.90', '1.2.840.10008.1.2.4.91', '1.2.840.10008.1.2.4.201', '1.2.840.10008.1.2.4.203', '1.2.840.10008.1.2.4.111', '1.2.840.10008.1.2.5', '1.2.840.10008.1.2.8.1']) {
    assert.ok(seen.syntaxes.has(uid), `no sample in ${uid} rendered`);
  }
  for (const photometric of ['MONOCHROME1', 'MONOCHROME2', 'RGB', 'YBR_FULL', 'YBR_FULL_422', 'PALETTE COLOR']) assert.ok(seen.photometrics.has(photometric), `no ${photometric} sample rendered`);
  assert.ok(seen.notImages >= 10, `${seen.notImages} objects without images`);
});

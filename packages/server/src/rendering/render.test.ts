import { test } from 'node:test';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import { parseDicom } from '@yunying/dicom';
import { YunyingError } from '../errors.ts';
import { parseWindowParam, renderFrame } from './render.ts';
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

test('JPEG baseline frames decode through sharp; YBR converts to RGB', async () => {
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

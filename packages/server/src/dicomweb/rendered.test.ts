/**
 * Rendered Study and Rendered Series (PS3.18 10.4.1.1.3, mandatory in Table 10.3-2) and the
 * study/series thumbnails over a real archive: one part per frame, in series and instance
 * order, each the same image as its frame's own rendered resource; what cannot be rendered
 * is left out, a study with nothing to render answers 406. Also the viewport's source
 * rectangle.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import { buildPart10, encodeDataset, setTopLevelTextElements, TRANSFER_SYNTAX, type DicomJsonDataset } from '@yunying/dicom';
import { makeSyntheticInstance, newUid } from '@yunying/testing/synthetic-dicom';
import { systemCaller } from '../access/caller.ts';
import { BASIC_AUTH, createTestApp, readMultipart, sample, type TestApp } from './test-support.ts';

const NM_MULTIFRAME = 'modality/nm/NM_multiframe_13f.dcm';
const US_PALETTE = 'modality/us/US_multiframe_10f_palette_rle.dcm';
const SR = 'modality/sr/basic_text_sr.dcm';

/** An image no renderer takes: four samples a pixel (the retired ARGB/CMYK kind). */
function unrenderableImage(study: string, series: string): Buffer {
  const sop = newUid();
  const dataset: DicomJsonDataset = {
    '00080016': { vr: 'UI', Value: ['1.2.840.10008.5.1.4.1.1.7'] },
    '00080018': { vr: 'UI', Value: [sop] },
    '0020000D': { vr: 'UI', Value: [study] },
    '0020000E': { vr: 'UI', Value: [series] },
    '00200013': { vr: 'IS', Value: [1] },
    '00280002': { vr: 'US', Value: [4] },
    '00280004': { vr: 'CS', Value: ['ARGB'] },
    '00280006': { vr: 'US', Value: [0] },
    '00280010': { vr: 'US', Value: [2] },
    '00280011': { vr: 'US', Value: [2] },
    '00280100': { vr: 'US', Value: [8] },
    '00280101': { vr: 'US', Value: [8] },
    '00280102': { vr: 'US', Value: [7] },
    '00280103': { vr: 'US', Value: [0] },
    '7FE00010': { vr: 'OB', InlineBinary: Buffer.alloc(16, 7).toString('base64') },
  };
  return buildPart10(encodeDataset(dataset, TRANSFER_SYNTAX.EXPLICIT_LE), { transferSyntaxUid: TRANSFER_SYNTAX.EXPLICIT_LE, sopClassUid: '1.2.840.10008.5.1.4.1.1.7', sopInstanceUid: sop });
}

/** A sample as a new instance of `study`/`series`, with an Instance Number. */
function intoStudy(bytes: Buffer, study: string, series: string, instanceNumber: number): Buffer {
  return setTopLevelTextElements(bytes, [
    { tag: 0x00080018, vr: 'UI', value: newUid() },
    { tag: 0x0020000d, vr: 'UI', value: study },
    { tag: 0x0020000e, vr: 'UI', value: series },
    { tag: 0x00200013, vr: 'IS', value: String(instanceNumber) },
  ]);
}

describe('Rendered Study, Rendered Series and their thumbnails', () => {
  let t: TestApp;
  const study = newUid();
  const ctSeries = newUid();
  const nmSeries = newUid();
  const usSeries = newUid();
  const srSeries = newUid();
  /** SOP Instance UIDs of the CT series, by Instance Number */
  const ctByNumber: string[] = [];
  const fallbackStudy = newUid();
  const fallbackSeries = newUid();
  let srOnlyStudy = '';

  const get = (url: string, accept?: string) => t.app.inject({ method: 'GET', url, headers: { authorization: BASIC_AUTH, ...(accept ? { accept } : {}) } });
  const ingest = (bytes: Buffer) => t.archive.ingest(systemCaller('test'), { kind: 'part10', bytes });

  before(async () => {
    t = await createTestApp();
    // stored out of order: the answer follows the Instance Numbers
    for (const number of [3, 1, 2]) {
      const ct = makeSyntheticInstance({ studyInstanceUid: study, seriesInstanceUid: ctSeries, instanceNumber: number, size: 32 });
      ctByNumber[number - 1] = ct.sopInstanceUid;
      await ingest(ct.bytes);
    }
    await ingest(intoStudy(await sample(NM_MULTIFRAME), study, nmSeries, 1));
    await ingest(intoStudy(await sample(US_PALETTE), study, usSeries, 1));
    await ingest(intoStudy(await sample(SR), study, srSeries, 1));
    // a study whose middle image cannot be rendered but another can
    await ingest(unrenderableImage(fallbackStudy, fallbackSeries));
    await ingest(makeSyntheticInstance({ studyInstanceUid: fallbackStudy, seriesInstanceUid: fallbackSeries, instanceNumber: 2 }).bytes);
    srOnlyStudy = newUid();
    await ingest(intoStudy(await sample(SR), srOnlyStudy, newUid(), 1));
  });

  after(async () => {
    await t.close();
  });

  test('a Rendered Study is every frame of every image, in order, each the same as its own rendered resource', async () => {
    const answer = await get(`/dicom-web/studies/${study}/rendered`, 'multipart/related; type="image/png"');
    assert.equal(answer.statusCode, 200, answer.body);
    assert.match(String(answer.headers['content-type']), /^multipart\/related; type="image\/png"; boundary=/);
    assert.equal(answer.headers['cache-control'], 'no-store');
    const parts = readMultipart(answer.headers['content-type'], answer.rawPayload);
    assert.equal(parts.length, 3 + 13 + 10, 'three CT images, 13 NM frames, 10 US frames; the SR has no image');
    const locations = parts.map((part) => new URL(part.headers['content-location']!).pathname);
    const ctLocations = locations.filter((l) => l.includes(`/series/${ctSeries}/`));
    assert.deepEqual(ctLocations, ctByNumber.map((sop) => `/dicom-web/studies/${study}/series/${ctSeries}/instances/${sop}/rendered`), 'CT by Instance Number');
    const nmFrames = locations.filter((l) => l.includes(`/series/${nmSeries}/`)).map((l) => Number(/frames\/(\d+)\/rendered$/.exec(l)?.[1]));
    assert.deepEqual(nmFrames, Array.from({ length: 13 }, (_, i) => i + 1));
    // each part is the frame's own rendered resource, byte for byte
    for (const index of [0, 5, 20]) {
      const own = await get(locations[index]!, 'image/png');
      assert.equal(own.statusCode, 200, own.body);
      assert.ok(own.rawPayload.equals(parts[index]!.body), `part ${index} differs from ${locations[index]}`);
      assert.equal(parts[index]!.headers['content-type'], 'image/png');
    }
    // the palette frames are in colour
    const us = parts[locations.findIndex((l) => l.includes(`/series/${usSeries}/`))]!;
    assert.equal((await sharp(us.body).metadata()).channels, 3);
  });

  test('a Rendered Series; JPEG by default; the viewport applies to every part', async () => {
    const answer = await get(`/dicom-web/studies/${study}/series/${nmSeries}/rendered?viewport=32,32`);
    assert.equal(answer.statusCode, 200, answer.body);
    assert.match(String(answer.headers['content-type']), /type="image\/jpeg"/);
    const parts = readMultipart(answer.headers['content-type'], answer.rawPayload);
    assert.equal(parts.length, 13);
    for (const part of parts) {
      const meta = await sharp(part.body).metadata();
      assert.deepEqual([meta.format, meta.width, meta.height], ['jpeg', 32, 32]);
    }
    const bare = await get(`/dicom-web/studies/${study}/series/${ctSeries}/rendered`, 'image/png');
    assert.equal(bare.statusCode, 200, bare.body);
    assert.equal(readMultipart(bare.headers['content-type'], bare.rawPayload).length, 3);
  });

  test('nothing to render is 406; an unknown series 404; a media type that is not an image 406', async () => {
    const sr = await get(`/dicom-web/studies/${study}/series/${srSeries}/rendered`);
    assert.equal(sr.statusCode, 406, sr.body);
    assert.equal(sr.json().code, 'RENDERING_NOT_SUPPORTED');
    assert.equal((await get(`/dicom-web/studies/${srOnlyStudy}/rendered`)).statusCode, 406);
    assert.equal((await get(`/dicom-web/studies/${study}/series/${newUid()}/rendered`)).statusCode, 404);
    assert.equal((await get(`/dicom-web/studies/${study}/rendered`, 'application/dicom')).statusCode, 406);
  });

  test('study and series thumbnails: a representative image, the next one when it cannot be rendered', async () => {
    for (const url of [`/dicom-web/studies/${study}/thumbnail`, `/dicom-web/studies/${study}/series/${usSeries}/thumbnail`, `/dicom-web/studies/${fallbackStudy}/thumbnail`, `/dicom-web/studies/${fallbackStudy}/series/${fallbackSeries}/thumbnail`]) {
      const answer = await get(url);
      assert.equal(answer.statusCode, 200, `${url}: ${answer.body}`);
      const meta = await sharp(answer.rawPayload).metadata();
      assert.ok(meta.width! <= 128 && meta.height! <= 128, `${url}: ${meta.width}×${meta.height}`);
    }
    assert.equal((await get(`/dicom-web/studies/${study}/series/${srSeries}/thumbnail`)).statusCode, 406);
    // the fallback was needed: the middle image alone is refused
    const alone = await get(`/dicom-web/studies/${fallbackStudy}/rendered`);
    assert.equal(readMultipart(alone.headers['content-type'], alone.rawPayload).length, 1, 'one of the two images renders');
  });

  test("the viewport's source rectangle selects, and a negative size flips", async () => {
    const base = `/dicom-web/studies/${study}/series/${ctSeries}/instances/${ctByNumber[0]}/rendered`;
    const whole = await sharp((await get(base, 'image/png')).rawPayload).raw().toBuffer({ resolveWithObject: true });
    const corner = await get(`${base}?viewport=16,16,16,0,16,16`, 'image/png');
    assert.equal(corner.statusCode, 200, corner.body);
    const expected = await sharp((await get(base, 'image/png')).rawPayload).extract({ left: 16, top: 0, width: 16, height: 16 }).raw().toBuffer();
    assert.ok((await sharp(corner.rawPayload).raw().toBuffer()).equals(expected), 'the top-right 16×16');
    const flipped = await get(`${base}?viewport=32,32,32,0,-32,32`, 'image/png');
    assert.equal(flipped.statusCode, 200, flipped.body);
    const mirrored = await sharp((await get(base, 'image/png')).rawPayload).flop().raw().toBuffer();
    assert.ok((await sharp(flipped.rawPayload).raw().toBuffer()).equals(mirrored), 'a negative width mirrors');
    assert.equal(whole.info.width, 32);
    assert.equal((await get(`${base}?viewport=16,16,0,0,0,16`)).statusCode, 400);
  });
});

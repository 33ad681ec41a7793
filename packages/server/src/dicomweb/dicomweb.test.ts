import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import sharp from 'sharp';
import type { DicomJsonDataset } from '@yunying/dicom';
import { BASIC_AUTH, createTestApp, readMultipart, sample, stowBody, type TestApp } from './test-support.ts';

const CT_LE = 'transfer-syntax/ct-same-image/ct_1.2.840.10008.1.2.1_explicit-vr-le.dcm';
const CT_JPEG = 'transfer-syntax/ct-same-image/ct_1.2.840.10008.1.2.4.50_jpeg-baseline.dcm';
const CHINESE = 'charset/chrX2.dcm';
const MR = 'transfer-syntax/mr-small/MR_small_bigendian.dcm';
const NM_MULTIFRAME = 'modality/nm/NM_multiframe_13f.dcm';
const RGB = 'color/SC_rgb.dcm';
const SR = 'modality/sr/basic_text_sr.dcm';
const TRUNCATED = 'malformed/truncated_pixel_data.dcm';

const CT_SOP = '1.2.840.113619.2.30.1.1762295590.1623.978668950.109';
const NM_SOP = '2.16.840.1.113662.5.8796818449476.121423489.1.1.3101.5309511143';

type Json = DicomJsonDataset;
const str = (ds: Json | undefined, tag: string): string | undefined => ds?.[tag]?.Value?.[0] as string | undefined;
const seq = (ds: Json, tag: string): Json[] => (ds[tag]?.Value ?? []) as Json[];

interface Uids { study: string; series: string; instance: string }

describe('DICOMweb over a real archive', () => {
  let t: TestApp;
  const uids = new Map<string, Uids>();
  const files = new Map<string, Buffer>();

  const inject = (opts: { method?: 'GET' | 'POST'; url: string; headers?: Record<string, string>; payload?: Buffer | string }) =>
    t.app.inject({ method: opts.method ?? 'GET', url: opts.url, headers: { authorization: BASIC_AUTH, ...opts.headers }, payload: opts.payload });

  const stow = (list: Uint8Array[], url = '/dicom-web/studies') => {
    const { payload, contentType } = stowBody(list);
    return inject({ method: 'POST', url, payload, headers: { 'content-type': contentType, accept: 'application/dicom+json' } });
  };

  const instanceUrl = (name: string) => {
    const u = uids.get(name)!;
    return `/dicom-web/studies/${u.study}/series/${u.series}/instances/${u.instance}`;
  };

  before(async () => {
    t = await createTestApp();
    for (const name of [CT_LE, CT_JPEG, CHINESE, MR, NM_MULTIFRAME, RGB, SR]) files.set(name, await sample(name));
    const names = [CT_LE, CHINESE, MR, NM_MULTIFRAME, RGB, SR];
    const res = await stow(names.map((n) => files.get(n)!));
    assert.equal(res.statusCode, 200, res.body);
    const body = res.json() as Json;
    const refs = seq(body, '00081199');
    assert.equal(refs.length, names.length);
    refs.forEach((ref, i) => {
      const url = new URL(str(ref, '00081190')!);
      const m = /\/studies\/([^/]+)\/series\/([^/]+)\/instances\/([^/]+)$/.exec(url.pathname)!;
      uids.set(names[i]!, { study: m[1]!, series: m[2]!, instance: m[3]! });
      assert.equal(str(ref, '00081155'), m[3]);
    });
    assert.equal(uids.get(CT_LE)!.instance, CT_SOP);
  });

  after(async () => {
    await t.close();
  });

  describe('STOW-RS', () => {
    test('a resend of identical bytes succeeds (idempotent), as a single application/dicom body too', async () => {
      const res = await stow([files.get(CT_LE)!]);
      assert.equal(res.statusCode, 200, res.body);
      const single = await inject({ method: 'POST', url: '/dicom-web/studies', payload: files.get(CHINESE)!, headers: { 'content-type': 'application/dicom' } });
      assert.equal(single.statusCode, 200, single.body);
      assert.equal(seq(single.json(), '00081199').length, 1);
    });

    test('boundary quoting variants', async () => {
      const { payload } = stowBody([files.get(CHINESE)!], 'plain-boundary');
      for (const ct of [
        'multipart/related; type=application/dicom; boundary=plain-boundary',
        'multipart/related;boundary="plain-boundary";type="application/dicom"',
        'Multipart/Related; boundary=plain-boundary',
      ]) {
        const res = await inject({ method: 'POST', url: '/dicom-web/studies', payload, headers: { 'content-type': ct } });
        assert.equal(res.statusCode, 200, `${ct}: ${res.body}`);
      }
    });

    test('malformed parts fail one by one: 202 when mixed, 409 when all fail, and the server keeps serving', async () => {
      const garbage = randomBytes(4096);
      const truncated = await sample(TRUNCATED);
      const mixed = await stow([files.get(RGB)!, garbage, truncated]);
      assert.equal(mixed.statusCode, 202, mixed.body);
      const body = mixed.json() as Json;
      assert.equal(seq(body, '00081199').length, 1);
      const failed = seq(body, '00081198');
      assert.equal(failed.length, 2);
      for (const f of failed) {
        assert.equal(f['00081197']!.Value![0], 0xc000);
        assert.ok(str(f, '00000902')!.length > 0, 'a human-readable reason');
      }
      assert.equal(failed[0]!['00081155'], undefined, 'garbage has no SOP Instance UID');

      const allBad = await stow([garbage, truncated]);
      assert.equal(allBad.statusCode, 409, allBad.body);
      assert.equal(seq(allBad.json(), '00081198').length, 2);

      const still = await inject({ url: '/dicom-web/studies?limit=1' });
      assert.equal(still.statusCode, 200);
    });

    test('an instance of another study than /studies/{study} fails with 0xA901', async () => {
      const res = await stow([files.get(CT_JPEG)!], '/dicom-web/studies/1.2.3.4.5');
      assert.equal(res.statusCode, 409, res.body);
      const failed = seq(res.json(), '00081198');
      assert.equal(failed[0]!['00081197']!.Value![0], 0xa901);
      assert.equal(str(failed[0], '00081155'), '1.2.276.0.7230010.3.1.4.0.13710.1630658018.416119');

      const ok = await stow([files.get(CHINESE)!], `/dicom-web/studies/${uids.get(CHINESE)!.study}`);
      assert.equal(ok.statusCode, 200, ok.body);
      assert.match(str(ok.json(), '00081190')!, new RegExp(`/dicom-web/studies/${uids.get(CHINESE)!.study}$`));
    });

    test('415 for other media types, 400 for an unparsable multipart body', async () => {
      const text = await inject({ method: 'POST', url: '/dicom-web/studies', payload: 'hello', headers: { 'content-type': 'text/plain' } });
      assert.equal(text.statusCode, 415);
      const json = await inject({ method: 'POST', url: '/dicom-web/studies', payload: '--b\r\n\r\n{}\r\n--b--', headers: { 'content-type': 'multipart/related; type="application/dicom+json"; boundary=b' } });
      assert.equal(json.statusCode, 415);
      const noBoundary = await inject({ method: 'POST', url: '/dicom-web/studies', payload: 'x', headers: { 'content-type': 'multipart/related; type="application/dicom"' } });
      assert.equal(noBoundary.statusCode, 400);
      const wrongBoundary = await inject({ method: 'POST', url: '/dicom-web/studies', payload: randomBytes(1000), headers: { 'content-type': 'multipart/related; type="application/dicom"; boundary=zzz' } });
      assert.equal(wrongBoundary.statusCode, 400);
      assert.equal(wrongBoundary.json().code, 'INVALID_MULTIPART');
    });
  });

  describe('QIDO-RS', () => {
    test('PatientName with a Chinese wildcard and with a Latin wildcard', async () => {
      const res = await inject({ url: `/dicom-web/studies?PatientName=${encodeURIComponent('王*')}` });
      assert.equal(res.statusCode, 200, res.body);
      assert.match(res.headers['content-type'] as string, /^application\/dicom\+json/);
      const studies = res.json() as Json[];
      assert.deepEqual(studies.map((s) => str(s, '0020000D')), [uids.get(CHINESE)!.study]);
      const latin = (await inject({ url: '/dicom-web/studies?PatientName=Wang*' })).json() as Json[];
      assert.ok(latin.some((s) => str(s, '0020000D') === uids.get(CHINESE)!.study));
    });

    test('by tag, limit/offset, includefield, empty results', async () => {
      const all = (await inject({ url: '/dicom-web/studies' })).json() as Json[];
      assert.ok(all.length >= 4, `studies: ${all.length}`);
      const page = (await inject({ url: '/dicom-web/studies?limit=2&offset=1' })).json() as Json[];
      assert.equal(page.length, 2);
      assert.deepEqual(page.map((s) => str(s, '0020000D')), all.slice(1, 3).map((s) => str(s, '0020000D')));

      const byTag = (await inject({ url: `/dicom-web/studies?0020000d=${uids.get(CT_LE)!.study}&includefield=StudyDescription&includefield=00080090,PatientID` })).json() as Json[];
      assert.equal(byTag.length, 1);

      const none = await inject({ url: '/dicom-web/studies?PatientID=nobody-at-all' });
      assert.equal(none.statusCode, 200);
      assert.deepEqual(none.json(), []);
    });

    test('series and instances levels', async () => {
      const ct = uids.get(CT_LE)!;
      const series = (await inject({ url: `/dicom-web/studies/${ct.study}/series` })).json() as Json[];
      assert.deepEqual(series.map((s) => str(s, '0020000E')), [ct.series]);
      const instances = (await inject({ url: `/dicom-web/studies/${ct.study}/series/${ct.series}/instances` })).json() as Json[];
      assert.deepEqual(instances.map((s) => str(s, '00080018')), [ct.instance]);
      const bySop = (await inject({ url: `/dicom-web/instances?SOPInstanceUID=${NM_SOP}` })).json() as Json[];
      assert.equal(bySop.length, 1);
      const ctSeries = (await inject({ url: '/dicom-web/series?Modality=CT' })).json() as Json[];
      assert.ok(ctSeries.some((s) => str(s, '0020000E') === ct.series));
      const studyInstances = (await inject({ url: `/dicom-web/studies/${uids.get(NM_MULTIFRAME)!.study}/instances` })).json() as Json[];
      assert.equal(studyInstances.length, 1);
    });

    test('400 for unknown parameters, 406 for other media types, fuzzymatching performed without a Warning', async () => {
      assert.equal((await inject({ url: '/dicom-web/studies?NoSuchKeyword=1' })).statusCode, 400);
      assert.equal((await inject({ url: '/dicom-web/studies?limit=ten' })).statusCode, 400);
      // application/dicom+xml is answered since issue 15 (qido-interop.test.ts); other types are not.
      assert.equal((await inject({ url: '/dicom-web/studies', headers: { accept: 'text/html' } })).statusCode, 406);
      const fuzzy = await inject({ url: '/dicom-web/studies?fuzzymatching=true&PatientName=Wang*' });
      assert.equal(fuzzy.statusCode, 200);
      // Fuzzy PN matching (pinyin) is performed since issue 15; a 299 Warning would say it was not.
      assert.equal(fuzzy.headers.warning, undefined);
      assert.equal((await inject({ url: '/dicom-web/studies?fuzzymatching=false' })).headers.warning, undefined);
    });
  });

  describe('WADO-RS', () => {
    test('an instance comes back byte-identical in a multipart/related response', async () => {
      const res = await inject({ url: instanceUrl(CT_LE), headers: { accept: 'multipart/related; type="application/dicom"; transfer-syntax=*' } });
      assert.equal(res.statusCode, 200, res.body);
      const parts = readMultipart(res.headers['content-type'] as string, res.rawPayload);
      assert.equal(parts.length, 1);
      assert.ok(parts[0]!.body.equals(files.get(CT_LE)!));
      assert.match(parts[0]!.headers['content-type']!, /transfer-syntax=1\.2\.840\.10008\.1\.2\.1$/);

      // transfer-syntax=* is "as stored": the big-endian MR byte for byte
      const single = await inject({ url: instanceUrl(MR), headers: { accept: 'application/dicom; transfer-syntax=*' } });
      assert.equal(single.statusCode, 200);
      assert.equal(single.headers['content-type'], 'application/dicom; transfer-syntax=1.2.840.10008.1.2.2');
      assert.ok(single.rawPayload.equals(files.get(MR)!));
    });

    test('without a transfer-syntax parameter an instance comes in Explicit VR Little Endian (PS3.18 8.7.3.5.2)', async () => {
      // since issue 15 (it used to be "as stored"): the big-endian MR is converted ...
      const converted = await inject({ url: instanceUrl(MR), headers: { accept: 'application/dicom' } });
      assert.equal(converted.statusCode, 200, converted.body);
      assert.equal(converted.headers['content-type'], 'application/dicom; transfer-syntax=1.2.840.10008.1.2.1');
      assert.ok(!converted.rawPayload.equals(files.get(MR)!));
      assert.match(converted.rawPayload.subarray(0, 400).toString('latin1'), /1\.2\.840\.10008\.1\.2\.1\0?/);
      // ... and an instance stored in Explicit VR LE is the stored bytes, with the length known in advance
      const ct = await inject({ url: instanceUrl(CT_LE), headers: { accept: 'multipart/related; type="application/dicom"' } });
      assert.ok(ct.headers['content-length']);
      assert.ok(readMultipart(ct.headers['content-type'] as string, ct.rawPayload)[0]!.body.equals(files.get(CT_LE)!));
    });

    test('study and series retrieval stream every instance; unknown UIDs are 404', async () => {
      const ct = uids.get(CT_LE)!;
      const study = await inject({ url: `/dicom-web/studies/${ct.study}` });
      assert.equal(study.statusCode, 200);
      const parts = readMultipart(study.headers['content-type'] as string, study.rawPayload);
      assert.equal(parts.length, 1);
      assert.ok(parts[0]!.body.equals(files.get(CT_LE)!));
      const series = await inject({ url: `/dicom-web/studies/${ct.study}/series/${ct.series}` });
      assert.equal(readMultipart(series.headers['content-type'] as string, series.rawPayload).length, 1);

      const missing = await inject({ url: '/dicom-web/studies/1.2.3.999' });
      assert.equal(missing.statusCode, 404);
      assert.equal(missing.json().code, 'NOT_FOUND');
      assert.equal((await inject({ url: `/dicom-web/studies/${ct.study}/series/1.2.3/instances/${ct.instance}` })).statusCode, 404);
    });

    test('a transfer syntax the server cannot produce is 406 (it decodes, it does not compress)', async () => {
      const res = await inject({ url: instanceUrl(CT_LE), headers: { accept: 'multipart/related; type="application/dicom"; transfer-syntax=1.2.840.10008.1.2.4.50' } });
      assert.equal(res.statusCode, 406);
      const ok = await inject({ url: instanceUrl(CT_LE), headers: { accept: 'multipart/related; type="application/dicom"; transfer-syntax=1.2.840.10008.1.2.1' } });
      assert.equal(ok.statusCode, 200);
    });

    test('metadata carries Pixel Data as a BulkDataURI that can be retrieved', async () => {
      const res = await inject({ url: `${instanceUrl(CT_LE)}/metadata` });
      assert.equal(res.statusCode, 200, res.body);
      const [meta] = res.json() as Json[];
      assert.equal(str(meta, '00080018'), CT_SOP);
      const uri = meta!['7FE00010']!.BulkDataURI!;
      assert.ok(uri, 'Pixel Data has a BulkDataURI');
      const bulk = await inject({ url: new URL(uri).pathname });
      assert.equal(bulk.statusCode, 200, bulk.body);
      const parts = readMultipart(bulk.headers['content-type'] as string, bulk.rawPayload);
      assert.equal(parts.length, 1);
      assert.equal(parts[0]!.body.length, 512 * 512 * 2);

      const study = await inject({ url: `/dicom-web/studies/${uids.get(CHINESE)!.study}/metadata` });
      const list = study.json() as Json[];
      assert.equal(list.length, 1);
      assert.deepEqual((list[0]!['00100010']!.Value![0] as { Ideographic?: string }).Ideographic, '王^小东');
    });

    test('frames of a multi-frame instance; out of range is 404', async () => {
      const url = `${instanceUrl(NM_MULTIFRAME)}/frames/1,13`;
      const res = await inject({ url });
      assert.equal(res.statusCode, 200, res.body);
      assert.match(res.headers['content-type'] as string, /type="application\/octet-stream"/);
      const parts = readMultipart(res.headers['content-type'] as string, res.rawPayload);
      assert.equal(parts.length, 2);
      for (const p of parts) assert.equal(p.body.length, 64 * 64 * 2);
      assert.equal((await inject({ url: `${instanceUrl(NM_MULTIFRAME)}/frames/14` })).statusCode, 404);
      assert.equal((await inject({ url: `${instanceUrl(NM_MULTIFRAME)}/frames/x` })).statusCode, 400);
    });
  });

  describe('rendered and thumbnail', () => {
    test('JPEG and PNG of an uncompressed CT; window changes the output', async () => {
      const jpeg = await inject({ url: `${instanceUrl(CT_LE)}/rendered` });
      assert.equal(jpeg.statusCode, 200, jpeg.body);
      assert.equal(jpeg.headers['content-type'], 'image/jpeg');
      const meta = await sharp(jpeg.rawPayload).metadata();
      assert.equal(meta.width, 512);
      assert.equal(meta.height, 512);

      const png = await inject({ url: `${instanceUrl(CT_LE)}/frames/1/rendered`, headers: { accept: 'image/png' } });
      assert.equal(png.headers['content-type'], 'image/png');
      const narrow = await inject({ url: `${instanceUrl(CT_LE)}/frames/1/rendered?window=40,80,linear`, headers: { accept: 'image/png' } });
      const wide = await inject({ url: `${instanceUrl(CT_LE)}/frames/1/rendered?window=300,3000`, headers: { accept: 'image/png' } });
      const a = await sharp(narrow.rawPayload).raw().toBuffer();
      const b = await sharp(wide.rawPayload).raw().toBuffer();
      assert.equal(a.length, b.length);
      assert.ok(!a.equals(b), 'window parameters change the image');

      assert.equal((await inject({ url: `${instanceUrl(CT_LE)}/rendered?window=40` })).statusCode, 400);
      assert.equal((await inject({ url: `${instanceUrl(CT_LE)}/rendered`, headers: { accept: 'image/gif' } })).statusCode, 406);
    });

    test('big-endian MR, RGB, viewport and thumbnails', async () => {
      const mr = await inject({ url: `${instanceUrl(MR)}/rendered?viewport=32,32`, headers: { accept: 'image/png' } });
      assert.equal(mr.statusCode, 200, mr.body);
      assert.equal((await sharp(mr.rawPayload).metadata()).width, 32);
      const rgb = await inject({ url: `${instanceUrl(RGB)}/rendered`, headers: { accept: 'image/png' } });
      assert.equal(rgb.statusCode, 200, rgb.body);
      assert.equal((await sharp(rgb.rawPayload).metadata()).channels, 3);

      const ct = uids.get(CT_LE)!;
      for (const url of [`${instanceUrl(CT_LE)}/thumbnail`, `/dicom-web/studies/${ct.study}/series/${ct.series}/thumbnail`, `/dicom-web/studies/${ct.study}/thumbnail`]) {
        const thumb = await inject({ url });
        assert.equal(thumb.statusCode, 200, `${url}: ${thumb.body}`);
        const m = await sharp(thumb.rawPayload).metadata();
        assert.ok(m.width! <= 128 && m.height! <= 128, `${url}: ${m.width}x${m.height}`);
      }
    });

    test('objects that cannot be rendered answer 406', async () => {
      const sr = await inject({ url: `${instanceUrl(SR)}/rendered` });
      assert.equal(sr.statusCode, 406, sr.body);
      assert.equal(sr.json().code, 'RENDERING_NOT_SUPPORTED');
    });
  });

  describe('WADO-URI', () => {
    const wado = (name: string, extra = '') => {
      const u = uids.get(name)!;
      return `/wado?requestType=WADO&studyUID=${u.study}&seriesUID=${u.series}&objectUID=${u.instance}${extra}`;
    };

    test('application/dicom is byte-identical; image/jpeg is the default', async () => {
      const dcm = await inject({ url: wado(CT_LE, '&contentType=application/dicom') });
      assert.equal(dcm.statusCode, 200);
      assert.equal(dcm.headers['content-type'], 'application/dicom');
      assert.ok(dcm.rawPayload.equals(files.get(CT_LE)!));

      const jpeg = await inject({ url: wado(CT_LE, '&windowCenter=40&windowWidth=400&columns=256') });
      assert.equal(jpeg.statusCode, 200, jpeg.body);
      assert.equal(jpeg.headers['content-type'], 'image/jpeg');
      assert.equal((await sharp(jpeg.rawPayload).metadata()).width, 256);

      const frame = await inject({ url: wado(NM_MULTIFRAME, '&contentType=image/png&frameNumber=13') });
      assert.equal(frame.statusCode, 200, frame.body);
      assert.equal((await inject({ url: wado(NM_MULTIFRAME, '&frameNumber=14') })).statusCode, 404);
    });

    test('400 for missing parameters, 406 for a transfer syntax we would have to transcode to', async () => {
      assert.equal((await inject({ url: '/wado?requestType=WADO&studyUID=1.2' })).statusCode, 400);
      assert.equal((await inject({ url: wado(CT_LE).replace('requestType=WADO', 'requestType=OTHER') })).statusCode, 400);
      assert.equal((await inject({ url: wado(CT_LE, '&contentType=application/dicom&transferSyntax=1.2.840.10008.1.2.4.50') })).statusCode, 406);
      assert.equal((await inject({ url: wado(CT_LE, '&contentType=application/dicom&transferSyntax=1.2.840.10008.1.2.1') })).statusCode, 200);
      const u = uids.get(CT_LE)!;
      assert.equal((await inject({ url: `/wado?requestType=WADO&studyUID=${u.study}&seriesUID=${u.series}&objectUID=1.2.3` })).statusCode, 404);
    });
  });

  test('401 without credentials, on every endpoint family', async () => {
    for (const [method, url] of [['GET', '/dicom-web/studies'], ['POST', '/dicom-web/studies'], ['GET', instanceUrl(CT_LE)], ['GET', `/wado?requestType=WADO`]] as const) {
      const res = await t.app.inject({ method, url, headers: { 'content-type': 'application/dicom' }, payload: method === 'POST' ? 'x' : undefined });
      assert.equal(res.statusCode, 401, `${method} ${url}`);
      assert.equal(res.json().code, 'UNAUTHENTICATED');
    }
  });
});

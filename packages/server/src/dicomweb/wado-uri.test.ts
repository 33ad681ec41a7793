/**
 * WADO-URI `anonymize=yes` and `region` (issue 15, item 2), and the parameter combinations
 * PS3.18 forbids, over a real archive. The de-identified instances are read back with our
 * parser and with dcmtk's dcmdump; their pixels are compared with the stored ones.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { buildPart10, encodeDataset, getFrame, getPixelDataInfo, parseDicom, readIndexAttributes, toDicomJson, TRANSFER_SYNTAX, type DicomJsonDataset, type ParsedDicom } from '@yunying/dicom';
import { runTool } from '@yunying/testing/dcmtk';
import { newUid } from '@yunying/testing/synthetic-dicom';
import { systemCaller } from '../access/caller.ts';
import { renderFrame } from '../rendering/render.ts';
import { BASIC_AUTH, createTestApp, sample, type TestApp } from './test-support.ts';

const SAMPLES = {
  ct: 'transfer-syntax/ct-same-image/ct_1.2.840.10008.1.2.1_explicit-vr-le.dcm',
  chinese: 'charset/chrX2.dcm',
  bigEndian: 'transfer-syntax/mr-small/MR_small_bigendian.dcm',
  jpeg: 'modality/xa/XA_multiframe_96f_jpeg.dcm',
  implicit: 'transfer-syntax/ct-same-image/ct_1.2.840.10008.1.2_implicit-vr-le.dcm',
} as const;
type Name = keyof typeof SAMPLES | 'nested' | 'burnedIn';

interface Ids { study: string; series: string; instance: string }

function pixelBytes(parsed: ParsedDicom): Buffer {
  const info = getPixelDataInfo(parsed)!;
  return Buffer.concat(Array.from({ length: info.numberOfFrames }, (_, i) => getFrame(parsed, i + 1)));
}

/** An instance with what the profile must reach inside sequences and private groups. */
function nestedInstance(burnedIn: boolean): Buffer {
  const sop = newUid();
  const dataset: DicomJsonDataset = {
    '00080016': { vr: 'UI', Value: ['1.2.840.10008.5.1.4.1.1.7'] },
    '00080018': { vr: 'UI', Value: [sop] },
    '00080050': { vr: 'SH', Value: ['ACC-SECRET-1'] },
    '00080080': { vr: 'LO', Value: ['周市镇卫生院'] },
    '00081140': { vr: 'SQ', Value: [{ '00081150': { vr: 'UI', Value: ['1.2.840.10008.5.1.4.1.1.7'] }, '00081155': { vr: 'UI', Value: ['1.2.3.4.5.6.7.8'] }, '0040A123': { vr: 'PN', Value: [{ Alphabetic: 'Nested^Secret' }] } }] },
    '00090010': { vr: 'LO', Value: ['ACME PRIVATE'] },
    '00091001': { vr: 'LO', Value: ['private-secret'] },
    '00100010': { vr: 'PN', Value: [{ Alphabetic: 'Zhou^Min', Ideographic: '周^敏' }] },
    '00100020': { vr: 'LO', Value: ['P-SECRET-9'] },
    '00101040': { vr: 'LO', Value: ['昆山市某路1号'] },
    '0020000D': { vr: 'UI', Value: [newUid()] },
    '0020000E': { vr: 'UI', Value: [newUid()] },
    '00280002': { vr: 'US', Value: [1] },
    '00280004': { vr: 'CS', Value: ['MONOCHROME2'] },
    '00280010': { vr: 'US', Value: [4] },
    '00280011': { vr: 'US', Value: [4] },
    '00280100': { vr: 'US', Value: [8] },
    '00280101': { vr: 'US', Value: [8] },
    '00280102': { vr: 'US', Value: [7] },
    '00280103': { vr: 'US', Value: [0] },
    '00280301': { vr: 'CS', Value: [burnedIn ? 'YES' : 'NO'] },
    '7FE00010': { vr: 'OB', InlineBinary: Buffer.from(Array.from({ length: 16 }, (_, i) => i * 16)).toString('base64') },
  };
  return buildPart10(encodeDataset(dataset, TRANSFER_SYNTAX.EXPLICIT_LE), { transferSyntaxUid: TRANSFER_SYNTAX.EXPLICIT_LE, sopClassUid: '1.2.840.10008.5.1.4.1.1.7', sopInstanceUid: sop });
}

describe('WADO-URI anonymize and region', () => {
  let t: TestApp;
  const ids = new Map<Name, Ids>();
  const files = new Map<Name, Buffer>();
  const wado = (name: Name, extra: string) => {
    const u = ids.get(name)!;
    return `/wado?requestType=WADO&studyUID=${u.study}&seriesUID=${u.series}&objectUID=${u.instance}${extra}`;
  };
  const get = (url: string) => t.app.inject({ method: 'GET', url, headers: { authorization: BASIC_AUTH } });

  before(async () => {
    t = await createTestApp();
    for (const [name, file] of Object.entries(SAMPLES) as Array<[Name, string]>) files.set(name, await sample(file));
    files.set('nested', nestedInstance(false));
    files.set('burnedIn', nestedInstance(true));
    for (const [name, bytes] of files) {
      const stored = await t.archive.ingest(systemCaller('test'), { kind: 'part10', bytes });
      const attributes = readIndexAttributes(parseDicom(bytes, { untilPixelData: true }));
      ids.set(name, { study: attributes.studyInstanceUid, series: attributes.seriesInstanceUid, instance: attributes.sopInstanceUid });
      assert.ok(stored);
    }
  });

  after(async () => {
    await t.close();
  });

  test('anonymize=yes answers a de-identified instance: identifiers gone at every depth, pixels untouched, dcmtk reads it', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'yunying-deid-'));
    try {
      for (const name of ['ct', 'chinese', 'bigEndian', 'jpeg', 'implicit', 'nested'] as const) {
        const original = parseDicom(files.get(name)!);
        const before = readIndexAttributes(original);
        const answer = await get(wado(name, '&contentType=application/dicom&anonymize=yes'));
        assert.equal(answer.statusCode, 200, `${name}: ${answer.body}`);
        assert.equal(answer.headers['content-type'], 'application/dicom');
        assert.ok(!String(answer.headers['content-disposition']).includes(before.sopInstanceUid), 'the file name carries no UID');
        const bytes = answer.rawPayload;
        const parsed = parseDicom(bytes);
        const after = readIndexAttributes(parsed);
        const json = toDicomJson(parsed, { inlineBinaryMaxBytes: 0 });
        // identifiers replaced, consistently: a second export gives the same UIDs
        for (const uid of [before.studyInstanceUid, before.seriesInstanceUid, before.sopInstanceUid]) assert.ok(!bytes.includes(Buffer.from(uid, 'latin1')), `${name}: ${uid} still in the instance`);
        assert.match(after.studyInstanceUid, /^2\.25\.\d+$/);
        assert.notEqual(after.sopInstanceUid, before.sopInstanceUid);
        const again = readIndexAttributes(parseDicom((await get(wado(name, '&contentType=application/dicom&anonymize=yes'))).rawPayload));
        assert.deepEqual([again.studyInstanceUid, again.seriesInstanceUid, again.sopInstanceUid], [after.studyInstanceUid, after.seriesInstanceUid, after.sopInstanceUid]);
        if (before.patientId) {
          assert.ok(!bytes.includes(Buffer.from(before.patientId, 'latin1')), `${name}: the patient ID is still there`);
          assert.match(after.patientId ?? '', /^ANON-[0-9A-F]{16}$/);
        }
        assert.equal(after.patientName, 'ANONYMIZED');
        assert.equal(after.patientBirthDate, undefined);
        assert.equal(after.accessionNumber, undefined);
        assert.ok(after.institutionName === undefined || after.institutionName === 'ANONYMIZED', `${name}: institution ${after.institutionName}`);
        assert.equal(json['00120062']?.Value?.[0], 'YES', 'Patient Identity Removed');
        assert.equal(((json['00120064']?.Value?.[0] as DicomJsonDataset)['00080100']?.Value?.[0]), '113100');
        assert.ok(!Object.keys(json).some((tag) => Number.parseInt(tag.slice(0, 4), 16) % 2 === 1), `${name}: a private element is left`);
        // the pixels: the same stored bytes, or (big endian converted first) the same picture
        if (name === 'bigEndian') {
          const a = await renderFrame(original, { frame: 1, format: 'png' });
          const b = await renderFrame(parsed, { frame: 1, format: 'png' });
          assert.ok((await sharp(a.body).raw().toBuffer()).equals(await sharp(b.body).raw().toBuffer()), 'big endian: same picture');
        } else assert.ok(pixelBytes(parsed).equals(pixelBytes(original)), `${name}: pixel data changed`);
        const file = path.join(dir, `${name}.dcm`);
        await writeFile(file, bytes);
        const dump = await runTool('dcmdump', ['-q', file]);
        assert.equal(dump.code, 0, `${name}: dcmdump ${dump.stderr}`);
      }
      const nested = answerText(await get(wado('nested', '&contentType=application/dicom&anonymize=yes')));
      for (const secret of ['Nested^Secret', 'private-secret', 'ACME PRIVATE', 'P-SECRET-9', 'ACC-SECRET-1', '1.2.3.4.5.6.7.8', 'Zhou^Min', '周', '昆山']) assert.ok(!nested.includes(secret), `"${secret}" survived de-identification`);
      assert.ok(nested.includes('1.2.840.10008.5.1.4.1.1.7'), 'the SOP Class UIDs (well-known) are kept');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('anonymize=yes is audited as an export; without it a retrieval', async () => {
    await t.archive.audit.drain();
    const study = ids.get('ct')!.study;
    const rows = await t.archive.database.db.selectFrom('audit_events').selectAll().where('object_id', '=', study).execute();
    const exported = rows.filter((row) => row.action === 'study.exported');
    assert.ok(exported.length >= 1, JSON.stringify(rows.map((r) => r.action)));
    assert.match(exported[0]!.details, /deidentified/);
    await get(wado('ct', '&contentType=application/dicom'));
    await t.archive.audit.drain();
    const after = await t.archive.database.db.selectFrom('audit_events').selectAll().where('object_id', '=', study).execute();
    assert.ok(after.some((row) => row.action === 'study.retrieved'));
  });

  test('an instance with Burned In Annotation YES is refused, not sent identified', async () => {
    const answer = await get(wado('burnedIn', '&contentType=application/dicom&anonymize=yes'));
    assert.equal(answer.statusCode, 422, answer.body);
    assert.equal(answer.json().code, 'DEIDENTIFICATION_REFUSED');
  });

  test('region cuts out a part of the image before rows/columns fit it', async () => {
    const whole = await get(wado('ct', '&contentType=image/png'));
    assert.equal(whole.statusCode, 200, whole.body);
    const full = await sharp(whole.rawPayload).raw().toBuffer({ resolveWithObject: true });
    const quarter = await get(wado('ct', '&contentType=image/png&region=0.5,0,1,0.5'));
    assert.equal(quarter.statusCode, 200, quarter.body);
    const part = await sharp(quarter.rawPayload).raw().toBuffer({ resolveWithObject: true });
    assert.deepEqual([part.info.width, part.info.height], [full.info.width / 2, full.info.height / 2]);
    // the top-right quadrant, pixel for pixel
    const expected = await sharp(whole.rawPayload).extract({ left: full.info.width / 2, top: 0, width: full.info.width / 2, height: full.info.height / 2 }).raw().toBuffer();
    assert.ok(part.data.equals(expected), 'the region is the top-right quadrant');
    const fitted = await get(wado('ct', '&contentType=image/jpeg&region=0,0,0.5,1&columns=64'));
    assert.equal(fitted.statusCode, 200, fitted.body);
    const meta = await sharp(fitted.rawPayload).metadata();
    assert.deepEqual([meta.width, meta.height], [64, 128], 'a half-width region fitted to 64 columns');
  });

  test('parameters PS3.18 does not allow together, or malformed, answer 400 with the reason', async () => {
    const cases: Array<[string, RegExp]> = [
      ['&contentType=application/dicom&anonymize=no', /anonymize must be "yes"/],
      ['&contentType=image/jpeg&anonymize=yes', /anonymize=yes requires contentType=application\/dicom/],
      ['&contentType=application/dicom&region=0,0,1,1', /region cannot be used with contentType=application\/dicom/],
      ['&anonymize=yes&rows=64', /rows cannot be used/],
      ['&contentType=image/jpeg&transferSyntax=1.2.840.10008.1.2.1', /transferSyntax requires contentType=application\/dicom/],
      ['&contentType=image/jpeg&region=0,0,1', /region must be x1,y1,x2,y2/],
      ['&contentType=image/jpeg&region=0,0,1.5,1', /region must be x1,y1,x2,y2/],
      ['&contentType=image/jpeg&region=0.5,0,0.2,1', /x2 > x1/],
    ];
    for (const [extra, reason] of cases) {
      const answer = await get(wado('ct', extra));
      assert.equal(answer.statusCode, 400, `${extra}: ${answer.body}`);
      assert.match(answer.json().message, reason, extra);
    }
    // without a contentType, anonymize=yes means application/dicom
    const implied = await get(wado('ct', '&anonymize=yes'));
    assert.equal(implied.statusCode, 200, implied.body);
    assert.equal(implied.headers['content-type'], 'application/dicom');
  });
});

function answerText(answer: { rawPayload: Buffer }): string {
  return answer.rawPayload.toString('latin1') + answer.rawPayload.toString('utf8');
}

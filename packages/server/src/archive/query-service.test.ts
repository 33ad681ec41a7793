import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { DicomJsonDataset } from '@yunying/dicom';
import { systemCaller, type Caller } from '../access/caller.ts';
import { makeSyntheticInstance, newUid, type SyntheticInstanceOptions } from '../test-support/synthetic-dicom.ts';
import { openArchive, type Archive } from './archive.ts';
import type { QueryLevel } from './archive-service.ts';
import { createTestDatabase, type TestDatabase } from '../test-support/postgres.ts';

/** The same matching on both index databases: one schema, one migration set, one SQL. */
for (const backend of ['sqlite', 'postgres'] as const) {
describe(`query matching on ${backend}`, () => {
  let archive: Archive;
  let dataDir: string;
  let postgres: TestDatabase | undefined;
  const run = `Q${Date.now() % 100000}`;
  const studies = {
    ct: newUid(),
    mr: newUid(),
    dr: newUid(),
  };

  async function store(options: SyntheticInstanceOptions): Promise<void> {
    await archive.ingest(systemCaller(), { kind: 'part10', bytes: makeSyntheticInstance({ accessionNumber: `${run}${options.modality}`, ...options }).bytes });
  }

  before(async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), 'yunying-query-'));
    postgres = backend === 'postgres' ? await createTestDatabase() : undefined;
    archive = await openArchive({ dataDir, fsync: false, databaseUrl: postgres?.url });
    const ctSeries = newUid();
    for (let n = 1; n <= 3; n++) await store({ studyInstanceUid: studies.ct, seriesInstanceUid: ctSeries, instanceNumber: n, modality: 'CT', patientId: `${run}-1`, patientName: 'ZHANG^SAN', studyDate: '20240105' });
    await store({ studyInstanceUid: studies.mr, modality: 'MR', patientId: `${run}-1`, patientName: 'ZHANG^SAN', studyDate: '20240220' });
    await store({ studyInstanceUid: studies.mr, modality: 'SR', patientId: `${run}-1`, patientName: 'ZHANG^SAN', studyDate: '20240220' });
    await store({ studyInstanceUid: studies.dr, modality: 'DX', patientId: `${run}-2`, patientName: 'LI^SI', studyDate: '20231231' });
  });

  after(async () => {
    await archive.close();
    await postgres?.drop();
    await rm(dataDir, { recursive: true, force: true });
  });

  const text = (vr: string, value?: string) => (value === undefined ? { vr } : { vr, Value: [value] });
  const ofThisRun = { '00080050': text('SH', `${run}*`) };

  async function find(level: QueryLevel, keys: DicomJsonDataset, caller: Caller = systemCaller(), paging: { limit?: number; offset?: number } = {}): Promise<DicomJsonDataset[]> {
    return archive.query(caller, { level, keys: { ...ofThisRun, ...keys }, ...paging });
  }

  const studyUids = (results: DicomJsonDataset[]) => results.map((r) => r['0020000D']?.Value?.[0]).sort();

  test('date ranges: closed, open-ended on either side, and a single date', async () => {
    assert.deepEqual(studyUids(await find('STUDY', { '00080020': text('DA', '20240101-20240131') })), [studies.ct]);
    assert.deepEqual(studyUids(await find('STUDY', { '00080020': text('DA', '20240101-') })), [studies.ct, studies.mr].sort());
    assert.deepEqual(studyUids(await find('STUDY', { '00080020': text('DA', '-20231231') })), [studies.dr]);
    assert.deepEqual(studyUids(await find('STUDY', { '00080020': text('DA', '20240220') })), [studies.mr]);
  });

  test('time ranges include the end of the last minute', async () => {
    assert.equal((await find('STUDY', { '00080030': text('TM', '0900-0930') })).length, 3);
    assert.equal((await find('STUDY', { '00080030': text('TM', '1000-') })).length, 0);
  });

  test('wildcards * and ? on person names, case-insensitively', async () => {
    assert.deepEqual(studyUids(await find('STUDY', { '00100010': { vr: 'PN', Value: [{ Alphabetic: 'zh?ng*' }] } })), [studies.ct, studies.mr].sort());
    assert.deepEqual(studyUids(await find('STUDY', { '00100010': { vr: 'PN', Value: [{ Alphabetic: 'LI^SI' }] } })), [studies.dr]);
  });

  test('ModalitiesInStudy matches any series; several values match any of them', async () => {
    assert.deepEqual(studyUids(await find('STUDY', { '00080061': text('CS', 'SR') })), [studies.mr]);
    assert.deepEqual(studyUids(await find('STUDY', { '00080061': { vr: 'CS', Value: ['CT', 'DX'] } })), [studies.ct, studies.dr].sort());
    const [mr] = await find('STUDY', { '0020000D': text('UI', studies.mr), '00080061': text('CS') });
    assert.deepEqual(mr['00080061'].Value, ['MR', 'SR']);
  });

  test('a list of UIDs matches each of them', async () => {
    assert.deepEqual(studyUids(await find('STUDY', { '0020000D': text('UI', `${studies.ct}\\${studies.dr}`) })), [studies.ct, studies.dr].sort());
  });

  test('universal matching returns the attribute; counts are returned at every level', async () => {
    const [ct] = await find('STUDY', { '0020000D': text('UI', studies.ct), '00100010': { vr: 'PN' }, '00201206': { vr: 'IS' }, '00201208': { vr: 'IS' } });
    assert.deepEqual(ct['00100010'].Value, [{ Alphabetic: 'ZHANG^SAN' }]);
    assert.deepEqual(ct['00201206'].Value, [1]);
    assert.deepEqual(ct['00201208'].Value, [3]);
    const series = await find('SERIES', { '0020000D': text('UI', studies.mr), '00080060': text('CS'), '00201209': { vr: 'IS' } });
    assert.deepEqual(series.map((s) => s['00080060'].Value?.[0]).sort(), ['MR', 'SR']);
    assert.ok(series.every((s) => s['00201209'].Value?.[0] === 1));
  });

  test('PATIENT level groups studies by patient; IMAGE level lists instances in order with paging', async () => {
    // The run's Patient ID alone: AccessionNumber is no key of the PATIENT level (refused, not ignored).
    const patients = await archive.query(systemCaller(), { level: 'PATIENT', keys: { '00100020': text('LO', `${run}-1`), '00201200': { vr: 'IS' }, '00201204': { vr: 'IS' } } });
    assert.equal(patients.length, 1);
    assert.deepEqual(patients[0]['00201200'].Value, [2]);
    assert.deepEqual(patients[0]['00201204'].Value, [5]);
    const images = await find('IMAGE', { '0020000D': text('UI', studies.ct), '00200013': { vr: 'IS' } });
    assert.deepEqual(images.map((i) => i['00200013'].Value?.[0]), [1, 2, 3]);
    const page = await find('IMAGE', { '0020000D': text('UI', studies.ct), '00200013': { vr: 'IS' } }, systemCaller(), { limit: 1, offset: 1 });
    assert.deepEqual(page.map((i) => i['00200013'].Value?.[0]), [2]);
  });

  test('a caller sees only the institutions it may see: an invisible study looks like a missing one', async () => {
    const elsewhere: Caller = { ...systemCaller(), institutionId: 'other', visibleInstitutionIds: ['other'] };
    assert.deepEqual(await find('STUDY', { '0020000D': text('UI', studies.ct) }, elsewhere), []);
    assert.deepEqual(await archive.findInstances(elsewhere, { studyInstanceUids: [studies.ct] }), []);
    assert.equal((await archive.findInstances(systemCaller(), { studyInstanceUids: [studies.ct] })).length, 3);
  });

  test('malformed matching keys are refused with a reason', async () => {
    await assert.rejects(find('PATIENT', {}), { code: 'UNSUPPORTED_MATCHING_KEY', message: /^\(0008,0050\) AccessionNumber is not a supported matching key at the PATIENT level/ });
    await assert.rejects(find('STUDY', { '00080020': text('DA', 'last week') }), /not a valid DA/);
    await assert.rejects(find('STUDY', { '0020000D': text('UI', '1.2.3.*') }), /not a valid UID/);
  });
});
}

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { openArchive } from '../archive/archive.ts';
import { systemCaller, type Caller } from '../access/caller.ts';
import { ReadingStore } from '../store/reading-store.ts';
import { createTestDatabase } from '../test-support/postgres.ts';
import { makeSyntheticInstance } from '../test-support/synthetic-dicom.ts';
import { createReadingServices } from './reading-services.ts';
import { ageBetween, parsePatientAge } from './request-view.ts';
import { DEFAULT_SLA_MINUTES } from './sla.ts';

/** A Patient's Name with its ideographic group, in UTF-8 (ISO_IR 192). */
const chineseName = (name: string) => ({ specificCharacterSet: 'ISO_IR 192', bytes: Buffer.from(name, 'utf8') });

test('age at the study: Patient Age when recorded, else birth date to study date', () => {
  assert.deepEqual(parsePatientAge('045Y'), { value: 45, unit: 'Y' });
  assert.deepEqual(parsePatientAge('003M'), { value: 3, unit: 'M' });
  assert.equal(parsePatientAge('45'), null);
  assert.deepEqual(ageBetween('19810315', '20261123'), { value: 45, unit: 'Y' });
  assert.deepEqual(ageBetween('19811124', '20261123'), { value: 44, unit: 'Y' }, 'the birthday is the day after');
  assert.deepEqual(ageBetween('20260801', '20261123'), { value: 3, unit: 'M' });
  assert.deepEqual(ageBetween('20261110', '20261123'), { value: 13, unit: 'D' });
  assert.equal(ageBetween('20270101', '20261123'), null);
  assert.equal(ageBetween(null, '20261123'), null);
  assert.equal(ageBetween('20260230', '20261123'), null);
});

for (const backend of ['sqlite', 'postgres'] as const) {
  test(`${backend}: the worklist searches hanzi, pinyin, Patient ID and accession within the caller's centre, with age and the reader's display name`, async () => {
    const dataDir = await mkdtemp(path.join(tmpdir(), 'yunying-worklist-search-'));
    const postgres = backend === 'postgres' ? await createTestDatabase() : undefined;
    const archive = await openArchive({ dataDir, fsync: false, databaseUrl: postgres?.url });
    try {
      const admin = { ...systemCaller(), via: 'rest' as const };
      for (const id of ['centre', 'other-centre']) await archive.accessStore.insertInstitution({ id, name: id, tier: 'county', grade: 3, region_code: null, parent_id: null });
      const store = new ReadingStore(archive.database.db, archive.database.dialect);
      const reading = createReadingServices({ store, access: archive.accessStore, index: archive.index, audit: archive.audit, notifier: { publish: async () => undefined }, unitOfWork: archive.unitOfWork }, { sla: DEFAULT_SLA_MINUTES, stableSeconds: 30, timeZone: 'Asia/Shanghai' });
      const request = async (readingInstitutionId: string, options: Parameters<typeof makeSyntheticInstance>[0]) => {
        const study = makeSyntheticInstance(options);
        await archive.ingest(admin, { kind: 'part10', bytes: study.bytes });
        return (await reading.requests.createRequest(admin, { studyInstanceUid: study.studyInstanceUid, readingInstitutionId, priority: 'routine', imagesComplete: true })).id;
      };
      const zhang = await request('centre', { encodedPatientName: chineseName('ZHANG^SAN=张^三'), patientId: 'KS0012345', accessionNumber: 'CT20261123001', patientAge: '045Y' });
      const wang = await request('centre', { encodedPatientName: chineseName('WANG^XIAODONG=王^小东'), patientId: 'KS0099999', accessionNumber: 'DR20261123002', patientBirthDate: '19900601', studyDate: '20261123' });
      // the same name and ID at another centre: never in this centre's results
      const elsewhere = await request('other-centre', { encodedPatientName: chineseName('ZHANG^SAN=张^三'), patientId: 'KS0012345', accessionNumber: 'CT20261123001' });

      await archive.accessStore.insertUser({ id: '00000000-0000-4000-8000-000000000001', username: 'rad1', display_name: '赵医生', institution_id: 'centre', role: 'radiologist', password_hash: 'x', enabled: 1 });
      const radiologist: Caller = { kind: 'user', name: 'rad1', institutionId: 'centre', role: 'radiologist', visibleInstitutionIds: ['centre'], grantedToInstitutionId: 'centre', via: 'rest' };
      await reading.worklist.claim(radiologist, wang);

      const search = async (q: string) => (await reading.worklist.worklist(radiologist, { search: q, limit: 100, offset: 0 })).map((view) => view.id).sort();
      for (const q of ['张', '三', '张三', 'zhang', 'ZhangSan', 'zhang san', 'san', 'KS0012345', 'KS00123', 'CT20261123001', 'CT2026']) assert.deepEqual(await search(q), [zhang], `"${q}"`);
      for (const q of ['小东', 'xiaodong', 'wang xiao', 'DR2026']) assert.deepEqual(await search(q), [wang], `"${q}"`);
      assert.deepEqual(await search('KS00'), [zhang, wang].sort(), 'a Patient ID prefix');
      for (const q of ['李', 'li si', '12345', '%', '_', '|']) assert.deepEqual(await search(q), [], `"${q}" matches nothing`);
      assert.deepEqual(await search('  '), [zhang, wang].sort(), 'a blank search is no filter');

      // the other centre sees its own study under the same search, and only it
      const other: Caller = { ...radiologist, name: 'rad9', institutionId: 'other-centre', visibleInstitutionIds: ['other-centre'], grantedToInstitutionId: 'other-centre' };
      assert.deepEqual((await reading.worklist.worklist(other, { search: 'zhang san', limit: 100, offset: 0 })).map((view) => view.id), [elsewhere]);

      const rows = await reading.worklist.worklist(radiologist, { limit: 100, offset: 0 });
      const byId = new Map(rows.map((view) => [view.id, view]));
      assert.deepEqual(byId.get(zhang)?.patient?.ageAtStudy, { value: 45, unit: 'Y' }, 'from Patient Age');
      assert.deepEqual(byId.get(wang)?.patient?.ageAtStudy, { value: 36, unit: 'Y' }, 'from birth and study dates');
      assert.equal(byId.get(wang)?.claimedBy, 'rad1');
      assert.equal(byId.get(wang)?.claimedByName, '赵医生');
      assert.equal(byId.get(zhang)?.claimedByName, null);
    } finally {
      await archive.close();
      await postgres?.drop();
      await rm(dataDir, { recursive: true, force: true });
    }
  });
}

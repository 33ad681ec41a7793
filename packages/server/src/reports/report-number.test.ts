/**
 * 报告编号 (migration 0019-report-numbers): given at signing, per reading institution and
 * year, unique and gapless when many reports are signed at once (SQLite and PostgreSQL), a
 * lost signing race takes no number, addenda keep it, and the migration numbers the reports
 * signed before it in the order of their signature.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import { openArchive, type Archive } from '../archive/archive.ts';
import { systemCaller, type Caller } from '../access/caller.ts';
import { createReadingServices, type ReadingServices } from '../reading/reading-services.ts';
import { DEFAULT_SLA_MINUTES } from '../reading/sla.ts';
import { ReadingStore } from '../store/reading-store.ts';
import { migrationProviderFor } from '../store/migrations.ts';
import { createTestDatabase } from '../test-support/postgres.ts';
import { makeSyntheticInstance } from '../test-support/synthetic-dicom.ts';
import { formatReportNumber, issuedVersionOf, reportNumberPrefix, reportNumberYear } from './report-number.ts';

test('the number: the institution in capitals, the year in the deployment zone, six digits', () => {
  assert.equal(reportNumberPrefix('ks-t1'), 'KS-T1');
  assert.equal(reportNumberPrefix('sz.city_2'), 'SZ-CITY-2');
  assert.equal(formatReportNumber('ks-county', 2026, 123), 'KS-COUNTY-2026-000123');
  assert.equal(formatReportNumber('ks-county', 2026, 1_234_567), 'KS-COUNTY-2026-1234567');
  // 00:30 on 1 January in Shanghai is still 31 December in UTC
  assert.equal(reportNumberYear('2026-12-31T16:30:00.000Z', 'Asia/Shanghai'), 2027);
  assert.equal(reportNumberYear('2026-12-31T16:30:00.000Z', 'UTC'), 2026);
});

test('the issued version counts the signature and the addenda, not the drafts handed in and returned', () => {
  const versions = [
    { version: 1, kind: 'submitted' },
    { version: 2, kind: 'returned' },
    { version: 3, kind: 'submitted' },
    { version: 4, kind: 'signed' },
    { version: 5, kind: 'addendum' },
  ];
  assert.equal(issuedVersionOf(versions.slice(0, 3)), 0);
  assert.equal(issuedVersionOf(versions.slice(0, 4)), 1, 'saved, returned, handed in again and signed: 第 1 版');
  assert.equal(issuedVersionOf(versions), 2);
  assert.equal(issuedVersionOf(versions, 4), 1);
});

const PARALLEL = 24;
const YEAR = reportNumberYear(new Date().toISOString(), 'Asia/Shanghai');

interface World {
  archive: Archive;
  reading: ReadingServices;
  radiologist: Caller;
  reviewer: Caller;
  otherRadiologist: Caller;
  otherReviewer: Caller;
}

async function world(dataDir: string, databaseUrl: string | undefined): Promise<World> {
  const archive = await openArchive({ dataDir, fsync: false, databaseUrl });
  const store = new ReadingStore(archive.database.db, archive.database.dialect);
  const reading = createReadingServices({ store, access: archive.accessStore, index: archive.index, audit: archive.audit, notifier: { publish: async () => undefined }, unitOfWork: archive.unitOfWork }, { sla: DEFAULT_SLA_MINUTES, stableSeconds: 30, timeZone: 'Asia/Shanghai' });
  const user = (name: string, role: Caller['role'], institutionId: string): Caller => ({ kind: 'user', name, institutionId, role, visibleInstitutionIds: [institutionId], grantedToInstitutionId: institutionId, via: 'rest' });
  return { archive, reading, radiologist: user('rad1', 'radiologist', 'ks-county'), reviewer: user('rev1', 'reviewing-radiologist', 'ks-county'), otherRadiologist: user('rad9', 'radiologist', 'sz.city'), otherReviewer: user('rev9', 'reviewing-radiologist', 'sz.city') };
}

/** A request at the reading institution, its report drafted and handed in; resolves to the report id. */
async function submittedReport(w: World, readingInstitutionId: string, radiologist: Caller, returnedOnce = false): Promise<string> {
  const study = makeSyntheticInstance({});
  await w.archive.ingest({ ...systemCaller(), via: 'rest' }, { kind: 'part10', bytes: study.bytes });
  const request = await w.reading.requests.createRequest({ ...systemCaller(), via: 'rest' }, { studyInstanceUid: study.studyInstanceUid, readingInstitutionId, priority: 'routine', imagesComplete: true });
  await w.reading.worklist.claim(radiologist, request.id);
  const draft = await w.reading.reports.saveDraft(radiologist, request.id, { findings: '双肺纹理清晰。', impression: '未见异常。', positive: false });
  await w.reading.reports.saveDraft(radiologist, request.id, { findings: '双肺纹理清晰，未见实质性病变。', impression: '未见异常。', positive: false });
  await w.reading.reports.submit(radiologist, draft.id);
  if (returnedOnce) {
    const reviewer = radiologist === w.radiologist ? w.reviewer : w.otherReviewer;
    await w.reading.reports.returnForRevision(reviewer, draft.id, '请补充纵隔描述');
    await w.reading.reports.saveDraft(radiologist, request.id, { findings: '双肺纹理清晰，纵隔居中。', impression: '未见异常。', positive: false });
    await w.reading.reports.submit(radiologist, draft.id);
  }
  return draft.id;
}

const expected = (institutionId: string, count: number) => Array.from({ length: count }, (_, i) => formatReportNumber(institutionId, YEAR, i + 1));

for (const backend of ['sqlite', 'postgres'] as const) {
  test(`${backend}: reports signed at once get unique, gapless numbers per institution; a lost race takes none; the migration numbers earlier reports`, { timeout: 180_000 }, async () => {
    const dataDir = await mkdtemp(path.join(tmpdir(), 'yunying-report-numbers-'));
    const postgres = backend === 'postgres' ? await createTestDatabase() : undefined;
    let w = await world(dataDir, postgres?.url);
    try {
      for (const id of ['ks-county', 'sz.city']) await w.archive.accessStore.insertInstitution({ id, name: id, tier: 'county', grade: 3, region_code: null, parent_id: null });
      const county = [];
      for (let i = 0; i < PARALLEL; i++) county.push(await submittedReport(w, 'ks-county', w.radiologist, i === 0));
      const city = [];
      for (let i = 0; i < 4; i++) city.push(await submittedReport(w, 'sz.city', w.otherRadiologist));
      // a draft that is never signed takes no number
      const unsigned = await submittedReport(w, 'ks-county', w.radiologist);
      assert.equal((await w.reading.reports.getReport(w.reviewer, unsigned)).reportNumber, null);

      // every signature at once, the first county report signed twice (one of the two loses)
      const signings = [...county.map((id) => w.reading.reports.sign(w.reviewer, id)), ...city.map((id) => w.reading.reports.sign(w.otherReviewer, id)), w.reading.reports.sign(w.reviewer, county[0]!)];
      const outcomes = await Promise.allSettled(signings);
      const refused = outcomes.filter((outcome) => outcome.status === 'rejected');
      assert.equal(refused.length, 1, 'the second signature of the same report is refused');
      assert.match(String((refused[0] as PromiseRejectedResult).reason), /cannot sign/);

      const numberOf = async (id: string, caller: Caller) => (await w.reading.reports.getReport(caller, id)).reportNumber;
      const countyNumbers = await Promise.all(county.map((id) => numberOf(id, w.reviewer)));
      const cityNumbers = await Promise.all(city.map((id) => numberOf(id, w.otherReviewer)));
      assert.deepEqual([...countyNumbers].sort(), expected('ks-county', PARALLEL), 'unique and gapless: the lost race took no number');
      assert.deepEqual([...cityNumbers].sort(), expected('sz.city', 4), "another institution's numbers are its own");
      assert.equal(new Set(countyNumbers).size, PARALLEL);

      // returned once and handed in again, then signed: the first issued version
      const first = await w.reading.reports.getReport(w.reviewer, county[0]!);
      assert.ok(first.version > 1, `the stored counter counts the drafts handed in (${first.version})`);
      assert.equal(first.issuedVersion, 1, '第 1 版');
      assert.deepEqual(first.versions.filter((v) => v.issuedVersion).map((v) => [v.kind, v.issuedVersion]), [['signed', 1]]);
      // an addendum keeps the number and is 第 2 版
      await w.reading.reports.addAddendum(w.radiologist, county[0]!, '补充：纵隔淋巴结不大。');
      const amended = await w.reading.reports.getReport(w.reviewer, county[0]!);
      assert.equal(amended.reportNumber, first.reportNumber);
      assert.equal(amended.issuedVersion, 2);
      // the request's detail shows the report with its number and the author's name field
      const detailReport = await w.reading.reports.reportOfCase(amended.requestId);
      assert.equal(detailReport?.reportNumber, first.reportNumber);

      // Migration 0019 on a database that predates it: the numbers are given in the order of
      // signature, and the counters continue after them.
      const signedOrder = (await w.archive.database.db.selectFrom('reports').select(['id', 'signed_at']).where('signed_at', 'is not', null).orderBy('signed_at').orderBy('id').execute()) as Array<{ id: string; signed_at: string }>;
      const db = w.archive.database.db;
      await sql`drop index reports_report_number`.execute(db);
      await sql`drop table report_number_counters`.execute(db);
      await sql`alter table reports drop column report_number`.execute(db);
      // 0019 itself, run again: the migrator would refuse to run it after later ones (0022, 0024, …) ran
      const migrations = await migrationProviderFor(w.archive.database.dialect).getMigrations();
      await migrations['0019-report-numbers']!.up(db);
      await w.archive.close();
      w = await world(dataDir, postgres?.url);
      const renumbered = (await w.archive.database.db.selectFrom('reports').select(['id', 'report_number']).execute()) as Array<{ id: string; report_number: string | null }>;
      const byId = new Map(renumbered.map((row) => [row.id, row.report_number]));
      const countyIds = new Set(county);
      assert.deepEqual(signedOrder.filter((row) => countyIds.has(row.id)).map((row) => byId.get(row.id)), expected('ks-county', PARALLEL), 'numbered in the order of signature');
      assert.deepEqual(signedOrder.filter((row) => !countyIds.has(row.id)).map((row) => byId.get(row.id)), expected('sz.city', 4));
      assert.equal(byId.get(unsigned), null);
      const next = await submittedReport(w, 'ks-county', w.radiologist);
      await w.reading.reports.sign(w.reviewer, next);
      assert.equal((await w.reading.reports.getReport(w.reviewer, next)).reportNumber, formatReportNumber('ks-county', YEAR, PARALLEL + 1), 'the counter continues after the backfill');
    } finally {
      await w.archive.close();
      await postgres?.drop();
      await rm(dataDir, { recursive: true, force: true });
    }
  });
}

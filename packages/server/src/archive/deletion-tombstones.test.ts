/**
 * Deleting a study ends what was made of it (issue 12, finding 3): its reading requests and
 * reports are tombstoned and its cloud-film links revoked, in the deletion's transaction, and
 * they are bound to the study row rather than to the UID string, so a study filed later
 * under the same Study Instance UID (even by another institution, for another patient)
 * inherits none of them. Also (finding 12): the trail of a deletion or a correction holds the
 * Patient ID in its column, never the patient's name in its details.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { CONSULTATION_TABLES } from '../consult/consultation-store.ts';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { stowBody } from '../dicomweb/test-support.ts';
import { createFixture, signReport, startShareServer, type Fixture, type ShareTestServer } from '../share/share-test-support.ts';
import { createTestDatabase, type TestDatabase } from '../test-support/postgres.ts';
import { makeSyntheticInstance, newUid, type SyntheticInstance } from '../test-support/synthetic-dicom.ts';
import { INGEST_COMPRESSION_COLUMNS, PN_PHONETIC_COLUMNS } from '../store/migrations.ts';

const FIRST_PATIENT = { id: 'P-FIRST-1', name: 'ZHANGFIRST^SAN' };
const SECOND_PATIENT = { id: 'P-SECOND-2', name: 'LISECOND^SI' };
const FINDINGS = '双肺纹理清晰，未见实质性病变。';

type Link = { id: string; url: string; reportId: string | null; status: string };
type AuditRow = { action: string; patient_id: string | null; details: Record<string, unknown> };

function studyOf(patient: { id: string; name: string }, studyInstanceUid = newUid(), count = 2): SyntheticInstance[] {
  const seriesInstanceUid = newUid();
  return Array.from({ length: count }, (_, n) => makeSyntheticInstance({ patientId: patient.id, patientName: patient.name, studyInstanceUid, seriesInstanceUid, instanceNumber: n + 1 }));
}

/** Everything a deletion must end, for one signed report of one study. */
interface Made {
  studyInstanceUid: string;
  requestId: string;
  reportId: string;
  link: Link;
}

interface Context {
  app: ShareTestServer;
  fixture: Fixture;
}

const call = (ctx: Context, who: string | undefined, method: string, url: string, body?: unknown, headers?: Record<string, string>) => ctx.fixture.client.call(who, method, url, body, headers);

async function stow(ctx: Context, who: string, instances: readonly SyntheticInstance[]): Promise<void> {
  const { payload, contentType } = stowBody(instances.map((i) => i.bytes));
  const response = await fetch(`${ctx.app.baseUrl}/dicom-web/studies`, { method: 'POST', headers: { authorization: `Bearer ${ctx.fixture.client.tokens[who]}`, 'content-type': contentType }, body: payload });
  assert.equal(response.status, 200, await response.text());
}

/** A study of the township, read and signed by the county, with the patient's cloud-film link that signing made. */
async function signedStudy(ctx: Context): Promise<Made> {
  const instances = studyOf(FIRST_PATIENT);
  const studyInstanceUid = instances[0]!.studyInstanceUid;
  await stow(ctx, 'tech', instances);
  const reportId = await signReport(ctx.fixture, studyInstanceUid, { findings: FINDINGS, impression: '未见异常。' });
  const report = await call(ctx, 'tech', 'GET', `/api/v1/reports/${reportId}`);
  assert.equal(report.status, 200, report.text);
  const requests = await call(ctx, 'tech', 'GET', '/api/v1/reading-requests?limit=100');
  const requestId = (requests.body as unknown as Array<{ id: string; studyInstanceUid: string }>).find((r) => r.studyInstanceUid === studyInstanceUid)!.id;
  // the PDF's QR code: the link exists once the report has been printed
  assert.equal((await call(ctx, 'tech', 'GET', `/api/v1/reports/${reportId}/pdf`)).status, 200);
  const links = await call(ctx, 'tech', 'GET', `/api/v1/share-links?studyInstanceUid=${studyInstanceUid}`);
  const link = (links.body as unknown as Link[]).find((l) => l.reportId === reportId);
  assert.ok(link, links.text);
  const page = await call(ctx, undefined, 'GET', new URL(link.url).pathname);
  assert.equal(page.status, 200);
  assert.ok(page.text.includes(FINDINGS), 'the cloud-film page shows the report before the deletion');
  return { studyInstanceUid, requestId, reportId, link };
}

/** Every way the old records were reachable now refuses, and none shows the new patient. */
async function assertGone(ctx: Context, made: Made, when: string): Promise<void> {
  const sharePath = new URL(made.link.url).pathname;
  const page = await call(ctx, undefined, 'GET', sharePath);
  assert.equal(page.status, 410, `${when}: the cloud-film page is withdrawn`);
  assert.equal((await call(ctx, undefined, 'GET', `${sharePath}/data.json`)).status, 410, `${when}: the page's data is withdrawn`);
  for (const who of ['tech', 'rad', 'admin']) {
    const pdf = await call(ctx, who, 'GET', `/api/v1/reports/${made.reportId}/pdf`);
    assert.equal(pdf.status, 404, `${when}: the PDF (${who})`);
    assert.equal((await call(ctx, who, 'GET', `/api/v1/reports/${made.reportId}`)).status, 404, `${when}: the report (${who})`);
    assert.equal((await call(ctx, who, 'GET', `/api/v1/reading-requests/${made.requestId}`)).status, 404, `${when}: the request (${who})`);
    assert.equal((await call(ctx, who, 'GET', `/fhir/r4/DiagnosticReport/${made.reportId}`)).status, 404, `${when}: the DiagnosticReport (${who})`);
    const worklist = await call(ctx, who, 'GET', '/api/v1/reading-requests?limit=100');
    assert.equal(worklist.status, 200);
    assert.ok(!(worklist.body as unknown as Array<{ id: string }>).some((r) => r.id === made.requestId), `${when}: the request is off the worklist (${who})`);
    const bundle = await call(ctx, who, 'GET', `/fhir/r4/DiagnosticReport?study=${made.studyInstanceUid}`);
    assert.ok(!bundle.text.includes(made.reportId), `${when}: no DiagnosticReport of the study (${who})`);
    for (const answer of [pdf, page, worklist, bundle]) assert.ok(!answer.text.includes('LISECOND'), `${when}: the new patient's name is not shown (${who})`);
  }
  const staffLinks = await call(ctx, 'admin', 'GET', `/api/v1/share-links/${made.link.id}`);
  if (staffLinks.status === 200) assert.equal((staffLinks.body as unknown as Link).status, 'revoked', `${when}: staff see the link revoked`);
}


function scenario(name: string, start: () => Promise<{ app: ShareTestServer; cleanup?: () => Promise<void> }>): void {
  describe(name, () => {
    const ctx = {} as Context;
    let cleanup: (() => Promise<void>) | undefined;

    before(async () => {
      const started = await start();
      ctx.app = started.app;
      cleanup = started.cleanup;
      ctx.fixture = await createFixture(ctx.app.baseUrl);
    });

    after(async () => {
      await ctx.app?.close();
      await cleanup?.();
    });

    test('deleting a study revokes its links and tombstones its requests and reports; a study re-filed under its UID inherits none of them', async () => {
      const made = await signedStudy(ctx);
      const deleted = await call(ctx, 'admin', 'DELETE', `/api/v1/studies/${made.studyInstanceUid}?reason=${encodeURIComponent('误传 wrong patient')}`);
      assert.equal(deleted.status, 200, deleted.text);
      assert.deepEqual(deleted.body, { instances: 3, readingRequests: 1, shareLinks: 1 }, 'the two images and the SR, the request, the link');
      await assertGone(ctx, made, 'after the deletion');

      // Another township's technologist files a study of another patient under the same UID.
      await stow(ctx, 'tech2', studyOf(SECOND_PATIENT, made.studyInstanceUid));
      await assertGone(ctx, made, 'after the UID was re-filed');
      // The new study is its own: its institution may make a link to it, which shows its patient only.
      const fresh = await call(ctx, 'tech2', 'POST', '/api/v1/share-links', { studyInstanceUid: made.studyInstanceUid, accessCode: false });
      assert.equal(fresh.status, 201, fresh.text);
      const freshPage = await call(ctx, undefined, 'GET', new URL((fresh.body as unknown as Link).url).pathname);
      assert.equal(freshPage.status, 200);
      assert.ok(!freshPage.text.includes(FINDINGS), 'the old report is not on the new study’s page');
      const listed = await call(ctx, 'tech2', 'GET', `/api/v1/share-links?studyInstanceUid=${made.studyInstanceUid}`);
      assert.deepEqual((listed.body as unknown as Link[]).map((l) => l.id), [(fresh.body as unknown as Link).id], 'the old links are not the new study’s');
    });

    test('a study re-filed under the UID by its own institution inherits nothing either, and is read afresh', async () => {
      const made = await signedStudy(ctx);
      assert.equal((await call(ctx, 'admin', 'DELETE', `/api/v1/studies/${made.studyInstanceUid}?reason=x`)).status, 200);
      await stow(ctx, 'tech', studyOf(SECOND_PATIENT, made.studyInstanceUid));
      await assertGone(ctx, made, 'after the owner re-filed the UID');
      // and the new study may be read afresh: a new request, unrelated to the old one
      const created = await call(ctx, 'tech', 'POST', '/api/v1/reading-requests', { studyInstanceUid: made.studyInstanceUid, priority: 'routine', imagesComplete: true });
      assert.equal(created.status, 201, created.text);
      assert.notEqual((created.body as { id: string }).id, made.requestId);
    });

    test('the trail of a deletion and of a correction holds the Patient ID, never a name', async () => {
      const instances = studyOf(FIRST_PATIENT);
      const study = instances[0]!.studyInstanceUid;
      await stow(ctx, 'tech', instances);
      const corrected = await call(ctx, 'admin', 'POST', `/api/v1/studies/${study}/corrections`, { patientName: SECOND_PATIENT.name, patientId: SECOND_PATIENT.id, reason: '登记错误' });
      assert.equal(corrected.status, 200, corrected.text);
      assert.equal((await call(ctx, 'admin', 'DELETE', `/api/v1/studies/${study}?reason=x`)).status, 200);
      for (const who of ['admin', 'auditor']) {
        for (const action of ['study.corrected', 'study.deleted']) {
          const trail = await call(ctx, who, 'GET', `/api/v1/audit-events?action=${action}&objectId=${study}`);
          assert.equal(trail.status, 200, trail.text);
          const rows = trail.body as unknown as AuditRow[];
          assert.equal(rows.length, 1, `${action} recorded`);
          assert.ok(rows[0]!.patient_id, `${action}: the Patient ID is in its column`);
          const details = JSON.stringify(rows[0]!.details);
          for (const fragment of ['ZHANGFIRST', 'LISECOND', 'SAN', '^SI']) assert.ok(!details.includes(fragment), `${action} (${who}): no name in details: ${details}`);
        }
      }
      const correction = (await call(ctx, 'admin', 'GET', `/api/v1/audit-events?action=study.corrected&objectId=${study}`)).body as unknown as AuditRow[];
      assert.equal((correction[0]!.details.before as { patientId: string }).patientId, FIRST_PATIENT.id, 'the old Patient ID is kept');
      assert.deepEqual(correction[0]!.details.changed, ['patientId', 'patientName'], 'which fields changed, without the name');
    });
  });
}

scenario('SQLite', async () => ({ app: await startShareServer() }));

let database: TestDatabase | undefined;
scenario('PostgreSQL', async () => {
  database = await createTestDatabase();
  return { app: await startShareServer({ env: { YUNYING_DATABASE_URL: database.url } }), cleanup: () => database!.drop() };
});

describe('migration 0008-study-rows', () => {
  test('what a deletion before it left alive (requests, reports, links of a study no longer there) is tombstoned, and a study re-filed under the UID inherits none of it', async () => {
    const dataDir = await mkdtemp(path.join(tmpdir(), 'yunying-0008-'));
    const ctx = { app: await startShareServer({ dataDir }) } as Context;
    ctx.fixture = await createFixture(ctx.app.baseUrl);
    const made = await signedStudy(ctx);
    await ctx.app.close({ keepData: true });

    // The database as migration 0007 and an old deletion left it: the study's rows gone,
    // its request, report and link untouched, and no keys.
    const file = new SqliteDatabase(path.join(dataDir, 'index.sqlite'));
    file.transaction(() => {
      for (const table of ['instances', 'series', 'study_grants', 'studies']) file.prepare(`delete from ${table} where study_instance_uid = ?`).run(made.studyInstanceUid);
      for (const index of ['reading_requests_study_key', 'studies_patient_institution']) file.prepare(`drop index if exists ${index}`).run(); // 0027 (recognition module), before the column they index goes
      for (const table of ['studies', 'reading_requests', 'share_links']) file.prepare(`alter table ${table} drop column study_key`).run();
      // Later migrations are rolled back too, so the migrator finds them still to run in order:
      // a new migration that creates something must be undone here as well.
      file.prepare(`drop table if exists attempt_reservations`).run(); // 0009
      file.prepare(`drop index if exists reading_requests_one_open`).run(); // 0010
      for (const table of ['changes', 'feed_cursors', 'feed_failures']) file.prepare(`drop table if exists ${table}`).run(); // 0011
      file.prepare(`drop table if exists user_signatures`).run(); // 0014
      for (const table of ['critical_findings', 'critical_finding_categories', 'critical_finding_contacts']) file.prepare(`drop table if exists ${table}`).run(); // 0015 (critical-findings module)
      for (const table of ['user_signing_pins', 'report_signatures']) file.prepare(`drop table if exists ${table}`).run(); // 0016 (reports module)
      file.prepare(`drop table if exists admin_settings`).run(); // 0018 (settings module)
      for (const table of ['report_attachments', 'report_phrases']) file.prepare(`drop table if exists ${table}`).run(); // 0017
      for (const column of ['scope', 'owner', 'updated_at', 'updated_by']) file.prepare(`alter table report_templates drop column ${column}`).run(); // 0017
      file.prepare(`drop index if exists reports_report_number`).run(); // 0019
      file.prepare(`drop table if exists report_number_counters`).run(); // 0019
      file.prepare(`alter table reports drop column report_number`).run(); // 0019
      for (const table of ['order_mpps', 'order_steps', 'orders']) file.prepare(`drop table if exists ${table}`).run(); // 0021 (orders module)
      for (const table of ['fhir_subscription_deliveries', 'fhir_subscriptions']) file.prepare(`drop table if exists ${table}`).run(); // 0022 (fhir module)
      for (const table of ['hl7_facilities', 'hl7_destinations', 'hl7_outbound', 'hl7_inbound']) file.prepare(`drop table if exists ${table}`).run(); // 0023 (hl7 module)
      for (const column of INGEST_COMPRESSION_COLUMNS) file.prepare(`alter table instances drop column ${column}`).run(); // 0020
      for (const column of PN_PHONETIC_COLUMNS) file.prepare(`alter table studies drop column ${column}`).run(); // 0024
      file.prepare(`drop index if exists study_grants_granted_for`).run(); // 0028, before the column it indexes
      file.prepare(`alter table study_grants drop column granted_for`).run(); // 0028
      file.prepare(`drop table if exists study_user_grants`).run(); // 0025 (and 0028's column of it)
      for (const table of ['persons', 'person_identities', 'person_candidates', 'person_merges', 'national_id_claims', 'recognitions', 'recognition_items']) file.prepare(`drop table if exists ${table}`).run(); // 0026 (recognition module)
      for (const table of CONSULTATION_TABLES) file.prepare(`drop table if exists ${table}`).run(); // 0029 (consult module)
      for (const table of ['referrals', 'mdt_sessions', 'mdt_participants']) file.prepare(`drop table if exists ${table}`).run(); // 0030 (consult module)
      file.prepare(`delete from kysely_migration where name >= '0008'`).run();
    })();
    file.close();

    ctx.app = await startShareServer({ dataDir });
    try {
      ctx.fixture.client.baseUrl = ctx.app.baseUrl;
      await assertGone(ctx, made, 'after the migration');
      await stow(ctx, 'tech2', studyOf(SECOND_PATIENT, made.studyInstanceUid));
      await assertGone(ctx, made, 'after the UID was re-filed');
    } finally {
      await ctx.app.close();
    }
  });
});

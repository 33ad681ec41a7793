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
import { stowBody } from '../dicomweb/test-support.ts';
import { createFixture, signReport, startShareServer, type Fixture, type ShareTestServer } from '../share/share-test-support.ts';
import { createTestDatabase, type TestDatabase } from '../test-support/postgres.ts';
import { makeSyntheticInstance, newUid, type SyntheticInstance } from '../test-support/synthetic-dicom.ts';

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

function scenario(name: string, start: () => Promise<{ app: ShareTestServer; cleanup?: () => Promise<void> }>): void {
  describe(name, () => {
    let app: ShareTestServer;
    let fixture: Fixture;
    let cleanup: (() => Promise<void>) | undefined;

    const call = (who: string | undefined, method: string, url: string, body?: unknown, headers?: Record<string, string>) => fixture.client.call(who, method, url, body, headers);

    async function stow(who: string, instances: readonly SyntheticInstance[]): Promise<void> {
      const { payload, contentType } = stowBody(instances.map((i) => i.bytes));
      const response = await fetch(`${app.baseUrl}/dicom-web/studies`, { method: 'POST', headers: { authorization: `Bearer ${fixture.client.tokens[who]}`, 'content-type': contentType }, body: payload });
      assert.equal(response.status, 200, await response.text());
    }

    /** A study of the township, read and signed by the county, with the patient's cloud-film link that signing made. */
    async function signedStudy(): Promise<Made> {
      const instances = studyOf(FIRST_PATIENT);
      const studyInstanceUid = instances[0]!.studyInstanceUid;
      await stow('tech', instances);
      const reportId = await signReport(fixture, studyInstanceUid, { findings: FINDINGS, impression: '未见异常。' });
      const report = await call('tech', 'GET', `/api/v1/reports/${reportId}`);
      assert.equal(report.status, 200, report.text);
      const requests = await call('tech', 'GET', '/api/v1/reading-requests?limit=100');
      const requestId = (requests.body as unknown as Array<{ id: string; studyInstanceUid: string }>).find((r) => r.studyInstanceUid === studyInstanceUid)!.id;
      // the PDF's QR code: the link exists once the report has been printed
      assert.equal((await call('tech', 'GET', `/api/v1/reports/${reportId}/pdf`)).status, 200);
      const links = await call('tech', 'GET', `/api/v1/share-links?studyInstanceUid=${studyInstanceUid}`);
      const link = (links.body as unknown as Link[]).find((l) => l.reportId === reportId);
      assert.ok(link, links.text);
      const page = await call(undefined, 'GET', new URL(link.url).pathname);
      assert.equal(page.status, 200);
      assert.ok(page.text.includes(FINDINGS), 'the cloud-film page shows the report before the deletion');
      return { studyInstanceUid, requestId, reportId, link };
    }

    /** Every way the old records were reachable now refuses, and none shows the new patient. */
    async function assertGone(made: Made, when: string): Promise<void> {
      const sharePath = new URL(made.link.url).pathname;
      const page = await call(undefined, 'GET', sharePath);
      assert.equal(page.status, 410, `${when}: the cloud-film page is withdrawn`);
      assert.equal((await call(undefined, 'GET', `${sharePath}/data.json`)).status, 410, `${when}: the page's data is withdrawn`);
      for (const who of ['tech', 'rad', 'admin']) {
        const pdf = await call(who, 'GET', `/api/v1/reports/${made.reportId}/pdf`);
        assert.equal(pdf.status, 404, `${when}: the PDF (${who})`);
        assert.equal((await call(who, 'GET', `/api/v1/reports/${made.reportId}`)).status, 404, `${when}: the report (${who})`);
        assert.equal((await call(who, 'GET', `/api/v1/reading-requests/${made.requestId}`)).status, 404, `${when}: the request (${who})`);
        assert.equal((await call(who, 'GET', `/fhir/r4/DiagnosticReport/${made.reportId}`)).status, 404, `${when}: the DiagnosticReport (${who})`);
        const worklist = await call(who, 'GET', '/api/v1/reading-requests?limit=100');
        assert.equal(worklist.status, 200);
        assert.ok(!(worklist.body as unknown as Array<{ id: string }>).some((r) => r.id === made.requestId), `${when}: the request is off the worklist (${who})`);
        const bundle = await call(who, 'GET', `/fhir/r4/DiagnosticReport?study=${made.studyInstanceUid}`);
        assert.ok(!bundle.text.includes(made.reportId), `${when}: no DiagnosticReport of the study (${who})`);
        for (const answer of [pdf, page, worklist, bundle]) assert.ok(!answer.text.includes('LISECOND'), `${when}: the new patient's name is not shown (${who})`);
      }
      const staffLinks = await call('admin', 'GET', `/api/v1/share-links/${made.link.id}`);
      if (staffLinks.status === 200) assert.equal((staffLinks.body as unknown as Link).status, 'revoked', `${when}: staff see the link revoked`);
    }

    before(async () => {
      const started = await start();
      app = started.app;
      cleanup = started.cleanup;
      fixture = await createFixture(app.baseUrl);
    });

    after(async () => {
      await app?.close();
      await cleanup?.();
    });

    test('deleting a study revokes its links and tombstones its requests and reports; a study re-filed under its UID inherits none of them', async () => {
      const made = await signedStudy();
      const deleted = await call('admin', 'DELETE', `/api/v1/studies/${made.studyInstanceUid}?reason=${encodeURIComponent('误传 wrong patient')}`);
      assert.equal(deleted.status, 200, deleted.text);
      await assertGone(made, 'after the deletion');

      // Another township's technologist files a study of another patient under the same UID.
      await stow('tech2', studyOf(SECOND_PATIENT, made.studyInstanceUid));
      await assertGone(made, 'after the UID was re-filed');
      // The new study is its own: its institution may make a link to it, which shows its patient only.
      const fresh = await call('tech2', 'POST', '/api/v1/share-links', { studyInstanceUid: made.studyInstanceUid, accessCode: false });
      assert.equal(fresh.status, 201, fresh.text);
      const freshPage = await call(undefined, 'GET', new URL((fresh.body as unknown as Link).url).pathname);
      assert.equal(freshPage.status, 200);
      assert.ok(!freshPage.text.includes(FINDINGS), 'the old report is not on the new study’s page');
      const listed = await call('tech2', 'GET', `/api/v1/share-links?studyInstanceUid=${made.studyInstanceUid}`);
      assert.deepEqual((listed.body as unknown as Link[]).map((l) => l.id), [(fresh.body as unknown as Link).id], 'the old links are not the new study’s');
    });

    test('a study re-filed under the UID by its own institution inherits nothing either, and is read afresh', async () => {
      const made = await signedStudy();
      assert.equal((await call('admin', 'DELETE', `/api/v1/studies/${made.studyInstanceUid}?reason=x`)).status, 200);
      await stow('tech', studyOf(SECOND_PATIENT, made.studyInstanceUid));
      await assertGone(made, 'after the owner re-filed the UID');
      // and the new study may be read afresh: a new request, unrelated to the old one
      const created = await call('tech', 'POST', '/api/v1/reading-requests', { studyInstanceUid: made.studyInstanceUid, priority: 'routine', imagesComplete: true });
      assert.equal(created.status, 201, created.text);
      assert.notEqual((created.body as { id: string }).id, made.requestId);
    });

    test('the trail of a deletion and of a correction holds the Patient ID, never a name', async () => {
      const instances = studyOf(FIRST_PATIENT);
      const study = instances[0]!.studyInstanceUid;
      await stow('tech', instances);
      const corrected = await call('admin', 'POST', `/api/v1/studies/${study}/corrections`, { patientName: SECOND_PATIENT.name, patientId: SECOND_PATIENT.id, reason: '登记错误' });
      assert.equal(corrected.status, 200, corrected.text);
      assert.equal((await call('admin', 'DELETE', `/api/v1/studies/${study}?reason=x`)).status, 200);
      for (const who of ['admin', 'auditor']) {
        for (const action of ['study.corrected', 'study.deleted']) {
          const trail = await call(who, 'GET', `/api/v1/audit-events?action=${action}&objectId=${study}`);
          assert.equal(trail.status, 200, trail.text);
          const rows = trail.body as unknown as AuditRow[];
          assert.equal(rows.length, 1, `${action} recorded`);
          assert.ok(rows[0]!.patient_id, `${action}: the Patient ID is in its column`);
          const details = JSON.stringify(rows[0]!.details);
          for (const fragment of ['ZHANGFIRST', 'LISECOND', 'SAN', '^SI']) assert.ok(!details.includes(fragment), `${action} (${who}): no name in details: ${details}`);
        }
      }
      const correction = (await call('admin', 'GET', `/api/v1/audit-events?action=study.corrected&objectId=${study}`)).body as unknown as AuditRow[];
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

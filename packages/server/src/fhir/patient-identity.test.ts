/**
 * FHIR Patient identity (issue 12, finding 1), over real HTTP: a patient is (PatientID,
 * IssuerOfPatientID, the institution that issued it) until the regional patient index links
 * identities. Two townships of two counties use the same outpatient number P001 for two
 * different people, and one township also has a P001 under another issuer (its physical
 * examination centre): a caller who may see all of them (an administrator, the city's QC
 * officer) gets three Patients, each with only its own name, and every ImagingStudy and
 * DiagnosticReport refers to its own; a county radiologist sees only its own townships'.
 * On SQLite and PostgreSQL (the PATIENT-level grouping is SQL).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startListeningServer, type ListeningServer } from '../test-support/listening-server.ts';
import { createTestDatabase, type TestDatabase } from '../test-support/postgres.ts';
import { TEST_ADMIN_PASSWORD } from '../test-support/admin-auth.ts';
import { makeSyntheticInstance, type SyntheticInstance } from '../test-support/synthetic-dicom.ts';
import { stowBody } from '../dicomweb/test-support.ts';
import { callHttp, loginForToken, stowOptions } from '../test-support/http-client.ts';

/* eslint-disable @typescript-eslint/no-explicit-any -- FHIR JSON is read loosely in assertions */
type Json = any;

const PASSWORD = 'Correct-Horse-9';
const LOCAL_ID = 'P001';
const OTHER_ISSUER = 'A1-PHYSICAL-EXAM';

for (const backend of ['sqlite', 'postgres'] as const) {
  let server: ListeningServer;
  let database: TestDatabase | undefined;
  const tokens: Record<string, string> = {};

  async function http(who: string, method: string, url: string, body?: unknown, raw?: { payload: Buffer; contentType: string }): Promise<{ status: number; body: Json; text: string }> {
    return callHttp(server.baseUrl, method, url, raw ? stowOptions(raw, tokens[who]) : { token: tokens[who], body });
  }

  async function login(username: string, password = PASSWORD): Promise<string> {
    return loginForToken(server.baseUrl, username, password);
  }

  async function stow(who: string, instance: SyntheticInstance): Promise<void> {
    const response = await http(who, 'POST', '/dicom-web/studies', undefined, stowBody([instance.bytes]));
    assert.equal(response.status, 200, response.text);
  }

  async function fhir(who: string, url: string): Promise<Json> {
    const response = await http(who, 'GET', `/fhir/r4/${url}`);
    assert.equal(response.status, 200, `${url}: ${response.text}`);
    return response.body;
  }

  const resources = (bundle: Json): Json[] => (bundle.entry ?? []).map((entry: Json) => entry.resource);
  /** The family names of a Patient, every script: a merged Patient would show two people's. */
  const familiesOf = (patient: Json): string[] => [...new Set<string>((patient.name ?? []).map((name: Json) => name.family))].sort();

  const studyA = makeSyntheticInstance({ patientId: LOCAL_ID, patientName: 'Li^Ai=李^爱', studyDate: '20260301' });
  const studyB = makeSyntheticInstance({ patientId: LOCAL_ID, patientName: 'Zhao^Bei=赵^贝', studyDate: '20260302' });
  const studyOtherIssuer = makeSyntheticInstance({ patientId: LOCAL_ID, issuerOfPatientId: OTHER_ISSUER, patientName: 'Sun^San=孙^三', studyDate: '20260303' });
  const FAMILIES = {
    [studyA.studyInstanceUid]: ['Li', '李'],
    [studyB.studyInstanceUid]: ['Zhao', '赵'],
    [studyOtherIssuer.studyInstanceUid]: ['Sun', '孙'],
  };

  before(async () => {
    database = backend === 'postgres' ? await createTestDatabase() : undefined;
    server = await startListeningServer(database ? { YUNYING_DATABASE_URL: database.url } : {});
    tokens.admin = await login('admin', TEST_ADMIN_PASSWORD);
    for (const institution of [
      { id: 'sz', name: '苏州市', tier: 'city' },
      { id: 'county-a', name: '昆山市第一人民医院', tier: 'county', parentId: 'sz' },
      { id: 'town-a1', name: '周市镇卫生院', tier: 'township', parentId: 'county-a' },
      { id: 'county-b', name: '太仓市第一人民医院', tier: 'county', parentId: 'sz' },
      { id: 'town-b1', name: '浏河镇卫生院', tier: 'township', parentId: 'county-b' },
    ]) assert.equal((await http('admin', 'POST', '/api/v1/institutions', institution)).status, 201);
    assert.equal((await http('admin', 'PUT', '/api/v1/institutions/county-a/members/town-a1')).status, 204);
    assert.equal((await http('admin', 'PUT', '/api/v1/institutions/county-b/members/town-b1')).status, 204);
    for (const [username, role, institutionId] of [
      ['techA', 'technologist', 'town-a1'],
      ['techB', 'technologist', 'town-b1'],
      ['radA', 'radiologist', 'county-a'],
      ['revA', 'reviewing-radiologist', 'county-a'],
      ['qc', 'qc-officer', 'sz'],
    ] as const) {
      assert.equal((await http('admin', 'POST', '/api/v1/users', { username, password: PASSWORD, role, institutionId })).status, 201);
      tokens[username] = await login(username);
    }
    await stow('techA', studyA);
    await stow('techA', studyOtherIssuer);
    await stow('techB', studyB);
  });

  after(async () => {
    await server.close();
    await database?.drop();
  });

  describe(`${backend}: FHIR Patient is (PatientID, IssuerOfPatientID, issuing institution)`, () => {
    for (const who of ['admin', 'qc']) {
      test(`${who}: the same local ID at two institutions, or under another issuer, is three Patients, each only itself`, async () => {
        const patients = resources(await fhir(who, `Patient?identifier=${LOCAL_ID}`));
        assert.equal(patients.length, 3, JSON.stringify(patients));
        assert.equal(new Set(patients.map((p) => p.id)).size, 3, 'three ids');
        for (const patient of patients) assert.match(patient.id, /^[A-Za-z0-9.-]{1,64}$/);
        assert.deepEqual(patients.map(familiesOf).sort(), [['Li', '李'], ['Sun', '孙'], ['Zhao', '赵']].map((f) => [...f].sort()).sort());

        for (const study of [studyA, studyB, studyOtherIssuer]) {
          const imaging = await fhir(who, `ImagingStudy/${study.studyInstanceUid}`);
          const reference = /^Patient\/([A-Za-z0-9.-]+)$/.exec(imaging.subject.reference)?.[1];
          assert.ok(reference, imaging.subject.reference);
          const subject = patients.find((p) => p.id === reference);
          assert.ok(subject, `the subject of ${study.studyInstanceUid} is one of the three`);
          assert.deepEqual(familiesOf(subject), [...FAMILIES[study.studyInstanceUid]!].sort());
          // read: the same resource, only that person
          const read = await fhir(who, `Patient/${reference}`);
          assert.deepEqual(read, subject);
          // the Patient's studies: only that person's
          const studies = resources(await fhir(who, `ImagingStudy?patient=Patient/${reference}`));
          assert.deepEqual(studies.map((s) => s.id), [study.studyInstanceUid]);
          // its identifier with its system finds exactly it
          const [identifier] = subject.identifier;
          assert.equal(identifier.value, LOCAL_ID);
          assert.match(identifier.system, /^urn:yunying:institution:town-[ab]1:patient-id(:.+)?$/);
          const bySystem = resources(await fhir(who, `Patient?identifier=${encodeURIComponent(`${identifier.system}|${LOCAL_ID}`)}`));
          assert.deepEqual(bySystem.map((p) => p.id), [reference]);
          assert.deepEqual(resources(await fhir(who, `Patient?_id=${reference}`)).map((p) => p.id), [reference]);
        }
      });
    }

    test('the identifier system names the issuing institution and the issuer', async () => {
      const patients = resources(await fhir('admin', `Patient?identifier=${LOCAL_ID}`));
      const systems = patients.map((p) => p.identifier[0].system).sort();
      assert.deepEqual(systems, [
        'urn:yunying:institution:town-a1:patient-id',
        `urn:yunying:institution:town-a1:patient-id:${OTHER_ISSUER}`,
        'urn:yunying:institution:town-b1:patient-id',
      ]);
      const otherIssuer = patients.find((p) => p.identifier[0].system.endsWith(OTHER_ISSUER));
      assert.deepEqual(otherIssuer.identifier[0].assigner, { display: OTHER_ISSUER });
    });

    test('a county radiologist sees only its own townships\' patients; another county\'s Patient answers like an unknown one', async () => {
      const patients = resources(await fhir('radA', `Patient?identifier=${LOCAL_ID}`));
      assert.deepEqual(patients.map(familiesOf).sort(), [['Li', '李'], ['Sun', '孙']].map((f) => [...f].sort()).sort());
      const all = resources(await fhir('admin', `Patient?identifier=${LOCAL_ID}`));
      const patientB = all.find((p) => familiesOf(p).includes('Zhao'));
      const hidden = await http('radA', 'GET', `/fhir/r4/Patient/${patientB.id}`);
      // an id of the same shape for an identity nobody has
      const unknownId = `${patientB.id.slice(0, 1) === 'A' ? 'B' : 'A'}${patientB.id.slice(1)}`;
      const unknown = await http('admin', 'GET', `/fhir/r4/Patient/${unknownId}`);
      const garbage = await http('admin', 'GET', '/fhir/r4/Patient/not-one-of-ours');
      assert.equal(hidden.status, 404, hidden.text);
      assert.equal(unknown.status, 404, unknown.text);
      assert.equal(hidden.text, unknown.text);
      assert.equal(garbage.text, unknown.text);
      assert.deepEqual(resources(await fhir('radA', `ImagingStudy?patient=Patient/${patientB.id}`)), []);
      assert.deepEqual(resources(await fhir('radA', `Patient?_id=${patientB.id}`)), []);
      const systemB = patientB.identifier[0].system;
      assert.deepEqual(resources(await fhir('radA', `Patient?identifier=${encodeURIComponent(`${systemB}|${LOCAL_ID}`)}`)), []);
      assert.deepEqual(resources(await fhir('radA', `DiagnosticReport?subject=Patient/${patientB.id}`)), []);
    });

    test("DiagnosticReport.subject is the report's own Patient; another Patient with the same local ID finds none of its reports", async () => {
      const created = await http('techA', 'POST', '/api/v1/reading-requests', { studyInstanceUid: studyA.studyInstanceUid, priority: 'routine', imagesComplete: true });
      assert.equal(created.status, 201, created.text);
      const requestId = created.body.id as string;
      assert.equal((await http('radA', 'POST', `/api/v1/reading-requests/${requestId}/claim`)).status, 200);
      const draft = await http('radA', 'PUT', `/api/v1/reading-requests/${requestId}/report`, { findings: '双肺纹理清晰。', impression: '胸部CT未见异常。', positive: false });
      assert.equal(draft.status, 200, draft.text);
      const reportId = draft.body.id as string;
      assert.equal((await http('radA', 'POST', `/api/v1/reports/${reportId}/submit`)).status, 200);
      const signed = await http('revA', 'POST', `/api/v1/reports/${reportId}/sign`, { password: PASSWORD });
      assert.equal(signed.status, 200, signed.text);

      const subjectOfA = (await fhir('admin', `ImagingStudy/${studyA.studyInstanceUid}`)).subject.reference;
      const report = await fhir('admin', `DiagnosticReport/${reportId}`);
      assert.equal(report.subject.reference, subjectOfA);
      assert.deepEqual(resources(await fhir('admin', `DiagnosticReport?subject=${subjectOfA}`)).map((r) => r.id), [reportId]);
      for (const study of [studyB, studyOtherIssuer]) {
        const other = (await fhir('admin', `ImagingStudy/${study.studyInstanceUid}`)).subject.reference;
        assert.notEqual(other, subjectOfA);
        assert.deepEqual(resources(await fhir('admin', `DiagnosticReport?subject=${other}`)), [], `no report of ${other}`);
      }
    });
  });
}

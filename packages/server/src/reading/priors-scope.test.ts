/**
 * Priors and request filing against the scope model (issue 12, findings 1 and 10), over
 * real HTTP: two counties of one city, each serving a township, and one local Patient ID
 * used at both townships for two different people. A patient is (PatientID,
 * IssuerOfPatientID, the institution that issued it): the priors of one county's request
 * never show, grant or merge the other county's patient, and a prior the centre may not see
 * yet is opened only by an explicit, audited act with a reason.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startListeningServer, type ListeningServer } from '../test-support/listening-server.ts';
import { TEST_ADMIN_PASSWORD } from '../test-support/admin-auth.ts';
import { makeSyntheticInstance, newUid, type SyntheticInstance } from '../test-support/synthetic-dicom.ts';
import { stowBody } from '../dicomweb/test-support.ts';
import { callHttp, loginForToken, stowOptions, type HttpAnswer } from '../test-support/http-client.ts';

const PASSWORD = 'Correct-Horse-9';
const LOCAL_ID = 'MZ-0001'; // the same outpatient number at two townships: two different people

type Http = HttpAnswer;

interface Prior {
  studyInstanceUid: string;
  institutionId: string;
  accessible: boolean;
  hasSignedReport: boolean;
}

let server: ListeningServer;
const tokens: Record<string, string> = {};

async function http(who: string, method: string, url: string, body?: unknown, raw?: { payload: Buffer; contentType: string }): Promise<Http> {
  return callHttp(server.baseUrl, method, url, raw ? stowOptions(raw, tokens[who]) : { token: tokens[who], body });
}

async function login(username: string, password = PASSWORD): Promise<string> {
  return loginForToken(server.baseUrl, username, password);
}

async function stow(who: string, instance: SyntheticInstance): Promise<void> {
  const response = await http(who, 'POST', '/dicom-web/studies', undefined, stowBody([instance.bytes]));
  assert.equal(response.status, 200, response.text);
}

/** QIDO-RS by UID and WADO-RS metadata: both must say "no such study" for a study out of scope. */
async function canRead(who: string, study: SyntheticInstance): Promise<boolean> {
  const qido = await http(who, 'GET', `/dicom-web/studies?StudyInstanceUID=${study.studyInstanceUid}`);
  assert.equal(qido.status, 200, qido.text);
  const wado = await http(who, 'GET', `/dicom-web/studies/${study.studyInstanceUid}/metadata`);
  const found = (qido.body as unknown[]).length === 1;
  assert.equal(found, wado.status === 200, `QIDO and WADO disagree on ${study.studyInstanceUid}`);
  if (!found) assert.equal(wado.status, 404);
  return found;
}

async function priors(who: string, requestId: string): Promise<Prior[]> {
  const response = await http(who, 'GET', `/api/v1/reading-requests/${requestId}/priors`);
  assert.equal(response.status, 200, response.text);
  return response.body as Prior[];
}

const patientOfA = { patientId: LOCAL_ID, patientName: 'Li^Ai=李^爱' };
const patientOfB = { patientId: LOCAL_ID, patientName: 'Zhao^Bei=赵^贝' }; // sorts after A's name: a merge would show it
const currentA = makeSyntheticInstance({ ...patientOfA, studyDate: '20260301', modality: 'CT' });
const priorA = makeSyntheticInstance({ ...patientOfA, studyDate: '20250101', modality: 'CT' });
const otherIssuerA = makeSyntheticInstance({ patientId: LOCAL_ID, issuerOfPatientId: 'A1-PHYSICAL-EXAM', patientName: 'Sun^Other', studyDate: '20240101' });
const studyB = makeSyntheticInstance({ ...patientOfB, studyDate: '20250601', modality: 'CT' });
const countyOwnA = makeSyntheticInstance({ patientId: LOCAL_ID, patientName: 'Qian^County', studyDate: '20230101' });

before(async () => {
  server = await startListeningServer();
  tokens.admin = await login('admin', TEST_ADMIN_PASSWORD);
  for (const institution of [
    { id: 'sz', name: '苏州市', tier: 'city' },
    { id: 'county-a', name: '昆山市第一人民医院', tier: 'county', parentId: 'sz' },
    { id: 'town-a1', name: '周市镇卫生院', tier: 'township', parentId: 'county-a' },
    { id: 'county-b', name: '太仓市第一人民医院', tier: 'county', parentId: 'sz' },
    { id: 'town-b1', name: '浏河镇卫生院', tier: 'township', parentId: 'county-b' },
    { id: 'city-h', name: '苏州市立医院', tier: 'city', parentId: 'sz' },
  ]) assert.equal((await http('admin', 'POST', '/api/v1/institutions', institution)).status, 201);
  assert.equal((await http('admin', 'PUT', '/api/v1/institutions/county-a/members/town-a1')).status, 204);
  assert.equal((await http('admin', 'PUT', '/api/v1/institutions/county-b/members/town-b1')).status, 204);
  for (const [username, role, institutionId] of [
    ['techA', 'technologist', 'town-a1'],
    ['techB', 'technologist', 'town-b1'],
    ['techCountyA', 'technologist', 'county-a'],
    ['radA', 'radiologist', 'county-a'],
    ['radB', 'radiologist', 'county-b'],
    ['radCity', 'radiologist', 'city-h'],
  ] as const) {
    assert.equal((await http('admin', 'POST', '/api/v1/users', { username, password: PASSWORD, role, institutionId })).status, 201);
    tokens[username] = await login(username);
  }
  for (const instance of [currentA, priorA, otherIssuerA]) await stow('techA', instance);
  await stow('techB', studyB);
  await stow('techCountyA', countyOwnA);
});

after(async () => {
  await server.close();
});

describe('priors (finding 1)', () => {
  let requestA: string;

  test("a county's priors never list, grant or merge the same local Patient ID of another county's township", async () => {
    const created = await http('techA', 'POST', '/api/v1/reading-requests', { studyInstanceUid: currentA.studyInstanceUid, priority: 'routine', imagesComplete: true });
    assert.equal(created.status, 201, created.text);
    requestA = (created.body as { id: string }).id;
    assert.equal(await canRead('radA', studyB), false, 'before the priors');

    const listed = await priors('radA', requestA);
    // Only the same patient: same Patient ID, same (absent) issuer, issued by the same township.
    assert.deepEqual(listed.map((p) => p.studyInstanceUid), [priorA.studyInstanceUid]);
    assert.equal(listed[0]!.accessible, true, 'the centre serves the township: it may see the prior already');
    assert.equal(listed[0]!.institutionId, 'town-a1');

    assert.equal(await canRead('radA', studyB), false, 'after the priors');
    assert.equal(await canRead('radB', currentA), false, 'and the other way round');
    // FHIR: the county's Patient with that local ID shows none of the other county's patient.
    const patients = await http('radA', 'GET', `/fhir/r4/Patient?identifier=${encodeURIComponent(LOCAL_ID)}`);
    assert.equal(patients.status, 200, patients.text);
    assert.ok(!patients.text.includes('Zhao') && !patients.text.includes('赵'), patients.text);
    const imaging = await http('radA', 'GET', `/fhir/r4/ImagingStudy?identifier=urn:oid:${studyB.studyInstanceUid}`);
    assert.equal((imaging.body as { entry?: unknown[] }).entry?.length ?? 0, 0);
  });

  test('a prior of another institution is opened only for the listed same patient, with a reason, and audited', async () => {
    // A rule sends the township's MR to the city hospital, which serves no one: the township's
    // earlier studies of the patient are not the city hospital's to see.
    const rule = await http('admin', 'POST', '/api/v1/routing-rules', { name: '周市镇MR → 市立医院', sourceInstitutionId: 'town-a1', modality: 'MR', readingInstitutionId: 'city-h', priority: 'urgent' });
    assert.equal(rule.status, 201, rule.text);
    const mr = makeSyntheticInstance({ ...patientOfA, studyDate: '20260302', modality: 'MR' });
    await stow('techA', mr);
    await server.feedHandled(); // routing is a change-feed consumer: it runs after the store
    const routed = ((await http('radCity', 'GET', '/api/v1/reading-requests?limit=500')).body as Array<{ id: string; studyInstanceUid: string }>).find((row) => row.studyInstanceUid === mr.studyInstanceUid);
    assert.ok(routed, 'the routed request');

    const listed = await priors('radCity', routed.id);
    assert.deepEqual(listed.map((p) => [p.studyInstanceUid, p.accessible]), [[currentA.studyInstanceUid, false], [priorA.studyInstanceUid, false]]);
    assert.equal(await canRead('radCity', priorA), false, 'listing grants nothing');

    // Not in the list (another county's patient, another issuer, no such study): exactly like absent.
    const open = (who: string, uid: string, reason = '对比既往影像') => http(who, 'POST', `/api/v1/reading-requests/${routed.id}/priors/${uid}/access`, { reason });
    const unknown = newUid();
    const absent = await open('radCity', unknown);
    assert.equal(absent.status, 404, absent.text);
    for (const outside of [studyB, otherIssuerA, countyOwnA]) {
      const answer = await open('radCity', outside.studyInstanceUid);
      assert.equal(answer.status, 404, answer.text);
      assert.equal(answer.text.replaceAll(outside.studyInstanceUid, 'X'), absent.text.replaceAll(unknown, 'X'));
      assert.equal(await canRead('radCity', outside), false);
    }
    assert.equal((await open('radA', priorA.studyInstanceUid)).status, 404, "another centre's radiologist sees no such request");
    assert.equal((await http('radCity', 'POST', `/api/v1/reading-requests/${routed.id}/priors/${priorA.studyInstanceUid}/access`, {})).status, 400, 'a reason is required');
    assert.equal(await canRead('radCity', priorA), false);

    const opened = await open('radCity', priorA.studyInstanceUid, '对比既往CT：结节大小变化');
    assert.equal(opened.status, 200, opened.text);
    assert.equal((opened.body as Prior).studyInstanceUid, priorA.studyInstanceUid);
    assert.equal((opened.body as Prior).accessible, true);
    assert.equal(await canRead('radCity', priorA), true);
    assert.equal(await canRead('radCity', currentA), false, 'opening one prior opens only that one');
    assert.deepEqual((await priors('radCity', routed.id)).map((p) => [p.studyInstanceUid, p.accessible]), [[currentA.studyInstanceUid, false], [priorA.studyInstanceUid, true]]);

    const trail = await http('admin', 'GET', `/api/v1/audit-events?action=prior.opened&objectId=${priorA.studyInstanceUid}`);
    assert.equal(trail.status, 200, trail.text);
    const rows = trail.body as Array<{ actor_name: string; details: Record<string, unknown> }>;
    assert.equal(rows.length, 1, trail.text);
    const details = rows[0]!.details;
    assert.equal(rows[0]!.actor_name, 'radCity');
    assert.equal(details.reason, '对比既往CT：结节大小变化');
    assert.equal(details.requestId, routed.id);
    assert.equal(details.institutionId, 'city-h');
  });

  test('only the reading side may open a prior', async () => {
    const response = await http('techA', 'POST', `/api/v1/reading-requests/${requestA}/priors/${priorA.studyInstanceUid}/access`, { reason: 'x' });
    assert.equal(response.status, 403, response.text);
  });
});

describe('filing a request (finding 10)', () => {
  test('a study that does not exist and one of another institution are refused alike', async () => {
    const unknown = newUid();
    const absent = await http('techA', 'POST', '/api/v1/reading-requests', { studyInstanceUid: unknown, priority: 'routine' });
    assert.equal(absent.status, 404, absent.text);
    const hidden = await http('techA', 'POST', '/api/v1/reading-requests', { studyInstanceUid: studyB.studyInstanceUid, priority: 'routine' });
    assert.equal(hidden.status, 404, hidden.text);
    assert.equal(hidden.text.replaceAll(studyB.studyInstanceUid, 'X'), absent.text.replaceAll(unknown, 'X'));
    // and a study that arrives later under the UID has no request waiting for it
    const later = makeSyntheticInstance({ ...patientOfB, studyInstanceUid: unknown });
    await stow('techB', later);
    const requests = (await http('techA', 'GET', '/api/v1/reading-requests?limit=500')).body as Array<{ studyInstanceUid: string }>;
    assert.ok(!requests.some((row) => row.studyInstanceUid === unknown));
  });

  test('the reading institution must serve the requester', async () => {
    const fresh = makeSyntheticInstance({ ...patientOfA, studyDate: '20260303' });
    await stow('techA', fresh);
    for (const readingInstitutionId of ['county-b', 'city-h']) {
      const refused = await http('techA', 'POST', '/api/v1/reading-requests', { studyInstanceUid: fresh.studyInstanceUid, readingInstitutionId, priority: 'routine', imagesComplete: true });
      assert.equal(refused.status, 422, refused.text);
      assert.equal((refused.body as { code: string }).code, 'READING_INSTITUTION_NOT_SERVING');
    }
    assert.equal(await canRead('radB', fresh), false, 'a refused request grants nothing');
    const served = await http('techA', 'POST', '/api/v1/reading-requests', { studyInstanceUid: fresh.studyInstanceUid, readingInstitutionId: 'county-a', priority: 'routine', imagesComplete: true });
    assert.equal(served.status, 201, served.text);
  });
});

/**
 * Every role against every interface (issue 4): REST, DICOMweb, WADO-URI, FHIR and DIMSE on
 * one server over real sockets, with dcmtk's storescu/findscu/movescu as the AE. A study the
 * caller may not see answers exactly like a study that does not exist.
 */
import { createHash } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startListeningServer, type ListeningServer } from '../test-support/listening-server.ts';
import { TEST_ADMIN_PASSWORD } from '../test-support/admin-auth.ts';
import { makeSyntheticInstance, newUid, type SyntheticInstance } from '../test-support/synthetic-dicom.ts';
import { runTool } from '../dimse/dimse-test-support.ts';
import { stowBody } from '../dicomweb/test-support.ts';
import { callHttp, type HttpAnswer, type HttpCallOptions } from '../test-support/http-client.ts';

const PASSWORD = 'Correct-Horse-9';

type Http = HttpAnswer;

let server: ListeningServer;
let adminToken: string;
const tokens: Record<string, string> = {};
let studyT1: SyntheticInstance;
let studyT2: SyntheticInstance;
let studyK: SyntheticInstance;
const unknownStudy = newUid();

async function http(method: string, url: string, options: HttpCallOptions = {}): Promise<Http> {
  return callHttp(server.baseUrl, method, url, options);
}

async function login(username: string, password = PASSWORD): Promise<string> {
  const response = await http('POST', '/api/v1/auth/login', { body: { username, password } });
  assert.equal(response.status, 200, response.text);
  return (response.body as { token: string }).token;
}

async function stow(token: string, instance: SyntheticInstance): Promise<Http> {
  const { payload, contentType } = stowBody([instance.bytes]);
  return http('POST', '/dicom-web/studies', { token, raw: payload, headers: { 'content-type': contentType, accept: 'application/dicom+json' } });
}

async function qidoStudies(token: string): Promise<string[]> {
  const response = await http('GET', '/dicom-web/studies?limit=1000', { token });
  assert.equal(response.status, 200, response.text);
  return (response.body as Array<Record<string, { Value?: string[] }>>).map((study) => study['0020000D']!.Value![0]!);
}

async function storescu(aeTitle: string, instance: SyntheticInstance): Promise<void> {
  const dir = await mkdtemp(path.join(tmpdir(), 'yunying-scope-'));
  try {
    const file = path.join(dir, 'instance.dcm');
    await writeFile(file, instance.bytes);
    const result = await runTool('storescu', ['-aet', aeTitle, '-aec', 'YUNYING', '127.0.0.1', String(server.dicomPort), file]);
    assert.equal(result.code, 0, result.stderr);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function findscuStudies(aeTitle: string): Promise<string[]> {
  const dir = await mkdtemp(path.join(tmpdir(), 'yunying-scope-find-'));
  try {
    const result = await runTool('findscu', ['-S', '-X', '-od', dir, '-aet', aeTitle, '-aec', 'YUNYING', '-k', 'QueryRetrieveLevel=STUDY', '-k', 'StudyInstanceUID', '127.0.0.1', String(server.dicomPort)]);
    assert.equal(result.code, 0, result.stderr);
    const uids: string[] = [];
    for (const name of await readdir(dir)) {
      const bytes = await readFile(path.join(dir, name));
      for (const uid of [studyT1, studyT2, studyK].map((s) => s.studyInstanceUid)) if (bytes.includes(Buffer.from(uid))) uids.push(uid);
    }
    return uids.sort();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

before(async () => {
  server = await startListeningServer();
  adminToken = await login('admin', TEST_ADMIN_PASSWORD);
  const institutions = [
    { id: 'js', name: '江苏省卫健委', tier: 'province' },
    { id: 'sz', name: '苏州市', tier: 'city', parentId: 'js' },
    { id: 'ks-county', name: '昆山市第一人民医院', tier: 'county', grade: 3, regionCode: '320583', parentId: 'sz' },
    { id: 'ks-t1', name: '周市镇卫生院', tier: 'township', grade: 1, parentId: 'ks-county' },
    { id: 'ks-t2', name: '陆家镇卫生院', tier: 'township', grade: 1, parentId: 'ks-county' },
    { id: 'wx', name: '无锡市', tier: 'city', parentId: 'js' },
  ];
  for (const institution of institutions) assert.equal((await http('POST', '/api/v1/institutions', { token: adminToken, body: institution })).status, 201);
  assert.equal((await http('PUT', '/api/v1/institutions/ks-county/members/ks-t1', { token: adminToken })).status, 204);
  const users = [
    ['tech1', 'technologist', 'ks-t1'],
    ['tech2', 'technologist', 'ks-t2'],
    ['rad', 'radiologist', 'ks-county'],
    ['qc', 'qc-officer', 'sz'],
    ['qcwx', 'qc-officer', 'wx'],
    ['analyst', 'commission-analyst', 'sz'],
    ['auditor', 'insurance-auditor', 'js'],
    ['gw1', 'gateway', 'ks-t1'],
  ] as const;
  for (const [username, role, institutionId] of users) {
    const created = await http('POST', '/api/v1/users', { token: adminToken, body: { username, password: PASSWORD, role, institutionId } });
    assert.equal(created.status, 201, created.text);
    assert.equal((created.body as Record<string, unknown>).password_hash, undefined);
    tokens[username] = await login(username);
  }
  assert.equal((await http('PUT', '/api/v1/application-entities/T1_CT', { token: adminToken, body: { institutionId: 'ks-t1' } })).status, 200);
  assert.equal((await http('PUT', '/api/v1/application-entities/T1_VIEW', { token: adminToken, body: { institutionId: 'ks-t1', host: '127.0.0.1', port: 1 } })).status, 200);

  studyT1 = makeSyntheticInstance({ patientId: 'P-T1', patientName: 'Zhou^Min=周^敏' });
  studyT2 = makeSyntheticInstance({ patientId: 'P-T2', patientName: 'Lu^Jia=陆^佳' });
  studyK = makeSyntheticInstance({ patientId: 'P-K' });
  await storescu('T1_CT', studyT1); // attributed to ks-t1 by its registered AE
  assert.equal((await stow(tokens.tech2!, studyT2)).status, 200); // attributed to ks-t2 by the uploading user
  assert.equal((await stow(adminToken, studyK)).status, 200); // the administrator's institution: default
});

after(async () => {
  await server.close();
});

describe('scope per role', () => {
  test('QIDO-RS: township, served township, region and other region see what they are entitled to', async () => {
    assert.deepEqual(await qidoStudies(tokens.tech1!), [studyT1.studyInstanceUid]);
    assert.deepEqual(await qidoStudies(tokens.tech2!), [studyT2.studyInstanceUid]);
    assert.deepEqual(await qidoStudies(tokens.rad!), [studyT1.studyInstanceUid]); // serves ks-t1 only
    assert.deepEqual((await qidoStudies(tokens.qc!)).sort(), [studyT1.studyInstanceUid, studyT2.studyInstanceUid].sort()); // the 苏州 region
    assert.deepEqual(await qidoStudies(tokens.qcwx!), []);
  });

  test('a study sent to the diagnostic centre becomes visible to its radiologist', async () => {
    const granted = await http('POST', `/api/v1/studies/${studyT2.studyInstanceUid}/grants`, { token: adminToken, body: { institutionId: 'ks-county', reason: '远程诊断' } });
    assert.equal(granted.status, 204, granted.text);
    assert.deepEqual((await qidoStudies(tokens.rad!)).sort(), [studyT1.studyInstanceUid, studyT2.studyInstanceUid].sort());
    assert.deepEqual(await qidoStudies(tokens.tech1!), [studyT1.studyInstanceUid]); // the grant is the centre's, not its members'
  });

  test('roles without image access are refused on every image interface', async () => {
    for (const who of ['analyst', 'auditor', 'gw1']) {
      const token = tokens[who]!;
      assert.equal((await http('GET', '/dicom-web/studies', { token })).status, 403, who);
      assert.equal((await http('GET', `/dicom-web/studies/${studyT1.studyInstanceUid}/metadata`, { token })).status, 403, who);
      assert.equal((await http('GET', `/wado?requestType=WADO&studyUID=${studyT1.studyInstanceUid}&seriesUID=${studyT1.seriesInstanceUid}&objectUID=${studyT1.sopInstanceUid}&contentType=application/dicom`, { token })).status, 403, who);
      assert.equal((await http('GET', `/fhir/r4/ImagingStudy/${studyT1.studyInstanceUid}`, { token })).status, 403, who);
    }
    assert.equal((await stow(tokens.analyst!, makeSyntheticInstance())).status, 403);
    assert.equal((await stow(tokens.rad!, makeSyntheticInstance())).status, 403);
    assert.equal((await stow(tokens.gw1!, makeSyntheticInstance())).status, 200); // the gateway only sends
  });

  test('guessing the UID of a study one may not see answers exactly as for one that does not exist', async () => {
    const t2 = studyT2;
    const pairs: Array<[string, string]> = [
      [`/dicom-web/studies/${t2.studyInstanceUid}`, `/dicom-web/studies/${unknownStudy}`],
      [`/dicom-web/studies/${t2.studyInstanceUid}/metadata`, `/dicom-web/studies/${unknownStudy}/metadata`],
      [`/dicom-web/studies/${t2.studyInstanceUid}/series/${t2.seriesInstanceUid}/instances/${t2.sopInstanceUid}/frames/1`, `/dicom-web/studies/${unknownStudy}/series/${t2.seriesInstanceUid}/instances/${t2.sopInstanceUid}/frames/1`],
      [`/dicom-web/studies/${t2.studyInstanceUid}/series/${t2.seriesInstanceUid}/instances/${t2.sopInstanceUid}/rendered`, `/dicom-web/studies/${unknownStudy}/series/${t2.seriesInstanceUid}/instances/${t2.sopInstanceUid}/rendered`],
      [`/fhir/r4/ImagingStudy/${t2.studyInstanceUid}`, `/fhir/r4/ImagingStudy/${unknownStudy}`],
    ];
    for (const [hidden, absent] of pairs) {
      const a = await http('GET', hidden, { token: tokens.tech1! });
      const b = await http('GET', absent, { token: tokens.tech1! });
      assert.equal(a.status, 404, hidden);
      assert.equal(a.text.replaceAll(t2.studyInstanceUid, 'X'), b.text.replaceAll(unknownStudy, 'X'), hidden);
    }
    const wado = (study: string) => `/wado?requestType=WADO&studyUID=${study}&seriesUID=${t2.seriesInstanceUid}&objectUID=${t2.sopInstanceUid}&contentType=application/dicom`;
    const hiddenWado = await http('GET', wado(t2.studyInstanceUid), { token: tokens.tech1! });
    const absentWado = await http('GET', wado(unknownStudy), { token: tokens.tech1! });
    assert.equal(hiddenWado.status, 404);
    assert.equal(hiddenWado.text.replaceAll(t2.studyInstanceUid, 'X'), absentWado.text.replaceAll(unknownStudy, 'X'));
    const search = await http('GET', `/dicom-web/studies?StudyInstanceUID=${t2.studyInstanceUid}`, { token: tokens.tech1! });
    assert.deepEqual(search.body, []);
    const fhirSearch = await http('GET', `/fhir/r4/ImagingStudy?patient=P-T2`, { token: tokens.tech1! });
    assert.equal(fhirSearch.status, 200);
    assert.equal((fhirSearch.body as { total?: number; entry?: unknown[] }).entry?.length ?? 0, 0);
  });

  test('a township cannot add instances to another institution\'s study', async () => {
    const intruder = makeSyntheticInstance({ studyInstanceUid: studyT2.studyInstanceUid });
    const response = await stow(tokens.tech1!, intruder);
    assert.equal(response.status, 409, response.text);
    assert.ok(!response.text.includes('Lu^Jia'));
    // nor replace one of its objects under the same SOP Instance UID
    const replacement = makeSyntheticInstance({ studyInstanceUid: studyT2.studyInstanceUid, seriesInstanceUid: studyT2.seriesInstanceUid, sopInstanceUid: studyT2.sopInstanceUid, size: 64 });
    assert.equal((await stow(tokens.tech1!, replacement)).status, 409);
    const original = await http('GET', `/dicom-web/studies/${studyT2.studyInstanceUid}/series/${studyT2.seriesInstanceUid}/instances/${studyT2.sopInstanceUid}`, { token: tokens.tech2!, headers: { accept: 'application/dicom' } });
    assert.equal(original.status, 200);
  });

  test('DIMSE: a registered AE finds only its institution\'s studies and cannot move others\' or to unregistered AEs', async () => {
    assert.deepEqual(await findscuStudies('T1_CT'), [studyT1.studyInstanceUid]);
    // an unknown AE on the loopback-only port acts as the default institution's administrator (design.md)
    assert.deepEqual((await findscuStudies('SOME_TOOL')).sort(), [studyT1, studyT2, studyK].map((s) => s.studyInstanceUid).sort());
    const moveOther = await runTool('movescu', ['-v', '-S', '-aet', 'T1_CT', '-aec', 'YUNYING', '-aem', 'T1_VIEW', '-k', 'QueryRetrieveLevel=STUDY', '-k', `StudyInstanceUID=${studyT2.studyInstanceUid}`, '127.0.0.1', String(server.dicomPort)]);
    // T1_VIEW does not listen: any instance found would have failed to move; none is found
    assert.match(moveOther.stdout + moveOther.stderr, /Final Move Response \(Success\)/);
    const moveOwn = await runTool('movescu', ['-v', '-S', '-aet', 'T1_CT', '-aec', 'YUNYING', '-aem', 'T1_VIEW', '-k', 'QueryRetrieveLevel=STUDY', '-k', `StudyInstanceUID=${studyT1.studyInstanceUid}`, '127.0.0.1', String(server.dicomPort)]);
    assert.doesNotMatch(moveOwn.stdout + moveOwn.stderr, /Final Move Response \(Success\)/);
    const moveUnregistered = await runTool('movescu', ['-v', '-S', '-aet', 'T1_CT', '-aec', 'YUNYING', '-aem', 'NOT_REGISTERED', '-k', 'QueryRetrieveLevel=STUDY', '-k', `StudyInstanceUID=${studyT1.studyInstanceUid}`, '127.0.0.1', String(server.dicomPort)]);
    assert.match(moveUnregistered.stdout + moveUnregistered.stderr, /MoveDestinationUnknown/);
  });

  test('commission analysts see counts for their region, never patients', async () => {
    const response = await http('GET', '/api/v1/statistics/studies?groupBy=institution', { token: tokens.analyst! });
    assert.equal(response.status, 200, response.text);
    const byInstitution = Object.fromEntries((response.body as Array<{ key: string; studies: number }>).map((row) => [row.key, row.studies]));
    assert.equal(byInstitution['ks-t1'], 2); // storescu's study and the gateway's
    assert.equal(byInstitution['ks-t2'], 1);
    assert.equal(byInstitution.default, undefined); // outside 苏州
    assert.ok(!response.text.includes('P-T1'));
    assert.equal((await http('GET', '/api/v1/statistics/studies?groupBy=institution', { token: tokens.tech1! })).status, 403);
  });
});

describe('administration and escalation', () => {
  test('only administrators manage users, institutions and AEs; nobody raises their own role', async () => {
    for (const who of ['tech1', 'rad', 'qc', 'analyst', 'auditor']) {
      const token = tokens[who]!;
      assert.equal((await http('POST', '/api/v1/users', { token, body: { username: `x${who}`, password: PASSWORD, role: 'administrator', institutionId: 'default' } })).status, 403, who);
      assert.equal((await http('PATCH', `/api/v1/users/${who}`, { token, body: { role: 'administrator' } })).status, 403, who);
      assert.equal((await http('POST', '/api/v1/institutions', { token, body: { id: `x${who}`, name: 'x' } })).status, 403, who);
      assert.equal((await http('PUT', '/api/v1/application-entities/EVIL', { token, body: { institutionId: 'default' } })).status, 403, who);
      assert.equal((await http('POST', `/api/v1/studies/${studyT2.studyInstanceUid}/grants`, { token, body: { institutionId: 'ks-t1', reason: 'x' } })).status, 403, who);
    }
    const me = await http('GET', '/api/v1/auth/me', { token: tokens.tech1! });
    assert.equal((me.body as { role: string }).role, 'technologist');
    // extra properties are refused, not silently dropped
    assert.equal((await http('POST', '/api/v1/auth/login', { body: { username: 'tech1', password: PASSWORD, role: 'administrator' } })).status, 400);
    assert.equal((await http('PATCH', '/api/v1/users/admin', { token: adminToken, body: { enabled: false } })).status, 400);
  });

  test('weak passwords, unknown roles and institutions, bad ids are refused with clear errors', async () => {
    const bad = [
      { username: 'weak', password: 'short', role: 'radiologist', institutionId: 'ks-county' },
      { username: 'norole', password: PASSWORD, role: 'superuser', institutionId: 'ks-county' },
      { username: 'noinst', password: PASSWORD, role: 'radiologist', institutionId: 'nowhere' },
      { username: '../etc', password: PASSWORD, role: 'radiologist', institutionId: 'ks-county' },
    ];
    const statuses = [];
    for (const body of bad) statuses.push((await http('POST', '/api/v1/users', { token: adminToken, body })).status);
    assert.deepEqual(statuses, [400, 400, 404, 400]);
    assert.equal((await http('POST', '/api/v1/institutions', { token: adminToken, body: { id: 'ks-t1', name: 'again' } })).status, 409);
    assert.equal((await http('PATCH', '/api/v1/institutions/sz', { token: adminToken, body: { parentId: 'ks-t1' } })).status, 400); // a cycle
  });
});

describe('tokens and passwords', () => {
  test('forged, malformed, expired and revoked tokens are refused', async () => {
    assert.equal((await http('GET', '/dicom-web/studies')).status, 401);
    assert.equal((await http('GET', '/dicom-web/studies', { token: 'A'.repeat(43) })).status, 401);
    assert.equal((await http('GET', '/dicom-web/studies', { headers: { authorization: 'Bearer <script>' } })).status, 401);
    assert.equal((await http('GET', '/api/v1/users', { headers: { authorization: 'Token x' } })).status, 401);
    const token = await login('tech1');
    const tokenSha256 = createHash('sha256').update(token).digest('hex');
    await server.server.archive.database.db.updateTable('sessions').set({ expires_at: new Date(Date.now() - 1000).toISOString() }).where('token_sha256', '=', tokenSha256).execute();
    assert.equal((await http('GET', '/dicom-web/studies', { token })).status, 401);
    const fresh = await login('tech1');
    assert.equal((await http('POST', '/api/v1/auth/logout', { token: fresh })).status, 204);
    assert.equal((await http('GET', '/dicom-web/studies', { token: fresh })).status, 401);
    tokens.tech1 = await login('tech1');
  });

  test('a disabled account and a changed password end the sessions at once; Basic works for DICOM tools', async () => {
    const token = await login('tech2');
    assert.equal((await http('GET', '/dicom-web/studies', { basic: `tech2:${PASSWORD}` })).status, 200, 'basic before');
    assert.equal((await http('GET', '/api/v1/auth/me', { basic: `tech2:${PASSWORD}` })).status, 401); // the REST API takes tokens only
    assert.equal((await http('PATCH', '/api/v1/users/tech2', { token: adminToken, body: { enabled: false } })).status, 200);
    assert.equal((await http('GET', '/dicom-web/studies', { token })).status, 401);
    assert.equal((await http('GET', '/dicom-web/studies', { basic: `tech2:${PASSWORD}` })).status, 401);
    assert.equal((await http('PATCH', '/api/v1/users/tech2', { token: adminToken, body: { enabled: true } })).status, 200);
    const again = await login('tech2');
    assert.equal((await http('POST', '/api/v1/auth/password', { token: again, body: { currentPassword: PASSWORD, newPassword: 'Another-Pass-7' } })).status, 204);
    assert.equal((await http('GET', '/dicom-web/studies', { token: again })).status, 401);
    assert.equal((await http('GET', '/dicom-web/studies', { basic: `tech2:${PASSWORD}` })).status, 401);
    assert.equal((await http('GET', '/dicom-web/studies', { basic: 'tech2:Another-Pass-7' })).status, 200, 'basic with the new password');
  });

  test('repeated wrong passwords throttle the account, even against the right password', async () => {
    await http('POST', '/api/v1/users', { token: adminToken, body: { username: 'victim', password: PASSWORD, role: 'clinician', institutionId: 'ks-t1' } });
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) statuses.push((await http('POST', '/api/v1/auth/login', { body: { username: 'victim', password: `guess-${i}` } })).status);
    assert.deepEqual(statuses, [401, 401, 401, 401, 401, 429]);
    const right = await http('POST', '/api/v1/auth/login', { body: { username: 'victim', password: PASSWORD } });
    assert.equal(right.status, 429);
    assert.ok(Number(right.headers.get('retry-after')) > 0);
    assert.equal((await http('GET', '/dicom-web/studies', { basic: `victim:${PASSWORD}` })).status, 429); // Basic goes through the same throttle
    const unknown = await http('POST', '/api/v1/auth/login', { body: { username: 'nobody-here', password: 'x' } });
    assert.equal(unknown.status, 401);
    assert.deepEqual(unknown.body, (await http('POST', '/api/v1/auth/login', { body: { username: 'tech1', password: 'wrong-password' } })).body);
  });
});

describe('bad input', () => {
  test('path traversal and oversized or malformed bodies get 4xx, nothing leaks', async () => {
    const token = tokens.tech1!;
    for (const url of ['/dicom-web/studies/..%2F..%2Fetc%2Fpasswd', '/dicom-web/studies/../../etc/passwd/metadata', '/wado?requestType=WADO&studyUID=../../etc&seriesUID=..&objectUID=passwd&contentType=application/dicom', '/fhir/r4/ImagingStudy/..%2F..%2Fetc%2Fpasswd', '/api/v1/users/..%2Fadmin', '/%2e%2e/%2e%2e/etc/passwd']) {
      const response = await http('GET', url, { token });
      // A URL that normalises to an unknown path outside the protocols gets the web app's
      // page (client-side routes), when the web app is built; never a file.
      const webAppPage = response.status === 200 && /text\/html/.test(response.headers.get('content-type') ?? '') && !url.includes('dicom-web/studies/..%2F');
      assert.ok((response.status >= 400 && response.status < 500) || webAppPage, `${url}: ${response.status}`);
      assert.ok(!response.text.includes('root:'), url);
    }
    const huge = await http('POST', '/api/v1/auth/login', { raw: Buffer.alloc(2 * 1024 * 1024, 'a'), headers: { 'content-type': 'application/json' } });
    assert.equal(huge.status, 413);
    const broken = await http('POST', '/api/v1/auth/login', { raw: Buffer.from('{"username":'), headers: { 'content-type': 'application/json' } });
    assert.equal(broken.status, 400);
  });
});

describe('audit trail', () => {
  test('views, retrievals, stores and queries are recorded with who, what, where and how; only auditors read them', async () => {
    const view = await http('GET', `/dicom-web/studies/${studyT1.studyInstanceUid}/metadata`, { token: tokens.rad! });
    assert.equal(view.status, 200);
    const events = await http('GET', `/api/v1/audit-events?objectId=${studyT1.studyInstanceUid}&limit=1000`, { token: tokens.auditor! });
    assert.equal(events.status, 200, events.text);
    const rows = events.body as Array<{ action: string; actor_name: string; via: string; patient_id: string | null; remote_address: string | null; actor_institution_id: string }>;
    const stored = rows.find((row) => row.action === 'instance.stored');
    assert.equal(stored?.actor_name, 'T1_CT', events.text.slice(0, 3000));
    assert.equal(stored?.via, 'dimse');
    const viewed = rows.find((row) => row.action === 'study.viewed' && row.actor_name === 'rad');
    assert.equal(viewed?.via, 'dicomweb');
    assert.equal(viewed?.patient_id, 'P-T1');
    assert.equal(viewed?.actor_institution_id, 'ks-county');
    assert.ok(viewed?.remote_address);
    assert.ok(rows.some((row) => row.action === 'study.exported' && row.via === 'dimse' && row.actor_name === 'T1_CT'), 'the C-MOVE');
    const queries = await http('GET', '/api/v1/audit-events?action=study.queried&via=dimse&actor=T1_CT', { token: tokens.auditor! });
    assert.ok((queries.body as unknown[]).length > 0, 'the C-FIND');
    assert.ok(!events.text.includes('周^敏') && !events.text.includes('Zhou^Min'), `no patient names in the trail ${events.text}`);
    const failedLogins = await http('GET', '/api/v1/audit-events?action=user.login-failed&limit=1000', { token: tokens.auditor! });
    assert.ok((failedLogins.body as unknown[]).length >= 5);
    assert.ok(!failedLogins.text.includes('guess-'), 'no passwords in the trail');
    assert.equal((await http('GET', '/api/v1/audit-events', { token: tokens.rad! })).status, 403);
    const newest = (await http('GET', '/api/v1/audit-events?order=desc&limit=5', { token: tokens.auditor! })).body as Array<{ seq: number }>;
    assert.deepEqual(newest.map((row) => row.seq), [...newest.map((row) => row.seq)].sort((a, b) => b - a));
    const csv = await http('GET', '/api/v1/audit-events/export?format=csv', { token: tokens.auditor! });
    assert.equal(csv.status, 200);
    assert.match(csv.text, /^\uFEFF?seq,occurred_at,action/);
    assert.equal((await http('GET', '/api/v1/audit-events/verification', { token: tokens.auditor! })).status, 200);
  });

  test('altering or deleting a record is detected by the chain check', async () => {
    const { audit, database } = server.server.archive;
    assert.equal((await audit.verify()).ok, true);
    const victim = (await audit.search({ action: 'study.viewed', limit: 1 }))[0]!;
    await database.db.updateTable('audit_events').set({ actor_name: 'someone-else' }).where('seq', '=', victim.seq).execute();
    const altered = await audit.verify();
    assert.equal(altered.ok, false);
    assert.equal(altered.brokenAt?.seq, victim.seq);
    await database.db.updateTable('audit_events').set({ actor_name: victim.actor_name }).where('seq', '=', victim.seq).execute();
    assert.equal((await audit.verify()).ok, true);
    await database.db.deleteFrom('audit_events').where('seq', '=', victim.seq + 1).execute();
    const deleted = await audit.verify();
    assert.equal(deleted.ok, false);
    assert.match(deleted.brokenAt!.reason, /missing/);
  });
});

describe('every role against every interface', () => {
  // What each role at the county diagnostic centre (which serves ks-t1) gets on each
  // interface for studyT1: 200 where the role may act, 403 where it never may.
  const expected: Record<string, { images: number; store: number; statistics: number; audit: number; admin: number }> = {
    technologist: { images: 200, store: 200, statistics: 403, audit: 403, admin: 403 },
    radiologist: { images: 200, store: 403, statistics: 403, audit: 403, admin: 403 },
    'reviewing-radiologist': { images: 200, store: 403, statistics: 403, audit: 403, admin: 403 },
    expert: { images: 200, store: 403, statistics: 403, audit: 403, admin: 403 },
    clinician: { images: 200, store: 403, statistics: 403, audit: 403, admin: 403 },
    'qc-officer': { images: 200, store: 403, statistics: 403, audit: 403, admin: 403 },
    'commission-analyst': { images: 403, store: 403, statistics: 200, audit: 403, admin: 403 },
    'insurance-auditor': { images: 403, store: 403, statistics: 403, audit: 200, admin: 403 },
    administrator: { images: 200, store: 200, statistics: 200, audit: 200, admin: 200 },
    gateway: { images: 403, store: 200, statistics: 403, audit: 403, admin: 403 },
  };

  for (const [role, want] of Object.entries(expected)) {
    test(`${role}`, async () => {
      const username = `matrix-${role}`;
      // A technologist or gateway at the township itself; everyone else at the county centre.
      const institutionId = role === 'technologist' || role === 'gateway' ? 'ks-t1' : 'ks-county';
      assert.equal((await http('POST', '/api/v1/users', { token: adminToken, body: { username, password: PASSWORD, role, institutionId } })).status, 201);
      const token = await login(username);
      const t1 = studyT1;
      const images = [
        await http('GET', `/dicom-web/studies?StudyInstanceUID=${t1.studyInstanceUid}`, { token }),
        await http('GET', `/dicom-web/studies/${t1.studyInstanceUid}/metadata`, { token }),
        await http('GET', `/wado?requestType=WADO&studyUID=${t1.studyInstanceUid}&seriesUID=${t1.seriesInstanceUid}&objectUID=${t1.sopInstanceUid}&contentType=application/dicom`, { token }),
        await http('GET', `/fhir/r4/ImagingStudy/${t1.studyInstanceUid}`, { token }),
        await http('GET', `/dicom-web/studies?StudyInstanceUID=${t1.studyInstanceUid}`, { basic: `${username}:${PASSWORD}` }),
      ];
      assert.deepEqual(images.map((r) => r.status), images.map(() => want.images), `${role} images`);
      if (want.images === 200) assert.equal((images[0]!.body as unknown[]).length, 1, `${role} finds the study`);
      assert.equal((await stow(token, makeSyntheticInstance())).status, want.store, `${role} store`);
      assert.equal((await http('GET', '/api/v1/statistics/studies?groupBy=modality', { token })).status, want.statistics, `${role} statistics`);
      assert.equal((await http('GET', '/api/v1/audit-events?limit=1', { token })).status, want.audit, `${role} audit`);
      assert.equal((await http('GET', '/api/v1/users', { token })).status, want.admin, `${role} admin`);
      // nobody but an administrator deletes or corrects (study-maintenance.test.ts has the administrator's side)
      if (role !== 'administrator') {
        assert.equal((await http('DELETE', `/api/v1/studies/${studyK.studyInstanceUid}?reason=test`, { token })).status, 403, `${role} delete`);
        assert.equal((await http('POST', `/api/v1/studies/${studyK.studyInstanceUid}/corrections`, { token, body: { patientId: 'X', reason: 'test' } })).status, 403, `${role} correct`);
      }
    });
  }
});

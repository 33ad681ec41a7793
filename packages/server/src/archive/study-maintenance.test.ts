import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseDicom, readIndexAttributes } from '@yunying/dicom';
import { startListeningServer, type ListeningServer } from '../test-support/listening-server.ts';
import { ADMIN_AUTH, TEST_ADMIN_PASSWORD } from '../test-support/admin-auth.ts';
import { makeSyntheticInstance, newUid, type SyntheticInstance } from '../test-support/synthetic-dicom.ts';
import { sample as readSample, stowBody } from '../dicomweb/test-support.ts';
import { createTestDatabase } from '../test-support/postgres.ts';

let server: ListeningServer;
let adminToken: string;

async function call(method: string, url: string, options: { auth?: string; body?: unknown; raw?: Buffer; headers?: Record<string, string> } = {}) {
  const headers: Record<string, string> = { authorization: options.auth ?? `Bearer ${adminToken}`, ...options.headers };
  let body: Buffer | string | undefined = options.raw;
  if (options.body !== undefined) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(options.body);
  }
  const response = await fetch(`${server.baseUrl}${url}`, { method, headers, body });
  return { status: response.status, bytes: Buffer.from(await response.arrayBuffer()) };
}

const json = (bytes: Buffer): unknown => JSON.parse(bytes.toString('utf8'));

async function stow(instances: readonly Buffer[]): Promise<void> {
  const { payload, contentType } = stowBody(instances);
  const response = await call('POST', '/dicom-web/studies', { auth: ADMIN_AUTH, raw: payload, headers: { 'content-type': contentType } });
  assert.equal(response.status, 200, response.bytes.toString());
}

async function studiesWhere(query: string): Promise<string[]> {
  const response = await call('GET', `/dicom-web/studies?${query}`, { auth: ADMIN_AUTH });
  return (json(response.bytes) as Array<Record<string, { Value?: string[] }>>).map((study) => study['0020000D']!.Value![0]!);
}

before(async () => {
  server = await startListeningServer();
  const login = await fetch(`${server.baseUrl}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'admin', password: TEST_ADMIN_PASSWORD }) });
  adminToken = ((await login.json()) as { token: string }).token;
});

after(async () => {
  await server.close();
});

function studyOf(count: number, patientId: string, patientName: string): SyntheticInstance[] {
  const first = makeSyntheticInstance({ patientId, patientName, size: 4096 });
  const rest = Array.from({ length: count - 1 }, (_, n) => makeSyntheticInstance({ patientId, patientName, size: 4096, studyInstanceUid: first.studyInstanceUid, seriesInstanceUid: first.seriesInstanceUid, instanceNumber: n + 2 }));
  return [first, ...rest];
}

test('a demographics correction rewrites every object and the index, keeps pixel data, and audits the old values', async () => {
  const instances = studyOf(3, `WRONG-${newUid().slice(-6)}`, 'Wang^Wei=王^伟');
  const study = instances[0]!.studyInstanceUid;
  await stow(instances.map((i) => i.bytes));
  const patientId = `P-${newUid().slice(-8)}`;

  const corrected = await call('POST', `/api/v1/studies/${study}/corrections`, { body: { patientId, patientName: 'Li^Na=李^娜', patientSex: 'F', reason: '登记错误 wrong registration' } });
  assert.equal(corrected.status, 200, corrected.bytes.toString());
  assert.deepEqual(json(corrected.bytes), { instances: 3 });

  assert.deepEqual(await studiesWhere(`PatientID=${patientId}`), [study]);
  assert.deepEqual(await studiesWhere(`PatientID=WRONG-*&StudyInstanceUID=${study}`), []);
  assert.deepEqual(await studiesWhere(`PatientName=${encodeURIComponent('李*')}&StudyInstanceUID=${study}`), [study]);
  assert.deepEqual(await studiesWhere(`PatientName=${encodeURIComponent('王*')}&StudyInstanceUID=${study}`), []);

  for (const instance of instances) {
    const retrieved = await call('GET', `/dicom-web/studies/${study}/series/${instance.seriesInstanceUid}/instances/${instance.sopInstanceUid}`, { auth: ADMIN_AUTH, headers: { accept: 'application/dicom' } });
    assert.equal(retrieved.status, 200);
    const attributes = readIndexAttributes(parseDicom(retrieved.bytes));
    assert.equal(attributes.patientId, patientId);
    assert.equal(attributes.patientName, 'Li^Na=李^娜');
    assert.equal(attributes.patientSex, 'F');
    assert.equal(attributes.sopInstanceUid, instance.sopInstanceUid);
    const pixels = (b: Buffer) => b.subarray(b.length - 4096);
    assert.ok(pixels(retrieved.bytes).equals(pixels(instance.bytes)), 'pixel data unchanged');
  }
  const metadata = json((await call('GET', `/dicom-web/studies/${study}/metadata`, { auth: ADMIN_AUTH })).bytes) as Array<Record<string, { Value?: unknown[] }>>;
  assert.equal(metadata[0]!['00100020']!.Value![0], patientId);

  const trail = json((await call('GET', `/api/v1/audit-events?action=study.corrected&objectId=${study}`)).bytes) as Array<{ actor_name: string; details: { before: { patientId: string; patientName: string }; reason: string } }>;
  assert.equal(trail.length, 1);
  assert.match(trail[0]!.details.before.patientId, /^WRONG-/);
  // auditors read the trail: the old name is not kept in it (issue 12), only that it changed
  assert.equal(trail[0]!.details.before.patientName, undefined);
  assert.ok(!JSON.stringify(trail[0]!.details).includes('Wang'));
  assert.equal(trail[0]!.actor_name, 'admin');
});

test('a GB18030 object is corrected in its own character set', async () => {
  const sample = await readSample('charset/chrX2.dcm');
  const original = readIndexAttributes(parseDicom(sample));
  await stow([sample]);
  const corrected = await call('POST', `/api/v1/studies/${original.studyInstanceUid}/corrections`, { body: { patientName: 'Zhao^Lei=赵^磊', reason: '姓名错误' } });
  assert.equal(corrected.status, 200, corrected.bytes.toString());
  const retrieved = await call('GET', `/dicom-web/studies/${original.studyInstanceUid}/series/${original.seriesInstanceUid}/instances/${original.sopInstanceUid}`, { auth: ADMIN_AUTH, headers: { accept: 'application/dicom; transfer-syntax=*' } });
  const parsed = parseDicom(retrieved.bytes);
  assert.equal(readIndexAttributes(parsed).patientName, 'Zhao^Lei=赵^磊');
  assert.ok(retrieved.bytes.includes(Buffer.from([0xd5, 0xd4])), '赵 is written in GB18030, not UTF-8');
  assert.deepEqual(await studiesWhere(`PatientName=${encodeURIComponent('赵*')}&StudyInstanceUID=${original.studyInstanceUid}`), [original.studyInstanceUid]);
});

test('deleting a study removes it from every interface and its objects, and the trail keeps what it was', async () => {
  const instances = studyOf(2, `DEL-${newUid().slice(-6)}`, 'Sun^Li=孙^丽');
  const study = instances[0]!.studyInstanceUid;
  await stow(instances.map((i) => i.bytes));
  const before = await server.server.archive.index.countInstances();
  assert.equal((await call('DELETE', `/api/v1/studies/${study}`)).status, 400); // a reason is required
  const deleted = await call('DELETE', `/api/v1/studies/${study}?reason=${encodeURIComponent('重复上传')}`);
  assert.equal(deleted.status, 200, deleted.bytes.toString());
  assert.equal(await server.server.archive.index.countInstances(), before - 2);
  assert.deepEqual(await studiesWhere(`StudyInstanceUID=${study}`), []);
  assert.equal((await call('GET', `/dicom-web/studies/${study}/metadata`, { auth: ADMIN_AUTH })).status, 404);
  assert.equal((await call('DELETE', `/api/v1/studies/${study}?reason=again`)).status, 404);
  const trail = json((await call('GET', `/api/v1/audit-events?action=study.deleted&objectId=${study}`)).bytes) as Array<{ details: { deleted: { sopInstanceUids: string[]; patientId: string } } }>;
  assert.deepEqual(trail[0]!.details.deleted.sopInstanceUids.sort(), instances.map((i) => i.sopInstanceUid).sort());
  for (const key of await server.server.archive.index.listBlobKeys()) assert.ok(!key.includes(instances[0]!.sopInstanceUid));
  assert.equal((await server.server.archive.audit.verify()).ok, true);
});

test('only administrators correct or delete, and a study out of scope looks absent', async () => {
  const instances = studyOf(1, 'P-SCOPE', 'Qian^Yu');
  await stow([instances[0]!.bytes]);
  const created = await call('POST', '/api/v1/users', { body: { username: `tech${newUid().slice(-6)}`, password: 'Correct-Horse-9', role: 'technologist', institutionId: 'default' } });
  const username = (json(created.bytes) as { username: string }).username;
  const login = await fetch(`${server.baseUrl}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username, password: 'Correct-Horse-9' }) });
  const tech = `Bearer ${((await login.json()) as { token: string }).token}`;
  assert.equal((await call('POST', `/api/v1/studies/${instances[0]!.studyInstanceUid}/corrections`, { auth: tech, body: { patientId: 'X', reason: 'x' } })).status, 403);
  assert.equal((await call('DELETE', `/api/v1/studies/${instances[0]!.studyInstanceUid}?reason=x`, { auth: tech })).status, 403);
  assert.equal((await call('POST', `/api/v1/studies/${newUid()}/corrections`, { body: { patientId: 'X', reason: 'x' } })).status, 404);
  assert.equal((await call('POST', `/api/v1/studies/${instances[0]!.studyInstanceUid}/corrections`, { body: { reason: 'nothing' } })).status, 400);
});

test('on PostgreSQL a corrected name is found by a contains-search (the bigram index follows the correction)', async () => {
  const database = await createTestDatabase();
  const pgServer = await startListeningServer({ YUNYING_DATABASE_URL: database.url });
  try {
    const instance = makeSyntheticInstance({ patientId: 'P-PG', patientName: 'Wang^Wei=王^伟' });
    const { payload, contentType } = stowBody([instance.bytes]);
    const stored = await fetch(`${pgServer.baseUrl}/dicom-web/studies`, { method: 'POST', headers: { authorization: ADMIN_AUTH, 'content-type': contentType }, body: payload });
    assert.equal(stored.status, 200);
    const login = await fetch(`${pgServer.baseUrl}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'admin', password: TEST_ADMIN_PASSWORD }) });
    const token = ((await login.json()) as { token: string }).token;
    const corrected = await fetch(`${pgServer.baseUrl}/api/v1/studies/${instance.studyInstanceUid}/corrections`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ patientName: 'Li^XiaoNa=李^小娜', reason: '姓名错误' }) });
    assert.equal(corrected.status, 200, await corrected.text());
    const search = async (pattern: string) => {
      const response = await fetch(`${pgServer.baseUrl}/dicom-web/studies?PatientName=${encodeURIComponent(pattern)}`, { headers: { authorization: ADMIN_AUTH } });
      return ((await response.json()) as unknown[]).length;
    };
    assert.equal(await search('*小娜*'), 1);
    assert.equal(await search('*王*'), 0);
  } finally {
    await pgServer.close();
    await database.drop();
  }
});

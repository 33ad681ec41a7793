/**
 * Issue 12, finding 15: `PUT /api/v1/dicom-nodes/{AE}` on an existing AE used to move it to
 * the administrator's (default) institution when the body named none, silently handing its
 * C-MOVE traffic to another institution. Changing an existing node now needs institutionId.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startListeningServer, type ListeningServer } from '../test-support/listening-server.ts';
import { TEST_ADMIN_PASSWORD } from '../test-support/admin-auth.ts';

let server: ListeningServer;
let token: string;

async function call(method: string, url: string, body?: unknown): Promise<{ status: number; body: unknown }> {
  const headers: Record<string, string> = { authorization: `Bearer ${token}` };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(`${server.baseUrl}${url}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : undefined };
}

before(async () => {
  server = await startListeningServer();
  const login = await fetch(`${server.baseUrl}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'admin', password: TEST_ADMIN_PASSWORD }) });
  token = ((await login.json()) as { token: string }).token;
  assert.equal((await call('POST', '/api/v1/institutions', { id: 'ks-t1', name: '周市镇卫生院', tier: 'township' })).status, 201);
});

after(async () => {
  await server.close();
});

const nodes = async (): Promise<unknown> => (await call('GET', '/api/v1/dicom-nodes')).body;

test('updating an existing node without institutionId is refused and the node stays where it was', async () => {
  assert.equal((await call('PUT', '/api/v1/dicom-nodes/T1_VIEW', { host: '10.0.0.5', port: 104, institutionId: 'ks-t1' })).status, 200);
  const refused = await call('PUT', '/api/v1/dicom-nodes/T1_VIEW', { host: '10.0.0.6', port: 11112 });
  assert.equal(refused.status, 409, JSON.stringify(refused.body));
  assert.equal((refused.body as { code: string }).code, 'INSTITUTION_REQUIRED');
  assert.match((refused.body as { message: string }).message, /institutionId/);
  assert.deepEqual(await nodes(), [{ aeTitle: 'T1_VIEW', host: '10.0.0.5', port: 104, institutionId: 'ks-t1' }]);
});

test('with institutionId the update goes through; a new node without one still joins the caller’s institution', async () => {
  assert.equal((await call('PUT', '/api/v1/dicom-nodes/T1_VIEW', { host: '10.0.0.6', port: 11112, institutionId: 'ks-t1' })).status, 200);
  assert.equal((await call('PUT', '/api/v1/dicom-nodes/NEW_NODE', { host: '10.0.0.7', port: 104 })).status, 200);
  assert.deepEqual(await nodes(), [
    { aeTitle: 'NEW_NODE', host: '10.0.0.7', port: 104, institutionId: 'default' },
    { aeTitle: 'T1_VIEW', host: '10.0.0.6', port: 11112, institutionId: 'ks-t1' },
  ]);
});

test('an AE registered without an address (a modality) cannot be turned into a node of another institution by omission', async () => {
  assert.equal((await call('PUT', '/api/v1/application-entities/T1_CT', { institutionId: 'ks-t1' })).status, 200);
  assert.equal((await call('PUT', '/api/v1/dicom-nodes/T1_CT', { host: '10.0.0.8', port: 104 })).status, 409);
  const aes = (await call('GET', '/api/v1/application-entities')).body as Array<{ aeTitle: string; institutionId: string; host?: string }>;
  assert.deepEqual(aes.find((ae) => ae.aeTitle === 'T1_CT'), { aeTitle: 'T1_CT', institutionId: 'ks-t1' });
});

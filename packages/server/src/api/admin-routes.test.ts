import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { buildServer } from '../app.ts';
import { loadConfig } from '../config.ts';

test('C-MOVE destinations are registered, listed and removed through the admin API; tokens are checked', async () => {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'yunying-admin-'));
  const server = await buildServer(loadConfig({ YUNYING_DATA_DIR: dataDir, YUNYING_LOG_LEVEL: 'silent', YUNYING_ADMIN_PASSWORD: 's3cret-Passw0rd' }));
  try {
    const login = await server.http.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { username: 'admin', password: 's3cret-Passw0rd' } });
    assert.equal(login.statusCode, 200);
    assert.equal(login.headers['cache-control'], 'no-store');
    const authorization = `Bearer ${login.json<{ token: string }>().token}`;
    assert.equal((await server.http.inject({ method: 'PUT', url: '/api/v1/dicom-nodes/VIEWER1', payload: { host: '127.0.0.1', port: 11113 } })).statusCode, 401);
    const put = await server.http.inject({ method: 'PUT', url: '/api/v1/dicom-nodes/VIEWER1', headers: { authorization }, payload: { host: '127.0.0.1', port: 11113 } });
    assert.equal(put.statusCode, 200, put.body);
    const list = await server.http.inject({ method: 'GET', url: '/api/v1/dicom-nodes', headers: { authorization } });
    assert.deepEqual(list.json(), [{ aeTitle: 'VIEWER1', host: '127.0.0.1', port: 11113, institutionId: 'default' }]);
    const wrongPassword = await server.http.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { username: 'admin', password: 'guess' } });
    assert.equal(wrongPassword.statusCode, 401);
    assert.equal(wrongPassword.json<{ code: string }>().code, 'UNAUTHORIZED');
    assert.equal((await server.http.inject({ method: 'PUT', url: '/api/v1/dicom-nodes/VIEWER2', headers: { authorization }, payload: { host: '127.0.0.1', port: 70000 } })).statusCode, 400);
    assert.equal((await server.http.inject({ method: 'PUT', url: `/api/v1/dicom-nodes/${'X'.repeat(17)}`, headers: { authorization }, payload: { host: '127.0.0.1', port: 104 } })).statusCode, 400);
    assert.equal((await server.http.inject({ method: 'DELETE', url: '/api/v1/dicom-nodes/VIEWER1', headers: { authorization } })).statusCode, 204);
    assert.equal((await server.http.inject({ method: 'DELETE', url: '/api/v1/dicom-nodes/VIEWER1', headers: { authorization } })).statusCode, 404);
    assert.equal((await server.http.inject({ method: 'GET', url: '/healthz' })).statusCode, 200);
    // Signed in, as every route but the login (issue 12, finding 19).
    assert.equal((await server.http.inject({ method: 'GET', url: '/api/openapi.json' })).statusCode, 401);
    const openapi = await server.http.inject({ method: 'GET', url: '/api/openapi.json', headers: { authorization } });
    const paths = Object.keys(openapi.json<{ paths: Record<string, unknown> }>().paths);
    for (const expected of ['/api/v1/auth/login', '/api/v1/users', '/api/v1/institutions', '/api/v1/application-entities/{aeTitle}', '/api/v1/audit-events', '/api/v1/dicom-nodes/{aeTitle}']) assert.ok(paths.includes(expected), expected);
    assert.equal((await server.http.inject({ method: 'GET', url: '/api/v1/no/such/thing' })).statusCode, 404);
  } finally {
    await server.close();
    await rm(dataDir, { recursive: true, force: true });
  }
});

test('without YUNYING_ADMIN_PASSWORD the first start writes a random admin password to a private file, never to the log', async () => {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'yunying-first-'));
  const server = await buildServer(loadConfig({ YUNYING_DATA_DIR: dataDir, YUNYING_LOG_LEVEL: 'silent' }));
  try {
    const file = path.join(dataDir, 'initial-admin-password');
    assert.equal((await stat(file)).mode & 0o777, 0o600);
    const password = (await readFile(file, 'utf8')).trim();
    assert.ok(password.length >= 20);
    const login = await server.http.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { username: 'admin', password } });
    assert.equal(login.statusCode, 200);
    // no anonymous access, loopback or not
    assert.equal((await server.http.inject({ method: 'GET', url: '/dicom-web/studies', remoteAddress: '127.0.0.1' })).statusCode, 401);
  } finally {
    await server.close();
    await rm(dataDir, { recursive: true, force: true });
  }
});

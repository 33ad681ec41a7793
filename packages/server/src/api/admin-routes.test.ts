import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { buildServer } from '../app.ts';
import { loadConfig } from '../config.ts';

test('C-MOVE destinations are registered, listed and removed through the admin API; credentials are checked', async () => {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'yunying-admin-'));
  const server = await buildServer(loadConfig({ YUNYING_DATA_DIR: dataDir, YUNYING_LOG_LEVEL: 'silent', YUNYING_ADMIN_PASSWORD: 's3cret-Passw0rd' }));
  try {
    const put = await server.http.inject({ method: 'PUT', url: '/api/v1/dicom-nodes/VIEWER1', payload: { host: '127.0.0.1', port: 11113 } });
    assert.equal(put.statusCode, 200);
    assert.deepEqual(await server.archive.findNode('VIEWER1'), { aeTitle: 'VIEWER1', host: '127.0.0.1', port: 11113, institutionId: 'default' });

    const list = await server.http.inject({ method: 'GET', url: '/api/v1/dicom-nodes', headers: { authorization: `Basic ${Buffer.from('admin:s3cret-Passw0rd').toString('base64')}` } });
    assert.equal(list.statusCode, 200);
    assert.equal(list.json()[0].aeTitle, 'VIEWER1');

    const wrongPassword = await server.http.inject({ method: 'GET', url: '/api/v1/dicom-nodes', headers: { authorization: `Basic ${Buffer.from('admin:guess').toString('base64')}` } });
    assert.equal(wrongPassword.statusCode, 401);
    assert.equal(wrongPassword.json().code, 'UNAUTHORIZED');
    assert.ok(!wrongPassword.body.includes('s3cret'));

    const badPort = await server.http.inject({ method: 'PUT', url: '/api/v1/dicom-nodes/VIEWER2', payload: { host: '127.0.0.1', port: 70000 } });
    assert.equal(badPort.statusCode, 400);
    const badAe = await server.http.inject({ method: 'PUT', url: `/api/v1/dicom-nodes/${'X'.repeat(17)}`, payload: { host: '127.0.0.1', port: 104 } });
    assert.equal(badAe.statusCode, 400);

    assert.equal((await server.http.inject({ method: 'DELETE', url: '/api/v1/dicom-nodes/VIEWER1' })).statusCode, 204);
    assert.equal((await server.http.inject({ method: 'DELETE', url: '/api/v1/dicom-nodes/VIEWER1' })).statusCode, 404);
    assert.equal((await server.http.inject({ method: 'GET', url: '/healthz' })).statusCode, 200);
    const openapi = await server.http.inject({ method: 'GET', url: '/api/openapi.json' });
    assert.equal(openapi.statusCode, 200);
    assert.match(openapi.json().openapi, /^3\./);
    assert.ok(openapi.json().paths['/api/v1/dicom-nodes/{aeTitle}'], 'the admin routes are documented');
    assert.ok(!Object.keys(openapi.json().paths).some((path) => path.startsWith('/dicom-web')), 'DICOMweb is specified by PS3.18, not here');
    assert.equal((await server.http.inject({ method: 'GET', url: '/no/such/thing' })).statusCode, 404);
  } finally {
    await server.close();
    await rm(dataDir, { recursive: true, force: true });
  }
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { brotliCompressSync, brotliDecompressSync } from 'node:zlib';
import { buildServer } from '../app.ts';
import { loadConfig } from '../config.ts';
import { TEST_ADMIN_PASSWORD } from '../test-support/admin-auth.ts';

test('the web app is served at / with client-side routes, hashed assets cached; protocol paths stay the server\'s', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'yunying-web-'));
  const dist = path.join(dir, 'dist');
  await mkdir(path.join(dist, 'assets'), { recursive: true });
  await writeFile(path.join(dist, 'index.html'), '<!doctype html><title>云影</title><div id="root"></div>');
  await writeFile(path.join(dist, 'assets', 'index-abc123.js'), 'console.log(1)');
  await writeFile(path.join(dist, 'assets', 'viewer-abc123.js'), 'console.log("viewer")');
  await writeFile(path.join(dist, 'assets', 'viewer-abc123.js.br'), brotliCompressSync('console.log("viewer")'));
  const server = await buildServer(loadConfig({ YUNYING_DATA_DIR: path.join(dir, 'data'), YUNYING_LOG_LEVEL: 'silent', YUNYING_ADMIN_PASSWORD: TEST_ADMIN_PASSWORD, YUNYING_WEB_DIST: dist }));
  try {
    const home = await server.http.inject({ method: 'GET', url: '/' });
    assert.equal(home.statusCode, 200);
    assert.match(home.body, /云影/);
    assert.match(String(home.headers['content-security-policy']), /default-src 'self'/);
    const route = await server.http.inject({ method: 'GET', url: '/worklist?status=pending' });
    assert.equal(route.statusCode, 200);
    assert.match(route.body, /<div id="root">/);
    const asset = await server.http.inject({ method: 'GET', url: '/assets/index-abc123.js' });
    assert.equal(asset.statusCode, 200);
    assert.match(String(asset.headers['cache-control']), /immutable/);
    // the build's brotli copy beside an asset goes to a browser that accepts it, the plain file to one that does not
    const compressed = await server.http.inject({ method: 'GET', url: '/assets/viewer-abc123.js', headers: { 'accept-encoding': 'gzip, deflate, br' } });
    assert.equal(compressed.statusCode, 200);
    assert.equal(compressed.headers['content-encoding'], 'br');
    assert.deepEqual(brotliDecompressSync(compressed.rawPayload).toString(), 'console.log("viewer")');
    const plain = await server.http.inject({ method: 'GET', url: '/assets/viewer-abc123.js', headers: { 'accept-encoding': 'identity' } });
    assert.equal(plain.headers['content-encoding'], undefined);
    assert.equal(plain.body, 'console.log("viewer")');
    const api = await server.http.inject({ method: 'GET', url: '/api/v1/no-such-thing' });
    assert.equal(api.statusCode, 404);
    assert.equal(api.json<{ code: string }>().code, 'NOT_FOUND');
    assert.equal((await server.http.inject({ method: 'GET', url: '/dicom-web/studies' })).statusCode, 401);
    assert.equal((await server.http.inject({ method: 'GET', url: '/%2e%2e/%2e%2e/etc/passwd' })).body.includes('root:'), false);
    assert.equal((await server.http.inject({ method: 'GET', url: '/worklist/%E0%A4%A' })).statusCode, 400);
  } finally {
    await server.close();
    await rm(dir, { recursive: true, force: true });
  }
});

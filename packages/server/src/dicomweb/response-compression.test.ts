/**
 * DICOM JSON answers are compressed for a client that accepts it (a township's slow line),
 * byte for byte the same JSON once decompressed; what is not on the list (the REST API's
 * JSON with its tokens, pixel data) goes as before. Over a real socket, with node:http so
 * the body is seen as sent (fetch would decompress it unseen).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { systemCaller } from '../access/caller.ts';
import { ADMIN_AUTH } from '../test-support/admin-auth.ts';
import { startListeningServer, type ListeningServer } from '../test-support/listening-server.ts';
import { makeSyntheticInstance, newUid } from '../test-support/synthetic-dicom.ts';

let server: ListeningServer;
const studyInstanceUid = newUid();

before(async () => {
  server = await startListeningServer();
  for (let i = 1; i <= 40; i++) {
    const instance = makeSyntheticInstance({ studyInstanceUid, patientName: 'Zhang^San=张^三', instanceNumber: i, modality: 'CT' });
    await server.server.archive.ingest(systemCaller(), { kind: 'part10', bytes: instance.bytes });
  }
});
after(async () => server?.close());

interface RawAnswer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

function get(path: string, headers: Record<string, string>, method = 'GET', body?: string): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const request = http.request(`${server.baseUrl}${path}`, { method, headers }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(chunks) }));
      response.on('error', reject);
    });
    request.on('error', reject);
    request.end(body);
  });
}

const instancesPath = `/dicom-web/studies/${studyInstanceUid}/instances`;

describe('compressed DICOM JSON', () => {
  test('QIDO-RS instances: brotli when accepted, the same JSON as the uncompressed answer', async () => {
    const plain = await get(instancesPath, { authorization: ADMIN_AUTH, accept: 'application/dicom+json' });
    assert.equal(plain.status, 200, plain.body.toString());
    assert.equal(plain.headers['content-encoding'], undefined, 'no Accept-Encoding, no compression');
    assert.equal((JSON.parse(plain.body.toString()) as unknown[]).length, 40);

    const brotli = await get(instancesPath, { authorization: ADMIN_AUTH, accept: 'application/dicom+json', 'accept-encoding': 'gzip, deflate, br' });
    assert.equal(brotli.status, 200);
    assert.equal(brotli.headers['content-encoding'], 'br');
    assert.match(String(brotli.headers.vary), /accept-encoding/i);
    assert.ok(brotli.body.length * 4 < plain.body.length, `compressed ${brotli.body.length} of ${plain.body.length} bytes`);
    assert.deepEqual(brotliDecompressSync(brotli.body), plain.body);

    const gzip = await get(instancesPath, { authorization: ADMIN_AUTH, accept: 'application/dicom+json', 'accept-encoding': 'gzip' });
    assert.equal(gzip.headers['content-encoding'], 'gzip');
    assert.deepEqual(gunzipSync(gzip.body), plain.body);
  });

  test('WADO-RS study metadata is compressed too', async () => {
    const plain = await get(`/dicom-web/studies/${studyInstanceUid}/metadata`, { authorization: ADMIN_AUTH });
    const gzip = await get(`/dicom-web/studies/${studyInstanceUid}/metadata`, { authorization: ADMIN_AUTH, 'accept-encoding': 'gzip' });
    assert.equal(gzip.status, 200);
    assert.equal(gzip.headers['content-encoding'], 'gzip');
    assert.deepEqual(gunzipSync(gzip.body), plain.body);
  });

  test('the REST API (tokens) and DICOM files are not compressed', async () => {
    const login = await get('/api/v1/auth/login', { 'content-type': 'application/json', 'accept-encoding': 'gzip, br' }, 'POST', JSON.stringify({ username: 'admin', password: 'wrong-password' }));
    assert.equal(login.headers['content-encoding'], undefined);
    const list = await get('/api/v1/studies', { authorization: ADMIN_AUTH, 'accept-encoding': 'gzip, br' });
    assert.equal(list.headers['content-encoding'], undefined, `REST API answer ${list.status}`);
    const study = await get(`/dicom-web/studies/${studyInstanceUid}`, { authorization: ADMIN_AUTH, accept: 'multipart/related; type="application/dicom"; transfer-syntax=*', 'accept-encoding': 'gzip, br' });
    assert.equal(study.status, 200);
    assert.equal(study.headers['content-encoding'], undefined);
  });
});

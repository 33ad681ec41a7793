/**
 * STOW-RS bounds over real HTTP (issue 13, item 7): concurrent uploads (a slot, a queue, then
 * 503 UPLOADS_BUSY with Retry-After), the size cap enforced while the body streams, and a part
 * over the request's memory budget staged in a file and stored byte-exact.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readdir } from 'node:fs/promises';
import { request, type ClientRequest, type IncomingMessage } from 'node:http';
import path from 'node:path';
import { ADMIN_AUTH } from '../test-support/admin-auth.ts';
import { startListeningServer } from '../test-support/listening-server.ts';
import { makeSyntheticInstance } from '../test-support/synthetic-dicom.ts';
import { UploadSlots } from './upload-slots.ts';
import { STOW_MEMORY_PER_REQUEST } from './stow-body.ts';

const BOUNDARY = 'stow-bounds';
const CONTENT_TYPE = `multipart/related; type="application/dicom"; boundary=${BOUNDARY}`;

function body(instances: readonly Uint8Array[]): Buffer {
  const pieces: Buffer[] = [];
  instances.forEach((bytes, i) => pieces.push(Buffer.from(`${i ? '\r\n' : ''}--${BOUNDARY}\r\nContent-Type: application/dicom\r\n\r\n`), Buffer.from(bytes)));
  pieces.push(Buffer.from(`\r\n--${BOUNDARY}--\r\n`));
  return Buffer.concat(pieces);
}

interface Answer {
  status: number;
  headers: IncomingMessage['headers'];
  json: Record<string, unknown>;
}

/** A STOW-RS request whose body the caller writes; `answer` once the server has answered. */
function openStow(baseUrl: string, headers: Record<string, string> = {}): { upload: ClientRequest; answer: Promise<Answer> } {
  const upload = request(`${baseUrl}/dicom-web/studies`, { method: 'POST', headers: { authorization: ADMIN_AUTH, 'content-type': CONTENT_TYPE, accept: 'application/dicom+json', ...headers } });
  const answer = new Promise<Answer>((resolve, reject) => {
    upload.on('response', (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (c: Buffer) => chunks.push(c));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, json: JSON.parse(Buffer.concat(chunks).toString() || '{}') as Record<string, unknown> }));
    });
    upload.on('error', reject);
  });
  return { upload, answer };
}

async function stagingFiles(dataDir: string): Promise<string[]> {
  return readdir(path.join(dataDir, 'staging')).catch(() => []);
}

describe('STOW-RS upload slots', () => {
  test('UploadSlots: a slot each up to the bound, then a queue in order, then UPLOADS_BUSY with Retry-After', async () => {
    const slots = new UploadSlots(1, 1);
    const first = await slots.acquire();
    const order: string[] = [];
    const second = slots.acquire().then((release) => (order.push('second'), release));
    await assert.rejects(slots.acquire(), (error: { code?: string; retryAfterSeconds?: number; httpStatus?: number }) => error.code === 'UPLOADS_BUSY' && error.httpStatus === 503 && error.retryAfterSeconds! > 0);
    assert.deepEqual(slots.stats, { running: 1, waiting: 1 });
    first();
    first(); // a second release of the same slot changes nothing
    (await second)();
    assert.deepEqual(order, ['second']);
    assert.deepEqual(slots.stats, { running: 0, waiting: 0 });
  });

  test('over the bound and its queue a request is answered 503 with Retry-After before its body is read; the one holding the slot is stored', async () => {
    const server = await startListeningServer({ YUNYING_STOW_CONCURRENCY: '1', YUNYING_STOW_QUEUE: '0' });
    try {
      const instance = makeSyntheticInstance({ size: 64 });
      const whole = body([instance.bytes]);
      // The server starts reading a STOW body once the request holds a slot: seen on the request itself.
      const reading = new Promise<void>((resolve) => {
        server.server.http.server.once('request', (incoming: IncomingMessage) => {
          const iterator = incoming.iterator.bind(incoming);
          incoming.iterator = (options) => {
            resolve();
            return iterator(options);
          };
        });
      });
      const holding = openStow(server.baseUrl, { 'content-length': String(whole.length) });
      holding.upload.write(whole.subarray(0, 100)); // the body is not finished
      await reading; // the slot is taken
      const refused = openStow(server.baseUrl, { 'content-length': String(whole.length) });
      refused.upload.end(whole);
      const busy = await refused.answer;
      assert.equal(busy.status, 503);
      assert.equal(busy.json.code, 'UPLOADS_BUSY');
      assert.ok(Number(busy.headers['retry-after']) > 0, 'Retry-After');
      holding.upload.end(whole.subarray(100));
      assert.equal((await holding.answer).status, 200);
      const after = openStow(server.baseUrl);
      after.upload.end(body([makeSyntheticInstance({ size: 8 }).bytes]));
      assert.equal((await after.answer).status, 200, 'the slot was released');
    } finally {
      await server.close();
    }
  });
});

describe('STOW-RS size cap and staging', () => {
  test('YUNYING_MAX_UPLOAD_BYTES: refused from Content-Length before reading, and while a chunked body streams; nothing stored, nothing staged', async () => {
    const server = await startListeningServer({ YUNYING_MAX_UPLOAD_BYTES: '200000' });
    try {
      const big = body([makeSyntheticInstance({ size: 400 }).bytes]); // 320 kB of pixels
      const declared = openStow(server.baseUrl, { 'content-length': String(big.length) });
      declared.upload.end(big);
      const first = await declared.answer;
      assert.equal(first.status, 413);
      assert.equal(first.json.code, 'PAYLOAD_TOO_LARGE');

      const chunked = openStow(server.baseUrl, { 'transfer-encoding': 'chunked' });
      for (let at = 0; at < big.length; at += 16 * 1024) chunked.upload.write(big.subarray(at, at + 16 * 1024));
      chunked.upload.end();
      const second = await chunked.answer;
      assert.equal(second.status, 413);
      assert.equal(second.json.code, 'PAYLOAD_TOO_LARGE');
      assert.match(String(second.json.message), /200000 bytes/);
      assert.equal(await server.server.archive.index.countInstances(), 0);
      assert.deepEqual(await stagingFiles(server.dataDir), []);

      const small = openStow(server.baseUrl, { 'transfer-encoding': 'chunked' });
      small.upload.end(body([makeSyntheticInstance({ size: 64 }).bytes]));
      assert.equal((await small.answer).status, 200, 'under the cap, chunked');
    } finally {
      await server.close();
    }
  });

  test(`a part over the request's memory budget (${STOW_MEMORY_PER_REQUEST / 1024 ** 2} MiB) is staged in a file and stored byte-exact`, async () => {
    const server = await startListeningServer();
    try {
      const large = makeSyntheticInstance({ size: 4200 }); // 4200² 16-bit pixels: 35 MB
      assert.ok(large.bytes.length > STOW_MEMORY_PER_REQUEST);
      const small = makeSyntheticInstance({ size: 16, studyInstanceUid: large.studyInstanceUid, seriesInstanceUid: large.seriesInstanceUid, instanceNumber: 2 });
      const stow = openStow(server.baseUrl);
      const last = makeSyntheticInstance({ size: 16, studyInstanceUid: large.studyInstanceUid, seriesInstanceUid: large.seriesInstanceUid, instanceNumber: 3 });
      const whole = body([small.bytes, large.bytes, last.bytes]); // in memory, staged (over the budget), in memory again
      for (let at = 0; at < whole.length; at += 1024 * 1024) {
        if (!stow.upload.write(whole.subarray(at, at + 1024 * 1024))) await once(stow.upload, 'drain');
      }
      stow.upload.end();
      const answer = await stow.answer;
      assert.equal(answer.status, 200);
      for (const instance of [small, large, last]) {
        const response = await fetch(`${server.baseUrl}/wado?requestType=WADO&studyUID=${instance.studyInstanceUid}&seriesUID=${instance.seriesInstanceUid}&objectUID=${instance.sopInstanceUid}&contentType=application/dicom`, { headers: { authorization: ADMIN_AUTH } });
        assert.ok(Buffer.from(await response.arrayBuffer()).equals(Buffer.from(instance.bytes)), `instance of ${instance.bytes.length} bytes stored byte-exact`);
      }
      assert.deepEqual(await stagingFiles(server.dataDir), []);
    } finally {
      await server.close();
    }
  });
});

/**
 * A 1 GiB STOW-RS upload into a real server process with a 256 MiB V8 heap (issue 13, item 7:
 * it peaked at 2.5 GB RSS when the body was buffered whole): it is stored byte-exact, and the
 * server's peak resident memory (VmHWM) stays far below the body's size. The body is made as
 * it is sent (four 256 MiB two-frame instances), so the test process holds none of it either.
 *
 * One test, an integration test (server-process.ts); memory is asserted, time is not.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { buildPart10, encodeDataset, TRANSFER_SYNTAX, type DicomJsonDataset } from '@yunying/dicom';
import { ADMIN_AUTH } from '../test-support/admin-auth.ts';
import { startServerProcess } from '../test-support/server-process.ts';
import { newUid } from '../test-support/synthetic-dicom.ts';

const ROWS = 8192;
const COLUMNS = 8192;
const FRAMES = 2;
const PIXEL_BYTES = ROWS * COLUMNS * 2 * FRAMES; // 256 MiB an instance
const INSTANCES = 4;
const BOUNDARY = 'yunying-large-stow';
const CHUNK = 1024 * 1024;

/** An instance's bytes up to its pixel data: a Part 10 header whose Pixel Data (OW) declares PIXEL_BYTES. */
function instanceHead(study: string, series: string, n: number): { head: Buffer; sopInstanceUid: string } {
  const sopInstanceUid = newUid();
  const text = (vr: string, value: string) => ({ vr, Value: [value] });
  const dataset: DicomJsonDataset = {
    '00080016': text('UI', '1.2.840.10008.5.1.4.1.1.2'),
    '00080018': text('UI', sopInstanceUid),
    '00080060': text('CS', 'CT'),
    '00100010': { vr: 'PN', Value: [{ Alphabetic: 'LARGE^UPLOAD' }] },
    '00100020': text('LO', 'PID-LARGE'),
    '0020000D': text('UI', study),
    '0020000E': text('UI', series),
    '00200013': { vr: 'IS', Value: [n] },
    '00280002': { vr: 'US', Value: [1] },
    '00280004': text('CS', 'MONOCHROME2'),
    '00280008': { vr: 'IS', Value: [FRAMES] },
    '00280010': { vr: 'US', Value: [ROWS] },
    '00280011': { vr: 'US', Value: [COLUMNS] },
    '00280100': { vr: 'US', Value: [16] },
    '00280101': { vr: 'US', Value: [12] },
    '00280102': { vr: 'US', Value: [11] },
    '00280103': { vr: 'US', Value: [0] },
    '7FE00010': { vr: 'OW', InlineBinary: Buffer.alloc(4).toString('base64') },
  };
  const whole = buildPart10(encodeDataset(dataset, TRANSFER_SYNTAX.EXPLICIT_LE), { transferSyntaxUid: TRANSFER_SYNTAX.EXPLICIT_LE, sopClassUid: '1.2.840.10008.5.1.4.1.1.2', sopInstanceUid });
  // The data set ends with (7FE0,0010) OW, 2 reserved bytes, a 4-byte length and the 4 placeholder bytes.
  const at = whole.length - 4 - 12;
  assert.deepEqual([...whole.subarray(at, at + 6)], [0xe0, 0x7f, 0x10, 0x00, 0x4f, 0x57], 'Pixel Data is the last element');
  const head = Buffer.from(whole.subarray(0, whole.length - 4));
  head.writeUInt32LE(PIXEL_BYTES, head.length - 4);
  return { head, sopInstanceUid };
}

test('a 1 GiB STOW-RS upload streams into a server with a 256 MiB heap: stored byte-exact, peak RSS bounded', { timeout: 180_000 }, async (t) => {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'yunying-large-stow-'));
  const server = await startServerProcess(dataDir, { YUNYING_FSYNC: 'false' }, undefined, { nodeArgs: ['--max-old-space-size=256'] });
  try {
    const pid = server.child.pid!;
    const study = newUid();
    const series = newUid();
    const heads = Array.from({ length: INSTANCES }, (_, i) => instanceHead(study, series, i + 1));
    const pixels = Buffer.alloc(CHUNK);
    for (let i = 0; i < pixels.length; i += 2) pixels.writeUInt16LE((i * 7) % 4096, i);
    const partHeader = (i: number) => Buffer.from(`${i === 0 ? '' : '\r\n'}--${BOUNDARY}\r\nContent-Type: application/dicom\r\n\r\n`);
    const closing = Buffer.from(`\r\n--${BOUNDARY}--\r\n`);
    const length = heads.reduce((n, { head }, i) => n + partHeader(i).length + head.length + PIXEL_BYTES, closing.length);
    assert.ok(length > 1024 ** 3, `the body is ${length} bytes`);

    const sent = new Map<string, string>(); // SOP Instance UID → SHA-256 of the instance as sent
    async function* body(): AsyncGenerator<Buffer> {
      for (const [i, { head, sopInstanceUid }] of heads.entries()) {
        const hash = createHash('sha256').update(head);
        yield partHeader(i);
        yield head;
        for (let left = PIXEL_BYTES; left > 0; left -= CHUNK) {
          // a different first word per chunk and instance: no two chunks of the object alike
          const chunk = Buffer.from(pixels.subarray(0, Math.min(CHUNK, left)));
          chunk.writeUInt32LE((left / CHUNK) ^ (i << 24), 0);
          hash.update(chunk);
          yield chunk;
        }
        sent.set(sopInstanceUid, hash.digest('hex'));
      }
      yield closing;
    }

    const answer = await new Promise<{ status: number; text: string }>((resolve, reject) => {
      const upload = request(`${server.baseUrl}/dicom-web/studies`, {
        method: 'POST',
        headers: { authorization: ADMIN_AUTH, 'content-type': `multipart/related; type="application/dicom"; boundary=${BOUNDARY}`, 'content-length': String(length), accept: 'application/dicom+json' },
      });
      upload.on('response', (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (c: Buffer) => chunks.push(c));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, text: Buffer.concat(chunks).toString() }));
        response.on('error', reject);
      });
      upload.on('error', reject);
      pipeline(Readable.from(body()), upload).catch(reject);
    });
    assert.equal(answer.status, 200, `${answer.text.slice(0, 500)}\n${server.output().slice(-2000)}`);
    const stored = (JSON.parse(answer.text) as Record<string, { Value?: unknown[] }>)['00081199']?.Value ?? [];
    assert.equal(stored.length, INSTANCES);

    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const peakKiB = Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1]);
    const peakMiB = peakKiB / 1024;
    // The body was 1 GiB; when it was buffered the peak was 2.5 GB. Streamed, the peak is the
    // server itself plus one request's 32 MiB budget and the streams' buffers.
    t.diagnostic(`server peak RSS (VmHWM) ${peakMiB.toFixed(0)} MiB`);
    assert.ok(peakMiB < 512, `server peak RSS ${peakMiB.toFixed(0)} MiB for a ${(length / 1024 ** 2).toFixed(0)} MiB upload`);

    // Byte-exact: each stored blob hashes to what was sent.
    const blobs = (await readdir(path.join(dataDir, 'blobs'), { recursive: true, withFileTypes: true })).filter((entry) => entry.isFile());
    assert.equal(blobs.length, INSTANCES);
    for (const entry of blobs) {
      const file = path.join(entry.parentPath, entry.name);
      const hash = createHash('sha256');
      for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
      const uid = [...sent.keys()].find((sop) => entry.name.startsWith(`${sop}.`));
      assert.ok(uid, `blob ${entry.name} is one of the instances sent`);
      assert.equal(hash.digest('hex'), sent.get(uid), `instance ${uid} stored byte-exact`);
    }
    const staging = await readdir(path.join(dataDir, 'staging')).catch(() => []);
    assert.deepEqual(staging, [], 'no staged file left behind');
  } finally {
    await server.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
});

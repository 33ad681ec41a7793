/**
 * Bounded work per request (issue 12, findings 7 and 8), over real HTTP:
 *  - STOW-RS: a body of more parts than YUNYING_STOW_MAX_PARTS is refused whole (413) before
 *    any part is stored; an allowed body of many parts leaves the event loop free between
 *    parts; the request logs one summary line, not a line per part.
 *  - Rendering: an image whose declared frame exceeds the frame budget (a 7.6 KB RLE file
 *    declaring 25000×25000) answers 422 FRAME_TOO_LARGE on every rendering path (WADO-RS
 *    rendered and thumbnail, WADO-URI, cloud film) before anything is decoded or allocated.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { buildPart10, encodeDataset, parseDicom, TRANSFER_SYNTAX, type DicomJsonDataset } from '@yunying/dicom';
import { YunyingError } from '../errors.ts';
import { ADMIN_AUTH, TEST_ADMIN_PASSWORD } from '../test-support/admin-auth.ts';
import { startListeningServer, type ListeningServer } from '../test-support/listening-server.ts';
import { startServerProcess } from '../test-support/server-process.ts';
import { makeSyntheticInstance, newUid } from '../test-support/synthetic-dicom.ts';
import { CodecError, decodeCompressed } from '../rendering/codecs.ts';
import { checkFrameBudget, DEFAULT_MAX_RENDER_FRAME_BYTES, renderFrame } from '../rendering/render.ts';
import { sample, stowBody } from './test-support.ts';

const RLE = '1.2.840.10008.1.2.5';
const SECONDARY_CAPTURE = '1.2.840.10008.5.1.4.1.1.7';

async function stow(baseUrl: string, files: readonly Uint8Array[]): Promise<{ status: number; body: Record<string, unknown> }> {
  const { payload, contentType } = stowBody(files);
  const response = await fetch(`${baseUrl}/dicom-web/studies`, { method: 'POST', headers: { authorization: ADMIN_AUTH, 'content-type': contentType, accept: 'application/dicom+json' }, body: payload });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

/** Parts that are not DICOM: each fails on its own, fast, without touching storage. */
const garbageParts = (count: number): Buffer[] => Array.from({ length: count }, (_, i) => Buffer.from(`not a DICOM object ${i}`));

describe('STOW-RS parts per request', () => {
  test('a body with more parts than YUNYING_STOW_MAX_PARTS is refused whole with 413 TOO_MANY_PARTS; at the cap it is stored', async () => {
    const server = await startListeningServer({ YUNYING_STOW_MAX_PARTS: '5' });
    try {
      const study = newUid();
      const over = Array.from({ length: 6 }, (_, i) => makeSyntheticInstance({ studyInstanceUid: study, instanceNumber: i + 1, size: 8 }).bytes);
      const refused = await stow(server.baseUrl, over);
      assert.equal(refused.status, 413);
      assert.equal(refused.body.code, 'TOO_MANY_PARTS');
      assert.match(String(refused.body.message), /at most 5 parts/);
      const found = await fetch(`${server.baseUrl}/dicom-web/studies?StudyInstanceUID=${study}`, { headers: { authorization: ADMIN_AUTH } });
      const studies = found.status === 204 ? [] : ((await found.json()) as unknown[]);
      assert.deepEqual(studies, [], 'no part of a refused request is stored');

      const atCap = await stow(server.baseUrl, over.slice(0, 5));
      assert.equal(atCap.status, 200);
    } finally {
      await server.close();
    }
  });

  test('the default cap lets a 3000-slice CT go in one request', async () => {
    const { loadConfig } = await import('../config.ts');
    const config = loadConfig({});
    assert.ok(config.stowMaxParts >= 3000, `default YUNYING_STOW_MAX_PARTS is ${config.stowMaxParts}`);
    assert.ok(config.stowMaxParts <= 20_000, 'the default still bounds one request');
  });

  test('while a STOW-RS request works through its parts, the server answers other requests', async () => {
    const server = await startListeningServer();
    try {
      const { payload, contentType } = stowBody(garbageParts(2000));
      let stowResponse: ServerResponse | undefined;
      let healthz: Promise<Response> | undefined;
      let stowAnsweredWhenHealthzArrived: boolean | undefined;
      // Observe the real server: when the STOW body has been read whole, ask /healthz; when that
      // request reaches the server, note whether the STOW has been answered already.
      server.server.http.server.on('request', (request: IncomingMessage, response: ServerResponse) => {
        if (request.method === 'POST' && request.url === '/dicom-web/studies') {
          stowResponse = response;
          request.on('end', () => {
            healthz = fetch(`${server.baseUrl}/healthz`);
          });
        } else if (request.url === '/healthz') stowAnsweredWhenHealthzArrived = stowResponse!.headersSent;
      });
      const response = await fetch(`${server.baseUrl}/dicom-web/studies`, { method: 'POST', headers: { authorization: ADMIN_AUTH, 'content-type': contentType, accept: 'application/dicom+json' }, body: payload });
      assert.equal(response.status, 409);
      await response.arrayBuffer();
      assert.ok(healthz, 'the STOW body was read');
      assert.equal((await healthz).status, 200);
      assert.equal(stowAnsweredWhenHealthzArrived, false, 'the /healthz request was served while the STOW-RS parts were still being processed');
    } finally {
      await server.close();
    }
  });

  test('a STOW-RS request of many parts logs one summary line at info, not one per part', { timeout: 120_000 }, async () => {
    const dataDir = await mkdtemp(path.join(tmpdir(), 'yunying-stow-log-'));
    const server = await startServerProcess(dataDir, { YUNYING_LOG_LEVEL: 'info', YUNYING_FSYNC: 'false' });
    try {
      const before = server.output().length;
      const valid = makeSyntheticInstance({ size: 8 }).bytes;
      const answer = await stow(server.baseUrl, [valid, ...garbageParts(300)]);
      assert.equal(answer.status, 202);
      // a later request's line marks that every line of the STOW request has been written
      assert.equal((await fetch(`${server.baseUrl}/healthz`)).status, 200);
      while (!server.output().slice(before).includes('"path":"/healthz"')) await new Promise((resolve) => server.child.stdout!.once('data', resolve));
      const lines = server.output().slice(before).split('\n').filter((line) => line.includes('STOW-RS'));
      assert.equal(lines.length, 1, `one STOW-RS line, got ${lines.length}:\n${lines.slice(0, 5).join('\n')}`);
      const summary = JSON.parse(lines[0]!) as Record<string, unknown>;
      assert.equal(summary.parts, 301);
      assert.equal(summary.stored, 1);
      assert.equal(summary.failed, 300);
    } finally {
      await server.stop();
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});

/** Explicit VR little endian element header with a 4-byte length (OB, SQ, …). */
function longElement(group: number, element: number, vr: string, length: number): Buffer {
  const header = Buffer.alloc(12);
  header.writeUInt16LE(group, 0);
  header.writeUInt16LE(element, 2);
  header.write(vr, 4, 'latin1');
  header.writeUInt32LE(length, 8);
  return header;
}

function item(length: number): Buffer {
  const header = Buffer.alloc(8);
  header.writeUInt16LE(0xfffe, 0);
  header.writeUInt16LE(0xe000, 2);
  header.writeUInt32LE(length, 4);
  return header;
}

function imageAttributes(ids: { study: string; series: string; sop: string }, size: number): DicomJsonDataset {
  const text = (vr: string, value: string) => ({ vr, Value: [value] });
  return {
    '00080016': text('UI', SECONDARY_CAPTURE),
    '00080018': text('UI', ids.sop),
    '00080060': text('CS', 'OT'),
    '00100010': { vr: 'PN', Value: [{ Alphabetic: 'BOUNDS^TEST' }] },
    '00100020': text('LO', 'PID-BOUNDS'),
    '0020000D': text('UI', ids.study),
    '0020000E': text('UI', ids.series),
    '00200013': { vr: 'IS', Value: [1] },
    '00280002': { vr: 'US', Value: [1] },
    '00280004': text('CS', 'MONOCHROME2'),
    '00280010': { vr: 'US', Value: [size] },
    '00280011': { vr: 'US', Value: [size] },
    '00280100': { vr: 'US', Value: [8] },
    '00280101': { vr: 'US', Value: [8] },
    '00280102': { vr: 'US', Value: [7] },
    '00280103': { vr: 'US', Value: [0] },
  };
}

/** An RLE image of `size`×`size` 8-bit pixels whose one segment is ~7.6 KB of replicate runs. */
function hugeRleInstance(ids: { study: string; series: string; sop: string }, size = 25000): Buffer {
  const header = Buffer.alloc(64);
  header.writeUInt32LE(1, 0);
  header.writeUInt32LE(64, 4);
  const runs = Buffer.alloc(7600);
  for (let i = 0; i < runs.length; i += 2) runs[i] = 0x81; // 128 × the next byte (0)
  const fragment = Buffer.concat([header, runs]);
  const pixelData = Buffer.concat([longElement(0x7fe0, 0x0010, 'OB', 0xffffffff), item(0), item(fragment.length), fragment, Buffer.from([0xfe, 0xff, 0xdd, 0xe0, 0, 0, 0, 0])]);
  const body = Buffer.concat([encodeDataset(imageAttributes(ids, size), TRANSFER_SYNTAX.EXPLICIT_LE), pixelData]);
  return buildPart10(body, { transferSyntaxUid: RLE, sopClassUid: SECONDARY_CAPTURE, sopInstanceUid: ids.sop });
}

/** An uncompressed image that declares `size`×`size` but carries 64 bytes of pixel data. */
function hugeNativeInstance(ids: { study: string; series: string; sop: string }, size = 25000): Buffer {
  const dataset = { ...imageAttributes(ids, size), '7FE00010': { vr: 'OB', InlineBinary: Buffer.alloc(64).toString('base64') } };
  return buildPart10(encodeDataset(dataset, TRANSFER_SYNTAX.EXPLICIT_LE), { transferSyntaxUid: TRANSFER_SYNTAX.EXPLICIT_LE, sopClassUid: SECONDARY_CAPTURE, sopInstanceUid: ids.sop });
}

describe('frame budget on every rendering path', () => {
  let server: ListeningServer;
  const study = newUid();
  const rle = { study, series: newUid(), sop: newUid() };
  const native = { study, series: newUid(), sop: newUid() };
  let filmPath: string;

  before(async () => {
    server = await startListeningServer();
    const stored = await stow(server.baseUrl, [hugeRleInstance(rle), hugeNativeInstance(native)]);
    assert.equal(stored.status, 200, JSON.stringify(stored.body));
    const login = await fetch(`${server.baseUrl}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'admin', password: TEST_ADMIN_PASSWORD }) });
    const { token } = (await login.json()) as { token: string };
    const link = await fetch(`${server.baseUrl}/api/v1/share-links`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ studyInstanceUid: study, accessCode: false }) });
    assert.equal(link.status, 201, await link.clone().text());
    filmPath = new URL(((await link.json()) as { url: string }).url).pathname;
  });

  after(async () => {
    await server?.close();
  });

  async function assertTooLarge(url: string, headers: Record<string, string>): Promise<void> {
    const response = await fetch(`${server.baseUrl}${url}`, { headers });
    const text = await response.text();
    assert.equal(response.status, 422, `${url}: ${text.slice(0, 200)}`);
    assert.equal((JSON.parse(text) as { code: string }).code, 'FRAME_TOO_LARGE', url);
  }

  for (const [name, ids] of [['an RLE', rle], ['an uncompressed', native]] as const) {
    test(`${name} image declaring 25000×25000 answers 422 FRAME_TOO_LARGE from WADO-RS rendered and thumbnail, WADO-URI and the cloud film`, async () => {
      const dicomWeb = { authorization: ADMIN_AUTH };
      const instance = `/dicom-web/studies/${ids.study}/series/${ids.series}/instances/${ids.sop}`;
      await assertTooLarge(`${instance}/rendered`, { ...dicomWeb, accept: 'image/jpeg' });
      await assertTooLarge(`${instance}/frames/1/rendered`, { ...dicomWeb, accept: 'image/png' });
      await assertTooLarge(`${instance}/thumbnail`, dicomWeb);
      await assertTooLarge(`${instance}/frames/1/thumbnail`, dicomWeb);
      await assertTooLarge(`/dicom-web/studies/${ids.study}/series/${ids.series}/thumbnail`, dicomWeb);
      await assertTooLarge(`/wado?requestType=WADO&studyUID=${ids.study}&seriesUID=${ids.series}&objectUID=${ids.sop}&contentType=image/jpeg`, dicomWeb);
      await assertTooLarge(`/wado?requestType=WADO&studyUID=${ids.study}&seriesUID=${ids.series}&objectUID=${ids.sop}`, dicomWeb);
      const film = { accept: 'application/json' };
      await assertTooLarge(`${filmPath}/series/${ids.series}/thumbnail.jpg`, film);
      await assertTooLarge(`${filmPath}/images/${ids.series}/${ids.sop}.jpg`, film);
      await assertTooLarge(`${filmPath}/images/${ids.series}/${ids.sop}.jpg?fidelity=full`, film);
      // the instance itself is still there to retrieve as stored
      const retrieved = await fetch(`${server.baseUrl}${instance}`, { headers: { ...dicomWeb, accept: 'multipart/related; type="application/dicom"; transfer-syntax=*' } });
      assert.equal(retrieved.status, 200);
      await retrieved.arrayBuffer();
    });
  }
});

describe('the frame budget in the renderer', () => {
  const info = (rows: number, columns: number, samplesPerPixel: number, bitsAllocated: number) => ({ rows, columns, samplesPerPixel, bitsAllocated });
  const isTooLarge = (error: unknown) => error instanceof YunyingError && error.code === 'FRAME_TOO_LARGE' && error.httpStatus === 422;

  test('large real images fit the default budget; 25000×25000 and the 16-bit maximum do not', () => {
    checkFrameBudget(info(4096, 4096, 3, 16), DEFAULT_MAX_RENDER_FRAME_BYTES); // pathology / colour 16-bit
    checkFrameBudget(info(4096, 3328, 1, 16), DEFAULT_MAX_RENDER_FRAME_BYTES); // mammography
    checkFrameBudget(info(512, 512, 1, 16), DEFAULT_MAX_RENDER_FRAME_BYTES);
    assert.throws(() => checkFrameBudget(info(25000, 25000, 1, 8), DEFAULT_MAX_RENDER_FRAME_BYTES), isTooLarge);
    assert.throws(() => checkFrameBudget(info(65535, 65535, 3, 32), DEFAULT_MAX_RENDER_FRAME_BYTES), isTooLarge);
    assert.throws(() => checkFrameBudget(info(1000, 1000, 1, 16), 1_999_999), isTooLarge);
    checkFrameBudget(info(1000, 1000, 1, 16), 2_000_000);
  });

  test('an RLE frame too short to hold its declared size (within the budget) is not decoded', async () => {
    const ids = { study: newUid(), series: newUid(), sop: newUid() };
    // 4000×4000 × 8 bits = 16 MB fits the budget; 7.6 KB of replicate runs expand to at most ~486 KB
    await assert.rejects(renderFrame(parseDicom(hugeRleInstance(ids, 4000)), { frame: 1, format: 'png' }), (error: unknown) => error instanceof YunyingError && error.code === 'FRAME_NOT_DECODABLE' && error.httpStatus === 422);
    await assert.rejects(renderFrame(parseDicom(hugeRleInstance(ids, 4000)), { frame: 1, format: 'png', maxFrameBytes: 1024 * 1024 }), isTooLarge);
  });

  test('a JPEG 2000 codestream whose header declares a larger image than the data set is refused before decoding', async () => {
    const bytes = Buffer.from(await sample('transfer-syntax/ct-same-image/ct_1.2.840.10008.1.2.4.90_j2k-lossless.dcm'));
    const siz = bytes.indexOf(Buffer.from([0xff, 0x4f, 0xff, 0x51]));
    assert.ok(siz > 0);
    // Xsiz and Ysiz: 60000 × 60000 while Rows and Columns still say 512
    bytes.writeUInt32BE(60000, siz + 8);
    bytes.writeUInt32BE(60000, siz + 12);
    await assert.rejects(renderFrame(parseDicom(bytes), { frame: 1, format: 'png' }), isTooLarge);
    // and the decode worker's codecs refuse it on their own, before allocating
    const frame = bytes.subarray(siz, bytes.lastIndexOf(Buffer.from([0xff, 0xd9])) + 2);
    await assert.rejects(decodeCompressed({ transferSyntaxUid: '1.2.840.10008.1.2.4.90', frame, bitsAllocated: 16, pixelRepresentation: 1, maxOutputBytes: DEFAULT_MAX_RENDER_FRAME_BYTES }), (error: unknown) => error instanceof CodecError && /declares 60000×60000/.test(error.message));
  });

  test('a JPEG baseline stream whose frame header declares a larger image than the data set is refused before decoding', async () => {
    const bytes = Buffer.from(await sample('transfer-syntax/ct-same-image/ct_1.2.840.10008.1.2.4.50_jpeg-baseline.dcm'));
    const sof = bytes.indexOf(Buffer.from([0xff, 0xc0]));
    assert.ok(sof > 0);
    bytes.writeUInt16BE(65000, sof + 5);
    bytes.writeUInt16BE(65000, sof + 7);
    await assert.rejects(renderFrame(parseDicom(bytes), { frame: 1, format: 'png' }), isTooLarge);
  });
});

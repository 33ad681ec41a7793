/**
 * The forwarder's pipelining against a scripted cloud: the next batch of a study is on the
 * wire before the previous answer arrives, acknowledgements are applied only for what the
 * cloud confirmed, and a failed earlier batch goes again after the later one succeeded.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { LocalCache } from './cache.ts';
import { makeSyntheticInstance, newUid, type SyntheticInstance } from '@yunying/testing/synthetic-dicom';
import { Forwarder } from './forwarder.ts';
import { GatewayQueue } from './queue-store.ts';

let dir: string;
let cache: LocalCache;
let queue: GatewayQueue;

before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'yunying-gateway-forwarder-'));
  cache = await LocalCache.open({ dataDir: dir, fsync: false });
  queue = new GatewayQueue(cache.database.db);
  await queue.migrate();
});

after(async () => {
  await cache.close();
  await rm(dir, { recursive: true, force: true });
});

interface Received {
  uids: string[];
  /** when the request's body had fully arrived */
  bodyAt: number;
  answeredAt?: number;
}

function stowAnswer(uids: readonly string[]): string {
  return JSON.stringify({ '00081199': { vr: 'SQ', Value: uids.map((uid) => ({ '00081155': { vr: 'UI', Value: [uid] }, '00081150': { vr: 'UI', Value: ['1.2.840.10008.5.1.4.1.1.2'] } })) } });
}

test('the next batch of a study is sent while the previous answer is pending; a failed earlier batch is retried, acknowledgements only for what the cloud confirmed', { timeout: 30_000 }, async () => {
  const studyInstanceUid = newUid();
  const seriesInstanceUid = newUid();
  const instances: SyntheticInstance[] = Array.from({ length: 6 }, (_, i) => makeSyntheticInstance({ studyInstanceUid, seriesInstanceUid, instanceNumber: i + 1, size: 32 }));
  for (const instance of instances) await cache.ingest({ kind: 'part10', bytes: instance.bytes });
  await queue.reconcile();
  const uids = instances.map((i) => i.sopInstanceUid);
  const stateOf = async () => {
    const rows = await cache.database.db.withTables<{ gateway_queue: { sop_instance_uid: string; state: string; study_instance_uid: string } }>().selectFrom('gateway_queue').select(['sop_instance_uid', 'state']).where('study_instance_uid', '=', studyInstanceUid).execute();
    return new Map(rows.map((r) => [r.sop_instance_uid, r.state]));
  };

  const received: Received[] = [];
  const statesAtRetry: Array<Map<string, string>> = [];
  let releaseFirst: () => void = () => undefined;
  const firstHeld = new Promise<void>((resolve) => (releaseFirst = resolve));
  const cloud = http.createServer((request, response) => {
    if (request.url === '/healthz') return void response.end('ok');
    const chunks: Buffer[] = [];
    request.on('data', (c: Buffer) => chunks.push(c));
    request.on('end', () => {
      const body = Buffer.concat(chunks);
      const entry: Received = { uids: uids.filter((uid) => body.includes(Buffer.from(uid))), bodyAt: Date.now() };
      received.push(entry);
      const n = received.length;
      const answer = (status: number, text: string) => {
        entry.answeredAt = Date.now();
        response.writeHead(status, { 'content-type': 'application/dicom+json' });
        response.end(text);
      };
      if (n === 1) {
        // The first batch is answered (with a failure) only once the second has fully arrived.
        void firstHeld.then(() => answer(500, '{"code":"INTERNAL_ERROR"}'));
        return;
      }
      if (n === 2) releaseFirst();
      if (n === 3) {
        void stateOf().then((s) => {
          statesAtRetry.push(s);
          answer(200, stowAnswer(entry.uids));
        });
        return;
      }
      answer(200, stowAnswer(entry.uids));
    });
  });
  cloud.listen(0, '127.0.0.1');
  await once(cloud, 'listening');
  const forwarder = new Forwarder({
    queue,
    readBlob: (key) => cache.blobs.get(key),
    cloudUrl: `http://127.0.0.1:${(cloud.address() as AddressInfo).port}`,
    username: 'gw',
    password: 'pw',
    concurrency: 1,
    batchMaxBytes: 64 * 1024 * 1024,
    batchMaxInstances: 3,
    retryMinMs: 20,
    retryMaxMs: 50,
    requestTimeoutMs: 10_000,
    maxBytesPerSecond: 0,
    logger: pino({ level: 'silent' }),
  });
  try {
    forwarder.start();
    await forwarder.waitFor(async () => [...(await stateOf()).values()].every((s) => s === 'sent'), 20_000);
  } finally {
    await forwarder.stop();
    cloud.closeAllConnections();
    cloud.close();
  }
  assert.deepEqual(received.map((r) => r.uids), [uids.slice(0, 3), uids.slice(3), uids.slice(0, 3)], 'batch 1, batch 2, then batch 1 again');
  assert.ok(received[1]!.bodyAt <= received[0]!.answeredAt!, 'the second batch arrived before the first was answered');
  // When the retry arrived, the second batch was acknowledged and the first still pending.
  const atRetry = statesAtRetry[0]!;
  assert.deepEqual(uids.map((uid) => atRetry.get(uid)), ['pending', 'pending', 'pending', 'sent', 'sent', 'sent']);
  assert.equal(forwarder.status().throughput.sentInstances, 6);
});

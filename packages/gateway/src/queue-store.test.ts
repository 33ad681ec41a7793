/** The durable queue and eviction over a real cache (the gateway's own, in a temp dir). */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { LocalCache } from './cache.ts';
import { makeSyntheticInstance, newUid, type SyntheticInstance } from '@yunying/testing/synthetic-dicom';
import { evictForwardedStudies } from './eviction.ts';
import { backoffDelay, GatewayQueue } from './queue-store.ts';

let dir: string;
let cache: LocalCache;
let queue: GatewayQueue;
const logger = pino({ level: 'silent' });

function studyOf(count: number): SyntheticInstance[] {
  const studyInstanceUid = newUid();
  const seriesInstanceUid = newUid();
  return Array.from({ length: count }, (_, i) => makeSyntheticInstance({ studyInstanceUid, seriesInstanceUid, instanceNumber: i + 1 }));
}

async function store(instances: SyntheticInstance[]): Promise<void> {
  for (const instance of instances) await cache.ingest({ kind: 'part10', bytes: instance.bytes });
}

async function rowsOf(studyInstanceUid: string) {
  return (await cache.database.db.withTables<{ gateway_queue: { study_instance_uid: string; state: string; seq: number; blob_key: string; sop_instance_uid: string } }>().selectFrom('gateway_queue').selectAll().where('study_instance_uid', '=', studyInstanceUid).orderBy('seq').execute());
}

before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'yunying-gateway-queue-'));
  cache = await LocalCache.open({ dataDir: dir, fsync: false });
  queue = new GatewayQueue(cache.database.db);
});

after(async () => {
  await cache.close();
  await rm(dir, { recursive: true, force: true });
});

test('reconcile queues every cached instance that has no queue row (the crash window after the index commit), once', async () => {
  const study = studyOf(3);
  await store(study); // stored while no queue existed: as if the process died before the inserts
  await queue.migrate();
  await queue.migrate(); // idempotent
  assert.equal(await queue.reconcile(), 3);
  assert.equal(await queue.reconcile(), 0);
  const rows = await rowsOf(study[0]!.studyInstanceUid);
  assert.deepEqual(rows.map((r) => r.state), ['pending', 'pending', 'pending']);
  assert.deepEqual(rows.map((r) => r.sop_instance_uid), study.map((i) => i.sopInstanceUid), 'in instance order');
});

test('a replaced object (other bytes, same UID) goes back to pending; the same bytes again do not', async () => {
  const [first] = studyOf(1);
  await store([first!]);
  await queue.enqueueStored(first!.sopInstanceUid);
  const [row] = await rowsOf(first!.studyInstanceUid);
  await queue.markSent([row!]);
  await queue.enqueueStored(first!.sopInstanceUid); // a duplicate ingest changes nothing
  assert.equal((await rowsOf(first!.studyInstanceUid))[0]!.state, 'sent');
  const corrected = makeSyntheticInstance({ studyInstanceUid: first!.studyInstanceUid, seriesInstanceUid: first!.seriesInstanceUid, sopInstanceUid: first!.sopInstanceUid, instanceNumber: 9 });
  assert.equal((await cache.ingest({ kind: 'part10', bytes: corrected.bytes })).outcome, 'replaced');
  await queue.enqueueStored(first!.sopInstanceUid);
  const [after] = await rowsOf(first!.studyInstanceUid);
  assert.equal(after!.state, 'pending');
  assert.notEqual(after!.blob_key, row!.blob_key);
  // an acknowledgement of the old object does not count for the new one
  await queue.markSent([row!]);
  assert.equal((await rowsOf(first!.studyInstanceUid))[0]!.state, 'pending');
});

test('a study in backoff is not ready; batches keep arrival order within the limits', async () => {
  const study = studyOf(5);
  await store(study);
  await queue.reconcile();
  const uid = study[0]!.studyInstanceUid;
  assert.ok((await queue.readyStudies([], 100)).includes(uid));
  const batch = await queue.nextBatch(uid, 10 * 1024 * 1024, 2);
  assert.deepEqual(batch.map((r) => r.sop_instance_uid), study.slice(0, 2).map((i) => i.sopInstanceUid));
  const oneByBytes = await queue.nextBatch(uid, 1, 100);
  assert.equal(oneByBytes.length, 1, 'at least one, even over the byte limit');
  const delay = await queue.backOff(uid, 'cloud unreachable', true, { minMs: 1000, maxMs: 8000 });
  assert.ok(delay >= 1000 && delay <= 1000 * 1.0001);
  assert.ok(!(await queue.readyStudies([], 100)).includes(uid));
  assert.ok((await queue.readyStudies([], 100, Date.now() + delay + 1)).includes(uid));
  assert.ok((await queue.earliestRetryAt())! > Date.now());
  assert.equal(await queue.clearTransportBackoffs(), 1);
  assert.ok((await queue.readyStudies([], 100)).includes(uid));
});

test('backoff grows exponentially within its bounds, with jitter', () => {
  const bounds = { minMs: 100, maxMs: 5000 };
  assert.equal(backoffDelay(1, bounds, () => 1), 100);
  assert.equal(backoffDelay(3, bounds, () => 1), 400);
  assert.equal(backoffDelay(20, bounds, () => 1), 5000);
  assert.equal(backoffDelay(20, bounds, () => 0), 100);
});

test('eviction removes only studies the cloud has acknowledged entirely, by age and by disk use', async () => {
  const sentOld = studyOf(2);
  const sentNew = studyOf(2);
  const partly = studyOf(2);
  await store([...sentOld, ...sentNew, ...partly]);
  await queue.reconcile();
  const long = Date.now() - 3 * 24 * 3600 * 1000;
  await queue.markSent(await rowsOf(sentOld[0]!.studyInstanceUid), long);
  await queue.markSent(await rowsOf(sentNew[0]!.studyInstanceUid));
  await queue.markSent((await rowsOf(partly[0]!.studyInstanceUid)).slice(0, 1), long);
  const deps = { db: cache.database.db, deleteBlob: (key: string) => cache.blobs.delete(key), logger };

  const byAge = await evictForwardedStudies(deps, { maxAgeSeconds: 24 * 3600, maxBytes: 0 });
  assert.equal(byAge.studies, 1);
  assert.equal((await cache.findInstances({ studyInstanceUids: [sentOld[0]!.studyInstanceUid] })).length, 0);
  assert.equal((await cache.findInstances({ studyInstanceUids: [partly[0]!.studyInstanceUid] })).length, 2, 'not all forwarded: kept');

  const bySize = await evictForwardedStudies(deps, { maxAgeSeconds: 0, maxBytes: 1 });
  assert.equal(bySize.studies, 1, 'only the fully forwarded study goes, even over the limit');
  assert.equal((await cache.findInstances({ studyInstanceUids: [sentNew[0]!.studyInstanceUid] })).length, 0);
  assert.equal((await cache.findInstances({ studyInstanceUids: [partly[0]!.studyInstanceUid] })).length, 2);
  await assert.rejects(cache.blobs.get((await rowsOf(partly[0]!.studyInstanceUid))[0]!.blob_key).then(() => cache.blobs.get('nonexistent/key.dcm')));
});

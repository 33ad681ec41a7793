/** The gateway's own cache: ingest outcomes, C-FIND matching at each level, and a server-archive data directory refused. */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { makeSyntheticInstance, newUid } from '@yunying/testing/synthetic-dicom';
import { CacheError, LocalCache } from './cache.ts';
import { queryCache } from './cache-query.ts';

let dir: string;
let cache: LocalCache;
const stored: string[] = [];
const studyA = newUid();
const studyB = newUid();
const seriesA = newUid();

before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'gateway-cache-'));
  cache = await LocalCache.open({ dataDir: path.join(dir, 'data'), fsync: false, onStored: (r) => stored.push(r.sopInstanceUid) });
  for (const n of [1, 2]) {
    await cache.ingest({ kind: 'part10', bytes: makeSyntheticInstance({ studyInstanceUid: studyA, seriesInstanceUid: seriesA, instanceNumber: n, patientName: 'Zhang^San', patientId: 'P-1', studyDate: '20261101', modality: 'CT' }).bytes });
  }
  await cache.ingest({ kind: 'part10', bytes: makeSyntheticInstance({ studyInstanceUid: studyB, patientName: 'Li^Si', patientId: 'P-2', studyDate: '20261120', modality: 'MR' }).bytes });
});

after(async () => {
  await cache?.close();
  await rm(dir, { recursive: true, force: true });
});

const text = (v: string) => ({ vr: 'LO', Value: [v] });
const empty = (vr: string) => ({ vr });

test('ingest: stored, the same bytes again a duplicate, other bytes under the UID replaced; another series under the UID refused with C111', async () => {
  const instance = makeSyntheticInstance({ patientId: 'P-3' });
  assert.equal((await cache.ingest({ kind: 'part10', bytes: instance.bytes })).outcome, 'stored');
  assert.equal((await cache.ingest({ kind: 'part10', bytes: instance.bytes })).outcome, 'duplicate');
  const corrected = makeSyntheticInstance({ patientId: 'P-3', patientName: 'CORRECTED^NAME', studyInstanceUid: instance.studyInstanceUid, seriesInstanceUid: instance.seriesInstanceUid, sopInstanceUid: instance.sopInstanceUid });
  assert.equal((await cache.ingest({ kind: 'part10', bytes: corrected.bytes })).outcome, 'replaced');
  const [record] = await cache.findInstances({ sopInstanceUids: [instance.sopInstanceUid] });
  assert.ok((await cache.readInstance(record!)).equals(corrected.bytes));
  const elsewhere = makeSyntheticInstance({ sopInstanceUid: instance.sopInstanceUid });
  await assert.rejects(cache.ingest({ kind: 'part10', bytes: elsewhere.bytes }), (err: unknown) => err instanceof CacheError && err.dimseStatus === 0xc111);
  assert.ok(stored.includes(instance.sopInstanceUid));
});

test('C-FIND: wildcards (PN without regard to case), date ranges, counts and modalities at STUDY level', async () => {
  const byName = await queryCache(cache, 'STUDY', { '00100010': { vr: 'PN', Value: [{ Alphabetic: 'zhang*' }] }, '00201208': empty('IS'), '00080061': empty('CS') });
  assert.equal(byName.length, 1);
  assert.equal(byName[0]!['0020000D']!.Value![0], studyA);
  assert.equal(byName[0]!['00201208']!.Value![0], 2);
  assert.deepEqual(byName[0]!['00080061']!.Value, ['CT']);
  const byDate = await queryCache(cache, 'STUDY', { '00080020': { vr: 'DA', Value: ['20261115-20261121'] } });
  assert.deepEqual(byDate.map((d) => d['0020000D']!.Value![0]), [studyB]);
  const byModality = await queryCache(cache, 'STUDY', { '00080061': { vr: 'CS', Value: ['MR'] } });
  assert.deepEqual(byModality.map((d) => d['0020000D']!.Value![0]), [studyB]);
  const none = await queryCache(cache, 'STUDY', { '00100020': text('NOBODY') });
  assert.deepEqual(none, []);
});

test('C-FIND: PATIENT, SERIES and IMAGE levels', async () => {
  const patients = await queryCache(cache, 'PATIENT', { '00100020': text('P-1'), '00100010': empty('PN') });
  assert.equal(patients.length, 1);
  assert.deepEqual(patients[0]!['00100010']!.Value, [{ Alphabetic: 'Zhang^San' }]);
  const series = await queryCache(cache, 'SERIES', { '0020000D': { vr: 'UI', Value: [studyA] }, '00080060': text('CT'), '00201209': empty('IS') });
  assert.equal(series.length, 1);
  assert.equal(series[0]!['0020000E']!.Value![0], seriesA);
  assert.equal(series[0]!['00201209']!.Value![0], 2);
  const images = await queryCache(cache, 'IMAGE', { '0020000E': { vr: 'UI', Value: [seriesA] }, '00200013': empty('IS') });
  assert.deepEqual(images.map((i) => i['00200013']!.Value![0]), [1, 2]);
});

test('a data directory holding the server archive\'s index (a gateway before issue 13) is refused with a message saying so', async () => {
  const old = path.join(dir, 'old');
  mkdirSync(old);
  const sqlite = new SqliteDatabase(path.join(old, 'index.sqlite'));
  sqlite.exec('create table instances (seq integer primary key, sop_instance_uid text, institution_id text not null)');
  sqlite.close();
  await assert.rejects(LocalCache.open({ dataDir: old, fsync: false }), /index of the server's archive/);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { systemCaller } from '../access/caller.ts';
import type { YunyingError } from '../errors.ts';
import { openIndexDatabase } from '../store/database.ts';
import { FileBlobStore } from '../store/file-blob-store.ts';
import { createStores } from '../store/stores.ts';
import { ephemeralAuditKey } from '../access/audit-key.ts';
import { openArchive, type Archive } from './archive.ts';
import { ingestInstance } from './ingest.ts';
import { makeSyntheticInstance, newUid } from '../test-support/synthetic-dicom.ts';
import { createTestDatabase } from '../test-support/postgres.ts';

const BACKENDS = ['sqlite', 'postgres'] as const;

/** Runs against a fresh archive on the given index database (files always under a temporary directory). */
async function withArchive(backend: (typeof BACKENDS)[number], run: (archive: Archive, dataDir: string) => Promise<void>): Promise<void> {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'yunying-ingest-'));
  const postgres = backend === 'postgres' ? await createTestDatabase() : undefined;
  const archive = await openArchive({ dataDir, fsync: true, databaseUrl: postgres?.url });
  try {
    await run(archive, dataDir);
  } finally {
    await archive.close();
    await postgres?.drop();
    await rm(dataDir, { recursive: true, force: true });
  }
}

async function blobFiles(dataDir: string): Promise<string[]> {
  const root = path.join(dataDir, 'blobs');
  const entries = await readdir(root, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries.filter((entry) => entry.isFile()).map((entry) => entry.name);
}

test('when the index commit fails the blob just written is removed', async () => {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'yunying-ingest-'));
  const database = await openIndexDatabase({ dataDir, fsync: false });
  try {
    const { index, unitOfWork } = createStores(database, ephemeralAuditKey());
    // The commit (the instance's rows and its audit record, one transaction) fails.
    unitOfWork.run = async () => {
      throw new Error('disk full');
    };
    const blobs = new FileBlobStore(path.join(dataDir, 'blobs'), false);
    await assert.rejects(ingestInstance({ index, blobs, unitOfWork }, systemCaller(), { kind: 'part10', bytes: makeSyntheticInstance().bytes }), (error: YunyingError) => error.code === 'INDEX_WRITE_FAILED' && error.httpStatus === 503);
    assert.deepEqual(await blobFiles(dataDir), []);
  } finally {
    await database.close();
    await rm(dataDir, { recursive: true, force: true });
  }
});

/** The policy holds on both index databases. */
for (const backend of BACKENDS) {
  test(`the same object sent twice is stored once (${backend})`, async () => {
    await withArchive(backend, async (archive, dataDir) => {
      const instance = makeSyntheticInstance();
      assert.equal((await archive.ingest(systemCaller(), { kind: 'part10', bytes: instance.bytes })).outcome, 'stored');
      assert.equal((await archive.ingest(systemCaller(), { kind: 'part10', bytes: instance.bytes })).outcome, 'duplicate');
      assert.equal(await archive.index.countInstances(), 1);
      assert.equal((await blobFiles(dataDir)).length, 1);
    });
  });

  test(`a different object under the same UID in the same series replaces the stored one and removes its blob (${backend})`, async () => {
    await withArchive(backend, async (archive, dataDir) => {
      const first = makeSyntheticInstance({ instanceNumber: 1 });
      const corrected = makeSyntheticInstance({ studyInstanceUid: first.studyInstanceUid, seriesInstanceUid: first.seriesInstanceUid, sopInstanceUid: first.sopInstanceUid, instanceNumber: 2 });
      await archive.ingest(systemCaller(), { kind: 'part10', bytes: first.bytes });
      const result = await archive.ingest(systemCaller(), { kind: 'part10', bytes: corrected.bytes });
      assert.equal(result.outcome, 'replaced');
      assert.match(result.warning ?? '', /replaced/);
      const [record] = await archive.findInstances(systemCaller(), { sopInstanceUids: [first.sopInstanceUid] });
      assert.ok((await archive.readInstance(record)).equals(corrected.bytes));
      assert.equal((await blobFiles(dataDir)).length, 1);
    });
  });

  test(`a different object under the same UID in another study is refused and the stored one kept (${backend})`, async () => {
    await withArchive(backend, async (archive) => {
      const first = makeSyntheticInstance();
      const impostor = makeSyntheticInstance({ sopInstanceUid: first.sopInstanceUid, studyInstanceUid: newUid() });
      await archive.ingest(systemCaller(), { kind: 'part10', bytes: first.bytes });
      await assert.rejects(archive.ingest(systemCaller(), { kind: 'part10', bytes: impostor.bytes }), (error: YunyingError) => error.code === 'DUPLICATE_SOP_INSTANCE' && error.httpStatus === 409 && error.dimseStatus === 0xc111);
      const [record] = await archive.findInstances(systemCaller(), { sopInstanceUids: [first.sopInstanceUid] });
      assert.ok((await archive.readInstance(record)).equals(first.bytes));
    });
  });

  test(`garbage is refused with a reason and leaves nothing behind (${backend})`, async () => {
    await withArchive(backend, async (archive, dataDir) => {
      const garbage = Buffer.concat([Buffer.alloc(128), Buffer.from('DICM'), Buffer.from('not really a data set')]);
      await assert.rejects(archive.ingest(systemCaller(), { kind: 'part10', bytes: garbage }), (error: YunyingError) => error.code === 'INVALID_DICOM' && error.httpStatus === 400 && error.message.length > 20);
      assert.equal(await archive.index.countInstances(), 0);
      assert.deepEqual(await blobFiles(dataDir), []);
    });
  });

  test(`a data set received over DIMSE is stored byte for byte behind a file meta group naming its sender (${backend})`, async () => {
    await withArchive(backend, async (archive) => {
      const instance = makeSyntheticInstance();
      const datasetStart = instance.bytes.indexOf(Buffer.from([0x08, 0x00, 0x16, 0x00])); // first data set element (0008,0016)
      const dataset = instance.bytes.subarray(datasetStart);
      await archive.ingest(systemCaller(), { kind: 'dataset', bytes: dataset, transferSyntaxUid: '1.2.840.10008.1.2.1', sopClassUid: instance.sopClassUid, sopInstanceUid: instance.sopInstanceUid, sourceAeTitle: 'MODALITY1' });
      const [record] = await archive.findInstances(systemCaller(), { studyInstanceUids: [instance.studyInstanceUid] });
      const stored = await archive.readInstance(record);
      assert.ok(stored.subarray(stored.length - dataset.length).equals(dataset));
      assert.ok(stored.includes(Buffer.from('MODALITY1')));
      await assert.rejects(
        archive.ingest(systemCaller(), { kind: 'dataset', bytes: dataset, transferSyntaxUid: '1.2.840.10008.1.2.1', sopClassUid: instance.sopClassUid, sopInstanceUid: newUid(), sourceAeTitle: 'MODALITY1' }),
        (error: YunyingError) => error.code === 'SOP_INSTANCE_MISMATCH',
      );
    });
  });

  test(`instances of one new study sent at once from several associations are all stored, with every modality (${backend})`, async () => {
    await withArchive(backend, async (archive) => {
      const study = newUid();
      const series = [newUid(), newUid(), newUid(), newUid()];
      const modalities = ['CT', 'SR', 'CT', 'PR'];
      const instances = series.flatMap((seriesUid, s) => [1, 2, 3].map((n) => makeSyntheticInstance({ studyInstanceUid: study, seriesInstanceUid: seriesUid, modality: modalities[s], instanceNumber: n })));
      const results = await Promise.all(instances.map((instance) => archive.ingest(systemCaller(), { kind: 'part10', bytes: instance.bytes })));
      assert.ok(results.every((result) => result.outcome === 'stored'));
      const [found] = await archive.query(systemCaller(), { level: 'STUDY', keys: { '0020000D': { vr: 'UI', Value: [study] }, '00080061': { vr: 'CS' }, '00201206': { vr: 'IS' }, '00201208': { vr: 'IS' } } });
      assert.deepEqual(found['00080061'].Value, ['CT', 'PR', 'SR']);
      assert.deepEqual(found['00201206'].Value, [4]);
      assert.deepEqual(found['00201208'].Value, [12]);
    });
  });

  test(`one new instance of a known series sent at once from several associations is indexed once (${backend})`, async () => {
    await withArchive(backend, async (archive, dataDir) => {
      const first = makeSyntheticInstance({ instanceNumber: 1 });
      await archive.ingest(systemCaller(), { kind: 'part10', bytes: first.bytes });
      const again = makeSyntheticInstance({ studyInstanceUid: first.studyInstanceUid, seriesInstanceUid: first.seriesInstanceUid, instanceNumber: 2 });
      const results = await Promise.all(Array.from({ length: 6 }, () => archive.ingest(systemCaller(), { kind: 'part10', bytes: again.bytes })));
      assert.ok(results.some((result) => result.outcome === 'stored'), JSON.stringify(results.map((r) => r.outcome)));
      assert.ok(results.every((result) => ['stored', 'duplicate', 'replaced'].includes(result.outcome)));
      assert.equal(await archive.index.countInstances(), 2);
      assert.equal((await blobFiles(dataDir)).length, 2);
    });
  });

  test(`a new instance naming a known series under another study is refused and nothing is indexed (${backend})`, async () => {
    await withArchive(backend, async (archive, dataDir) => {
      const first = makeSyntheticInstance();
      await archive.ingest(systemCaller(), { kind: 'part10', bytes: first.bytes });
      const stray = makeSyntheticInstance({ studyInstanceUid: newUid(), seriesInstanceUid: first.seriesInstanceUid });
      await assert.rejects(archive.ingest(systemCaller(), { kind: 'part10', bytes: stray.bytes }), (error: YunyingError) => error.code === 'DUPLICATE_SOP_INSTANCE' && /another study/.test(error.message));
      assert.equal(await archive.index.countInstances(), 1);
      assert.equal(await archive.index.studyExists(stray.studyInstanceUid), false, 'no study row is left without its series');
      assert.equal((await blobFiles(dataDir)).length, 1);
    });
  });

  test(`with a store that replaces objects whole the upload overlaps the lookup, and refusals and resends leave one blob each (${backend})`, async () => {
    const dataDir = await mkdtemp(path.join(tmpdir(), 'yunying-ingest-'));
    const postgres = backend === 'postgres' ? await createTestDatabase() : undefined;
    const database = await openIndexDatabase({ dataDir, fsync: false, databaseUrl: postgres?.url });
    try {
      const { index, unitOfWork } = createStores(database, ephemeralAuditKey());
      const files = new FileBlobStore(path.join(dataDir, 'blobs'), false);
      let lookupsDuringUpload = 0;
      let uploading = 0;
      // An S3-like store: puts are reported atomic, and each one is held until the lookup ran.
      const blobs = Object.assign(Object.create(files) as FileBlobStore, {
        atomicReplace: true,
        async put(key: string, bytes: Uint8Array | readonly Uint8Array[]) {
          uploading += 1;
          await new Promise((resolve) => setImmediate(resolve));
          try {
            return await files.put(key, bytes);
          } finally {
            uploading -= 1;
          }
        },
      });
      const findInstance = index.findInstance.bind(index);
      index.findInstance = async (uid) => {
        if (uploading > 0) lookupsDuringUpload += 1;
        return findInstance(uid);
      };
      const deps = { index, blobs, unitOfWork };
      const first = makeSyntheticInstance();
      assert.equal((await ingestInstance(deps, systemCaller(), { kind: 'part10', bytes: first.bytes })).outcome, 'stored');
      assert.equal(lookupsDuringUpload, 1, 'the lookup ran while the upload was under way');
      assert.equal((await ingestInstance(deps, systemCaller(), { kind: 'part10', bytes: first.bytes })).outcome, 'duplicate');
      const impostor = makeSyntheticInstance({ sopInstanceUid: first.sopInstanceUid, studyInstanceUid: newUid() });
      await assert.rejects(ingestInstance(deps, systemCaller(), { kind: 'part10', bytes: impostor.bytes }), (error: YunyingError) => error.code === 'DUPLICATE_SOP_INSTANCE');
      assert.equal(await index.countInstances(), 1);
      assert.deepEqual((await blobFiles(dataDir)).length, 1, 'the refused upload was removed, the resend rewrote the same key');
      assert.ok((await files.get((await index.findInstance(first.sopInstanceUid))!.blob_key)).equals(first.bytes));
    } finally {
      await database.close();
      await postgres?.drop();
      await rm(dataDir, { recursive: true, force: true });
    }
  });
}

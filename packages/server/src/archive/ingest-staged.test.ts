/**
 * Ingest of a staged file (issue 13, item 7): what a large STOW-RS part or DIMSE data set
 * becomes. The header is read from the file's beginning only, the file is moved into the
 * blob store byte-exact, and it is gone afterwards whatever the outcome.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { buildPart10, encodeDataset, splitPart10, TRANSFER_SYNTAX, type DicomJsonDataset } from '@yunying/dicom';
import { systemCaller } from '../access/caller.ts';
import type { YunyingError } from '../errors.ts';
import { openArchive, type Archive } from './archive.ts';
import type { StagedFile } from './archive-service.ts';
import { makeSyntheticInstance, newUid } from '../test-support/synthetic-dicom.ts';

async function withArchive(run: (archive: Archive, dataDir: string) => Promise<void>): Promise<void> {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'yunying-staged-'));
  const archive = await openArchive({ dataDir, fsync: true });
  try {
    await run(archive, dataDir);
  } finally {
    await archive.close();
    await rm(dataDir, { recursive: true, force: true });
  }
}

async function stage(archive: Archive, bytes: Uint8Array, hashed = false): Promise<StagedFile> {
  await mkdir(archive.blobs.stagingDirectory, { recursive: true });
  const file = path.join(archive.blobs.stagingDirectory, `test-${newUid()}.part`);
  await writeFile(file, bytes);
  return { path: file, size: bytes.length, ...(hashed ? { sha256: createHash('sha256').update(bytes).digest('hex') } : {}) };
}

const staged = async (archive: Archive) => (await readdir(archive.blobs.stagingDirectory).catch(() => [])).length;

/**
 * A Part 10 instance whose attributes before Pixel Data take more than the first read of
 * the header (1 MiB) and whose Pixel Data (8 MiB) runs past the second (4 MiB).
 */
function instanceWithLargeHeader(): { bytes: Buffer; sopInstanceUid: string } {
  const base = makeSyntheticInstance({ size: 8 });
  const sopInstanceUid = newUid();
  const dataset: DicomJsonDataset = {
    '00080016': { vr: 'UI', Value: [base.sopClassUid] },
    '00080018': { vr: 'UI', Value: [sopInstanceUid] },
    '0020000D': { vr: 'UI', Value: [base.studyInstanceUid] },
    '0020000E': { vr: 'UI', Value: [base.seriesInstanceUid] },
    '00280010': { vr: 'US', Value: [2048] },
    '00280011': { vr: 'US', Value: [2048] },
    '00280100': { vr: 'US', Value: [16] },
    // a 3 MiB private blob before the image (an embedded thumbnail, a vendor's raw data)
    '00091010': { vr: 'OB', InlineBinary: Buffer.alloc(3 * 1024 * 1024, 7).toString('base64') },
    '7FE00010': { vr: 'OW', InlineBinary: Buffer.alloc(2048 * 2048 * 2, 1).toString('base64') },
  };
  const bytes = buildPart10(encodeDataset(dataset, TRANSFER_SYNTAX.EXPLICIT_LE), { transferSyntaxUid: TRANSFER_SYNTAX.EXPLICIT_LE, sopClassUid: base.sopClassUid, sopInstanceUid });
  return { bytes, sopInstanceUid };
}

test('a staged Part 10 file is stored byte-exact, as a duplicate when sent again, and removed in both cases', async () => {
  await withArchive(async (archive) => {
    const instance = makeSyntheticInstance({ size: 256 });
    const first = await archive.ingest(systemCaller(), { kind: 'part10', file: await stage(archive, instance.bytes, true) });
    assert.equal(first.outcome, 'stored');
    const [record] = await archive.findInstances(systemCaller(), { sopInstanceUids: [instance.sopInstanceUid] });
    assert.ok((await archive.readInstance(record!)).equals(instance.bytes));
    assert.equal(await staged(archive), 0, 'the staged file was moved in');
    const again = await archive.ingest(systemCaller(), { kind: 'part10', file: await stage(archive, instance.bytes) });
    assert.equal(again.outcome, 'duplicate', 'the same content hash whether hashed while staged or read back');
    assert.equal(await staged(archive), 0);
  });
});

test('a staged file whose header is larger than the first read is parsed from a longer beginning, never read whole', async () => {
  await withArchive(async (archive) => {
    const { bytes, sopInstanceUid } = instanceWithLargeHeader();
    const result = await archive.ingest(systemCaller(), { kind: 'part10', file: await stage(archive, bytes) });
    assert.equal(result.sopInstanceUid, sopInstanceUid);
    const [record] = await archive.findInstances(systemCaller(), { sopInstanceUids: [sopInstanceUid] });
    assert.ok((await archive.readInstance(record!)).equals(bytes));
  });
});

test('a truncated or unreadable staged file is refused (INVALID_DICOM), nothing is stored, and the file is removed', async () => {
  await withArchive(async (archive, dataDir) => {
    const instance = makeSyntheticInstance({ size: 512 });
    const cut = instance.bytes.subarray(0, instance.bytes.length - 1000); // Pixel Data runs past the end
    const garbage = Buffer.alloc(3 * 1024 * 1024, 0x41);
    for (const bytes of [cut, garbage]) {
      await assert.rejects(archive.ingest(systemCaller(), { kind: 'part10', file: await stage(archive, bytes) }), (error: YunyingError) => error.code === 'INVALID_DICOM');
      assert.equal(await staged(archive), 0);
    }
    assert.equal(await archive.index.countInstances(), 0);
    const blobs = await readdir(path.join(dataDir, 'blobs'), { recursive: true, withFileTypes: true }).catch(() => []);
    assert.equal(blobs.filter((entry) => entry.isFile()).length, 0);
  });
});

test('a staged bare data set (DIMSE) is stored after the Part 10 header ingest makes for it', async () => {
  await withArchive(async (archive) => {
    const instance = makeSyntheticInstance({ size: 128 });
    const dataset = instance.bytes.subarray(splitPart10(instance.bytes).datasetOffset);
    const command = { transferSyntaxUid: TRANSFER_SYNTAX.EXPLICIT_LE, sopClassUid: instance.sopClassUid, sopInstanceUid: instance.sopInstanceUid, sourceAeTitle: 'MODALITY' };
    const inMemory = await inAnotherArchive(async (other) => {
      await other.ingest(systemCaller(), { kind: 'dataset', bytes: Buffer.from(dataset), ...command });
      const [record] = await other.findInstances(systemCaller(), { sopInstanceUids: [instance.sopInstanceUid] });
      return other.readInstance(record!);
    });
    await archive.ingest(systemCaller(), { kind: 'dataset', file: await stage(archive, dataset), ...command });
    const [record] = await archive.findInstances(systemCaller(), { sopInstanceUids: [instance.sopInstanceUid] });
    assert.ok((await archive.readInstance(record!)).equals(inMemory), 'the same bytes as the in-memory path stores');
    assert.equal(await staged(archive), 0);
    await assert.rejects(
      archive.ingest(systemCaller(), { kind: 'dataset', file: await stage(archive, dataset), ...command, sopInstanceUid: newUid() }),
      (error: YunyingError) => error.code === 'SOP_INSTANCE_MISMATCH',
    );
    assert.equal(await staged(archive), 0);
  });
});

async function inAnotherArchive<T>(run: (archive: Archive) => Promise<T>): Promise<T> {
  let result: T | undefined;
  await withArchive(async (archive) => {
    result = await run(archive);
  });
  return result!;
}

test('stale staged files are removed when the archive opens; fresh ones are kept (another process may be writing them)', async () => {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'yunying-staged-'));
  try {
    const staging = path.join(dataDir, 'staging');
    await mkdir(staging, { recursive: true });
    const { utimes } = await import('node:fs/promises');
    await writeFile(path.join(staging, 'old.part'), 'x');
    const dayAgo = new Date(Date.now() - 24 * 3600 * 1000);
    await utimes(path.join(staging, 'old.part'), dayAgo, dayAgo);
    await writeFile(path.join(staging, 'fresh.part'), 'y');
    const archive = await openArchive({ dataDir, fsync: false });
    await archive.close();
    assert.deepEqual(await readdir(staging), ['fresh.part']);
    assert.equal(await readFile(path.join(staging, 'fresh.part'), 'utf8'), 'y');
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
});

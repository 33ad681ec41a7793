/**
 * Ingest of a staged file into S3 (issue 13, item 7): the file is streamed up (a multipart
 * upload for a large one), not renamed; byte-exact, a duplicate when sent again, and the staged
 * file is gone afterwards. The files case is in ingest-staged.test.ts (unit tier); this one
 * needs the S3 server.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { systemCaller } from '../access/caller.ts';
import { openArchive } from './archive.ts';
import { makeSyntheticInstance, newUid } from '../test-support/synthetic-dicom.ts';
import { s3SkipReason, testS3Env } from '../test-support/s3.ts';

test('a staged Part 10 file of 17 MiB goes up to S3 byte-exact, is a duplicate when sent again, and is removed', { skip: s3SkipReason() }, async () => {
  const s3 = testS3Env()!;
  const dataDir = await mkdtemp(path.join(tmpdir(), 'yunying-staged-s3-'));
  const archive = await openArchive({
    dataDir,
    fsync: true,
    storageUrl: `s3://${s3.bucket}/staged-${randomBytes(4).toString('hex')}`,
    awsEnv: { AWS_ENDPOINT_URL_S3: s3.AWS_ENDPOINT_URL_S3, AWS_REGION: s3.AWS_REGION, AWS_ACCESS_KEY_ID: s3.AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY: s3.AWS_SECRET_ACCESS_KEY },
  });
  try {
    const instance = makeSyntheticInstance({ size: 3000 }); // over the 16 MiB of one PUT
    const stage = async () => {
      await mkdir(archive.blobs.stagingDirectory, { recursive: true });
      const file = path.join(archive.blobs.stagingDirectory, `test-${newUid()}.part`);
      await writeFile(file, instance.bytes);
      return { path: file, size: instance.bytes.length };
    };
    assert.equal((await archive.ingest(systemCaller(), { kind: 'part10', file: await stage() })).outcome, 'stored');
    const [record] = await archive.findInstances(systemCaller(), { sopInstanceUids: [instance.sopInstanceUid] });
    assert.ok((await archive.readInstance(record!)).equals(instance.bytes));
    assert.equal((await archive.ingest(systemCaller(), { kind: 'part10', file: await stage() })).outcome, 'duplicate');
    assert.deepEqual(await readdir(archive.blobs.stagingDirectory), []);
  } finally {
    await archive.close();
    await rm(dataDir, { recursive: true, force: true });
  }
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { splitPart10 } from '@yunying/dicom';
import { createTestDatabase } from '../test-support/postgres.ts';
import { s3SkipReason, testS3Env } from '../test-support/s3.ts';
import { readSample, samplePath } from '@yunying/testing/samples';
import { startServerProcess } from '../test-support/server-process.ts';
import { withAdmin } from '../test-support/admin-auth.ts';

const run = promisify(execFile);
const SAMPLE = 'transfer-syntax/ct-same-image/ct_1.2.840.10008.1.2.1_explicit-vr-le.dcm';

/**
 * Two server processes on one PostgreSQL and one bucket, as behind a load balancer: what is
 * stored through one is found and retrieved through the other, and nothing either process
 * keeps in memory is needed by the other.
 */
test('two server processes share one PostgreSQL index and one bucket', { skip: s3SkipReason() }, async () => {
  const database = await createTestDatabase();
  const s3 = testS3Env()!;
  const env = {
    YUNYING_DATABASE_URL: database.url,
    // one audit chain, one key: every process on the database needs it (issue 12, finding 20)
    YUNYING_AUDIT_KEY: randomBytes(32).toString('hex'),
    YUNYING_STORAGE_URL: `s3://${s3.bucket}/two-processes-${randomBytes(4).toString('hex')}`,
    AWS_ENDPOINT_URL_S3: s3.AWS_ENDPOINT_URL_S3,
    AWS_REGION: s3.AWS_REGION,
    AWS_ACCESS_KEY_ID: s3.AWS_ACCESS_KEY_ID,
    AWS_SECRET_ACCESS_KEY: s3.AWS_SECRET_ACCESS_KEY,
  };
  const dataDirs = await Promise.all([mkdtemp(path.join(tmpdir(), 'yunying-a-')), mkdtemp(path.join(tmpdir(), 'yunying-b-'))]);
  const first = await startServerProcess(dataDirs[0], env);
  const second = await startServerProcess(dataDirs[1], env);
  try {
    await run('storescu', ['-aec', 'YUNYING', '127.0.0.1', String(first.dicomPort), samplePath(SAMPLE)]);
    const bytes = readSample(SAMPLE);
    const { sopInstanceUid } = splitPart10(bytes);

    const found = (await (await fetch(`${second.baseUrl}/dicom-web/instances?SOPInstanceUID=${sopInstanceUid}`, withAdmin())).json()) as Array<Record<string, { Value?: string[] }>>;
    assert.equal(found.length, 1, 'the second process finds what the first stored');
    const study = found[0]['0020000D'].Value![0];
    const series = found[0]['0020000E'].Value![0];
    const retrieved = Buffer.from(await (await fetch(`${second.baseUrl}/dicom-web/studies/${study}/series/${series}/instances/${sopInstanceUid}`, withAdmin({ headers: { accept: 'application/dicom; transfer-syntax=*' } }))).arrayBuffer());
    assert.ok(retrieved.subarray(splitPart10(retrieved).datasetOffset).equals(bytes.subarray(splitPart10(bytes).datasetOffset)), 'retrieved through the second process, byte-identical');

    // A resend to the second process is recognised as the same instance.
    await run('storescu', ['-aec', 'YUNYING', '127.0.0.1', String(second.dicomPort), samplePath(SAMPLE)]);
    const again = (await (await fetch(`${first.baseUrl}/dicom-web/instances?SOPInstanceUID=${sopInstanceUid}`, withAdmin())).json()) as unknown[];
    assert.equal(again.length, 1);
  } finally {
    await Promise.all([first.stop(), second.stop()]);
    await database.drop();
    await Promise.all(dataDirs.map((dir) => rm(dir, { recursive: true, force: true })));
  }
});

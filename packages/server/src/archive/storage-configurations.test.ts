import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { randomBytes } from 'node:crypto';
import { splitPart10 } from '@yunying/dicom';
import { createTestDatabase, type TestDatabase } from '../test-support/postgres.ts';
import { startListeningServer } from '../test-support/listening-server.ts';
import { s3SkipReason, testS3Env } from '../test-support/s3.ts';
import { readSample, samplePath } from '@yunying/testing/samples';
import { withAdmin } from '../test-support/admin-auth.ts';

const run = promisify(execFile);
/** Samples with the storescu option that proposes their transfer syntax. */
const SAMPLE_OPTIONS: Record<string, string> = {
  'transfer-syntax/ct-same-image/ct_1.2.840.10008.1.2.4.70_jpeg-lossless-sv1.dcm': '-xs',
  'charset/chrX2.dcm': '-xe',
  'modality/us/US_multiframe_10f_palette_rle.dcm': '-xr',
};
const SAMPLES = Object.keys(SAMPLE_OPTIONS);

interface Configuration {
  name: string;
  skip: string | false;
  env(): Promise<{ env: Record<string, string>; dispose(): Promise<void> }>;
}

const CONFIGURATIONS: Configuration[] = [
  { name: 'SQLite + files (embedded)', skip: false, env: async () => ({ env: {}, dispose: async () => undefined }) },
  {
    name: 'PostgreSQL + S3',
    skip: s3SkipReason(),
    env: async () => {
      const database: TestDatabase = await createTestDatabase();
      const s3 = testS3Env()!;
      const env = {
        YUNYING_DATABASE_URL: database.url,
        YUNYING_STORAGE_URL: `s3://${s3.bucket}/archive-${randomBytes(4).toString('hex')}`,
        AWS_ENDPOINT_URL_S3: s3.AWS_ENDPOINT_URL_S3,
        AWS_REGION: s3.AWS_REGION,
        AWS_ACCESS_KEY_ID: s3.AWS_ACCESS_KEY_ID,
        AWS_SECRET_ACCESS_KEY: s3.AWS_SECRET_ACCESS_KEY,
      };
      return { env, dispose: () => database.drop() };
    },
  },
];

/** The same end-to-end round trip on every index/blob configuration. */
for (const configuration of CONFIGURATIONS) {
  describe(configuration.name, { skip: configuration.skip }, () => {
    test('storescu in, findscu and QIDO-RS find it, WADO-RS gives it back byte-identical, a resend changes nothing', async () => {
      const { env, dispose } = await configuration.env();
      const { server, baseUrl, dicomPort, close } = await startListeningServer(env);
      try {
        for (let round = 0; round < 2; round++) {
          for (const sample of SAMPLES) await run('storescu', [SAMPLE_OPTIONS[sample], '-aec', 'YUNYING', '127.0.0.1', String(dicomPort), samplePath(sample)]);
        }
        assert.equal(await server.archive.index.countInstances(), SAMPLES.length);

        const found = await fetch(`${baseUrl}/dicom-web/studies?PatientName=${encodeURIComponent('王*')}`, withAdmin());
        const studies = (await found.json()) as Array<Record<string, { Value?: unknown[] }>>;
        assert.equal(studies.length, 1);
        const { stdout, stderr } = await run('findscu', ['-S', '-aec', 'YUNYING', '-k', 'QueryRetrieveLevel=STUDY', '-k', 'StudyInstanceUID', '127.0.0.1', String(dicomPort)]);
        assert.equal((`${stdout}${stderr}`.match(/Find Response: \d+ \(Pending\)/g) ?? []).length, SAMPLES.length);

        for (const sample of SAMPLES) {
          const bytes = readSample(sample);
          const [record] = (await server.archive.index.query({ level: 'IMAGE', conditions: [], scope: {} })).filter((row) => bytes.includes(Buffer.from(String(row.sop_instance_uid))));
          const url = `${baseUrl}/dicom-web/studies/${record.study_instance_uid}/series/${record.series_instance_uid}/instances/${record.sop_instance_uid}`;
          const retrieved = Buffer.from(await (await fetch(url, withAdmin({ headers: { accept: 'application/dicom; transfer-syntax=*' } }))).arrayBuffer());
          // Received over DIMSE: our file meta group, then the data set exactly as sent.
          const sent = bytes.subarray(splitPart10(bytes).datasetOffset);
          assert.ok(retrieved.subarray(splitPart10(retrieved).datasetOffset).equals(sent), `${sample} changed`);
        }
      } finally {
        await close();
        await dispose();
      }
    });
  });
}

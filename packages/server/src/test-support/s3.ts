import { existsSync, readFileSync } from 'node:fs';
import { S3Client } from '@aws-sdk/client-s3';
import { s3ClientConfigFromEnv } from '../store/s3-blob-store.ts';

/**
 * The S3 server the tests use: the variables ../shared/services/s3/start.sh prints (CI
 * exports them), or its s3.env file on a developer machine where it was started once.
 */
export function testS3Env(): Record<string, string> | undefined {
  const fromFile = readEnvFile(`${process.env.S3_DATA_DIR ?? '/tmp/s3-ceph'}/s3.env`);
  const source = process.env.S3_ENDPOINT ? process.env : fromFile;
  if (!source?.S3_ENDPOINT || !source.S3_BUCKET) return undefined;
  return {
    AWS_ENDPOINT_URL_S3: source.S3_ENDPOINT,
    AWS_REGION: source.S3_REGION ?? 'us-east-1',
    AWS_ACCESS_KEY_ID: source.S3_ACCESS_KEY_ID ?? '',
    AWS_SECRET_ACCESS_KEY: source.S3_SECRET_ACCESS_KEY ?? '',
    bucket: source.S3_BUCKET,
  };
}

/** Skip reason for S3 tests on a machine without the server; on CI a missing server is a failure. */
export function s3SkipReason(): string | false {
  if (testS3Env() || process.env.CI) return false;
  return 'no S3 server: run ../shared/services/s3/start.sh with S3_BUCKET set';
}

export function testS3Client(): { client: S3Client; bucket: string } {
  const env = testS3Env();
  if (!env) throw new Error('no S3 server for the tests: .ci/run starts ../shared/services/s3/start.sh');
  const client = new S3Client({ ...s3ClientConfigFromEnv(env), credentials: { accessKeyId: env.AWS_ACCESS_KEY_ID, secretAccessKey: env.AWS_SECRET_ACCESS_KEY } });
  return { client, bucket: env.bucket };
}

function readEnvFile(file: string): Record<string, string> | undefined {
  if (!existsSync(file)) return undefined;
  return Object.fromEntries(
    readFileSync(file, 'utf8')
      .split('\n')
      .map((line) => /^([A-Z0-9_]+)=(.*)$/.exec(line.trim()))
      .filter((match): match is RegExpExecArray => match !== null)
      .map((match) => [match[1], match[2]]),
  );
}

/**
 * The object store alone: PUTs (then GETs) of objects of one size at a given concurrency,
 * through the same S3 client configuration as the server (s3ClientConfigFromEnv, the SDK's
 * keep-alive agent), with no DICOM, no index and no HTTP server in between. Its rate is the
 * floor for PostgreSQL + S3 ingest and retrieval at that size and concurrency
 * (docs/benchmarks.md, "PostgreSQL + S3 (issue 16)").
 *
 *   node bench/s3-store-alone.ts --bucket yunying-bench --size 526000 --count 200 --concurrency 1,4 \
 *        [--store-pids "$(pgrep -d, -f 'radosgw|ceph-osd|ceph-mon')"]
 *
 * AWS_* variables configure S3 as for the server. With --store-pids, the CPU time those
 * processes used per request (from /proc/<pid>/stat) is printed too. Not a test.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { randomBytes } from 'node:crypto';
import { DeleteObjectsCommand, GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { s3ClientConfigFromEnv } from '../packages/server/src/store/s3-blob-store.ts';

const { values: options } = parseArgs({
  options: {
    bucket: { type: 'string' },
    prefix: { type: 'string', default: 'store-alone' },
    size: { type: 'string', default: '526000' },
    count: { type: 'string', default: '200' },
    concurrency: { type: 'string', default: '1,4' },
    'store-pids': { type: 'string', default: '' },
  },
});
if (!options.bucket) throw new Error('--bucket is required');
const bucket = options.bucket;
const size = Number(options.size);
const count = Number(options.count);
const storePids = options['store-pids'].split(',').filter(Boolean).map(Number);

const env = process.env;
const client = new S3Client({ ...s3ClientConfigFromEnv(env), credentials: { accessKeyId: env.AWS_ACCESS_KEY_ID ?? '', secretAccessKey: env.AWS_SECRET_ACCESS_KEY ?? '' } });

/** utime + stime of the processes, in seconds (clock ticks of 100 Hz, Linux's USER_HZ). */
function storeCpuSeconds(): number {
  let ticks = 0;
  for (const pid of storePids) {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ');
    ticks += Number(fields[11]) + Number(fields[12]);
  }
  return ticks / 100;
}

/** Runs `count` calls of `fn(i)`, `concurrency` at a time; seconds elapsed. */
async function timed(concurrency: number, fn: (i: number) => Promise<unknown>): Promise<number> {
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) await fn(next++);
    }),
  );
  return (performance.now() - started) / 1000;
}

const body = randomBytes(size);
const line = (what: string, concurrency: number, seconds: number, cpu: number) =>
  console.log(
    `${what} ${size} B x${concurrency}: ${(count / seconds).toFixed(1)}/s, ${((count * size) / 1e6 / seconds).toFixed(1)} MB/s, ${((seconds * 1000 * concurrency) / count).toFixed(2)} ms each` +
      (storePids.length ? `, store CPU ${((cpu * 1000) / count).toFixed(2)} ms per request` : ''),
  );

// One warm-up request opens a connection, as a running server has.
await client.send(new PutObjectCommand({ Bucket: bucket, Key: `${options.prefix}/warm`, Body: body, ContentLength: size }));
for (const concurrency of options.concurrency.split(',').map(Number)) {
  const run = `${options.prefix}/${Date.now()}-${concurrency}`;
  let cpu = storeCpuSeconds();
  const putSeconds = await timed(concurrency, (i) => client.send(new PutObjectCommand({ Bucket: bucket, Key: `${run}/${i}`, Body: body, ContentLength: size })));
  line('PUT', concurrency, putSeconds, storeCpuSeconds() - cpu);
  cpu = storeCpuSeconds();
  const getSeconds = await timed(concurrency, async (i) => {
    const response = await client.send(new GetObjectCommand({ Bucket: bucket, Key: `${run}/${i}` }));
    await response.Body?.transformToByteArray();
  });
  line('GET', concurrency, getSeconds, storeCpuSeconds() - cpu);
  for (let start = 0; start < count; start += 1000) {
    const keys = Array.from({ length: Math.min(1000, count - start) }, (_, i) => ({ Key: `${run}/${start + i}` }));
    await client.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys } }));
  }
}
client.destroy();

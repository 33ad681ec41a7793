/**
 * Where one instance's ingest time goes on a given configuration: stores the Part 10 files
 * of a directory one after another through the real ingest pipeline (as one storescu
 * association does), timing each step of the path in a second pass over fresh copies.
 *
 *   node --import tsx bench/ingest-path.ts --dir /tmp/gen-ct \
 *        [--database-url postgres://postgres@127.0.0.1/yunying_ingest] [--storage-url s3://bucket/prefix]
 *
 * AWS_* variables configure S3 as for the server. Not a test: figures go to docs/benchmarks.md.
 */
import { readdir, readFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { S3Client } from '@aws-sdk/client-s3';
import pg from 'pg';
import { systemCaller } from '../packages/server/src/access/caller.ts';
import { ingestInstance } from '../packages/server/src/archive/ingest.ts';
import type { BlobStore } from '../packages/server/src/store/blob-store.ts';
import { openIndexDatabase } from '../packages/server/src/store/database.ts';
import { FileBlobStore } from '../packages/server/src/store/file-blob-store.ts';
import { createStores } from '../packages/server/src/store/stores.ts';
import { ephemeralAuditKey } from '../packages/server/src/access/audit-key.ts';
import { parseS3Url, S3BlobStore, s3ClientConfigFromEnv } from '../packages/server/src/store/s3-blob-store.ts';

const { values: options } = parseArgs({
  options: {
    dir: { type: 'string' },
    'database-url': { type: 'string' },
    'storage-url': { type: 'string' },
    fsync: { type: 'boolean', default: true },
  },
});
if (!options.dir) throw new Error('--dir with Part 10 files is required');

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile() && e.name.endsWith('.dcm')).map((e) => path.join(e.parentPath, e.name)).sort();
}

/** A copy of a Part 10 file with new study/series/SOP UIDs (same length), so a pass stores new instances. */
function withFreshUids(bytes: Buffer, pass: number): Buffer {
  const text = bytes.toString('latin1');
  // The generator's UIDs are 2.25.<decimal>: change their first digit, the same way in every file.
  const copy = text.replace(/(2\.25\.)([1-9])/g, (_m, root: string, digit: string) => `${root}${((Number(digit) - 1 + pass) % 9) + 1}`);
  return Buffer.from(copy, 'latin1');
}

// PostgreSQL round trips: every statement the pool's clients send (BEGIN and COMMIT included).
let statements = 0;
const sendQuery = pg.Client.prototype.query;
pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
  statements += 1;
  return (sendQuery as (...a: unknown[]) => unknown).apply(this, args);
} as typeof pg.Client.prototype.query;

const dataDir = await mkdtemp(path.join(tmpdir(), 'yunying-ingest-path-'));
const database = await openIndexDatabase({ dataDir, databaseUrl: options['database-url'], fsync: options.fsync });
const { index, unitOfWork } = createStores(database, ephemeralAuditKey());
let blobs: BlobStore;
if (options['storage-url']) {
  const env = process.env;
  blobs = new S3BlobStore(
    new S3Client({ ...s3ClientConfigFromEnv(env), credentials: { accessKeyId: env.AWS_ACCESS_KEY_ID ?? '', secretAccessKey: env.AWS_SECRET_ACCESS_KEY ?? '' } }),
    parseS3Url(options['storage-url']),
  );
} else {
  blobs = new FileBlobStore(path.join(dataDir, 'blobs'), options.fsync);
}

const files = await Promise.all((await filesUnder(options.dir)).map((file) => readFile(file)));
const caller = systemCaller();

// Pass 1: the whole pipeline, as an association sends (one after another).
const statementsBefore = statements;
const ingestStarted = performance.now();
for (const bytes of files) await ingestInstance({ index, blobs, unitOfWork }, caller, { kind: 'part10', bytes: withFreshUids(bytes, 1) });
const ingestMs = performance.now() - ingestStarted;
const ingestStatements = statements - statementsBefore;

// Pass 2: the steps alone, on other fresh copies.
const steps = { findInstance: 0, blobPut: 0, indexCommit: 0 };
for (const original of files) {
  const bytes = withFreshUids(original, 2);
  const key = `path-bench/${performance.now().toFixed(3)}.dcm`;
  let t = performance.now();
  await index.findInstance(`no.such.${t}`);
  steps.findInstance += performance.now() - t;
  t = performance.now();
  await (await blobs.put(key, [bytes])).durable;
  steps.blobPut += performance.now() - t;
  t = performance.now();
  await ingestInstance({ index, blobs: { ...noopBlobs(blobs) }, unitOfWork }, caller, { kind: 'part10', bytes });
  steps.indexCommit += performance.now() - t;
}

function noopBlobs(real: BlobStore): BlobStore {
  return { ...real, put: async () => ({ durable: Promise.resolve() }), delete: async () => undefined, sizeOf: real.sizeOf.bind(real), close: async () => undefined, get: real.get.bind(real), createReadStream: real.createReadStream.bind(real), exists: real.exists.bind(real) };
}

const per = (ms: number) => (ms / files.length).toFixed(2);
console.log(`${files.length} instances, ${(files.reduce((s, b) => s + b.length, 0) / 1e6).toFixed(1)} MB; index ${database.dialect}, blobs ${options['storage-url'] ? 's3' : 'files'}`);
console.log(`whole ingest, one after another: ${per(ingestMs)} ms per instance (${(files.length / (ingestMs / 1000)).toFixed(1)} instances/s)`);
if (database.dialect === 'postgres') console.log(`  PostgreSQL statements per instance: ${(ingestStatements / files.length).toFixed(2)}`);
console.log(`  one index lookup:                ${per(steps.findInstance)} ms`);
console.log(`  blob put (durable):              ${per(steps.blobPut)} ms`);
console.log(`  ingest without the blob put:     ${per(steps.indexCommit)} ms (parse, hash, lookup, commit)`);
await blobs.close();
await database.close();
await rm(dataDir, { recursive: true, force: true });

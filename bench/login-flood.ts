/**
 * Does a login flood starve ingest? Starts the server as a real process, times single-image
 * C-STOREs (storescu) on a quiet server, then again while 200 parallel logins with unknown
 * user names, each from its own client address (X-Forwarded-For through a trusted loopback
 * proxy, so the per-address throttle does not cut the flood short), keep the password
 * hashing busy. Prints the quiet median, the stores during the flood, and the slowest one's
 * ratio to the quiet median.
 *
 *   node --import tsx bench/login-flood.ts [--logins 200] [--stores 5] [--database-url postgres://…]
 *
 * Not a test: figures go to docs/benchmarks.md.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { runTool } from '../packages/server/src/dimse/dimse-test-support.ts';
import { startServerProcess, type ServerProcess } from '../packages/server/src/test-support/server-process.ts';
import { makeSyntheticInstance } from '../packages/server/src/test-support/synthetic-dicom.ts';

const { values: options } = parseArgs({
  options: {
    logins: { type: 'string', default: '200' },
    stores: { type: 'string', default: '5' },
    'database-url': { type: 'string' },
  },
});
const logins = Number(options.logins);
const stores = Number(options.stores);

const dataDir = await mkdtemp(path.join(tmpdir(), 'yunying-login-flood-'));
const server = await startServerProcess(dataDir, {
  YUNYING_TRUST_PROXY: 'loopback',
  YUNYING_LOG_LEVEL: 'info',
  YUNYING_PASSWORD_HASH_COST_LOG2: '17', // production cost, not the test servers' lower one
  ...(options['database-url'] ? { YUNYING_DATABASE_URL: options['database-url'] } : {}),
});

/** One C-STORE of a fresh instance in its own association, as a modality sends: milliseconds. */
async function timedStore(dir: string, n: number): Promise<number> {
  const file = path.join(dir, `${n}.dcm`);
  await writeFile(file, makeSyntheticInstance({ size: 256 }).bytes);
  const started = performance.now();
  const result = await runTool('storescu', ['-aet', 'BENCH_CT', '-aec', 'YUNYING', '127.0.0.1', String(server.dicomPort), file], 120_000);
  const ms = performance.now() - started;
  if (result.code !== 0) throw new Error(`storescu failed: ${result.stderr}`);
  return ms;
}

const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

async function login(target: ServerProcess, n: number): Promise<number> {
  const response = await fetch(`${target.baseUrl}/api/v1/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-forwarded-for': `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}` },
    body: JSON.stringify({ username: `nobody-${n}`, password: `Guess-${n}-password` }),
  });
  await response.arrayBuffer();
  return response.status;
}

const dir = await mkdtemp(path.join(tmpdir(), 'yunying-login-flood-files-'));
try {
  await timedStore(dir, 0); // warm-up: first association, first database writes
  const quiet: number[] = [];
  for (let n = 1; n <= stores; n++) quiet.push(await timedStore(dir, n));

  const statuses = new Map<number, number>();
  const floodStarted = performance.now();
  const flood = Promise.all(Array.from({ length: logins }, (_, n) => login(server, n + 1))).then((all) => {
    for (const status of all) statuses.set(status, (statuses.get(status) ?? 0) + 1);
    return performance.now() - floodStarted;
  });
  const loud: number[] = [];
  let floodDone = false;
  void flood.then(() => (floodDone = true));
  for (let n = 1; n <= stores && (n === 1 || !floodDone); n++) loud.push(await timedStore(dir, 100 + n));
  const floodMs = await flood;

  console.log(`quiet C-STORE median ${median(quiet).toFixed(0)} ms (${quiet.map((ms) => ms.toFixed(0)).join(', ')})`);
  console.log(`C-STOREs during ${logins} parallel unknown-user logins: ${loud.map((ms) => ms.toFixed(0)).join(', ')} ms`);
  console.log(`flood answered in ${floodMs.toFixed(0)} ms: ${[...statuses].map(([status, count]) => `${count}× ${status}`).join(', ')}`);
  // The first store is the one a modality sends into the flood: it waits longest.
  console.log(`ratio slowest C-STORE during the flood / quiet median: ${(Math.max(...loud) / median(quiet)).toFixed(1)}`);
} finally {
  await server.stop();
  await rm(dir, { recursive: true, force: true });
  await rm(dataDir, { recursive: true, force: true });
}

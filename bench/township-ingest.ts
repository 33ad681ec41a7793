/**
 * Issue 16, per-study cost: one-instance studies over C-STORE (storescu, one association
 * per load) from an unregistered loopback AE ("plain", as the harness's small-instance
 * load) and from an AE registered to a township institution with a routing rule (township →
 * county diagnostic centre: every study gets a reading request), alternately against the
 * same server process (which goes first alternates by round), so the two loads are compared in one run. With `--server-root` given
 * more than once, each tree's server runs beside the others (before and after a change) and
 * the loads go round them in turn.
 *
 *   node bench/township-ingest.ts [--studies 200] [--rounds 3] [--server-root DIR]... [--sql]
 *        [--cpu-prof DIR] [--tcp-nodelay 1|0|unset] [--no-fsync]
 *        [--database-url postgres://postgres@127.0.0.1/yy_routing] [--port-base 21100]
 *
 * For each load: storescu's wall time (studies/s), the server's CPU seconds in it (the
 * routing of the township's studies included: the load ends once every request is open),
 * and how long after storescu ended the last request opened. `--sql` preloads
 * bench/sql-statement-counter.ts into the servers and prints the SQL statements per study
 * of each load, by statement. `--cpu-prof DIR` runs the servers under `node --cpu-prof`
 * (written when they stop). storescu gets TCP_NODELAY=1 as the harness gives it
 * (../shared/bench run.js); without it dcmtk 3.6.7 leaves Nagle's algorithm on and every
 * small instance waits for the server's delayed ACK (~40 ms). Ends by checking that every
 * township study has one reading request, its audit record and its feed row. A database URL
 * serves one server only. Not a test: figures go to docs/benchmarks.md.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import SqliteDatabase from 'better-sqlite3';
import pg from 'pg';
import { TEST_ADMIN_PASSWORD, TEST_PASSWORD_HASH_COST_LOG2 } from '../packages/server/src/test-support/admin-auth.ts';
import { makeSyntheticInstance } from '../packages/server/src/test-support/synthetic-dicom.ts';

const { values: options } = parseArgs({
  allowNegative: true,
  options: {
    studies: { type: 'string', default: '200' },
    rounds: { type: 'string', default: '3' },
    'server-root': { type: 'string', multiple: true },
    sql: { type: 'boolean', default: false },
    'cpu-prof': { type: 'string' },
    'database-url': { type: 'string' },
    'port-base': { type: 'string', default: '21100' },
    'tcp-nodelay': { type: 'string', default: '1' },
    fsync: { type: 'boolean', default: true },
  },
});
const studies = Number(options.studies);
const rounds = Number(options.rounds);
const WARM_UP = 10;
const TOWNSHIP_AE = 'TOWN_DR';
const PLAIN_AE = 'BENCHSCU';
const here = fileURLToPath(new URL('..', import.meta.url));
const roots = (options['server-root'] ?? [here]).map((root) => path.resolve(root));
if (options['database-url'] && roots.length > 1) throw new Error('--database-url serves one server only');

interface Server {
  root: string;
  child: ChildProcess;
  dataDir: string;
  countsFile: string;
  baseUrl: string;
  dicomPort: number;
  exited: Promise<unknown>;
}

/** The server of one tree, as `npm start` runs it, on its own ports and data directory. */
async function startServer(root: string, n: number): Promise<Server> {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'yunying-township-ingest-'));
  const countsFile = path.join(dataDir, 'sql-counts.json');
  const httpPort = Number(options['port-base']) + 2 * n;
  const dicomPort = httpPort + 1;
  const nodeArgs = [
    ...(options.sql ? ['--import', fileURLToPath(new URL('./sql-statement-counter.ts', import.meta.url))] : []),
    ...(options['cpu-prof'] ? ['--cpu-prof', `--cpu-prof-dir=${path.resolve(options['cpu-prof'], String(n))}`] : []),
  ];
  const child = spawn(process.execPath, [...nodeArgs, path.join(root, 'packages/server/bin/yunying-server.cjs')], {
    env: {
      ...process.env,
      YUNYING_DATA_DIR: dataDir,
      YUNYING_HTTP_PORT: String(httpPort),
      YUNYING_DICOM_PORT: String(dicomPort),
      YUNYING_LOG_LEVEL: 'info',
      YUNYING_ADMIN_PASSWORD: TEST_ADMIN_PASSWORD,
      YUNYING_PASSWORD_HASH_COST_LOG2: TEST_PASSWORD_HASH_COST_LOG2,
      YUNYING_FSYNC: String(options.fsync),
      BENCH_SQL_COUNTS: countsFile,
      ...(options['database-url'] ? { YUNYING_DATABASE_URL: options['database-url'] } : {}),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = once(child, 'exit');
  let output = '';
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('yunying started')) resolve();
    });
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    void exited.then(() => reject(new Error(`server of ${root} exited before it was ready:\n${output}`)));
  });
  // The log's lines are not read any more; drain them.
  child.stdout!.resume();
  child.stderr!.resume();
  return { root, child, dataDir, countsFile, baseUrl: `http://127.0.0.1:${httpPort}`, dicomPort, exited };
}

async function call(server: Server, token: string, method: string, url: string, body?: unknown): Promise<void> {
  const response = await fetch(`${server.baseUrl}${url}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  if (response.status >= 300) throw new Error(`${method} ${url}: ${response.status} ${text}`);
}

/** The hierarchy: a county diagnostic centre serving a township, the township's AE, the routing rule. */
async function setUp(server: Server): Promise<void> {
  const login = await fetch(`${server.baseUrl}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'admin', password: TEST_ADMIN_PASSWORD }) });
  const { token } = (await login.json()) as { token: string };
  await call(server, token, 'POST', '/api/v1/institutions', { id: 'tb-county', name: '县医院影像诊断中心', tier: 'county', grade: 2 });
  await call(server, token, 'POST', '/api/v1/institutions', { id: 'tb-town', name: '乡镇卫生院', tier: 'township', grade: 1, parentId: 'tb-county' });
  await call(server, token, 'PUT', '/api/v1/institutions/tb-county/members/tb-town');
  await call(server, token, 'PUT', `/api/v1/application-entities/${TOWNSHIP_AE}`, { institutionId: 'tb-town' });
  await call(server, token, 'POST', '/api/v1/routing-rules', { name: '乡镇 → 县诊断中心', sourceInstitutionId: 'tb-town', readingInstitutionId: 'tb-county', priority: 'routine' });
}

/** `count` one-instance studies (64×64 pixels) in a new directory. */
async function oneInstanceStudies(dir: string, count: number, label: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  for (let n = 0; n < count; n++) {
    const instance = makeSyntheticInstance({ size: 64, modality: 'DX', patientId: `${label}${n}`, accessionNumber: `${label}${n}`.slice(0, 16) });
    await writeFile(path.join(dir, `${n}.dcm`), instance.bytes);
  }
}

/** user + system CPU seconds of a server process so far */
async function serverCpuSeconds(server: Server): Promise<number> {
  const stat = await readFile(`/proc/${server.child.pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (100 Hz)
}

async function sqlCounts(server: Server): Promise<Record<string, number>> {
  if (!options.sql) return {};
  await rm(server.countsFile, { force: true });
  server.child.kill('SIGUSR2');
  for (let i = 0; i < 200; i++) {
    try {
      return JSON.parse(await readFile(server.countsFile, 'utf8')) as Record<string, number>;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }
  throw new Error('no SQL counts from the server');
}

/** Runs `sql` (a count) on a server's index, beside the server (SQLite in WAL mode takes a second reader). */
async function countIn(server: Server, sql: string): Promise<number> {
  if (options['database-url']) {
    const client = new pg.Client({ connectionString: options['database-url'] });
    await client.connect();
    try {
      return Number((await client.query<{ n: string }>(sql)).rows[0]!.n);
    } finally {
      await client.end();
    }
  }
  const db = new SqliteDatabase(path.join(server.dataDir, 'index.sqlite'), { readonly: true, fileMustExist: true });
  try {
    return (db.prepare(sql).get() as { n: number }).n;
  } finally {
    db.close();
  }
}

const COUNTY_REQUESTS = "select count(*) as n from reading_requests where reading_institution_id = 'tb-county'";

/** Waits until the routing consumer has opened `expected` requests; ms it took. */
async function routingDrained(server: Server, expected: number, timeoutMs = 120_000): Promise<number> {
  const started = performance.now();
  for (;;) {
    const count = await countIn(server, COUNTY_REQUESTS);
    if (count >= expected) return performance.now() - started;
    if (performance.now() - started > timeoutMs) throw new Error(`only ${count} of ${expected} reading requests`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** storescu as the harness runs it (its TCP_NODELAY), unless --tcp-nodelay unset */
function storescu(args: string[]): Promise<{ code: number | null; stderr: string }> {
  const env = { ...process.env };
  if (options['tcp-nodelay'] === 'unset') delete env.TCP_NODELAY;
  else env.TCP_NODELAY = options['tcp-nodelay'];
  return new Promise((resolve, reject) => {
    const child = spawn('storescu', args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stderr }));
  });
}

interface LoadFigures {
  wallMs: number;
  cpuS: number;
  drainMs?: number;
  sql: Record<string, number>;
}

/** One storescu association with every file of `dir`; for the township, until every request is open. */
async function load(server: Server, dir: string, aeTitle: string, requestsExpected?: number): Promise<LoadFigures> {
  const sqlBefore = await sqlCounts(server);
  const cpuBefore = await serverCpuSeconds(server);
  const started = performance.now();
  const result = await storescu(['-aet', aeTitle, '-aec', 'YUNYING', '+sd', '127.0.0.1', String(server.dicomPort), dir]);
  const wallMs = performance.now() - started;
  if (result.code !== 0 || /^E:/m.test(result.stderr)) throw new Error(`storescu (${aeTitle}) failed: ${result.stderr.slice(0, 400)}`);
  // The routing consumer runs behind ingest (the change feed): its cost lands in this load.
  const drainMs = requestsExpected !== undefined ? await routingDrained(server, requestsExpected) : undefined;
  const cpuS = (await serverCpuSeconds(server)) - cpuBefore;
  const sqlAfter = await sqlCounts(server);
  const sql = Object.fromEntries(Object.entries(sqlAfter).map(([key, count]) => [key, count - (sqlBefore[key] ?? 0)]).filter(([, count]) => (count as number) > 0));
  return { wallMs, cpuS, drainMs, sql };
}

function printSql(label: string, sql: Record<string, number>): void {
  const total = Object.values(sql).reduce((sum, count) => sum + count, 0);
  console.log(`  ${label}: ${(total / studies).toFixed(2)} SQL statements per study`);
  for (const [statement, count] of Object.entries(sql).sort((a, b) => b[1] - a[1])) {
    if (count / studies >= 0.05) console.log(`    ${(count / studies).toFixed(2).padStart(6)}  ${statement.slice(0, 150)}`);
  }
}

/** Every township study has one reading request, its creation audited, and its feed row. */
async function verify(server: Server, expected: number): Promise<string> {
  const queries = {
    studies: "select count(*) as n from studies where institution_id = 'tb-town'",
    requests: COUNTY_REQUESTS,
    'requested studies': "select count(distinct study_instance_uid) as n from reading_requests where reading_institution_id = 'tb-county'",
    audited: "select count(*) as n from audit_events where action = 'reading-request.created'",
    'feed rows': "select count(*) as n from changes where type = 'request.created'",
  };
  const figures: Record<string, number> = {};
  for (const [name, sql] of Object.entries(queries)) figures[name] = await countIn(server, sql);
  const good = Object.values(figures).every((n) => n === expected);
  return `${good ? 'ok' : 'MISMATCH'}: ${Object.entries(figures).map(([name, n]) => `${name} ${n}`).join(', ')} (expected ${expected} each)`;
}

const servers: Server[] = [];
const filesDir = await mkdtemp(path.join(tmpdir(), 'yunying-township-files-'));
try {
  for (const [n, root] of roots.entries()) servers.push(await startServer(root, n));
  for (const server of servers) await setUp(server);
  const figures = new Map<Server, Array<{ plain: LoadFigures; township: LoadFigures }>>(servers.map((server) => [server, []]));
  // warm-up: first associations, first writes, the routing rule's first match
  for (const [n, server] of servers.entries()) {
    await oneInstanceStudies(path.join(filesDir, `warm-plain-${n}`), WARM_UP, `W${n}P`);
    await oneInstanceStudies(path.join(filesDir, `warm-town-${n}`), WARM_UP, `W${n}T`);
    await load(server, path.join(filesDir, `warm-plain-${n}`), PLAIN_AE);
    await load(server, path.join(filesDir, `warm-town-${n}`), TOWNSHIP_AE, WARM_UP);
  }
  for (let round = 1; round <= rounds; round++) {
    for (const [n, server] of servers.entries()) {
      const plainDir = path.join(filesDir, `plain-${n}-${round}`);
      const townDir = path.join(filesDir, `town-${n}-${round}`);
      await oneInstanceStudies(plainDir, studies, `P${n}${round}-`);
      await oneInstanceStudies(townDir, studies, `T${n}${round}-`);
      // Which load goes first alternates, so that neither always inherits the other's leftovers (a study's settled notice comes 3 s later).
      const expected = WARM_UP + round * studies;
      let plain: LoadFigures;
      let township: LoadFigures;
      if (round % 2 === 1) {
        plain = await load(server, plainDir, PLAIN_AE);
        township = await load(server, townDir, TOWNSHIP_AE, expected);
      } else {
        township = await load(server, townDir, TOWNSHIP_AE, expected);
        plain = await load(server, plainDir, PLAIN_AE);
      }
      figures.get(server)!.push({ plain, township });
      await rm(plainDir, { recursive: true });
      await rm(townDir, { recursive: true });
    }
  }
  console.log(`${studies} one-instance studies per association, ${rounds} rounds; index ${options['database-url'] ? 'postgres' : 'sqlite'}, fsync ${options.fsync ? 'on' : 'off'}, storescu TCP_NODELAY ${options['tcp-nodelay']}`);
  console.log('| server | round | plain studies/s | township + routing studies/s | ratio | plain server CPU ms/study | township server CPU ms/study (routing incl.) | last request after storescu, ms |');
  console.log('|---|---|---|---|---|---|---|---|');
  const rate = (f: LoadFigures) => studies / (f.wallMs / 1000);
  for (const server of servers) {
    const name = path.basename(server.root);
    const rows = figures.get(server)!;
    for (const [index, { plain, township }] of rows.entries()) {
      console.log(`| ${name} | ${index + 1} | ${rate(plain).toFixed(1)} | ${rate(township).toFixed(1)} | ${(rate(township) / rate(plain)).toFixed(2)} | ${((plain.cpuS * 1000) / studies).toFixed(2)} | ${((township.cpuS * 1000) / studies).toFixed(2)} | ${township.drainMs?.toFixed(0)} |`);
    }
    const sum = (pick: (f: { plain: LoadFigures; township: LoadFigures }) => number) => rows.reduce((total, row) => total + pick(row), 0);
    const plainRate = (rows.length * studies) / (sum((row) => row.plain.wallMs) / 1000);
    const townshipRate = (rows.length * studies) / (sum((row) => row.township.wallMs) / 1000);
    console.log(`| ${name} | all | ${plainRate.toFixed(1)} | ${townshipRate.toFixed(1)} | ${(townshipRate / plainRate).toFixed(2)} | ${((sum((row) => row.plain.cpuS) * 1000) / (rows.length * studies)).toFixed(2)} | ${((sum((row) => row.township.cpuS) * 1000) / (rows.length * studies)).toFixed(2)} | |`);
  }
  for (const server of servers) {
    if (options.sql) {
      const last = figures.get(server)!.at(-1)!;
      console.log(`SQL statements, ${path.basename(server.root)}, last round:`);
      printSql('plain', last.plain.sql);
      printSql('township + routing', last.township.sql);
    }
    console.log(`verify ${path.basename(server.root)}: ${await verify(server, WARM_UP + rounds * studies)}`);
  }
} finally {
  for (const server of servers) {
    if (server.child.exitCode === null && server.child.signalCode === null) server.child.kill('SIGTERM');
    await server.exited;
    await rm(server.dataDir, { recursive: true, force: true });
  }
  await rm(filesDir, { recursive: true, force: true });
}

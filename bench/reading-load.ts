/**
 * Remote diagnosis load (issue 5): 50 concurrent radiologists working one diagnostic
 * centre's worklist of 5,000 pending requests, and 5 reviewing radiologists signing what
 * they submit; reports p50/p95/p99 latency per API endpoint and the throughput.
 *
 *   node --import tsx bench/reading-load.ts [--database-url postgres://postgres@127.0.0.1:5432/yunying_reading]
 *        [--requests 5000] [--radiologists 50] [--reviewers 5] [--per-radiologist 0 (until the worklist is empty)]
 *        [--max-seconds 120] [--pick first|random|next] [--profile-dir /tmp/prof (node --cpu-prof of the server)]
 *
 * The server runs as a child process (the same script with --serve: buildServer on port 0,
 * the configuration's defaults otherwise, so SQLite with fsync unless --database-url), so
 * the clients do not share its event loop. The hierarchy and the users are created through
 * the REST API; the 5,000 studies and their pending requests are written as rows with the
 * server's own Kysely instance, for speed; every step of the work loop is a real HTTP call.
 *
 * Not a test: speed goals live in docs/benchmarks.md, never in timed tests.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { Kysely } from 'kysely';
import type { Database } from '../packages/server/src/store/schema.ts';

const { values: options } = parseArgs({
  options: {
    serve: { type: 'boolean', default: false },
    'data-dir': { type: 'string' },
    'database-url': { type: 'string' },
    requests: { type: 'string', default: '5000' },
    radiologists: { type: 'string', default: '50' },
    reviewers: { type: 'string', default: '5' },
    'per-radiologist': { type: 'string', default: '0' },
    'max-seconds': { type: 'string', default: '120' },
    'profile-dir': { type: 'string' },
    /** first: every radiologist walks the worklist from the top (as ordered); random: from a random row of it */
    pick: { type: 'string', default: 'first' },
    /** leave the data directory (SQLite index) for EXPLAIN and friends */
    'keep-data': { type: 'boolean', default: false },
  },
});

const ADMIN_PASSWORD = 'reading-Bench-2026';
const PASSWORD = 'Correct-Horse-9';
const CENTRE = 'bench-county';
const TOWNSHIPS = ['bench-t1', 'bench-t2', 'bench-t3', 'bench-t4', 'bench-t5'];
const UID_ROOT = '1.2.826.0.1.3680043.10.1455.55';

type ServerMessage = { type: 'listening'; port: number } | { type: 'seeded'; seconds: number } | { type: 'error'; message: string };
type ClientMessage = { type: 'seed'; requests: number } | { type: 'stop' };

// The server side (child process)

async function serve(): Promise<void> {
  const { buildServer } = await import('../packages/server/src/app.ts');
  const { loadConfig } = await import('../packages/server/src/config.ts');
  const server = await buildServer(
    loadConfig({
      ...process.env,
      YUNYING_DATA_DIR: options['data-dir']!,
      YUNYING_DATABASE_URL: options['database-url'],
      YUNYING_DICOM_PORT: '0',
      YUNYING_LOG_LEVEL: 'warn',
      YUNYING_ADMIN_PASSWORD: ADMIN_PASSWORD,
    }),
  );
  await server.http.listen({ host: '127.0.0.1', port: 0 });
  const address = server.http.server.address();
  const send = (message: ServerMessage) => process.send!(message);
  process.on('message', (message: ClientMessage) => {
    if (message.type === 'seed') {
      const started = performance.now();
      seed(server.archive.database.db, message.requests).then(
        () => send({ type: 'seeded', seconds: (performance.now() - started) / 1000 }),
        (error: unknown) => send({ type: 'error', message: error instanceof Error ? (error.stack ?? error.message) : String(error) }),
      );
    } else if (message.type === 'stop') {
      // a normal exit, so that --cpu-prof writes its profile
      void server.close().finally(() => process.exit(0));
    }
  });
  send({ type: 'listening', port: typeof address === 'object' && address ? address.port : 0 });
}

/** Studies, series, instances and pending requests (with their first event and grant), in chunks of rows. */
async function seed(db: Kysely<Database>, count: number): Promise<void> {
  const SURNAMES = ['Wang^Wei=王^伟', 'Li^Na=李^娜', 'Zhang^Min=张^敏', 'Liu^Jing=刘^静', 'Chen^Lei=陈^磊', 'Zhou^Qiang=周^强'];
  const MODALITIES = [
    ['CT', 'HEAD'],
    ['CT', 'CHEST'],
    ['DX', 'CHEST'],
    ['CT', 'ABDOMEN'],
    ['DX', 'HAND'],
  ];
  const sla = { emergency: 30, urgent: 60, routine: 120 };
  const start = Date.now() - 3 * 3600_000;
  const chunk = 200;
  for (let from = 0; from < count; from += chunk) {
    const numbers = Array.from({ length: Math.min(chunk, count - from) }, (_, k) => from + k);
    const rows = numbers.map((n) => {
      const [modality, bodyPart] = MODALITIES[n % MODALITIES.length]!;
      const township = TOWNSHIPS[n % TOWNSHIPS.length]!;
      const priority = n % 20 === 0 ? 'emergency' : n % 20 < 4 ? 'urgent' : 'routine';
      const at = new Date(start + Math.floor((n / count) * 3 * 3600_000)).toISOString();
      const studyUid = `${UID_ROOT}.1.${n}`;
      const seriesUid = `${UID_ROOT}.2.${n}`;
      const name = SURNAMES[n % SURNAMES.length]!;
      return { n, modality: modality!, bodyPart: bodyPart!, township, priority: priority as keyof typeof sla, at, studyUid, seriesUid, name };
    });
    await db.transaction().execute(async (trx) => {
      await trx
        .insertInto('studies')
        .values(
          rows.map((r) => ({
            study_instance_uid: r.studyUid,
            institution_id: r.township,
            patient_id: `BP${String(r.n % 3000).padStart(6, '0')}`,
            issuer_of_patient_id: null,
            patient_name: r.name,
            patient_name_alphabetic: r.name.split('=')[0]!.toUpperCase(),
            patient_name_ideographic: r.name.split('=')[1]!,
            patient_name_phonetic: null,
            patient_name_search: `|${r.name.split('=')[0]!.toUpperCase()}|${r.name.split('=')[1]}|`,
            patient_name_bigrams: null,
            patient_birth_date: '19600101',
            patient_sex: r.n % 2 ? 'F' : 'M',
            study_date: r.at.slice(0, 10).replaceAll('-', ''),
            study_time: '093000',
            accession_number: `BA${String(r.n).padStart(8, '0')}`,
            study_id: String(r.n),
            study_description: `${r.modality} ${r.bodyPart}`,
            referring_physician_name: null,
            institution_name: null,
            modalities_in_study: r.modality,
            attributes_json: '{}',
            created_at: r.at,
            updated_at: r.at,
          })),
        )
        .execute();
      await trx
        .insertInto('series')
        .values(rows.map((r) => ({ series_instance_uid: r.seriesUid, study_instance_uid: r.studyUid, modality: r.modality, series_number: 1, series_description: r.bodyPart, body_part_examined: r.bodyPart, series_date: null, series_time: null, performed_procedure_step_start_date: null, attributes_json: '{}', created_at: r.at, updated_at: r.at })))
        .execute();
      await trx
        .insertInto('instances')
        .values(
          rows.flatMap((r) =>
            [1, 2].map((i) => ({
              sop_instance_uid: `${UID_ROOT}.3.${r.n}.${i}`,
              series_instance_uid: r.seriesUid,
              study_instance_uid: r.studyUid,
              sop_class_uid: r.modality === 'CT' ? '1.2.840.10008.5.1.4.1.1.2' : '1.2.840.10008.5.1.4.1.1.1.1',
              institution_id: r.township,
              instance_number: i,
              transfer_syntax_uid: '1.2.840.10008.1.2.1',
              number_of_frames: null,
              rows: 512,
              columns: 512,
              content_date: null,
              content_time: null,
              blob_key: `generated/${r.n}.${i}.dcm`,
              size: 525_000,
              content_sha256: `${r.n}-${i}`,
              source_ae_title: null,
              created_at: r.at,
            })),
          ),
        )
        .execute();
      const ids = rows.map((r) => `00000000-0000-4000-8000-${String(r.n).padStart(12, '0')}`);
      await trx
        .insertInto('reading_requests')
        .values(
          rows.map((r, k) => ({
            id: ids[k]!,
            study_instance_uid: r.studyUid,
            requesting_institution_id: r.township,
            reading_institution_id: CENTRE,
            requested_by: 'tech',
            routing_rule_id: null,
            priority: r.priority,
            status: 'pending',
            clinical_history: '咳嗽两周',
            exam_items: JSON.stringify([`${r.modality} ${r.bodyPart}`]),
            body_parts: JSON.stringify([r.bodyPart]),
            modality: r.modality,
            claimed_by: null,
            claimed_at: null,
            retake_reason: null,
            created_at: r.at,
            images_complete_at: r.at,
            submitted_at: null,
            signed_at: null,
            due_at: new Date(Date.parse(r.at) + sla[r.priority] * 60_000).toISOString(),
            updated_at: r.at,
          })),
        )
        .execute();
      await trx
        .insertInto('reading_request_events')
        .values(rows.map((r, k) => ({ request_id: ids[k]!, at: r.at, actor: 'tech', from_status: null, to_status: 'pending', details: '{}' })))
        .execute();
      await trx
        .insertInto('study_grants')
        .values(rows.map((r, k) => ({ study_instance_uid: r.studyUid, institution_id: CENTRE, reason: `reading request ${ids[k]}`, granted_by: 'tech', created_at: r.at })))
        .execute();
    });
  }
}

// The client side

interface Sample {
  ms: number;
  ok: boolean;
}

const samples = new Map<string, Sample[]>();
const conflicts = new Map<string, number>();
const errorExamples: string[] = [];
let baseUrl = '';

async function call<T>(endpoint: string, token: string, method: string, url: string, body?: unknown, expectConflict = false): Promise<{ status: number; body: T }> {
  const started = performance.now();
  let status = 0;
  let parsed: unknown;
  try {
    const response = await fetch(`${baseUrl}${url}`, { method, headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) }, body: body === undefined ? undefined : JSON.stringify(body) });
    status = response.status;
    const text = await response.text();
    parsed = text ? JSON.parse(text) : undefined;
  } catch (error) {
    parsed = { message: String(error) };
  }
  const ms = performance.now() - started;
  // a lost race (409), or "nothing left to claim" for next case (404): expected, not errors
  const conflict = expectConflict && (status === 409 || (status === 404 && url.endsWith('/claim-next')));
  const ok = (status >= 200 && status < 300) || conflict;
  if (conflict) conflicts.set(endpoint, (conflicts.get(endpoint) ?? 0) + 1);
  if (!ok && errorExamples.length < 10) errorExamples.push(`${endpoint}: ${status} ${JSON.stringify(parsed).slice(0, 200)}`);
  const list = samples.get(endpoint) ?? [];
  list.push({ ms, ok });
  samples.set(endpoint, list);
  return { status, body: parsed as T };
}

async function admin<T>(token: string, method: string, url: string, body?: unknown): Promise<T> {
  const response = await fetch(`${baseUrl}${url}`, { method, headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) }, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await response.text();
  if (response.status >= 300) throw new Error(`${method} ${url}: ${response.status} ${text}`);
  return (text ? JSON.parse(text) : undefined) as T;
}

async function login(username: string, password: string): Promise<string> {
  const response = await fetch(`${baseUrl}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username, password }) });
  if (response.status !== 200) throw new Error(`login ${username}: ${response.status}`);
  return ((await response.json()) as { token: string }).token;
}

type WorklistItem = { id: string; status: string };
type RequestDetail = { id: string; status: string; report?: { id: string; status: string } };

const FINDINGS = ['双肺纹理清晰，走行自然，肺野内未见异常密度影。', '纵隔居中，心影大小形态未见异常。', '双侧胸膜未见增厚，肋膈角锐利。'];

async function main(): Promise<void> {
  const requests = Number(options.requests);
  const radiologistCount = Number(options.radiologists);
  const reviewerCount = Number(options.reviewers);
  const perRadiologist = Number(options['per-radiologist']);
  const maxSeconds = Number(options['max-seconds']);
  const dataDir = await mkdtemp(path.join(tmpdir(), 'yunying-reading-bench-'));
  const execArgv = [...process.execArgv, ...(options['profile-dir'] ? ['--cpu-prof', '--cpu-prof-dir', options['profile-dir']] : [])];
  const child: ChildProcess = fork(fileURLToPath(import.meta.url), ['--serve', '--data-dir', dataDir, ...(options['database-url'] ? ['--database-url', options['database-url']] : [])], { execArgv, stdio: 'inherit' });
  const next = async (type: ServerMessage['type']): Promise<ServerMessage> => {
    const [message] = (await once(child, 'message')) as [ServerMessage];
    if (message.type === 'error') throw new Error(`server: ${message.message}`);
    if (message.type !== type) throw new Error(`expected ${type}, got ${message.type}`);
    return message;
  };
  try {
    const listening = (await next('listening')) as Extract<ServerMessage, { type: 'listening' }>;
    baseUrl = `http://127.0.0.1:${listening.port}`;

    // Hierarchy and users through the REST API
    const adminToken = await login('admin', ADMIN_PASSWORD);
    await admin(adminToken, 'POST', '/api/v1/institutions', { id: CENTRE, name: '县人民医院影像科', tier: 'county', grade: 3 });
    for (const [n, id] of TOWNSHIPS.entries()) {
      await admin(adminToken, 'POST', '/api/v1/institutions', { id, name: `第${n + 1}镇卫生院`, tier: 'township', grade: 1, parentId: CENTRE });
      await admin(adminToken, 'PUT', `/api/v1/institutions/${CENTRE}/members/${id}`);
    }
    const users = async (prefix: string, role: string, count: number): Promise<Array<{ name: string; token: string }>> => {
      const out = [];
      for (let n = 1; n <= count; n++) {
        const name = `${prefix}${n}`;
        await admin(adminToken, 'POST', '/api/v1/users', { username: name, password: PASSWORD, role, institutionId: CENTRE });
        out.push({ name, token: await login(name, PASSWORD) });
      }
      return out;
    };
    const radiologists = await users('rad', 'radiologist', radiologistCount);
    const reviewers = await users('rev', 'reviewing-radiologist', reviewerCount);

    child.send({ type: 'seed', requests } satisfies ClientMessage);
    const seeded = (await next('seeded')) as Extract<ServerMessage, { type: 'seeded' }>;
    console.error(`seeded ${requests} studies and pending requests in ${seeded.seconds.toFixed(1)} s; ${radiologistCount} radiologists, ${reviewerCount} reviewers, at most ${maxSeconds} s`);

    const started = performance.now();
    const deadline = started + maxSeconds * 1000;
    let submitted = 0;
    let signed = 0;
    let radiologistsDone = 0;

    const radiologist = async (who: { name: string; token: string }): Promise<void> => {
      let done = 0;
      while (performance.now() < deadline && (perRadiologist === 0 || done < perRadiologist)) {
        let mine: string | undefined;
        if (options.pick === 'next') {
          // "next case": the server hands each radiologist a different request in one call
          const next = await call<WorklistItem>('POST claim-next', who.token, 'POST', '/api/v1/reading-requests/claim-next', undefined, true);
          if (next.status === 404) break;
          if (next.status !== 200) continue;
          mine = next.body.id;
        } else {
          const list = await call<WorklistItem[]>('GET worklist (pending, 20)', who.token, 'GET', '/api/v1/reading-requests?status=pending&limit=20');
          if (list.status !== 200) continue;
          if (list.body.length === 0) break;
          const offset = options.pick === 'random' ? Math.floor(Math.random() * list.body.length) : 0;
          for (let k = 0; k < list.body.length; k++) {
            const item = list.body[(offset + k) % list.body.length]!;
            if (performance.now() >= deadline) break;
            const claim = await call<WorklistItem>('POST claim', who.token, 'POST', `/api/v1/reading-requests/${item.id}/claim`, undefined, true);
            if (claim.status === 200) {
              mine = item.id;
              break;
            }
          }
        }
        if (!mine) continue;
        const detail = await call<RequestDetail>('GET request', who.token, 'GET', `/api/v1/reading-requests/${mine}`);
        if (detail.status !== 200) continue;
        await call('PUT report (draft)', who.token, 'PUT', `/api/v1/reading-requests/${mine}/report`, { findings: FINDINGS[0], impression: '' });
        const draft = await call<{ id: string }>('PUT report (draft)', who.token, 'PUT', `/api/v1/reading-requests/${mine}/report`, { findings: FINDINGS.join(''), impression: '胸部未见明显异常。', positive: false });
        if (draft.status !== 200) continue;
        const submit = await call('POST submit', who.token, 'POST', `/api/v1/reports/${draft.body.id}/submit`);
        if (submit.status === 200) {
          submitted += 1;
          done += 1;
        }
      }
      radiologistsDone += 1;
    };

    const reviewer = async (who: { token: string }): Promise<void> => {
      while (performance.now() < deadline) {
        const list = await call<WorklistItem[]>('GET worklist (submitted, 20)', who.token, 'GET', '/api/v1/reading-requests?status=submitted&limit=20');
        if (list.status !== 200) continue;
        if (list.body.length === 0) {
          if (radiologistsDone === radiologists.length) return;
          await new Promise((resolve) => setTimeout(resolve, 100));
          continue;
        }
        // reviewers start at different places of the list, and lose races when they meet
        const offset = Math.floor(Math.random() * list.body.length);
        for (let k = 0; k < list.body.length && performance.now() < deadline; k++) {
          const item = list.body[(offset + k) % list.body.length]!;
          const detail = await call<RequestDetail>('GET request', who.token, 'GET', `/api/v1/reading-requests/${item.id}`);
          if (detail.status !== 200 || detail.body.status !== 'submitted' || !detail.body.report) continue;
          const sign = await call('POST sign', who.token, 'POST', `/api/v1/reports/${detail.body.report.id}/sign`, { password: PASSWORD }, true);
          if (sign.status === 200) signed += 1;
        }
      }
    };

    await Promise.all([...radiologists.map(radiologist), ...reviewers.map(reviewer)]);
    const seconds = (performance.now() - started) / 1000;
    report({ requests, radiologistCount, reviewerCount, seconds, submitted, signed, databaseUrl: options['database-url'] });
  } finally {
    if (child.exitCode === null) {
      child.send({ type: 'stop' } satisfies ClientMessage);
      await once(child, 'exit');
    }
    if (options['keep-data']) console.error(`data kept in ${dataDir}`);
    else await rm(dataDir, { recursive: true, force: true });
  }
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

function report(run: { requests: number; radiologistCount: number; reviewerCount: number; seconds: number; submitted: number; signed: number; databaseUrl?: string }): void {
  const all = [...samples.values()].flat();
  const fmt = (ms: number) => (ms >= 100 ? ms.toFixed(0) : ms.toFixed(1));
  console.log(`\n${run.databaseUrl ? 'PostgreSQL' : 'SQLite'}, --pick ${options.pick}: ${run.requests} pending requests, ${run.radiologistCount} radiologists + ${run.reviewerCount} reviewers for ${run.seconds.toFixed(1)} s; ${run.submitted} submitted (${(run.submitted / run.seconds).toFixed(1)}/s), ${run.signed} signed (${(run.signed / run.seconds).toFixed(1)}/s); ${all.length} API calls (${(all.length / run.seconds).toFixed(0)}/s)\n`);
  console.log('| endpoint | calls | 409 (lost race) | errors | p50 ms | p95 ms | p99 ms | max ms |');
  console.log('|---|---|---|---|---|---|---|---|');
  const row = (label: string, list: readonly Sample[], lost: number) => {
    const sorted = list.map((s) => s.ms).sort((a, b) => a - b);
    console.log(`| ${label} | ${list.length} | ${lost} | ${list.filter((s) => !s.ok).length} | ${fmt(percentile(sorted, 50))} | ${fmt(percentile(sorted, 95))} | ${fmt(percentile(sorted, 99))} | ${fmt(sorted.at(-1) ?? NaN)} |`);
  };
  for (const [endpoint, list] of samples) row(endpoint, list, conflicts.get(endpoint) ?? 0);
  row('**all**', all, [...conflicts.values()].reduce((a, b) => a + b, 0));
  if (errorExamples.length > 0) console.log(`\nerrors (first ${errorExamples.length}):\n${errorExamples.join('\n')}`);
}

if (options.serve) await serve();
else await main();

/**
 * The mutual-recognition mode of bench/scale.ts (issue 17): a regional patient index of
 * generated persons and their local identities, their studies with series, reading requests
 * and signed reports, then the timeline and the duplicate-exam check timed over HTTP against
 * the real server, as a clinician whose scope is one institution.
 *
 *   node --import tsx bench/scale.ts --recognition --database-url postgres://postgres@127.0.0.1/yunying_scale_recog \
 *        --persons 1000000 --studies 10000000 [--institutions 100] [--queries 500] [--skip-load]
 *
 * Everything is generated in PostgreSQL (generate_series), in chunks. The identity of a row
 * is a formula of its number, written once in SQL (identitySql) and once in TypeScript
 * (identityOf), so the client picks its samples without reading them back.
 */
import { performance } from 'node:perf_hooks';
import { sql, type Kysely, type RawBuilder } from 'kysely';
import { buildServer, MODULES } from '../packages/server/src/app.ts';
import { loadConfig } from '../packages/server/src/config.ts';
import { openIndexDatabase } from '../packages/server/src/store/database.ts';
import { postgresNameBigramsSql } from '../packages/server/src/store/migrations.ts';
import { moduleMigrations } from '../packages/server/src/modules/registry.ts';
import { NationalIdVault } from '../packages/server/src/recognition/national-id-vault.ts';
import { residentIdCheckCharacter } from '../packages/server/src/recognition/resident-id.ts';

export interface RecognitionScaleOptions {
  databaseUrl: string;
  persons: number;
  studies: number;
  institutions: number;
  queries: number;
  skipLoad: boolean;
}

const SURNAMES = [['WANG', '王'], ['LI', '李'], ['ZHANG', '张'], ['LIU', '刘'], ['CHEN', '陈'], ['YANG', '杨'], ['HUANG', '黄'], ['ZHAO', '赵'], ['WU', '吴'], ['ZHOU', '周'], ['XU', '徐'], ['SUN', '孙'], ['MA', '马'], ['ZHU', '朱'], ['HU', '胡'], ['GUO', '郭'], ['HE', '何'], ['LUO', '罗'], ['GAO', '高'], ['LIN', '林']];
const GIVEN = [['WEI', '伟'], ['FANG', '芳'], ['NA', '娜'], ['MIN', '敏'], ['JING', '静'], ['LEI', '磊'], ['QIANG', '强'], ['YANG', '洋'], ['YONG', '勇'], ['JUN', '军'], ['JIE', '杰'], ['TAO', '涛'], ['MING', '明'], ['CHAO', '超'], ['XIU', '秀'], ['XIA', '霞'], ['PING', '平'], ['GANG', '刚'], ['HUI', '辉'], ['LING', '玲']];
/** Study j's exam, by j % 10: CT 40 %, DX 30 %, MR 10 %, US 20 %, with the body parts of the catalogue's items. */
const EXAMS: ReadonlyArray<readonly [string, string]> = [['CT', 'CHEST'], ['CT', 'HEAD'], ['CT', 'ABDOMEN'], ['CT', 'CHEST'], ['DX', 'CHEST'], ['DX', 'CHEST'], ['DX', 'CHEST'], ['MR', 'HEAD'], ['US', 'ABDOMEN'], ['US', 'ABDOMEN']];
const UID_ROOT = '1.2.826.0.1.3680043.10.1455.97';
const ADMIN_PASSWORD = 'scalebench';
const CLINICIAN = { username: 'scale-clinician', password: 'Correct-Horse-9', role: 'clinician', institutionId: 'rcg-0002' };
const TABLES = ['persons', 'person_identities', 'studies', 'series', 'reading_requests', 'reports'];

/**
 * The data's shape, from its three sizes:
 * - persons 1..P; persons with p % 5 < 3 (60 %) have a resident ID (its hash).
 * - identities 1..I: identity k ≤ P is person k's first, at institution 1 + k % K, under a
 *   local MRN numbered per institution (so the same MRN string is in use at every
 *   institution, as hospitals' own numbering makes it) or, for p % 5 = 0, under an 18-digit
 *   resident-ID-like PatientID; identity k > P is a second one, at another institution, for
 *   persons with p % 10 < 3 (1.3 identities per person). Institutions with i % 4 = 0 give an
 *   IssuerOfPatientID.
 * - study j belongs to identity 1 + (j − 1) % I: each identity's studies are spread over the
 *   table as a patient's visits over the years are; dates over the last five years, a quarter
 *   of them within the last 90 days (so that duplicate checks find priors).
 */
interface Shape {
  persons: number;
  institutions: number;
  secondIdentities: number;
  identities: number;
}

function shapeOf(options: RecognitionScaleOptions): Shape {
  const secondIdentities = Math.max(0, 3 * Math.floor(options.persons / 10) - 3);
  return { persons: options.persons, institutions: options.institutions, secondIdentities, identities: options.persons + secondIdentities };
}

const pad = (value: number, width: number) => String(value).padStart(width, '0');
const personIdOf = (p: number) => `psn-${p.toString(16).padStart(8, '0')}-0000-4000-8000-000000000000`;
const institutionIdOf = (i: number) => `rcg-${pad(i, 4)}`;

/** Identity k as the server sees it (the TypeScript twin of identitySql). */
function identityOf(shape: Shape, k: number): { person: number; institutionId: string; patientId: string; issuer: string } {
  const { persons: P, institutions: K } = shape;
  const m = k - P - 1;
  const p = k <= P ? k : Math.floor(m / 3) * 10 + (m % 3) + 10;
  const institution = k <= P ? 1 + (p % K) : 1 + (((p % K) + 1 + (Math.floor(p / K) % (K - 1))) % K);
  const patientId = k <= P ? (p % 5 === 0 ? `3205${pad(p, 14)}` : `MRN${pad(Math.floor(p / K), 8)}`) : `MRN${pad(Math.floor(P / K) + 1 + m, 8)}`;
  return { person: p, institutionId: institutionIdOf(institution), patientId, issuer: institution % 4 === 0 ? `HIS-${institution}` : '' };
}

/** Identity k's columns in SQL, for a bigint expression k (the SQL twin of identityOf). */
function identitySql(shape: Shape, k: string): { lateral: RawBuilder<unknown> } {
  const { persons: P, institutions: K } = shape;
  return {
    lateral: sql.raw(`cross join lateral (select case when ${k} <= ${P} then ${k} else ((${k} - ${P} - 1) / 3) * 10 + (${k} - ${P} - 1) % 3 + 10 end as p) ip
      cross join lateral (select case when ${k} <= ${P} then 1 + ip.p % ${K} else 1 + (ip.p % ${K} + 1 + (ip.p / ${K}) % ${K - 1}) % ${K} end as inst) ii
      cross join lateral (select 'rcg-' || lpad(ii.inst::text, 4, '0') as institution_id,
        case when ${k} <= ${P} then (case when ip.p % 5 = 0 then '3205' || lpad(ip.p::text, 14, '0') else 'MRN' || lpad((ip.p / ${K})::text, 8, '0') end)
          else 'MRN' || lpad((${Math.floor(P / K)} + ${k} - ${P})::text, 8, '0') end as patient_id,
        case when ii.inst % 4 = 0 then 'HIS-' || ii.inst else '' end as issuer,
        'psn-' || lpad(to_hex(ip.p), 8, '0') || '-0000-4000-8000-000000000000' as person_id,
        case when ip.p % 5 < 3 then encode(sha256(convert_to('rid' || ip.p, 'UTF8')), 'hex') end as national_id_hash) iv
      cross join lateral (select split_part((${arrayOf(SURNAMES)})[1 + ip.p % 20], '|', 1) py_s, split_part((${arrayOf(SURNAMES)})[1 + ip.p % 20], '|', 2) hz_s,
        split_part((${arrayOf(GIVEN)})[1 + (ip.p / 20) % 20], '|', 1) py_g, split_part((${arrayOf(GIVEN)})[1 + (ip.p / 20) % 20], '|', 2) hz_g,
        to_char(date '1940-01-01' + (ip.p * 7919 % 30000)::int, 'YYYYMMDD') birth_date, case when ip.p % 2 = 0 then 'M' else 'F' end sex) n`),
  };
}

function arrayOf(pairs: string[][]): string {
  return `array[${pairs.map(([p, h]) => `'${p}|${h}'`).join(',')}]`;
}

async function chunked(label: string, count: number, chunk: number, run: (from: number, to: number) => Promise<void>): Promise<void> {
  const started = performance.now();
  for (let from = 1; from <= count; from += chunk) {
    const to = Math.min(count, from + chunk - 1);
    await run(from, to);
    if (to === count || Math.floor(to / chunk) % 10 === 0) console.error(`${label}: ${to} in ${((performance.now() - started) / 1000).toFixed(0)} s`);
  }
}

/**
 * Secondary indexes of the loaded tables are dropped for the load and built after it (one
 * sort per index instead of maintenance per row); their definitions wait in
 * bench_pending_indexes, so that a load stopped half way leaves them to the next run.
 */
async function restorePendingIndexes(db: Kysely<unknown>): Promise<void> {
  await sql`create table if not exists bench_pending_indexes (name text primary key, definition text not null)`.execute(db);
  const pending = await sql<{ name: string; definition: string }>`select name, definition from bench_pending_indexes`.execute(db);
  for (const { name, definition } of pending.rows) {
    const started = performance.now();
    await sql`drop index if exists ${sql.id(name)}`.execute(db);
    await sql.raw(definition).execute(db);
    await sql`delete from bench_pending_indexes where name = ${name}`.execute(db);
    console.error(`index ${name}: ${((performance.now() - started) / 1000).toFixed(0)} s`);
  }
}

/** With --skip-load after a load that was stopped: its indexes built, its statistics taken. */
async function finishStoppedLoad(options: RecognitionScaleOptions): Promise<void> {
  const index = await openIndexDatabase({ dataDir: '/tmp', databaseUrl: options.databaseUrl, fsync: false, moduleMigrations: moduleMigrations(MODULES) });
  await index.db.connection().execute(async (untyped) => {
    const db = untyped as unknown as Kysely<unknown>;
    await sql`set maintenance_work_mem = '1GB'`.execute(db);
    const pending = await sql<{ n: number }>`select count(*)::int as n from pg_tables where tablename = 'bench_pending_indexes'`.execute(db);
    if (pending.rows[0].n === 0) return;
    const before = await sql<{ n: number }>`select count(*)::int as n from bench_pending_indexes`.execute(db);
    if (before.rows[0].n === 0) return;
    await restorePendingIndexes(db);
    for (const table of TABLES) await sql`vacuum analyze ${sql.id(table)}`.execute(db);
  });
  await index.close();
}

async function load(options: RecognitionScaleOptions, shape: Shape): Promise<void> {
  const index = await openIndexDatabase({ dataDir: '/tmp', databaseUrl: options.databaseUrl, fsync: false, moduleMigrations: moduleMigrations(MODULES) });
  const started = performance.now();
  await index.db.connection().execute(async (untyped) => {
    const db = untyped as unknown as Kysely<unknown>;
    await sql`set maintenance_work_mem = '1GB'`.execute(db);
    await sql`set synchronous_commit = off`.execute(db);
    // the rows are consistent by construction: no foreign-key trigger per row (superuser only)
    await sql`set session_replication_role = replica`.execute(db);
    await restorePendingIndexes(db);
    const tables = sql.join(TABLES.map((table) => sql.lit(table)));
    await sql`insert into bench_pending_indexes (name, definition)
      select indexname, indexdef from pg_indexes
      where schemaname = 'public' and tablename in (${tables}) and indexname not in (select conname from pg_constraint)`.execute(db);
    for (const { name } of (await sql<{ name: string }>`select name from bench_pending_indexes`.execute(db)).rows) await sql`drop index ${sql.id(name)}`.execute(db);

    const { persons: P, institutions: K } = shape;
    const at = new Date().toISOString();
    await sql`insert into institutions (id, name, created_at, tier, grade, region_code)
      select 'rcg-' || lpad(i::text, 4, '0'), case when i = 1 then '区域影像中心' else '第' || i || '医院' end, ${at},
        case when i = 1 then 'county' else 'township' end, case when i = 1 then 3 else 1 + i % 2 end, '320583'
      from generate_series(1, ${K}) i on conflict (id) do nothing`.execute(db);

    await chunked('persons', P, 200_000, async (from, to) => {
      await sql`insert into persons (id, national_id_hash, national_id_cipher, national_id_masked, merged_into, created_at, updated_at)
        select iv.person_id, iv.national_id_hash, case when iv.national_id_hash is not null then 'v1.bench' end,
          case when iv.national_id_hash is not null then '3205**********' || lpad((ip.p % 10000)::text, 4, '0') end, null, ${at}, ${at}
        from generate_series(${from}::bigint, ${to}::bigint) k ${identitySql(shape, 'k').lateral}`.execute(db);
    });
    await chunked('identities', shape.identities, 200_000, async (from, to) => {
      await sql`insert into person_identities (id, person_id, institution_id, patient_id, issuer, patient_name, name_key, birth_date, sex, national_id_hash, link_kind, pinned, created_at, updated_at)
        select 'pid-' || lpad(to_hex(k), 8, '0') || '-0000-4000-8000-000000000001', iv.person_id, iv.institution_id, iv.patient_id, iv.issuer,
          n.hz_s || '^' || n.hz_g, n.py_s || n.py_g, n.birth_date, n.sex, iv.national_id_hash,
          case when iv.national_id_hash is not null then 'national-id' else 'own' end, 0, ${at}, ${at}
        from generate_series(${from}::bigint, ${to}::bigint) k ${identitySql(shape, 'k').lateral}`.execute(db);
    });

    const exams = sql.raw(`(array[${EXAMS.map(([m, b]) => `'${m}|${b}'`).join(',')}])[1 + j % 10]`);
    await chunked('studies', options.studies, 100_000, async (from, to) => {
      await sql`insert into studies (study_instance_uid, institution_id, patient_id, issuer_of_patient_id, patient_name, patient_name_alphabetic, patient_name_ideographic,
          patient_name_search, patient_name_bigrams, patient_birth_date, patient_sex, study_date, study_time, accession_number, study_id, study_description, modalities_in_study,
          attributes_json, created_at, updated_at, study_key)
        select ${`${UID_ROOT}.1.`} || j, iv.institution_id, iv.patient_id, nullif(iv.issuer, ''),
          n.py_s || '^' || n.py_g || '=' || n.hz_s || '^' || n.hz_g, n.py_s || '^' || n.py_g, n.hz_s || '^' || n.hz_g,
          t.search, ${postgresNameBigramsSql(sql.ref('t.search'))}, n.birth_date, n.sex,
          to_char(current_date - (case when j % 4 = 0 then (j * 104729) % 90 else (j * 104729) % 1826 end)::int, 'YYYYMMDD'), lpad(((j % 24) * 10000 + (j % 60) * 100)::text, 6, '0'),
          'R' || lpad(j::text, 10, '0'), (j % 100000)::text, split_part(e.exam, '|', 1) || ' ' || split_part(e.exam, '|', 2), split_part(e.exam, '|', 1),
          '{}', ${at}, ${at}, md5('study key ' || j)
        from generate_series(${from}::bigint, ${to}::bigint) j
        cross join lateral (select 1 + (j - 1) % ${shape.identities} as k, ${exams} as exam) e
        ${identitySql(shape, 'e.k').lateral}
        cross join lateral (select '|' || n.py_s || '^' || n.py_g || '|' || n.py_s || n.py_g || '|' || n.hz_s || '^' || n.hz_g || '|' || n.hz_s || n.hz_g || '|' as search) t`.execute(db);
      // 1.5 series per study: every study has one, even-numbered ones a second of the same exam
      await sql`insert into series (series_instance_uid, study_instance_uid, modality, series_number, series_description, body_part_examined, attributes_json, created_at, updated_at)
        select ${`${UID_ROOT}.2.`} || j || '.' || s, ${`${UID_ROOT}.1.`} || j, split_part(${exams}, '|', 1), s, 'SERIES ' || s, split_part(${exams}, '|', 2), '{}', ${at}, ${at}
        from generate_series(${from}::bigint, ${to}::bigint) j cross join generate_series(1, 2) s where s = 1 or j % 2 = 0`.execute(db);
      // reading requests for 30 % of studies (j % 10 < 3), two thirds of them signed with a report
      await sql`insert into reading_requests (id, study_instance_uid, requesting_institution_id, reading_institution_id, requested_by, priority, status, exam_items, body_parts, modality,
          created_at, images_complete_at, signed_at, updated_at, study_key)
        select 'rr-' || j, ${`${UID_ROOT}.1.`} || j, iv.institution_id, 'rcg-0001', 'scale-bench', 'routine', case when j % 10 = 0 then 'requested' else 'signed' end,
          '[]', '["' || split_part(e.exam, '|', 2) || '"]', split_part(e.exam, '|', 1), ${at}, ${at}, case when j % 10 = 0 then null else ${at} end, ${at}, md5('study key ' || j)
        from generate_series(${from}::bigint, ${to}::bigint) j
        cross join lateral (select 1 + (j - 1) % ${shape.identities} as k, ${exams} as exam) e
        ${identitySql(shape, 'e.k').lateral}
        where j % 10 < 3`.execute(db);
      await sql`insert into reports (id, request_id, study_instance_uid, status, version, findings, impression, author, created_at, updated_at, signed_at)
        select 'rp-' || j, 'rr-' || j, ${`${UID_ROOT}.1.`} || j, 'signed', 1, '所见：未见明显异常密度影。', '未见明显异常。', 'scale-bench', ${at}, ${at}, ${at}
        from generate_series(${from}::bigint, ${to}::bigint) j where j % 10 in (1, 2)`.execute(db);
    });
    console.error(`rows loaded in ${((performance.now() - started) / 1000).toFixed(0)} s; building indexes`);
    await sql`set session_replication_role = origin`.execute(db);
    await restorePendingIndexes(db);
    for (const table of TABLES) await sql`vacuum analyze ${sql.id(table)}`.execute(db);
  });
  console.error(`load done in ${((performance.now() - started) / 1000).toFixed(0)} s`);
  await index.close();
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function measure<T>(label: string, inputs: T[], run: (input: T) => Promise<number>): Promise<void> {
  // a few untimed requests first: connections, JIT and plan caches, not the data
  for (const input of inputs.slice(0, 10)) await run(input);
  const times: number[] = [];
  let results = 0;
  for (const input of inputs) {
    const started = performance.now();
    results += await run(input);
    times.push(performance.now() - started);
  }
  times.sort((a, b) => a - b);
  console.log(`| ${label} | ${percentile(times, 50).toFixed(1)} | ${percentile(times, 95).toFixed(1)} | ${percentile(times, 99).toFixed(1)} | ${(results / inputs.length).toFixed(1)} |`);
}

/** A valid resident ID for person p (born on its birth date), unique per p within one run's samples. */
function residentIdOf(p: number): string {
  const born = new Date(Date.UTC(1940, 0, 1) + ((p * 7919) % 30000) * 86_400_000);
  const first17 = `320583${born.toISOString().slice(0, 10).replace(/-/g, '')}${pad(p % 1000, 3)}`;
  return first17 + residentIdCheckCharacter(first17);
}

async function queries(options: RecognitionScaleOptions, shape: Shape): Promise<void> {
  const server = await buildServer(loadConfig({ YUNYING_DATABASE_URL: options.databaseUrl, YUNYING_DATA_DIR: '/tmp/yunying-scale-recog', YUNYING_DICOM_PORT: '0', YUNYING_LOG_LEVEL: 'warn', YUNYING_ADMIN_PASSWORD: ADMIN_PASSWORD }));
  await server.http.listen({ host: '127.0.0.1', port: 0 });
  const address = server.http.server.address();
  const base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  const call = async (method: string, path: string, token: string | undefined, body?: unknown): Promise<{ status: number; body: unknown }> => {
    const response = await fetch(`${base}${path}`, {
      method,
      headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: response.status, body: await response.json() };
  };
  const login = async (username: string, password: string): Promise<string> => {
    const answer = await call('POST', '/api/v1/auth/login', undefined, { username, password });
    if (answer.status !== 200) throw new Error(`login of ${username}: HTTP ${answer.status} ${JSON.stringify(answer.body)}`);
    return (answer.body as { token: string }).token;
  };
  const admin = await login('admin', ADMIN_PASSWORD);
  const created = await call('POST', '/api/v1/users', admin, CLINICIAN);
  if (created.status !== 201 && created.status !== 409) throw new Error(`clinician: HTTP ${created.status} ${JSON.stringify(created.body)}`);
  const clinician = await login(CLINICIAN.username, CLINICIAN.password);

  // random persons (Knuth's multiplicative hash of the sample number), the same every run
  const pick = (n: number, salt: number) => 1 + Math.floor((((n + salt) * 2654435761) % 2 ** 32) / 2 ** 32 * shape.persons);
  const persons = Array.from({ length: options.queries }, (_, n) => pick(n, 0));
  // Resident IDs are hashed under the server's key (HMAC): the sampled persons with one get a
  // valid resident ID of their own, hashed as the server hashes it.
  const vault = new NationalIdVault(server.archive.stores.audit.key.key);
  const byNationalId = [...new Set(Array.from({ length: options.queries }, (_, n) => pick(n, 7)).filter((p) => p % 5 < 3))];
  const seen = new Set<string>();
  const withIds: Array<{ person: number; nationalId: string }> = [];
  const index = await openIndexDatabase({ dataDir: '/tmp', databaseUrl: options.databaseUrl, fsync: false, moduleMigrations: moduleMigrations(MODULES) });
  for (const p of byNationalId) {
    const nationalId = residentIdOf(p);
    if (seen.has(nationalId)) continue;
    seen.add(nationalId);
    const hash = vault.hash(nationalId);
    await sql`update persons set national_id_hash = ${hash} where id = ${personIdOf(p)}`.execute(index.db);
    await sql`update person_identities set national_id_hash = ${hash} where person_id = ${personIdOf(p)} and national_id_hash is not null`.execute(index.db);
    withIds.push({ person: p, nationalId });
  }
  const counted = (await sql<{ studies: number; series: number; requests: number; reports: number }>`select (select count(*) from studies)::int as studies, (select count(*) from series)::int as series,
      (select count(*) from reading_requests)::int as requests, (select count(*) from reports)::int as reports`.execute(index.db)).rows[0];
  await index.close();

  const timeline = async (p: number) => {
    const answer = await call('GET', `/api/v1/patients/${personIdOf(p)}/timeline`, clinician);
    if (answer.status !== 200) throw new Error(`timeline of ${p}: HTTP ${answer.status} ${JSON.stringify(answer.body)}`);
    return (answer.body as { entries: unknown[] }).entries.length;
  };
  const check = async (body: unknown) => {
    const answer = await call('POST', '/api/v1/duplicate-checks', clinician, body);
    if (answer.status !== 200) throw new Error(`duplicate check ${JSON.stringify(body)}: HTTP ${answer.status} ${JSON.stringify(answer.body)}`);
    return (answer.body as { matches: unknown[] }).matches.length;
  };
  const examOf = (n: number) => ({ modality: EXAMS[n % 10][0], bodyPart: EXAMS[n % 10][1] });
  const byLocalId = persons.map((p, n) => {
    const identity = identityOf(shape, p);
    return { patient: { patientId: identity.patientId, institutionId: identity.institutionId, ...(identity.issuer ? { issuerOfPatientId: identity.issuer } : {}) }, ...examOf(n) };
  });

  console.log(`\n${shape.persons} persons, ${shape.identities} identities at ${shape.institutions} institutions, ${counted.studies} studies, ${counted.series} series, ${counted.requests} reading requests, ${counted.reports} reports; ${options.queries} requests per row as ${CLINICIAN.role} of ${CLINICIAN.institutionId}\n`);
  console.log('| request | p50 ms | p95 ms | p99 ms | results |');
  console.log('|---|---|---|---|---|');
  await measure('GET /api/v1/patients/{id}/timeline', persons, timeline);
  await measure('POST /api/v1/duplicate-checks (patientId + institution)', byLocalId, check);
  await measure(`POST /api/v1/duplicate-checks (nationalId, ${withIds.length} persons)`, withIds.map(({ nationalId }, n) => ({ patient: { nationalId }, ...examOf(n) })), check);
  await server.close();
}

export async function runRecognitionScale(options: RecognitionScaleOptions): Promise<void> {
  if (options.persons < 100 || options.institutions < 4) throw new Error('--persons ≥ 100 and --institutions ≥ 4');
  const shape = shapeOf(options);
  if (!options.skipLoad) await load(options, shape);
  else await finishStoppedLoad(options);
  await queries(options, shape);
}

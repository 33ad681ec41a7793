/**
 * Scale benchmark for the PostgreSQL index (issue 3): loads generated index rows — studies,
 * series and instances, no blobs, since QIDO-RS and C-FIND never read them — and measures
 * QIDO-RS and C-FIND latency for the common query shapes through the real server.
 *
 *   node --import tsx bench/scale.ts --database-url postgres://postgres@127.0.0.1/yunying_scale \
 *        --studies 1000000 --instances-per-study 10 [--queries 100] [--skip-load]
 *
 * With --recognition it loads a regional patient index instead (persons, their identities,
 * studies, series, reading requests and reports) and times the timeline and the
 * duplicate-exam check (issue 17, bench/scale-recognition.ts):
 *
 *   node --import tsx bench/scale.ts --recognition --database-url postgres://postgres@127.0.0.1/yunying_scale_recog \
 *        --persons 1000000 --studies 10000000 [--institutions 100] [--queries 500] [--skip-load]
 *
 * Not a test: speed goals live here and in docs/scaling.md, never in timed tests.
 */
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { sql } from 'kysely';
import { encodeDataset, type DicomJsonDataset } from '@yunying/dicom';
import { buildServer } from '../packages/server/src/app.ts';
import { loadConfig } from '../packages/server/src/config.ts';
import { openIndexDatabase } from '../packages/server/src/store/database.ts';
import { postgresNameBigramsSql } from '../packages/server/src/store/migrations.ts';
import { openAssociation } from '../packages/dimse/src/scu.ts';
import { COMMAND, DATASET_PRESENT } from '../packages/dimse/src/dimse-message.ts';
import { runRecognitionScale } from './scale-recognition.ts';

const { values: options } = parseArgs({
  options: {
    'database-url': { type: 'string' },
    studies: { type: 'string', default: '1000000' },
    'instances-per-study': { type: 'string', default: '10' },
    'series-per-study': { type: 'string', default: '2' },
    queries: { type: 'string', default: '100' },
    'skip-load': { type: 'boolean', default: false },
    // issue 17: the regional patient index, timeline and duplicate check (bench/scale-recognition.ts)
    recognition: { type: 'boolean', default: false },
    persons: { type: 'string', default: '1000000' },
    institutions: { type: 'string', default: '100' },
  },
});
const databaseUrl = options['database-url'];
if (!databaseUrl?.startsWith('postgres')) throw new Error('--database-url postgres://… is required');
const studyCount = Number(options.studies);
const instancesPerStudy = Number(options['instances-per-study']);
const seriesPerStudy = Number(options['series-per-study']);
const queryCount = Number(options.queries);

// Names as the regional population has them: pinyin and hanzi, surname first.
const SURNAMES = [['WANG', '王'], ['LI', '李'], ['ZHANG', '张'], ['LIU', '刘'], ['CHEN', '陈'], ['YANG', '杨'], ['HUANG', '黄'], ['ZHAO', '赵'], ['WU', '吴'], ['ZHOU', '周'], ['XU', '徐'], ['SUN', '孙'], ['MA', '马'], ['ZHU', '朱'], ['HU', '胡'], ['GUO', '郭'], ['HE', '何'], ['LUO', '罗'], ['GAO', '高'], ['LIN', '林']];
const GIVEN = [['WEI', '伟'], ['FANG', '芳'], ['NA', '娜'], ['MIN', '敏'], ['JING', '静'], ['LEI', '磊'], ['QIANG', '强'], ['YANG', '洋'], ['YONG', '勇'], ['JUN', '军'], ['JIE', '杰'], ['TAO', '涛'], ['MING', '明'], ['CHAO', '超'], ['XIU', '秀'], ['XIA', '霞'], ['PING', '平'], ['GANG', '刚'], ['HUI', '辉'], ['LING', '玲']];
const MODALITIES = ['CT', 'DX', 'US', 'MR', 'CR'];
// QIDO-RS as the administrator (HTTP Basic), as a reading client with credentials would.
const ADMIN_PASSWORD = 'scalebench';
const UID_ROOT = '1.2.826.0.1.3680043.10.1455.99';

async function load(): Promise<void> {
  const index = await openIndexDatabase({ dataDir: '/tmp', databaseUrl, fsync: false });
  const { db } = index;
  const surnames = sql.raw(`array[${SURNAMES.map(([p, h]) => `'${p}|${h}'`).join(',')}]`);
  const given = sql.raw(`array[${GIVEN.map(([p, h]) => `'${p}|${h}'`).join(',')}]`);
  const modalities = sql.raw(`array[${MODALITIES.map((m) => `'${m}'`).join(',')}]`);
  const chunk = 50_000;
  const started = performance.now();
  for (let from = 1; from <= studyCount; from += chunk) {
    const to = Math.min(studyCount, from + chunk - 1);
    // One statement per table per chunk, computed in the database (generate_series): the
    // load is bound by index maintenance, not by the client.
    await sql`insert into studies (study_instance_uid, institution_id, patient_id, patient_name, patient_name_alphabetic, patient_name_ideographic,
        patient_name_search, patient_name_bigrams, patient_birth_date, patient_sex, study_date, study_time, accession_number, study_id, study_description, modalities_in_study,
        attributes_json, created_at, updated_at)
      select ${`${UID_ROOT}.1.`} || g, 'default', 'P' || lpad((g % ${Math.max(1, Math.floor(studyCount / 3))})::text, 8, '0'),
        n.py_s || '^' || n.py_g || '=' || n.hz_s || '^' || n.hz_g, n.py_s || '^' || n.py_g, n.hz_s || '^' || n.hz_g,
        t.search, ${postgresNameBigramsSql(sql.ref('t.search'))},
        to_char(date '1940-01-01' + (g * 7919 % 30000)::int, 'YYYYMMDD'), case when g % 2 = 0 then 'M' else 'F' end,
        to_char(date '2020-01-01' + (g * 104729 % 2500)::int, 'YYYYMMDD'), lpad(((g % 24) * 10000 + (g % 60) * 100)::text, 6, '0'),
        'A' || lpad(g::text, 10, '0'), (g % 100000)::text, 'STUDY ' || (g % 50), m.modality, '{}', now()::text, now()::text
      from generate_series(${from}::bigint, ${to}::bigint) g
      cross join lateral (select split_part((${surnames})[1 + g % 20], '|', 1) py_s, split_part((${surnames})[1 + g % 20], '|', 2) hz_s,
        split_part((${given})[1 + (g / 20) % 20], '|', 1) py_g, split_part((${given})[1 + (g / 20) % 20], '|', 2) hz_g) n
      -- the search text and its bigrams as ingest makes them (personNameSearchText, personNameBigrams)
      cross join lateral (select '|' || n.py_s || '^' || n.py_g || '|' || n.py_s || n.py_g || '|' || n.hz_s || '^' || n.hz_g || '|' || n.hz_s || n.hz_g || '|' as search) t
      cross join lateral (select (${modalities})[1 + g % 5] modality) m`.execute(db);
    await sql`insert into series (series_instance_uid, study_instance_uid, modality, series_number, series_description, attributes_json, created_at, updated_at)
      select ${`${UID_ROOT}.2.`} || g || '.' || s, ${`${UID_ROOT}.1.`} || g, (${modalities})[1 + g % 5], s, 'SERIES ' || s, '{}', now()::text, now()::text
      from generate_series(${from}::bigint, ${to}::bigint) g cross join generate_series(1, ${seriesPerStudy}) s`.execute(db);
    await sql`insert into instances (sop_instance_uid, series_instance_uid, study_instance_uid, sop_class_uid, institution_id, instance_number, transfer_syntax_uid,
        rows, columns, blob_key, size, content_sha256, created_at)
      select ${`${UID_ROOT}.3.`} || g || '.' || i, ${`${UID_ROOT}.2.`} || g || '.' || (1 + i % ${seriesPerStudy}), ${`${UID_ROOT}.1.`} || g,
        '1.2.840.10008.5.1.4.1.1.2', 'default', i, '1.2.840.10008.1.2.1', 512, 512, 'generated/' || g || '.' || i || '.dcm', 525000, md5(g::text || i), now()::text
      from generate_series(${from}::bigint, ${to}::bigint) g cross join generate_series(1, ${instancesPerStudy}) i`.execute(db);
    const seconds = (performance.now() - started) / 1000;
    console.error(`loaded ${to} studies, ${to * instancesPerStudy} instances in ${seconds.toFixed(0)} s`);
  }
  // What autovacuum would do soon after a load: statistics, and the visibility map that lets
  // counts be answered from indexes alone.
  await sql`vacuum analyze`.execute(db);
  await index.close();
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function measure(label: string, paths: string[], run: (path: string) => Promise<number>): Promise<void> {
  const times: number[] = [];
  let results = 0;
  for (const path of paths) {
    const started = performance.now();
    results += await run(path);
    times.push(performance.now() - started);
  }
  times.sort((a, b) => a - b);
  console.log(`| ${label} | ${percentile(times, 50).toFixed(1)} | ${percentile(times, 95).toFixed(1)} | ${(results / paths.length).toFixed(1)} |`);
}

async function queries(): Promise<void> {
  const server = await buildServer(loadConfig({ YUNYING_DATABASE_URL: databaseUrl, YUNYING_DATA_DIR: '/tmp/yunying-scale', YUNYING_DICOM_PORT: '0', YUNYING_LOG_LEVEL: 'warn', YUNYING_ADMIN_PASSWORD: ADMIN_PASSWORD }));
  await server.http.listen({ host: '127.0.0.1', port: 0 });
  const address = server.http.server.address();
  const base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/dicom-web`;
  const dicomPort = await server.startDicom();
  const pick = (n: number) => 1 + Math.floor(((n * 2654435761) % 2 ** 32) / 2 ** 32 * studyCount);
  const many = (make: (n: number) => string) => Array.from({ length: queryCount }, (_, n) => make(n));
  const qido = async (path: string) => {
    const response = await fetch(`${base}${path}`, { headers: { authorization: `Basic ${Buffer.from(`admin:${ADMIN_PASSWORD}`).toString('base64')}` } });
    if (response.status !== 200) throw new Error(`${path}: HTTP ${response.status}`);
    return ((await response.json()) as unknown[]).length;
  };
  const month = (n: number) => `${2020 + (n % 6)}${String(1 + (n % 12)).padStart(2, '0')}`;
  console.log(`\n${studyCount} studies, ${studyCount * seriesPerStudy} series, ${studyCount * instancesPerStudy} instances; ${queryCount} queries each\n`);
  console.log('| QIDO-RS query (limit 100 unless said) | p50 ms | p95 ms | results |');
  console.log('|---|---|---|---|');
  await measure('PatientID', many((n) => `/studies?PatientID=P${String(pick(n) % Math.floor(studyCount / 3)).padStart(8, '0')}`), qido);
  await measure('AccessionNumber', many((n) => `/studies?AccessionNumber=A${String(pick(n)).padStart(10, '0')}`), qido);
  await measure('PatientName SURNAME* (pinyin prefix)', many((n) => `/studies?PatientName=${SURNAMES[n % 20][0]}*&limit=100`), qido);
  await measure('PatientName SURNAME^GIVEN (exact)', many((n) => `/studies?PatientName=${SURNAMES[n % 20][0]}^${GIVEN[(n * 7) % 20][0]}&limit=100`), qido);
  await measure('PatientName *汉字* (contains)', many((n) => `/studies?PatientName=${encodeURIComponent(`*${SURNAMES[n % 20][1]}${GIVEN[(n * 3) % 20][1]}*`)}&limit=100`), qido);
  await measure('StudyDate one month', many((n) => `/studies?StudyDate=${month(n)}01-${month(n)}28&limit=100`), qido);
  await measure('StudyDate month + ModalitiesInStudy=CT', many((n) => `/studies?StudyDate=${month(n)}01-${month(n)}28&ModalitiesInStudy=CT&limit=100`), qido);
  await measure('series of one study', many((n) => `/studies/${UID_ROOT}.1.${pick(n)}/series`), qido);
  await measure('instances of one study', many((n) => `/studies/${UID_ROOT}.1.${pick(n)}/instances`), qido);

  const client = await openAssociation({ host: '127.0.0.1', port: dicomPort, callingAeTitle: 'SCALEBENCH', calledAeTitle: 'YUNYING', presentationContexts: [{ abstractSyntax: '1.2.840.10008.5.1.4.1.2.2.1', transferSyntaxes: ['1.2.840.10008.1.2.1'] }] });
  const context = client.findContext('1.2.840.10008.5.1.4.1.2.2.1')!;
  const find = async (identifier: DicomJsonDataset): Promise<number> => {
    let matches = 0;
    await client.request(context.id, { commandField: COMMAND.C_FIND_RQ, affectedSopClassUid: context.abstractSyntax, priority: 0, commandDataSetType: DATASET_PRESENT }, encodeDataset(identifier, context.transferSyntax), () => (matches += 1));
    return matches;
  };
  const keys = (extra: DicomJsonDataset): DicomJsonDataset => ({ '00080052': { vr: 'CS', Value: ['STUDY'] }, '0020000D': { vr: 'UI' }, '00100010': { vr: 'PN' }, ...extra });
  console.log('\n| C-FIND (Study Root, STUDY level) | p50 ms | p95 ms | results |');
  console.log('|---|---|---|---|');
  await measure('PatientID', many((n) => `P${String(pick(n) % Math.floor(studyCount / 3)).padStart(8, '0')}`), (id) => find(keys({ '00100020': { vr: 'LO', Value: [id] } })));
  await measure('AccessionNumber', many((n) => `A${String(pick(n)).padStart(10, '0')}`), (accession) => find(keys({ '00080050': { vr: 'SH', Value: [accession] } })));
  await measure('StudyDate one day', many((n) => `${month(n)}15`), (day) => find(keys({ '00080020': { vr: 'DA', Value: [day] } })));
  await client.release();
  await server.close();
}

if (options.recognition) {
  await runRecognitionScale({ databaseUrl, persons: Number(options.persons), studies: studyCount, institutions: Number(options.institutions), queries: queryCount, skipLoad: options['skip-load'] });
} else {
  if (!options['skip-load']) await load();
  await queries();
}

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Kysely, Migrator, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import type { DicomJsonDataset } from '@yunying/dicom';
import { systemCaller } from '../access/caller.ts';
import { openArchive, type Archive } from '../archive/archive.ts';
import { personNameBigrams } from '../archive/matching.ts';
import { createTestDatabase, type TestDatabase } from '../test-support/postgres.ts';
import { makeSyntheticInstance, newUid, type SyntheticInstanceOptions } from '../test-support/synthetic-dicom.ts';
import { migrateToLatest } from './database.ts';
import { migrationProviderFor, postgresNameBigramsSql } from './migrations.ts';
import type { Database } from './schema.ts';

/**
 * Migration 0003 gives PostgreSQL other paths to the same answers (name bigrams, name forms,
 * the study's modality list); SQLite keeps the LIKE and the series probe. Both databases must
 * answer every query exactly alike, with no false hit from an index that only narrows.
 */
const NAMES = {
  xiaoDong: 'Wang^XiaoDong=王^小东=',
  xiaoMing: 'Wang^XiaoMing=王^小明=',
  dongXiao: 'Li^DongXiao=李^东小=', // both characters of 小东, the other way round
  xiaoDongChen: 'Chen^XiaoDong=陈^晓东=', // the same pinyin, other hanzi
  zhangSan: 'Zhang^San=张^三=',
  ideographicOnly: '=王小东', // no alphabetic group at all
} as const;
type Who = keyof typeof NAMES;

/**
 * The test's own pool. The database is dropped `with (force)` when the file ends; a connection
 * the server terminates then is expected, and unheard its pool's error event would end the run.
 */
function quietPool(connectionString: string, max: number): pg.Pool {
  const pool = new pg.Pool({ connectionString, max });
  pool.on('error', () => undefined);
  return pool;
}

for (const backend of ['sqlite', 'postgres'] as const) {
  describe(`index paths of migration 0003 on ${backend}`, () => {
    let archive: Archive;
    let dataDir: string;
    let postgres: TestDatabase | undefined;
    const run = `X${Date.now() % 100000}`;
    const studyOf = new Map<string, Who | string>();

    async function store(who: Who | string, options: SyntheticInstanceOptions): Promise<string> {
      const studyInstanceUid = options.studyInstanceUid ?? newUid();
      studyOf.set(studyInstanceUid, who);
      await archive.ingest(systemCaller(), { kind: 'part10', bytes: makeSyntheticInstance({ accessionNumber: `${run}-${who}`, studyInstanceUid, ...options }).bytes });
      return studyInstanceUid;
    }

    before(async () => {
      dataDir = await mkdtemp(path.join(tmpdir(), 'yunying-query-indexes-'));
      postgres = backend === 'postgres' ? await createTestDatabase() : undefined;
      archive = await openArchive({ dataDir, fsync: false, databaseUrl: postgres?.url });
      for (const who of Object.keys(NAMES) as Who[]) await store(who, { patientName: NAMES[who], modality: 'CT', studyDate: '20240110' });
      // Dates and modalities: a CT in and out of January, an MR, and a study that is CT
      // first and gains MR with its second series (the study's list is updated, not rebuilt).
      await store('ct-january', { patientName: 'DATE^CT', modality: 'CT', studyDate: '20240131' });
      await store('ct-february', { patientName: 'DATE^CT', modality: 'CT', studyDate: '20240201' });
      await store('mr-january', { patientName: 'DATE^MR', modality: 'MR', studyDate: '20240115' });
      const both = await store('ct-mr-january', { patientName: 'DATE^BOTH', modality: 'CT', studyDate: '20240102' });
      await store('ct-mr-january', { studyInstanceUid: both, patientName: 'DATE^BOTH', modality: 'MR', studyDate: '20240102' });
      await store('dx-january', { patientName: 'DATE^DX', modality: 'DX', studyDate: '20240120' });
    });

    after(async () => {
      await archive.close();
      await postgres?.drop();
      await rm(dataDir, { recursive: true, force: true });
    });

    async function found(keys: DicomJsonDataset): Promise<string[]> {
      const results = await archive.query(systemCaller(), { level: 'STUDY', keys: { '00080050': { vr: 'SH', Value: [`${run}-*`] }, ...keys } });
      return results.map((r) => studyOf.get(String(r['0020000D']?.Value?.[0])) ?? 'unknown').sort();
    }
    const byName = (value: string) => found({ '00100010': { vr: 'PN', Value: [{ Alphabetic: value }] } });

    test('two hanzi contained in the name: only names holding that pair, in that order', async () => {
      assert.deepEqual(await byName('*小东*'), ['ideographicOnly', 'xiaoDong']);
      assert.deepEqual(await byName('*王小*'), ['ideographicOnly', 'xiaoDong', 'xiaoMing']);
      assert.deepEqual(await byName('*东小*'), ['dongXiao']);
      assert.deepEqual(await byName('*王^小*'), ['xiaoDong', 'xiaoMing']);
      assert.deepEqual(await byName('*王小东*'), ['ideographicOnly', 'xiaoDong']);
      assert.deepEqual(await byName('*晓东'), ['xiaoDongChen']);
      assert.deepEqual(await byName('王小*'), ['ideographicOnly', 'xiaoDong', 'xiaoMing']);
      assert.deepEqual(await byName('*张三*'), ['zhangSan']);
      assert.deepEqual(await byName('*东王*'), [], 'a pair across two forms is no match');
    });

    test('one hanzi, inner wildcards and pinyin keep their paths and answers', async () => {
      assert.deepEqual(await byName('*东*'), ['dongXiao', 'ideographicOnly', 'xiaoDong', 'xiaoDongChen']);
      assert.deepEqual(await byName('*小*东*'), ['ideographicOnly', 'xiaoDong']);
      assert.deepEqual(await byName('王?小东'), ['xiaoDong']);
      assert.deepEqual(await byName('*xiaodong*'), ['xiaoDong', 'xiaoDongChen']);
      assert.deepEqual(await byName('WANG*'), ['xiaoDong', 'xiaoMing']);
    });

    test('an exact name matches one whole form, case-insensitively, and nothing longer', async () => {
      assert.deepEqual(await byName('Wang^XiaoDong'), ['xiaoDong']);
      assert.deepEqual(await byName('wangxiaodong'), ['xiaoDong']);
      assert.deepEqual(await byName('王^小东'), ['xiaoDong']);
      assert.deepEqual(await byName('王小东'), ['ideographicOnly', 'xiaoDong']);
      assert.deepEqual(await byName('王小'), []);
      assert.deepEqual(await byName('WANG'), []);
    });

    test('several name values match any of them', async () => {
      assert.deepEqual(await found({ '00100010': { vr: 'PN', Value: [{ Alphabetic: '*小明*' }, { Alphabetic: '张^三' }] } }), ['xiaoMing', 'zhangSan']);
    });

    test('a date range with ModalitiesInStudy: every series counts, the range is inclusive', async () => {
      const january = { '00080020': { vr: 'DA', Value: ['20240101-20240131'] } };
      const modality = (...values: string[]) => ({ '00080061': { vr: 'CS', Value: values } });
      const dates = (list: string[]) => list.filter((who) => !(who in NAMES));
      assert.deepEqual(dates(await found({ ...january, ...modality('CT') })), ['ct-january', 'ct-mr-january']);
      assert.deepEqual(dates(await found({ ...january, ...modality('MR') })), ['ct-mr-january', 'mr-january']);
      assert.deepEqual(dates(await found({ ...january, ...modality('MR', 'DX') })), ['ct-mr-january', 'dx-january', 'mr-january']);
      assert.deepEqual(await found({ ...modality('US') }), []);
      assert.deepEqual(await found({ '00080020': { vr: 'DA', Value: ['20240201-'] }, ...modality('CT') }), ['ct-february']);
      const [both] = await archive.query(systemCaller(), { level: 'STUDY', keys: { '00080050': { vr: 'SH', Value: [`${run}-ct-mr-january`] }, '00080061': { vr: 'CS' } } });
      assert.deepEqual(both['00080061'].Value, ['CT', 'MR']);
    });

    if (backend === 'postgres') {
      test('ingest fills the bigram array exactly as the SQL twin computes it', async () => {
        const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool: quietPool(postgres!.url, 1) }) });
        try {
          const rows = await sql<{ search: string; stored: string[] | null; computed: string[] | null }>`select patient_name_search as search, patient_name_bigrams as stored,
            ${postgresNameBigramsSql(sql.ref('patient_name_search'))} as computed from studies where accession_number like ${`${run}-%`}`.execute(db);
          assert.ok(rows.rows.length >= Object.keys(NAMES).length);
          for (const row of rows.rows) {
            assert.deepEqual([...(row.stored ?? [])].sort(), [...(row.computed ?? [])].sort(), row.search);
            assert.deepEqual([...(row.stored ?? [])].sort(), [...(personNameBigrams(row.search) ?? [])].sort(), row.search);
          }
          const dateRows = rows.rows.filter((row) => row.search.startsWith('|DATE^'));
          assert.ok(dateRows.length > 0 && dateRows.every((row) => row.stored === null), 'an ASCII-only name has no bigrams');
        } finally {
          await db.destroy();
        }
      });
    }
  });
}

test('migration 0003 backfills the bigrams of studies stored before it (postgres)', async () => {
  const postgres = await createTestDatabase();
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool: quietPool(postgres.url, 2) }) });
  try {
    const before0003 = await new Migrator({ db, provider: migrationProviderFor('postgres') }).migrateTo('0002-postgres-search-indexes');
    assert.equal(before0003.error, undefined);
    const now = new Date().toISOString();
    const insert = (uid: string, search: string | null) =>
      sql`insert into studies (study_instance_uid, institution_id, patient_name_search, attributes_json, created_at, updated_at) values (${uid}, 'default', ${search}, '{}', ${now}, ${now})`.execute(db);
    await insert('1.2.3.1', '|WANG^XIAODONG|WANGXIAODONG|王^小东|王小东|');
    await insert('1.2.3.2', '|LI^SI|LISI|');
    await insert('1.2.3.3', null);
    await migrateToLatest(db, 'postgres');
    const rows = await sql<{ uid: string; bigrams: string[] | null }>`select study_instance_uid as uid, patient_name_bigrams as bigrams from studies order by 1`.execute(db);
    assert.deepEqual(rows.rows.map((row) => [row.uid, row.bigrams ? [...row.bigrams].sort() : null]), [
      ['1.2.3.1', ['|王', '^小', '小东', '东|', '王^', '王小'].sort()],
      ['1.2.3.2', null],
      ['1.2.3.3', null],
    ]);
    const indexes = await sql<{ indexname: string }>`select indexname from pg_indexes where tablename = 'studies' and indexname in ('studies_patient_name_bigrams', 'studies_patient_name_forms', 'studies_modalities') order by 1`.execute(db);
    assert.deepEqual(indexes.rows.map((row) => row.indexname), ['studies_modalities', 'studies_patient_name_bigrams', 'studies_patient_name_forms']);
  } finally {
    await db.destroy();
    await postgres.drop();
  }
});

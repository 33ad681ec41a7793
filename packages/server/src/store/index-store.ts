import { randomUUID } from 'node:crypto';
import { sql, type Kysely, type RawBuilder } from 'kysely';
import type { IndexedAttribute } from '../archive/attribute-catalog.ts';
import { likeLiteral, literalBigrams, searchTextPattern, type MatchCondition } from '../archive/matching.ts';
import { pinyinSearchPattern } from '../archive/pinyin.ts';
import type { QueryLevel } from './query-level.ts';
import type { IndexDatabase } from './database.ts';
import type { Database, InstanceTable, SeriesTable, StudyTable } from './schema.ts';
import { inTransaction } from './transaction.ts';

export type StudyRow = StudyTable;
export type SeriesRow = SeriesTable;
export type InstanceRow = Omit<InstanceTable, 'seq'> & { seq: number };

/** One result row of a query: the columns of its level and of the levels above it. */
export type QueryRow = Record<string, string | number | null>;

/** study_key is not the sender's: the index gives every new study row one of its own. */
export type NewStudy = Omit<StudyRow, 'modalities_in_study' | 'created_at' | 'updated_at' | 'attributes_json' | 'study_key'>;
export type NewSeries = Omit<SeriesRow, 'created_at' | 'updated_at' | 'attributes_json'>;
export type NewInstance = Omit<InstanceRow, 'seq' | 'created_at'>;

export interface CommitInstanceInput {
  study: NewStudy;
  series: NewSeries;
  instance: NewInstance;
  /** computed only when the study/series row is created */
  studyAttributesJson: () => string;
  seriesAttributesJson: () => string;
}

export type CommitOutcome =
  | { kind: 'inserted' }
  | { kind: 'replaced'; previousBlobKey: string }
  | { kind: 'conflict'; reason: string };

/**
 * Which studies a caller may see: those of the listed institutions, plus those explicitly
 * granted to one institution (a study sent to a diagnostic centre for reading or
 * consultation). Undefined institutionIds: every institution.
 */
export interface StudyScope {
  institutionIds?: readonly string[];
  /** studies granted to this institution (study_grants) are visible too */
  grantedToInstitutionId?: string;
  /**
   * studies granted to this user alone until their expiry (study_user_grants: a clinician's
   * access request or break-glass for another institution's prior exam, recognition/) are visible too
   */
  grantedToUserId?: string;
}

export interface QueryOptions {
  level: QueryLevel;
  conditions: MatchCondition[];
  scope: StudyScope;
  limit?: number;
  offset?: number;
}

export interface InstanceFilter {
  studyInstanceUids?: string[];
  seriesInstanceUids?: string[];
  sopInstanceUids?: string[];
  patientIds?: string[];
  scope: StudyScope;
}

/**
 * The index: studies, series and instances in SQL through Kysely. Every write of one
 * instance is one transaction, so the index never holds half an instance.
 */
export class IndexStore {
  private readonly index: IndexDatabase;
  constructor(index: IndexDatabase) {
    this.index = index;
  }

  get dialect(): IndexDatabase['dialect'] {
    return this.index.dialect;
  }

  async findInstance(sopInstanceUid: string): Promise<InstanceRow | undefined> {
    return (await this.index.db.selectFrom('instances').selectAll().where('sop_instance_uid', '=', sopInstanceUid).executeTakeFirst()) as InstanceRow | undefined;
  }

  async seriesExists(seriesInstanceUid: string): Promise<{ study_instance_uid: string } | undefined> {
    return this.index.db.selectFrom('series').select('study_instance_uid').where('series_instance_uid', '=', seriesInstanceUid).executeTakeFirst();
  }

  /** absent: no such study; visible: in the scope; hidden: stored, outside the scope */
  async studyAccess(studyInstanceUid: string, scope: StudyScope): Promise<'absent' | 'visible' | 'hidden'> {
    const filter = scopeSql(scope) ?? sql`1 = 1`;
    const result = await sql<{ visible: number }>`select case when ${filter} then 1 else 0 end as visible from studies st where st.study_instance_uid = ${studyInstanceUid}`.execute(this.index.db);
    const row = result.rows[0];
    if (!row) return 'absent';
    return Number(row.visible) === 1 ? 'visible' : 'hidden';
  }

  async studyExists(studyInstanceUid: string): Promise<boolean> {
    const row = await this.index.db.selectFrom('studies').select('study_instance_uid').where('study_instance_uid', '=', studyInstanceUid).executeTakeFirst();
    return row !== undefined;
  }

  /** Inserts or replaces one instance, creating its study and series as needed, in one transaction. */
  async commitInstance(input: CommitInstanceInput): Promise<CommitOutcome> {
    // PostgreSQL: most instances go into a series that is already indexed, and most others
    // start a study nobody else is sending. One statement inserts each of these in one
    // round trip instead of five to seven (begin, lock, lookup, the inserts, commit);
    // anything else takes the transaction below.
    // Bound to a unit of work (store/unit-of-work.ts), the same statements run in its
    // transaction, which commits them with the instance's audit record and feed row.
    const { db, dialect } = this.index;
    if (dialect === 'postgres') {
      const now = new Date().toISOString();
      // A series this process has indexed takes the statement for a known series, which
      // needs no study or series JSON; others the one that does either. Only the order
      // depends on it: a stale entry (a study deleted since) costs a statement, nothing more.
      const seriesUid = input.series.series_instance_uid;
      const known = recentlyIndexedSeries.has(seriesUid) && (await insertIntoKnownSeries(db, input.instance, now));
      if (known || (await insertIntoKnownSeriesOrAsNewStudy(db, input, now))) {
        rememberSeries(seriesUid);
        return { kind: 'inserted' };
      }
    }
    const outcome = await inTransaction(db, (trx) => commitInstanceIn(trx, dialect, input, new Date().toISOString()));
    if (dialect === 'postgres' && outcome.kind !== 'conflict') rememberSeries(input.series.series_instance_uid);
    await this.index.makeCommitsDurable();
    return outcome;
  }

  async query(options: QueryOptions): Promise<QueryRow[]> {
    const statement = buildQuery(options, this.index.dialect);
    const result = await statement.execute(this.index.db);
    return result.rows as QueryRow[];
  }

  /** How many results the query has without a limit or offset (QIDO-RS X-Total-Count). */
  async count(options: Omit<QueryOptions, 'limit' | 'offset'>): Promise<number> {
    const result = await buildCountQuery(options, this.index.dialect).execute(this.index.db);
    return Number(result.rows[0]?.n ?? 0);
  }

  async findInstances(filter: InstanceFilter): Promise<InstanceRow[]> {
    let query = this.index.db.selectFrom('instances as i').selectAll('i');
    if (filter.studyInstanceUids) query = query.where('i.study_instance_uid', 'in', nonEmpty(filter.studyInstanceUids));
    if (filter.seriesInstanceUids) query = query.where('i.series_instance_uid', 'in', nonEmpty(filter.seriesInstanceUids));
    if (filter.sopInstanceUids) query = query.where('i.sop_instance_uid', 'in', nonEmpty(filter.sopInstanceUids));
    if (filter.patientIds) {
      const patientIds = nonEmpty(filter.patientIds);
      query = query.where('i.study_instance_uid', 'in', (eb) => eb.selectFrom('studies').select('study_instance_uid').where('patient_id', 'in', patientIds));
    }
    const scope = scopeSql(filter.scope, 'i');
    if (scope) query = query.where(scope);
    const rows = await query.orderBy('i.series_instance_uid').orderBy('i.instance_number').orderBy('i.seq').execute();
    return rows as InstanceRow[];
  }

  async studyRow(studyInstanceUid: string): Promise<StudyRow | undefined> {
    return this.index.db.selectFrom('studies').selectAll().where('study_instance_uid', '=', studyInstanceUid).executeTakeFirst();
  }

  /** Patient ID of each study, for the audit trail. */
  async patientIdsOfStudies(studyInstanceUids: readonly string[]): Promise<Map<string, string | undefined>> {
    const rows = await this.index.db.selectFrom('studies').select(['study_instance_uid', 'patient_id']).where('study_instance_uid', 'in', nonEmpty([...studyInstanceUids])).execute();
    return new Map(rows.map((row) => [row.study_instance_uid, row.patient_id ?? undefined]));
  }

  /** Every blob key the index references, for consistency checks. */
  async listBlobKeys(): Promise<string[]> {
    const rows = await this.index.db.selectFrom('instances').select('blob_key').execute();
    return rows.map((row) => row.blob_key);
  }

  async countInstances(): Promise<number> {
    const row = await this.index.db.selectFrom('instances').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
    return Number(row.n);
  }
}

export function nonEmpty(values: readonly string[]): string[] {
  // `in ()` is invalid SQL; a value no UID can take keeps the query valid and empty.
  return values.length > 0 ? [...values] : ['\u0000'];
}

/**
 * The hot path is three statements: one lookup, one insert, and the commit; study and series
 * rows are written only with their first instance. Counts (instances per series, …) are
 * computed when queried rather than kept as counters, so parallel stores into one study do
 * not contend on its row.
 */
async function commitInstanceIn(trx: Kysely<Database>, dialect: IndexDatabase['dialect'], input: CommitInstanceInput, now: string): Promise<CommitOutcome> {
  const { study, series, instance } = input;
  // PostgreSQL runs these transactions side by side: serialise the ones of one study (an
  // advisory lock held to commit) so that the lookup below sees what the others committed;
  // other studies are not held up. SQLite transactions never overlap.
  if (dialect === 'postgres') await sql`select pg_advisory_xact_lock(hashtext(${study.study_instance_uid}))`.execute(trx);
  const existing = await sql<{ series_study: string | null; instance_series: string | null; instance_blob: string | null; study_exists: number }>`select
      (select study_instance_uid from series where series_instance_uid = ${series.series_instance_uid}) as series_study,
      (select series_instance_uid from instances where sop_instance_uid = ${instance.sop_instance_uid}) as instance_series,
      (select blob_key from instances where sop_instance_uid = ${instance.sop_instance_uid}) as instance_blob,
      (select count(*) from studies where study_instance_uid = ${study.study_instance_uid}) as study_exists`.execute(trx);
  const found = existing.rows[0];
  if (found.series_study !== null && found.series_study !== study.study_instance_uid) {
    return { kind: 'conflict', reason: `Series ${series.series_instance_uid} already belongs to another study` };
  }
  if (found.instance_series !== null && found.instance_series !== instance.series_instance_uid) {
    return { kind: 'conflict', reason: 'SOP Instance UID already stored in another series' };
  }
  // ON CONFLICT DO NOTHING: should a row appear between the lookup and the insert all the
  // same (a series moved between studies by a concurrent sender), the insert does not fail.
  let studyCreated = false;
  if (Number(found.study_exists) === 0) {
    // A new study's modalities are its first series' modality.
    const inserted = await trx
      .insertInto('studies')
      // The bigram array is PostgreSQL's; SQLite keeps the column empty and matches by LIKE.
      .values({ ...study, patient_name_bigrams: dialect === 'postgres' ? study.patient_name_bigrams : null, modalities_in_study: series.modality, attributes_json: input.studyAttributesJson(), created_at: now, updated_at: now, study_key: randomUUID() })
      .onConflict((oc) => oc.column('study_instance_uid').doNothing())
      .executeTakeFirst();
    studyCreated = Number(inserted.numInsertedOrUpdatedRows ?? 0) > 0;
  }
  if (found.series_study === null) {
    const inserted = await trx
      .insertInto('series')
      .values({ ...series, attributes_json: input.seriesAttributesJson(), created_at: now, updated_at: now })
      .onConflict((oc) => oc.column('series_instance_uid').doNothing())
      .executeTakeFirst();
    if (Number(inserted.numInsertedOrUpdatedRows ?? 0) === 0) {
      const owner = await trx.selectFrom('series').select('study_instance_uid').where('series_instance_uid', '=', series.series_instance_uid).executeTakeFirstOrThrow();
      if (owner.study_instance_uid !== study.study_instance_uid) return { kind: 'conflict', reason: `Series ${series.series_instance_uid} already belongs to another study` };
    } else if (!studyCreated) {
      await addModality(trx, study.study_instance_uid, series.modality, now);
    }
  }
  if (found.instance_blob !== null) {
    await trx.updateTable('instances').set({ ...instance }).where('sop_instance_uid', '=', instance.sop_instance_uid).execute();
    return { kind: 'replaced', previousBlobKey: found.instance_blob };
  }
  await trx.insertInto('instances').values({ ...instance, created_at: now }).execute();
  return { kind: 'inserted' };
}

/**
 * Series UIDs this process indexed instances into lately (PostgreSQL's fast path, commitInstance):
 * a hint of which statement to try first, bounded, the oldest forgotten first.
 */
const recentlyIndexedSeries = new Set<string>();
const RECENT_SERIES_MAX = 10_000;

function rememberSeries(seriesInstanceUid: string): void {
  if (recentlyIndexedSeries.has(seriesInstanceUid)) return;
  if (recentlyIndexedSeries.size >= RECENT_SERIES_MAX) recentlyIndexedSeries.delete(recentlyIndexedSeries.values().next().value as string);
  recentlyIndexedSeries.add(seriesInstanceUid);
}

/** Columns that are not text, for the typed parameters of an INSERT … SELECT. */
const COLUMN_TYPES: Record<string, string> = { instance_number: 'integer', number_of_frames: 'integer', rows: 'integer', columns: 'integer', size: 'bigint', series_number: 'integer', patient_name_bigrams: 'text[]' };

/** A row's column list and its values as typed parameters (an INSERT … SELECT gives them no type of its own). */
function typedRow(row: Record<string, unknown>): { columns: RawBuilder<unknown>; values: RawBuilder<unknown> } {
  const names = Object.keys(row);
  return {
    columns: sql.join(names.map((name) => sql.ref(name))),
    values: sql.join(names.map((name) => sql`cast(${row[name]} as ${sql.raw(COLUMN_TYPES[name] ?? 'text')})`)),
  };
}

/**
 * Inserts the instance if its series is indexed under the same study and its SOP Instance
 * UID is new; false otherwise (nothing written). A single statement is atomic and durable
 * when it returns, so it needs no transaction; it needs no advisory lock either: it creates
 * no study or series row and changes no modality list, the series it depends on is
 * committed, and the unique SOP Instance UID decides between concurrent senders of one
 * instance (the loser, told nothing was inserted, goes the locked way and sees the winner).
 */
async function insertIntoKnownSeries(db: IndexDatabase['db'], instance: NewInstance, now: string): Promise<boolean> {
  const row = typedRow({ ...instance, created_at: now });
  const result = await sql<{ seq: number }>`insert into instances (${row.columns})
    select ${row.values} from series
    where series_instance_uid = ${instance.series_instance_uid} and study_instance_uid = ${instance.study_instance_uid}
    on conflict (sop_instance_uid) do nothing returning seq`.execute(db);
  return result.rows.length > 0;
}

/**
 * One statement for the two common cases; false when it is neither (nothing written), and
 * the locked way decides:
 * - the series is indexed under the same study and the SOP Instance UID is new: the
 *   instance row is inserted. This needs no advisory lock: it creates no study or series
 *   row and changes no modality list, the series it depends on is committed, and the
 *   unique SOP Instance UID decides between concurrent senders of one instance (the loser,
 *   told nothing was inserted, goes the locked way and sees the winner);
 * - the series and the SOP Instance UID are not indexed and the study is new: the study,
 *   its first series and the instance are inserted, each only if the one before it was. A
 *   study that exists (or is being created by another sender, whose commit this statement
 *   waits for) is left to the locked way, which updates its modality list.
 * A single statement is atomic, and every insert in it does nothing on a conflict instead of
 * failing, so in a unit of work it needs no savepoint (two round trips fewer); before, the
 * two cases were two statements, and the second ran under a savepoint.
 * Should a concurrent sender have created the series or the instance meanwhile (its
 * uncommitted row, which the statement's snapshot does not see, makes the later inserts do
 * nothing once it commits), the study row just inserted would stand alone: it is removed,
 * and the locked way tells the sender why.
 */
async function insertIntoKnownSeriesOrAsNewStudy(db: IndexDatabase['db'], input: CommitInstanceInput, now: string): Promise<boolean> {
  const { study, series, instance } = input;
  const studyKey = randomUUID();
  const instanceRow = typedRow({ ...instance, created_at: now });
  const studyRow = typedRow({ ...study, modalities_in_study: series.modality, attributes_json: input.studyAttributesJson(), created_at: now, updated_at: now, study_key: studyKey });
  const seriesRow = typedRow({ ...series, attributes_json: input.seriesAttributesJson(), created_at: now, updated_at: now });
  const result = await sql<{ known: number | string; new_study: number | string; new_instance: number | string }>`with known as (
      insert into instances (${instanceRow.columns})
      select ${instanceRow.values} from series
      where series_instance_uid = ${series.series_instance_uid} and study_instance_uid = ${study.study_instance_uid}
      on conflict (sop_instance_uid) do nothing returning seq
    ), new_study as (
      insert into studies (${studyRow.columns})
      select ${studyRow.values}
      where not exists (select 1 from series where series_instance_uid = ${series.series_instance_uid})
        and not exists (select 1 from instances where sop_instance_uid = ${instance.sop_instance_uid})
      on conflict (study_instance_uid) do nothing returning 1
    ), new_series as (
      insert into series (${seriesRow.columns}) select ${seriesRow.values} from new_study
      on conflict (series_instance_uid) do nothing returning 1
    ), new_instance as (
      insert into instances (${instanceRow.columns}) select ${instanceRow.values} from new_series
      on conflict (sop_instance_uid) do nothing returning seq
    )
    select (select count(*) from known) as known, (select count(*) from new_study) as new_study, (select count(*) from new_instance) as new_instance`.execute(db);
  const counts = result.rows[0];
  if (Number(counts.known) > 0 || Number(counts.new_instance) > 0) return true;
  if (Number(counts.new_study) > 0) await sql`delete from studies where study_instance_uid = ${study.study_instance_uid} and study_key = ${studyKey}`.execute(db);
  return false;
}

async function addModality(trx: Kysely<Database>, studyInstanceUid: string, modality: string | null, now: string): Promise<void> {
  if (!modality) return;
  const row = await trx.selectFrom('studies').select('modalities_in_study').where('study_instance_uid', '=', studyInstanceUid).executeTakeFirstOrThrow();
  const modalities = new Set((row.modalities_in_study ?? '').split('\\').filter(Boolean));
  if (modalities.has(modality)) return;
  modalities.add(modality);
  await trx.updateTable('studies').set({ modalities_in_study: [...modalities].sort().join('\\'), updated_at: now }).where('study_instance_uid', '=', studyInstanceUid).execute();
}

const TABLE_ALIAS: Record<IndexedAttribute['level'], string> = { STUDY: 'st', SERIES: 'se', IMAGE: 'i' };

function columnRef(attribute: IndexedAttribute, level: QueryLevel): RawBuilder<unknown> {
  if (level === 'PATIENT') return sql.ref(`st.${attribute.column}`);
  return sql.ref(`${TABLE_ALIAS[attribute.level]}.${attribute.column}`);
}

/** LIMIT/OFFSET; SQLite accepts an OFFSET only after a LIMIT, where -1 means none. */
function pageSql(options: QueryOptions, dialect: IndexDatabase['dialect']): RawBuilder<unknown> {
  const limit = options.limit !== undefined ? sql`limit ${options.limit}` : options.offset && dialect === 'sqlite' ? sql`limit -1` : sql``;
  return sql`${limit} ${options.offset ? sql`offset ${options.offset}` : sql``}`;
}

const STUDY_COUNTS = sql`(select count(*) from series x where x.study_instance_uid = st.study_instance_uid) as number_of_study_related_series,
  (select count(*) from instances x where x.study_instance_uid = st.study_instance_uid) as number_of_study_related_instances`;
const SERIES_COUNTS = sql`(select count(*) from instances x where x.series_instance_uid = se.series_instance_uid) as number_of_series_related_instances`;

function buildQuery(options: QueryOptions, dialect: IndexDatabase['dialect']): RawBuilder<QueryRow> {
  const { level } = options;
  const where: RawBuilder<unknown>[] = options.conditions.map((condition) => conditionSql(condition, level, dialect));
  const scope = scopeSql(options.scope);
  if (scope) where.push(scope);
  const whereSql = where.length > 0 ? sql`where ${sql.join(where, sql` and `)}` : sql``;
  const page = pageSql(options, dialect);
  switch (level) {
    case 'PATIENT':
      // One row per patient identity: the same PatientID under another issuer, or issued by
      // another institution, is another person (until a regional patient index links them),
      // and grouping them would show one person's name and sex for the other's.
      return sql<QueryRow>`select st.patient_id, st.issuer_of_patient_id, st.institution_id,
        max(st.patient_name) as patient_name, max(st.patient_birth_date) as patient_birth_date, max(st.patient_sex) as patient_sex,
        count(*) as number_of_patient_related_studies,
        sum((select count(*) from series x where x.study_instance_uid = st.study_instance_uid)) as number_of_patient_related_series,
        sum((select count(*) from instances x where x.study_instance_uid = st.study_instance_uid)) as number_of_patient_related_instances
        from studies st ${whereSql} group by st.patient_id, st.issuer_of_patient_id, st.institution_id
        order by st.patient_id, st.issuer_of_patient_id, st.institution_id ${page}`;
    case 'STUDY':
      return sql<QueryRow>`select st.*, ${STUDY_COUNTS} from studies st ${whereSql}
        order by st.study_date desc, st.study_time desc, st.study_instance_uid ${page}`;
    case 'SERIES':
      return sql<QueryRow>`select st.*, se.*, se.attributes_json as series_attributes_json, st.attributes_json as study_attributes_json,
        ${STUDY_COUNTS}, ${SERIES_COUNTS}
        from series se join studies st on st.study_instance_uid = se.study_instance_uid ${whereSql}
        order by se.study_instance_uid, se.series_number, se.series_instance_uid ${page}`;
    case 'IMAGE':
      return sql<QueryRow>`select st.*, se.*, i.*, se.attributes_json as series_attributes_json, st.attributes_json as study_attributes_json,
        ${STUDY_COUNTS}, ${SERIES_COUNTS}
        from instances i join series se on se.series_instance_uid = i.series_instance_uid
        join studies st on st.study_instance_uid = i.study_instance_uid ${whereSql}
        order by i.series_instance_uid, i.instance_number, i.seq ${page}`;
  }
}

/**
 * The count of buildQuery's rows without its select list: no per-row count subqueries, no
 * order, so the count costs what the matching costs.
 */
function buildCountQuery(options: Omit<QueryOptions, 'limit' | 'offset'>, dialect: IndexDatabase['dialect']): RawBuilder<{ n: number | string }> {
  const where: RawBuilder<unknown>[] = options.conditions.map((condition) => conditionSql(condition, options.level, dialect));
  const scope = scopeSql(options.scope);
  if (scope) where.push(scope);
  const whereSql = where.length > 0 ? sql`where ${sql.join(where, sql` and `)}` : sql``;
  switch (options.level) {
    case 'PATIENT':
      return sql`select count(*) as n from (select 1 as one from studies st ${whereSql} group by st.patient_id, st.issuer_of_patient_id, st.institution_id) patients`;
    case 'STUDY':
      return sql`select count(*) as n from studies st ${whereSql}`;
    case 'SERIES':
      return sql`select count(*) as n from series se join studies st on st.study_instance_uid = se.study_instance_uid ${whereSql}`;
    case 'IMAGE':
      return sql`select count(*) as n from instances i join series se on se.series_instance_uid = i.series_instance_uid
        join studies st on st.study_instance_uid = i.study_instance_uid ${whereSql}`;
  }
}

/**
 * The one SQL form of a scope, over a row (alias `table`) with institution_id and
 * study_instance_uid columns (studies, instances); undefined for a scope that reaches every
 * institution. A user grant counts until its expiry, compared with the clock at query time.
 */
export function scopeSql(scope: StudyScope, table = 'st'): RawBuilder<boolean> | undefined {
  if (!scope.institutionIds) return undefined;
  const column = (name: string) => sql.ref(`${table}.${name}`);
  const visible: RawBuilder<unknown>[] = [sql`${column('institution_id')} in (${sql.join(nonEmpty([...scope.institutionIds]))})`];
  if (scope.grantedToInstitutionId !== undefined) {
    visible.push(sql`${column('study_instance_uid')} in (select g.study_instance_uid from study_grants g where g.institution_id = ${scope.grantedToInstitutionId})`);
  }
  if (scope.grantedToUserId !== undefined) {
    visible.push(sql`${column('study_instance_uid')} in (select ug.study_instance_uid from study_user_grants ug where ug.user_id = ${scope.grantedToUserId} and ug.expires_at > ${new Date().toISOString()})`);
  }
  return sql<boolean>`(${sql.join(visible, sql` or `)})`;
}

function conditionSql(condition: MatchCondition, level: QueryLevel, dialect: IndexDatabase['dialect']): RawBuilder<unknown> {
  switch (condition.kind) {
    case 'equals':
      return sql`${columnRef(condition.attribute, level)} = ${condition.value}`;
    case 'in':
      return sql`${columnRef(condition.attribute, level)} in (${sql.join(condition.values)})`;
    case 'like':
      return sql`${columnRef(condition.attribute, level)} like ${condition.pattern} escape '!'`;
    case 'range': {
      const column = columnRef(condition.attribute, level);
      const parts: RawBuilder<unknown>[] = [];
      if (condition.from !== undefined) parts.push(sql`${column} >= ${condition.from}`);
      if (condition.to !== undefined) parts.push(sql`${column} <= ${condition.to}`);
      return sql`(${sql.join(parts, sql` and `)})`;
    }
    case 'personName':
      return personNameOrPinyinSql(condition.attribute, condition.pattern, condition.wholeName, condition.fuzzy === true, dialect);
    case 'modalities':
      // PostgreSQL: the study's own list of its series' modalities, GIN-indexed (migration
      // 0003), so a date range with a modality needs no probe into series per study.
      if (dialect === 'postgres') return sql`string_to_array(st.modalities_in_study, '\\') && ${sql.val(condition.values.map(String))}::text[]`;
      return sql`exists (select 1 from series ms where ms.study_instance_uid = st.study_instance_uid and ms.modality in (${sql.join(condition.values)}))`;
    case 'anyOf':
      return sql`(${sql.join(condition.conditions.map((c) => conditionSql(c, level, dialect)), sql` or `)})`;
  }
}

/**
 * Fuzzy PN matching (QIDO-RS fuzzymatching=true): the literal match, or the key in pinyin
 * among the name's pinyin forms (`<column>_pinyin`, migration 0024; trigram-indexed on
 * PostgreSQL), so "ZHANG%" finds 张^三 and "张三" finds "Zhang^San".
 */
function personNameOrPinyinSql(attribute: IndexedAttribute, pattern: string, wholeName: boolean, fuzzy: boolean, dialect: IndexDatabase['dialect']): RawBuilder<unknown> {
  const literal = personNameSql(attribute, pattern, wholeName, dialect);
  if (!fuzzy || wholeName) return literal;
  return sql`(${literal} or ${sql.ref(`st.${attribute.column}_pinyin`)} like ${pinyinSearchPattern(pattern)} escape '!')`;
}

/**
 * Every indexed PN attribute (PatientName, ReferringPhysicianName) has the same derived
 * columns (`<column>_alphabetic`, `_ideographic`, `_phonetic`, `_search`): case-insensitive
 * and matched per component group, so "刘*" finds "LIU^QIANG=刘^强". PatientName alone has
 * PostgreSQL's bigram and forms indexes.
 */
function personNameSql(attribute: IndexedAttribute, pattern: string, wholeName: boolean, dialect: IndexDatabase['dialect']): RawBuilder<unknown> {
  const base = `st.${attribute.column}`;
  if (wholeName) return sql`upper(${sql.ref(base)}) like ${pattern} escape '!'`;
  const inSearchText = searchTextPattern(pattern);
  // One LIKE on one column (which PostgreSQL's trigram index serves) instead of six.
  if (inSearchText) {
    const like = sql`${sql.ref(`${base}_search`)} like ${inSearchText} escape '!'`;
    const indexed = dialect === 'postgres' && attribute.column === 'patient_name' ? postgresNameIndexSql(pattern) : undefined;
    if (!indexed) return like;
    // The index narrows, the LIKE rechecks and decides. For an exact name the two agree, but
    // the LIKE stays for the planner: with it, the estimate is a few rows and PostgreSQL
    // reads them through the forms index; alone, the forms estimate (2,767 for a common
    // name at 10 M instances) made it walk the StudyDate index and filter 80,000 rows
    // (470 ms). Written on an expression (|| ''), this LIKE cannot pull in the trigram index
    // as well, which added 25 ms of bitmap work for no fewer rows.
    if (indexed.exact) return sql`(${indexed.condition} and (st.patient_name_search || '') like ${inSearchText} escape '!')`;
    return sql`(${indexed.condition} and ${like})`;
  }
  const groups = ['alphabetic', 'ideographic', 'phonetic'].map((group) => sql.ref(`${base}_${group}`));
  const tests = groups.flatMap((group) => [sql`${group} like ${pattern} escape '!'`, sql`replace(${group}, '^', '') like ${pattern} escape '!'`]);
  return sql`(${sql.join(tests, sql` or `)})`;
}

/**
 * A condition PostgreSQL answers from migration 0003's GIN indexes: an exact name is one of
 * the "|"-separated forms of the search text (equivalent to the LIKE "%|NAME|%", since a
 * name form holds no "|"); a literal with hanzi (two characters or more) has all its
 * non-ASCII character pairs among the name's bigrams (implied by the LIKE, not equivalent).
 * Undefined where the trigram index is the better path (ASCII prefixes and substrings).
 */
function postgresNameIndexSql(pattern: string): { condition: RawBuilder<unknown>; exact: boolean } | undefined {
  const fixed = likeLiteral(pattern);
  if (!fixed) return undefined;
  if (fixed.exact) return { condition: sql`string_to_array(st.patient_name_search, '|') @> ${sql.val([fixed.literal])}::text[]`, exact: true };
  const bigrams = literalBigrams(fixed.literal);
  return bigrams.length > 0 ? { condition: sql`st.patient_name_bigrams @> ${sql.val(bigrams)}::text[]`, exact: false } : undefined;
}

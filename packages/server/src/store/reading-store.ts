import { sql, type ExpressionBuilder, type Kysely } from 'kysely';
import type { SqlDialectName } from './database.ts';
import { nonEmpty, scopeSql, type StudyScope } from './index-store.ts';
import { inSavepoint, inTransaction } from './transaction.ts';
import type { Database, ReadingRequestTable, ReportTable, ReportTemplateTable, ReportVersionTable, RoutingRuleTable } from './schema.ts';

/** study_key is the store's to set (insertRequest binds it to the study row there is). */
export type ReadingRequestRow = Omit<ReadingRequestTable, 'study_key'> & { study_key?: string | null };
export type ReportRow = ReportTable;
export type ReportVersionRow = ReportVersionTable;
export type RoutingRuleRow = RoutingRuleTable;
export type ReportTemplateRow = ReportTemplateTable;

export interface WorklistFilter {
  readingInstitutionId?: string;
  requestingInstitutionIds?: readonly string[];
  statuses?: readonly string[];
  priorities?: readonly string[];
  modality?: string;
  claimedBy?: string;
  /** a patient name (hanzi or pinyin, substring), Patient ID or accession number (prefix) */
  search?: string;
  /** created_at bounds, ISO */
  from?: string;
  to?: string;
  limit: number;
  offset: number;
}

/** A worklist row: the request with its study's patient columns (null until images arrive). */
export type WorklistRow = ReadingRequestRow & {
  patient_id: string | null;
  patient_name: string | null;
  patient_sex: string | null;
  patient_birth_date: string | null;
  study_date: string | null;
  accession_number: string | null;
  /** (0010,1010) as recorded, e.g. "045Y" */
  patient_age: string | null;
  /** the claimer's display name (users.display_name), when the claimer is a user with one */
  claimed_by_display_name: string | null;
  requesting_institution_name: string | null;
  reading_institution_name: string | null;
  instances: number;
  /** the request's report's status (draft, submitted, returned, signed), null before a draft: 已退回 on the author's list */
  report_status: string | null;
  /** the reviewer's comments of a returned report */
  report_review_comments: string | null;
};

export type StudyFacts = {
  institution_id: string;
  modalities_in_study: string | null;
  body_part_examined: string | null;
  patient_id: string | null;
  issuer_of_patient_id: string | null;
  last_instance_at: string | null;
  instances: number;
};

/** Who a patient is, until a regional patient index links identities across institutions. */
export interface PatientIdentity {
  patientId: string;
  issuerOfPatientId: string | null;
  /** the institution that issued the Patient ID: the one its studies belong to */
  institutionId: string;
}

export type PriorStudyRow = {
  study_instance_uid: string;
  study_date: string | null;
  study_description: string | null;
  modalities_in_study: string | null;
  institution_id: string;
  signed_reports: number;
  /** 1 when the scope sees the study already (its institutions or a grant) */
  accessible: number;
};

/** A conditional state change: applied only while the row is in one of `from`. */
export interface Transition {
  id: string;
  from: readonly string[];
  to: string;
  set?: Partial<Omit<ReadingRequestRow, 'id' | 'status'>>;
  actor: string;
  details?: Record<string, unknown>;
}

/** The scope test of index-store's queries (study alias st), as a value rather than a filter. */
function visibleIn(scope: StudyScope) {
  return scopeSql(scope) ?? sql`1 = 1`;
}

/** A request with its study's patient columns (none until images arrive), institution names and image count. */
function worklistSelect(dialect: SqlDialectName) {
  return sql`select r.*, st.patient_id, st.patient_name, st.patient_sex, st.patient_birth_date, st.study_date, st.accession_number,
    ${patientAgeOf(dialect)} as patient_age,
    (select max(u.display_name) from users u where u.username = r.claimed_by) as claimed_by_display_name,
    (select q.name from institutions q where q.id = r.requesting_institution_id) as requesting_institution_name,
    (select c.name from institutions c where c.id = r.reading_institution_id) as reading_institution_name,
    (select count(*) from instances i where i.study_instance_uid = r.study_instance_uid) as instances,
    (select max(p.status) from reports p where p.request_id = r.id and p.status <> 'deleted') as report_status,
    (select max(p.review_comments) from reports p where p.request_id = r.id and p.status = 'returned') as report_review_comments
  from reading_requests r left join studies st on st.study_instance_uid = r.study_instance_uid`;
}

/** (0010,1010) Patient's Age of the study's first instance: the index keeps it only in attributes_json. */
function patientAgeOf(dialect: SqlDialectName) {
  return dialect === 'postgres' ? sql`(st.attributes_json::json -> '00101010' -> 'Value' ->> 0)` : sql`json_extract(st.attributes_json, '$."00101010".Value[0]')`;
}

/**
 * The worklist's one search box: a patient name (any component group, hanzi or pinyin, as a
 * substring; spaces ignored, so "zhang san" finds ZHANG^SAN through its "ZHANGSAN" form in
 * patient_name_search), a Patient ID or an accession number (exact or prefix).
 */
function searchCondition(term: string) {
  const escape = (text: string): string => text.replace(/[!%_]/g, (char) => `!${char}`);
  const name = term.replace(/[\s|]+/g, '').toUpperCase();
  const conditions = [sql`st.patient_id like ${`${escape(term)}%`} escape '!'`, sql`st.accession_number like ${`${escape(term)}%`} escape '!'`];
  if (name) conditions.push(sql`st.patient_name_search like ${`%${escape(name)}%`} escape '!'`);
  return sql`(${sql.join(conditions, sql` or `)})`;
}

/**
 * A request that still belongs to its study (worklist SQL, alias r joined to st): not a
 * tombstone of a deleted study, and made for the study row there is now (or for a study not
 * yet arrived), never for an earlier study under the same UID.
 */
const ATTACHED = sql`r.status <> 'deleted' and (r.study_key is null or r.study_key = st.study_key)`;

/** The same test in a Kysely query on reading_requests (unaliased). */
function attachedToItsStudy(eb: ExpressionBuilder<Database, 'reading_requests'>) {
  return eb.and([
    eb('reading_requests.status', '<>', 'deleted'),
    eb.or([eb('reading_requests.study_key', 'is', null), eb('reading_requests.study_key', '=', eb.selectFrom('studies').select('studies.study_key').whereRef('studies.study_instance_uid', '=', 'reading_requests.study_instance_uid'))]),
  ]);
}

/** The key of the study row under an updated request's UID: bound at the first change after its study arrived (insertRequest binds it at once if the study is there). */
const KEY_OF_ITS_STUDY = sql<string | null>`(select s.study_key from studies s where s.study_instance_uid = reading_requests.study_instance_uid)`;

/** Priority, then waiting time: the same expressions as index reading_requests_worklist_order (migration 0007). */
const WORKLIST_ORDER = sql`case r.priority when 'emergency' then 0 when 'urgent' then 1 else 2 end, coalesce(r.images_complete_at, r.created_at), r.id`;

/**
 * Reading requests, routing rules, reports and templates in SQL. State changes are
 * conditional updates ("… where status in (…)"), so of two processes racing for one claim
 * exactly one row update succeeds, on SQLite and PostgreSQL alike.
 */
export class ReadingStore {
  private readonly db: Kysely<Database>;
  private readonly dialect: SqlDialectName;
  constructor(
    db: Kysely<Database>,
    dialect: SqlDialectName,
  ) {
    this.db = db;
    this.dialect = dialect;
  }

  /**
   * The request's status inside a transaction, locked on PostgreSQL so that the event's
   * "from" is the status the conditional update changed (READ COMMITTED would otherwise let
   * a competing commit slip in between). SQLite transactions never overlap.
   */
  private async lockedStatus(trx: Kysely<Database>, id: string): Promise<string | undefined> {
    const query = trx.selectFrom('reading_requests').select('status').where('id', '=', id);
    return (await (this.dialect === 'postgres' ? query.forUpdate() : query).executeTakeFirst())?.status;
  }

  /**
   * False (nothing written) when the study already has an open request at the row's reading
   * centre: the partial unique index reading_requests_one_open (migration 0010) decides
   * between concurrent inserts, in one process or several, where a check before the insert
   * could not.
   */
  async insertRequest(row: ReadingRequestRow, actor: string): Promise<boolean> {
    return (await this.insertRequests([row], actor)).has(row.id);
  }

  /**
   * insertRequest for several requests in two statements (the requests, then the events of
   * those inserted); each event's actor is `actor`, or else its request's requested_by
   * (routing: `routing:<rule>`). Returns the ids inserted; a request the unique index
   * refused is left out.
   */
  async insertRequests(rows: readonly ReadingRequestRow[], actor?: string): Promise<Set<string>> {
    if (rows.length === 0) return new Set();
    return inTransaction(this.db, async (trx) => {
      const inserted = await trx
        .insertInto('reading_requests')
        .values(rows.map((row) => ({ ...row, study_key: sql<string | null>`(select s.study_key from studies s where s.study_instance_uid = ${row.study_instance_uid})` })))
        .onConflict((conflict) => conflict.doNothing())
        .returning('id')
        .execute();
      const ids = new Set(inserted.map((row) => row.id));
      const at = new Date().toISOString();
      const events = rows.filter((row) => ids.has(row.id)).map((row) => ({ request_id: row.id, at, actor: actor ?? row.requested_by, from_status: null, to_status: row.status, details: '{}' }));
      if (events.length > 0) await trx.insertInto('reading_request_events').values(events).execute();
      return ids;
    });
  }

  async findRequest(id: string): Promise<ReadingRequestRow | undefined> {
    return this.db.selectFrom('reading_requests').selectAll().where('id', '=', id).where(attachedToItsStudy).executeTakeFirst();
  }

  /** One request as a worklist row (patient, institution names). */
  async findWorklistRow(id: string): Promise<WorklistRow | undefined> {
    const result = await sql<WorklistRow>`${worklistSelect(this.dialect)} where r.id = ${id} and ${ATTACHED}`.execute(this.db);
    const row = result.rows[0];
    return row && { ...row, instances: Number(row.instances) };
  }

  async requestsOfStudy(studyInstanceUid: string): Promise<ReadingRequestRow[]> {
    return this.db.selectFrom('reading_requests').selectAll().where('study_instance_uid', '=', studyInstanceUid).where(attachedToItsStudy).orderBy('created_at').execute();
  }

  /** Which of these studies have a request (any status), as requestsOfStudy sees them: one query for a batch of studies. */
  async studiesWithRequests(studyInstanceUids: readonly string[]): Promise<Set<string>> {
    if (studyInstanceUids.length === 0) return new Set();
    const rows = await this.db.selectFrom('reading_requests').select('study_instance_uid').distinct().where('study_instance_uid', 'in', [...studyInstanceUids]).where(attachedToItsStudy).execute();
    return new Set(rows.map((row) => row.study_instance_uid));
  }

  /** True when the row was in a `from` state and is now in `to`; the event is written in the same transaction. */
  async transition(change: Transition, at: string): Promise<boolean> {
    return inTransaction(this.db, async (trx) => {
      const before = await this.lockedStatus(trx, change.id);
      const result = await trx
        .updateTable('reading_requests')
        .set({ ...change.set, status: change.to, updated_at: at, study_key: sql`coalesce(study_key, ${KEY_OF_ITS_STUDY})` })
        .where('id', '=', change.id)
        .where('status', 'in', [...change.from])
        .executeTakeFirst();
      if (Number(result.numUpdatedRows) !== 1) return false;
      await insertEvent(trx, change.id, change.actor, before ?? null, change.to, change.details ?? {});
      return true;
    });
  }

  async events(requestId: string): Promise<Array<{ at: string; actor: string; from_status: string | null; to_status: string; details: string }>> {
    return this.db.selectFrom('reading_request_events').select(['at', 'actor', 'from_status', 'to_status', 'details']).where('request_id', '=', requestId).orderBy('id').execute();
  }

  /** Ordered by priority, then by how long the request has waited. */
  async worklist(filter: WorklistFilter): Promise<WorklistRow[]> {
    const where = [ATTACHED];
    if (filter.readingInstitutionId) where.push(sql`r.reading_institution_id = ${filter.readingInstitutionId}`);
    if (filter.requestingInstitutionIds) where.push(sql`r.requesting_institution_id in (${sql.join(nonEmpty(filter.requestingInstitutionIds))})`);
    if (filter.statuses?.length) where.push(sql`r.status in (${sql.join([...filter.statuses])})`);
    if (filter.priorities?.length) where.push(sql`r.priority in (${sql.join([...filter.priorities])})`);
    if (filter.modality) where.push(sql`r.modality = ${filter.modality}`);
    if (filter.claimedBy) where.push(sql`r.claimed_by = ${filter.claimedBy}`);
    const search = filter.search?.trim();
    if (search) where.push(searchCondition(search));
    if (filter.from) where.push(sql`r.created_at >= ${filter.from}`);
    if (filter.to) where.push(sql`r.created_at <= ${filter.to}`);
    const result = await sql<WorklistRow>`${worklistSelect(this.dialect)}
      where ${sql.join(where, sql` and `)}
      order by ${WORKLIST_ORDER}
      limit ${filter.limit} offset ${filter.offset}`.execute(this.db);
    return result.rows.map((row) => ({ ...row, instances: Number(row.instances) }));
  }

  /** Requests waiting for their images, with what the index knows of their study. */
  async awaitingImages(limit: number): Promise<Array<ReadingRequestRow & { last_instance_at: string | null; instances: number }>> {
    const result = await sql<ReadingRequestRow & { last_instance_at: string | null; instances: number }>`select r.*,
        (select max(i.created_at) from instances i where i.study_instance_uid = r.study_instance_uid) as last_instance_at,
        (select count(*) from instances i where i.study_instance_uid = r.study_instance_uid) as instances
      from reading_requests r where r.status = 'awaiting-images' order by r.created_at limit ${limit}`.execute(this.db);
    return result.rows.map((row) => ({ ...row, instances: Number(row.instances) }));
  }

  async studyFacts(studyInstanceUid: string): Promise<StudyFacts | undefined> {
    return (await this.studiesFacts([studyInstanceUid])).get(studyInstanceUid);
  }

  /** studyFacts of several studies in one query (routing a batch of new studies), by Study Instance UID; the absent ones left out. */
  async studiesFacts(studyInstanceUids: readonly string[]): Promise<Map<string, StudyFacts>> {
    if (studyInstanceUids.length === 0) return new Map();
    const result = await sql<StudyFacts & { study_instance_uid: string }>`select st.study_instance_uid, st.institution_id, st.modalities_in_study, st.patient_id, st.issuer_of_patient_id,
        (select se.body_part_examined from series se where se.study_instance_uid = st.study_instance_uid and se.body_part_examined is not null order by se.series_number limit 1) as body_part_examined,
        (select max(i.created_at) from instances i where i.study_instance_uid = st.study_instance_uid) as last_instance_at,
        (select count(*) from instances i where i.study_instance_uid = st.study_instance_uid) as instances
      from studies st where st.study_instance_uid in (${sql.join([...studyInstanceUids])})`.execute(this.db);
    return new Map(result.rows.map(({ study_instance_uid, ...row }) => [study_instance_uid, { ...row, instances: Number(row.instances) }]));
  }

  /**
   * The other studies of one patient identity, newest first, each with whether the scope
   * (a reading centre's) may see it already. An identity is (Patient ID, Issuer of Patient
   * ID, issuing institution): the same local ID at another institution, or under another
   * issuer, is another person until a patient index links them. A null issuer matches only
   * a null issuer.
   */
  async priorStudies(identity: PatientIdentity, excludeStudyUid: string, scope: StudyScope): Promise<PriorStudyRow[]> {
    const issuer = identity.issuerOfPatientId === null ? sql`st.issuer_of_patient_id is null` : sql`st.issuer_of_patient_id = ${identity.issuerOfPatientId}`;
    const result = await sql<PriorStudyRow>`select st.study_instance_uid, st.study_date, st.study_description, st.modalities_in_study, st.institution_id,
        (select count(*) from reports p where p.study_instance_uid = st.study_instance_uid and p.status = 'signed') as signed_reports,
        case when ${visibleIn(scope)} then 1 else 0 end as accessible
      from studies st where st.patient_id = ${identity.patientId} and ${issuer} and st.institution_id = ${identity.institutionId}
        and st.study_instance_uid <> ${excludeStudyUid}
      order by st.study_date desc, st.study_time desc, st.study_instance_uid limit 50`.execute(this.db);
    return result.rows.map((row) => ({ ...row, signed_reports: Number(row.signed_reports), accessible: Number(row.accessible) }));
  }

  // Reports

  async findReport(id: string): Promise<ReportRow | undefined> {
    return this.db.selectFrom('reports').selectAll().where('id', '=', id).where('status', '<>', 'deleted').executeTakeFirst();
  }

  async findReportOfRequest(requestId: string): Promise<ReportRow | undefined> {
    return this.db.selectFrom('reports').selectAll().where('request_id', '=', requestId).where('status', '<>', 'deleted').executeTakeFirst();
  }

  /** False when the request has a report already (two first autosaves racing). */
  async insertReport(row: ReportRow): Promise<boolean> {
    const result = await this.db.insertInto('reports').values(row).onConflict((oc) => oc.column('request_id').doNothing()).executeTakeFirst();
    return Number(result.numInsertedOrUpdatedRows ?? 0) === 1;
  }

  /**
   * PostgreSQL: claims the first pending request of a centre that no other transaction is
   * claiming right now (FOR UPDATE SKIP LOCKED), in one statement, with its event. Callers
   * pressing "next case" together each get another row instead of queueing on the first.
   */
  async claimFirstPending(readingInstitutionId: string, claimedBy: string, at: string): Promise<string | undefined> {
    if (this.dialect !== 'postgres') throw new Error('claimFirstPending is the PostgreSQL path');
    return inTransaction(this.db, async (trx) => {
      const result = await sql<{ id: string }>`update reading_requests set status = 'claimed', claimed_by = ${claimedBy}, claimed_at = ${at}, updated_at = ${at}
        where id = (select r.id from reading_requests r
          where r.reading_institution_id = ${readingInstitutionId} and r.status = 'pending'
          order by ${WORKLIST_ORDER} limit 1 for update skip locked)
        and status = 'pending' returning id`.execute(trx);
      const id = result.rows[0]?.id;
      if (id) await insertEvent(trx, id, claimedBy, 'pending', 'claimed', { next: true });
      return id;
    });
  }

  get supportsSkipLocked(): boolean {
    return this.dialect === 'postgres';
  }

  /** Ids of the first pending requests of a centre, in worklist order. */
  async nextPending(readingInstitutionId: string, limit: number): Promise<string[]> {
    const result = await sql<{ id: string }>`select r.id from reading_requests r
      where r.reading_institution_id = ${readingInstitutionId} and r.status = 'pending'
      order by ${WORKLIST_ORDER} limit ${limit}`.execute(this.db);
    return result.rows.map((row) => row.id);
  }

  /**
   * Signed reports whose SR is not stored: a delivery that failed, or one a crashed process
   * left marked "delivering:<time>" before `staleBefore`. Oldest first.
   */
  async undeliveredSignedReports(signedBefore: string, staleBefore: string, limit: number): Promise<ReportRow[]> {
    return this.db
      .selectFrom('reports')
      .selectAll()
      .where('status', '=', 'signed')
      .where('signed_at', '<', signedBefore)
      .where((eb) => eb.or([eb('sr_sop_instance_uid', 'is', null), eb.and([eb('sr_sop_instance_uid', 'like', 'delivering:%'), eb('sr_sop_instance_uid', '<', `delivering:${staleBefore}`)])]))
      .orderBy('signed_at')
      .limit(limit)
      .execute();
  }

  /** Takes a report's delivery retry for this process: false when another took it first. */
  async claimDelivery(reportId: string, seen: string | null, marker: string | null): Promise<boolean> {
    let query = this.db.updateTable('reports').set({ sr_sop_instance_uid: marker }).where('id', '=', reportId);
    query = seen === null ? query.where('sr_sop_instance_uid', 'is', null) : query.where('sr_sop_instance_uid', '=', seen);
    return Number((await query.executeTakeFirst()).numUpdatedRows) === 1;
  }

  /** Updates the report while it is in one of `fromStatuses`; false otherwise. */
  async updateReport(id: string, fromStatuses: readonly string[], changes: Partial<Omit<ReportRow, 'id'>>): Promise<boolean> {
    const result = await this.db.updateTable('reports').set(changes).where('id', '=', id).where('status', 'in', [...fromStatuses]).executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  /**
   * A report change and a request transition that must happen together (submit, sign,
   * return): both conditional, both or neither.
   */
  async changeReportAndRequest(report: { id: string; fromStatuses: readonly string[]; changes: Partial<Omit<ReportRow, 'id'>>; version?: ReportVersionRow }, request: Transition, at: string): Promise<boolean> {
    // Under a savepoint in a unit of work: a lost race undoes the report's update, not the caller's writes.
    return inSavepoint(this.db, async (trx) => {
      const updated = await trx.updateTable('reports').set(report.changes).where('id', '=', report.id).where('status', 'in', [...report.fromStatuses]).executeTakeFirst();
      if (Number(updated.numUpdatedRows) !== 1) return false;
      const before = await this.lockedStatus(trx, request.id);
      const moved = await trx.updateTable('reading_requests').set({ ...request.set, status: request.to, updated_at: at }).where('id', '=', request.id).where('status', 'in', [...request.from]).executeTakeFirst();
      if (Number(moved.numUpdatedRows) !== 1) throw new ConcurrentChange();
      await insertEvent(trx, request.id, request.actor, before ?? null, request.to, request.details ?? {});
      if (report.version) await trx.insertInto('report_versions').values(report.version).execute();
      return true;
    }).catch((error: unknown) => {
      if (error instanceof ConcurrentChange) return false;
      throw error;
    });
  }

  /** An addendum: a new version on a signed report, guarded by the version it was based on. */
  async addVersion(reportId: string, expectedVersion: number, version: ReportVersionRow, changes: Partial<Omit<ReportRow, 'id'>>): Promise<boolean> {
    return inTransaction(this.db, async (trx) => {
      const updated = await trx.updateTable('reports').set({ ...changes, version: version.version }).where('id', '=', reportId).where('status', '=', 'signed').where('version', '=', expectedVersion).executeTakeFirst();
      if (Number(updated.numUpdatedRows) !== 1) return false;
      await trx.insertInto('report_versions').values(version).execute();
      return true;
    });
  }

  async versions(reportId: string): Promise<ReportVersionRow[]> {
    return this.db.selectFrom('report_versions').selectAll().where('report_id', '=', reportId).orderBy('version').execute();
  }

  async reportsOfStudy(studyInstanceUid: string): Promise<ReportRow[]> {
    return this.db.selectFrom('reports').selectAll().where('study_instance_uid', '=', studyInstanceUid).where('status', '<>', 'deleted').orderBy('created_at').execute();
  }

  /** Signed reports of the study, newest first, with the latest signed text and the reading centre (the reports port, reports/reports-port.ts). */
  async signedReportTexts(studyInstanceUid: string): Promise<Array<{ id: string; version: number; findings: string; impression: string; positive: number | null; signed_at: string | null; reading_institution_id: string; report_number?: string | null }>> {
    return this.db
      .selectFrom('reports as r')
      .innerJoin('reading_requests as q', 'q.id', 'r.request_id')
      .select(['r.id', 'r.version', 'r.findings', 'r.impression', 'r.positive', 'r.signed_at', 'q.reading_institution_id', 'r.report_number'])
      .where('r.study_instance_uid', '=', studyInstanceUid)
      .where('r.status', '=', 'signed')
      // only reports of requests made for the study row there is (deletion tombstones the others)
      .where('q.status', '<>', 'deleted')
      .where((eb) => eb.or([eb('q.study_key', 'is', null), eb('q.study_key', '=', eb.selectFrom('studies as s').select('s.study_key').whereRef('s.study_instance_uid', '=', 'q.study_instance_uid'))]))
      .orderBy('r.signed_at', 'desc')
      .execute();
  }

  /** Addenda of a report after signing, oldest first. */
  async addendaOf(reportId: string): Promise<Array<{ text: string; at: string }>> {
    const rows = await this.db.selectFrom('report_versions').select(['addendum', 'saved_at']).where('report_id', '=', reportId).where('kind', '=', 'addendum').orderBy('version').execute();
    return rows.filter((row) => row.addendum).map((row) => ({ text: row.addendum!, at: row.saved_at }));
  }

  // Routing rules and templates

  async listRules(): Promise<RoutingRuleRow[]> {
    return this.db.selectFrom('routing_rules').selectAll().orderBy('position').orderBy('created_at').execute();
  }

  async insertRule(row: RoutingRuleRow): Promise<void> {
    await this.db.insertInto('routing_rules').values(row).execute();
  }

  async updateRule(id: string, changes: Partial<Omit<RoutingRuleRow, 'id' | 'created_at'>>): Promise<boolean> {
    if (Object.keys(changes).length === 0) return (await this.db.selectFrom('routing_rules').select('id').where('id', '=', id).executeTakeFirst()) !== undefined;
    const result = await this.db.updateTable('routing_rules').set(changes).where('id', '=', id).executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  async deleteRule(id: string): Promise<boolean> {
    const result = await this.db.deleteFrom('routing_rules').where('id', '=', id).executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }

  /**
   * Templates by modality and body part. With institutionId: the shared ones, that
   * institution's, and (migration 0017) the personal templates of `owner` only.
   */
  async listTemplates(filter: { modality?: string; bodyPart?: string; institutionId?: string; owner?: string }): Promise<ReportTemplateRow[]> {
    let query = this.db.selectFrom('report_templates').selectAll();
    if (filter.modality) query = query.where('modality', '=', filter.modality);
    if (filter.bodyPart) query = query.where('body_part', '=', filter.bodyPart);
    if (filter.institutionId) {
      const institutionId = filter.institutionId;
      query = query.where((eb) => eb.or([eb('scope', '=', 'system'), eb.and([eb('scope', '=', 'institution'), eb('institution_id', '=', institutionId)]), eb.and([eb('scope', '=', 'personal'), eb('owner', '=', filter.owner ?? '')])]));
    }
    return query.orderBy('modality').orderBy('body_part').orderBy('name').execute();
  }

  async findTemplate(id: string): Promise<ReportTemplateRow | undefined> {
    return this.db.selectFrom('report_templates').selectAll().where('id', '=', id).executeTakeFirst();
  }

  async insertTemplates(rows: readonly ReportTemplateRow[]): Promise<void> {
    if (rows.length === 0) return;
    await this.db.insertInto('report_templates').values([...rows]).onConflict((oc) => oc.column('id').doNothing()).execute();
  }

  /** Signed requests per author in a period: workload and turnaround. */
  async signedInPeriod(readingInstitutionId: string | undefined, from: string, to: string): Promise<Array<{ author: string; images_complete_at: string | null; signed_at: string; positive: number | null }>> {
    let query = this.db
      .selectFrom('reading_requests as r')
      .innerJoin('reports as p', 'p.request_id', 'r.id')
      .select(['p.author', 'r.images_complete_at', 'p.signed_at', 'p.positive'])
      .where('r.status', '=', 'signed')
      .where('p.signed_at', '>=', from)
      .where('p.signed_at', '<=', to);
    if (readingInstitutionId) query = query.where('r.reading_institution_id', '=', readingInstitutionId);
    const rows = await query.execute();
    return rows.map((row) => ({ ...row, signed_at: row.signed_at! }));
  }
}

class ConcurrentChange extends Error {}

async function insertEvent(trx: Kysely<Database>, requestId: string, actor: string, from: string | null, to: string, details: Record<string, unknown>): Promise<void> {
  await trx.insertInto('reading_request_events').values({ request_id: requestId, at: new Date().toISOString(), actor, from_status: from, to_status: to, details: JSON.stringify(details) }).execute();
}

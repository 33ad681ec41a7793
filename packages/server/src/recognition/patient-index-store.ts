import { sql, type Kysely } from 'kysely';
import type { Database } from '../store/schema.ts';
import type { StoreOpener } from '../store/store-opener.ts';

/**
 * The recognition module's tables (migration 0026-recognition, module.ts): the regional
 * patient index (persons and the local identities linked to them, with the probable links
 * awaiting a person's decision), resident IDs claimed for a study before its images arrived,
 * recognition records and the catalogue of recognised exam items. Opened as a module store:
 * `archive.stores.open(patientIndexStore)` for reads, `tx.open(patientIndexStore)` in a unit
 * of work for writes that commit with their audit records.
 */
export interface PersonTable {
  id: string;
  /** HMAC of the resident ID (national-id-vault.ts); null until one arrives */
  national_id_hash: string | null;
  national_id_cipher: string | null;
  national_id_masked: string | null;
  /** set when this person was merged into another; its identities moved there */
  merged_into: string | null;
  created_at: string;
  updated_at: string;
}

/**
 * One local identity: PatientID + IssuerOfPatientID ('' for none) + the institution that
 * issued it (holds the study). Never matched on PatientID alone.
 */
export interface PersonIdentityTable {
  id: string;
  person_id: string;
  institution_id: string;
  patient_id: string;
  issuer: string;
  patient_name: string | null;
  /** upper-case pinyin letters of the name (hanzi converted), the probable-link key */
  name_key: string | null;
  birth_date: string | null;
  sex: string | null;
  /** HMAC of the resident ID this identity carried, when one did */
  national_id_hash: string | null;
  /** 'national-id' | 'confirmed' | 'merged' | 'own' */
  link_kind: string;
  /** 1 after an administrator unlinked it: automatic links leave it where it is */
  pinned: number;
  created_at: string;
  updated_at: string;
}

export interface PersonCandidateTable {
  id: string;
  /** the identity that probably belongs to person_id */
  identity_id: string;
  person_id: string;
  /** 'pending' | 'confirmed' | 'rejected' */
  status: string;
  /** JSON array: what agreed, e.g. ["name","birthDate","sex"] */
  matched_on: string;
  created_at: string;
  decided_by: string | null;
  decided_at: string | null;
  reason: string | null;
}

/** A resident ID given with a reading request before its study's images arrived. */
export interface NationalIdClaimTable {
  study_instance_uid: string;
  institution_id: string;
  national_id_hash: string;
  national_id_cipher: string;
  national_id_masked: string;
  source: string;
  created_at: string;
}

export interface RecognitionTable {
  id: string;
  study_instance_uid: string;
  person_id: string | null;
  /** the institution that performed the recognised exam */
  study_institution_id: string;
  /** 'recognised' | 'not-recognised' */
  decision: string;
  reason: string;
  avoided_exam_item: string | null;
  /** JSON array */
  avoided_body_parts: string;
  /** the reference price of the avoided exam when it was recorded (yuan), null when unknown */
  avoided_price_yuan: number | null;
  institution_id: string;
  recorded_by: string;
  recorded_by_name: string | null;
  created_at: string;
}

export interface RecognitionItemTable {
  region: string;
  code: string;
  name: string;
  modality: string;
  body_part: string | null;
  window_days: number;
  min_institution_grade: number | null;
  require_signed_report: number;
  reference_price_yuan: number | null;
  updated_by: string;
  updated_at: string;
}

/** One merge of a person into another, with what it moved, so that it can be undone exactly. */
export interface PersonMergeTable {
  id: string;
  survivor_id: string;
  merged_id: string;
  /** JSON array of the identity ids the merge moved */
  identity_ids: string;
  /** 1 when the survivor took the merged person's resident ID */
  moved_national_id: number;
  /** 'merge' (an administrator), 'confirmed' (a candidate confirmed), 'national-id' (the same resident ID arrived) */
  kind: string;
  reason: string;
  merged_by: string;
  merged_at: string;
  undone_by: string | null;
  undone_at: string | null;
}

export interface RecognitionTables {
  persons: PersonTable;
  person_merges: PersonMergeTable;
  person_identities: PersonIdentityTable;
  person_candidates: PersonCandidateTable;
  national_id_claims: NationalIdClaimTable;
  recognitions: RecognitionTable;
  recognition_items: RecognitionItemTable;
}

type Tables = RecognitionTables & Database;

export type PersonRow = PersonTable;
export type IdentityRow = PersonIdentityTable;
export type CandidateRow = PersonCandidateTable;
export type MergeRow = PersonMergeTable;
export type RecognitionRow = RecognitionTable;
export type RecognitionItemRow = RecognitionItemTable;

export interface IdentityKey {
  institutionId: string;
  patientId: string;
  /** '' for none */
  issuer: string;
}

/** A study of a person, with what the timeline and the duplicate check need. */
export interface PersonStudyRow {
  study_instance_uid: string;
  study_key: string | null;
  study_date: string | null;
  institution_id: string;
  institution_name: string | null;
  institution_grade: number | null;
  study_description: string | null;
  identity_id: string;
}

export interface StudySeriesFacts {
  study_instance_uid: string;
  modality: string | null;
  body_part_examined: string | null;
}

export interface StudyReadingFacts {
  study_key: string;
  status: string;
  body_parts: string;
  exam_items: string;
  impression: string | null;
}

export class PatientIndexStore {
  private readonly handle: Kysely<Tables>;
  constructor(handle: Kysely<Tables>) {
    this.handle = handle;
  }

  // persons

  async person(id: string): Promise<PersonRow | undefined> {
    return this.handle.selectFrom('persons').selectAll().where('id', '=', id).executeTakeFirst();
  }

  async personsMergedInto(survivorId: string): Promise<string[]> {
    const rows = await this.handle.selectFrom('persons').select('id').where('merged_into', '=', survivorId).orderBy('id').execute();
    return rows.map((row) => row.id);
  }

  async personByNationalId(hash: string): Promise<PersonRow | undefined> {
    return this.handle.selectFrom('persons').selectAll().where('national_id_hash', '=', hash).executeTakeFirst();
  }

  async insertPerson(row: PersonRow): Promise<void> {
    await this.handle.insertInto('persons').values(row).execute();
  }

  async updatePerson(id: string, set: Partial<Omit<PersonRow, 'id'>>): Promise<void> {
    await this.handle.updateTable('persons').set({ ...set, updated_at: new Date().toISOString() }).where('id', '=', id).execute();
  }

  // identities

  async identity(id: string): Promise<IdentityRow | undefined> {
    return this.handle.selectFrom('person_identities').selectAll().where('id', '=', id).executeTakeFirst();
  }

  async identityByKey(key: IdentityKey): Promise<IdentityRow | undefined> {
    return this.handle
      .selectFrom('person_identities')
      .selectAll()
      .where('institution_id', '=', key.institutionId)
      .where('patient_id', '=', key.patientId)
      .where('issuer', '=', key.issuer)
      .executeTakeFirst();
  }

  async identitiesOf(personIds: readonly string[]): Promise<IdentityRow[]> {
    if (personIds.length === 0) return [];
    return this.handle.selectFrom('person_identities').selectAll().where('person_id', 'in', [...personIds]).orderBy('created_at').orderBy('id').execute();
  }

  async identitiesWithNationalId(hash: string): Promise<IdentityRow[]> {
    return this.handle.selectFrom('person_identities').selectAll().where('national_id_hash', '=', hash).execute();
  }

  async insertIdentity(row: IdentityRow): Promise<void> {
    await this.handle.insertInto('person_identities').values(row).execute();
  }

  async updateIdentity(id: string, set: Partial<Omit<IdentityRow, 'id'>>): Promise<void> {
    await this.handle.updateTable('person_identities').set({ ...set, updated_at: new Date().toISOString() }).where('id', '=', id).execute();
  }

  async moveIdentities(identityIds: readonly string[], toPersonId: string, linkKind: string): Promise<void> {
    if (identityIds.length === 0) return;
    await this.handle.updateTable('person_identities').set({ person_id: toPersonId, link_kind: linkKind, pinned: 0, updated_at: new Date().toISOString() }).where('id', 'in', [...identityIds]).execute();
  }

  // merges

  async insertMerge(row: MergeRow): Promise<void> {
    await this.handle.insertInto('person_merges').values(row).execute();
  }

  /** The merge of mergedId into survivorId that is not undone, the latest first. */
  async activeMerge(survivorId: string, mergedId: string): Promise<MergeRow | undefined> {
    return this.handle.selectFrom('person_merges').selectAll().where('survivor_id', '=', survivorId).where('merged_id', '=', mergedId).where('undone_at', 'is', null).orderBy('merged_at', 'desc').executeTakeFirst();
  }

  async markMergeUndone(id: string, by: string, at: string): Promise<void> {
    await this.handle.updateTable('person_merges').set({ undone_by: by, undone_at: at }).where('id', '=', id).execute();
  }

  /** Identities of other persons that agree on name key, birth date and sex (probable links). */
  async probableMatches(identity: IdentityRow): Promise<IdentityRow[]> {
    if (!identity.name_key || !identity.birth_date || !identity.sex) return [];
    return this.handle
      .selectFrom('person_identities')
      .selectAll()
      .where('name_key', '=', identity.name_key)
      .where('birth_date', '=', identity.birth_date)
      .where('sex', '=', identity.sex)
      .where('person_id', '<>', identity.person_id)
      .limit(50)
      .execute();
  }

  /** Persons with an identity of this name key and birth date (the search by name + birth date). */
  async personIdsByName(nameKey: string, birthDate: string, limit: number): Promise<string[]> {
    const rows = await this.handle.selectFrom('person_identities').select('person_id').distinct().where('name_key', '=', nameKey).where('birth_date', '=', birthDate).limit(limit).execute();
    return rows.map((row) => row.person_id);
  }

  // candidates

  async candidate(id: string): Promise<CandidateRow | undefined> {
    return this.handle.selectFrom('person_candidates').selectAll().where('id', '=', id).executeTakeFirst();
  }

  async candidateFor(identityId: string, personId: string): Promise<CandidateRow | undefined> {
    return this.handle.selectFrom('person_candidates').selectAll().where('identity_id', '=', identityId).where('person_id', '=', personId).executeTakeFirst();
  }

  async insertCandidate(row: CandidateRow): Promise<void> {
    await this.handle.insertInto('person_candidates').values(row).onConflict((oc) => oc.columns(['identity_id', 'person_id']).doNothing()).execute();
  }

  /** Pending candidates that concern these persons, either as the proposed person or through the identity. */
  async pendingCandidatesOf(personIds: readonly string[], identityIds: readonly string[]): Promise<CandidateRow[]> {
    if (personIds.length === 0 && identityIds.length === 0) return [];
    return this.handle
      .selectFrom('person_candidates')
      .selectAll()
      .where('status', '=', 'pending')
      .where((eb) => eb.or([eb('person_id', 'in', [...personIds, '']), eb('identity_id', 'in', [...identityIds, ''])]))
      .orderBy('created_at')
      .execute();
  }

  async decideCandidate(id: string, set: Pick<CandidateRow, 'status' | 'decided_by' | 'decided_at' | 'reason'>): Promise<boolean> {
    const result = await this.handle.updateTable('person_candidates').set(set).where('id', '=', id).where('status', '=', 'pending').executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  /**
   * After a merge: the merged person's pending candidates become the survivor's (unless the
   * survivor has that pair already, decided or not), and every pending candidate whose two
   * sides are now the one survivor is moot.
   */
  async retargetCandidates(fromPersonId: string, toPersonId: string, at: string): Promise<void> {
    const existing = this.handle.selectFrom('person_candidates').select('identity_id').where('person_id', '=', toPersonId);
    await this.handle.updateTable('person_candidates').set({ person_id: toPersonId }).where('person_id', '=', fromPersonId).where('status', '=', 'pending').where('identity_id', 'not in', existing).execute();
    await this.handle.deleteFrom('person_candidates').where('person_id', '=', fromPersonId).where('status', '=', 'pending').execute();
    const ownIdentities = this.handle.selectFrom('person_identities').select('id').where('person_id', '=', toPersonId);
    await this.handle.updateTable('person_candidates').set({ status: 'confirmed', decided_by: 'system:linked', decided_at: at }).where('status', '=', 'pending').where('person_id', '=', toPersonId).where('identity_id', 'in', ownIdentities).execute();
  }

  // resident IDs claimed for a study before its images

  async putClaim(row: NationalIdClaimTable): Promise<void> {
    const { national_id_hash, national_id_cipher, national_id_masked, source, created_at } = row;
    await this.handle
      .insertInto('national_id_claims')
      .values(row)
      .onConflict((oc) => oc.columns(['study_instance_uid', 'institution_id']).doUpdateSet({ national_id_hash, national_id_cipher, national_id_masked, source, created_at }))
      .execute();
  }

  async claimOf(studyInstanceUid: string, institutionId: string): Promise<NationalIdClaimTable | undefined> {
    return this.handle.selectFrom('national_id_claims').selectAll().where('study_instance_uid', '=', studyInstanceUid).where('institution_id', '=', institutionId).executeTakeFirst();
  }

  // studies of persons (core tables, read only)

  /** The studies of the persons' identities, newest first (matched on the full identity, never on PatientID alone). */
  async studiesOf(personIds: readonly string[], options: { since?: string; limit: number }): Promise<PersonStudyRow[]> {
    if (personIds.length === 0) return [];
    let query = this.handle
      .selectFrom('person_identities as pi')
      .innerJoin('studies as st', (join) => join.onRef('st.patient_id', '=', 'pi.patient_id').onRef('st.institution_id', '=', 'pi.institution_id'))
      .leftJoin('institutions as ins', 'ins.id', 'st.institution_id')
      .select(['st.study_instance_uid', 'st.study_key', 'st.study_date', 'st.institution_id', 'ins.name as institution_name', 'ins.grade as institution_grade', 'st.study_description', 'pi.id as identity_id'])
      .where('pi.person_id', 'in', [...personIds])
      .where(sql<boolean>`coalesce(st.issuer_of_patient_id, '') = pi.issuer`);
    if (options.since) query = query.where('st.study_date', '>=', options.since);
    return query.orderBy('st.study_date', 'desc').orderBy('st.study_instance_uid').limit(options.limit).execute();
  }

  async seriesFacts(studyInstanceUids: readonly string[]): Promise<StudySeriesFacts[]> {
    if (studyInstanceUids.length === 0) return [];
    return this.handle.selectFrom('series').select(['study_instance_uid', 'modality', 'body_part_examined']).where('study_instance_uid', 'in', [...studyInstanceUids]).execute();
  }

  /** The reading requests of these study rows (deleted ones left out), with the signed report's impression. */
  async readingFacts(studyKeys: readonly string[]): Promise<StudyReadingFacts[]> {
    if (studyKeys.length === 0) return [];
    const rows = await this.handle
      .selectFrom('reading_requests as r')
      .leftJoin('reports as rep', (join) => join.onRef('rep.request_id', '=', 'r.id').on('rep.status', '=', 'signed'))
      .select(['r.study_key', 'r.status', 'r.body_parts', 'r.exam_items', 'rep.impression', 'r.created_at'])
      .where('r.study_key', 'in', [...studyKeys])
      .where('r.status', '<>', 'deleted')
      .orderBy('r.created_at')
      .execute();
    return rows.map((row) => ({ study_key: row.study_key!, status: row.status, body_parts: row.body_parts, exam_items: row.exam_items, impression: row.impression }));
  }

  /** Those of the studies granted to the institution (study_grants: sent to it for reading or consultation). */
  async studiesGrantedTo(institutionId: string, studyInstanceUids: readonly string[]): Promise<Set<string>> {
    const rows = await this.handle.selectFrom('study_grants').select('study_instance_uid').where('institution_id', '=', institutionId).where('study_instance_uid', 'in', [...studyInstanceUids, '']).execute();
    return new Set(rows.map((row) => row.study_instance_uid));
  }

  /** Those of the studies a patient's own cloud-film link (live, not revoked) shows. */
  async studiesWithLivePatientLinks(studyInstanceUids: readonly string[]): Promise<Set<string>> {
    const rows = await this.handle
      .selectFrom('share_links')
      .select('study_instance_uid')
      .distinct()
      .where('study_instance_uid', 'in', [...studyInstanceUids, ''])
      .where('kind', '=', 'patient')
      .where('revoked_at', 'is', null)
      .where('expires_at', '>', new Date().toISOString())
      .execute();
    return new Set(rows.map((row) => row.study_instance_uid));
  }

  async institution(id: string): Promise<{ id: string; name: string; grade: number | null; region_code: string | null } | undefined> {
    return this.handle.selectFrom('institutions').select(['id', 'name', 'grade', 'region_code']).where('id', '=', id).executeTakeFirst();
  }

  async institutionNames(ids: readonly string[]): Promise<Map<string, string>> {
    if (ids.length === 0) return new Map();
    const rows = await this.handle.selectFrom('institutions').select(['id', 'name']).where('id', 'in', [...ids]).execute();
    return new Map(rows.map((row) => [row.id, row.name]));
  }

  async studyRow(studyInstanceUid: string): Promise<{ study_instance_uid: string; institution_id: string; patient_id: string | null; issuer_of_patient_id: string | null; patient_name: string | null; patient_birth_date: string | null; patient_sex: string | null; attributes_json: string } | undefined> {
    return this.handle
      .selectFrom('studies')
      .select(['study_instance_uid', 'institution_id', 'patient_id', 'issuer_of_patient_id', 'patient_name', 'patient_birth_date', 'patient_sex', 'attributes_json'])
      .where('study_instance_uid', '=', studyInstanceUid)
      .executeTakeFirst();
  }

  // recognitions

  async insertRecognition(row: RecognitionRow): Promise<void> {
    await this.handle.insertInto('recognitions').values(row).execute();
  }

  async recognitionsOf(filter: { studyInstanceUids?: readonly string[]; personId?: string }): Promise<RecognitionRow[]> {
    let query = this.handle.selectFrom('recognitions').selectAll();
    if (filter.studyInstanceUids) query = query.where('study_instance_uid', 'in', [...filter.studyInstanceUids, '']);
    if (filter.personId) query = query.where('person_id', '=', filter.personId);
    return query.orderBy('created_at').limit(1000).execute();
  }

  /** Recognition counts per recording institution or month (YYYY-MM of created_at). */
  async recognitionCounts(groupBy: 'institution' | 'month', range: { from?: string; to?: string; institutionIds?: readonly string[] }): Promise<Array<{ key: string; decision: string; n: number; money: number | null; avoided: number }>> {
    const key = groupBy === 'institution' ? sql<string>`institution_id` : sql<string>`substr(created_at, 1, 7)`;
    let query = this.handle
      .selectFrom('recognitions')
      .select([key.as('key'), 'decision', (eb) => eb.fn.countAll<number>().as('n'), (eb) => eb.fn.sum<number | null>('avoided_price_yuan').as('money'), sql<number>`sum(case when decision = 'recognised' then 1 else 0 end)`.as('avoided')])
      .groupBy([key, 'decision']);
    if (range.from) query = query.where('created_at', '>=', range.from);
    if (range.to) query = query.where('created_at', '<=', range.to);
    if (range.institutionIds) query = query.where('institution_id', 'in', [...range.institutionIds, '']);
    const rows = await query.execute();
    return rows.map((row) => ({ key: String(row.key), decision: row.decision, n: Number(row.n), money: row.money === null ? null : Number(row.money), avoided: Number(row.avoided) }));
  }

  // the item catalogue

  async items(region?: string): Promise<RecognitionItemRow[]> {
    let query = this.handle.selectFrom('recognition_items').selectAll();
    if (region) query = query.where('region', '=', region);
    return query.orderBy('region').orderBy('code').execute();
  }

  async putItem(row: RecognitionItemRow): Promise<void> {
    const { region: _region, code: _code, ...rest } = row;
    await this.handle.insertInto('recognition_items').values(row).onConflict((oc) => oc.columns(['region', 'code']).doUpdateSet(rest)).execute();
  }

  async removeItem(region: string, code: string): Promise<boolean> {
    const result = await this.handle.deleteFrom('recognition_items').where('region', '=', region).where('code', '=', code).executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }
}

export const patientIndexStore: StoreOpener<PatientIndexStore, RecognitionTables> = (handle) => new PatientIndexStore(handle as unknown as Kysely<Tables>);

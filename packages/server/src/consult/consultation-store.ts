import type { Kysely, Migration } from 'kysely';
import type { Database } from '../store/schema.ts';
import type { StoreOpener } from '../store/store-opener.ts';

/**
 * Consultations in SQL (migration 0029-consultations): the consultation with its conclusion,
 * one row per invited expert with that expert's opinion, the agreements between requesting
 * and expert institutions, and the expert institutions' duty rosters (排班).
 * `archive.stores.open(consultationStore)` for reads, `tx.open(consultationStore)` in a unit
 * of work for writes that commit with their audit records and feed rows.
 */
export interface ConsultationTable {
  id: string;
  type: string;
  status: string;
  requesting_institution_id: string;
  expert_institution_id: string;
  requested_by: string;
  /** JSON array of Study Instance UIDs: the case and the priors the requester shares */
  study_instance_uids: string;
  question: string;
  clinical_summary: string;
  /** JSON array of {title, reportId?} */
  attachments: string;
  /** the expert who signs the conclusion: the first to accept */
  lead: string | null;
  conclusion_text: string | null;
  conclusion_signed_at: string | null;
  /** 'password' or 'pin' (reports/e-signature.ts) */
  conclusion_method: string | null;
  follow_up_note: string | null;
  cancel_reason: string | null;
  sla_minutes: number;
  due_at: string;
  created_at: string;
  accepted_at: string | null;
  first_opinion_at: string | null;
  answered_at: string | null;
  closed_at: string | null;
  updated_at: string;
}

export interface ConsultationExpertTable {
  consultation_id: string;
  username: string;
  /** invited, accepted, declined, replaced */
  status: string;
  /** 1: chosen by the duty roster rather than by the requester */
  via_roster: number;
  invited_at: string;
  responded_at: string | null;
  decline_reason: string | null;
  opinion_text: string | null;
  opinion_saved_at: string | null;
  opinion_signed_at: string | null;
  opinion_method: string | null;
}

export interface ConsultationAgreementTable {
  id: string;
  requesting_institution_id: string;
  expert_institution_id: string;
  created_by: string;
  created_at: string;
  ended_at: string | null;
  ended_by: string | null;
}

export interface DutyRosterTable {
  id: string;
  institution_id: string;
  username: string;
  starts_at: string;
  ends_at: string;
  /** JSON array of consultation types the shift takes; null: every type */
  types: string | null;
  created_by: string;
  created_at: string;
}

export interface ConsultationTables {
  consultations: ConsultationTable;
  consultation_experts: ConsultationExpertTable;
  consultation_agreements: ConsultationAgreementTable;
  duty_roster: DutyRosterTable;
}

type Tables = ConsultationTables & Database;
export type ConsultationRow = ConsultationTable;
export type ConsultationExpertRow = ConsultationExpertTable;
export type AgreementRow = ConsultationAgreementTable;
export type DutyRosterRow = DutyRosterTable;

export const CONSULTATION_TABLES = ['consultations', 'consultation_experts', 'consultation_agreements', 'duty_roster'] as const;

export const CONSULTATION_MIGRATIONS: Readonly<Record<string, Migration>> = {
  '0029-consultations': {
    async up(untyped: Kysely<unknown>) {
      const db = untyped as unknown as Kysely<ConsultationTables>;
      await db.schema
        .createTable('consultations')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('type', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('requesting_institution_id', 'text', (c) => c.notNull())
        .addColumn('expert_institution_id', 'text', (c) => c.notNull())
        .addColumn('requested_by', 'text', (c) => c.notNull())
        .addColumn('study_instance_uids', 'text', (c) => c.notNull())
        .addColumn('question', 'text', (c) => c.notNull())
        .addColumn('clinical_summary', 'text', (c) => c.notNull())
        .addColumn('attachments', 'text', (c) => c.notNull())
        .addColumn('lead', 'text')
        .addColumn('conclusion_text', 'text')
        .addColumn('conclusion_signed_at', 'text')
        .addColumn('conclusion_method', 'text')
        .addColumn('follow_up_note', 'text')
        .addColumn('cancel_reason', 'text')
        .addColumn('sla_minutes', 'integer', (c) => c.notNull())
        .addColumn('due_at', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('accepted_at', 'text')
        .addColumn('first_opinion_at', 'text')
        .addColumn('answered_at', 'text')
        .addColumn('closed_at', 'text')
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('consultations_requesting').on('consultations').columns(['requesting_institution_id', 'created_at']).execute();
      await db.schema.createIndex('consultations_expert_institution').on('consultations').columns(['expert_institution_id', 'created_at']).execute();
      await db.schema
        .createTable('consultation_experts')
        .addColumn('consultation_id', 'text', (c) => c.notNull())
        .addColumn('username', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('via_roster', 'integer', (c) => c.notNull())
        .addColumn('invited_at', 'text', (c) => c.notNull())
        .addColumn('responded_at', 'text')
        .addColumn('decline_reason', 'text')
        .addColumn('opinion_text', 'text')
        .addColumn('opinion_saved_at', 'text')
        .addColumn('opinion_signed_at', 'text')
        .addColumn('opinion_method', 'text')
        .addPrimaryKeyConstraint('consultation_experts_pk', ['consultation_id', 'username'])
        .execute();
      await db.schema.createIndex('consultation_experts_user').on('consultation_experts').columns(['username', 'status']).execute();
      await db.schema
        .createTable('consultation_agreements')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('requesting_institution_id', 'text', (c) => c.notNull())
        .addColumn('expert_institution_id', 'text', (c) => c.notNull())
        .addColumn('created_by', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('ended_at', 'text')
        .addColumn('ended_by', 'text')
        .execute();
      await db.schema.createIndex('consultation_agreements_pair').on('consultation_agreements').columns(['requesting_institution_id', 'expert_institution_id']).execute();
      await db.schema
        .createTable('duty_roster')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('institution_id', 'text', (c) => c.notNull())
        .addColumn('username', 'text', (c) => c.notNull())
        .addColumn('starts_at', 'text', (c) => c.notNull())
        .addColumn('ends_at', 'text', (c) => c.notNull())
        .addColumn('types', 'text')
        .addColumn('created_by', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('duty_roster_institution').on('duty_roster').columns(['institution_id', 'starts_at']).execute();
    },
  },
};

export class ConsultationStore {
  private readonly handle: Kysely<Tables>;
  constructor(handle: Kysely<Tables>) {
    this.handle = handle;
  }

  // consultations

  async insert(row: ConsultationRow, experts: readonly ConsultationExpertRow[]): Promise<void> {
    await this.handle.insertInto('consultations').values(row).execute();
    if (experts.length > 0) await this.handle.insertInto('consultation_experts').values([...experts]).execute();
  }

  async find(id: string): Promise<ConsultationRow | undefined> {
    return this.handle.selectFrom('consultations').selectAll().where('id', '=', id).executeTakeFirst();
  }

  /**
   * Moves the consultation from one of `from` to its next state with these changes; false when
   * another step came first (the caller answers 409), so concurrent steps have one winner.
   */
  async transition(id: string, from: readonly string[], changes: Partial<ConsultationRow>): Promise<boolean> {
    const result = await this.handle.updateTable('consultations').set(changes).where('id', '=', id).where('status', 'in', [...from]).executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  async update(id: string, changes: Partial<ConsultationRow>): Promise<void> {
    await this.handle.updateTable('consultations').set(changes).where('id', '=', id).execute();
  }

  /** The consultations of a requesting institution, or those one expert is invited to; newest first. */
  async list(filter: { requestingInstitutionId?: string; expert?: string; status?: string; limit: number }): Promise<ConsultationRow[]> {
    let query = this.handle.selectFrom('consultations').selectAll('consultations');
    if (filter.requestingInstitutionId !== undefined) query = query.where('requesting_institution_id', '=', filter.requestingInstitutionId);
    if (filter.expert !== undefined) {
      const expert = filter.expert;
      query = query.where('id', 'in', (eb) => eb.selectFrom('consultation_experts').select('consultation_id').where('username', '=', expert).where('status', 'in', ['invited', 'accepted']));
    }
    if (filter.status !== undefined) query = query.where('status', '=', filter.status);
    return query.orderBy('created_at', 'desc').limit(filter.limit).execute();
  }

  /** Every consultation created within [from, to), for the statistics. */
  async createdBetween(from: string, to: string): Promise<ConsultationRow[]> {
    return this.handle.selectFrom('consultations').selectAll().where('created_at', '>=', from).where('created_at', '<', to).execute();
  }

  // experts

  async experts(consultationId: string): Promise<ConsultationExpertRow[]> {
    return this.handle.selectFrom('consultation_experts').selectAll().where('consultation_id', '=', consultationId).orderBy('invited_at').orderBy('username').execute();
  }

  async insertExpert(row: ConsultationExpertRow): Promise<boolean> {
    const existing = await this.handle.selectFrom('consultation_experts').select('username').where('consultation_id', '=', row.consultation_id).where('username', '=', row.username).executeTakeFirst();
    if (existing) return false;
    await this.handle.insertInto('consultation_experts').values(row).execute();
    return true;
  }

  /** Changes one expert's row if it is in one of `from`; false when it is not. */
  async changeExpert(consultationId: string, username: string, from: readonly string[], changes: Partial<ConsultationExpertRow>): Promise<boolean> {
    const result = await this.handle.updateTable('consultation_experts').set(changes).where('consultation_id', '=', consultationId).where('username', '=', username).where('status', 'in', [...from]).executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  /** An accepted expert's unsigned opinion changes (a draft saved, or signed); false when it is signed already. */
  async saveOpinion(consultationId: string, username: string, changes: Pick<Partial<ConsultationExpertRow>, 'opinion_text' | 'opinion_saved_at' | 'opinion_signed_at' | 'opinion_method'>): Promise<boolean> {
    const result = await this.handle.updateTable('consultation_experts').set(changes).where('consultation_id', '=', consultationId).where('username', '=', username).where('status', '=', 'accepted').where('opinion_signed_at', 'is', null).executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  /** The first signed opinion of each consultation among these, for the statistics. */
  async firstSignedOpinions(consultationIds: readonly string[]): Promise<Map<string, string>> {
    if (consultationIds.length === 0) return new Map();
    const rows = await this.handle
      .selectFrom('consultation_experts')
      .select(['consultation_id', (eb) => eb.fn.min('opinion_signed_at').as('first')])
      .where('consultation_id', 'in', [...consultationIds])
      .where('opinion_signed_at', 'is not', null)
      .groupBy('consultation_id')
      .execute();
    return new Map(rows.map((row) => [row.consultation_id, String(row.first)]));
  }

  // agreements

  async insertAgreement(row: AgreementRow): Promise<void> {
    await this.handle.insertInto('consultation_agreements').values(row).execute();
  }

  async activeAgreement(requestingInstitutionId: string, expertInstitutionId: string): Promise<AgreementRow | undefined> {
    return this.handle.selectFrom('consultation_agreements').selectAll().where('requesting_institution_id', '=', requestingInstitutionId).where('expert_institution_id', '=', expertInstitutionId).where('ended_at', 'is', null).executeTakeFirst();
  }

  async activeAgreements(institutionId?: string): Promise<AgreementRow[]> {
    let query = this.handle.selectFrom('consultation_agreements').selectAll().where('ended_at', 'is', null);
    if (institutionId !== undefined) query = query.where((eb) => eb.or([eb('requesting_institution_id', '=', institutionId), eb('expert_institution_id', '=', institutionId)]));
    return query.orderBy('created_at').execute();
  }

  async endAgreement(id: string, by: string, at: string): Promise<boolean> {
    const result = await this.handle.updateTable('consultation_agreements').set({ ended_at: at, ended_by: by }).where('id', '=', id).where('ended_at', 'is', null).executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  // duty roster

  async insertShift(row: DutyRosterRow): Promise<void> {
    await this.handle.insertInto('duty_roster').values(row).execute();
  }

  async deleteShift(id: string): Promise<DutyRosterRow | undefined> {
    const row = await this.handle.selectFrom('duty_roster').selectAll().where('id', '=', id).executeTakeFirst();
    if (row) await this.handle.deleteFrom('duty_roster').where('id', '=', id).execute();
    return row;
  }

  /** The shifts of an institution overlapping [from, to). */
  async shifts(institutionId: string, from: string, to: string): Promise<DutyRosterRow[]> {
    return this.handle.selectFrom('duty_roster').selectAll().where('institution_id', '=', institutionId).where('starts_at', '<', to).where('ends_at', '>', from).orderBy('starts_at').execute();
  }
}

export const consultationStore: StoreOpener<ConsultationStore, ConsultationTables> = (handle) => new ConsultationStore(handle as unknown as Kysely<Tables>);

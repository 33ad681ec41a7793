import type { Kysely } from 'kysely';
import type { Database } from '../store/schema.ts';
import type { StoreOpener } from '../store/store-opener.ts';

/**
 * The referral table (migration 0030-referrals-mdt, referral-mdt.ts), with the institutions and alliances the suggestions read. Opened as a
 * module store: `archive.stores.open(referralStore)` for reads, `tx.open(referralStore)` in a
 * unit of work for writes that commit with their audit records and feed rows.
 */
export interface ReferralTable {
  id: string;
  /** 'up' | 'down' */
  direction: string;
  /** 'requested' | 'accepted' | 'refused' | 'completed' | 'cancelled' */
  status: string;
  /** the patient as given: PatientID + IssuerOfPatientID of the originating institution, never matched on PatientID alone */
  patient_id: string;
  issuer_of_patient_id: string | null;
  patient_name: string | null;
  patient_sex: string | null;
  patient_birth_date: string | null;
  from_institution_id: string;
  to_institution_id: string;
  reason: string;
  /** JSON array */
  study_instance_uids: string;
  /** JSON array */
  report_ids: string;
  discharge_summary: string | null;
  follow_up_plan: string | null;
  requested_by: string;
  requested_by_name: string | null;
  responded_by: string | null;
  response_note: string | null;
  outcome: string | null;
  created_at: string;
  responded_at: string | null;
  completed_at: string | null;
}

export interface ReferralTables {
  referrals: ReferralTable;
}

type Tables = ReferralTables & Database;

export type ReferralRow = ReferralTable;

export interface InstitutionFacts {
  id: string;
  name: string;
  tier: string | null;
  region_code: string | null;
  parent_id: string | null;
}

export interface PairRow {
  from_institution_id: string;
  to_institution_id: string;
  direction: string;
  count: number;
}

export class ReferralStore {
  private readonly handle: Kysely<Tables>;
  constructor(handle: Kysely<Tables>) {
    this.handle = handle;
  }

  // referrals

  async insertReferral(row: ReferralRow): Promise<void> {
    await this.handle.insertInto('referrals').values(row).execute();
  }

  async referral(id: string): Promise<ReferralRow | undefined> {
    return this.handle.selectFrom('referrals').selectAll().where('id', '=', id).executeTakeFirst();
  }

  /** Sets the changes only while the referral is still in `from` (a concurrent transition loses); true when it was. */
  async updateReferral(id: string, from: string, changes: Partial<Omit<ReferralRow, 'id'>>): Promise<boolean> {
    const result = await this.handle.updateTable('referrals').set(changes).where('id', '=', id).where('status', '=', from).executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  /** Newest first; institutions: the from (out) or to (in) side is one of them (undefined: any). */
  async listReferrals(filter: { box?: 'in' | 'out'; institutionIds?: readonly string[]; status?: string; limit: number }): Promise<ReferralRow[]> {
    let query = this.handle.selectFrom('referrals').selectAll();
    const ids = filter.institutionIds ? [...filter.institutionIds] : undefined;
    if (ids && ids.length === 0) return [];
    if (filter.box === 'in') {
      if (ids) query = query.where('to_institution_id', 'in', ids);
    } else if (filter.box === 'out') {
      if (ids) query = query.where('from_institution_id', 'in', ids);
    } else if (ids) {
      query = query.where((eb) => eb.or([eb('from_institution_id', 'in', ids), eb('to_institution_id', 'in', ids)]));
    }
    if (filter.status) query = query.where('status', '=', filter.status);
    return query.orderBy('created_at', 'desc').orderBy('id').limit(filter.limit).execute();
  }

  async referralPairs(period: { from?: string; to?: string }): Promise<PairRow[]> {
    let query = this.handle
      .selectFrom('referrals')
      .select(['from_institution_id', 'to_institution_id', 'direction', (eb) => eb.fn.countAll<number>().as('count')]);
    if (period.from) query = query.where('created_at', '>=', period.from);
    if (period.to) query = query.where('created_at', '<', period.to);
    const rows = await query.groupBy(['from_institution_id', 'to_institution_id', 'direction']).orderBy('from_institution_id').orderBy('to_institution_id').orderBy('direction').execute();
    return rows.map((row) => ({ ...row, count: Number(row.count) }));
  }

  // institutions

  async institution(id: string): Promise<InstitutionFacts | undefined> {
    return this.handle.selectFrom('institutions').select(['id', 'name', 'tier', 'region_code', 'parent_id']).where('id', '=', id).executeTakeFirst();
  }

  async institutions(): Promise<InstitutionFacts[]> {
    return this.handle.selectFrom('institutions').select(['id', 'name', 'tier', 'region_code', 'parent_id']).orderBy('id').execute();
  }

  async institutionNames(ids: readonly string[]): Promise<Map<string, string>> {
    if (ids.length === 0) return new Map();
    const rows = await this.handle.selectFrom('institutions').select(['id', 'name']).where('id', 'in', [...ids]).execute();
    return new Map(rows.map((row) => [row.id, row.name]));
  }

  async allianceCentresOf(memberId: string): Promise<string[]> {
    const rows = await this.handle.selectFrom('alliance_members').select('centre_id').where('member_id', '=', memberId).orderBy('centre_id').execute();
    return rows.map((row) => row.centre_id);
  }

  async allianceMembersOf(centreId: string): Promise<string[]> {
    const rows = await this.handle.selectFrom('alliance_members').select('member_id').where('centre_id', '=', centreId).orderBy('member_id').execute();
    return rows.map((row) => row.member_id);
  }

  async displayName(username: string): Promise<string | null> {
    const row = await this.handle.selectFrom('users').select('display_name').where('username', '=', username).executeTakeFirst();
    return row?.display_name ?? null;
  }
}

export const referralStore: StoreOpener<ReferralStore, ReferralTables> = (handle) => new ReferralStore(handle as unknown as Kysely<Tables>);

import type { Kysely } from 'kysely';
import type { StoreOpener } from '../store/store-opener.ts';

/**
 * The critical-findings module's own tables (migration 0015-critical-findings, module.ts),
 * opened as a module store: `archive.stores.open(criticalFindingStore)` for reads,
 * `tx.open(criticalFindingStore)` inside a unit of work for writes.
 */
export interface CriticalFindingTable {
  id: string;
  request_id: string;
  study_instance_uid: string;
  requesting_institution_id: string;
  reading_institution_id: string;
  /** the category's code (critical_finding_categories.code) */
  category: string;
  /** its Chinese and English names when it was flagged: renaming a category later does not rewrite history */
  category_zh: string;
  category_en: string;
  note: string;
  flagged_by: string;
  flagged_by_name: string | null;
  flagged_at: string;
  /** 'open' until the requesting institution acknowledges it, then 'acknowledged' */
  status: string;
  /** SMS of the first alert: 'sent', 'failed', 'no-phone' (no number configured), null while not yet tried */
  sms_status: string | null;
  /** how many times the alert was escalated (repeated) */
  escalations: number;
  /** the last time the township was alerted (the flag, then each escalation) */
  last_alerted_at: string;
  escalated_at: string | null;
  acknowledged_by: string | null;
  /** the name the acknowledging person gave (接收人) */
  received_by: string | null;
  /** how the clinician was informed: phone, in-person, sms, other */
  informed_via: string | null;
  clinician_name: string | null;
  /** when the clinician was informed, as the township records it */
  informed_at: string | null;
  /** when the acknowledgement was recorded (the server's clock) */
  acknowledged_at: string | null;
  ack_note: string | null;
}

export interface CriticalCategoryTable {
  code: string;
  zh: string;
  en: string;
  position: number;
}

/** The number alerts are sent to by SMS, one per institution (危急值接收电话). */
export interface CriticalContactTable {
  institution_id: string;
  phone: string;
  updated_by: string;
  updated_at: string;
}

export interface CriticalFindingTables {
  critical_findings: CriticalFindingTable;
  critical_finding_categories: CriticalCategoryTable;
  critical_finding_contacts: CriticalContactTable;
}

export type CriticalFindingRow = CriticalFindingTable;

export interface FindingQuery {
  /** the institutions whose findings (as requester or reader) to list; 'all' for administrators */
  institutionId: string | 'all';
  status?: 'open' | 'acknowledged';
  /** ISO instants of flagged_at */
  from?: string;
  to?: string;
  limit: number;
}

export class CriticalFindingStore {
  private readonly handle: Kysely<CriticalFindingTables>;
  constructor(handle: Kysely<CriticalFindingTables>) {
    this.handle = handle;
  }

  async insert(row: CriticalFindingRow): Promise<void> {
    await this.handle.insertInto('critical_findings').values(row).execute();
  }

  async find(id: string): Promise<CriticalFindingRow | undefined> {
    return this.handle.selectFrom('critical_findings').selectAll().where('id', '=', id).executeTakeFirst();
  }

  async ofRequest(requestId: string): Promise<CriticalFindingRow[]> {
    return this.handle.selectFrom('critical_findings').selectAll().where('request_id', '=', requestId).orderBy('flagged_at').orderBy('id').execute();
  }

  async list(query: FindingQuery): Promise<CriticalFindingRow[]> {
    let select = this.handle.selectFrom('critical_findings').selectAll();
    const institutionId = query.institutionId;
    if (institutionId !== 'all') select = select.where((eb) => eb.or([eb('requesting_institution_id', '=', institutionId), eb('reading_institution_id', '=', institutionId)]));
    if (query.status) select = select.where('status', '=', query.status);
    if (query.from) select = select.where('flagged_at', '>=', query.from);
    if (query.to) select = select.where('flagged_at', '<=', query.to);
    return select.orderBy('flagged_at', 'desc').orderBy('id').limit(query.limit).execute();
  }

  /** Open findings last alerted at or before `before`, with fewer than `maxEscalations` escalations. */
  async dueForEscalation(before: string, maxEscalations: number, limit: number): Promise<CriticalFindingRow[]> {
    return this.handle.selectFrom('critical_findings').selectAll().where('status', '=', 'open').where('last_alerted_at', '<=', before).where('escalations', '<', maxEscalations).orderBy('last_alerted_at').limit(limit).execute();
  }

  async setSmsStatus(id: string, status: string): Promise<void> {
    await this.handle.updateTable('critical_findings').set({ sms_status: status }).where('id', '=', id).execute();
  }

  /** One escalation, if nobody (another process, an acknowledgement) got there first. */
  async escalate(id: string, fromCount: number, at: string): Promise<boolean> {
    const result = await this.handle
      .updateTable('critical_findings')
      .set((eb) => ({ escalations: fromCount + 1, last_alerted_at: at, escalated_at: eb.fn.coalesce('escalated_at', eb.val(at)) }))
      .where('id', '=', id)
      .where('status', '=', 'open')
      .where('escalations', '=', fromCount)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  /** The acknowledgement, once: false when the finding is acknowledged already. */
  async acknowledge(id: string, set: Pick<CriticalFindingRow, 'acknowledged_by' | 'received_by' | 'informed_via' | 'clinician_name' | 'informed_at' | 'acknowledged_at' | 'ack_note'>): Promise<boolean> {
    const result = await this.handle.updateTable('critical_findings').set({ ...set, status: 'acknowledged' }).where('id', '=', id).where('status', '=', 'open').executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  async categories(): Promise<CriticalCategoryTable[]> {
    return this.handle.selectFrom('critical_finding_categories').selectAll().orderBy('position').orderBy('code').execute();
  }

  async replaceCategories(rows: readonly CriticalCategoryTable[]): Promise<void> {
    await this.handle.deleteFrom('critical_finding_categories').execute();
    if (rows.length > 0) await this.handle.insertInto('critical_finding_categories').values([...rows]).execute();
  }

  async contacts(): Promise<CriticalContactTable[]> {
    return this.handle.selectFrom('critical_finding_contacts').selectAll().orderBy('institution_id').execute();
  }

  async contactOf(institutionId: string): Promise<CriticalContactTable | undefined> {
    return this.handle.selectFrom('critical_finding_contacts').selectAll().where('institution_id', '=', institutionId).executeTakeFirst();
  }

  async putContact(row: CriticalContactTable): Promise<void> {
    const { phone, updated_by, updated_at } = row;
    await this.handle.insertInto('critical_finding_contacts').values(row).onConflict((oc) => oc.column('institution_id').doUpdateSet({ phone, updated_by, updated_at })).execute();
  }

  async removeContact(institutionId: string): Promise<boolean> {
    const result = await this.handle.deleteFrom('critical_finding_contacts').where('institution_id', '=', institutionId).executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }
}

export const criticalFindingStore: StoreOpener<CriticalFindingStore, CriticalFindingTables> = (handle) => new CriticalFindingStore(handle);

import type { Kysely } from 'kysely';
import type { StoreOpener } from '../store/store-opener.ts';

/**
 * The orders module's own tables (migration 0021-orders, module.ts), opened as a module
 * store: `archive.stores.open(orderStore)` for reads, `tx.open(orderStore)` inside a unit of
 * work for writes.
 */
export interface OrderTable {
  id: string;
  institution_id: string;
  /** scheduled, in-progress, completed, discontinued, cancelled */
  status: string;
  /** rest, fhir, hl7 */
  source: string;
  accession_number: string;
  placer_order_number: string | null;
  patient_id: string;
  issuer_of_patient_id: string | null;
  /** DICOM PN, all component groups ('Zhang^San=张^三') */
  patient_name: string;
  patient_sex: string | null;
  /** YYYYMMDD */
  patient_birth_date: string | null;
  national_id: string | null;
  procedure_id: string;
  procedure_description: string;
  /** JSON {value, scheme, meaning} or null */
  procedure_code: string | null;
  modality: string;
  body_part: string | null;
  /** pre-assigned (0020,000D) */
  study_instance_uid: string;
  referring_physician: string | null;
  priority: string;
  reason: string | null;
  reading_institution_id: string | null;
  reading_request_id: string | null;
  linked_study_instance_uid: string | null;
  created_by: string;
  created_at: string;
  updated_at: string;
  cancel_reason: string | null;
}

/** A scheduled procedure step of an order. */
export interface OrderStepTable {
  order_id: string;
  step_id: string;
  /** its position in the order (0, 1, …) */
  position: number;
  station_ae_title: string | null;
  modality: string;
  /** ISO instant (UTC) */
  start_at: string;
  performing_physician: string | null;
  description: string;
  /** scheduled, in-progress, completed, discontinued */
  status: string;
  mpps_instance_uid: string | null;
  updated_at: string;
}

/** A Modality Performed Procedure Step (N-CREATE … N-SET) as the modality reported it. */
export interface MppsTable {
  sop_instance_uid: string;
  /** the institution of the calling AE that created it: only that institution's AEs may set it */
  institution_id: string;
  /** IN PROGRESS, COMPLETED, DISCONTINUED */
  status: string;
  /** the order step it reports on, when it names one of ours */
  order_id: string | null;
  step_id: string | null;
  /** or the reading request whose worklist item it reports on */
  reading_request_id: string | null;
  study_instance_uid: string | null;
  created_by: string;
  created_at: string;
  updated_at: string;
  /** the N-CREATE data set with every N-SET applied, DICOM JSON */
  attributes_json: string;
}

export interface OrderTables {
  orders: OrderTable;
  order_steps: OrderStepTable;
  order_mpps: MppsTable;
}

export type OrderRow = OrderTable;
export type OrderStepRow = OrderStepTable;
export type MppsRow = MppsTable;

export interface OrderQuery {
  /** the institutions whose orders to list; 'all' for administrators */
  institutionIds: readonly string[] | 'all';
  statuses?: readonly string[];
  patientId?: string;
  accessionNumber?: string;
  placerOrderNumber?: string;
  modality?: string;
  studyInstanceUid?: string;
  limit: number;
}

export class OrderStore {
  private readonly handle: Kysely<OrderTables>;
  constructor(handle: Kysely<OrderTables>) {
    this.handle = handle;
  }

  /** false when the accession number or placer order number is taken at the institution (the unique indexes decide) */
  async insert(order: OrderRow, steps: readonly OrderStepRow[]): Promise<boolean> {
    const taken = await this.handle
      .selectFrom('orders')
      .select('id')
      .where('institution_id', '=', order.institution_id)
      .where((eb) => eb.or([eb('accession_number', '=', order.accession_number), ...(order.placer_order_number ? [eb('placer_order_number', '=', order.placer_order_number)] : [])]))
      .executeTakeFirst();
    if (taken) return false;
    await this.handle.insertInto('orders').values(order).execute();
    if (steps.length > 0) await this.handle.insertInto('order_steps').values([...steps]).execute();
    return true;
  }

  async find(id: string): Promise<OrderRow | undefined> {
    return this.handle.selectFrom('orders').selectAll().where('id', '=', id).executeTakeFirst();
  }

  async findByPlacer(institutionId: string, placerOrderNumber: string): Promise<OrderRow | undefined> {
    return this.handle.selectFrom('orders').selectAll().where('institution_id', '=', institutionId).where('placer_order_number', '=', placerOrderNumber).executeTakeFirst();
  }

  async findByAccession(institutionId: string, accessionNumber: string): Promise<OrderRow | undefined> {
    return this.handle.selectFrom('orders').selectAll().where('institution_id', '=', institutionId).where('accession_number', '=', accessionNumber).executeTakeFirst();
  }

  /** orders whose pre-assigned Study Instance UID is this one (at most one per institution in practice) */
  async findByStudyUid(studyInstanceUid: string): Promise<OrderRow[]> {
    return this.handle.selectFrom('orders').selectAll().where('study_instance_uid', '=', studyInstanceUid).execute();
  }

  async list(query: OrderQuery): Promise<OrderRow[]> {
    let select = this.handle.selectFrom('orders').selectAll();
    if (query.institutionIds !== 'all') select = query.institutionIds.length === 0 ? select.where('id', '=', '') : select.where('institution_id', 'in', [...query.institutionIds]);
    if (query.statuses && query.statuses.length > 0) select = select.where('status', 'in', [...query.statuses]);
    if (query.patientId) select = select.where('patient_id', '=', query.patientId);
    if (query.accessionNumber) select = select.where('accession_number', '=', query.accessionNumber);
    if (query.placerOrderNumber) select = select.where('placer_order_number', '=', query.placerOrderNumber);
    if (query.modality) select = select.where('modality', '=', query.modality);
    if (query.studyInstanceUid) select = select.where('study_instance_uid', '=', query.studyInstanceUid);
    return select.orderBy('created_at', 'desc').orderBy('id').limit(query.limit).execute();
  }

  async stepsOf(orderIds: readonly string[]): Promise<OrderStepRow[]> {
    if (orderIds.length === 0) return [];
    return this.handle.selectFrom('order_steps').selectAll().where('order_id', 'in', [...orderIds]).orderBy('order_id').orderBy('position').execute();
  }

  /**
   * The worklist's candidates: steps still to do (scheduled or in progress) of live orders of
   * the institutions, with start_at in the bounds when given; matching on the remaining keys
   * is done on these rows (worklist-matching.ts).
   */
  async openSteps(query: { institutionIds: readonly string[] | 'all'; from?: string; to?: string; limit: number }): Promise<Array<OrderStepRow & { order: OrderRow }>> {
    let select = this.handle
      .selectFrom('order_steps as s')
      .innerJoin('orders as o', 'o.id', 's.order_id')
      .selectAll('s')
      .where('s.status', 'in', ['scheduled', 'in-progress'])
      .where('o.status', 'in', ['scheduled', 'in-progress']);
    if (query.institutionIds !== 'all') select = query.institutionIds.length === 0 ? select.where('o.id', '=', '') : select.where('o.institution_id', 'in', [...query.institutionIds]);
    if (query.from) select = select.where('s.start_at', '>=', query.from);
    if (query.to) select = select.where('s.start_at', '<=', query.to);
    const steps = await select.orderBy('s.start_at').orderBy('s.order_id').orderBy('s.position').limit(query.limit).execute();
    const orders = new Map((await this.listByIds([...new Set(steps.map((step) => step.order_id))])).map((order) => [order.id, order]));
    return steps.flatMap((step) => {
      const order = orders.get(step.order_id);
      return order ? [{ ...step, order }] : [];
    });
  }

  private async listByIds(ids: readonly string[]): Promise<OrderRow[]> {
    if (ids.length === 0) return [];
    return this.handle.selectFrom('orders').selectAll().where('id', 'in', [...ids]).execute();
  }

  /** the reading requests orders became (they are on the worklist as their orders, not twice) */
  async readingRequestIds(requestIds: readonly string[]): Promise<Set<string>> {
    if (requestIds.length === 0) return new Set();
    const rows = await this.handle.selectFrom('orders').select('reading_request_id').where('reading_request_id', 'in', [...requestIds]).execute();
    return new Set(rows.map((row) => row.reading_request_id as string));
  }

  /** A conditional change of the order: only while it is in one of `from`. */
  async updateOrder(id: string, from: readonly string[], set: Partial<Omit<OrderRow, 'id'>>): Promise<boolean> {
    const result = await this.handle.updateTable('orders').set(set).where('id', '=', id).where('status', 'in', [...from]).executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  /** the link to the study and reading request, once */
  async link(id: string, set: { linked_study_instance_uid: string; reading_request_id: string | null; updated_at: string }): Promise<boolean> {
    const result = await this.handle.updateTable('orders').set(set).where('id', '=', id).where('linked_study_instance_uid', 'is', null).executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  /** A conditional change of a step: only while it is in one of `from`. */
  async updateStep(orderId: string, stepId: string, from: readonly string[], set: Partial<Pick<OrderStepRow, 'status' | 'mpps_instance_uid' | 'updated_at'>>): Promise<boolean> {
    const result = await this.handle.updateTable('order_steps').set(set).where('order_id', '=', orderId).where('step_id', '=', stepId).where('status', 'in', [...from]).executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  async stepsOfOrder(orderId: string): Promise<OrderStepRow[]> {
    return this.handle.selectFrom('order_steps').selectAll().where('order_id', '=', orderId).orderBy('position').execute();
  }

  async insertMpps(row: MppsRow): Promise<boolean> {
    const existing = await this.findMpps(row.sop_instance_uid);
    if (existing) return false;
    await this.handle.insertInto('order_mpps').values(row).execute();
    return true;
  }

  async findMpps(sopInstanceUid: string): Promise<MppsRow | undefined> {
    return this.handle.selectFrom('order_mpps').selectAll().where('sop_instance_uid', '=', sopInstanceUid).executeTakeFirst();
  }

  /** the N-SET, while the step is still in progress */
  async updateMpps(sopInstanceUid: string, set: Pick<MppsRow, 'status' | 'attributes_json' | 'updated_at'>): Promise<boolean> {
    const result = await this.handle.updateTable('order_mpps').set(set).where('sop_instance_uid', '=', sopInstanceUid).where('status', '=', 'IN PROGRESS').executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }
}

export const orderStore: StoreOpener<OrderStore, OrderTables> = (handle) => new OrderStore(handle);

import type { Kysely } from 'kysely';
import type { StoreOpener } from '../store/store-opener.ts';

/**
 * The HL7 module's own tables (migration 0023-hl7, module.ts): which HIS facility is which
 * institution, where each institution's signed reports go (ORU^R01), and the state of every
 * message in and out.
 */
export interface Hl7FacilityTable {
  /** MSH-4.1 as the HIS sends it; the primary key, so a facility maps to one institution only */
  facility: string;
  institution_id: string;
  updated_by: string;
  updated_at: string;
}

export interface Hl7DestinationTable {
  id: string;
  institution_id: string;
  host: string;
  port: number;
  /** MSH-5 / MSH-6 of what we send */
  receiving_application: string;
  receiving_facility: string;
  updated_by: string;
  updated_at: string;
}

/** One ORU^R01 of one report version to one destination. */
export interface Hl7OutboundTable {
  id: string;
  report_id: string;
  report_version: number;
  institution_id: string;
  destination_id: string;
  /** host:port when it was made (the destination may be changed later) */
  destination: string;
  study_instance_uid: string;
  /** MSH-10, kept across retries so the receiver can recognise a resend */
  message_control_id: string;
  /** OBR-25: F final, C corrected (an addendum) */
  result_status: string;
  /** pending (not yet acknowledged AA), acknowledged */
  status: string;
  attempts: number;
  /** AA, AE, AR, or null when no ACK came (refused, timed out) */
  last_ack_code: string | null;
  last_error: string | null;
  created_at: string;
  updated_at: string;
  acknowledged_at: string | null;
}

/** One message received (its ACK), for the administrators' view and for resends (same MSH-10). */
export interface Hl7InboundTable {
  id: string;
  facility: string | null;
  institution_id: string | null;
  message_control_id: string | null;
  message_type: string | null;
  ack_code: string;
  /** the ACK's text (ours: fields and codes, no patient data) */
  ack_text: string;
  /** JSON array of the order ids created or cancelled */
  order_ids: string;
  remote_address: string | null;
  received_at: string;
}

export interface Hl7Tables {
  hl7_facilities: Hl7FacilityTable;
  hl7_destinations: Hl7DestinationTable;
  hl7_outbound: Hl7OutboundTable;
  hl7_inbound: Hl7InboundTable;
}

export class Hl7Store {
  private readonly handle: Kysely<Hl7Tables>;

  constructor(db: Kysely<Hl7Tables>) {
    this.handle = db;
  }

  async facility(facility: string): Promise<Hl7FacilityTable | undefined> {
    return this.handle.selectFrom('hl7_facilities').selectAll().where('facility', '=', facility).executeTakeFirst();
  }

  async facilities(): Promise<Hl7FacilityTable[]> {
    return this.handle.selectFrom('hl7_facilities').selectAll().orderBy('facility').execute();
  }

  async facilitiesOf(institutionId: string): Promise<Hl7FacilityTable[]> {
    return this.handle.selectFrom('hl7_facilities').selectAll().where('institution_id', '=', institutionId).orderBy('facility').execute();
  }

  async putFacility(row: Hl7FacilityTable): Promise<void> {
    await this.handle.deleteFrom('hl7_facilities').where('facility', '=', row.facility).execute();
    await this.handle.insertInto('hl7_facilities').values(row).execute();
  }

  async removeFacility(facility: string): Promise<boolean> {
    const result = await this.handle.deleteFrom('hl7_facilities').where('facility', '=', facility).executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }

  async destinations(institutionId?: string): Promise<Hl7DestinationTable[]> {
    let query = this.handle.selectFrom('hl7_destinations').selectAll();
    if (institutionId) query = query.where('institution_id', '=', institutionId);
    return query.orderBy('institution_id').orderBy('host').orderBy('port').execute();
  }

  async replaceDestinations(institutionId: string, rows: Hl7DestinationTable[]): Promise<void> {
    await this.handle.deleteFrom('hl7_destinations').where('institution_id', '=', institutionId).execute();
    if (rows.length > 0) await this.handle.insertInto('hl7_destinations').values(rows).execute();
  }

  async outbound(reportId: string, version: number, destinationId: string): Promise<Hl7OutboundTable | undefined> {
    return this.handle.selectFrom('hl7_outbound').selectAll().where('report_id', '=', reportId).where('report_version', '=', version).where('destination_id', '=', destinationId).executeTakeFirst();
  }

  /** The row of this report version and destination; inserted when absent (a re-handed change finds the first one). */
  async ensureOutbound(row: Hl7OutboundTable): Promise<Hl7OutboundTable> {
    const existing = await this.outbound(row.report_id, row.report_version, row.destination_id);
    if (existing) return existing;
    await this.handle.insertInto('hl7_outbound').values(row).onConflict((conflict) => conflict.columns(['report_id', 'report_version', 'destination_id']).doNothing()).execute();
    return (await this.outbound(row.report_id, row.report_version, row.destination_id))!;
  }

  async recordAttempt(id: string, outcome: { ackCode: string | null; error: string | null; acknowledged: boolean; at: string }): Promise<void> {
    const row = await this.handle.selectFrom('hl7_outbound').select('attempts').where('id', '=', id).executeTakeFirst();
    await this.handle
      .updateTable('hl7_outbound')
      .set({ attempts: (row?.attempts ?? 0) + 1, last_ack_code: outcome.ackCode, last_error: outcome.error, updated_at: outcome.at, ...(outcome.acknowledged ? { status: 'acknowledged', acknowledged_at: outcome.at } : {}) })
      .where('id', '=', id)
      .execute();
  }

  async listOutbound(filter: { status?: string; reportId?: string; limit: number }): Promise<Hl7OutboundTable[]> {
    let query = this.handle.selectFrom('hl7_outbound').selectAll();
    if (filter.status) query = query.where('status', '=', filter.status);
    if (filter.reportId) query = query.where('report_id', '=', filter.reportId);
    return query.orderBy('created_at', 'desc').orderBy('id').limit(filter.limit).execute();
  }

  async acceptedInbound(facility: string, controlId: string): Promise<Hl7InboundTable | undefined> {
    return this.handle.selectFrom('hl7_inbound').selectAll().where('facility', '=', facility).where('message_control_id', '=', controlId).where('ack_code', '=', 'AA').executeTakeFirst();
  }

  async recordInbound(row: Hl7InboundTable): Promise<void> {
    await this.handle.insertInto('hl7_inbound').values(row).execute();
  }

  async listInbound(limit: number): Promise<Hl7InboundTable[]> {
    return this.handle.selectFrom('hl7_inbound').selectAll().orderBy('received_at', 'desc').orderBy('id').limit(limit).execute();
  }
}

export const hl7Store: StoreOpener<Hl7Store, Hl7Tables> = (db) => new Hl7Store(db);

/** Migration 0023-hl7. */
export async function createHl7Tables(db: Kysely<Hl7Tables>): Promise<void> {
  await db.schema
    .createTable('hl7_facilities')
    .addColumn('facility', 'text', (c) => c.primaryKey())
    .addColumn('institution_id', 'text', (c) => c.notNull())
    .addColumn('updated_by', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .execute();
  await db.schema
    .createTable('hl7_destinations')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('institution_id', 'text', (c) => c.notNull())
    .addColumn('host', 'text', (c) => c.notNull())
    .addColumn('port', 'integer', (c) => c.notNull())
    .addColumn('receiving_application', 'text', (c) => c.notNull())
    .addColumn('receiving_facility', 'text', (c) => c.notNull())
    .addColumn('updated_by', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('hl7_destinations_institution').on('hl7_destinations').column('institution_id').execute();
  await db.schema
    .createTable('hl7_outbound')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('report_id', 'text', (c) => c.notNull())
    .addColumn('report_version', 'integer', (c) => c.notNull())
    .addColumn('institution_id', 'text', (c) => c.notNull())
    .addColumn('destination_id', 'text', (c) => c.notNull())
    .addColumn('destination', 'text', (c) => c.notNull())
    .addColumn('study_instance_uid', 'text', (c) => c.notNull())
    .addColumn('message_control_id', 'text', (c) => c.notNull())
    .addColumn('result_status', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('last_ack_code', 'text')
    .addColumn('last_error', 'text')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .addColumn('acknowledged_at', 'text')
    .addUniqueConstraint('hl7_outbound_report_destination', ['report_id', 'report_version', 'destination_id'])
    .execute();
  await db.schema.createIndex('hl7_outbound_status').on('hl7_outbound').columns(['status', 'created_at']).execute();
  await db.schema
    .createTable('hl7_inbound')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('facility', 'text')
    .addColumn('institution_id', 'text')
    .addColumn('message_control_id', 'text')
    .addColumn('message_type', 'text')
    .addColumn('ack_code', 'text', (c) => c.notNull())
    .addColumn('ack_text', 'text', (c) => c.notNull())
    .addColumn('order_ids', 'text', (c) => c.notNull())
    .addColumn('remote_address', 'text')
    .addColumn('received_at', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('hl7_inbound_control').on('hl7_inbound').columns(['facility', 'message_control_id']).execute();
  await db.schema.createIndex('hl7_inbound_received').on('hl7_inbound').column('received_at').execute();
}

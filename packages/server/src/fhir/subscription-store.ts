import type { Kysely, Migration } from 'kysely';
import type { StoreOpener } from '../store/store-opener.ts';

/**
 * FHIR Subscriptions (R4 Subscriptions Backport, migration 0022-fhir-subscriptions, the fhir
 * module's): who is notified of which topic where, and each notification's delivery, so a
 * change the feed hands over again is not sent twice to an endpoint that already took it.
 */
export interface FhirSubscriptionTable {
  id: string;
  /** the institution whose reports it may be told of: the creator's */
  institution_id: string;
  /** the creating user: notifications are scoped to what this account may see at the time */
  owner: string;
  /** requested | active | error | off (R4 SubscriptionStatus) */
  status: string;
  topic: string;
  reason: string;
  endpoint: string;
  /** empty | id-only | full-resource */
  payload_content: string;
  /** JSON array of "Name: value" header lines sent with each notification (may hold the HIS's credential) */
  headers: string;
  /** ISO instant after which nothing is sent, or null */
  end_at: string | null;
  /** event numbers given out so far (events-since-subscription-start) */
  events: number;
  /** the last delivery error, cleared by a successful one */
  last_error: string | null;
  created_at: string;
  updated_at: string;
}

export interface FhirSubscriptionDeliveryTable {
  subscription_id: string;
  /** the change feed seq of the event */
  change_seq: number;
  event_number: number;
  /** pending (tried, failed, retried by the feed) | delivered */
  status: string;
  attempts: number;
  last_error: string | null;
  updated_at: string;
}

export interface FhirSubscriptionTables {
  fhir_subscriptions: FhirSubscriptionTable;
  fhir_subscription_deliveries: FhirSubscriptionDeliveryTable;
}

export type SubscriptionRow = FhirSubscriptionTable;

export const FHIR_SUBSCRIPTION_MIGRATIONS: Record<string, Migration> = {
  '0022-fhir-subscriptions': {
    async up(untyped: Kysely<unknown>) {
      const db = untyped as unknown as Kysely<FhirSubscriptionTables>;
      await db.schema
        .createTable('fhir_subscriptions')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('institution_id', 'text', (c) => c.notNull())
        .addColumn('owner', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('topic', 'text', (c) => c.notNull())
        .addColumn('reason', 'text', (c) => c.notNull())
        .addColumn('endpoint', 'text', (c) => c.notNull())
        .addColumn('payload_content', 'text', (c) => c.notNull())
        .addColumn('headers', 'text', (c) => c.notNull())
        .addColumn('end_at', 'text')
        .addColumn('events', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('last_error', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('fhir_subscriptions_topic').on('fhir_subscriptions').columns(['topic', 'status']).execute();
      await db.schema.createIndex('fhir_subscriptions_institution').on('fhir_subscriptions').column('institution_id').execute();
      await db.schema
        .createTable('fhir_subscription_deliveries')
        .addColumn('subscription_id', 'text', (c) => c.notNull())
        .addColumn('change_seq', 'bigint', (c) => c.notNull())
        .addColumn('event_number', 'integer', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('attempts', 'integer', (c) => c.notNull())
        .addColumn('last_error', 'text')
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('fhir_subscription_deliveries_pk', ['subscription_id', 'change_seq'])
        .execute();
    },
    async down(untyped: Kysely<unknown>) {
      const db = untyped as unknown as Kysely<FhirSubscriptionTables>;
      await db.schema.dropTable('fhir_subscription_deliveries').ifExists().execute();
      await db.schema.dropTable('fhir_subscriptions').ifExists().execute();
    },
  },
};

export class FhirSubscriptionStore {
  private readonly handle: Kysely<FhirSubscriptionTables>;
  constructor(handle: Kysely<FhirSubscriptionTables>) {
    this.handle = handle;
  }

  async insert(row: SubscriptionRow): Promise<void> {
    await this.handle.insertInto('fhir_subscriptions').values(row).execute();
  }

  async find(id: string): Promise<SubscriptionRow | undefined> {
    return this.handle.selectFrom('fhir_subscriptions').selectAll().where('id', '=', id).executeTakeFirst();
  }

  /** the subscriptions of these institutions ('all': every one), oldest first */
  async list(institutionIds: readonly string[] | 'all'): Promise<SubscriptionRow[]> {
    let query = this.handle.selectFrom('fhir_subscriptions').selectAll().orderBy('created_at').orderBy('id');
    if (institutionIds !== 'all') {
      if (institutionIds.length === 0) return [];
      query = query.where('institution_id', 'in', [...institutionIds]);
    }
    return query.execute();
  }

  /** those of a topic that still want notifications (active, or error and being retried) */
  async listening(topic: string): Promise<SubscriptionRow[]> {
    return this.handle.selectFrom('fhir_subscriptions').selectAll().where('topic', '=', topic).where('status', 'in', ['active', 'error', 'requested']).orderBy('created_at').execute();
  }

  async delete(id: string): Promise<boolean> {
    await this.handle.deleteFrom('fhir_subscription_deliveries').where('subscription_id', '=', id).execute();
    const result = await this.handle.deleteFrom('fhir_subscriptions').where('id', '=', id).executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }

  async setStatus(id: string, status: string, lastError: string | null, at: string): Promise<void> {
    await this.handle.updateTable('fhir_subscriptions').set({ status, last_error: lastError, updated_at: at }).where('id', '=', id).execute();
  }

  async isDelivered(subscriptionId: string, changeSeq: number): Promise<boolean> {
    const row = await this.handle.selectFrom('fhir_subscription_deliveries').select('status').where('subscription_id', '=', subscriptionId).where('change_seq', '=', changeSeq).executeTakeFirst();
    return row?.status === 'delivered';
  }

  /**
   * The delivery of one event to one subscription: the existing one when the feed hands the
   * change over again, else a new one with the subscription's next event number.
   */
  async delivery(subscriptionId: string, changeSeq: number, at: string): Promise<FhirSubscriptionDeliveryTable | undefined> {
    const existing = await this.handle.selectFrom('fhir_subscription_deliveries').selectAll().where('subscription_id', '=', subscriptionId).where('change_seq', '=', changeSeq).executeTakeFirst();
    if (existing) return { ...existing, change_seq: Number(existing.change_seq) };
    return this.handle.transaction().execute(async (trx) => {
      const updated = await trx.updateTable('fhir_subscriptions').set((eb) => ({ events: eb('events', '+', 1) })).where('id', '=', subscriptionId).returning('events').executeTakeFirst();
      if (!updated) return undefined; // deleted meanwhile
      const row: FhirSubscriptionDeliveryTable = { subscription_id: subscriptionId, change_seq: changeSeq, event_number: Number(updated.events), status: 'pending', attempts: 0, last_error: null, updated_at: at };
      await trx.insertInto('fhir_subscription_deliveries').values(row).execute();
      return row;
    });
  }

  async recordAttempt(subscriptionId: string, changeSeq: number, outcome: { delivered: boolean; error?: string }, at: string): Promise<void> {
    await this.handle
      .updateTable('fhir_subscription_deliveries')
      .set((eb) => ({ status: outcome.delivered ? 'delivered' : 'pending', attempts: eb('attempts', '+', 1), last_error: outcome.error ?? null, updated_at: at }))
      .where('subscription_id', '=', subscriptionId)
      .where('change_seq', '=', changeSeq)
      .execute();
  }
}

export const fhirSubscriptionStore: StoreOpener<FhirSubscriptionStore, FhirSubscriptionTables> = (db) => new FhirSubscriptionStore(db);

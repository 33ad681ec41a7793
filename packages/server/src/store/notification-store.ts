import type { Kysely } from 'kysely';
import type { Database } from './schema.ts';

/** One notification as published: for one institution, with a JSON payload. */
export interface NotificationInput {
  institutionId: string;
  type: string;
  payload: object;
}

/** One row of the outbox, payload parsed. */
export interface StoredNotification {
  seq: number;
  institutionId: string;
  type: string;
  payload: unknown;
  /** ISO 8601, the publishing process's clock */
  createdAt: string;
}

/**
 * The notification outbox (table `notifications`, migration 0005): every server process
 * appends to it and polls it (events/notification-bus.ts). `seq` orders the rows; the
 * primary key on `seq` serves the poller's "everything after my cursor", the
 * (institution_id, seq) index the replay of one institution's rows.
 */
export class NotificationStore {
  private readonly db: Kysely<Database>;
  constructor(db: Kysely<Database>) {
    this.db = db;
  }

  /**
   * Appends the rows in one INSERT. `executor` may be a transaction, so that a
   * notification commits together with the change it announces (the outbox pattern).
   */
  async append(rows: readonly NotificationInput[], executor: Kysely<Database> = this.db): Promise<void> {
    if (rows.length === 0) return;
    const createdAt = new Date().toISOString();
    await executor
      .insertInto('notifications')
      .values(rows.map((row) => ({ institution_id: row.institutionId, type: row.type, payload: JSON.stringify(row.payload), created_at: createdAt })))
      .execute();
  }

  /** Rows with seq > afterSeq, oldest first, for the given institutions or all of them. */
  async readAfter(afterSeq: number, institutionIds: readonly string[] | 'all', limit: number): Promise<StoredNotification[]> {
    if (institutionIds !== 'all' && institutionIds.length === 0) return [];
    let query = this.db.selectFrom('notifications').select(['seq', 'institution_id', 'type', 'payload', 'created_at']).where('seq', '>', afterSeq);
    if (institutionIds !== 'all') query = query.where('institution_id', 'in', [...institutionIds]);
    const rows = await query.orderBy('seq').limit(limit).execute();
    return rows.map((row) => ({ seq: Number(row.seq), institutionId: row.institution_id, type: row.type, payload: parsePayload(row.payload), createdAt: row.created_at }));
  }

  /** The highest seq in the table, 0 when it is empty. */
  async latestSeq(): Promise<number> {
    const row = await this.db
      .selectFrom('notifications')
      .select((eb) => eb.fn.max('seq').as('latest'))
      .executeTakeFirst();
    return Number(row?.latest ?? 0);
  }

  /**
   * Deletes the rows created before `isoTime` (an ISO 8601 UTC time as from
   * Date.toISOString, the format of created_at); returns how many. Idempotent, so any
   * process may run it at any time without coordination. created_at has no index: this
   * scans the table, which holds about a day of rows, once an hour per process.
   */
  async purgeBefore(isoTime: string): Promise<number> {
    const result = await this.db.deleteFrom('notifications').where('created_at', '<', isoTime).executeTakeFirst();
    return Number(result.numDeletedRows);
  }
}

function parsePayload(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

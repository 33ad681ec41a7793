import type { Kysely } from 'kysely';
import type { NewChange } from '../feed/change.ts';
import { appendChanges } from './change-feed-store.ts';
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

/** The change type that carries a notification (its own type and payload in the change's payload). */
export const NOTIFICATION_PUBLISHED = 'notification.published';

/** The change-feed row of one notification. */
export function notificationChange(row: NotificationInput): NewChange {
  return { type: NOTIFICATION_PUBLISHED, resourceType: 'notification', resourceId: row.type, institutionId: row.institutionId, payload: { type: row.type, payload: row.payload } };
}

/**
 * The notifications on the change feed (issue 13, item 3): a notification is a change of
 * type `notification.published` in the `changes` table (migration 0011 brought the rows
 * of the old outbox, 0005, along under their seqs), its institution the change's, its own
 * type and payload inside the change's payload. Every server process appends here and
 * polls (events/notification-bus.ts); the (type, seq) index serves the poller's
 * "everything after my cursor", (type, institution_id, seq) the replay of one
 * institution's rows. The feed's seq is the SSE event id.
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
    await appendChanges(executor, rows.map(notificationChange));
  }

  /** Rows with seq > afterSeq, oldest first, for the given institutions or all of them. */
  async readAfter(afterSeq: number, institutionIds: readonly string[] | 'all', limit: number): Promise<StoredNotification[]> {
    if (institutionIds !== 'all' && institutionIds.length === 0) return [];
    let query = this.db.selectFrom('changes').select(['seq', 'institution_id', 'payload', 'created_at']).where('type', '=', NOTIFICATION_PUBLISHED).where('seq', '>', afterSeq);
    if (institutionIds !== 'all') query = query.where('institution_id', 'in', [...institutionIds]);
    const rows = await query.orderBy('seq').limit(limit).execute();
    return rows.map((row) => {
      const { type, payload } = parseNotification(row.payload);
      return { seq: Number(row.seq), institutionId: row.institution_id ?? '', type, payload, createdAt: row.created_at };
    });
  }

  /** The highest seq of a notification, 0 when there is none. */
  async latestSeq(): Promise<number> {
    const row = await this.db
      .selectFrom('changes')
      .select((eb) => eb.fn.max('seq').as('latest'))
      .where('type', '=', NOTIFICATION_PUBLISHED)
      .executeTakeFirst();
    return Number(row?.latest ?? 0);
  }

  /**
   * Deletes the notifications created before `isoTime` (an ISO 8601 UTC time as from
   * Date.toISOString, the format of created_at); returns how many. Idempotent, so any
   * process may run it at any time without coordination. A notification is for screens
   * open now; the feed's other changes keep their own retention (ChangeFeedStore.purge).
   */
  async purgeBefore(isoTime: string): Promise<number> {
    const result = await this.db.deleteFrom('changes').where('type', '=', NOTIFICATION_PUBLISHED).where('created_at', '<', isoTime).executeTakeFirst();
    return Number(result.numDeletedRows);
  }
}

function parseNotification(text: string): { type: string; payload: unknown } {
  try {
    const value = JSON.parse(text) as { type?: unknown; payload?: unknown };
    return { type: typeof value.type === 'string' ? value.type : '', payload: value.payload ?? null };
  } catch {
    return { type: '', payload: null };
  }
}

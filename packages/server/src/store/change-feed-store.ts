import { EventEmitter } from 'node:events';
import { sql, type Insertable, type Kysely, type RawBuilder } from 'kysely';
import type { ChangeType, FeedChange, NewChange } from '../feed/change.ts';
import type { SqlDialectName } from './database.ts';
import type { ChangeTable, Database } from './schema.ts';

/**
 * Appends one change to the feed through `tx`, which should be the transaction of the write
 * the change describes: the row commits or rolls back with it (no change without its row,
 * no row without its change). Returns the change's seq.
 *
 * Append as late in the transaction as the code allows: on PostgreSQL a seq is taken at
 * the insert and becomes visible at the commit, and the feed's readers wait for a smaller
 * seq still in flight before they pass it (feed/change-feed.ts), so a long transaction
 * after its append holds every consumer back for that long.
 */
export async function appendChange(tx: Kysely<Database>, change: NewChange): Promise<number> {
  const [seq] = await appendChanges(tx, [change]);
  return seq!;
}

/** appendChange for several changes in one INSERT; the seqs in the order given. */
export async function appendChanges(tx: Kysely<Database>, changes: readonly NewChange[]): Promise<number[]> {
  if (changes.length === 0) return [];
  const rows = await tx.insertInto('changes').values(changeRowsOf(changes)).returning('seq').execute();
  return announceAppended(rows, changes);
}

/** The `changes` rows of these changes, as appendChanges inserts them (for a caller that inserts them in a statement of its own, store/audit-store.ts). */
export function changeRowsOf(changes: readonly NewChange[]): Array<Insertable<ChangeTable>> {
  const createdAt = new Date().toISOString();
  return changes.map((change) => ({
    type: change.type,
    resource_type: change.resourceType,
    resource_id: change.resourceId,
    institution_id: change.institutionId ?? null,
    payload: JSON.stringify(change.payload ?? {}),
    created_at: createdAt,
  }));
}

/**
 * After inserting changeRowsOf's rows (returning seq): their seqs in order, and this
 * process's feed runners woken. With the changes, the listeners also learn their types (a
 * listener for one type need not look at the table for the others).
 */
export function announceAppended(rows: ReadonlyArray<{ seq: unknown }>, changes?: readonly NewChange[]): number[] {
  // Both databases return the rows of a multi-row INSERT in the order of its VALUES.
  const seqs = rows.map((row) => Number(row.seq));
  if (seqs.length > 0) localAppends.emit('appended', Math.max(...seqs), changes ? new Set(changes.map((change) => change.type)) : undefined);
  return seqs;
}

/**
 * The in-process signal of an append (feed/change-feed.ts wakes at once instead of at its
 * next poll). It fires when the row is inserted, before its transaction commits: a runner
 * woken too early polls again shortly until the seq is visible (or a later one shows that
 * it never will be).
 */
const localAppends = new EventEmitter();
localAppends.setMaxListeners(0);

/**
 * Calls `listener` with the highest seq of every append made in this process, and the types
 * appended when known (undefined: any type may be among them); returns the unsubscribe.
 */
export function onChangeAppended(listener: (seq: number, types: ReadonlySet<ChangeType> | undefined) => void): () => void {
  localAppends.on('appended', listener);
  return () => void localAppends.off('appended', listener);
}

/** A consumer group's row in feed_cursors. */
export interface FeedCursor {
  group: string;
  lastSeq: number;
  leaseOwner: string | null;
  /** ISO 8601 */
  leaseUntil: string | null;
}

/** A change a group failed to handle. */
export interface FeedFailure {
  group: string;
  seq: number;
  status: 'retrying' | 'dead';
  attempts: number;
  /** ISO 8601; null for a dead letter */
  nextAttemptAt: string | null;
  lastError: string;
  firstFailedAt: string;
}

/** What a runner records about one change it failed to handle. */
export interface FailureRecord {
  seq: number;
  status: 'retrying' | 'dead';
  attempts: number;
  nextAttemptAt: string | null;
  error: string;
}

/** Where a gap in the seqs stands (PostgreSQL: whether a transaction may still fill it). */
export type SnapshotToken = string;

const MAX_ERROR_LENGTH = 2000;

/**
 * The change feed's tables (migration 0011): `changes`, `feed_cursors` (a group's cursor
 * and lease) and `feed_failures` (retries and dead letters). Every update made by a lease
 * holder is fenced by its owner id: a runner that lost its lease (it stalled past the
 * expiry and another process took over) changes nothing.
 */
export class ChangeFeedStore {
  private readonly db: Kysely<Database>;
  readonly dialect: SqlDialectName;

  constructor(db: Kysely<Database>, dialect: SqlDialectName) {
    this.db = db;
    this.dialect = dialect;
  }

  /** appendChange outside any other write (a change that is its own transaction). */
  append(change: NewChange): Promise<number> {
    return appendChange(this.db, change);
  }

  /** Changes with seq in (afterSeq, upToSeq], oldest first, of the given types (all when absent). */
  async readRange(afterSeq: number, upToSeq: number, limit: number, types?: readonly ChangeType[]): Promise<FeedChange[]> {
    if (types?.length === 0 || upToSeq <= afterSeq) return [];
    let query = this.db.selectFrom('changes').selectAll().where('seq', '>', afterSeq).where('seq', '<=', upToSeq);
    if (types) query = query.where('type', 'in', [...types]);
    const rows = await query.orderBy('seq').limit(limit).execute();
    return rows.map(toFeedChange);
  }

  /** The changes with these seqs (a group's due retries), oldest first. */
  async readSeqs(seqs: readonly number[]): Promise<FeedChange[]> {
    if (seqs.length === 0) return [];
    const rows = await this.db.selectFrom('changes').selectAll().where('seq', 'in', [...seqs]).orderBy('seq').execute();
    return rows.map(toFeedChange);
  }

  /**
   * The seqs above `afterSeq` with their types, ascending, at most `limit`: the gap check of
   * the readers' horizon (the types let a group with nothing of its own skip its read).
   */
  async seqsAfter(afterSeq: number, limit: number): Promise<Array<{ seq: number; type: ChangeType }>> {
    const rows = await this.db.selectFrom('changes').select(['seq', 'type']).where('seq', '>', afterSeq).orderBy('seq').limit(limit).execute();
    return rows.map((row) => ({ seq: Number(row.seq), type: row.type as ChangeType }));
  }

  /** The highest seq, 0 for an empty feed. */
  async latestSeq(): Promise<number> {
    const row = await this.db
      .selectFrom('changes')
      .select((eb) => eb.fn.max('seq').as('latest'))
      .executeTakeFirst();
    return Number(row?.latest ?? 0);
  }

  /**
   * PostgreSQL: a token for "now" such that `allFinishedSince(token)` later says whether
   * every transaction running at this moment has ended (committed or rolled back). SQLite
   * has one writer: a seq that is not there when a later one is, never will be; null.
   */
  async snapshot(): Promise<SnapshotToken | null> {
    if (this.dialect !== 'postgres') return null;
    const { rows } = await sql<{ snapshot: string }>`select pg_current_snapshot()::text as snapshot`.execute(this.db);
    return rows[0]!.snapshot;
  }

  /** Whether every transaction in progress when `token` was taken has ended. */
  async allFinishedSince(token: SnapshotToken | null): Promise<boolean> {
    if (token === null) return true;
    const { rows } = await sql<{ finished: boolean }>`select pg_snapshot_xmin(pg_current_snapshot()) >= pg_snapshot_xmax(${token}::pg_snapshot) as finished`.execute(this.db);
    return rows[0]!.finished === true;
  }

  /** Creates the group's cursor at `startSeq` unless it exists; returns the cursor as it is. */
  async ensureCursor(group: string, startSeq: number): Promise<FeedCursor> {
    await this.db
      .insertInto('feed_cursors')
      .values({ consumer_group: group, last_seq: startSeq, lease_owner: null, lease_until: null, updated_at: new Date().toISOString() })
      .onConflict((oc) => oc.column('consumer_group').doNothing())
      .execute();
    return (await this.cursor(group))!;
  }

  async cursor(group: string): Promise<FeedCursor | undefined> {
    const row = await this.db.selectFrom('feed_cursors').selectAll().where('consumer_group', '=', group).executeTakeFirst();
    return row && toCursor(row);
  }

  async cursors(): Promise<FeedCursor[]> {
    const rows = await this.db.selectFrom('feed_cursors').selectAll().orderBy('consumer_group').execute();
    return rows.map(toCursor);
  }

  /**
   * The database's clock plus `offsetMs`, as ISO 8601 text (the format of Date.toISOString).
   * Leases are taken, renewed and checked on this one clock, so that the server processes'
   * clocks (on several machines) need not agree.
   */
  private databaseTime(offsetMs = 0): RawBuilder<string> {
    const offset = Math.round(offsetMs);
    if (this.dialect === 'postgres') return sql<string>`to_char((clock_timestamp() + ${offset}::integer * interval '1 millisecond') at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;
    return sql<string>`strftime('%Y-%m-%dT%H:%M:%fZ', 'now', ${`${offset / 1000} seconds`})`;
  }

  /**
   * Takes or renews the group's lease for `leaseMs` (on the database's clock) if it is free,
   * expired, or already `owner`'s; one conditional UPDATE, so of two processes at most one
   * wins. Returns the cursor when `owner` holds the lease, undefined otherwise.
   */
  async acquireLease(group: string, owner: string, leaseMs: number): Promise<FeedCursor | undefined> {
    const result = await this.db
      .updateTable('feed_cursors')
      .set({ lease_owner: owner, lease_until: this.databaseTime(leaseMs), updated_at: this.databaseTime() })
      .where('consumer_group', '=', group)
      .where((eb) => eb.or([eb('lease_owner', 'is', null), eb('lease_owner', '=', owner), eb('lease_until', 'is', null), eb('lease_until', '<', this.databaseTime())]))
      .executeTakeFirst();
    if (Number(result.numUpdatedRows) !== 1) return undefined;
    return this.cursor(group);
  }

  /** Gives the lease up (a clean shutdown), so another process need not wait for its expiry. */
  async releaseLease(group: string, owner: string): Promise<void> {
    await this.db
      .updateTable('feed_cursors')
      .set({ lease_owner: null, lease_until: null, updated_at: new Date().toISOString() })
      .where('consumer_group', '=', group)
      .where('lease_owner', '=', owner)
      .execute();
  }

  /**
   * Moves the group's cursor to `lastSeq` and records the failures met on the way (`now`
   * dates them), in one transaction, fenced by the lease: false (and nothing written) when
   * `owner` no longer holds it.
   */
  async advance(group: string, owner: string, now: string, lastSeq: number, failures: readonly FailureRecord[]): Promise<boolean> {
    return this.db.transaction().execute(async (trx) => {
      // The fenced UPDATE also locks the cursor row (PostgreSQL) until the commit: a takeover waits for it.
      const moved = await trx
        .updateTable('feed_cursors')
        .set({ last_seq: lastSeq, updated_at: now })
        .where('consumer_group', '=', group)
        .where('lease_owner', '=', owner)
        .where('lease_until', '>=', this.databaseTime())
        .where('last_seq', '<=', lastSeq)
        .executeTakeFirst();
      if (Number(moved.numUpdatedRows) !== 1) return false;
      for (const failure of failures) await upsertFailure(trx, group, now, failure);
      return true;
    });
  }

  /**
   * Records the outcome of a retry (fenced like advance): `failure` undefined means the
   * change was handled at last and its failure row goes.
   */
  async settleRetry(group: string, owner: string, now: string, seq: number, failure: FailureRecord | undefined): Promise<boolean> {
    return this.db.transaction().execute(async (trx) => {
      const held = await trx
        .updateTable('feed_cursors')
        .set({ updated_at: now })
        .where('consumer_group', '=', group)
        .where('lease_owner', '=', owner)
        .where('lease_until', '>=', this.databaseTime())
        .executeTakeFirst();
      if (Number(held.numUpdatedRows) !== 1) return false;
      if (failure) await upsertFailure(trx, group, now, failure);
      else await trx.deleteFrom('feed_failures').where('consumer_group', '=', group).where('seq', '=', seq).execute();
      return true;
    });
  }

  /** The group's changes waiting for a retry whose time has come at `now`, oldest first. */
  async dueRetries(group: string, now: string, limit: number): Promise<FeedFailure[]> {
    const rows = await this.db
      .selectFrom('feed_failures')
      .selectAll()
      .where('consumer_group', '=', group)
      .where('status', '=', 'retrying')
      .where('next_attempt_at', '<=', now)
      .orderBy('seq')
      .limit(limit)
      .execute();
    return rows.map(toFailure);
  }

  /** The earliest next attempt among the group's retries (to sleep until then), undefined when none waits. */
  async nextRetryAt(group: string): Promise<string | undefined> {
    const row = await this.db
      .selectFrom('feed_failures')
      .select((eb) => eb.fn.min('next_attempt_at').as('next'))
      .where('consumer_group', '=', group)
      .where('status', '=', 'retrying')
      .executeTakeFirst();
    return (row?.next as string | null | undefined) ?? undefined;
  }

  /** The failure rows of one group or all, oldest first (dead letters for an operator). */
  async failures(group?: string, status?: 'retrying' | 'dead'): Promise<FeedFailure[]> {
    let query = this.db.selectFrom('feed_failures').selectAll();
    if (group !== undefined) query = query.where('consumer_group', '=', group);
    if (status !== undefined) query = query.where('status', '=', status);
    const rows = await query.orderBy('consumer_group').orderBy('seq').execute();
    return rows.map(toFailure);
  }

  /** Failure rows counted per group and status (the /metrics gauges). */
  async failureCounts(): Promise<{ group: string; status: 'retrying' | 'dead'; count: number }[]> {
    const rows = await this.db
      .selectFrom('feed_failures')
      .select(['consumer_group', 'status', (eb) => eb.fn.countAll().as('count')])
      .groupBy(['consumer_group', 'status'])
      .execute();
    return rows.map((row) => ({ group: row.consumer_group, status: row.status as 'retrying' | 'dead', count: Number(row.count) }));
  }

  /**
   * Puts a dead letter back in line for an immediate attempt (an operator fixed the cause).
   * Returns whether there was one.
   */
  async requeueDeadLetter(group: string, seq: number): Promise<boolean> {
    const now = new Date().toISOString();
    const result = await this.db
      .updateTable('feed_failures')
      .set({ status: 'retrying', attempts: 0, next_attempt_at: now, updated_at: now })
      .where('consumer_group', '=', group)
      .where('seq', '=', seq)
      .where('status', '=', 'dead')
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  /**
   * Removes a group no server runs any more (its module was removed): its cursor, which
   * otherwise holds the purge back, and its failure rows. Refused (false) while a lease on
   * it is held, since a running group would start again from the first change.
   */
  async forgetGroup(group: string): Promise<boolean> {
    return this.db.transaction().execute(async (trx) => {
      const removed = await trx
        .deleteFrom('feed_cursors')
        .where('consumer_group', '=', group)
        .where((eb) => eb.or([eb('lease_owner', 'is', null), eb('lease_until', 'is', null), eb('lease_until', '<', this.databaseTime())]))
        .executeTakeFirst();
      if (Number(removed.numDeletedRows) !== 1) return false;
      await trx.deleteFrom('feed_failures').where('consumer_group', '=', group).execute();
      return true;
    });
  }

  /**
   * Deletes the changes at or below `seq` created before `isoTime` that no group still
   * needs (below every cursor and no failure row names them); returns how many.
   */
  async purge(isoTime: string): Promise<number> {
    const floor = await this.db
      .selectFrom('feed_cursors')
      .select((eb) => eb.fn.min('last_seq').as('floor'))
      .executeTakeFirst();
    const belowEveryCursor = Number(floor?.floor ?? 0);
    if (belowEveryCursor <= 0) return 0;
    // In slices, so that a week of ingest does not become one long delete holding its locks.
    const SLICE = 10_000;
    let deleted = 0;
    for (;;) {
      const result = await this.db
        .deleteFrom('changes')
        .where('seq', 'in', (eb) =>
          eb
            .selectFrom('changes as old')
            .select('old.seq')
            .where('old.seq', '<=', belowEveryCursor)
            .where('old.created_at', '<', isoTime)
            .where((inner) => inner.not(inner.exists(inner.selectFrom('feed_failures').select('feed_failures.seq').whereRef('feed_failures.seq', '=', 'old.seq'))))
            .orderBy('old.seq')
            .limit(SLICE),
        )
        .executeTakeFirst();
      const count = Number(result.numDeletedRows);
      deleted += count;
      if (count < SLICE) return deleted;
    }
  }
}

async function upsertFailure(trx: Kysely<Database>, group: string, now: string, failure: FailureRecord): Promise<void> {
  const error = failure.error.slice(0, MAX_ERROR_LENGTH);
  await trx
    .insertInto('feed_failures')
    .values({ consumer_group: group, seq: failure.seq, status: failure.status, attempts: failure.attempts, next_attempt_at: failure.nextAttemptAt, last_error: error, first_failed_at: now, updated_at: now })
    .onConflict((oc) => oc.columns(['consumer_group', 'seq']).doUpdateSet({ status: failure.status, attempts: failure.attempts, next_attempt_at: failure.nextAttemptAt, last_error: error, updated_at: now }))
    .execute();
}

function toFeedChange(row: { seq: number; type: string; resource_type: string; resource_id: string; institution_id: string | null; payload: string; created_at: string }): FeedChange {
  return {
    seq: Number(row.seq),
    type: row.type as ChangeType,
    resourceType: row.resource_type,
    resourceId: row.resource_id,
    institutionId: row.institution_id,
    payload: parsePayload(row.payload),
    createdAt: row.created_at,
  };
}

function toCursor(row: { consumer_group: string; last_seq: number; lease_owner: string | null; lease_until: string | null }): FeedCursor {
  return { group: row.consumer_group, lastSeq: Number(row.last_seq), leaseOwner: row.lease_owner, leaseUntil: row.lease_until };
}

function toFailure(row: { consumer_group: string; seq: number; status: string; attempts: number; next_attempt_at: string | null; last_error: string; first_failed_at: string }): FeedFailure {
  return {
    group: row.consumer_group,
    seq: Number(row.seq),
    status: row.status as 'retrying' | 'dead',
    attempts: Number(row.attempts),
    nextAttemptAt: row.next_attempt_at,
    lastError: row.last_error,
    firstFailedAt: row.first_failed_at,
  };
}

function parsePayload(text: string): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(text);
    return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

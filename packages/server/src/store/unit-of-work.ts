import type { AuditEventInput } from '../access/audit-event.ts';
import type { NewChange } from '../feed/change.ts';
import { AccessStore } from './access-store.ts';
import { auditRowOf, type AuditStore, type NewAuditRow } from './audit-store.ts';
import type { IndexDatabase } from './database.ts';
import { IndexStore } from './index-store.ts';
import { MaintenanceStore } from './maintenance-store.ts';
import { ReadingStore } from './reading-store.ts';
import { sql, type Kysely } from 'kysely';
import type { Database } from './schema.ts';
import { ShareStore } from './share-store.ts';
import type { StoreOpener } from './store-opener.ts';

/** The audit records of one change: committed in the change's transaction (chained there on SQLite, staged there and chained right after on PostgreSQL; AuditStore.appendIn). */
export interface TransactionAudit {
  record(event: AuditEventInput): void;
}

/** The change-feed rows of one change: appended in the change's transaction. */
export interface TransactionFeed {
  append(change: NewChange): void;
}

/**
 * The stores bound to one transaction. Everything a change writes goes through these (never
 * through the process-wide stores, which on SQLite would wait for this very transaction's
 * connection), together with its audit records and its feed rows.
 */
export interface TransactionPorts {
  readonly index: IndexStore;
  readonly access: AccessStore;
  readonly reading: ReadingStore;
  readonly maintenance: MaintenanceStore;
  readonly share: ShareStore;
  readonly audit: TransactionAudit;
  readonly feed: TransactionFeed;
  /** a module's own store on this transaction (store/store-opener.ts) */
  open<T, Tables = Database>(opener: StoreOpener<T, Tables>): T;
}

/**
 * One change, its audit records and its change-feed rows commit together or not at all
 * (issue 13, item 2): a failed audit append rolls the change back, and the caller's error
 * tells the client (a sender, a radiologist) to try again, so nothing is ever done
 * unrecorded, nor recorded undone. Throwing from `work` rolls everything back.
 */
export interface UnitOfWork {
  run<T>(work: (tx: TransactionPorts) => Promise<T>): Promise<T>;
  /**
   * Like run, for many small changes arriving side by side (ingest, one per instance): on
   * SQLite with YUNYING_FSYNC, the changes that arrive while one commit waits for its WAL
   * flush share the next transaction, commit and flush (group commit). Each one still
   * resolves only once its rows, audit records and feed rows are durable; a throw from its
   * work undoes its own rows only (a savepoint each). Elsewhere the same as run.
   */
  runGrouped?<T>(work: (tx: TransactionPorts) => Promise<T>): Promise<T>;
}

/** Changes one grouped commit takes at most: bounds the wait of the last one. */
const GROUP_MAX = 64;

export function createUnitOfWork(database: IndexDatabase, audit: AuditStore): UnitOfWork {
  const run = async <T>(work: (tx: TransactionPorts) => Promise<T>): Promise<T> => {
    let recorded = false;
    const result = await database.db.transaction().execute(async (trx) => {
      const written = { records: [] as NewAuditRow[], changes: [] as NewChange[], open: true };
      const value = await work(portsOf(trx, database, written));
      written.open = false;
      // Last, just before the commit: the audit records (SQLite chains them at once, the
      // chain head locked; PostgreSQL stages them), then the feed rows (their seq is in
      // flight until the commit, and the feed's readers wait for it; feed/change-feed.ts):
      // AuditStore.appendIn writes both, in one statement on PostgreSQL.
      await audit.appendIn(trx, written.records, written.changes);
      recorded = written.records.length > 0;
      return value;
    });
    // SQLite with YUNYING_FSYNC: the commit is on disk before the change is acknowledged.
    await database.makeCommitsDurable();
    // PostgreSQL: the staged records join the chain before the client hears of the change.
    if (recorded) await audit.afterCommit();
    return result;
  };
  // PostgreSQL commits concurrent transactions side by side, each durable when it returns:
  // nothing to group there.
  if (database.dialect !== 'sqlite') return { run, runGrouped: run };
  return { run, runGrouped: groupCommitter(database, audit, run) };
}

interface Written {
  records: NewAuditRow[];
  changes: NewChange[];
  open: boolean;
}

/** The ports of one change inside `trx`; its audit records and feed rows are collected in `written`. */
function portsOf(trx: Kysely<Database>, database: IndexDatabase, written: Written): TransactionPorts {
  const ensureOpen = () => {
    if (!written.open) throw new Error('a unit of work was written to after its work had ended');
  };
  return {
    index: new IndexStore({ db: trx, dialect: database.dialect, makeCommitsDurable: async () => undefined, close: async () => undefined }),
    access: new AccessStore(trx),
    reading: new ReadingStore(trx, database.dialect),
    maintenance: new MaintenanceStore(trx, database.dialect),
    share: new ShareStore(trx),
    audit: {
      record: (event) => {
        ensureOpen();
        // The time is the change's, not the commit's.
        written.records.push(auditRowOf(event));
      },
    },
    feed: {
      append: (change) => {
        ensureOpen();
        written.changes.push(change);
      },
    },
    open: <S, Tables>(opener: StoreOpener<S, Tables>) => opener(trx as unknown as Kysely<Tables>, database.dialect),
  };
}

interface Queued {
  work: (tx: TransactionPorts) => Promise<unknown>;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

/**
 * Group commit on SQLite (issue 16), as Orthanc batches its index writes: a change that
 * arrives while no commit is under way runs at once, alone (a single sender waits for
 * nothing more than before); changes that arrive while a commit waits for its WAL flush
 * queue, and the next transaction takes them all. Every change of a group is under its own
 * savepoint, so a conflict or error undoes its rows only and is reported to its caller alone;
 * the group's audit records are chained in one append (one head read, one insert), in the
 * order of the changes, and its feed rows in one. Nobody is answered before the group's
 * commit is on disk; should the commit or the audit append fail, every change of the group
 * fails, nothing of it is stored, and each caller is told (a sender retries).
 */
function groupCommitter(database: IndexDatabase, audit: AuditStore, run: UnitOfWork['run']): NonNullable<UnitOfWork['runGrouped']> {
  const queue: Queued[] = [];
  let draining = false;

  const commitGroup = async (group: Queued[]): Promise<void> => {
    if (group.length === 1) {
      const [only] = group;
      await run(only.work).then(only.resolve, only.reject);
      return;
    }
    const outcomes: Array<{ ok: true; value: unknown } | { ok: false; error: unknown }> = [];
    try {
      await database.db.transaction().execute(async (trx) => {
        const records: NewAuditRow[] = [];
        const changes: NewChange[] = [];
        for (const item of group) {
          const written: Written = { records: [], changes: [], open: true };
          await sql`savepoint yunying_group`.execute(trx);
          try {
            const value = await item.work(portsOf(trx, database, written));
            written.open = false;
            await sql`release savepoint yunying_group`.execute(trx);
            records.push(...written.records);
            changes.push(...written.changes);
            outcomes.push({ ok: true, value });
          } catch (error) {
            written.open = false;
            await sql`rollback to savepoint yunying_group`.execute(trx);
            await sql`release savepoint yunying_group`.execute(trx);
            outcomes.push({ ok: false, error });
          }
        }
        await audit.appendIn(trx, records, changes);
      });
      await database.makeCommitsDurable();
      await audit.afterCommit();
    } catch (error) {
      // Not committed, or not known to be durable: nobody of the group is told it was stored
      // (as with run, a commit whose flush failed is retried by its sender as a duplicate).
      for (const item of group) item.reject(error);
      return;
    }
    group.forEach((item, i) => {
      const outcome = outcomes[i];
      if (outcome.ok) item.resolve(outcome.value);
      else item.reject(outcome.error);
    });
  };

  const drain = async (): Promise<void> => {
    draining = true;
    try {
      while (queue.length > 0) await commitGroup(queue.splice(0, GROUP_MAX));
    } finally {
      draining = false;
    }
  };

  return <T>(work: (tx: TransactionPorts) => Promise<T>): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      queue.push({ work, resolve: resolve as (value: unknown) => void, reject });
      if (!draining) void drain();
    });
}

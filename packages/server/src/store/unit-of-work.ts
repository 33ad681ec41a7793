import type { AuditEventInput } from '../access/audit-event.ts';
import type { NewChange } from '../feed/change.ts';
import { AccessStore } from './access-store.ts';
import { auditRowOf, type AuditStore, type NewAuditRow } from './audit-store.ts';
import type { IndexDatabase } from './database.ts';
import { IndexStore } from './index-store.ts';
import { MaintenanceStore } from './maintenance-store.ts';
import { ReadingStore } from './reading-store.ts';
import type { Kysely } from 'kysely';
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
}

export function createUnitOfWork(database: IndexDatabase, audit: AuditStore): UnitOfWork {
  return {
    async run<T>(work: (tx: TransactionPorts) => Promise<T>): Promise<T> {
      let recorded = false;
      const result = await database.db.transaction().execute(async (trx) => {
        const records: NewAuditRow[] = [];
        const changes: NewChange[] = [];
        let open = true;
        const ensureOpen = () => {
          if (!open) throw new Error('a unit of work was written to after its work had ended');
        };
        const ports: TransactionPorts = {
          index: new IndexStore({ db: trx, dialect: database.dialect, makeCommitsDurable: async () => undefined, close: async () => undefined }),
          access: new AccessStore(trx),
          reading: new ReadingStore(trx, database.dialect),
          maintenance: new MaintenanceStore(trx, database.dialect),
          share: new ShareStore(trx),
          audit: {
            record: (event) => {
              ensureOpen();
              // The time is the change's, not the commit's.
              records.push(auditRowOf(event));
            },
          },
          feed: {
            append: (change) => {
              ensureOpen();
              changes.push(change);
            },
          },
          open: <S, Tables>(opener: StoreOpener<S, Tables>) => opener(trx as unknown as Kysely<Tables>, database.dialect),
        };
        const value = await work(ports);
        open = false;
        // Last, just before the commit: the audit records (SQLite chains them at once, the
        // chain head locked; PostgreSQL stages them), then the feed rows (their seq is in
        // flight until the commit, and the feed's readers wait for it; feed/change-feed.ts):
        // AuditStore.appendIn writes both, in one statement on PostgreSQL.
        await audit.appendIn(trx, records, changes);
        recorded = records.length > 0;
        return value;
      });
      // SQLite with YUNYING_FSYNC: the commit is on disk before the change is acknowledged.
      await database.makeCommitsDurable();
      // PostgreSQL: the staged records join the chain before the client hears of the change.
      if (recorded) await audit.afterCommit();
      return result;
    },
  };
}

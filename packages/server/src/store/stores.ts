import { AccessStore } from './access-store.ts';
import { AuditStore } from './audit-store.ts';
import { ChangeFeedStore } from './change-feed-store.ts';
import type { AuditKey } from '../access/audit-key.ts';
import type { IndexDatabase } from './database.ts';
import { IndexStore } from './index-store.ts';
import { MaintenanceStore } from './maintenance-store.ts';
import { NotificationStore } from './notification-store.ts';
import { ReadingStore } from './reading-store.ts';
import { ShareStore } from './share-store.ts';
import { StatisticsStore } from './statistics-store.ts';
import type { Kysely } from 'kysely';
import type { Database } from './schema.ts';
import type { StoreOpener } from './store-opener.ts';
import { createUnitOfWork, type UnitOfWork } from './unit-of-work.ts';

/**
 * The process-wide stores on one index database, and its unit of work. The Kysely handle
 * stays in here (store/): domain code reads through these ports and writes a change through
 * `unitOfWork.run`, which binds the same stores to the change's transaction.
 */
export interface Stores {
  readonly dialect: IndexDatabase['dialect'];
  readonly index: IndexStore;
  readonly access: AccessStore;
  readonly audit: AuditStore;
  readonly reading: ReadingStore;
  readonly maintenance: MaintenanceStore;
  readonly share: ShareStore;
  readonly notifications: NotificationStore;
  /** the change feed's cursors, leases, retries (feed/change-feed.ts); appends go through the unit of work */
  readonly changeFeed: ChangeFeedStore;
  readonly statistics: StatisticsStore;
  readonly unitOfWork: UnitOfWork;
  /** a module's own store on the process-wide handle (store/store-opener.ts); inside a unit of work, `tx.open` */
  open<T, Tables = Database>(opener: StoreOpener<T, Tables>): T;
}

export function createStores(database: IndexDatabase, auditKey: AuditKey): Stores {
  const audit = new AuditStore(database.db, database.dialect, auditKey);
  return {
    dialect: database.dialect,
    index: new IndexStore(database),
    access: new AccessStore(database.db),
    audit,
    reading: new ReadingStore(database.db, database.dialect),
    maintenance: new MaintenanceStore(database.db, database.dialect),
    share: new ShareStore(database.db),
    notifications: new NotificationStore(database.db),
    changeFeed: new ChangeFeedStore(database.db, database.dialect),
    statistics: new StatisticsStore(database.db, database.dialect),
    unitOfWork: createUnitOfWork(database, audit),
    open: <T, Tables>(opener: StoreOpener<T, Tables>) => opener(database.db as unknown as Kysely<Tables>, database.dialect),
  };
}

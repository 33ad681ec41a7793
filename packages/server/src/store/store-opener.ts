import type { Kysely } from 'kysely';
import type { SqlDialectName } from './dialect.ts';
import type { Database } from './schema.ts';

/**
 * How a module's own store is opened on the index database (issue 13, item 4: a module brings
 * its own tables): on the process-wide handle (`archive.stores.open`) or on one change's
 * transaction (`tx.open` in `unitOfWork.run`), so that the module's writes commit with the
 * change's audit records and feed rows. The Kysely handle goes to the module's store adapter
 * (its `<module>/<name>-store.ts`, typed by its own table interfaces) and no further: the
 * module's domain code sees only the store.
 */
export type StoreOpener<T, Tables = Database> = (db: Kysely<Tables>, dialect: SqlDialectName) => T;

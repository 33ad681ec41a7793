import { sql, type Kysely } from 'kysely';
import type { Database } from './schema.ts';

/**
 * Runs `work` in a transaction: the caller's, when `db` is one already (a store bound to a
 * unit of work, store/unit-of-work.ts), else a new one. A store method that writes several
 * rows therefore commits them with whatever else its unit of work writes.
 */
export function inTransaction<T>(db: Kysely<Database>, work: (trx: Kysely<Database>) => Promise<T>): Promise<T> {
  return db.isTransaction ? work(db) : db.transaction().execute(work);
}

let savepoints = 0;

/**
 * Like inTransaction, for work that may throw after writing part of what it writes: inside
 * the caller's transaction it runs under a savepoint, so that a throw undoes its own rows and
 * not the caller's (the caller may catch it and go on, as with a lost race).
 */
export async function inSavepoint<T>(db: Kysely<Database>, work: (trx: Kysely<Database>) => Promise<T>): Promise<T> {
  if (!db.isTransaction) return db.transaction().execute(work);
  savepoints += 1;
  const name = sql.id(`yunying_sp_${savepoints}`);
  await sql`savepoint ${name}`.execute(db);
  let result: T;
  try {
    result = await work(db);
  } catch (error) {
    await sql`rollback to savepoint ${name}`.execute(db);
    await sql`release savepoint ${name}`.execute(db);
    throw error;
  }
  await sql`release savepoint ${name}`.execute(db);
  return result;
}

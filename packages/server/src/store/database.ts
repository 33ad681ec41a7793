import { mkdirSync } from 'node:fs';
import path from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { Kysely, Migrator, SqliteDialect } from 'kysely';
import { YunyingError } from '../errors.ts';
import { migrationProvider } from './migrations.ts';
import type { Database } from './schema.ts';

export type SqlDialectName = 'sqlite' | 'postgres';

export interface IndexDatabase {
  db: Kysely<Database>;
  dialect: SqlDialectName;
  close(): Promise<void>;
}

export interface DatabaseOptions {
  dataDir: string;
  databaseUrl?: string;
  /** SQLite synchronous=FULL (survives power loss) instead of NORMAL (survives process crashes) */
  fsync: boolean;
}

/** Opens the index database named by the configuration and brings its schema up to date. */
export async function openIndexDatabase(options: DatabaseOptions): Promise<IndexDatabase> {
  if (options.databaseUrl && /^postgres(ql)?:/.test(options.databaseUrl)) {
    throw new YunyingError('NOT_IMPLEMENTED', 'PostgreSQL as the index is not implemented yet; unset YUNYING_DATABASE_URL to use SQLite', 501);
  }
  if (options.databaseUrl) {
    throw new YunyingError('CONFIG_INVALID', 'YUNYING_DATABASE_URL must be a postgres:// URL or unset', 500);
  }
  const index = openSqlite(path.join(options.dataDir, 'index.sqlite'), options.fsync);
  await migrateToLatest(index.db);
  return index;
}

function openSqlite(file: string, fsync: boolean): IndexDatabase {
  mkdirSync(path.dirname(file), { recursive: true });
  const sqlite = new SqliteDatabase(file);
  sqlite.pragma('journal_mode = WAL');
  // WAL + NORMAL is durable when the process is killed; FULL also when the machine loses power.
  sqlite.pragma(`synchronous = ${fsync ? 'FULL' : 'NORMAL'}`);
  sqlite.pragma('foreign_keys = ON');
  sqlite.pragma('busy_timeout = 5000');
  // DICOM matching is case-sensitive except where we normalise (PN columns are upper-cased).
  sqlite.pragma('case_sensitive_like = ON');
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: sqlite }) });
  return { db, dialect: 'sqlite', close: () => db.destroy() };
}

export async function migrateToLatest(db: Kysely<Database>): Promise<void> {
  const migrator = new Migrator({ db, provider: migrationProvider });
  const { error, results } = await migrator.migrateToLatest();
  const failed = results?.find((result) => result.status === 'Error');
  if (error || failed) {
    throw new Error(`database migration ${failed?.migrationName ?? ''} failed: ${(error as Error | undefined)?.message ?? 'unknown error'}`);
  }
}

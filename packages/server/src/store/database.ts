import { closeSync, fdatasync, mkdirSync, open as openCallback } from 'node:fs';
import path from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { Kysely, Migrator, PostgresDialect, SqliteDialect, type Migration, type MigrationProvider } from 'kysely';
import pg from 'pg';
import { YunyingError } from '../errors.ts';
import { migrationProviderFor } from './migrations.ts';
import type { SqlDialectName } from './dialect.ts';
import type { Database } from './schema.ts';
import { FALLBACK_PAGES, startWalCheckpointer } from './wal-checkpointer.ts';

export type { SqlDialectName } from './dialect.ts';

export interface IndexDatabase {
  db: Kysely<Database>;
  dialect: SqlDialectName;
  /** Resolves once every transaction committed before the call is on disk (no-op without fsync). */
  makeCommitsDurable(): Promise<void>;
  close(): Promise<void>;
}

export interface DatabaseOptions {
  dataDir: string;
  databaseUrl?: string;
  /** SQLite: sync the WAL before a commit counts (survives power loss, not only process crashes) */
  fsync: boolean;
  /** the modules' migrations (modules/registry.ts moduleMigrations), run with the core list as one set */
  moduleMigrations?: ModuleMigrationSource;
}

/** Migrations beyond the core list, by dialect. */
export type ModuleMigrationSource = (dialect: SqlDialectName) => Readonly<Record<string, Migration>>;

/** Opens the index database named by the configuration and brings its schema up to date. */
export async function openIndexDatabase(options: DatabaseOptions): Promise<IndexDatabase> {
  let index: IndexDatabase;
  if (options.databaseUrl && /^postgres(ql)?:/.test(options.databaseUrl)) index = openPostgres(options.databaseUrl);
  else if (options.databaseUrl) throw new YunyingError('CONFIG_INVALID', 'YUNYING_DATABASE_URL must be a postgres:// URL or unset');
  else index = openSqlite(path.join(options.dataDir, 'index.sqlite'), options.fsync);
  try {
    await migrateToLatest(index.db, index.dialect, options.moduleMigrations);
  } catch (error) {
    await index.close();
    throw error;
  }
  return index;
}

/**
 * PostgreSQL through a connection pool. A commit is durable when it returns
 * (synchronous_commit), so there is nothing more to wait for.
 */
function openPostgres(url: string): IndexDatabase {
  const pool = new pg.Pool({ connectionString: url, max: 10, types: { getTypeParser: postgresTypeParser } });
  // An idle connection closed by the server (restart, failover, a dropped database) is
  // removed from the pool and the next query opens a new one; unhandled, the pool's error
  // event would end the process.
  pool.on('error', () => undefined);
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  return { db, dialect: 'postgres', makeCommitsDurable: async () => undefined, close: () => db.destroy() };
}

const INT8_OID = 20;

/** bigint (counts, sizes, sequence numbers) as JavaScript numbers: none comes near 2^53. */
function postgresTypeParser(oid: number, format?: 'text' | 'binary'): (value: string) => unknown {
  if (oid === INT8_OID) return (value: string) => Number(value);
  return pg.types.getTypeParser(oid, format as 'text');
}

function openSqlite(file: string, fsync: boolean): IndexDatabase {
  mkdirSync(path.dirname(file), { recursive: true });
  const sqlite = new SqliteDatabase(file);
  sqlite.pragma('journal_mode = WAL');
  // WAL + NORMAL: a commit is durable when the process is killed, and better-sqlite3 does not
  // block the event loop on an fsync per commit. Power-loss durability comes from
  // makeCommitsDurable, which syncs the WAL off the main thread.
  sqlite.pragma('synchronous = NORMAL');
  sqlite.pragma('foreign_keys = ON');
  sqlite.pragma('busy_timeout = 5000');
  // DICOM matching is case-sensitive except where we normalise (PN columns are upper-cased).
  sqlite.pragma('case_sensitive_like = ON');
  // Checkpoints off the event loop (store/wal-checkpointer.ts); this connection's own only
  // as a fallback, should the worker stop.
  const checkpointer = startWalCheckpointer(file);
  if (checkpointer) sqlite.pragma(`wal_autocheckpoint = ${FALLBACK_PAGES}`);
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: withStatementCache(sqlite) }) });
  const wal = fsync ? createWalSync(`${file}-wal`) : undefined;
  return {
    db,
    dialect: 'sqlite',
    makeCommitsDurable: wal ? wal.sync : async () => undefined,
    close: async () => {
      await checkpointer?.close();
      await wal?.close();
      await db.destroy();
    },
  };
}

/**
 * Kysely prepares every statement it runs; better-sqlite3 statements are reusable, so keep
 * them by SQL text (the SQL of the hot paths is a handful of shapes). Kysely runs one
 * statement at a time on this connection, so sharing a prepared statement is safe.
 */
function withStatementCache(sqlite: SqliteDatabase.Database): SqliteDatabase.Database {
  const cache = new Map<string, SqliteDatabase.Statement>();
  const MAX_CACHED = 500;
  return new Proxy(sqlite, {
    get(target, property, receiver) {
      if (property !== 'prepare') return Reflect.get(target, property, receiver);
      return (source: string) => {
        let statement = cache.get(source);
        if (!statement) {
          if (cache.size >= MAX_CACHED) cache.clear();
          statement = target.prepare(source);
          cache.set(source, statement);
        }
        return statement;
      };
    },
  });
}

/**
 * Makes SQLite's WAL durable off the main thread: fdatasync on the libuv thread pool, through
 * a descriptor kept open. Every caller starts its own sync rather than queueing behind one
 * already running (which may have begun before its commit); concurrent syncs of one file are
 * merged by the kernel into one journal commit, so parallel ingests share the disk flush.
 */
function createWalSync(walFile: string): { sync: () => Promise<void>; close: () => Promise<void> } {
  let descriptor: Promise<number> | undefined;
  const openWal = () => new Promise<number>((resolve, reject) => openCallback(walFile, 'r+', (error, fd) => (error ? reject(error) : resolve(fd))));
  const sync = async () => {
    descriptor ??= openWal();
    let fd: number;
    try {
      fd = await descriptor;
    } catch (error) {
      descriptor = undefined;
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return; // no WAL: everything is in the synced main file
      throw error;
    }
    await new Promise<void>((resolve, reject) => fdatasync(fd, (error) => (error ? reject(error) : resolve())));
  };
  const close = async () => {
    const fd = await descriptor?.catch(() => undefined);
    descriptor = undefined;
    if (fd !== undefined) closeSync(fd);
  };
  return { sync, close };
}

export async function migrateToLatest(db: Kysely<Database>, dialect: SqlDialectName, moduleMigrations?: ModuleMigrationSource): Promise<void> {
  const migrator = new Migrator({ db, provider: withModuleMigrations(migrationProviderFor(dialect), dialect, moduleMigrations) });
  const { error, results } = await migrator.migrateToLatest();
  const failed = results?.find((result) => result.status === 'Error');
  if (error || failed) {
    throw new Error(`database migration ${failed?.migrationName ?? ''} failed: ${(error as Error | undefined)?.message ?? 'unknown error'}`);
  }
}

/**
 * The one migration set: the core list and the modules', which Kysely runs sorted by name.
 * A module may not reuse a core name. Every process that opens the database (server, CLI)
 * passes the same modules: a migration it does not know that the database ran stops it.
 */
function withModuleMigrations(core: MigrationProvider, dialect: SqlDialectName, moduleMigrations: ModuleMigrationSource | undefined): MigrationProvider {
  if (!moduleMigrations) return core;
  return {
    async getMigrations() {
      const all = { ...(await core.getMigrations()) };
      for (const [name, migration] of Object.entries(moduleMigrations(dialect))) {
        if (name in all) throw new Error(`module migration ${name} has the name of a core migration`);
        all[name] = migration;
      }
      return all;
    },
  };
}

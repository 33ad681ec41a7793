/**
 * Preloaded into a server process by bench/township-ingest.ts (`node --import` this file):
 * counts every SQL statement the process sends (better-sqlite3 statements and exec, pg
 * client queries), by statement text, and writes the counts as JSON to
 * BENCH_SQL_COUNTS on SIGUSR2, so the bench can diff them around a phase.
 * Not part of the server: a measuring tool only.
 */
import { writeFileSync } from 'node:fs';
import SqliteDatabase from 'better-sqlite3';
import pg from 'pg';

const counts = new Map<string, number>();

function note(sql: unknown): void {
  const text = typeof sql === 'string' ? sql : typeof (sql as { text?: unknown })?.text === 'string' ? (sql as { text: string }).text : String(sql);
  const key = text.replace(/\s+/g, ' ').trim().slice(0, 240);
  counts.set(key, (counts.get(key) ?? 0) + 1);
}

// better-sqlite3's Statement class is not exported: reach its prototype through a statement.
const probe = new SqliteDatabase(':memory:');
const statementPrototype = Object.getPrototypeOf(probe.prepare('select 1')) as Record<string, (...args: unknown[]) => unknown>;
probe.close();
for (const method of ['run', 'get', 'all', 'iterate']) {
  const original = statementPrototype[method]!;
  statementPrototype[method] = function (this: { source: string }, ...args: unknown[]) {
    note(this.source);
    return original.apply(this, args);
  };
}
const databasePrototype = SqliteDatabase.prototype as unknown as Record<string, (...args: unknown[]) => unknown>;
const exec = databasePrototype.exec!;
databasePrototype.exec = function (this: unknown, sql: unknown) {
  note(sql);
  return exec.call(this, sql);
};

const query = pg.Client.prototype.query as (...args: unknown[]) => unknown;
pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
  note(args[0]);
  return query.apply(this, args);
} as typeof pg.Client.prototype.query;

process.on('SIGUSR2', () => {
  const file = process.env.BENCH_SQL_COUNTS;
  if (file) writeFileSync(file, JSON.stringify(Object.fromEntries(counts)));
});

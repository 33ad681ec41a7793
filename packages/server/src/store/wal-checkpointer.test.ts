import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { startWalCheckpointer } from './wal-checkpointer.ts';

test('the worker checkpoints the WAL that the main connection, its own checkpoints off, leaves behind', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'yunying-wal-'));
  const file = path.join(dir, 'index.sqlite');
  const db = new SqliteDatabase(file);
  db.pragma('journal_mode = WAL');
  db.pragma('wal_autocheckpoint = 0');
  db.exec('create table t (x blob)');
  const checkpointer = startWalCheckpointer(file);
  try {
    assert.ok(checkpointer, 'started');
    const insert = db.prepare('insert into t values (randomblob(3000))');
    for (let i = 0; i < 1500; i += 1) insert.run();
    const backfilled = () => (db.pragma('wal_checkpoint(NOOP)') as Array<{ checkpointed: number }>)[0]!.checkpointed;
    for (let waited = 0; backfilled() === 0 && waited < 30_000; waited += 50) await new Promise((resolve) => setTimeout(resolve, 50));
    assert.ok(backfilled() > 0, 'frames copied back by the worker');
    assert.equal((db.prepare('select count(*) as n from t').get() as { n: number }).n, 1500);
  } finally {
    await checkpointer?.close();
    db.close();
    await rm(dir, { recursive: true, force: true });
  }
});

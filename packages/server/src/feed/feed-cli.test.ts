import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { openArchive } from '../archive/archive.ts';
import { MODULES } from '../app.ts';
import { moduleMigrations } from '../modules/registry.ts';
import { runYunyingCli } from '../test-support/cli.ts';

test('yunying feed status shows the groups and their dead letters; feed requeue puts one back in line; feed forget removes a group no server runs; both audited', async () => {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'yunying-feed-cli-'));
  try {
    // the CLI opens with the modules' migrations: the same set here, or it would find them out of order
    const archive = await openArchive({ dataDir, fsync: false, moduleMigrations: moduleMigrations(MODULES) });
    let poison: number;
    try {
      const store = archive.stores.changeFeed;
      await archive.audit.ensureKeyed();
      poison = await store.append({ type: 'report.signed', resourceType: 'report', resourceId: 'report-7', institutionId: 'default', payload: {} });
      await store.ensureCursor('report-delivery', 0);
      assert.ok(await store.acquireLease('report-delivery', 'a-server', 60_000));
      assert.ok(await store.advance('report-delivery', 'a-server', new Date().toISOString(), poison, [{ seq: poison, status: 'dead', attempts: 10, nextAttemptAt: null, error: 'Error: object store unreachable' }]));
    } finally {
      await archive.close();
    }

    const status = await runYunyingCli(dataDir, ['feed', 'status']);
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, new RegExp(`report-delivery\\tcursor ${poison}\\tlag 0\\tlease a-server until \\S+\\tretrying 0\\tdead 1`));
    assert.match(status.stdout, new RegExp(`dead letters:\\n  report-delivery\\tseq ${poison}\\treport.signed report report-7\\tattempts 10\\tsince \\S+\\tError: object store unreachable`));

    const requeued = await runYunyingCli(dataDir, ['feed', 'requeue', 'report-delivery', String(poison)]);
    assert.equal(requeued.code, 0, requeued.stderr);
    assert.match((await runYunyingCli(dataDir, ['feed', 'status'])).stdout, /retrying 1\tdead 0/);
    const again = await runYunyingCli(dataDir, ['feed', 'requeue', 'report-delivery', String(poison)]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /no dead letter/);
    assert.equal((await runYunyingCli(dataDir, ['feed', 'requeue', 'report-delivery', 'x'])).code, 2);

    // forget: refused while a server holds the group's lease, then removes cursor and failures
    const held = await runYunyingCli(dataDir, ['feed', 'forget', 'report-delivery']);
    assert.equal(held.code, 1);
    assert.match(held.stderr, /holds its lease/);
    const released = await openArchive({ dataDir, fsync: false, moduleMigrations: moduleMigrations(MODULES) });
    try {
      await released.stores.changeFeed.releaseLease('report-delivery', 'a-server');
    } finally {
      await released.close();
    }
    assert.equal((await runYunyingCli(dataDir, ['feed', 'forget', 'report-delivery'])).code, 0);
    assert.doesNotMatch((await runYunyingCli(dataDir, ['feed', 'status'])).stdout, /report-delivery/);

    const reopened = await openArchive({ dataDir, fsync: false, moduleMigrations: moduleMigrations(MODULES) });
    try {
      const records = await reopened.audit.search({ action: 'feed.requeued', limit: 10 });
      assert.equal(records.length, 1);
      assert.match(records[0]!.actor_name, /^cli:/);
      assert.equal((await reopened.audit.search({ action: 'feed.forgotten', limit: 10 })).length, 1);
    } finally {
      await reopened.close();
    }
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
});

/**
 * A second server process for change-feed.test.ts: one feed runner on the given database,
 * one consumer group that reports each change it is handed (a JSON line on stdout) and
 * never finishes the change named on the command line, so the test can SIGKILL it while
 * it holds the lease with a change handled but its cursor not moved.
 *
 * argv: databaseUrl group hangOnSeq leaseMs
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { openIndexDatabase } from '../store/database.ts';
import { createStores } from '../store/stores.ts';
import { ephemeralAuditKey } from '../access/audit-key.ts';
import { ChangeFeed } from './change-feed.ts';

const [databaseUrl, group, hangOn, leaseMs] = process.argv.slice(2);
const index = await openIndexDatabase({ dataDir: await mkdtemp(path.join(tmpdir(), 'yunying-feed-child-')), databaseUrl, fsync: false });
const feed = new ChangeFeed(createStores(index, ephemeralAuditKey()).changeFeed, { owner: 'crash-child', leaseMs: Number(leaseMs), pollIntervalMs: 20 });
feed.subscribe({
  group: group!,
  async handle(change) {
    process.stdout.write(`${JSON.stringify({ handling: change.seq })}\n`);
    if (change.seq === Number(hangOn)) await new Promise(() => undefined);
  },
});
await feed.start();
process.stdout.write(`${JSON.stringify({ started: true })}\n`);
// The feed's timers do not keep a process alive; this one lives until it is killed.
setInterval(() => undefined, 60_000);

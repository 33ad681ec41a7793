import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { openIndexDatabase, type IndexDatabase } from '../store/database.ts';
import { appendChange, ChangeFeedStore } from '../store/change-feed-store.ts';
import { createTestDatabase, type TestDatabase } from '../test-support/postgres.ts';
import { RetryLater, type FeedChange, type NewChange } from './change.ts';
import { ChangeFeed, type ChangeFeedOptions } from './change-feed.ts';

const DEADLINE_MS = 10_000;
const CHILD = fileURLToPath(new URL('./crash-child.ts', import.meta.url));

/** Resolves once `condition` holds (checked every few ms), failing after the deadline. */
async function until(condition: () => boolean | Promise<boolean>, what: () => string, timeoutMs = DEADLINE_MS): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what()}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

function change(n: number | string, type: NewChange['type'] = 'instance.stored'): NewChange {
  return { type, resourceType: 'instance', resourceId: `1.2.${n}`, institutionId: 'default', payload: { n } };
}

for (const backend of ['sqlite', 'postgres'] as const) {
  describe(`change feed on ${backend}`, () => {
    let dataDir: string;
    let postgres: TestDatabase | undefined;
    // Two index databases (two connection pools) on PostgreSQL stand for two server processes.
    let first: IndexDatabase;
    let second: IndexDatabase;
    const feeds: ChangeFeed[] = [];
    const errors: unknown[] = [];
    let groupCount = 0;
    const newGroup = (name: string) => `${name}-${(groupCount += 1)}`;

    function newFeed(database: IndexDatabase, options: ChangeFeedOptions = {}): ChangeFeed {
      const feed = new ChangeFeed(new ChangeFeedStore(database.db, database.dialect), { pollIntervalMs: 20, leaseMs: 600, onError: (error) => errors.push(error), ...options });
      feeds.push(feed);
      return feed;
    }
    const append = (database: IndexDatabase, ...changes: NewChange[]) => database.db.transaction().execute(async (tx) => {
      const seqs: number[] = [];
      for (const one of changes) seqs.push(await appendChange(tx, one));
      return seqs;
    });

    before(async () => {
      dataDir = await mkdtemp(path.join(tmpdir(), 'yunying-feed-'));
      postgres = backend === 'postgres' ? await createTestDatabase() : undefined;
      first = await openIndexDatabase({ dataDir, fsync: false, databaseUrl: postgres?.url });
      second = backend === 'postgres' ? await openIndexDatabase({ dataDir, fsync: false, databaseUrl: postgres?.url }) : first;
    });

    after(async () => {
      await Promise.all(feeds.map((feed) => feed.close()));
      if (second !== first) await second.close();
      await first.close();
      await postgres?.drop();
      await rm(dataDir, { recursive: true, force: true });
    });

    test('a group gets its types in seq order from its cursor, and a new runner resumes after it', async () => {
      const group = newGroup('order');
      const [a, , c] = await append(first, change('a'), change('b', 'report.signed'), change('c'));
      const received: FeedChange[] = [];
      const feed = newFeed(first);
      feed.subscribe({ group, types: ['instance.stored'], handle: async (one) => void received.push(one) });
      await feed.start();
      await until(() => received.length === 2, () => `2 changes, got ${received.length}`);
      assert.deepEqual(received.map((one) => one.seq), [a, c]);
      assert.deepEqual(received[0]!.payload, { n: 'a' });
      assert.equal(received[0]!.resourceId, '1.2.a');
      assert.equal(received[0]!.institutionId, 'default');
      await feed.caughtUp(c!);
      await feed.close();

      const [d] = await append(first, change('d'));
      const resumed: number[] = [];
      const again = newFeed(first);
      again.subscribe({ group, types: ['instance.stored'], handle: async (one) => void resumed.push(one.seq) });
      await again.start();
      await until(() => resumed.length === 1, () => 'the change appended while no runner ran');
      assert.deepEqual(resumed, [d], 'nothing before the cursor again');
      await again.close();
      assert.deepEqual(errors, []);
    });

    test('a plain cursor move waits up to cursorWriteMs to be written; a clean stop writes it', async () => {
      const group = newGroup('deferred');
      const handled: number[] = [];
      const feed = newFeed(first, { cursorWriteMs: 60_000 });
      feed.subscribe({ group, handle: async (one) => void handled.push(one.seq) }, { startAt: 'latest' });
      await feed.start();
      const startedAt = (await feed.store.cursor(group))!.lastSeq;
      const seqs: number[] = [];
      for (let n = 0; n < 5; n += 1) {
        seqs.push(...(await append(first, change(`d${n}`))));
        await until(() => handled.length === n + 1, () => `change ${n}`);
      }
      assert.deepEqual(handled, seqs);
      assert.equal((await feed.store.cursor(group))!.lastSeq, startedAt, 'five moves, no write yet');
      await feed.caughtUp(seqs.at(-1)!); // counts what this runner holds
      await feed.close();
      assert.equal((await feed.store.cursor(group))!.lastSeq, seqs.at(-1), 'written on the way out');
      assert.equal((await feed.store.cursor(group))!.leaseOwner, null);
    });

    test('handleBatch gets the changes of a read together; a batch that throws is handed over one change at a time, its failure retried alone', async () => {
      const group = newGroup('batch');
      const batches: number[][] = [];
      const single: number[] = [];
      let poisonAttempts = 0;
      const feed = newFeed(first, { retryDelayMs: () => 10 });
      feed.subscribe(
        {
          group,
          types: ['instance.stored'],
          async handleBatch(changes) {
            batches.push(changes.map((one) => one.seq));
            if (changes.some((one) => one.payload.n === 'poison')) throw new Error('one bad change');
          },
          async handle(one) {
            if (one.payload.n === 'poison' && (poisonAttempts += 1) === 1) throw new Error('still bad');
            single.push(one.seq);
          },
        },
        { startAt: 'latest' },
      );
      await feed.start();
      // One transaction: they become visible together, so one read finds them all.
      const seqs = await append(first, change('b1'), change('b2'), change('poison'), change('b3'));
      await until(() => single.length === 4, () => `4 changes one by one, got ${single.length}`);
      assert.deepEqual(batches[0], seqs, 'the four in one batch first');
      assert.deepEqual(single, [seqs[0], seqs[1], seqs[3], seqs[2]], 'then one by one; the poison one after its retry');
      errors.length = 0; // the batch's and the first attempt's errors, reported as expected
      const later = await append(first, change('c1'), change('c2'));
      await feed.caughtUp(later.at(-1)!);
      // Once each: in a batch (one read found both) or alone.
      const handledLater = [...batches.slice(1).flat(), ...single.filter((seq) => later.includes(seq))];
      assert.deepEqual(handledLater.sort((a, b) => a - b), later, 'the new changes, once each');
      await feed.close();
      assert.deepEqual(errors, []);
    });

    test('a group whose types were not appended moves its cursor past the others\' changes', async () => {
      const group = newGroup('skip');
      const received: number[] = [];
      const feed = newFeed(first);
      feed.subscribe({ group, types: ['report.signed'], handle: async (one) => void received.push(one.seq) }, { startAt: 'latest' });
      await feed.start();
      const others = await append(first, change('x1'), change('x2'));
      await feed.caughtUp(others.at(-1)!);
      const [signed] = await append(first, change('signed', 'report.signed'));
      await until(() => received.length === 1, () => 'the report.signed change');
      assert.deepEqual(received, [signed]);
      await feed.caughtUp(signed!);
      await feed.close();
      assert.equal((await feed.store.cursor(group))!.lastSeq >= signed!, true);
    });

    test('an append in this process wakes the runner at once; startAt latest skips the history', async () => {
      const group = newGroup('wake');
      await append(first, change('history'));
      const received: number[] = [];
      // Polling once a minute: only the in-process signal can bring the change quickly.
      const feed = newFeed(first, { pollIntervalMs: 60_000 });
      feed.subscribe({ group, handle: async (one) => void received.push(one.seq) }, { startAt: 'latest' });
      await feed.start();
      const started = Date.now();
      const [seq] = await append(first, change('live'));
      await until(() => received.length === 1, () => 'the woken runner', 5_000);
      assert.deepEqual(received, [seq]);
      assert.ok(Date.now() - started < 2_000, `took ${Date.now() - started} ms`);
      await feed.close();
    });

    test('a failing change is retried with backoff beside the others, and after the last attempt is a dead letter on /metrics', async () => {
      const group = newGroup('retry');
      const attempts = new Map<string, number>();
      const handled: string[] = [];
      const feed = newFeed(first, { maxAttempts: 3, retryDelayMs: (failed) => 10 * failed });
      feed.subscribe({
        group,
        types: ['report.signed'],
        async handle(one) {
          const name = String(one.payload.n);
          attempts.set(name, (attempts.get(name) ?? 0) + 1);
          if (name === 'poison') throw new Error('cannot handle this one');
          if (name === 'flaky' && attempts.get(name) === 1) throw new Error('not yet');
          handled.push(name);
        },
      });
      await feed.start();
      const [poison] = await append(first, change('poison', 'report.signed'));
      await append(first, change('flaky', 'report.signed'), change('after', 'report.signed'));
      await until(() => handled.includes('after') && handled.includes('flaky'), () => `handled ${handled}`);
      assert.ok(handled.indexOf('after') < handled.indexOf('flaky'), 'the change after a failing one does not wait for its retry');
      await until(async () => (await feed.store.failures(group, 'dead')).length === 1, () => 'the dead letter');
      assert.equal(attempts.get('poison'), 3);
      assert.equal(attempts.get('flaky'), 2);
      const [dead] = await feed.store.failures(group, 'dead');
      assert.equal(dead!.seq, poison);
      assert.equal(dead!.attempts, 3);
      assert.match(dead!.lastError, /cannot handle this one/);
      // The retry's outcome is written just after its handler returned.
      await until(async () => (await feed.store.failures(group)).length === 1, () => 'the flaky change\u2019s failure row gone');

      await until(() => feed.groupStats().some((stat) => stat.group === group && stat.deadLetters === 1), () => 'the figures refreshed');
      const lines = feed.metricLines();
      assert.ok(lines.includes(`yunying_feed_dead_letters{group="${group}"} 1`), lines.join('\n'));
      assert.ok(lines.includes(`yunying_feed_retries_total{group="${group}"} 3`), 'two for the poison change, one for the flaky one');
      assert.ok(lines.includes(`yunying_feed_dead_lettered_total{group="${group}"} 1`));
      assert.ok(lines.includes(`yunying_feed_lease_held{group="${group}"} 1`));
      assert.ok(lines.some((line) => line.startsWith(`yunying_feed_lag_changes{group="${group}"} `)));

      // An operator puts the dead letter back once its cause is fixed.
      attempts.set('poison', 0);
      assert.equal(await feed.store.requeueDeadLetter(group, poison!), true);
      errors.length = 0;
      await until(() => (attempts.get('poison') ?? 0) >= 1, () => 'the requeued change');
      await feed.close();
      errors.length = 0;
    });

    test('"not yet" (RetryLater) comes back after its pause without counting as an attempt; a group\u2019s own retry policy', async () => {
      const group = newGroup('later');
      const calls = new Map<string, number>();
      const done: string[] = [];
      const feed = newFeed(first, { maxAttempts: 10 });
      feed.subscribe(
        {
          group,
          types: ['report.addendum'],
          retry: { maxAttempts: 2, delayMs: () => 10 },
          async handle(one) {
            const name = String(one.payload.n);
            calls.set(name, (calls.get(name) ?? 0) + 1);
            if (name === 'later' && calls.get(name)! <= 3) throw new RetryLater(15, 'the signing request delivers first');
            if (name === 'poison') throw new Error('poison');
            done.push(name);
          },
        },
        { startAt: 'latest' },
      );
      await feed.start();
      const [later, poison] = await append(first, change('later', 'report.addendum'), change('poison', 'report.addendum'));
      await until(() => done.includes('later'), () => 'the deferred change');
      await until(async () => (await feed.store.failures(group, 'dead')).length === 1, () => 'the dead letter after two attempts');
      assert.equal(calls.get('later'), 4, 'deferred three times, then handled');
      assert.equal(calls.get('poison'), 2, "the group's own maxAttempts");
      // The deferred change's row goes just after its handler returned.
      await until(async () => (await feed.store.failures(group)).length === 1, () => 'the deferred change\u2019s row gone');
      assert.deepEqual((await feed.store.failures(group)).map((one) => one.seq), [poison]);
      assert.ok(later! < poison!);
      assert.equal(errors.length, 2, 'the poison change logged twice; the deferrals not at all');
      errors.length = 0;
      await feed.close();
    });

    test('two runners: one handles the group at a time, and the other takes over when it closes', async () => {
      const group = newGroup('lease');
      let active = 0;
      let mostAtOnce = 0;
      const handledBy: Array<{ seq: number; by: string }> = [];
      const consumerFor = (by: string) => ({
        group,
        async handle(one: FeedChange) {
          active += 1;
          mostAtOnce = Math.max(mostAtOnce, active);
          await new Promise((resolve) => setTimeout(resolve, 2));
          handledBy.push({ seq: one.seq, by });
          active -= 1;
        },
      });
      const a = newFeed(first, { owner: 'runner-a' });
      const b = newFeed(second, { owner: 'runner-b' });
      a.subscribe(consumerFor('a'), { startAt: 'latest' });
      b.subscribe(consumerFor('b'), { startAt: 'latest' });
      await a.start();
      await b.start();
      const seqs: number[] = [];
      for (let n = 0; n < 20; n += 1) seqs.push(...(await append(n % 2 === 0 ? first : second, change(`l${n}`))));
      await until(() => handledBy.length >= seqs.length, () => `${seqs.length} handled, got ${handledBy.length}`);
      assert.equal(mostAtOnce, 1, 'never two handlers of one group at once');
      assert.equal(new Set(handledBy.map((one) => one.by)).size, 1, 'one runner handled them all');
      assert.deepEqual(handledBy.map((one) => one.seq), seqs, 'in seq order, each once');
      const holder = handledBy[0]!.by === 'a' ? a : b;
      const other = holder === a ? b : a;
      assert.equal((await a.store.cursor(group))!.leaseOwner, holder.owner);

      // A clean shutdown gives the lease up: the other runner goes on without waiting for an expiry.
      await holder.close();
      const [next] = await append(first, change('after-close'));
      await until(() => handledBy.some((one) => one.seq === next), () => 'the other runner');
      assert.equal(handledBy.at(-1)!.by, other === a ? 'a' : 'b');
      await other.close();
      assert.deepEqual(errors, []);
    });

    test('lease: one owner at a time on the database\u2019s clock; after its expiry another takes over and the old owner\u2019s writes are refused', async () => {
      const store = new ChangeFeedStore(first.db, first.dialect);
      const other = new ChangeFeedStore(second.db, second.dialect);
      const group = newGroup('lease-store');
      await store.ensureCursor(group, 0);
      assert.ok(await store.acquireLease(group, 'a', 150));
      assert.equal(await other.acquireLease(group, 'b', 150), undefined, 'held');
      assert.ok(await store.acquireLease(group, 'a', 150), 'renewed by its owner');
      await until(async () => (await other.acquireLease(group, 'b', 60_000)) !== undefined, () => 'the expiry');
      const now = new Date().toISOString();
      assert.equal(await store.advance(group, 'a', now, 5, []), false, 'the old owner moves nothing');
      assert.equal(await store.settleRetry(group, 'a', now, 5, undefined), false);
      assert.equal(await other.advance(group, 'b', now, 5, []), true);
      await store.releaseLease(group, 'a'); // not a's to give
      assert.equal((await store.cursor(group))!.leaseOwner, 'b');
      await other.releaseLease(group, 'b');
      assert.ok(await store.acquireLease(group, 'a', 150), 'free at once after a release');
      assert.equal((await store.cursor(group))!.lastSeq, 5);
    });

    test('purge: only changes below every cursor, old enough, and not waiting for a retry', async () => {
      const store = new ChangeFeedStore(first.db, first.dialect);
      const [kept, purged, failed, above] = await append(first, change('p0'), change('p1'), change('p2'), change('p3'));
      // Cursors of the groups before stand further back; this test's own floor is `failed`.
      await first.db.deleteFrom('feed_cursors').execute();
      await store.ensureCursor(newGroup('purge'), failed!);
      await store.ensureCursor('purge-owner', failed!);
      assert.ok(await store.acquireLease('purge-owner', 'me', 60_000));
      assert.ok(await store.advance('purge-owner', 'me', new Date().toISOString(), failed!, [{ seq: failed!, status: 'dead', attempts: 5, nextAttemptAt: null, error: 'x' }]));
      assert.equal(await store.purge(new Date(Date.now() - 60_000).toISOString()), 0, 'nothing old enough');
      assert.ok((await store.purge(new Date(Date.now() + 60_000).toISOString())) >= 2);
      const left = (await store.readRange(kept! - 1, above!, 10)).map((one) => one.seq);
      assert.deepEqual(left, [failed, above], `${purged} and ${kept} purged; the dead letter and the change above the floor stay`);
    });

    if (backend === 'postgres') {
      test('a lease holder killed while handling: after its lease expires the other process hands over the same changes again', async () => {
        const group = newGroup('crash');
        const seqs = await append(first, change('k1'), change('k2'), change('k3'));
        // The group starts just before them (not at the feed's first change, from the tests before).
        await new ChangeFeedStore(first.db, 'postgres').ensureCursor(group, seqs[0]! - 1);
        const child = spawn(process.execPath, [CHILD, postgres!.url, group, String(seqs[1]), '600'], { stdio: ['ignore', 'pipe', 'inherit'] });
        const childHandled: number[] = [];
        let childStarted = false;
        createInterface({ input: child.stdout! }).on('line', (line) => {
          const message = JSON.parse(line) as { handling?: number; started?: boolean };
          if (message.handling !== undefined) childHandled.push(message.handling);
          if (message.started) childStarted = true;
        });
        const exited = new Promise((resolve) => child.once('exit', resolve));
        try {
          await until(() => childStarted && childHandled.includes(seqs[1]!), () => `the child at ${seqs[1]}, it handled ${childHandled}`);
          assert.equal((await new ChangeFeedStore(first.db, 'postgres').cursor(group))!.leaseOwner, 'crash-child');
        } finally {
          child.kill('SIGKILL');
          await exited;
        }
        const killedAt = Date.now();

        const handled: number[] = [];
        const survivor = newFeed(second, { owner: 'survivor' });
        survivor.subscribe({ group, handle: async (one) => void handled.push(one.seq) });
        await survivor.start();
        await until(() => handled.length >= 3, () => `the survivor's changes, got ${handled}`);
        assert.ok(Date.now() - killedAt >= 300, 'the survivor waited for the lease to expire');
        assert.deepEqual(handled, seqs, 'the changes the dead holder had been handed, again, in order');
        assert.deepEqual(childHandled, seqs.slice(0, 2));
        await survivor.caughtUp(seqs[2]!);
        assert.equal((await survivor.store.cursor(group))!.leaseOwner, 'survivor');
        await survivor.close();
        assert.deepEqual(errors, []);
      });

      test('a change whose transaction commits after a later one was seen is not skipped; a rolled-back seq is passed', async () => {
        const group = newGroup('gap');
        const handled: number[] = [];
        const feed = newFeed(second, { gapSettleMs: 50 });
        feed.subscribe({ group, handle: async (one) => void handled.push(one.seq) }, { startAt: 'latest' });
        await feed.start();

        let commit!: (outcome: 'commit' | 'rollback') => void;
        const decided = new Promise<'commit' | 'rollback'>((resolve) => (commit = resolve));
        let appended!: (seq: number) => void;
        const early = new Promise<number>((resolve) => (appended = resolve));
        const slow = first.db
          .transaction()
          .execute(async (tx) => {
            appended(await appendChange(tx, change('early seq, late commit')));
            if ((await decided) === 'rollback') throw new Error('rolled back');
          })
          .catch((error: unknown) => error);
        const earlySeq = await early;
        const [later] = await append(first, change('later seq, committed first'));
        // The later change is visible; the group must not pass the early seq while it may still come.
        await until(async () => (await feed.store.seqsAfter(earlySeq - 1, 10)).some((row) => row.seq === later), () => 'the later row');
        const pollsBefore = feed.visibleUpTo;
        await new Promise((resolve) => setTimeout(resolve, 200)); // several polls and the settle time
        assert.equal(handled.length, 0, 'nothing handed over past the open gap');
        assert.ok(feed.visibleUpTo < earlySeq && pollsBefore < earlySeq);
        commit('commit');
        await slow;
        await until(() => handled.length === 2, () => `both, got ${handled}`);
        assert.deepEqual(handled, [earlySeq, later]);

        // The same with a rollback: the gap is passed once the transaction has ended.
        let rollBack!: (outcome: 'commit' | 'rollback') => void;
        const decidedAgain = new Promise<'commit' | 'rollback'>((resolve) => (rollBack = resolve));
        let appendedAgain!: (seq: number) => void;
        const doomed = new Promise<number>((resolve) => (appendedAgain = resolve));
        const failing = first.db
          .transaction()
          .execute(async (tx) => {
            appendedAgain(await appendChange(tx, change('rolled back')));
            if ((await decidedAgain) === 'rollback') throw new Error('rolled back');
          })
          .catch((error: unknown) => error);
        const doomedSeq = await doomed;
        const [survivor] = await append(first, change('after the rollback'));
        rollBack('rollback');
        assert.match(String(await failing), /rolled back/);
        await until(() => handled.length === 3, () => `the change after the rolled-back seq, got ${handled}`);
        assert.deepEqual(handled.slice(2), [survivor]);
        assert.ok(!handled.includes(doomedSeq));
        await feed.close();
        assert.deepEqual(errors, []);
      });

      test('many missing seqs (a purge of notifications among them) are explained by one probe, not one by one', async () => {
        const group = newGroup('holes');
        const seqs = await append(first, ...Array.from({ length: 40 }, (_, n) => change(`h${n}`)));
        const kept = seqs.filter((_, n) => n % 2 === 0);
        await first.db.deleteFrom('changes').where('seq', 'in', seqs.filter((_, n) => n % 2 === 1)).execute();
        await new ChangeFeedStore(first.db, 'postgres').ensureCursor(group, seqs[0]! - 1);
        const handled: number[] = [];
        // 20 gaps of 300 ms each would take 6 s one by one.
        const feed = newFeed(second, { gapSettleMs: 300 });
        feed.subscribe({ group, handle: async (one) => void handled.push(one.seq) });
        const started = Date.now();
        await feed.start();
        await until(() => handled.length === kept.length, () => `${kept.length} changes, got ${handled.length}`);
        assert.deepEqual(handled, kept);
        assert.ok(Date.now() - started < 3_000, `took ${Date.now() - started} ms`);
        await feed.close();
        assert.deepEqual(errors, []);
      });
    }
  });
}

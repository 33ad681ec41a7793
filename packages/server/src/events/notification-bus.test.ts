import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter, once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Kysely } from 'kysely';
import { openIndexDatabase, type IndexDatabase } from '../store/database.ts';
import { NotificationStore, type StoredNotification } from '../store/notification-store.ts';
import type { Database } from '../store/schema.ts';
import { createTestDatabase, type TestDatabase } from '../test-support/postgres.ts';
import { appendChanges } from '../store/change-feed-store.ts';
import { NotificationBus, notificationChanges, type NotificationEvent, type NotificationFilter } from './notification-bus.ts';

const POLL_MS = 20;
const DEADLINE_MS = 10_000;

/** A store that reports every poll, so tests wait for polls instead of sleeping. */
class ObservedStore extends NotificationStore {
  readonly polls = new EventEmitter();
  reads = 0;
  override async readAfter(afterSeq: number, institutionIds: readonly string[] | 'all', limit: number): Promise<StoredNotification[]> {
    const rows = await super.readAfter(afterSeq, institutionIds, limit);
    this.reads += 1;
    this.polls.emit('read', rows);
    return rows;
  }
}

/**
 * Waits for one `name` event, failing after the deadline. The deadline's timer is ref'd on
 * purpose: the bus's poll timers are unref'd, and on SQLite nothing else keeps the event
 * loop alive while a test waits.
 */
async function nextEvent(emitter: EventEmitter, name: string, what: () => string): Promise<void> {
  const controller = new AbortController();
  const deadline = setTimeout(() => controller.abort(), DEADLINE_MS);
  try {
    await once(emitter, name, { signal: controller.signal });
  } catch {
    assert.fail(`timed out waiting for ${what()}`);
  } finally {
    clearTimeout(deadline);
  }
}

/** Collects a subscription's events; `waitFor(n)` resolves once n have arrived. */
function collect(bus: NotificationBus, filter: NotificationFilter, fromSeq?: number) {
  const events: NotificationEvent[] = [];
  const arrivals = new EventEmitter();
  const unsubscribe = bus.subscribe(
    filter,
    (event) => {
      events.push(event);
      arrivals.emit('event');
    },
    fromSeq,
  );
  return {
    events,
    unsubscribe,
    seqs: () => events.map((event) => event.seq),
    async waitFor(count: number): Promise<NotificationEvent[]> {
      while (events.length < count) await nextEvent(arrivals, 'event', () => `${count} events, got ${events.length}: ${JSON.stringify(events)}`);
      return events.slice(0, count);
    },
  };
}

/** Resolves after `count` more polls of this store (each poll reads at least once). */
async function polls(store: ObservedStore, count: number): Promise<void> {
  for (let n = 0; n < count; n += 1) await nextEvent(store.polls, 'read', () => 'a poll');
}

/** The seqs of everything published so far for one institution (straight from the table). */
async function seqsOf(db: Kysely<Database>, institutionId: string): Promise<number[]> {
  return (await new NotificationStore(db).readAfter(0, [institutionId], 10_000)).map((row) => row.seq);
}

for (const backend of ['sqlite', 'postgres'] as const) {
  describe(`notification bus on ${backend}`, () => {
    let dataDir: string;
    let postgres: TestDatabase | undefined;
    // Two index databases (two connection pools) on PostgreSQL stand for two server processes.
    let first: IndexDatabase;
    let second: IndexDatabase;
    const buses: NotificationBus[] = [];
    const errors: unknown[] = [];

    async function newBus(database: IndexDatabase, options: { batchSize?: number } = {}): Promise<{ bus: NotificationBus; store: ObservedStore }> {
      const store = new ObservedStore(database.db);
      const bus = new NotificationBus(store, { intervalMs: POLL_MS, onError: (error) => errors.push(error), ...options });
      buses.push(bus);
      await bus.start();
      return { bus, store };
    }

    before(async () => {
      dataDir = await mkdtemp(path.join(tmpdir(), 'yunying-bus-'));
      postgres = backend === 'postgres' ? await createTestDatabase() : undefined;
      first = await openIndexDatabase({ dataDir, fsync: false, databaseUrl: postgres?.url });
      second = backend === 'postgres' ? await openIndexDatabase({ dataDir, fsync: false, databaseUrl: postgres?.url }) : first;
    });

    after(async () => {
      await Promise.all(buses.map((bus) => bus.close()));
      assert.deepEqual(errors, [], 'no poll, replay or subscriber failed');
      if (second !== first) await second.close();
      await first.close();
      await postgres?.drop();
      await rm(dataDir, { recursive: true, force: true });
    });

    test('published on one process, received on the other; filtered by institution', async () => {
      const { bus: publisher } = await newBus(first);
      const { bus: receiver } = await newBus(second);
      const t1 = collect(receiver, { institutionIds: ['a-t1'] });
      const t2 = collect(receiver, { institutionIds: ['a-t2', 'a-t3'] });
      const everyone = collect(receiver, { institutionIds: 'all' });

      await publisher.publish(['a-t1'], 'report.signed', { reportId: 'r1' });
      await publisher.publish(['a-t2', 'a-t1', 'a-t2'], 'retake.requested', { requestId: 'q1' });

      const [signed, retakeT1] = await t1.waitFor(2);
      assert.equal(signed!.type, 'report.signed');
      assert.deepEqual(signed!.payload, { reportId: 'r1' });
      assert.equal(signed!.institutionId, 'a-t1');
      assert.ok(!Number.isNaN(Date.parse(signed!.createdAt)));
      assert.equal(retakeT1!.type, 'retake.requested');
      // Seq order: a-t2's subscriber would have seen the a-t1 report first had it leaked.
      const [retakeT2] = await t2.waitFor(1);
      assert.deepEqual([retakeT2!.institutionId, retakeT2!.type], ['a-t2', 'retake.requested']);
      const all = await everyone.waitFor(3);
      assert.deepEqual(all.map((event) => event.institutionId).sort(), ['a-t1', 'a-t1', 'a-t2'], 'one row per distinct institution');
      assert.ok(all[0]!.seq < all[1]!.seq && all[1]!.seq < all[2]!.seq);

      t1.unsubscribe();
      await publisher.publish(['a-t1'], 'report.signed', { reportId: 'r2' });
      await everyone.waitFor(4);
      assert.equal(t1.events.length, 2, 'no events after unsubscribing');
      assert.equal(t2.events.length, 1);
      await assert.rejects(publisher.publish(['a-t1'], 'bad\ntype', {}), /invalid notification type/);
    });

    test('replay after a seq, then live, without duplicates or gaps', async () => {
      const { bus: publisher } = await newBus(first);
      const { bus: receiver } = await newBus(second);
      for (const n of [1, 2, 3]) await publisher.publish(['b-t1'], 'report.signed', { n });
      await publisher.publish(['b-other'], 'report.signed', { n: 0 });
      const [s1, s2, s3] = await seqsOf(first.db, 'b-t1');

      const resumed = collect(receiver, { institutionIds: ['b-t1'] }, s1);
      assert.deepEqual((await resumed.waitFor(2)).map((event) => event.payload), [{ n: 2 }, { n: 3 }]);
      await publisher.publish(['b-t1'], 'report.signed', { n: 4 });
      await resumed.waitFor(3);
      const s4 = (await seqsOf(first.db, 'b-t1'))[3];
      assert.deepEqual(resumed.seqs(), [s2, s3, s4]);

      // Replay racing with live publishing (concurrent inserts: on PostgreSQL they may
      // commit out of seq order): every row after fromSeq exactly once.
      const racing = collect(receiver, { institutionIds: ['b-t1'] }, s2);
      await Promise.all(Array.from({ length: 20 }, (_, n) => publisher.publish(['b-t1'], 'report.signed', { n: 10 + n })));
      const expected = (await seqsOf(first.db, 'b-t1')).filter((seq) => seq > s2!);
      await racing.waitFor(expected.length);
      // A few more polls: nothing arrives twice.
      await publisher.publish(['b-t1'], 'report.signed', { n: 99 });
      await racing.waitFor(expected.length + 1);
      const received = racing.seqs();
      assert.equal(new Set(received).size, received.length, `duplicates in ${received}`);
      assert.deepEqual([...received].sort((a, b) => a - b), [...expected, ...(await seqsOf(first.db, 'b-t1')).slice(-1)]);
      assert.ok(!received.includes(s1!) && !received.includes(s2!));
      racing.unsubscribe();
      resumed.unsubscribe();
    });

    test('a backlog larger than one read is delivered in order, live and replayed', async () => {
      const { bus: publisher } = await newBus(first);
      const { bus: receiver } = await newBus(second, { batchSize: 3 });
      const institutions = Array.from({ length: 10 }, (_, n) => `c-t${n}`);
      const live = collect(receiver, { institutionIds: institutions });
      const before = await new NotificationStore(first.db).latestSeq();
      await publisher.publish(institutions, 'report.signed', { batch: true });
      const events = await live.waitFor(10);
      assert.deepEqual(events.map((event) => event.institutionId), institutions);
      const replayed = collect(receiver, { institutionIds: institutions }, before);
      assert.deepEqual((await replayed.waitFor(10)).map((event) => event.seq), live.seqs());
      live.unsubscribe();
      replayed.unsubscribe();
    });

    test('close stops polling', async () => {
      const { bus: publisher, store: publisherStore } = await newBus(first);
      const { bus: closing, store: closingStore } = await newBus(second);
      const watching = collect(publisher, { institutionIds: ['d-t1'] });
      const closed = collect(closing, { institutionIds: ['d-t1'] });
      await polls(closingStore, 1);
      await closing.close();
      const readsAtClose = closingStore.reads;
      await publisher.publish(['d-t1'], 'report.signed', {});
      await watching.waitFor(1);
      await polls(publisherStore, 3); // the closed bus would have polled by now
      assert.equal(closingStore.reads, readsAtClose);
      assert.equal(closed.events.length, 0);
      assert.equal(closing.subscriberCount, 0);
      assert.equal(collect(closing, { institutionIds: 'all' }).events.length, 0);
      watching.unsubscribe();
    });

    test('notifications appended in a transaction of the change feed (a unit of work) reach every process once it commits', async () => {
      const { bus: receiver } = await newBus(second);
      const live = collect(receiver, { institutionIds: ['g-t1', 'g-t2'] });
      await first.db.transaction().execute(async (trx) => {
        await appendChanges(trx, [{ type: 'report.signed', resourceType: 'report', resourceId: 'r-g', institutionId: 'g-t1', payload: {} }, ...notificationChanges(['g-t1', 'g-t2', 'g-t1'], 'report.signed', { reportId: 'r-g' })]);
      });
      const events = await live.waitFor(2);
      assert.deepEqual(events.map((event) => [event.institutionId, event.type, event.payload]), [['g-t1', 'report.signed', { reportId: 'r-g' }], ['g-t2', 'report.signed', { reportId: 'r-g' }]]);
      assert.throws(() => notificationChanges(['g-t1'], 'bad type', {}), /invalid notification type/);
      live.unsubscribe();
    });

    test('store: latest seq and purge by age', async () => {
      const store = new NotificationStore(first.db);
      await store.append([{ institutionId: 'e-t1', type: 'report.signed', payload: { x: 1 } }]);
      const latest = await store.latestSeq();
      assert.deepEqual((await store.readAfter(latest - 1, ['e-t1'], 10)).map((row) => row.payload), [{ x: 1 }]);
      assert.equal(await store.purgeBefore(new Date(Date.now() - 60_000).toISOString()), 0);
      assert.ok((await store.purgeBefore(new Date(Date.now() + 60_000).toISOString())) >= 1);
      assert.deepEqual(await store.readAfter(0, 'all', 10), []);
      assert.deepEqual(await store.readAfter(0, [], 10), []);
    });

    if (backend === 'postgres') {
      test('a row that commits after a later seq was seen is still delivered (bigserial)', async () => {
        const { bus: publisher } = await newBus(first);
        const { bus: receiver } = await newBus(second);
        const live = collect(receiver, { institutionIds: ['f-t1'] });
        let commit!: () => void;
        const committed = new Promise<void>((resolve) => (commit = resolve));
        let published!: () => void;
        const inTransaction = new Promise<void>((resolve) => (published = resolve));
        const transaction = first.db.transaction().execute(async (trx) => {
          await publisher.publish(['f-t1'], 'report.signed', { order: 'early seq, late commit' }, { executor: trx });
          published();
          await committed;
        });
        await inTransaction;
        await publisher.publish(['f-t1'], 'report.signed', { order: 'later seq, committed first' });
        assert.deepEqual((await live.waitFor(1)).map((event) => event.payload), [{ order: 'later seq, committed first' }]);
        commit();
        await transaction;
        const [late] = (await live.waitFor(2)).slice(1);
        assert.deepEqual(late!.payload, { order: 'early seq, late commit' });
        assert.ok(late!.seq < live.events[0]!.seq);
        live.unsubscribe();
      });
    }
  });
}

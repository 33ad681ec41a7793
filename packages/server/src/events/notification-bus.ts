import type { Kysely } from 'kysely';
import type { NewChange } from '../feed/change.ts';
import { onChangeAppended } from '../store/change-feed-store.ts';
import type { Database } from '../store/schema.ts';
import { NOTIFICATION_PUBLISHED, notificationChange, type NotificationStore, type StoredNotification } from '../store/notification-store.ts';

/** What a subscriber receives: one notification row of the change feed. */
export type NotificationEvent = StoredNotification;

export interface NotificationFilter {
  /** the institutions whose notifications to receive, or `'all'` (administrators) */
  institutionIds: readonly string[] | 'all';
}

export interface NotificationBusOptions {
  /** pause between the end of one poll and the start of the next [250 ms] */
  intervalMs?: number;
  /**
   * how long a row must have been visible to this poller before the cursor moves past it
   * [2000 ms]; see the comment on `advanceCursor`
   */
  settleMs?: number;
  /** rows read per query [500] */
  batchSize?: number;
  /** rows older than this are purged [one day] */
  retentionMs?: number;
  /** how often this process purges old rows [one hour]; the first purge comes within a minute of start */
  purgeIntervalMs?: number;
  /** a failed poll, purge or replay, or a subscriber that threw; the bus carries on */
  onError?: (error: unknown) => void;
}

export interface PublishOptions {
  /** a transaction: the notification commits (or rolls back) with the change it announces */
  executor?: Kysely<Database>;
}

interface Subscriber {
  readonly institutionIds: ReadonlySet<string> | 'all';
  readonly filter: NotificationFilter;
  readonly onEvent: (event: NotificationEvent) => void;
  /** live rows at or below this seq were already replayed or seen by the client (Last-Event-ID) */
  readonly afterSeq: number;
  /** while replaying, live rows wait here */
  buffer: NotificationEvent[] | undefined;
  /** replayed seqs above the bus cursor: the poller may still hand them over live */
  readonly replayed: Set<number>;
  closed: boolean;
}

const TYPE_PATTERN = /^[A-Za-z0-9._:-]{1,100}$/;

/**
 * The change-feed rows of one notification, one per distinct institution: what a unit of
 * work appends (`tx.feed.append(...)`) to publish in the transaction of the change it
 * announces. The bus of every process delivers them like those of `publish`.
 */
export function notificationChanges(institutionIds: readonly string[], type: string, payload: object): NewChange[] {
  // The type becomes the SSE `event:` line: no line breaks, nothing exotic.
  if (!TYPE_PATTERN.test(type)) throw new TypeError(`invalid notification type ${JSON.stringify(type)}`);
  return [...new Set(institutionIds)].map((institutionId) => notificationChange({ institutionId, type, payload }));
}

/**
 * Live notifications across server processes (design.md "One machine → many": nothing in
 * process memory that another process needs). `publish` appends one change-feed row per
 * institution (type `notification.published`, store/notification-store.ts; a unit of work
 * appends notificationChanges in its own transaction instead); every process polls those
 * rows with one indexed query per interval, whatever the number of its subscribers, and
 * hands new rows to its
 * in-process subscribers (the SSE streams of api/event-routes.ts). So a report signed
 * through process A reaches a township screen connected to process B. PostgreSQL
 * LISTEN/NOTIFY would save the polling but does not exist on SQLite; one polled table
 * works on both, and the latency (one interval, 250 ms) is far below what a reader notices.
 */
export class NotificationBus {
  private readonly intervalMs: number;
  private readonly settleMs: number;
  private readonly batchSize: number;
  private readonly retentionMs: number;
  private readonly purgeIntervalMs: number;
  private readonly onError: (error: unknown) => void;

  private readonly subscribers = new Set<Subscriber>();
  /** waiting for the number of subscribers to reach a value (whenSubscriberCount) */
  private readonly countWaiters = new Set<{ count: number; resolve: () => void }>();
  /** every row with seq <= cursor has been delivered or will never be (see advanceCursor) */
  private cursor = 0;
  /** rows above the cursor already delivered, with the (monotonic) time this poller first saw them */
  private readonly seen = new Map<number, number>();
  private timer: NodeJS.Timeout | undefined;
  private polling: Promise<void> | undefined;
  private pollAgainAtOnce = false;
  private nextPurgeAt = 0;
  private state: 'new' | 'starting' | 'running' | 'closed' = 'new';
  private unsubscribeAppends: (() => void) | undefined;

  private readonly store: NotificationStore;
  constructor(
    store: NotificationStore,
    options: NotificationBusOptions = {},
  ) {
    this.store = store;
    this.intervalMs = options.intervalMs ?? 250;
    this.settleMs = options.settleMs ?? 2000;
    this.batchSize = options.batchSize ?? 500;
    this.retentionMs = options.retentionMs ?? 24 * 60 * 60 * 1000;
    this.purgeIntervalMs = options.purgeIntervalMs ?? 60 * 60 * 1000;
    this.onError = options.onError ?? (() => undefined);
  }

  /**
   * Starts polling from the newest row: live subscribers see what is published from now on
   * (a row still uncommitted at this moment with a smaller seq is only replayed, not
   * delivered live; subscribers with a fromSeq replay from the table anyway).
   */
  async start(): Promise<void> {
    if (this.state !== 'new') return;
    this.state = 'starting';
    const latest = await this.store.latestSeq();
    if (this.state !== 'starting') return; // closed meanwhile
    this.cursor = latest;
    this.state = 'running';
    // A notification appended in this process by a unit of work (notificationChanges) needs
    // no interval either. (The signal comes before its commit; the next poll finds it then.)
    // Only an append that may hold a notification: an ingest's instance.stored rows do not.
    this.unsubscribeAppends = onChangeAppended((_seq, types) => {
      if (!types || types.has(NOTIFICATION_PUBLISHED)) this.pollSoon();
    });
    // Spread the processes' purges; a DELETE by time is idempotent, so overlaps are harmless.
    this.nextPurgeAt = Date.now() + Math.random() * Math.min(this.purgeIntervalMs, 60_000);
    this.schedule(this.intervalMs);
  }

  /** Stops polling (waits for a poll in progress) and drops every subscriber. */
  async close(): Promise<void> {
    this.state = 'closed';
    this.unsubscribeAppends?.();
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.polling;
    for (const subscriber of this.subscribers) subscriber.closed = true;
    this.subscribers.clear();
    this.subscribersChanged();
  }

  /**
   * One notification for each of `institutionIds`, in one INSERT. Pass a transaction as
   * `executor` to publish atomically with the change announced (the notification becomes
   * visible when that transaction commits).
   */
  async publish(institutionIds: readonly string[], type: string, payload: object, options: PublishOptions = {}): Promise<void> {
    // The type becomes the SSE `event:` line: no line breaks, nothing exotic.
    if (!TYPE_PATTERN.test(type)) throw new TypeError(`invalid notification type ${JSON.stringify(type)}`);
    const unique = [...new Set(institutionIds)];
    if (unique.length === 0) return;
    await this.store.append(
      unique.map((institutionId) => ({ institutionId, type, payload })),
      options.executor,
    );
    // Subscribers in this process need not wait for the next interval.
    this.pollSoon();
  }

  /**
   * Calls `onEvent` for every notification matching `filter`. With `fromSeq` (an SSE
   * Last-Event-ID), the rows after it are replayed from the table first, then live ones
   * follow in seq order, without duplicates and without a gap between replay and live:
   * live rows arriving during the replay are held back, and those the replay already
   * delivered are skipped. Returns the function that ends the subscription.
   */
  subscribe(filter: NotificationFilter, onEvent: (event: NotificationEvent) => void, fromSeq?: number): () => void {
    const subscriber: Subscriber = {
      institutionIds: filter.institutionIds === 'all' ? 'all' : new Set(filter.institutionIds),
      filter,
      onEvent,
      afterSeq: fromSeq ?? 0,
      buffer: fromSeq === undefined ? undefined : [],
      replayed: new Set(),
      closed: this.state === 'closed',
    };
    if (subscriber.closed) return () => undefined;
    this.subscribers.add(subscriber);
    this.subscribersChanged();
    if (fromSeq !== undefined) void this.replay(subscriber, fromSeq);
    return () => {
      subscriber.closed = true;
      if (this.subscribers.delete(subscriber)) this.subscribersChanged();
    };
  }

  /** The number of current subscriptions in this process (for tests and metrics). */
  get subscriberCount(): number {
    return this.subscribers.size;
  }

  /** Resolves once this process has `count` subscriptions (an SSE stream registers its own a moment after its headers). */
  whenSubscriberCount(count: number): Promise<void> {
    if (this.subscribers.size === count) return Promise.resolve();
    return new Promise((resolve) => this.countWaiters.add({ count, resolve }));
  }

  private subscribersChanged(): void {
    for (const waiter of this.countWaiters) {
      if (waiter.count !== this.subscribers.size) continue;
      this.countWaiters.delete(waiter);
      waiter.resolve();
    }
  }

  private async replay(subscriber: Subscriber, fromSeq: number): Promise<void> {
    let after = fromSeq;
    for (;;) {
      if (subscriber.closed) return;
      let page: StoredNotification[];
      try {
        page = await this.store.readAfter(after, subscriber.filter.institutionIds, this.batchSize);
      } catch (error) {
        // Keep what was replayed, hold live rows back, and try again after an interval.
        this.onError(error);
        if (subscriber.closed) return;
        await new Promise((resolve) => setTimeout(resolve, this.intervalMs).unref());
        continue;
      }
      for (const event of page) {
        if (subscriber.closed) return;
        if (event.seq > this.cursor) subscriber.replayed.add(event.seq);
        this.call(subscriber, event);
        after = event.seq;
      }
      if (page.length < this.batchSize) break;
    }
    const held = (subscriber.buffer ?? []).sort((a, b) => a.seq - b.seq);
    subscriber.buffer = undefined;
    for (const event of held) this.deliver(subscriber, event);
    this.forgetReplayedUpTo(subscriber, this.cursor);
  }

  private deliver(subscriber: Subscriber, event: NotificationEvent): void {
    if (subscriber.closed) return;
    if (subscriber.institutionIds !== 'all' && !subscriber.institutionIds.has(event.institutionId)) return;
    if (subscriber.buffer) {
      subscriber.buffer.push(event);
      return;
    }
    // Already replayed, or at/before the client's Last-Event-ID (this process's poller
    // may lag behind the process the client was connected to before).
    if (event.seq <= subscriber.afterSeq || subscriber.replayed.has(event.seq)) return;
    this.call(subscriber, event);
  }

  private call(subscriber: Subscriber, event: NotificationEvent): void {
    try {
      subscriber.onEvent(event);
    } catch (error) {
      this.onError(error);
    }
  }

  private schedule(delayMs: number): void {
    if (this.state !== 'running') return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.polling = this.tick().finally(() => {
        this.polling = undefined;
        const again = this.pollAgainAtOnce;
        this.pollAgainAtOnce = false;
        this.schedule(again ? 0 : this.intervalMs);
      });
    }, delayMs);
    // A poller alone never keeps the process alive.
    this.timer.unref();
  }

  /** Polls now if idle, or right after the poll in progress; never two polls at once. */
  private pollSoon(): void {
    if (this.state !== 'running') return;
    if (this.polling) {
      this.pollAgainAtOnce = true;
    } else if (this.timer) {
      clearTimeout(this.timer);
      this.schedule(0);
    }
  }

  private async tick(): Promise<void> {
    try {
      await this.poll();
    } catch (error) {
      this.onError(error);
    }
    if (Date.now() >= this.nextPurgeAt) {
      this.nextPurgeAt = Date.now() + this.purgeIntervalMs;
      try {
        await this.store.purgeBefore(new Date(Date.now() - this.retentionMs).toISOString());
      } catch (error) {
        this.onError(error);
      }
    }
  }

  private async poll(): Promise<void> {
    const now = performance.now();
    let after = this.cursor;
    for (;;) {
      const page = await this.store.readAfter(after, 'all', this.batchSize);
      for (const event of page) {
        after = event.seq;
        if (this.seen.has(event.seq)) continue;
        this.seen.set(event.seq, now);
        for (const subscriber of this.subscribers) this.deliver(subscriber, event);
      }
      if (page.length < this.batchSize || this.state === 'closed') break;
    }
    this.advanceCursor(now);
  }

  /**
   * The PostgreSQL bigserial caveat: seq values are taken when a row is inserted, but
   * become visible when its transaction commits, so a row with seq 41 can appear after
   * seq 42 was already read. A cursor that jumped to 42 would skip 41 for good.
   *
   * So the poller re-reads a short window: it reads everything above its cursor on every
   * poll, skips the seqs it already delivered (`seen`), and moves the cursor past a row
   * only once that row has been visible to this poller for `settleMs` (2 s). Any row with
   * a smaller seq got its seq before that row did, so if it is still not visible it has
   * been in flight for over 2 s: it is given up on (it is still in the table, so a
   * reconnect with an older Last-Event-ID replays it). Only this process's monotonic clock
   * is used, never the publishers' clocks. The cost is re-reading the last 2 s of rows,
   * a handful, per poll. On SQLite writers are serialised and seqs appear in order; the
   * same logic applies unchanged.
   */
  private advanceCursor(now: number): void {
    let cursor = this.cursor;
    for (const [seq, firstSeen] of this.seen) if (firstSeen <= now - this.settleMs && seq > cursor) cursor = seq;
    if (cursor === this.cursor) return;
    this.cursor = cursor;
    for (const seq of this.seen.keys()) if (seq <= cursor) this.seen.delete(seq);
    for (const subscriber of this.subscribers) if (!subscriber.buffer) this.forgetReplayedUpTo(subscriber, cursor);
  }

  /** The poller never hands over a row at or below its cursor again. */
  private forgetReplayedUpTo(subscriber: Subscriber, cursor: number): void {
    for (const seq of subscriber.replayed) if (seq <= cursor) subscriber.replayed.delete(seq);
  }
}

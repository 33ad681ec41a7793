import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { onChangeAppended, type ChangeFeedStore, type FailureRecord, type SnapshotToken } from '../store/change-feed-store.ts';
import { RetryLater, type FeedChange, type FeedConsumer } from './change.ts';

export interface ChangeFeedOptions {
  /** this runner's name in the lease rows [host:pid:random] */
  owner?: string;
  /** pause between two looks at the table for other processes' appends [500 ms] */
  pollIntervalMs?: number;
  /** how long a lease lasts without renewal; renewed every third of it [15 s] */
  leaseMs?: number;
  /** attempts of one change before it becomes a dead letter [5] */
  maxAttempts?: number;
  /** the pause before attempt n + 1 after n failed [1 s, 4 s, 16 s, … at most 10 min] */
  retryDelayMs?: (failedAttempts: number) => number;
  /** changes handed over per read [100] */
  batchSize?: number;
  /**
   * how long a cursor that moved without a failure may stay unwritten [1 s]: fewer writes
   * under a steady ingest (on SQLite they queue with the ingest's on its one connection);
   * a crash re-hands at most that much (at least once either way), and a clean stop writes it
   */
  cursorWriteMs?: number;
  /** the shortest pause between two polls woken by local appends [20 ms] */
  wakeGapMs?: number;
  /**
   * PostgreSQL: how long a gap in the seqs stays open at least before it may be passed
   * [1 s]; see FeedHorizon
   */
  gapSettleMs?: number;
  /**
   * changes older than this, below every group's cursor and with no failure row, are
   * deleted [7 days]; each process purges once an hour (idempotent, so overlaps are harmless)
   */
  retentionMs?: number;
  /**
   * this process's clock, ms since the epoch [Date.now]: retry times, and when to renew a
   * lease (the lease's expiry itself is on the database's clock, the same for every process)
   */
  now?: () => number;
  /** a handler that threw, or a failed poll; the feed carries on */
  onError?: (error: unknown, context: { group?: string; seq?: number }) => void;
}

export interface SubscribeOptions {
  /**
   * where a group's cursor starts the first time it runs: the feed's first change
   * ['beginning'], or the newest at that moment ('latest': a consumer with no use for
   * history, e.g. one that only reacts to what happens from now on)
   */
  startAt?: 'beginning' | 'latest';
}

/** One group as /metrics shows it (from the database, so the same in every process). */
export interface GroupStats {
  group: string;
  /** changes appended after the group's cursor (newest seq minus the cursor) */
  lag: number;
  retrying: number;
  deadLetters: number;
  /** in this process: handled, retried (failed attempts with another to come), set aside as dead */
  handled: number;
  retries: number;
  deadLettered: number;
  /** whether this process holds the group's lease */
  leaseHeld: boolean;
}

const DEFAULT_RETRY_DELAY = (failedAttempts: number): number => Math.min(10 * 60_000, 1000 * 4 ** (failedAttempts - 1));

/**
 * The change feed's runner (issue 13, item 3): hands each subscribed consumer group the
 * changes after its cursor, in seq order, at least once, in one process at a time.
 *
 * - One process per group: the group's row in feed_cursors carries a lease (owner and
 *   expiry). A runner takes a free or expired lease, renews it every third of its length
 *   (also while a handler runs), and every cursor move is fenced by it: a runner that
 *   stalled past its expiry and was taken over writes nothing.
 * - At least once: the cursor moves after the changes before it were handled, so a crash
 *   between handling and the move hands them over again (to the next lease holder).
 *   Handlers are idempotent.
 * - Retry and dead letters: a change whose handler threw is recorded in feed_failures (in
 *   the same transaction as the cursor move) and tried again after a growing pause, beside
 *   the new changes; after `maxAttempts` it stays there as a dead letter (on /metrics), so
 *   one poison change does not hold the group back.
 * - Promptly: an append in this process wakes the runner at once; other processes' appends
 *   are found by polling (one indexed query per interval, whatever the number of groups).
 */
export class ChangeFeed {
  readonly owner: string;
  private readonly options: Required<Omit<ChangeFeedOptions, 'owner'>>;
  private readonly workers = new Map<string, GroupWorker>();
  private readonly horizon: FeedHorizon;
  private state: 'new' | 'running' | 'closed' = 'new';
  private pollTimer: NodeJS.Timeout | undefined;
  private leaseTimer: NodeJS.Timeout | undefined;
  private renewing: Promise<void> | undefined;
  private polling: Promise<void> | undefined;
  private pollAgain = false;
  private lastPollAt = 0;
  /** the highest seq appended in this process: polls come quickly until the horizon reaches it */
  private awaitedSeq = 0;
  private quickPollMs = 0;
  private unsubscribeAppends: (() => void) | undefined;
  private stats: GroupStats[] = [];
  /** a cursor moved or a failure was recorded since the figures were refreshed */
  private statsStale = false;
  /** spread over the first hour, so that processes started together do not purge together */
  private nextPurgeAt = Date.now() + Math.random() * 60 * 60 * 1000;
  readonly store: ChangeFeedStore;

  constructor(store: ChangeFeedStore, options: ChangeFeedOptions = {}) {
    this.store = store;
    this.owner = options.owner ?? `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
    this.options = {
      pollIntervalMs: options.pollIntervalMs ?? 500,
      leaseMs: options.leaseMs ?? 15_000,
      maxAttempts: Math.max(1, options.maxAttempts ?? 5),
      retryDelayMs: options.retryDelayMs ?? DEFAULT_RETRY_DELAY,
      batchSize: options.batchSize ?? 100,
      cursorWriteMs: options.cursorWriteMs ?? 1000,
      wakeGapMs: options.wakeGapMs ?? 20,
      gapSettleMs: options.gapSettleMs ?? 1000,
      retentionMs: options.retentionMs ?? 7 * 24 * 60 * 60 * 1000,
      now: options.now ?? Date.now,
      onError: options.onError ?? (() => undefined),
    };
    this.horizon = new FeedHorizon(store, this.options.gapSettleMs, this.options.now);
  }

  /** Adds a consumer group (before start). Two consumers of one group in one runner are an error. */
  subscribe(consumer: FeedConsumer, options: SubscribeOptions = {}): void {
    if (this.state !== 'new') throw new Error('ChangeFeed.subscribe: subscribe before start');
    if (this.workers.has(consumer.group)) throw new Error(`ChangeFeed.subscribe: group ${consumer.group} is subscribed twice`);
    this.workers.set(consumer.group, new GroupWorker(this, consumer, options.startAt ?? 'beginning', this.options));
  }

  get groups(): readonly string[] {
    return [...this.workers.keys()];
  }

  /** Creates the groups' cursors, takes the leases that are free, and starts polling. */
  async start(): Promise<void> {
    if (this.state !== 'new') return;
    this.state = 'running';
    if (this.workers.size === 0) return;
    const latest = await this.store.latestSeq();
    let lowest = Infinity;
    for (const worker of this.workers.values()) lowest = Math.min(lowest, await worker.init(latest));
    this.horizon.startAt(lowest);
    this.unsubscribeAppends = onChangeAppended((seq) => {
      this.awaitedSeq = Math.max(this.awaitedSeq, seq);
      this.quickPollMs = this.options.wakeGapMs;
      this.pollSoon();
    });
    await this.renewLeases();
    this.scheduleLeases();
    this.schedulePoll(0);
  }

  /** Stops polling, waits for the handlers running, and gives the leases up. */
  async close(): Promise<void> {
    if (this.state === 'closed') return;
    const wasRunning = this.state === 'running';
    this.state = 'closed';
    this.unsubscribeAppends?.();
    clearTimeout(this.pollTimer);
    clearTimeout(this.leaseTimer);
    await this.polling;
    // A renewal in flight would take a lease back after its release below.
    await this.renewing;
    await Promise.all([...this.workers.values()].map((worker) => worker.idle()));
    if (!wasRunning) return;
    for (const worker of this.workers.values()) await worker.release().catch((error: unknown) => this.options.onError(error, { group: worker.group }));
  }

  /**
   * Looks at the table now, or after the poll in progress; under a steady stream of local
   * appends at most once per `wakeGapMs`.
   */
  pollSoon(): void {
    if (this.state !== 'running') return;
    if (this.polling) this.pollAgain = true;
    else this.schedulePoll(Math.max(0, this.lastPollAt + this.options.wakeGapMs - Date.now()));
  }

  /** Resolves once every group of this runner that holds its lease has handled everything up to `seq` (tests, shutdown). */
  async caughtUp(seq: number, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const cursors = await this.store.cursors();
      // A group this runner holds may be further along than its written cursor (cursorWriteMs).
      const behind = cursors.filter((cursor) => this.workers.has(cursor.group) && cursor.lastSeq < seq && !(this.workers.get(cursor.group)!.handledUpTo() >= seq));
      if (behind.length === 0) return;
      if (Date.now() > deadline) throw new Error(`change feed: groups ${behind.map((cursor) => `${cursor.group}@${cursor.lastSeq}`).join(', ')} not at ${seq} after ${timeoutMs} ms`);
      this.pollSoon();
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  /** The groups' figures as last refreshed (every third of a lease). */
  groupStats(): readonly GroupStats[] {
    return this.stats;
  }

  /** Prometheus lines for /metrics (metrics.ts addSection). */
  metricLines(): string[] {
    const stats = this.stats;
    const series = (name: string, help: string, type: 'gauge' | 'counter', value: (stat: GroupStats) => number): string[] => [
      `# HELP ${name} ${help}`,
      `# TYPE ${name} ${type}`,
      ...stats.map((stat) => `${name}{group="${stat.group}"} ${value(stat)}`),
    ];
    return [
      ...series('yunying_feed_lag_changes', 'Changes appended after the consumer group\u2019s cursor (newest seq minus the cursor).', 'gauge', (stat) => stat.lag),
      ...series('yunying_feed_retrying_changes', 'Changes of the group waiting for another attempt.', 'gauge', (stat) => stat.retrying),
      ...series('yunying_feed_dead_letters', 'Changes the group set aside after their last failed attempt.', 'gauge', (stat) => stat.deadLetters),
      ...series('yunying_feed_retries_total', 'Failed attempts to handle a change that will be tried again, in this process.', 'counter', (stat) => stat.retries),
      ...series('yunying_feed_dead_lettered_total', 'Changes this process set aside as dead letters.', 'counter', (stat) => stat.deadLettered),
      ...series('yunying_feed_handled_total', 'Changes handled by the group in this process.', 'counter', (stat) => stat.handled),
      ...series('yunying_feed_lease_held', 'Whether this process holds the group\u2019s lease (1) or not (0).', 'gauge', (stat) => (stat.leaseHeld ? 1 : 0)),
    ];
  }

  /** The horizon as of the last poll: every seq at or below it is visible or never will be. */
  get visibleUpTo(): number {
    return this.horizon.value;
  }

  get running(): boolean {
    return this.state === 'running';
  }

  private schedulePoll(delayMs: number): void {
    if (this.state !== 'running') return;
    clearTimeout(this.pollTimer);
    this.pollTimer = setTimeout(() => {
      this.pollTimer = undefined;
      this.polling = this.poll().finally(() => {
        this.polling = undefined;
        const again = this.pollAgain;
        this.pollAgain = false;
        this.schedulePoll(again ? Math.max(0, this.lastPollAt + this.options.wakeGapMs - Date.now()) : this.nextPollDelay());
      });
    }, delayMs);
    // The feed alone never keeps the process alive.
    this.pollTimer.unref();
  }

  /**
   * After a local append the row may not be visible yet (its transaction still commits):
   * poll again soon, doubling the pause, until the horizon has passed it.
   */
  private nextPollDelay(): number {
    if (this.horizon.value >= this.awaitedSeq || this.quickPollMs === 0) return this.options.pollIntervalMs;
    const delay = this.quickPollMs;
    this.quickPollMs = delay * 2 >= this.options.pollIntervalMs ? 0 : delay * 2;
    return delay;
  }

  private async poll(): Promise<void> {
    this.lastPollAt = Date.now();
    try {
      await this.horizon.advance();
    } catch (error) {
      this.options.onError(error, {});
      return;
    }
    for (const worker of this.workers.values()) worker.kick();
    if (this.statsStale) {
      this.statsStale = false;
      await this.refreshStats().catch((error: unknown) => this.options.onError(error, {}));
    }
  }

  /** A worker moved its cursor or recorded a failure: the next poll refreshes the figures. */
  markStatsStale(): void {
    this.statsStale = true;
  }

  private scheduleLeases(): void {
    if (this.state !== 'running') return;
    this.leaseTimer = setTimeout(
      () => {
        this.renewing = this.renewLeases().finally(() => {
          this.renewing = undefined;
          this.scheduleLeases();
        });
      },
      Math.max(1, Math.floor(this.options.leaseMs / 3)),
    );
    this.leaseTimer.unref();
  }

  /** Renews the leases held, tries the others (free, or expired: a crashed holder), and refreshes the figures. */
  private async renewLeases(): Promise<void> {
    for (const worker of this.workers.values()) {
      if (this.state !== 'running') return;
      try {
        if (await worker.renewOrTakeLease()) worker.kick();
      } catch (error) {
        this.options.onError(error, { group: worker.group });
      }
    }
    if (this.state !== 'running') return;
    try {
      await this.refreshStats();
      if (Date.now() >= this.nextPurgeAt) {
        this.nextPurgeAt = Date.now() + 60 * 60 * 1000;
        await this.store.purge(iso(this.options.now() - this.options.retentionMs));
      }
    } catch (error) {
      this.options.onError(error, {});
    }
  }

  private async refreshStats(): Promise<void> {
    const [cursors, counts, latest] = await Promise.all([this.store.cursors(), this.store.failureCounts(), this.store.latestSeq()]);
    this.stats = cursors.map((cursor) => {
      const worker = this.workers.get(cursor.group);
      const count = (status: 'retrying' | 'dead') => counts.find((row) => row.group === cursor.group && row.status === status)?.count ?? 0;
      return {
        group: cursor.group,
        lag: Math.max(0, latest - cursor.lastSeq),
        retrying: count('retrying'),
        deadLetters: count('dead'),
        handled: worker?.counters.handled ?? 0,
        retries: worker?.counters.retries ?? 0,
        deadLettered: worker?.counters.deadLettered ?? 0,
        leaseHeld: worker?.holdsLease() ?? false,
      };
    });
  }

  /** The horizon for the workers (they read up to it). */
  visibleHorizon(): number {
    return this.horizon.value;
  }

  /** Whether a worker at `afterSeq` may find a change of its types up to the horizon (FeedHorizon.typesSeenAfter). */
  typesSeenAfter(afterSeq: number, types: readonly string[] | undefined): boolean {
    return this.horizon.typesSeenAfter(afterSeq, types);
  }
}

/** One consumer group in one runner: its lease, its cursor, its retries. */
class GroupWorker {
  readonly group: string;
  readonly counters = { handled: 0, retries: 0, deadLettered: 0 };
  /** every change up to here is handled (or set aside) by this runner */
  private cursor = 0;
  /** the cursor as feed_cursors has it (this runner wrote or read it) */
  private writtenCursor = 0;
  private writtenAt = 0;
  /** ms; 0 when this runner does not hold the lease */
  private leaseUntil = 0;
  /** ms of the earliest retry due, Infinity when none waits */
  private nextRetryAt = Infinity;
  private running: Promise<void> | undefined;
  private again = false;
  private readonly feed: ChangeFeed;
  private readonly consumer: FeedConsumer;
  private readonly startAt: 'beginning' | 'latest';
  private readonly options: Required<Omit<ChangeFeedOptions, 'owner'>>;

  constructor(feed: ChangeFeed, consumer: FeedConsumer, startAt: 'beginning' | 'latest', options: Required<Omit<ChangeFeedOptions, 'owner'>>) {
    this.feed = feed;
    this.consumer = consumer;
    this.startAt = startAt;
    this.options = options;
    this.group = consumer.group;
  }

  /** Creates the cursor if the group is new; returns where it stands. */
  async init(latestSeq: number): Promise<number> {
    const cursor = await this.feed.store.ensureCursor(this.group, this.startAt === 'latest' ? latestSeq : 0);
    this.cursor = this.writtenCursor = cursor.lastSeq;
    return cursor.lastSeq;
  }

  /** how far this runner has handled the group while holding its lease (-1 when it does not hold it) */
  handledUpTo(): number {
    return this.holdsLease() ? this.cursor : -1;
  }

  holdsLease(): boolean {
    return this.leaseUntil > this.options.now();
  }

  /** Takes or renews the lease; true when this runner holds it now and did not before. */
  async renewOrTakeLease(): Promise<boolean> {
    const now = this.options.now();
    const held = this.holdsLease();
    const cursor = await this.feed.store.acquireLease(this.group, this.feed.owner, this.options.leaseMs);
    if (!cursor) {
      this.leaseUntil = 0;
      return false;
    }
    this.leaseUntil = now + this.options.leaseMs;
    // Retries another holder left, or a dead letter an operator put back in line.
    this.nextRetryAt = msOf(await this.feed.store.nextRetryAt(this.group));
    if (held) return false;
    // Newly held: the previous holder may have moved the cursor.
    this.cursor = this.writtenCursor = cursor.lastSeq;
    this.writtenAt = this.options.now();
    return true;
  }

  /** Writes the cursor moved meanwhile, then gives the lease up (a clean stop re-hands nothing). */
  async release(): Promise<void> {
    if (this.leaseUntil === 0) return;
    if (this.holdsLease() && this.cursor > this.writtenCursor) await this.writeCursor([]);
    this.leaseUntil = 0;
    await this.feed.store.releaseLease(this.group, this.feed.owner);
  }

  /** Moves feed_cursors to this runner's cursor with the failures met; false when the lease is gone. */
  private async writeCursor(failures: readonly FailureRecord[]): Promise<boolean> {
    const now = this.options.now();
    if (!(await this.feed.store.advance(this.group, this.feed.owner, iso(now), this.cursor, failures))) {
      this.leaseUntil = 0;
      return false;
    }
    this.writtenCursor = this.cursor;
    this.writtenAt = now;
    this.feed.markStatsStale();
    return true;
  }

  /** Runs the group's work now, or right after the run in progress. */
  kick(): void {
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.work().finally(() => (this.running = undefined));
  }

  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  private async work(): Promise<void> {
    do {
      this.again = false;
      try {
        while (this.feed.running && (await this.workOnce()));
      } catch (error) {
        // A database error: the next poll tries again.
        this.options.onError(error, { group: this.group });
        return;
      }
    } while (this.again && this.feed.running);
  }

  /** One batch of due retries and one of new changes; true when there may be more at once. */
  private async workOnce(): Promise<boolean> {
    if (!this.holdsLease()) return false;
    let more = false;
    if (this.nextRetryAt <= this.options.now()) more = (await this.retryDue()) || more;
    const horizon = this.feed.visibleHorizon();
    if (horizon > this.cursor && this.holdsLease()) more = (await this.handleNew(horizon)) || more;
    // A cursor left unwritten by handleNew is written once it is old enough.
    if (!more && this.cursor > this.writtenCursor && this.options.now() - this.writtenAt >= this.options.cursorWriteMs && this.holdsLease()) await this.writeCursor([]);
    return more;
  }

  private async handleNew(horizon: number): Promise<boolean> {
    const { batchSize } = this.options;
    // Nothing of this group's types was appended up to the horizon (the horizon saw every
    // seq's type on its way): the cursor moves without a read.
    const changes = this.feed.typesSeenAfter(this.cursor, this.consumer.types) ? await this.feed.store.readRange(this.cursor, horizon, batchSize, this.consumer.types) : [];
    const failures: FailureRecord[] = [];
    let handledUpTo = this.cursor;
    if (changes.length > 1 && this.consumer.handleBatch && this.holdsLease() && (await this.attemptBatch(changes))) {
      handledUpTo = changes.at(-1)!.seq;
    } else {
      for (const change of changes) {
        // A lost lease (another runner took over after a stall): stop; the cursor write below is fenced anyway.
        if (!this.holdsLease()) break;
        const error = await this.attempt(change);
        if (error !== undefined) failures.push(this.failureAfter(change.seq, 0, error));
        handledUpTo = change.seq;
      }
    }
    // A full batch ends at its last change; a short one covers everything up to the horizon
    // (the changes of other types in between included).
    const complete = changes.length < batchSize && handledUpTo === (changes.at(-1)?.seq ?? this.cursor);
    const upTo = complete ? horizon : handledUpTo;
    if (upTo <= this.cursor) return false;
    this.cursor = upTo;
    // A failure is written with the cursor move at once (its retry depends on it); a plain
    // move may wait a little (cursorWriteMs), so that a steady stream does not write per poll.
    const due = failures.length > 0 || this.options.now() - this.writtenAt >= this.options.cursorWriteMs;
    if (due && !(await this.writeCursor(failures))) return false;
    for (const failure of failures) if (failure.nextAttemptAt) this.nextRetryAt = Math.min(this.nextRetryAt, Date.parse(failure.nextAttemptAt));
    return !complete;
  }

  private async retryDue(): Promise<boolean> {
    const due = await this.feed.store.dueRetries(this.group, iso(this.options.now()), this.options.batchSize);
    const changes = new Map((await this.feed.store.readSeqs(due.map((failure) => failure.seq))).map((change) => [change.seq, change]));
    for (const failure of due) {
      if (!this.holdsLease()) return false;
      const change = changes.get(failure.seq);
      // Purged meanwhile (an operator's doing): nothing left to hand over.
      const error = change ? await this.attempt(change) : undefined;
      const outcome = error === undefined ? undefined : this.failureAfter(failure.seq, failure.attempts, error);
      if (!(await this.feed.store.settleRetry(this.group, this.feed.owner, iso(this.options.now()), failure.seq, outcome))) {
        this.leaseUntil = 0;
        return false;
      }
    }
    this.nextRetryAt = msOf(await this.feed.store.nextRetryAt(this.group));
    if (due.length > 0) this.feed.markStatsStale();
    return due.length === this.options.batchSize;
  }

  /** Hands a read's changes over at once; false when the batch threw (each is then handed over alone). */
  private async attemptBatch(changes: readonly FeedChange[]): Promise<boolean> {
    try {
      await this.consumer.handleBatch!(changes);
      this.counters.handled += changes.length;
      return true;
    } catch (error) {
      if (!(error instanceof RetryLater)) this.options.onError(error, { group: this.group, seq: changes[0]!.seq });
      return false;
    }
  }

  /** Hands one change over; the error it threw, or undefined. */
  private async attempt(change: FeedChange): Promise<unknown> {
    try {
      await this.consumer.handle(change);
      this.counters.handled += 1;
      return undefined;
    } catch (error) {
      if (!(error instanceof RetryLater)) this.options.onError(error, { group: this.group, seq: change.seq });
      return error ?? new Error('handler threw undefined');
    }
  }

  private failureAfter(seq: number, previousAttempts: number, error: unknown): FailureRecord {
    const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    // "Not yet" is no failed attempt.
    if (error instanceof RetryLater) return { seq, status: 'retrying', attempts: previousAttempts, nextAttemptAt: iso(this.options.now() + error.delayMs), error: message };
    const attempts = previousAttempts + 1;
    const maxAttempts = Math.max(1, this.consumer.retry?.maxAttempts ?? this.options.maxAttempts);
    const delayMs = this.consumer.retry?.delayMs ?? this.options.retryDelayMs;
    const dead = attempts >= maxAttempts;
    if (dead) this.counters.deadLettered += 1;
    else this.counters.retries += 1;
    return { seq, status: dead ? 'dead' : 'retrying', attempts, nextAttemptAt: dead ? null : iso(this.options.now() + delayMs(attempts)), error: message };
  }
}

/**
 * The highest seq H such that every change at or below it is visible to this process or
 * never will be: the point up to which a cursor may move without skipping a change.
 *
 * The PostgreSQL bigserial caveat: a seq is taken at the insert and becomes visible at the
 * commit, so seq 41 can appear after 42 (its transaction was slower), or never (rolled
 * back: sequences do not roll back; or purged). A cursor moved to 42 while 41 was missing
 * would skip 41 for good, so the horizon stops below a missing seq until it is explained.
 * When it first meets one, it notes the highest seq it just read (V) and a snapshot of the
 * transactions running (pg_current_snapshot). Every missing seq below V was taken before V
 * was read, so by a transaction that was running at the snapshot or had ended. Once every
 * one of those has ended (the current xmin has passed the snapshot's xmax) and at least
 * `settleMs` have passed (a writer between taking its seq and its first row lock), every
 * seq up to V is final: those that committed are visible now and are handed over in their
 * place, the others are passed, all at once. A long transaction thus holds the consumers
 * back until it ends rather than losing its change. SQLite has one writer: a missing seq
 * below a visible one is final at once.
 */
class FeedHorizon {
  value = 0;
  /** every seq at or below this is visible or never will be (a probe explained them) */
  private finalUpTo = 0;
  private probe: { upTo: number; takenAt: number; snapshot: SnapshotToken | null } | undefined;
  /** where the horizon started: it has seen the type of every seq passed above it */
  private startedAt = 0;
  /** the highest seq passed of each type */
  private readonly lastSeqOfType = new Map<string, number>();
  private static readonly READ = 1000;
  private readonly store: ChangeFeedStore;
  private readonly settleMs: number;
  private readonly now: () => number;

  constructor(store: ChangeFeedStore, settleMs: number, now: () => number) {
    this.store = store;
    this.settleMs = settleMs;
    this.now = now;
  }

  startAt(seq: number): void {
    this.value = Number.isFinite(seq) ? seq : 0;
    this.startedAt = this.value;
    this.lastSeqOfType.clear();
    this.finalUpTo = this.value;
    this.probe = undefined;
  }

  /**
   * Whether a change of one of `types` (any type when absent) with a seq above `afterSeq`
   * may be at or below the horizon. Every seq the horizon passes, it passes with its type;
   * below where it started it knows nothing, so it answers yes there.
   */
  typesSeenAfter(afterSeq: number, types: readonly string[] | undefined): boolean {
    if (!types || afterSeq < this.startedAt) return true;
    return types.some((type) => (this.lastSeqOfType.get(type) ?? 0) > afterSeq);
  }

  async advance(): Promise<void> {
    for (;;) {
      const rows = await this.store.seqsAfter(this.value, FeedHorizon.READ);
      let index = 0;
      for (; index < rows.length; index += 1) {
        const { seq: next, type } = rows[index]!;
        // Contiguous, or the seqs missing in between are final.
        if (next !== this.value + 1 && next - 1 > this.finalUpTo) break;
        this.value = next;
        this.lastSeqOfType.set(type, next);
      }
      const seqs = rows.map((row) => row.seq);
      if (index === seqs.length) {
        if (seqs.length < FeedHorizon.READ) return;
        continue;
      }
      // Missing seqs above finalUpTo, then seqs[index] visible.
      if (this.store.dialect !== 'postgres') {
        this.finalUpTo = seqs.at(-1)!;
        continue;
      }
      if (!this.probe) {
        this.probe = { upTo: seqs.at(-1)!, takenAt: this.now(), snapshot: await this.store.snapshot() };
        return;
      }
      if (this.now() - this.probe.takenAt < this.settleMs || !(await this.store.allFinishedSince(this.probe.snapshot))) return;
      // Everything up to the probe's seq is final now; read again and pass what is missing.
      this.finalUpTo = Math.max(this.finalUpTo, this.probe.upTo);
      this.probe = undefined;
    }
  }
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

function msOf(isoTime: string | undefined): number {
  return isoTime === undefined ? Infinity : Date.parse(isoTime);
}

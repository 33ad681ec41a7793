/**
 * The bandwidth cap: a token bucket over the bytes written to the cloud, shared by every
 * forwarding request. Tokens refill continuously at `bytesPerSecond`; the bucket holds at
 * most `burstBytes`, so the rate over any window longer than a few chunks is the cap.
 */
/** Time as the bucket sees it: the real clock, or a test's, which need not wait. */
export interface BucketClock {
  /** milliseconds, monotonic */
  now(): number;
  sleep(ms: number): Promise<void>;
}

const REAL_CLOCK: BucketClock = {
  now: () => performance.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

export class TokenBucket {
  private tokens: number;
  private last: number;
  private waiting: Promise<void> = Promise.resolve();

  readonly bytesPerSecond: number;
  readonly burstBytes: number;
  private readonly clock: BucketClock;
  constructor(
    bytesPerSecond: number,
    burstBytes: number = Math.max(64 * 1024, Math.round(bytesPerSecond / 20)),
    clock: BucketClock = REAL_CLOCK,
  ) {
    this.bytesPerSecond = bytesPerSecond;
    this.burstBytes = burstBytes;
    this.clock = clock;
    this.tokens = this.burstBytes;
    this.last = clock.now();
  }

  /** Resolves when `bytes` may be sent; callers are served in order. */
  take(bytes: number): Promise<void> {
    const turn = this.waiting.then(() => this.takeNow(bytes));
    this.waiting = turn.catch(() => undefined);
    return turn;
  }

  private async takeNow(bytes: number): Promise<void> {
    this.refill();
    this.tokens -= bytes;
    if (this.tokens >= 0) return;
    // In debt: wait until the refill has paid it back.
    const waitMs = (-this.tokens / this.bytesPerSecond) * 1000;
    await this.clock.sleep(waitMs);
    this.refill();
  }

  private refill(): void {
    const t = this.clock.now();
    this.tokens = Math.min(this.burstBytes, this.tokens + ((t - this.last) / 1000) * this.bytesPerSecond);
    this.last = t;
  }
}

/**
 * The bandwidth cap: a token bucket over the bytes written to the cloud, shared by every
 * forwarding request. Tokens refill continuously at `bytesPerSecond`; the bucket holds at
 * most `burstBytes`, so the rate over any window longer than a few chunks is the cap.
 */
export class TokenBucket {
  private tokens: number;
  private last: number;
  private waiting: Promise<void> = Promise.resolve();

  readonly bytesPerSecond: number;
  readonly burstBytes: number;
  private readonly now: () => number;
  constructor(
    bytesPerSecond: number,
    burstBytes: number = Math.max(64 * 1024, Math.round(bytesPerSecond / 20)),
    now: () => number = () => performance.now(),
  ) {
    this.bytesPerSecond = bytesPerSecond;
    this.burstBytes = burstBytes;
    this.now = now;
    this.tokens = this.burstBytes;
    this.last = this.now();
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
    await new Promise((resolve) => setTimeout(resolve, waitMs));
    this.refill();
  }

  private refill(): void {
    const t = this.now();
    this.tokens = Math.min(this.burstBytes, this.tokens + ((t - this.last) / 1000) * this.bytesPerSecond);
    this.last = t;
  }
}

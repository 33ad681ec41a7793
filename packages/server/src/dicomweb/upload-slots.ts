/**
 * Bounded concurrent uploads (issue 13, item 7): at most `concurrent` STOW-RS requests read
 * and store their bodies at once; up to `queued` more wait for a slot without their bodies
 * being read (TCP holds the sender back); beyond that a request is refused at once with 503
 * and Retry-After, before any of its body is read. Queueing first, because the senders are
 * modalities and gateways that send a few requests in parallel (the benchmark sends 4) and
 * should not have to retry for a short burst; the refusal, because a burst of hundreds must
 * not pile up sockets and memory without end.
 */
import { YunyingError } from '../errors.ts';

/** Default of YUNYING_STOW_CONCURRENCY. */
export const DEFAULT_STOW_CONCURRENCY = 4;
/** Default of YUNYING_STOW_QUEUE. */
export const DEFAULT_STOW_QUEUE = 64;
/** What a refused sender is told to wait. */
const RETRY_AFTER_SECONDS = 5;

export class UploadSlots {
  private readonly concurrent: number;
  private readonly queued: number;
  private running = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(concurrent: number, queued: number) {
    this.concurrent = Math.max(1, concurrent);
    this.queued = Math.max(0, queued);
  }

  /** Resolves with the release of a slot once one is free; throws UPLOADS_BUSY (503) when the queue is full. */
  async acquire(): Promise<() => void> {
    if (this.running >= this.concurrent) {
      if (this.waiting.length >= this.queued) {
        throw new YunyingError('UPLOADS_BUSY', `${this.running} uploads are being stored and ${this.waiting.length} wait; try again shortly`, { retryAfterSeconds: RETRY_AFTER_SECONDS });
      }
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    } else {
      this.running++;
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiting.shift();
      if (next) next(); // the slot passes on: running stays the same
      else this.running--;
    };
  }

  get stats(): { running: number; waiting: number } {
    return { running: this.running, waiting: this.waiting.length };
  }
}

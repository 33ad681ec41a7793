import type { AccessStore } from '../store/access-store.ts';

/** One limit an attempt counts against: an account, a client address, a cloud-film link. */
export interface ThrottleRule {
  key: string;
  /** attempts per window, in the database (every server process together) */
  limit: number;
  /** verifications of this key running at once in this process; more are refused at once */
  maxInFlight: number;
  /** after a right answer: forget the key's attempts (an account, a link) or give back this one (an address) */
  onSuccess: 'clear' | 'release';
}

/**
 * Guesses checked under a throttle that parallel requests cannot outrun: each attempt takes
 * a slot in the database (AccessStore.reserveAttempt, one atomic statement) before anything
 * is verified, and a process runs only a few verifications per key at once, so a burst is
 * refused in microseconds instead of queueing hashes. A wrong answer keeps its slot; a right
 * one, or a verification that never ran (hashing busy), gives it back.
 */
export class AttemptThrottle {
  private readonly inFlight = new Map<string, number>();
  private reservations = 0;

  private readonly store: AccessStore;
  private readonly windowMs: number;
  constructor(
    store: AccessStore,
    windowMs: number,
  ) {
    this.store = store;
    this.windowMs = windowMs;
  }

  /**
   * Runs `verify` when every rule has room, and returns what it answered; otherwise throws
   * `refuse(seconds until a retry may succeed)` without verifying.
   */
  async run(rules: readonly ThrottleRule[], refuse: (retryAfterSeconds: number) => Error, verify: () => Promise<boolean>): Promise<boolean> {
    // Checked and taken with no await in between: one process's callers cannot interleave here.
    if (rules.some((rule) => (this.inFlight.get(rule.key) ?? 0) >= rule.maxInFlight)) throw refuse(1);
    for (const rule of rules) this.inFlight.set(rule.key, (this.inFlight.get(rule.key) ?? 0) + 1);
    try {
      await this.reserveAll(rules, refuse);
      let right: boolean;
      try {
        right = await verify();
      } catch (error) {
        await Promise.all(rules.map((rule) => this.store.releaseAttempt(rule.key)));
        throw error;
      }
      if (right) await Promise.all(rules.map((rule) => (rule.onSuccess === 'clear' ? this.store.clearAttempts(rule.key) : this.store.releaseAttempt(rule.key))));
      return right;
    } finally {
      for (const rule of rules) {
        const left = (this.inFlight.get(rule.key) ?? 1) - 1;
        if (left > 0) this.inFlight.set(rule.key, left);
        else this.inFlight.delete(rule.key);
      }
    }
  }

  /** Attempts of `key` in its window and the seconds until it ends (for "the limit is reached now"). */
  attemptsOf(key: string): Promise<{ attempts: number; retryAfterSeconds: number }> {
    return this.store.attemptsInWindow(key, this.windowMs);
  }

  clear(key: string): Promise<void> {
    return this.store.clearAttempts(key);
  }

  private async reserveAll(rules: readonly ThrottleRule[], refuse: (retryAfterSeconds: number) => Error): Promise<void> {
    const taken: string[] = [];
    for (const rule of rules) {
      const result = await this.store.reserveAttempt(rule.key, rule.limit, this.windowMs);
      if (!result.reserved) {
        await Promise.all(taken.map((key) => this.store.releaseAttempt(key)));
        throw refuse(result.retryAfterSeconds);
      }
      taken.push(rule.key);
    }
    // Every unknown user name a flood tries leaves a row: drop ended windows now and then.
    if (++this.reservations % 1000 === 0) await this.store.purgeAttempts(new Date(Date.now() - this.windowMs).toISOString());
  }
}

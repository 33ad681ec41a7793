/**
 * scrypt off the event loop and off libuv's thread pool: a few worker threads of its own.
 * Node's asynchronous scrypt runs on libuv's pool, the same four to sixteen threads every
 * file read, write and fsync waits for; a flood of logins with unknown names (each still
 * hashed, so that timing does not reveal which names exist) then starved ingest: a C-STORE
 * took 22 s instead of 60 ms (bench/login-flood.ts).
 *
 * Bounded: at most `threads` hashes run at once, at most `maxQueued` wait; beyond that a
 * request is refused at once with 503 PASSWORD_HASHING_BUSY and Retry-After, before any
 * work. Workers start on first use, hold the process open only while hashing, and a worker
 * that dies fails only its own job.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { YunyingError } from '../errors.ts';

export interface ScryptJob {
  password: string;
  salt: Buffer;
  keyLength: number;
  N: number;
  r: number;
  p: number;
  maxmem: number;
}

export interface ScryptPoolOptions {
  /** worker threads [available cores - 1, at least 1, at most 2: each holds 128 MiB while hashing at N = 2^17] */
  threads?: number;
  /** hashes waiting for a thread before new ones are refused [16] */
  maxQueued?: number;
}

interface Queued {
  id: number;
  job: ScryptJob;
  resolve(key: Buffer): void;
  reject(error: Error): void;
}

interface Slot {
  worker: Worker;
  current?: Queued;
}

type Reply = { id: number; key: Uint8Array; error?: undefined } | { id: number; error: string; key?: undefined };

export const hashingBusy = (): YunyingError =>
  new YunyingError('PASSWORD_HASHING_BUSY', 'too many logins are being checked right now; try again shortly', { retryAfterSeconds: 2 });

export class ScryptPool {
  readonly threads: number;
  readonly maxQueued: number;
  private readonly slots: Slot[] = [];
  private readonly queue: Queued[] = [];
  private nextId = 1;

  constructor(options: ScryptPoolOptions = {}) {
    this.threads = Math.max(1, options.threads ?? Math.min(2, availableParallelism() - 1));
    this.maxQueued = Math.max(0, options.maxQueued ?? 16);
  }

  derive(job: ScryptJob): Promise<Buffer> {
    const idle = this.slots.some((slot) => !slot.current) || this.slots.length < this.threads;
    if (!idle && this.queue.length >= this.maxQueued) return Promise.reject(hashingBusy());
    return new Promise<Buffer>((resolve, reject) => {
      this.queue.push({ id: this.nextId++, job, resolve, reject });
      this.dispatch();
    });
  }

  async close(): Promise<void> {
    for (const queued of this.queue.splice(0)) queued.reject(new Error('the password hashing pool is closed'));
    await Promise.all(this.slots.splice(0).map((slot) => slot.worker.terminate()));
  }

  private dispatch(): void {
    while (this.queue.length > 0) {
      let slot = this.slots.find((s) => !s.current);
      if (!slot && this.slots.length < this.threads) slot = this.spawn();
      if (!slot) return;
      const queued = this.queue.shift()!;
      slot.current = queued;
      slot.worker.ref(); // a CLI awaiting a hash must not exit before it arrives
      slot.worker.postMessage({ id: queued.id, ...queued.job });
    }
  }

  private spawn(): Slot {
    const worker = new Worker(new URL('./scrypt-worker.mjs', import.meta.url));
    worker.unref();
    const slot: Slot = { worker };
    worker.on('message', (reply: Reply) => this.finish(slot, reply));
    worker.on('error', (error) => this.retire(slot, new YunyingError('PASSWORD_HASHING_FAILED', `the hashing worker failed: ${error.message}`)));
    worker.on('exit', () => this.retire(slot, new YunyingError('PASSWORD_HASHING_FAILED', 'the hashing worker stopped')));
    this.slots.push(slot);
    return slot;
  }

  private finish(slot: Slot, reply: Reply): void {
    const queued = slot.current;
    if (!queued || queued.id !== reply.id) return;
    slot.current = undefined;
    slot.worker.unref();
    if (reply.error !== undefined) queued.reject(new Error(`scrypt: ${reply.error}`));
    else queued.resolve(Buffer.from(reply.key.buffer, reply.key.byteOffset, reply.key.byteLength));
    this.dispatch();
  }

  private retire(slot: Slot, error: Error): void {
    const index = this.slots.indexOf(slot);
    if (index >= 0) this.slots.splice(index, 1);
    slot.current?.reject(error);
    slot.current = undefined;
    slot.worker.removeAllListeners('exit');
    void slot.worker.terminate().catch(() => undefined);
    this.dispatch();
  }
}

/**
 * Decoding compressed frames off the event loop: a small pool of worker threads running
 * codecs.ts (WebAssembly / JavaScript codecs; a 2000×2000 JPEG 2000 takes 100-300 ms).
 *
 * Bounded: at most `size` frames decode at once (one per worker), at most `maxQueued` wait
 * (beyond that the request answers 503 DECODER_BUSY), a frame is refused before decoding when
 * its decoded size would exceed `maxFrameBytes`, and a worker that takes longer than
 * `timeoutMs` or whose WebAssembly memory has grown past `maxWorkerMemoryBytes` is replaced.
 * A worker that dies takes only its own request with it. Workers start on first use and do
 * not keep the process alive.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { YunyingError } from '../errors.ts';
import type { DecodedFrame, DecodeRequest, EncodedFrame, EncodeRequest } from './codecs.ts';

export interface FrameDecoderOptions {
  /** worker threads [available cores - 1, at least 1, at most 4] */
  size?: number;
  /** requests waiting for a worker before new ones are refused [64] */
  maxQueued?: number;
  /** per frame [30 s] */
  timeoutMs?: number;
  /** largest decoded frame accepted [512 MiB] */
  maxFrameBytes?: number;
  /** a worker whose codecs hold more WebAssembly memory than this after a frame is replaced [1 GiB] */
  maxWorkerMemoryBytes?: number;
}

export interface FrameDecoder {
  decode(request: DecodeRequest, expectedBytes: number): Promise<DecodedFrame>;
  /** lossless JPEG 2000 / HTJ2K of one native frame, checked by decoding it back (compression on ingest) */
  encode?(request: EncodeRequest): Promise<EncodedFrame>;
  close(): Promise<void>;
}

interface Job {
  id: number;
  message: { request: DecodeRequest } | { encode: EncodeRequest };
  resolve(result: DecodedFrame | EncodedFrame): void;
  reject(error: Error): void;
}

interface Slot { worker: Worker; job?: Job; timer?: NodeJS.Timeout }

type Reply = ({ frame: DecodedFrame; encoded?: undefined; error?: undefined } | { encoded: EncodedFrame; frame?: undefined; error?: undefined } | { error: string; frame?: undefined; encoded?: undefined }) & { id: number; memory: number };

export const frameNotDecodable = (message: string): YunyingError => new YunyingError('FRAME_NOT_DECODABLE', message);

export class FrameDecoderPool implements FrameDecoder {
  private readonly size: number;
  private readonly maxQueued: number;
  private readonly timeoutMs: number;
  private readonly maxFrameBytes: number;
  private readonly maxWorkerMemoryBytes: number;
  private readonly slots: Slot[] = [];
  private readonly queue: Job[] = [];
  private nextId = 1;
  private closed = false;

  constructor(options: FrameDecoderOptions = {}) {
    this.size = Math.max(1, options.size ?? Math.min(4, availableParallelism() - 1));
    this.maxQueued = options.maxQueued ?? 64;
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.maxFrameBytes = options.maxFrameBytes ?? 512 * 1024 * 1024;
    this.maxWorkerMemoryBytes = options.maxWorkerMemoryBytes ?? 1024 * 1024 * 1024;
  }

  decode(request: DecodeRequest, expectedBytes: number): Promise<DecodedFrame> {
    if (expectedBytes > this.maxFrameBytes) {
      return Promise.reject(frameNotDecodable(`the frame would decode to ${expectedBytes} bytes, more than the ${this.maxFrameBytes} this server decodes`));
    }
    return this.submit<DecodedFrame>({ request });
  }

  encode(request: EncodeRequest): Promise<EncodedFrame> {
    if (request.frame.length > this.maxFrameBytes) return Promise.reject(frameNotDecodable(`the frame of ${request.frame.length} bytes is larger than the ${this.maxFrameBytes} this server encodes`));
    return this.submit<EncodedFrame>({ encode: request });
  }

  private submit<T extends DecodedFrame | EncodedFrame>(message: Job['message']): Promise<T> {
    if (this.closed) return Promise.reject(new Error('the frame decoder is closed'));
    if (this.queue.length >= this.maxQueued) {
      return Promise.reject(new YunyingError('DECODER_BUSY', 'too many frames are waiting to be decoded; retry shortly'));
    }
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ id: this.nextId++, message, resolve: resolve as (result: DecodedFrame | EncodedFrame) => void, reject });
      this.dispatch();
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const job of this.queue.splice(0)) job.reject(new Error('the frame decoder is closed'));
    await Promise.all(this.slots.splice(0).map((slot) => this.retire(slot, new Error('the frame decoder is closed'))));
  }

  private dispatch(): void {
    while (this.queue.length > 0) {
      let slot = this.slots.find((s) => !s.job);
      if (!slot && this.slots.length < this.size) slot = this.spawn();
      if (!slot) return;
      const job = this.queue.shift()!;
      slot.job = job;
      slot.timer = setTimeout(() => void this.retire(slot, frameNotDecodable(`decoding the frame took longer than ${this.timeoutMs} ms`)), this.timeoutMs);
      slot.worker.ref();
      // the compressed bytes are copied, not transferred: they are a view on the cached instance
      slot.worker.postMessage({ id: job.id, ...job.message });
    }
  }

  private spawn(): Slot {
    // the .ts itself: Node 24 strips its types in the worker thread as in the main one
    const worker = new Worker(new URL('./frame-decoder-worker.ts', import.meta.url));
    worker.unref();
    const slot: Slot = { worker };
    worker.on('message', (reply: Reply) => this.finish(slot, reply));
    worker.on('error', (error) => void this.retire(slot, new YunyingError('DECODER_FAILED', `the decode worker failed: ${error.message}`)));
    worker.on('exit', () => void this.retire(slot, new YunyingError('DECODER_FAILED', 'the decode worker stopped')));
    this.slots.push(slot);
    return slot;
  }

  private finish(slot: Slot, reply: Reply): void {
    const job = slot.job;
    if (!job || job.id !== reply.id) return;
    clearTimeout(slot.timer);
    slot.job = undefined;
    slot.worker.unref();
    if (reply.error !== undefined) job.reject(frameNotDecodable(reply.error));
    else job.resolve(reply.frame ?? reply.encoded);
    if (reply.memory > this.maxWorkerMemoryBytes) void this.retire(slot, new Error('unused'));
    else this.dispatch();
  }

  /** Ends a worker (timed out, failed or closing) and fails the request it held. */
  private async retire(slot: Slot, error: Error): Promise<void> {
    const index = this.slots.indexOf(slot);
    if (index >= 0) this.slots.splice(index, 1);
    clearTimeout(slot.timer);
    const job = slot.job;
    slot.job = undefined;
    job?.reject(error);
    slot.worker.removeAllListeners('exit');
    await slot.worker.terminate().catch(() => undefined);
    if (!this.closed) this.dispatch();
  }
}

let shared: FrameDecoderPool | undefined;

/** The process's pool, made on first use (like sharp's and libuv's thread pools, one per process). */
export function sharedFrameDecoder(): FrameDecoder {
  shared ??= new FrameDecoderPool();
  return shared;
}

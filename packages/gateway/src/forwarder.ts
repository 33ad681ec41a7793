/**
 * Forwards the durable queue to the cloud: studies in parallel (up to `concurrency`), the
 * instances of one study in arrival order, one STOW-RS request per batch with the next batch
 * of the study on the wire while the previous answer is pending, exponential
 * backoff with jitter per study, and a probe that resumes every study at once when an
 * unreachable cloud answers again. Everything it knows across restarts is in the queue.
 */
import http from 'node:http';
import https from 'node:https';
import type { Logger } from 'pino';
import type { GatewayQueue, QueueRow } from './queue-store.ts';
import { ForwardError, probeCloud, startStow, type StowRequest, type StowResult, type StowTarget } from './stow-client.ts';
import { TokenBucket } from './token-bucket.ts';

export interface ForwarderOptions {
  queue: GatewayQueue;
  readBlob(blobKey: string): Promise<Buffer>;
  cloudUrl: string;
  username: string;
  password: string;
  concurrency: number;
  batchMaxBytes: number;
  batchMaxInstances: number;
  retryMinMs: number;
  retryMaxMs: number;
  requestTimeoutMs: number;
  maxBytesPerSecond: number;
  logger: Logger;
}

export interface ForwarderStatus {
  cloud: { url: string; reachable: boolean | null; lastContactAt: string | null; lastFailureAt: string | null };
  lastError: { message: string; at: string; studyInstanceUid?: string } | null;
  activeStudies: string[];
  throughput: { windowSeconds: number; instancesPerSecond: number; bytesPerSecond: number; megabitsPerSecond: number; sentInstances: number; sentBytes: number; wireBytes: number };
  bandwidthCapBytesPerSecond: number | null;
}

const WINDOW_MS = 60_000;
/** requests of one study in flight at once: one being answered, the next on the wire */
export const PIPELINE_DEPTH = 2;

interface BatchItem {
  row: QueueRow;
  bytes: Buffer;
}

interface InFlightBatch {
  items: BatchItem[];
  request: StowRequest;
}

interface Trouble {
  message: string;
  transport: boolean;
}

export class Forwarder {
  private readonly active = new Map<string, Promise<void>>();
  private readonly agent: http.Agent;
  private readonly bucket?: TokenBucket;
  private retryTimer?: NodeJS.Timeout;
  private probeTimer?: NodeJS.Timeout;
  private healthTimer?: NodeJS.Timeout;
  private stopped = false;
  private scheduling?: Promise<void>;
  private rescheduled = false;
  private reachable: boolean | null = null;
  private lastContactAt: number | null = null;
  private lastFailureAt: number | null = null;
  private lastError: ForwarderStatus['lastError'] = null;
  private readonly acknowledged: { at: number; instances: number; bytes: number }[] = [];
  private sentInstances = 0;
  private sentBytes = 0;
  private wireBytes = 0;
  /** resolves whenever a batch is acknowledged or the queue drains (tests, bench) */
  private readonly listeners = new Set<() => void>();

  private readonly options: ForwarderOptions;
  constructor(options: ForwarderOptions) {
    this.options = options;
    const Agent = options.cloudUrl.startsWith('https:') ? https.Agent : http.Agent;
    this.agent = new Agent({ keepAlive: true, maxSockets: options.concurrency * PIPELINE_DEPTH + 1 });
    if (options.maxBytesPerSecond > 0) this.bucket = new TokenBucket(options.maxBytesPerSecond);
  }

  start(): void {
    this.wake();
    // Reachability for the status page even while nothing is queued.
    this.healthTimer = setInterval(() => void this.probe(), 15_000);
    this.healthTimer.unref();
    void this.probe();
  }

  /** Something was queued or a backoff ended: start what can start. */
  wake(): void {
    if (this.stopped) return;
    if (this.scheduling) {
      this.rescheduled = true;
      return;
    }
    this.scheduling = this.schedule()
      .catch((error: unknown) => this.options.logger.error({ err: error }, 'forwarding scheduler failed'))
      .finally(() => {
        this.scheduling = undefined;
        if (this.rescheduled) {
          this.rescheduled = false;
          this.wake();
        }
      });
  }

  private async schedule(): Promise<void> {
    const free = this.options.concurrency - this.active.size;
    if (free > 0) {
      const studies = await this.options.queue.readyStudies([...this.active.keys()], free);
      for (const study of studies) {
        if (this.stopped) return;
        const run = this.forwardStudy(study).finally(() => {
          this.active.delete(study);
          this.wake();
        });
        this.active.set(study, run);
      }
    }
    if (this.active.size === 0) this.notify();
    await this.armRetryTimer();
  }

  private async armRetryTimer(): Promise<void> {
    clearTimeout(this.retryTimer);
    const at = await this.options.queue.earliestRetryAt();
    if (at === undefined || this.stopped) return;
    this.retryTimer = setTimeout(() => this.wake(), Math.max(10, at - Date.now() + 5));
    this.retryTimer.unref();
  }

  private target(): StowTarget {
    return {
      cloudUrl: this.options.cloudUrl,
      username: this.options.username,
      password: this.options.password,
      timeoutMs: this.options.requestTimeoutMs,
      agent: this.agent,
      bucket: this.bucket,
      onBytes: (n) => (this.wireBytes += n),
    };
  }

  /**
   * One study, batch after batch, until its queue is empty or it must back off. Up to
   * PIPELINE_DEPTH requests of the study are in flight: the next batch is read while the
   * previous one is on the wire, and its body starts once the previous body is fully written
   * (so the bytes reach the cloud in batch order) while the previous answer is still pending.
   * Acknowledgements are applied per answer, oldest request first; after a failed request
   * no new batch starts, the ones in flight are settled (their acknowledgements kept) and the
   * study backs off, so the failed rows, still pending, go again from the start of the study.
   */
  private async forwardStudy(studyInstanceUid: string): Promise<void> {
    const inFlight: InFlightBatch[] = [];
    let cursor = 0;
    let trouble: Trouble | undefined;
    try {
      for (;;) {
        const prepared = trouble || this.stopped ? undefined : await this.prepareBatch(studyInstanceUid, cursor);
        if (prepared) {
          cursor = prepared.lastSeq;
          if (prepared.items.length > 0) {
            const previous = inFlight.at(-1);
            if (previous) await previous.request.bodySent;
            inFlight.push({ items: prepared.items, request: startStow(this.target(), prepared.items.map((i) => i.bytes)) });
          }
          if (inFlight.length < PIPELINE_DEPTH) continue;
        }
        const oldest = inFlight.shift();
        if (!oldest) break;
        // (not `trouble ??= await …`: that would skip settling once trouble is set)
        const problem = await this.settle(studyInstanceUid, oldest);
        trouble ??= problem;
      }
    } catch (error) {
      // Only local trouble gets here (the queue's database): settle what is in flight first.
      this.options.logger.error({ err: error, studyInstanceUid }, 'forwarding failed');
      for (const batch of inFlight.splice(0)) await this.settle(studyInstanceUid, batch).catch(() => undefined);
      trouble ??= { message: `forwarding failed: ${(error as Error).message}`, transport: false };
    }
    if (this.stopped) return;
    if (trouble) await this.backOff(studyInstanceUid, trouble.message, trouble.transport);
    else await this.options.queue.clearBackoff(studyInstanceUid);
  }

  /** The next pending rows of the study after `cursor`, with their cached bytes; undefined when there are none. */
  private async prepareBatch(studyInstanceUid: string, cursor: number): Promise<{ items: BatchItem[]; lastSeq: number } | undefined> {
    const { queue } = this.options;
    const batch = await queue.nextBatch(studyInstanceUid, this.options.batchMaxBytes, this.options.batchMaxInstances, cursor);
    if (batch.length === 0) return undefined;
    const items: BatchItem[] = [];
    for (const row of batch) {
      try {
        items.push({ row, bytes: await this.options.readBlob(row.blob_key) });
      } catch (error) {
        await queue.markFailed(row, `cached object unreadable: ${(error as Error).message}`);
        this.recordError(`cached object ${row.sop_instance_uid} unreadable: ${(error as Error).message}`, studyInstanceUid);
      }
    }
    return { items, lastSeq: Number(batch.at(-1)!.seq) };
  }

  /** Waits for one request's answer and applies it: sent only for what the cloud confirmed. */
  private async settle(studyInstanceUid: string, batch: InFlightBatch): Promise<Trouble | undefined> {
    const { queue } = this.options;
    let result: StowResult;
    try {
      result = await batch.request.result;
    } catch (error) {
      const forward = error instanceof ForwardError ? error : undefined;
      if (!forward) this.options.logger.error({ err: error, studyInstanceUid }, 'forwarding failed');
      if (forward?.transport) this.markUnreachable(forward.message, studyInstanceUid);
      else if (forward?.httpStatus !== undefined) this.markReachable();
      return { message: forward?.message ?? `forwarding failed: ${(error as Error).message}`, transport: forward?.transport ?? false };
    }
    this.markReachable();
    const sent: QueueRow[] = [];
    const retry: QueueRow[] = [];
    let bytes = 0;
    for (const { row } of batch.items) {
      const outcome = result.outcomes.get(row.sop_instance_uid);
      if (outcome?.kind === 'ok') {
        sent.push(row);
        bytes += Number(row.size);
      } else if (outcome?.kind === 'failed' && outcome.permanent) {
        const message = `the cloud refused ${row.sop_instance_uid}: failure reason 0x${outcome.reason.toString(16).padStart(4, '0')}`;
        await queue.markFailed(row, message);
        this.recordError(message, studyInstanceUid);
      } else retry.push(row);
    }
    await queue.markSent(sent);
    this.countAcknowledged(sent.length, bytes);
    if (retry.length === 0) return undefined;
    const message = `the cloud could not store ${retry.length} instance(s) now (HTTP ${result.httpStatus})`;
    await queue.countAttempt(retry, message);
    return { message, transport: false };
  }

  private async backOff(studyInstanceUid: string, message: string, transport: boolean): Promise<void> {
    this.recordError(message, studyInstanceUid);
    const delay = await this.options.queue.backOff(studyInstanceUid, message, transport, { minMs: this.options.retryMinMs, maxMs: this.options.retryMaxMs });
    this.options.logger.warn({ studyInstanceUid, retryInMs: delay, error: message }, 'forwarding postponed');
  }

  private recordError(message: string, studyInstanceUid?: string): void {
    this.lastError = { message, at: new Date().toISOString(), ...(studyInstanceUid ? { studyInstanceUid } : {}) };
  }

  private markReachable(): void {
    this.lastContactAt = Date.now();
    if (this.reachable !== true) {
      const wasDown = this.reachable === false;
      this.reachable = true;
      clearTimeout(this.probeTimer);
      this.probeTimer = undefined;
      if (wasDown) {
        this.options.logger.info({ cloud: this.options.cloudUrl }, 'cloud reachable again');
        void this.options.queue.clearTransportBackoffs().then(() => this.wake(), () => undefined);
      }
    }
  }

  /** The cloud is unreachable: said at once in the status with why (the study's backoff is recorded once its requests settled). */
  private markUnreachable(message: string, studyInstanceUid?: string): void {
    this.lastFailureAt = Date.now();
    this.recordError(message, studyInstanceUid);
    if (this.reachable !== false) this.options.logger.warn({ cloud: this.options.cloudUrl }, 'cloud unreachable');
    this.reachable = false;
    this.scheduleProbe();
  }

  private scheduleProbe(): void {
    if (this.probeTimer || this.stopped) return;
    const interval = Math.min(5000, Math.max(200, this.options.retryMinMs));
    this.probeTimer = setTimeout(() => {
      this.probeTimer = undefined;
      void this.probe();
    }, interval);
    this.probeTimer.unref();
  }

  private async probe(): Promise<void> {
    if (this.stopped) return;
    const ok = await probeCloud(this.options.cloudUrl, Math.min(10_000, this.options.requestTimeoutMs), this.agent);
    if (this.stopped) return;
    if (ok) this.markReachable();
    else this.markUnreachable(`the cloud does not answer at ${this.options.cloudUrl}`);
  }

  private countAcknowledged(instances: number, bytes: number): void {
    if (instances === 0) return;
    const now = Date.now();
    this.acknowledged.push({ at: now, instances, bytes });
    while (this.acknowledged.length > 0 && this.acknowledged[0]!.at < now - WINDOW_MS) this.acknowledged.shift();
    this.sentInstances += instances;
    this.sentBytes += bytes;
    this.notify();
  }

  private notify(): void {
    for (const listener of [...this.listeners]) listener();
  }

  /** Resolves when `predicate` holds, checked after every acknowledged batch and idle moment. */
  async waitFor(predicate: () => Promise<boolean>, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!(await predicate())) {
      if (Date.now() > deadline) throw new Error('timed out waiting for the forwarder');
      await new Promise<void>((resolve) => {
        const done = (): void => {
          clearTimeout(timer);
          this.listeners.delete(done);
          resolve();
        };
        const timer = setTimeout(done, 500);
        this.listeners.add(done);
      });
    }
  }

  status(): ForwarderStatus {
    const now = Date.now();
    const recent = this.acknowledged.filter((a) => a.at >= now - WINDOW_MS);
    const span = recent.length > 0 ? Math.max(1, Math.min(WINDOW_MS, now - recent[0]!.at)) / 1000 : 1;
    const bytes = recent.reduce((n, a) => n + a.bytes, 0);
    const instances = recent.reduce((n, a) => n + a.instances, 0);
    const iso = (t: number | null) => (t === null ? null : new Date(t).toISOString());
    return {
      cloud: { url: this.options.cloudUrl, reachable: this.reachable, lastContactAt: iso(this.lastContactAt), lastFailureAt: iso(this.lastFailureAt) },
      lastError: this.lastError,
      activeStudies: [...this.active.keys()],
      throughput: { windowSeconds: WINDOW_MS / 1000, instancesPerSecond: round(instances / span), bytesPerSecond: Math.round(bytes / span), megabitsPerSecond: round((bytes * 8) / span / 1e6), sentInstances: this.sentInstances, sentBytes: this.sentBytes, wireBytes: this.wireBytes },
      bandwidthCapBytesPerSecond: this.bucket ? this.bucket.bytesPerSecond : null,
    };
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    clearTimeout(this.probeTimer);
    clearInterval(this.healthTimer);
    // In-flight requests are abandoned: their rows stay pending and go again after a restart.
    this.agent.destroy();
    await Promise.allSettled([...this.active.values()]);
    await this.scheduling;
  }
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}

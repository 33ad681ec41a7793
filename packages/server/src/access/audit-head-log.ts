import type { Logger } from 'pino';
import type { AuditTrail } from './audit-trail.ts';

export const AUDIT_HEAD_MESSAGE = 'audit trail head';

/** Runs `tick` every `everyMs` until stopped; injectable so that tests drive the days. */
export type Scheduler = (tick: () => void, everyMs: number) => { stop(): void };

const intervalScheduler: Scheduler = (tick, everyMs) => {
  const timer = setInterval(tick, everyMs);
  timer.unref();
  return { stop: () => clearInterval(timer) };
};

export interface AuditHeadLog {
  /** writes the line now; the scheduler's ticks call it */
  logNow(): Promise<void>;
  stop(): void;
  /** resolves once a line being written is written (shutdown) */
  idle(): Promise<void>;
}

/**
 * The audit chain's head (`SEQ:HASH`) in the application log at start and once a day
 * (issue 12, finding 20): logs go elsewhere (journald, a log host) and outlive a database
 * edit, so a cut or rewritten tail shows against the heads logged before it. Give one to
 * `yunying audit verify --expect-head`.
 */
export function startAuditHeadLog(audit: AuditTrail, logger: Pick<Logger, 'info' | 'warn'>, options: { everyMs?: number; schedule?: Scheduler } = {}): AuditHeadLog {
  let running: Promise<void> | undefined;
  const logNow = (): Promise<void> =>
    (running ??= audit
      .head()
      .then(
        (auditHead) => logger.info({ auditHead }, AUDIT_HEAD_MESSAGE),
        (error: unknown) => logger.warn({ err: error }, 'could not read the audit trail head'),
      )
      .finally(() => (running = undefined)));
  const scheduled = (options.schedule ?? intervalScheduler)(() => void logNow(), options.everyMs ?? 24 * 60 * 60 * 1000);
  return { logNow, stop: () => scheduled.stop(), idle: async () => void (await running) };
}

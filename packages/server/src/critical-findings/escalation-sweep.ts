import type { Logger } from 'pino';
import type { CriticalFindingService } from './critical-finding-service.ts';

/**
 * Background work of the critical-findings module, in every process (like
 * reading/images-complete-sweep.ts): unacknowledged alerts past the escalation time are
 * escalated. Each escalation is a conditional update, so it happens once whichever process
 * gets there first. The sweep looks a few times per escalation period, at least every 30 s
 * and at most every second.
 */
export function startEscalationSweep(service: Pick<CriticalFindingService, 'escalateDue' | 'escalateAfterMs'>, logger: Pick<Logger, 'warn'>): { stop(): void; idle(): Promise<void> } {
  const intervalMs = Math.max(1000, Math.min(30_000, service.escalateAfterMs / 4));
  let running: Promise<void> | undefined;
  const timer = setInterval(() => {
    running ??= service
      .escalateDue()
      .then(() => undefined, (error: unknown) => logger.warn({ err: error }, 'critical-finding escalation sweep failed'))
      .finally(() => (running = undefined));
  }, intervalMs);
  timer.unref();
  return { stop: () => clearInterval(timer), idle: async () => void (await running) };
}

import type { Logger } from 'pino';
import type { ReadingServices } from './reading-services.ts';

/**
 * Background work of the reading module, in every process: requests whose study stopped
 * growing go to the worklist, and SRs a failed delivery left out are stored. Each step is
 * a conditional update, so it happens once whichever process gets there first.
 */
export function startImagesCompleteSweep(reading: Pick<ReadingServices, 'requests' | 'reports'>, stableSeconds: number, logger: Pick<Logger, 'warn'>): { stop(): void; idle(): Promise<void> } {
  const intervalMs = Math.max(1000, Math.min(5000, (stableSeconds * 1000) / 3));
  let running: Promise<void> | undefined;
  const timer = setInterval(() => {
    running ??= reading.requests
      .promoteCompleteStudies()
      .then(() => reading.reports.retryUndeliveredReports())
      .then(() => undefined, (error: unknown) => logger.warn({ err: error }, 'images-complete sweep failed'))
      .finally(() => (running = undefined));
  }, intervalMs);
  timer.unref();
  return { stop: () => clearInterval(timer), idle: async () => void (await running) };
}

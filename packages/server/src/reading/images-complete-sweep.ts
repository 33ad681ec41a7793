import type { Logger } from 'pino';
import type { ReadingServices } from './reading-services.ts';

/**
 * Background work of the reading module, in every process: requests whose study stopped
 * growing go to the worklist. A conditional update, so it happens once whichever process
 * gets there first. (The SRs a failed delivery left out are stored by the change feed's
 * 'report-delivery' consumer, reports/report-delivery-consumer.ts.)
 */
export function startImagesCompleteSweep(reading: Pick<ReadingServices, 'requests'>, stableSeconds: number, logger: Pick<Logger, 'warn'>): { stop(): void; idle(): Promise<void> } {
  const intervalMs = Math.max(1000, Math.min(5000, (stableSeconds * 1000) / 3));
  let running: Promise<void> | undefined;
  const timer = setInterval(() => {
    running ??= reading.requests
      .promoteCompleteStudies()
      .then(() => undefined, (error: unknown) => logger.warn({ err: error }, 'images-complete sweep failed'))
      .finally(() => (running = undefined));
  }, intervalMs);
  timer.unref();
  return { stop: () => clearInterval(timer), idle: async () => void (await running) };
}

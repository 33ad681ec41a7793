import { RetryLater, type FeedConsumer } from '../feed/change.ts';
import type { ReportService } from './report-service.ts';

export interface ReportDeliveryConsumerOptions {
  /**
   * how long after a signature or addendum the signing request has to store the SR itself
   * before this consumer does [30 s]: the answer to "sign" carries the SR's UID
   */
  graceMs?: number;
}

/**
 * The SR delivery as a change-feed consumer (issue 13, item 3): for each signature and
 * addendum, the report's DICOM SR is stored with the study, at least once, by the one
 * process holding the group's lease. The signing request stores it first (its answer names
 * the SR); this consumer stores what that left out (a failed or interrupted store), with
 * the feed's backoff, and after the last attempt the change is a dead letter on /metrics
 * instead of a retry every few seconds forever. Storing twice is prevented by the report's
 * delivery marker (ReportService.deliverSignedReport), so a re-handed change does nothing.
 */
export function reportDeliveryConsumer(reports: Pick<ReportService, 'deliverSignedReport'>, options: ReportDeliveryConsumerOptions = {}): FeedConsumer {
  const graceMs = options.graceMs ?? 30_000;
  return {
    group: 'report-delivery',
    types: ['report.signed', 'report.addendum'],
    // 1 s, 4 s, 16 s, 64 s, 4 min, then every 10 min: an unreachable object store has about an hour.
    retry: { maxAttempts: 10 },
    async handle(change) {
      // Until then the report's state says nothing final: before the signing request's own
      // store an addendum still shows the previous version's SR.
      const age = Date.now() - Date.parse(change.createdAt);
      if (age < graceMs) throw new RetryLater(graceMs - age, 'the signing request stores the SR first');
      const result = await reports.deliverSignedReport(change.resourceId);
      if (result.outcome === 'busy') throw new RetryLater(result.retryInMs, 'another process is storing the SR');
    },
  };
}

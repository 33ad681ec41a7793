import type { FeedChange, FeedConsumer } from '../feed/change.ts';
import type { ReadingServices } from './reading-services.ts';

/**
 * Routing rules as a change-feed consumer: each newly stored study is routed by the one
 * process holding the group's lease, at least once (a failed routing is retried by the
 * feed, and shows on /metrics once it gives up). The studies of one feed read are routed
 * together (handleBatch: one transaction for their requests, instead of one per study,
 * which on the ingest's own database is what kept a township's single-image studies
 * slow). The instances of one study come as many changes: a bounded memory of the studies
 * routed skips the rest; routing leaves a study that already has a request alone, and the
 * one-open-request index decides races.
 */
export function routingConsumer(reading: Pick<ReadingServices, 'routing'>): FeedConsumer {
  const routed = new Set<string>();
  const route = async (changes: readonly FeedChange[]): Promise<void> => {
    const studies = new Set<string>();
    for (const change of changes) {
      const studyInstanceUid = change.payload.studyInstanceUid;
      if (change.payload.outcome === 'stored' && typeof studyInstanceUid === 'string' && !routed.has(studyInstanceUid)) studies.add(studyInstanceUid);
    }
    if (studies.size === 0) return;
    await reading.routing.routeStudies([...studies]);
    if (routed.size + studies.size > 10_000) routed.clear();
    for (const studyInstanceUid of studies) routed.add(studyInstanceUid);
  };
  return {
    group: 'routing',
    types: ['instance.stored'],
    handle: (change) => route([change]),
    handleBatch: route,
  };
}

import type { FeedConsumer } from '../feed/change.ts';
import type { ReadingServices } from './reading-services.ts';

/**
 * Routing rules as a change-feed consumer: each newly stored study is routed by the one
 * process holding the group's lease, at least once (a failed routing is retried by the
 * feed, and shows on /metrics once it gives up). The instances of one study come as many
 * changes: a bounded memory of the studies routed skips the rest; routeStudy leaves a
 * study that already has a request alone, and the one-open-request index decides races.
 */
export function routingConsumer(reading: Pick<ReadingServices, 'routing'>): FeedConsumer {
  const routed = new Set<string>();
  return {
    group: 'routing',
    types: ['instance.stored'],
    async handle(change) {
      const studyInstanceUid = change.payload.studyInstanceUid;
      if (change.payload.outcome !== 'stored' || typeof studyInstanceUid !== 'string' || routed.has(studyInstanceUid)) return;
      await reading.routing.routeStudy(studyInstanceUid);
      if (routed.size >= 10_000) routed.clear();
      routed.add(studyInstanceUid);
    },
  };
}

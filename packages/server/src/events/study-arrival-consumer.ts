import type { FeedChange } from '../feed/change.ts';
import type { ModuleConsumer } from '../modules/module.ts';
import type { NotificationBus } from './notification-bus.ts';

/** Sent once when a study's first instance is stored: a screen lists the new study. */
export const STUDY_STORED = 'study.stored';
/** Sent once a study has received no instance for `quietMs` (payload: the instances this process saw stored): a screen refreshes its counts. */
export const STUDY_SETTLED = 'study.settled';

export interface StudyArrivalOptions {
  bus: Pick<NotificationBus, 'publish'>;
  /** the institution that holds the study (studies.institution_id); undefined when it is gone */
  institutionOf(studyInstanceUid: string): Promise<string | undefined>;
  /** how long a study must stay unchanged before `study.settled` [3000 ms] */
  quietMs?: number;
  /** a `study.settled` that could not be published (it is not retried: a screen only misses a count) */
  onError?: (error: unknown) => void;
}

interface Arrival {
  institutionId: string;
  instances: number;
  timer: NodeJS.Timeout;
}

/** Studies remembered as announced; beyond this the memory starts over (at worst a second `study.stored`). */
const MAX_REMEMBERED = 10_000;

/**
 * Live notice of new studies for the township screen (issue 14, item 3): a change-feed
 * consumer of `instance.stored` that publishes `study.stored` to the institution holding
 * the study (and so to administrators, who receive every institution's notifications)
 * when its first instance arrives, and one `study.settled` when no instance has arrived
 * for a while. A CT of 300 slices is 300 changes but two notifications. The feed runs a
 * group in one process at a time, so the memory of announced studies is in process; after
 * a restart or a lease move a study still growing may be announced once more, which a
 * screen absorbs (it reloads its list). Starts at the feed's latest change: old studies
 * are not news.
 */
export function studyArrivalConsumer(options: StudyArrivalOptions): ModuleConsumer & { close(): void } {
  const quietMs = options.quietMs ?? 3000;
  const onError = options.onError ?? (() => undefined);
  const announced = new Set<string>();
  const growing = new Map<string, Arrival>();

  const settle = (studyInstanceUid: string): void => {
    const arrival = growing.get(studyInstanceUid);
    if (!arrival) return;
    growing.delete(studyInstanceUid);
    options.bus.publish([arrival.institutionId], STUDY_SETTLED, { studyInstanceUid, instancesSeen: arrival.instances }).catch(onError);
  };
  const armQuietTimer = (studyInstanceUid: string, institutionId: string): void => {
    const arrival = growing.get(studyInstanceUid);
    if (arrival) clearTimeout(arrival.timer);
    const timer = setTimeout(() => settle(studyInstanceUid), quietMs);
    timer.unref();
    growing.set(studyInstanceUid, { institutionId, instances: (arrival?.instances ?? 0) + 1, timer });
  };

  return {
    group: 'study-arrival',
    types: ['instance.stored'],
    startAt: 'latest',
    async handle(change: FeedChange) {
      const studyInstanceUid = change.payload.studyInstanceUid;
      if (change.payload.outcome !== 'stored' || typeof studyInstanceUid !== 'string') return;
      const known = growing.get(studyInstanceUid);
      if (known) {
        armQuietTimer(studyInstanceUid, known.institutionId);
        return;
      }
      if (announced.has(studyInstanceUid)) {
        // It grows again after it settled (a late series): settle again when it stops.
        const institutionId = await options.institutionOf(studyInstanceUid);
        if (institutionId) armQuietTimer(studyInstanceUid, institutionId);
        return;
      }
      const institutionId = await options.institutionOf(studyInstanceUid);
      if (!institutionId) return; // deleted meanwhile: nothing to list
      // Thrown here, the feed retries the change: the announcement is at least once.
      await options.bus.publish([institutionId], STUDY_STORED, { studyInstanceUid });
      if (announced.size >= MAX_REMEMBERED) announced.clear();
      announced.add(studyInstanceUid);
      armQuietTimer(studyInstanceUid, institutionId);
    },
    close() {
      for (const arrival of growing.values()) clearTimeout(arrival.timer);
      growing.clear();
    },
  };
}

import { registerEventRoutes } from '../api/event-routes.ts';
import { serviceKey, type YunyingModule } from '../modules/module.ts';
import { NotificationBus } from './notification-bus.ts';
import { studyArrivalConsumer } from './study-arrival-consumer.ts';

/** The live notifications other modules publish (reading: a report signed, a request claimed). */
export const NOTIFICATIONS = serviceKey<NotificationBus>('notifications');

/** Live notifications for the screens of an institution: the bus and its event stream (SSE). */
export const eventsModule: YunyingModule = {
  name: 'events',
  async register({ http, archive, logger, callers, services, onClose }) {
    const bus = new NotificationBus(archive.stores.notifications, {
      // SQLite has one writer at a time: seqs become visible in order, so no row can appear
      // behind one already read and the poller need not re-read the last seconds' rows.
      ...(archive.database.dialect === 'sqlite' ? { settleMs: 0 } : {}),
      onError: (error) => logger.warn({ err: error }, 'notification bus'),
    });
    services.provide(NOTIFICATIONS, bus);
    await registerEventRoutes(http, { bus, resolveCaller: callers.rest, audit: archive.audit });
    await bus.start();
    onClose(() => bus.close());
  },
  // New studies announced to the screens of the institution holding them (the township list).
  consumers({ archive, logger, services, onClose }) {
    const consumer = studyArrivalConsumer({
      bus: services.get(NOTIFICATIONS),
      institutionOf: async (studyInstanceUid) => (await archive.index.studyRow(studyInstanceUid))?.institution_id,
      onError: (error) => logger.warn({ err: error }, 'study arrival notification'),
    });
    onClose(() => consumer.close());
    return [consumer];
  },
};

import { registerEventRoutes } from '../api/event-routes.ts';
import { serviceKey, type YunyingModule } from '../modules/module.ts';
import { NotificationBus } from './notification-bus.ts';

/** The live notifications other modules publish (reading: a report signed, a request claimed). */
export const NOTIFICATIONS = serviceKey<NotificationBus>('notifications');

/** Live notifications for the screens of an institution: the bus and its event stream (SSE). */
export const eventsModule: YunyingModule = {
  name: 'events',
  async register({ http, archive, logger, callers, services, onClose }) {
    const bus = new NotificationBus(archive.stores.notifications, { onError: (error) => logger.warn({ err: error }, 'notification bus') });
    services.provide(NOTIFICATIONS, bus);
    await registerEventRoutes(http, { bus, resolveCaller: callers.rest, audit: archive.audit });
    await bus.start();
    onClose(() => bus.close());
  },
};

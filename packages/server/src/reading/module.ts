import { registerReadingRoutes } from '../api/reading-routes.ts';
import { CreationHooks, type ExamCreatedFacts } from '../modules/creation-hooks.ts';
import { NOTIFICATIONS } from '../events/module.ts';
import { serviceKey, type YunyingModule } from '../modules/module.ts';
import { REPORTS } from '../reports/module.ts';
import { SETTINGS } from '../settings/module.ts';
import { startImagesCompleteSweep } from './images-complete-sweep.ts';
import { createReadingServices, type ReadingServices } from './reading-services.ts';
import { routingConsumer } from './routing-consumer.ts';

export const READING = serviceKey<ReadingServices>('reading');

/** What later modules add to a reading request's creation (recognition/: the resident ID, duplicate-exam warnings). */
export const READING_REQUEST_CREATED = serviceKey<CreationHooks<ExamCreatedFacts>>('reading.request-created');

/**
 * Remote diagnosis (远程诊断): requests, the worklist and claims, routing rules. Routing runs
 * in the change feed (each stored instance); the images-complete sweep in every process.
 */
export const readingModule: YunyingModule = {
  name: 'reading',
  async register({ http, archive, config, logger, callers, services, onClose }) {
    // the administrator's SLA (settings module), read at each deadline; the configuration's without that module
    const settings = services.has(SETTINGS) ? services.get(SETTINGS) : undefined;
    const reading = createReadingServices(
      { store: archive.stores.reading, access: archive.accessStore, index: archive.index, audit: archive.audit, notifier: services.get(NOTIFICATIONS), unitOfWork: archive.unitOfWork, reports: services.get(REPORTS) },
      { sla: settings ? () => settings.slaMinutes() : config.slaMinutes, stableSeconds: config.studyStableSeconds, timeZone: config.timeZone },
    );
    services.provide(READING, reading);
    const created = new CreationHooks<ExamCreatedFacts>();
    services.provide(READING_REQUEST_CREATED, created);
    await registerReadingRoutes(http, { reading, resolveCaller: callers.rest, audit: archive.audit, created });
    const sweeper = startImagesCompleteSweep(reading, config.studyStableSeconds, logger);
    onClose(async () => {
      sweeper.stop();
      await sweeper.idle();
    });
  },
  consumers: ({ services }) => [routingConsumer(services.get(READING))],
};

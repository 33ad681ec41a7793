import type { Kysely } from 'kysely';
import { serviceKey, type YunyingModule } from '../modules/module.ts';
import { ORDERS } from '../orders/module.ts';
import { REPORTS } from '../reports/module.ts';
import { reportsPortOf } from '../reports/reports-port.ts';
import { Hl7Delivery, hl7DeliveryConsumer } from './hl7-delivery.ts';
import { Hl7Inbound } from './hl7-inbound.ts';
import { Hl7Settings, registerHl7Routes } from './hl7-routes.ts';
import { createHl7Tables, hl7Store, type Hl7Tables } from './hl7-store.ts';
import { startMllpListener, type MllpListener } from './mllp-listener.ts';

export interface Hl7Services {
  inbound: Hl7Inbound;
  delivery: Hl7Delivery;
  settings: Hl7Settings;
  /** the MLLP listener's port, when YUNYING_HL7_PORT is set */
  listeningPort(): number | undefined;
}

export const HL7 = serviceKey<Hl7Services>('hl7');

/**
 * HL7 v2 over MLLP (issue 15 item 8), for hospitals whose HIS speaks v2: ORM^O01 orders in
 * (to the order model, orders/), ORU^R01 out when a report is signed. docs/hl7.md.
 */
export const hl7Module: YunyingModule = {
  name: 'hl7',
  migrations: {
    '0023-hl7': {
      async up(db: Kysely<unknown>) {
        await createHl7Tables(db as unknown as Kysely<Hl7Tables>);
      },
    },
  },
  async register({ http, archive, config, logger, callers, services, onClose }) {
    const store = archive.stores.open(hl7Store);
    const orders = services.get(ORDERS);
    const reports = services.get(REPORTS);
    const hl7Logger = logger.child({ component: 'hl7' });
    const inbound = new Hl7Inbound({ orders, store, application: config.aeTitle, timeZone: config.timeZone, logger: hl7Logger });
    const reportsPort = reportsPortOf(archive.stores.reading);
    const delivery = new Hl7Delivery({
      store,
      reportOf: (caller, reportId) => reports.reportForDelivery(caller, reportId),
      addendaOf: (reportId) => reportsPort.addendaOf(reportId),
      studyOf: (uid) => archive.index.studyRow(uid),
      orders,
      displayNameOf: async (username) => (await archive.accessStore.findUserByName(username))?.display_name ?? undefined,
      audit: archive.audit,
      timeZone: config.timeZone,
      logger: hl7Logger,
    });
    const settings = new Hl7Settings({ store, unitOfWork: archive.unitOfWork, institutionExists: async (id) => Boolean(await archive.accessStore.findInstitution(id)) });
    let listener: MllpListener | undefined;
    if (config.hl7.port !== undefined) {
      listener = await startMllpListener({ host: config.hl7.host, port: config.hl7.port, maxMessageBytes: config.hl7.maxMessageBytes, handler: inbound, logger: hl7Logger });
      hl7Logger.info({ host: config.hl7.host, port: listener.port }, 'hl7: MLLP listener started');
      onClose(() => listener?.close());
    }
    services.provide(HL7, { inbound, delivery, settings, listeningPort: () => listener?.port });
    await registerHl7Routes(http, { settings, resolveCaller: callers.rest });
  },
  // from the change after the module's first start: an upgrade does not send the history of signed reports
  consumers: ({ services }) => [{ ...hl7DeliveryConsumer(services.get(HL7).delivery), startAt: 'latest' }],
};

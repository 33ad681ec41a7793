import { registerReportDocumentRoutes } from '../api/report-document-routes.ts';
import { NOTIFICATIONS } from '../events/module.ts';
import { FHIR_DIAGNOSTIC_REPORTS } from '../fhir/module.ts';
import { serviceKey, type YunyingModule } from '../modules/module.ts';
import { SHARES } from '../share/module.ts';
import { createDiagnosticReportSource } from './fhir-report-source.ts';
import { ReportDelivery } from './report-delivery.ts';
import { reportDeliveryConsumer } from './report-delivery-consumer.ts';
import { ReportService } from './report-service.ts';
import { signatureStore } from '../store/signature-store.ts';

/** The report lifecycle (draft, submit, sign, return, addendum), for reading and, later, consultation. */
export const REPORTS = serviceKey<ReportService>('reports');

/**
 * Reports as a document lifecycle: the service, the signed report's delivery (SR into the
 * archive, PDF, the patient's cloud-film link), the report documents' routes, and FHIR's
 * DiagnosticReport source. The reading routes that sign and return are reading's.
 */
export const reportsModule: YunyingModule = {
  name: 'reports',
  async register({ http, archive, config, callers, services }) {
    const store = archive.stores.reading;
    const shares = services.get(SHARES);
    const delivery = new ReportDelivery({ store, access: archive.accessStore, index: archive.index, archive, timeZone: config.timeZone, patientLink: shares.links.ensurePatientLink, signatureOf: (username) => archive.stores.open(signatureStore).find(username) });
    const reports = new ReportService({ store, audit: archive.audit, notifier: services.get(NOTIFICATIONS), unitOfWork: archive.unitOfWork, delivery, displayNameOf: async (username) => (await archive.accessStore.findUserByName(username))?.display_name });
    await reports.seedTemplates();
    services.provide(REPORTS, reports);
    services.provide(FHIR_DIAGNOSTIC_REPORTS, createDiagnosticReportSource(reports, delivery, archive, archive.audit));
    await registerReportDocumentRoutes(http, { reports, delivery, audit: archive.audit, resolveCaller: callers.rest, timeZone: config.timeZone });
  },
  // The SR of each signature and addendum, at least once (what the signing request left out).
  consumers: ({ services }) => [reportDeliveryConsumer(services.get(REPORTS))],
};

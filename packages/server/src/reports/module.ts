import { registerReportDocumentRoutes } from '../api/report-document-routes.ts';
import { NOTIFICATIONS } from '../events/module.ts';
import { FHIR_DIAGNOSTIC_REPORTS } from '../fhir/module.ts';
import { serviceKey, type YunyingModule } from '../modules/module.ts';
import { SHARES } from '../share/module.ts';
import { createDiagnosticReportSource, joinableReportSource, type JoinableReportSource } from './fhir-report-source.ts';
import { ReportDelivery } from './report-delivery.ts';
import { reportDeliveryConsumer } from './report-delivery-consumer.ts';
import { ReportService } from './report-service.ts';
import { ESignature } from './e-signature.ts';
import { REVIEW_MIGRATIONS } from './review-migrations.ts';
import { registerSigningRoutes } from '../api/signing-routes.ts';
import { signatureStore } from '../store/signature-store.ts';
import { productivityStore } from '../store/productivity-store.ts';
import { reportNumberStore } from '../store/report-number-store.ts';

/** The report lifecycle (draft, submit, sign, return, addendum), for reading and, later, consultation. */
export const REPORTS = serviceKey<ReportService>('reports');
/** Where a later module adds fields to every report document (PDF, SR, FHIR): critical-findings adds its 危急值. */
export const REPORT_DOCUMENTS = serviceKey<Pick<ReportDelivery, 'addSupplement'>>('report-documents');
/** Where a later module joins its documents to FHIR's DiagnosticReport: consult/ adds the consultation conclusions. */
export const FHIR_REPORT_SOURCES = serviceKey<JoinableReportSource>('fhir.report-sources');
/** The e-signature a signing checks (password or signing PIN), for the modules that sign documents of their own (consult/). */
export const E_SIGNATURE = serviceKey<Pick<ESignature, 'verify'>>('reports.e-signature');

/**
 * Reports as a document lifecycle: the service, the signed report's delivery (SR into the
 * archive, PDF, the patient's cloud-film link), the report documents' routes, and FHIR's
 * DiagnosticReport source. The reading routes that sign and return are reading's.
 */
export const reportsModule: YunyingModule = {
  name: 'reports',
  // the review stage: signing PINs and each signed version's electronic signature
  migrations: { ...REVIEW_MIGRATIONS },
  async register({ http, archive, config, callers, services }) {
    const store = archive.stores.reading;
    const shares = services.get(SHARES);
    const delivery = new ReportDelivery({ store, access: archive.accessStore, index: archive.index, archive, timeZone: config.timeZone, patientLink: shares.links.ensurePatientLink, signatureOf: (username) => archive.stores.open(signatureStore).find(username) });
    const eSignature = new ESignature({ access: archive.accessStore, stores: archive.stores, unitOfWork: archive.unitOfWork, audit: archive.audit });
    const reports = new ReportService({ eSignature, store, audit: archive.audit, notifier: services.get(NOTIFICATIONS), unitOfWork: archive.unitOfWork, delivery, displayNameOf: async (username) => (await archive.accessStore.findUserByName(username))?.display_name, timeZone: config.timeZone, attachments: archive.stores.open(productivityStore) });
    await reports.seedTemplates();
    services.provide(REPORTS, reports);
    services.provide(REPORT_DOCUMENTS, delivery);
    // FHIR's report numbers (identifier search) and PDF link (presentedForm.url)
    const numbers = archive.stores.open(reportNumberStore);
    const fhirSource = joinableReportSource(createDiagnosticReportSource(reports, delivery, archive, archive.audit, { reportIdsWithNumbers: (n) => numbers.reportIdsWithNumbers(n), timeZone: config.timeZone }));
    services.provide(FHIR_DIAGNOSTIC_REPORTS, fhirSource.source);
    services.provide(FHIR_REPORT_SOURCES, fhirSource.joinable);
    services.provide(E_SIGNATURE, eSignature);
    await registerSigningRoutes(http, { eSignature, resolveCaller: callers.rest });
    await registerReportDocumentRoutes(http, { reports, delivery, audit: archive.audit, resolveCaller: callers.rest, timeZone: config.timeZone });
  },
  // The SR of each signature and addendum, at least once (what the signing request left out).
  consumers: ({ services }) => [reportDeliveryConsumer(services.get(REPORTS))],
};

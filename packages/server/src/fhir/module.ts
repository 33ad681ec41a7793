import { serviceKey, type YunyingModule } from '../modules/module.ts';
import type { DiagnosticReportSource } from './report-source.ts';
import type { PersonPatientSource } from './fhir-context.ts';
import { registerFhir } from './index.ts';
import { fhirResources } from './resource-registry.ts';
import { subscriptionNotifier } from './subscription-notifier.ts';
import { subscriptionResource } from './subscription-routes.ts';
import { FHIR_SUBSCRIPTION_MIGRATIONS, fhirSubscriptionStore } from './subscription-store.ts';

export { FHIR_RESOURCES, fhirResources, type FhirResourceDefinition } from './resource-registry.ts';

declare module '../access/permissions.ts' {
  interface ModulePermissions {
    'fhir:subscribe': true;
  }
}

/**
 * The signed reports FHIR shows as DiagnosticReport: a port the reports module provides
 * (listed before fhir). Without it DiagnosticReport answers 501.
 */
export const FHIR_DIAGNOSTIC_REPORTS = serviceKey<DiagnosticReportSource>('fhir.diagnostic-reports');

/** Patients per person of the regional patient index: a port the recognition module provides (listed before fhir). */
export const FHIR_PERSON_PATIENTS = serviceKey<PersonPatientSource>('fhir.person-patients');

/**
 * The FHIR R4 façade under /fhir/r4: ImagingStudy, Patient, DiagnosticReport, Subscription
 * (report.signed notifications to a HIS, when reports exist), and the resources other modules
 * add with `fhirResources(services).add(…)` (resource-registry.ts): listed before fhir in
 * MODULES, or after it (routes join the scope at once).
 */
export const fhirModule: YunyingModule = {
  name: 'fhir',
  permissions: [
    // the roles that may read reports (patients:read): a subscription tells of reports
    { name: 'fhir:subscribe', zh: '通过 FHIR 订阅本机构的报告签发通知（医院 HIS）', en: 'subscribe through FHIR to the own institution\'s report-signed notifications (a hospital HIS)', roles: ['technologist', 'radiologist', 'reviewing-radiologist', 'expert', 'clinician', 'qc-officer', 'administrator'] },
  ],
  migrations: FHIR_SUBSCRIPTION_MIGRATIONS,
  async register({ http, archive, callers, configuredPublicBaseUrl, services }) {
    const diagnosticReports = services.has(FHIR_DIAGNOSTIC_REPORTS) ? services.get(FHIR_DIAGNOSTIC_REPORTS) : undefined;
    const resources = fhirResources(services);
    // Subscriptions tell of signed reports: without reports there is nothing to subscribe to.
    if (diagnosticReports) resources.add(subscriptionResource(archive.stores.open(fhirSubscriptionStore), archive.unitOfWork));
    await registerFhir(http, {
      archive,
      publicBaseUrl: configuredPublicBaseUrl,
      resolveCaller: callers.fhir,
      diagnosticReports,
      ...(services.has(FHIR_PERSON_PATIENTS) ? { personPatients: services.get(FHIR_PERSON_PATIENTS) } : {}),
      resources,
    });
  },
  consumers: ({ services, archive, access, config }) => {
    if (!services.has(FHIR_DIAGNOSTIC_REPORTS)) return [];
    return [subscriptionNotifier({
      store: archive.stores.open(fhirSubscriptionStore),
      reports: services.get(FHIR_DIAGNOSTIC_REPORTS),
      async callerOf(username) {
        const user = await archive.accessStore.findUserByName(username);
        return user && user.enabled === 1 ? access.callerForUser(user, { via: 'fhir' }) : undefined;
      },
      audit: archive.audit,
      publicBaseUrl: config.publicBaseUrl,
    })];
  },
};

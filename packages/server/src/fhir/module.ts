import { serviceKey, type YunyingModule } from '../modules/module.ts';
import type { DiagnosticReportSource } from './report-source.ts';
import { registerFhir } from './index.ts';
import { fhirResources } from './resource-registry.ts';

export { FHIR_RESOURCES, fhirResources, type FhirResourceDefinition } from './resource-registry.ts';

/**
 * The signed reports FHIR shows as DiagnosticReport: a port the reports module provides
 * (listed before fhir). Without it DiagnosticReport answers 501.
 */
export const FHIR_DIAGNOSTIC_REPORTS = serviceKey<DiagnosticReportSource>('fhir.diagnostic-reports');

/**
 * The FHIR R4 façade under /fhir/r4: ImagingStudy, Patient, DiagnosticReport, and the
 * resources other modules add with `fhirResources(services).add(…)` (resource-registry.ts):
 * before fhir in MODULES, or after it (routes join the scope at once).
 */
export const fhirModule: YunyingModule = {
  name: 'fhir',
  async register({ http, archive, callers, configuredPublicBaseUrl, services }) {
    await registerFhir(http, {
      archive,
      publicBaseUrl: configuredPublicBaseUrl,
      resolveCaller: callers.fhir,
      diagnosticReports: services.has(FHIR_DIAGNOSTIC_REPORTS) ? services.get(FHIR_DIAGNOSTIC_REPORTS) : undefined,
      resources: fhirResources(services),
    });
  },
};

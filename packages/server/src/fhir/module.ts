import { serviceKey, type YunyingModule } from '../modules/module.ts';
import type { DiagnosticReportSource } from './report-source.ts';
import { registerFhir } from './index.ts';

/**
 * The signed reports FHIR shows as DiagnosticReport: a port the reports module provides
 * (listed before fhir). Without it DiagnosticReport answers 501.
 */
export const FHIR_DIAGNOSTIC_REPORTS = serviceKey<DiagnosticReportSource>('fhir.diagnostic-reports');

/** The FHIR R4 façade under /fhir/r4: ImagingStudy, Patient, DiagnosticReport, read-only. */
export const fhirModule: YunyingModule = {
  name: 'fhir',
  async register({ http, archive, callers, configuredPublicBaseUrl, services }) {
    await registerFhir(http, {
      archive,
      publicBaseUrl: configuredPublicBaseUrl,
      resolveCaller: callers.fhir,
      diagnosticReports: services.has(FHIR_DIAGNOSTIC_REPORTS) ? services.get(FHIR_DIAGNOSTIC_REPORTS) : undefined,
    });
  },
};

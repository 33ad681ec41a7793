/**
 * The port through which FHIR reads signed reports. Its own module: fhir-context.ts holds one
 * and diagnostic-report-routes.ts serves it, and neither may import the other (no cycle).
 */
import type { Caller } from '../access/caller.ts';
import type { ReportDocument } from '../reports/report-document.ts';

/** Signed reports as the reading module keeps them, scoped to the caller. */
export interface DiagnosticReportSource {
  /** undefined when absent, unsigned or not visible to the caller (the same answer) */
  read(caller: Caller, reportId: string): Promise<ReportDocument | undefined>;
  /**
   * signed reports of one study, or with one of these 报告编号 (reportNumbers), or of a patient's studies: those with the Patient ID that
   * ofPatient accepts (the same number issued elsewhere is another patient), before they are
   * recorded as viewed
   */
  search(caller: Caller, query: { studyInstanceUid?: string; patientId?: string; ofPatient?: (document: ReportDocument) => boolean; reportNumbers?: readonly string[] }): Promise<ReportDocument[]>;
  /**
   * The printable report (the same PDF as the REST API's), recorded as exported; undefined
   * when absent, unsigned or not visible. Without it the FHIR PDF link answers 404.
   */
  pdf?(caller: Caller, reportId: string): Promise<{ bytes: Buffer; filename: string } | undefined>;
}

import type { AuditRecorder } from '../access/audit-event.ts';
import type { Caller } from '../access/caller.ts';
import type { ArchiveService } from '../archive/archive-service.ts';
import { YunyingError } from '../errors.ts';
import type { DiagnosticReportSource } from '../fhir/diagnostic-report-routes.ts';
import type { ReportService } from './report-service.ts';
import type { ReportDelivery } from './report-delivery.ts';
import type { ReportDocument } from './report-document.ts';
import { renderReportPdf } from './report-pdf.ts';

/** What the FHIR source needs beyond the reports: 报告编号 look-up and the PDF's time zone. */
export interface DiagnosticReportSourceExtras {
  reportIdsWithNumbers?: (numbers: readonly string[]) => Promise<string[]>;
  /** the PDF's dates (config.timeZone); without it the PDF link answers 404 */
  timeZone?: string;
}

/** Signed reports for the FHIR façade: the reading module's visibility, every read audited. */
export function createDiagnosticReportSource(reports: Pick<ReportService, 'signedReportsOfStudy' | 'reportForDelivery'>, delivery: ReportDelivery, archive: ArchiveService, audit: AuditRecorder, extras: DiagnosticReportSourceExtras = {}): DiagnosticReportSource {
  const documentsOfStudy = async (caller: Caller, studyInstanceUid: string): Promise<ReportDocument[]> => {
    const signed = await reports.signedReportsOfStudy(caller, studyInstanceUid);
    return Promise.all(signed.map(({ request, report }) => delivery.documentFor(request, report)));
  };
  const recordViews = async (caller: Caller, documents: readonly ReportDocument[]) => {
    for (const document of documents) await audit.record({ action: 'study.viewed', caller, objectType: 'study', objectId: document.studyInstanceUid, patientId: document.patient.id, details: { reportId: document.reportId, version: document.version } });
  };
  /** the signed report's document, undefined when absent, unsigned or out of scope (not audited) */
  const signedDocument = async (caller: Caller, reportId: string) => {
    try {
      const { report, request } = await reports.reportForDelivery(caller, reportId);
      if (report.status !== 'signed') return undefined;
      return await delivery.documentFor(request, report);
    } catch (error) {
      if (error instanceof YunyingError && error.httpStatus === 404) return undefined;
      throw error;
    }
  };
  const { timeZone } = extras;
  return {
    async read(caller, reportId) {
      const document = await signedDocument(caller, reportId);
      if (document) await recordViews(caller, [document]);
      return document;
    },
    // the same PDF and the same audit record as GET /api/v1/reports/{id}/pdf
    pdf: timeZone === undefined ? undefined : async (caller, reportId) => {
      const document = await signedDocument(caller, reportId);
      if (!document) return undefined;
      const bytes = await renderReportPdf(document, { timeZone, signatures: await delivery.signaturesFor(document) });
      await audit.record({ action: 'study.exported', caller, objectType: 'study', objectId: document.studyInstanceUid, patientId: document.patient.id, details: { format: 'pdf', reportId: document.reportId, version: document.version } });
      return { bytes, filename: `report-${document.reportId}-v${document.version}.pdf` };
    },
    async search(caller, query) {
      if (query.reportNumbers) {
        const ids = await (extras.reportIdsWithNumbers?.(query.reportNumbers) ?? Promise.resolve([]));
        const documents = (await Promise.all(ids.map((id) => signedDocument(caller, id)))).filter((d): d is ReportDocument => d !== undefined);
        await recordViews(caller, documents);
        return documents;
      }
      let studies: string[] = [];
      if (query.studyInstanceUid) studies = [query.studyInstanceUid];
      else if (query.patientId !== undefined) {
        const found = await archive.query(caller, { level: 'STUDY', keys: { '00100020': { vr: 'LO', Value: [query.patientId] }, '0020000D': { vr: 'UI' } } });
        studies = found.map((study) => String(study['0020000D']?.Value?.[0] ?? '')).filter(Boolean);
      }
      const documents = (await Promise.all(studies.map((study) => documentsOfStudy(caller, study)))).flat().filter((document) => query.ofPatient?.(document) ?? true);
      await recordViews(caller, documents);
      return documents;
    },
  };
}

/** Where a later module adds its documents to FHIR's DiagnosticReport (consult/: the consultation conclusions). */
export interface JoinableReportSource {
  /** replaces the source with what `wrap` makes of it (the wrapper passes on what is not its own) */
  join(wrap: (source: DiagnosticReportSource) => DiagnosticReportSource): void;
}

/**
 * The FHIR source as one stable object (the FHIR module takes it when it registers) whose
 * answers come from the reports' source and whatever modules joined it since.
 */
export function joinableReportSource(initial: DiagnosticReportSource): { source: DiagnosticReportSource; joinable: JoinableReportSource } {
  let current = initial;
  const source: DiagnosticReportSource = {
    read: (caller, id) => current.read(caller, id),
    search: (caller, query) => current.search(caller, query),
    pdf: (caller, id) => current.pdf?.(caller, id) ?? Promise.resolve(undefined),
  };
  if (!initial.pdf) delete source.pdf;
  return { source, joinable: { join: (wrap) => void (current = wrap(current)) } };
}

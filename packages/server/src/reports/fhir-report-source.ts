import type { AuditRecorder } from '../access/audit-event.ts';
import type { Caller } from '../access/caller.ts';
import type { ArchiveService } from '../archive/archive-service.ts';
import { YunyingError } from '../errors.ts';
import type { DiagnosticReportSource } from '../fhir/diagnostic-report-routes.ts';
import type { ReportService } from './report-service.ts';
import type { ReportDelivery } from './report-delivery.ts';
import type { ReportDocument } from './report-document.ts';

/** Signed reports for the FHIR façade: the reading module's visibility, every read audited. */
export function createDiagnosticReportSource(reports: Pick<ReportService, 'signedReportsOfStudy' | 'reportForDelivery'>, delivery: ReportDelivery, archive: ArchiveService, audit: AuditRecorder): DiagnosticReportSource {
  const documentsOfStudy = async (caller: Caller, studyInstanceUid: string): Promise<ReportDocument[]> => {
    const signed = await reports.signedReportsOfStudy(caller, studyInstanceUid);
    return Promise.all(signed.map(({ request, report }) => delivery.documentFor(request, report)));
  };
  const recordViews = async (caller: Caller, documents: readonly ReportDocument[]) => {
    for (const document of documents) await audit.record({ action: 'study.viewed', caller, objectType: 'study', objectId: document.studyInstanceUid, patientId: document.patient.id, details: { reportId: document.reportId, version: document.version } });
  };
  return {
    async read(caller, reportId) {
      try {
        const { report, request } = await reports.reportForDelivery(caller, reportId);
        if (report.status !== 'signed') return undefined;
        const document = await delivery.documentFor(request, report);
        await recordViews(caller, [document]);
        return document;
      } catch (error) {
        if (error instanceof YunyingError && error.httpStatus === 404) return undefined;
        throw error;
      }
    },
    async search(caller, query) {
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

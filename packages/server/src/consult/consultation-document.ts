import type { AuditRecorder } from '../access/audit-event.ts';
import type { Caller } from '../access/caller.ts';
import { YunyingError } from '../errors.ts';
import type { DiagnosticReportSource } from '../fhir/report-source.ts';
import type { ReportDocument } from '../reports/report-document.ts';
import { studyPartOfDocument } from '../reports/report-delivery.ts';
import { renderReportPdf } from '../reports/report-pdf.ts';
import type { AccessStore } from '../store/access-store.ts';
import type { IndexStore } from '../store/index-store.ts';
import type { ConsultationService, ConsultationView } from './consultation-service.ts';

export interface ConsultationDocumentDependencies {
  consultations: Pick<ConsultationService, 'view' | 'list'>;
  index: Pick<IndexStore, 'studyRow'>;
  access: Pick<AccessStore, 'findInstitution' | 'findUserByName'>;
  audit: AuditRecorder;
  timeZone: string;
}

/**
 * A consultation's signed conclusion as a report document, so that it prints and travels
 * like a remote-diagnosis report: the same PDF renderer (as 远程会诊意见书) and the same FHIR
 * DiagnosticReport mapping. The experts' signed opinions are its findings, the conclusion its
 * impression; the patient and exam are those of the consultation's first study.
 */
export class ConsultationDocuments {
  private readonly deps: ConsultationDocumentDependencies;

  constructor(deps: ConsultationDocumentDependencies) {
    this.deps = deps;
  }

  /** The document of an answered (or closed) consultation the caller may see; undefined before the conclusion is signed. */
  async documentOf(caller: Caller, id: string): Promise<ReportDocument | undefined> {
    const view = await this.deps.consultations.view(caller, id);
    return view.conclusion ? this.toDocument(view) : undefined;
  }

  async pdf(caller: Caller, id: string): Promise<{ bytes: Buffer; filename: string } | undefined> {
    const document = await this.documentOf(caller, id);
    return document && this.pdfOf(caller, document);
  }

  /** The document as PDF, recorded as exported. */
  private async pdfOf(caller: Caller, document: ReportDocument): Promise<{ bytes: Buffer; filename: string }> {
    const id = document.reportId;
    const bytes = await renderReportPdf(document, { timeZone: this.deps.timeZone });
    await this.deps.audit.record({ action: 'study.exported', caller, objectType: 'study', objectId: document.studyInstanceUid, patientId: document.patient.id, details: { format: 'pdf', consultationId: id } });
    return { bytes, filename: `consultation-${id}.pdf` };
  }

  private async toDocument(view: ConsultationView): Promise<ReportDocument> {
    const conclusion = view.conclusion!;
    const studyUid = view.studyInstanceUids[0]!;
    const study = await this.deps.index.studyRow(studyUid);
    const lead = await this.deps.access.findUserByName(conclusion.signedBy);
    const opinions = view.experts
      .filter((expert) => expert.opinion?.signed)
      .map((expert) => `${expert.displayName ?? expert.username}：${expert.opinion!.text}`);
    const orUndefined = (value: string | null | undefined) => value ?? undefined;
    return {
      kind: 'consultation',
      reportId: view.id,
      version: 1,
      status: 'signed',
      studyInstanceUid: studyUid,
      ...studyPartOfDocument(study),
      bodyParts: [],
      clinicalHistory: `${view.clinicalSummary}\n会诊目的：${view.question}`,
      findings: opinions.join('\n\n'),
      impression: conclusion.text,
      positive: false,
      requestingInstitution: { id: view.requestingInstitutionId, name: view.requestingInstitutionName ?? view.requestingInstitutionId },
      readingInstitution: { id: view.expertInstitutionId, name: view.expertInstitutionName ?? view.expertInstitutionId },
      author: { username: conclusion.signedBy, displayName: orUndefined(lead?.display_name) },
      reviewer: { username: view.requestedBy, displayName: orUndefined(view.requestedByName) },
      signedAt: conclusion.signedAt,
      addenda: [],
    };
  }

  /**
   * FHIR DiagnosticReport for consultation conclusions (ids `con-…`), joined to the reports'
   * source: a read or search of anything else goes to the reports.
   */
  joinedTo(reports: DiagnosticReportSource): DiagnosticReportSource {
    const isConsultation = (id: string) => id.startsWith('con-');
    const visibleDocument = async (caller: Caller, id: string) => {
      try {
        return await this.documentOf(caller, id);
      } catch (error) {
        if (error instanceof YunyingError && error.httpStatus === 404) return undefined;
        throw error;
      }
    };
    return {
      read: async (caller, id) => {
        if (!isConsultation(id)) return reports.read(caller, id);
        const document = await visibleDocument(caller, id);
        if (document) await this.deps.audit.record({ action: 'study.viewed', caller, objectType: 'study', objectId: document.studyInstanceUid, patientId: document.patient.id, details: { consultationId: id } });
        return document;
      },
      search: (caller, query) => reports.search(caller, query),
      ...(reports.pdf
        ? {
            pdf: async (caller, id) => {
              if (!isConsultation(id)) return reports.pdf!(caller, id);
              const document = await visibleDocument(caller, id);
              return document && this.pdfOf(caller, document);
            },
          }
        : {}),
    };
  }
}

import type { ReadingStore } from '../store/reading-store.ts';

/** A signed report's text as others show it (the patient's cloud film, later consultation). */
export interface SignedReportText {
  id: string;
  version: number;
  findings: string;
  impression: string;
  positive: boolean | null;
  signedAt: string | null;
  readingInstitutionId: string;
  /** 报告编号 (reports/report-number.ts) */
  reportNumber?: string | null;
}

export interface ReportAddendum {
  text: string;
  at: string;
}

/**
 * How other modules read reports: through this port, never through the reports tables.
 * No caller check here: the module asking has decided already who may see the study.
 */
export interface ReportsPort {
  /** Signed reports of the study row there is under the UID (not of a deleted study that had it), newest first. */
  signedReportsOfStudy(studyInstanceUid: string): Promise<SignedReportText[]>;
  /** Addenda of a report after signing, oldest first. */
  addendaOf(reportId: string): Promise<ReportAddendum[]>;
}

/** The port over the reading store, where reports live today. */
export function reportsPortOf(store: Pick<ReadingStore, 'signedReportTexts' | 'addendaOf'>): ReportsPort {
  return {
    async signedReportsOfStudy(studyInstanceUid) {
      const rows = await store.signedReportTexts(studyInstanceUid);
      return rows.map((row) => ({ id: row.id, version: row.version, findings: row.findings, impression: row.impression, positive: row.positive === null ? null : row.positive === 1, signedAt: row.signed_at, readingInstitutionId: row.reading_institution_id, reportNumber: row.report_number ?? null }));
    },
    addendaOf: (reportId) => store.addendaOf(reportId),
  };
}

/**
 * The report library (templates and 常用语) and a report's attachments (measurements and key
 * images), as the server answers them (productivity/ and reports/report-attachments.ts).
 */
import type { ReportTemplate } from './types.ts';

/** system: the starter set (read-only); institution: the institution's readers; personal: the owner only */
export type LibraryScope = 'system' | 'institution' | 'personal';

export interface LibraryTemplate extends ReportTemplate {
  scope: LibraryScope;
  owner: string | null;
  institutionId: string | null;
  updatedAt: string;
}

export interface LibraryPhrase {
  id: string;
  scope: LibraryScope;
  owner: string | null;
  institutionId: string | null;
  group: string;
  /** a short abbreviation (pinyin initials) typed after "/" */
  trigger: string | null;
  text: string;
  updatedAt: string;
}

export interface ImageRef {
  studyInstanceUid: string;
  seriesInstanceUid: string;
  sopInstanceUid: string;
  frame: number;
  seriesNumber: number | null;
  instanceNumber: number | null;
}

export type MeasurementTool = 'length' | 'angle' | 'rectangleRoi' | 'ellipseRoi';

export interface ReportMeasurement extends ImageRef {
  tool: MeasurementTool | string;
  value: number;
  unit: string;
  /** the line as inserted into the findings */
  text: string;
}

export interface ReportKeyImage extends ImageRef {
  note: string | null;
}

/** GET /api/v1/reports/{id}/attachments */
export interface ReportAttachments {
  measurements: ReportMeasurement[];
  keyImages: ReportKeyImage[];
}

/** Fired on window when a template or phrase changed, so open editors reload their lists. */
export const LIBRARY_CHANGED_EVENT = 'yunying:library-changed';

import { randomUUID } from 'node:crypto';
import { badRequest } from '../errors.ts';
import type { ReportAttachmentTable } from '../store/productivity-store.ts';

/**
 * A report's attachments (migration 0017): the measurements the radiologist took in the
 * viewer and the key images marked, saved with the draft and shown to the reviewer, who
 * opens a key image in the viewer. They name images of the report's own study only.
 */
export interface ReportMeasurement {
  /** the report's study (the default) */
  studyInstanceUid?: string;
  /** the viewer tool: length, angle, rectangleRoi, ellipseRoi */
  tool: string;
  value: number;
  unit: string;
  /** the line as inserted into the findings, e.g. "长径 23.4 mm（序列 2，图像 45）" */
  text: string;
  seriesInstanceUid: string;
  sopInstanceUid: string;
  frame: number;
  seriesNumber?: number | null;
  instanceNumber?: number | null;
}

export interface ReportKeyImage {
  /** the report's study (the default) */
  studyInstanceUid?: string;
  seriesInstanceUid: string;
  sopInstanceUid: string;
  frame: number;
  seriesNumber?: number | null;
  instanceNumber?: number | null;
  note?: string | null;
}

export interface ReportAttachments {
  measurements: Array<Required<Omit<ReportMeasurement, 'seriesNumber' | 'instanceNumber' | 'studyInstanceUid'>> & { studyInstanceUid: string; seriesNumber: number | null; instanceNumber: number | null }>;
  keyImages: Array<{ studyInstanceUid: string; seriesInstanceUid: string; sopInstanceUid: string; frame: number; seriesNumber: number | null; instanceNumber: number | null; note: string | null }>;
}

/** The rows of one kind, validated against the report's study. */
export function attachmentRows(reportId: string, studyInstanceUid: string, by: string, input: { measurements?: readonly ReportMeasurement[]; keyImages?: readonly ReportKeyImage[] }): { measurements?: ReportAttachmentTable[]; keyImages?: ReportAttachmentTable[] } {
  const now = new Date().toISOString();
  const base = (position: number, item: { seriesInstanceUid: string; sopInstanceUid: string; frame: number; seriesNumber?: number | null; instanceNumber?: number | null }) => ({
    id: randomUUID(),
    report_id: reportId,
    position,
    study_instance_uid: studyInstanceUid,
    series_instance_uid: item.seriesInstanceUid,
    sop_instance_uid: item.sopInstanceUid,
    frame: item.frame,
    series_number: item.seriesNumber ?? null,
    instance_number: item.instanceNumber ?? null,
    created_at: now,
    created_by: by,
  });
  const out: { measurements?: ReportAttachmentTable[]; keyImages?: ReportAttachmentTable[] } = {};
  if (input.measurements) {
    out.measurements = input.measurements.map((m, i) => {
      if (m.studyInstanceUid && m.studyInstanceUid !== studyInstanceUid) throw badRequest('INVALID_ATTACHMENT', `measurement ${i + 1} is not on an image of the report's study`);
      if (!Number.isFinite(m.value)) throw badRequest('INVALID_ATTACHMENT', `measurement ${i + 1}: the value is not a number`);
      return { ...base(i, m), kind: 'measurement', tool: m.tool, value: m.value, unit: m.unit, text: m.text };
    });
  }
  if (input.keyImages) {
    const seen = new Set<string>();
    out.keyImages = [];
    for (const [i, k] of input.keyImages.entries()) {
      if (k.studyInstanceUid && k.studyInstanceUid !== studyInstanceUid) throw badRequest('INVALID_ATTACHMENT', `key image ${i + 1} is not an image of the report's study`);
      const key = `${k.sopInstanceUid}/${k.frame}`;
      if (seen.has(key)) continue;
      seen.add(key);
      out.keyImages.push({ ...base(out.keyImages.length, k), kind: 'key-image', tool: null, value: null, unit: null, text: k.note?.trim() ?? '' });
    }
  }
  return out;
}

export function attachmentsView(rows: readonly ReportAttachmentTable[]): ReportAttachments {
  const measurements: ReportAttachments['measurements'] = [];
  const keyImages: ReportAttachments['keyImages'] = [];
  for (const row of rows) {
    const image = { studyInstanceUid: row.study_instance_uid, seriesInstanceUid: row.series_instance_uid, sopInstanceUid: row.sop_instance_uid, frame: row.frame, seriesNumber: row.series_number, instanceNumber: row.instance_number };
    if (row.kind === 'measurement') measurements.push({ ...image, tool: row.tool ?? '', value: Number(row.value), unit: row.unit ?? '', text: row.text });
    else if (row.kind === 'key-image') keyImages.push({ ...image, note: row.text || null });
  }
  return { measurements, keyImages };
}

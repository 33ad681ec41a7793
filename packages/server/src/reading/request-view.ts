import type { ReadingRequestRow, WorklistRow } from '../store/reading-store.ts';
import { remainingSeconds } from './sla.ts';

export interface ReadingRequestView {
  id: string;
  studyInstanceUid: string;
  requestingInstitutionId: string;
  readingInstitutionId: string;
  requestedBy: string;
  priority: string;
  status: string;
  clinicalHistory: string | null;
  examItems: string[];
  bodyParts: string[];
  modality: string | null;
  claimedBy: string | null;
  retakeReason: string | null;
  createdAt: string;
  imagesCompleteAt: string | null;
  submittedAt: string | null;
  signedAt: string | null;
  dueAt: string | null;
  remainingSeconds: number | null;
  overdue: boolean;
  /** images complete → signed */
  turnaroundSeconds: number | null;
  patient?: { id: string | null; name: string | null; sex: string | null; birthDate: string | null };
  studyDate?: string | null;
  accessionNumber?: string | null;
  instances?: number;
  requestingInstitutionName?: string | null;
  readingInstitutionName?: string | null;
}

/** A study of the same patient offered for comparison; not accessible until opened with a reason. */
export interface PriorView {
  studyInstanceUid: string;
  studyDate: string | null;
  description: string | null;
  modalities: string[];
  institutionId: string;
  hasSignedReport: boolean;
  accessible: boolean;
}

/** A request as the screens show it, with its SLA countdown (and patient columns for a worklist row). */
export function requestView(row: ReadingRequestRow | WorklistRow, now = Date.now()): ReadingRequestView {
  const remaining = remainingSeconds(row.due_at, now);
  const open = row.status !== 'signed' && row.status !== 'cancelled';
  const patient = 'patient_id' in row ? { id: row.patient_id, name: row.patient_name, sex: row.patient_sex, birthDate: row.patient_birth_date } : undefined;
  return {
    id: row.id,
    studyInstanceUid: row.study_instance_uid,
    requestingInstitutionId: row.requesting_institution_id,
    readingInstitutionId: row.reading_institution_id,
    requestedBy: row.requested_by,
    priority: row.priority,
    status: row.status,
    clinicalHistory: row.clinical_history,
    examItems: JSON.parse(row.exam_items) as string[],
    bodyParts: JSON.parse(row.body_parts) as string[],
    modality: row.modality,
    claimedBy: row.claimed_by,
    retakeReason: row.retake_reason,
    createdAt: row.created_at,
    imagesCompleteAt: row.images_complete_at,
    submittedAt: row.submitted_at,
    signedAt: row.signed_at,
    dueAt: row.due_at,
    remainingSeconds: open ? remaining ?? null : null,
    overdue: open && remaining !== undefined && remaining < 0,
    turnaroundSeconds: row.signed_at && row.images_complete_at ? Math.round((Date.parse(row.signed_at) - Date.parse(row.images_complete_at)) / 1000) : null,
    ...(patient
      ? {
          patient,
          studyDate: (row as WorklistRow).study_date,
          accessionNumber: (row as WorklistRow).accession_number,
          instances: (row as WorklistRow).instances,
          requestingInstitutionName: (row as WorklistRow).requesting_institution_name,
          readingInstitutionName: (row as WorklistRow).reading_institution_name,
        }
      : {}),
  };
}

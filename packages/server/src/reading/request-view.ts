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
  /** the claimer's display name (赵医生) when known; claimedBy stays the user name */
  claimedByName?: string | null;
  patient?: { id: string | null; name: string | null; sex: string | null; birthDate: string | null; ageAtStudy: PatientAge | null };
  studyDate?: string | null;
  accessionNumber?: string | null;
  instances?: number;
  requestingInstitutionName?: string | null;
  readingInstitutionName?: string | null;
  /** worklist rows: the report's status (draft, submitted, returned, signed) or null; 'returned' is 已退回 on the author's list */
  reportStatus?: string | null;
  /** worklist rows of a returned report: the reviewer's comments */
  reviewComments?: string | null;
}

/** The patient's age at the study: from (0010,1010) Patient's Age, else birth date to study date. */
export interface PatientAge {
  value: number;
  /** DICOM AS units: years, months, weeks, days */
  unit: 'Y' | 'M' | 'W' | 'D';
}

/** "045Y" → 45 years; anything else that is not an AS value → null. */
export function parsePatientAge(value: string | null | undefined): PatientAge | null {
  const match = /^(\d{3})([DWMY])$/.exec(value?.trim() ?? '');
  return match ? { value: Number(match[1]), unit: match[2] as PatientAge['unit'] } : null;
}

/**
 * Completed years between two DA dates (YYYYMMDD); under one year in months, under a month
 * in days, as a radiologist reads an infant's age. Null for a missing or impossible date.
 */
export function ageBetween(birthDate: string | null | undefined, studyDate: string | null | undefined): PatientAge | null {
  const birth = dicomDate(birthDate);
  const study = dicomDate(studyDate);
  if (!birth || !study || study.serial < birth.serial) return null;
  const beforeBirthday = study.month < birth.month || (study.month === birth.month && study.day < birth.day);
  const years = study.year - birth.year - (beforeBirthday ? 1 : 0);
  if (years >= 1) return { value: years, unit: 'Y' };
  const months = (study.year - birth.year) * 12 + study.month - birth.month - (study.day < birth.day ? 1 : 0);
  if (months >= 1) return { value: months, unit: 'M' };
  return { value: Math.round((study.serial - birth.serial) / 86_400_000), unit: 'D' };
}

function dicomDate(value: string | null | undefined): { year: number; month: number; day: number; serial: number } | undefined {
  const match = /^(\d{4})(\d{2})(\d{2})$/.exec(value?.trim() ?? '');
  if (!match) return undefined;
  const [year, month, day] = [Number(match[1]), Number(match[2]), Number(match[3])];
  const serial = Date.UTC(year, month - 1, day);
  if (new Date(serial).getUTCDate() !== day) return undefined;
  return { year, month, day, serial };
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
  const patient = 'patient_id' in row ? { id: row.patient_id, name: row.patient_name, sex: row.patient_sex, birthDate: row.patient_birth_date, ageAtStudy: parsePatientAge(row.patient_age) ?? ageBetween(row.patient_birth_date, row.study_date) } : undefined;
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
          claimedByName: (row as WorklistRow).claimed_by_display_name ?? null,
          studyDate: (row as WorklistRow).study_date,
          accessionNumber: (row as WorklistRow).accession_number,
          instances: (row as WorklistRow).instances,
          requestingInstitutionName: (row as WorklistRow).requesting_institution_name,
          readingInstitutionName: (row as WorklistRow).reading_institution_name,
          reportStatus: (row as WorklistRow).report_status ?? null,
          reviewComments: (row as WorklistRow).report_review_comments ?? null,
        }
      : {}),
  };
}

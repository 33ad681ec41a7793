/**
 * The shapes of the recognition routes (检查结果互认, issue 17: server recognition/), apart from
 * the calls (recognition.ts), so that pure modules and their unit tests use them without the
 * API client.
 */

export type LinkKind = 'national-id' | 'confirmed' | 'merged' | 'own';

export interface PersonIdentifier {
  /** the identity's id (unlink names it) */
  id: string;
  system: string;
  /** masked when it is a resident ID */
  value: string;
  patientId: string;
  issuerOfPatientId: string | null;
  institutionId: string;
  institutionName: string | null;
  linkKind: LinkKind;
}

/** A probable link (name + birth date + sex) awaiting a clinician's or administrator's decision. */
export interface LinkCandidate {
  id: string;
  /** the other person */
  personId: string;
  identityId: string;
  names: string[];
  birthDate: string | null;
  sex: string | null;
  institutionId: string;
  institutionName: string | null;
  matchedOn: string[];
  createdAt: string;
}

export interface PersonView {
  id: string;
  names: string[];
  birthDate: string | null;
  sex: 'M' | 'F' | 'O' | null;
  /** masked, "3201**********1234" */
  nationalId: string | null;
  identifiers: PersonIdentifier[];
  candidates: LinkCandidate[];
  mergedInto: string | null;
}

export type TimelineReportStatus = 'none' | 'requested' | 'reading' | 'signed' | 'cancelled';
export type TimelineAccess = 'visible' | 'granted' | 'request-needed';
export type RecognitionDecision = 'recognised' | 'not-recognised';

export interface RecognitionRecord {
  id: string;
  decision: RecognitionDecision;
  reason: string;
  studyInstanceUid: string;
  /** the recorder's name as the server keeps it */
  byName: string;
  avoidedExamItem: string | null;
  avoidedBodyParts: string[];
  institutionId: string;
  at: string;
}

export interface TimelineEntry {
  studyInstanceUid: string;
  studyDate: string | null;
  institutionId: string;
  institutionName: string | null;
  modalities: string[];
  bodyParts: string[];
  description: string | null;
  reportStatus: TimelineReportStatus;
  /** only when signed and visible to the caller */
  impression: string | null;
  access: TimelineAccess;
  grantExpiresAt: string | null;
  recognitions: RecognitionRecord[];
}

export interface Timeline {
  patient: PersonView;
  entries: TimelineEntry[];
}

export interface AccessGrant {
  studyInstanceUid: string;
  expiresAt: string;
  emergency: boolean;
}

export interface DuplicateMatch {
  studyInstanceUid: string;
  institutionId: string;
  institutionName: string | null;
  studyDate: string | null;
  modality: string | null;
  bodyPart: string | null;
  reportStatus: TimelineReportStatus;
  recognisable: boolean;
  reason: string;
}

export interface RecognitionItem {
  region: string;
  code: string;
  name: string;
  modality: string;
  bodyPart: string | null;
  windowDays: number;
  minInstitutionGrade: number | null;
  requireSignedReport: boolean;
  referencePriceYuan: number | null;
}

export type PatientSearch = { nationalId: string } | { name: string; birthDate: string };

export interface RecognitionInput {
  studyInstanceUid: string;
  decision: RecognitionDecision;
  reason: string;
  avoidedExamItem?: string;
  avoidedBodyParts?: string[];
}

export interface DuplicateCheckInput {
  patient: { nationalId: string } | { patientId: string; issuerOfPatientId?: string; institutionId: string };
  modality: string;
  bodyPart?: string;
  examItem?: string;
  withinDays?: number;
}

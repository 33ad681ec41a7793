/** The shapes the server's REST API answers with (packages/server/src/reading, access). */

export type Role =
  | 'technologist'
  | 'radiologist'
  | 'reviewing-radiologist'
  | 'expert'
  | 'clinician'
  | 'qc-officer'
  | 'commission-analyst'
  | 'insurance-auditor'
  | 'administrator'
  | 'gateway'
  | 'modality';

export const ROLES: readonly Role[] = ['technologist', 'radiologist', 'reviewing-radiologist', 'expert', 'clinician', 'qc-officer', 'commission-analyst', 'insurance-auditor', 'administrator', 'gateway'];

export interface PublicUser {
  id: string;
  username: string;
  displayName: string | null;
  institutionId: string;
  role: Role;
  enabled: boolean;
}

export interface LoginResult {
  token: string;
  expiresAt: string;
  user: PublicUser;
}

export type Priority = 'emergency' | 'urgent' | 'routine';
export const PRIORITIES: readonly Priority[] = ['emergency', 'urgent', 'routine'];

export type RequestStatus = 'awaiting-images' | 'pending' | 'claimed' | 'submitted' | 'signed' | 'retake-requested' | 'cancelled';
export const REQUEST_STATUSES: readonly RequestStatus[] = ['awaiting-images', 'pending', 'claimed', 'submitted', 'signed', 'retake-requested', 'cancelled'];

/** Age at the study (PatientAge, or birth date to study date), in DICOM AS units. */
export interface PatientAge {
  value: number;
  unit: 'Y' | 'M' | 'W' | 'D';
}

export interface ReadingRequest {
  id: string;
  studyInstanceUid: string;
  requestingInstitutionId: string;
  /** the institutions' names (the worklist's and request views carry them) */
  requestingInstitutionName?: string | null;
  readingInstitutionName?: string | null;
  readingInstitutionId: string;
  requestedBy: string;
  priority: Priority;
  status: RequestStatus;
  clinicalHistory: string | null;
  examItems: string[];
  bodyParts: string[];
  modality: string | null;
  claimedBy: string | null;
  /** the claimer's display name (worklist rows), when the account has one */
  claimedByName?: string | null;
  retakeReason: string | null;
  createdAt: string;
  imagesCompleteAt: string | null;
  submittedAt: string | null;
  signedAt: string | null;
  dueAt: string | null;
  remainingSeconds: number | null;
  overdue: boolean;
  turnaroundSeconds: number | null;
  patient?: { id: string | null; name: string | null; sex: string | null; birthDate: string | null; ageAtStudy?: PatientAge | null };
  studyDate?: string | null;
  accessionNumber?: string | null;
  instances?: number;
  /** worklist rows (review stage): the report's status, 'returned' is 已退回 on the author's list */
  reportStatus?: ReportStatus | null;
  /** worklist rows of a returned report: the reviewer's comments */
  reviewComments?: string | null;
}

export type ReportStatus = 'draft' | 'submitted' | 'returned' | 'signed';

export interface Report {
  id: string;
  requestId: string;
  studyInstanceUid: string;
  status: ReportStatus;
  version: number;
  findings: string;
  impression: string;
  positive: boolean | null;
  templateId: string | null;
  author: string;
  reviewer: string | null;
  reviewComments: string | null;
  createdAt: string;
  updatedAt: string;
  submittedAt: string | null;
  signedAt: string | null;
  structuredReportSopInstanceUid: string | null;
  /** 报告编号 (KS-COUNTY-2026-000123), given at signing; null before (issue 14 item 4) */
  reportNumber?: string | null;
  /** the people's display names (赵医生), when they have one (the request's detail and GET /reports/{id}) */
  authorName?: string | null;
  reviewerName?: string | null;
}

export interface ReportVersion {
  version: number;
  /** review-edit: the reviewer's changed text, signed right after (修改后审核) */
  kind: 'submitted' | 'signed' | 'returned' | 'addendum' | 'review-edit';
  findings: string;
  impression: string;
  positive: boolean | null;
  addendum: string | null;
  savedBy: string;
  savedAt: string;
}

export interface ReadingRequestDetail extends ReadingRequest {
  events: Array<{ at: string; actor: string; from: string | null; to: string; details: unknown }>;
  report?: Report;
}

export interface ReportDetail extends Report {
  versions: Array<ReportVersion & { savedByName?: string | null; /** 第 N 版 of an issued version (signed 1, each addendum +1); null otherwise */ issuedVersion?: number | null }>;
  /** issued versions so far: 1 once signed, +1 per addendum; 0 before signing */
  issuedVersion?: number;
  /** review stage: each signed version's electronic signature */
  signatures?: ReportSignature[];
}

/** The electronic signature of a signed version: who, when, how, and what it signed. */
export interface ReportSignature {
  version: number;
  signer: string;
  signerName: string | null;
  signedAt: string;
  method: 'password' | 'pin';
  /** the author's submitted version */
  submittedVersion: number;
  /** the reviewer's review-edit version, when they changed the text before signing */
  reviewEditVersion: number | null;
}

export interface ReportTemplate {
  id: string;
  modality: string;
  bodyPart: string;
  name: string;
  findings: string;
  impression: string;
}

export interface PriorStudy {
  studyInstanceUid: string;
  studyDate: string | null;
  description: string | null;
  modalities: string[];
  institutionId: string;
  hasSignedReport: boolean;
  /** false: the reading centre may not see it yet; opened with a reason (调阅) */
  accessible: boolean;
}

export interface Institution {
  id: string;
  name: string;
  tier: string | null;
  grade: number | null;
  regionCode: string | null;
  parentId: string | null;
  serves: string[];
}

export interface ApplicationEntity {
  aeTitle: string;
  institutionId: string;
  host?: string;
  port?: number;
  description?: string;
}

export interface RoutingRule {
  id: string;
  name: string;
  position: number;
  enabled: number;
  source_institution_id: string | null;
  modality: string | null;
  body_part: string | null;
  time_from: string | null;
  time_to: string | null;
  reading_institution_id: string;
  priority: string;
  created_at: string;
}

export interface StudyCount {
  key: string | null;
  studies: number;
  instances: number;
}

export interface AuditEvent {
  seq: number;
  occurred_at: string;
  action: string;
  outcome: string;
  actor_kind: string;
  actor_name: string | null;
  actor_role: string | null;
  actor_institution_id: string | null;
  remote_address: string | null;
  via: string | null;
  object_type: string | null;
  object_id: string | null;
  patient_id: string | null;
  details: unknown;
}

/** A notification from GET /api/v1/events. */
export interface LiveEvent {
  seq: number;
  type: string;
  institutionId: string;
  createdAt: string;
  payload: Record<string, unknown>;
}

/**
 * Mutual recognition (检查结果互认, issue 17): the regional patient index, the imaging
 * timeline, access requests, recognition records, duplicate-exam checks and the item
 * catalogue, as the server's recognition module answers them (/work/notes/recognition-contract.md).
 */
import { api } from './client.ts';

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

const patientPath = (personId: string) => `/api/v1/patients/${encodeURIComponent(personId)}`;

export function searchPatients(search: PatientSearch): Promise<PersonView[]> {
  return api.get<PersonView[]>('/api/v1/patients', search);
}

export function fetchTimeline(personId: string): Promise<Timeline> {
  return api.get<Timeline>(`${patientPath(personId)}/timeline`);
}

export function requestStudyAccess(personId: string, request: { studyInstanceUid: string; reason: string; emergency: boolean }): Promise<AccessGrant> {
  return api.post<AccessGrant>(`${patientPath(personId)}/access-requests`, request);
}

export function decideCandidate(personId: string, candidateId: string, decision: 'confirm' | 'reject', reason?: string): Promise<PersonView> {
  return api.post<PersonView>(`${patientPath(personId)}/candidates/${encodeURIComponent(candidateId)}/${decision}`, reason ? { reason } : {});
}

export function mergePerson(personId: string, otherPersonId: string, reason: string): Promise<PersonView> {
  return api.post<PersonView>(`${patientPath(personId)}/merge`, { personId: otherPersonId, reason });
}

export function unmergePerson(personId: string, otherPersonId: string, reason: string): Promise<PersonView> {
  return api.post<PersonView>(`${patientPath(personId)}/unmerge`, { personId: otherPersonId, reason });
}

export function unlinkIdentity(personId: string, identityId: string, reason: string): Promise<PersonView> {
  return api.post<PersonView>(`${patientPath(personId)}/unlink`, { identityId, reason });
}

export interface RecognitionInput {
  studyInstanceUid: string;
  decision: RecognitionDecision;
  reason: string;
  avoidedExamItem?: string;
  avoidedBodyParts?: string[];
}

export function recordRecognition(input: RecognitionInput): Promise<RecognitionRecord> {
  return api.post<RecognitionRecord>('/api/v1/recognitions', input);
}

export interface DuplicateCheckInput {
  patient: { nationalId: string } | { patientId: string; issuerOfPatientId?: string; institutionId: string };
  modality: string;
  bodyPart?: string;
  examItem?: string;
  withinDays?: number;
}

export function checkDuplicates(input: DuplicateCheckInput): Promise<{ matches: DuplicateMatch[] }> {
  return api.post<{ matches: DuplicateMatch[] }>('/api/v1/duplicate-checks', input);
}

export function listRecognitionItems(region?: string): Promise<RecognitionItem[]> {
  return api.get<RecognitionItem[]>('/api/v1/recognition-items', { region });
}

export function saveRecognitionItem(item: RecognitionItem): Promise<RecognitionItem> {
  const { code, ...body } = item;
  return api.put<RecognitionItem>(`/api/v1/recognition-items/${encodeURIComponent(code)}`, body);
}

export function deleteRecognitionItem(code: string, region: string): Promise<void> {
  return api.delete<void>(`/api/v1/recognition-items/${encodeURIComponent(code)}?region=${encodeURIComponent(region)}`);
}

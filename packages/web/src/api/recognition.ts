/**
 * Mutual recognition (检查结果互认, issue 17): the regional patient index, the imaging
 * timeline, access requests, recognition records, duplicate-exam checks and the item
 * catalogue, as the server's recognition module answers them (/work/notes/recognition-contract.md).
 */
import { api } from './client.ts';
import type { AccessGrant, DuplicateCheckInput, DuplicateMatch, PatientSearch, PersonView, RecognitionInput, RecognitionItem, RecognitionRecord, Timeline } from './recognition-types.ts';

export type * from './recognition-types.ts';

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

export function recordRecognition(input: RecognitionInput): Promise<RecognitionRecord> {
  return api.post<RecognitionRecord>('/api/v1/recognitions', input);
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

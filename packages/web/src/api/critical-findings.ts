/** 危急值 (critical findings): the server's views (critical-findings/critical-finding-service.ts) and calls. */
import { api } from './client.ts';
import type { Role } from './types.ts';

export interface CriticalCategory {
  code: string;
  zh: string;
  en: string;
}

export const INFORMED_VIA = ['phone', 'in-person', 'sms', 'other'] as const;
export type InformedVia = (typeof INFORMED_VIA)[number];

export interface CriticalFinding {
  id: string;
  requestId: string;
  studyInstanceUid: string;
  requestingInstitutionId: string;
  requestingInstitutionName: string | null;
  readingInstitutionId: string;
  readingInstitutionName: string | null;
  category: string;
  categoryZh: string;
  categoryEn: string;
  note: string;
  flaggedBy: string;
  flaggedByName: string | null;
  flaggedAt: string;
  status: 'open' | 'acknowledged';
  smsStatus: 'sent' | 'failed' | 'no-phone' | null;
  escalations: number;
  lastAlertedAt: string;
  escalatedAt: string | null;
  acknowledgement: null | { acknowledgedBy: string; receivedBy: string; informedVia: InformedVia; clinicianName: string | null; informedAt: string; acknowledgedAt: string; note: string | null };
  secondsToAcknowledge: number | null;
  patient?: { id: string | null; name: string | null; sex: string | null };
  accessionNumber?: string | null;
  modality?: string | null;
}

export interface AcknowledgeBody {
  receivedBy: string;
  informedVia: InformedVia;
  clinicianName?: string;
  informedAt?: string;
  note?: string;
}

/** The live notification types of critical findings (server: critical-finding-service.ts). */
export const CRITICAL_EVENT_TYPES = ['critical-finding.flagged', 'critical-finding.escalated', 'critical-finding.acknowledged'] as const;

/** Roles holding critical:read, critical:flag and critical:acknowledge (server: critical-findings/module.ts). */
export const CRITICAL_READERS: readonly Role[] = ['technologist', 'radiologist', 'reviewing-radiologist', 'expert', 'clinician', 'qc-officer', 'administrator'];
export const CRITICAL_FLAGGERS: readonly Role[] = ['radiologist', 'reviewing-radiologist', 'expert'];
export const CRITICAL_ACKNOWLEDGERS: readonly Role[] = ['technologist', 'clinician'];

export const criticalApi = {
  categories: () => api.get<CriticalCategory[]>('/api/v1/critical-findings/categories'),
  ofRequest: (requestId: string) => api.get<CriticalFinding[]>(`/api/v1/reading-requests/${requestId}/critical-findings`),
  list: (query: { status?: 'open' | 'acknowledged'; from?: string; to?: string; limit?: number } = {}) => api.get<CriticalFinding[]>('/api/v1/critical-findings', query),
  flag: (requestId: string, body: { category: string; note?: string }) => api.post<CriticalFinding>(`/api/v1/reading-requests/${requestId}/critical-findings`, body),
  acknowledge: (id: string, body: AcknowledgeBody) => api.post<CriticalFinding>(`/api/v1/critical-findings/${id}/acknowledgement`, body),
};

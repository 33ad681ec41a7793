/**
 * Consultation (普通/疑难/急会诊), MDT sessions and two-way referral (双向转诊, issue 18): the
 * views and calls of the server's consult module, as docs/consultation.md states them.
 */
import { api, openBlob } from './client.ts';
import type { Role } from './types.ts';

export const CONSULTATION_TYPES = ['routine', 'difficult', 'emergency'] as const;
export type ConsultationType = (typeof CONSULTATION_TYPES)[number];
export const CONSULTATION_STATUSES = ['requested', 'accepted', 'in-progress', 'answered', 'closed', 'cancelled', 'declined'] as const;
export type ConsultationStatus = (typeof CONSULTATION_STATUSES)[number];
export type ExpertStatus = 'invited' | 'accepted' | 'declined' | 'replaced';

/** The contract's permissions by role (consult/module.ts): the UI knows the caller's role only (GET /api/v1/auth/me). */
const PERMISSION_ROLES = {
  'consult:request': ['radiologist', 'reviewing-radiologist', 'clinician'],
  'consult:answer': ['expert'],
  'consult:read': ['radiologist', 'reviewing-radiologist', 'clinician', 'expert', 'administrator'],
  'consult:agreements': ['administrator'],
  'consult:statistics': ['commission-analyst', 'qc-officer', 'administrator'],
  'referral:write': ['clinician', 'radiologist', 'reviewing-radiologist', 'expert'],
  'referral:read': ['clinician', 'radiologist', 'reviewing-radiologist', 'expert', 'administrator'],
  'mdt:write': ['clinician', 'radiologist', 'reviewing-radiologist', 'expert'],
  'mdt:read': ['clinician', 'radiologist', 'reviewing-radiologist', 'expert', 'administrator'],
} as const satisfies Record<string, readonly Role[]>;
export type ConsultPermission = keyof typeof PERMISSION_ROLES;

export function rolesWith(permission: ConsultPermission): readonly Role[] {
  return PERMISSION_ROLES[permission];
}

export function mayConsult(role: Role, permission: ConsultPermission): boolean {
  return (PERMISSION_ROLES[permission] as readonly Role[]).includes(role);
}

export interface ConsultationOpinion {
  text: string;
  signed: boolean;
  signedAt: string | null;
}

export interface ConsultationExpert {
  username: string;
  displayName: string | null;
  status: ExpertStatus;
  lead: boolean;
  viaRoster: boolean;
  respondedAt: string | null;
  declineReason: string | null;
  opinion: ConsultationOpinion | null;
}

export interface ConsultationView {
  id: string;
  type: ConsultationType;
  status: ConsultationStatus;
  requestingInstitutionId: string;
  requestingInstitutionName: string | null;
  expertInstitutionId: string;
  expertInstitutionName: string | null;
  requestedBy: string;
  requestedByName: string | null;
  studyInstanceUids: string[];
  question: string;
  clinicalSummary: string;
  attachments: Array<{ title: string; reportId?: string | null }>;
  experts: ConsultationExpert[];
  lead: string | null;
  conclusion: { text: string; signedBy: string; signedByName: string | null; signedAt: string } | null;
  followUpNote: string | null;
  slaMinutes: number;
  dueAt: string;
  overdue: boolean;
  createdAt: string;
  acceptedAt: string | null;
  firstOpinionAt: string | null;
  answeredAt: string | null;
  closedAt: string | null;
}

export interface ConsultationInput {
  type: ConsultationType;
  studyInstanceUids: string[];
  question: string;
  clinicalSummary: string;
  attachments?: Array<{ title: string; reportId?: string }>;
  invitedExperts?: string[];
  invitedInstitutionId?: string;
}

/** the e-signature: the password or the signing PIN */
export type SigningSecret = { password: string } | { pin: string };

export interface ConsultationAgreement {
  id: string;
  requestingInstitutionId: string;
  expertInstitutionId: string;
  createdAt: string;
  createdBy: string;
  endedAt: string | null;
}

export interface DutyRosterEntry {
  id: string;
  institutionId: string;
  username: string;
  displayName: string | null;
  startsAt: string;
  endsAt: string;
  types: ConsultationType[] | null;
}

const consultationPath = (id: string) => `/api/v1/consultations/${encodeURIComponent(id)}`;

export const consultationsApi = {
  list: (box: 'outgoing' | 'incoming', status?: ConsultationStatus) => api.get<ConsultationView[]>('/api/v1/consultations', { box, status }),
  get: (id: string) => api.get<ConsultationView>(consultationPath(id)),
  create: (input: ConsultationInput) => api.post<ConsultationView>('/api/v1/consultations', input),
  accept: (id: string) => api.post<ConsultationView>(`${consultationPath(id)}/accept`, {}),
  decline: (id: string, reason: string) => api.post<ConsultationView>(`${consultationPath(id)}/decline`, { reason }),
  inviteExpert: (id: string, username: string, replaces?: string) => api.post<ConsultationView>(`${consultationPath(id)}/experts`, { username, ...(replaces ? { replaces } : {}) }),
  saveOpinion: (id: string, text: string, secret?: SigningSecret) => api.post<ConsultationView>(`${consultationPath(id)}/opinions`, { text, sign: !!secret, ...secret }),
  signConclusion: (id: string, text: string, secret: SigningSecret) => api.post<ConsultationView>(`${consultationPath(id)}/conclusion`, { text, ...secret }),
  close: (id: string, followUpNote?: string) => api.post<ConsultationView>(`${consultationPath(id)}/close`, followUpNote ? { followUpNote } : {}),
  cancel: (id: string, reason: string) => api.post<ConsultationView>(`${consultationPath(id)}/cancel`, { reason }),
  pdfPath: (id: string) => `${consultationPath(id)}/pdf`,
  openPdf: (id: string) => openBlob(`${consultationPath(id)}/pdf`),
  agreements: () => api.get<ConsultationAgreement[]>('/api/v1/consultation-agreements'),
  dutyRoster: (query: { institutionId?: string; from?: string; to?: string }) => api.get<DutyRosterEntry[]>('/api/v1/duty-roster', query),
};

// ---- MDT sessions ----

export type MdtStatus = 'scheduled' | 'held' | 'cancelled';

export interface MdtPatient {
  patientId: string;
  issuerOfPatientId: string | null;
  name: string | null;
}

export interface MdtSessionView {
  id: string;
  title: string;
  status: MdtStatus;
  institutionId: string;
  organizer: string;
  organizerName: string | null;
  scheduledAt: string;
  consultationId: string | null;
  patient: MdtPatient | null;
  studyInstanceUids: string[];
  reportIds: string[];
  attachments: Array<{ title: string; text?: string | null }>;
  departments: string[];
  participants: Array<{ username: string; displayName: string | null; department: string; attendedAt: string | null }>;
  minutes: string | null;
  decisions: string[];
  followUpDate: string | null;
  roomUrl: string | null;
  createdAt: string;
  recordedAt: string | null;
}

export interface MdtSessionInput {
  title: string;
  scheduledAt: string;
  studyInstanceUids: string[];
  reportIds?: string[];
  attachments?: Array<{ title: string; text?: string }>;
  departments: string[];
  participants: Array<{ username: string; department: string }>;
  consultationId?: string;
}

const mdtPath = (id: string) => `/api/v1/mdt-sessions/${encodeURIComponent(id)}`;

export const mdtApi = {
  list: (query: { from?: string; to?: string } = {}) => api.get<MdtSessionView[]>('/api/v1/mdt-sessions', query),
  get: (id: string) => api.get<MdtSessionView>(mdtPath(id)),
  schedule: (input: MdtSessionInput) => api.post<MdtSessionView>('/api/v1/mdt-sessions', input),
  attend: (id: string) => api.post<MdtSessionView>(`${mdtPath(id)}/attendance`, {}),
  recordMinutes: (id: string, record: { minutes: string; decisions: string[]; followUpDate?: string }) => api.post<MdtSessionView>(`${mdtPath(id)}/minutes`, record),
};

// ---- referrals ----

export type ReferralDirection = 'up' | 'down';
export const REFERRAL_STATUSES = ['requested', 'accepted', 'refused', 'completed', 'cancelled'] as const;
export type ReferralStatus = (typeof REFERRAL_STATUSES)[number];

export interface ReferralPatient {
  patientId: string;
  issuerOfPatientId?: string | null;
  name?: string | null;
  sex?: string | null;
  birthDate?: string | null;
}

export interface ReferralView {
  id: string;
  direction: ReferralDirection;
  status: ReferralStatus;
  patient: ReferralPatient;
  fromInstitutionId: string;
  fromInstitutionName: string | null;
  toInstitutionId: string;
  toInstitutionName: string | null;
  reason: string;
  studyInstanceUids: string[];
  reportIds: string[];
  dischargeSummary: string | null;
  followUpPlan: string | null;
  requestedBy: string;
  requestedByName: string | null;
  respondedBy: string | null;
  responseNote: string | null;
  outcome: string | null;
  createdAt: string;
  respondedAt: string | null;
  completedAt: string | null;
}

export interface ReferralInput {
  direction: ReferralDirection;
  patient: ReferralPatient;
  fromInstitutionId: string;
  toInstitutionId: string;
  reason: string;
  studyInstanceUids: string[];
  reportIds: string[];
  dischargeSummary?: string;
  followUpPlan?: string;
}

export interface ReferralSuggestion {
  institutionId: string;
  name: string;
  tier: string;
  basis: 'alliance' | 'regional-centre' | 'provincial-centre' | string;
}

const referralPath = (id: string) => `/api/v1/referrals/${encodeURIComponent(id)}`;

export const referralsApi = {
  list: (box: 'in' | 'out', status?: ReferralStatus) => api.get<ReferralView[]>('/api/v1/referrals', { box, status }),
  get: (id: string) => api.get<ReferralView>(referralPath(id)),
  create: (input: ReferralInput) => api.post<ReferralView>('/api/v1/referrals', input),
  accept: (id: string, note?: string) => api.post<ReferralView>(`${referralPath(id)}/accept`, note ? { note } : {}),
  refuse: (id: string, reason: string) => api.post<ReferralView>(`${referralPath(id)}/refuse`, { reason }),
  complete: (id: string, outcome: string) => api.post<ReferralView>(`${referralPath(id)}/complete`, { outcome }),
  cancel: (id: string, reason: string) => api.post<ReferralView>(`${referralPath(id)}/cancel`, { reason }),
  suggestions: (fromInstitutionId: string, direction: ReferralDirection) => api.get<ReferralSuggestion[]>('/api/v1/referral-suggestions', { fromInstitutionId, direction }),
};

// ---- statistics ----

export interface DurationSummary {
  count: number;
  meanMinutes: number | null;
  medianMinutes: number | null;
  p90Minutes: number | null;
  slaMetRate: number | null;
}

export interface ConsultationStatistics {
  byType: Array<{ type: ConsultationType; count: number }>;
  byInstitution: Array<{ institutionId: string; name: string | null; count: number }>;
  byMonth: Array<{ month: string; count: number }>;
  firstOpinion: DurationSummary;
  conclusion: DurationSummary;
  fastestCase: { consultationId: string; minutes: number; institutionId: string; name: string | null } | null;
  fastestInstitutionMean: { institutionId: string; name: string | null; meanMinutes: number; count: number } | null;
  referrals: Array<{ fromInstitutionId: string; fromName: string | null; toInstitutionId: string; toName: string | null; direction: ReferralDirection; count: number }>;
}

export function fetchConsultationStatistics(period: { from?: string; to?: string }): Promise<ConsultationStatistics> {
  return api.get<ConsultationStatistics>('/api/v1/statistics/consultations', period);
}

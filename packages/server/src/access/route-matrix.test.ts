/**
 * Role × route matrix (issue 12, finding 2): every route of the OpenAPI document, and the
 * patient-data routes outside it (FHIR, DICOMweb), called as one user of every role, over a
 * real socket. ONE table says, per route, which roles get through its role checks; every
 * other role must get 403, and get it before any lookup (it is called with real fixtures,
 * so a check that came after the lookup, or none at all, shows). A route the table does not
 * list fails the test: a new route joins the matrix the day it is written.
 *
 * Each user sits where the institution match alone would let them in (the commission
 * analyst, the insurance auditor at the reading centre; the gateway and modality accounts at
 * the requesting township), so only the role can be what refuses them.
 */
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startListeningServer, type ListeningServer } from '../test-support/listening-server.ts';
import { TEST_ADMIN_PASSWORD } from '../test-support/admin-auth.ts';
import { makeSyntheticInstance, newUid } from '../test-support/synthetic-dicom.ts';
import { stowBody } from '../dicomweb/test-support.ts';
import { encodePatientId } from '../fhir/patient-id.ts';
import { ROLE_DEFINITIONS, ROLES, type Role } from './roles.ts';
import { callHttp, type HttpAnswer, type HttpCallOptions } from '../test-support/http-client.ts';
import { DEFAULT_CRITICAL_CATEGORIES } from '../critical-findings/categories.ts';

const PASSWORD = 'Correct-Horse-9';
const CONCURRENCY = 6;

/** One user per role, placed where the institution match passes (see the file comment). */
const USERS: Record<Role, { username: string; institutionId: string }> = {
  technologist: { username: 'm-tech', institutionId: 'ks-t1' },
  radiologist: { username: 'm-rad', institutionId: 'ks-county' },
  'reviewing-radiologist': { username: 'm-rev', institutionId: 'ks-county' },
  expert: { username: 'm-expert', institutionId: 'ks-county' },
  clinician: { username: 'm-clin', institutionId: 'ks-t1' },
  'qc-officer': { username: 'm-qc', institutionId: 'ks-county' },
  'commission-analyst': { username: 'm-analyst', institutionId: 'ks-county' },
  'insurance-auditor': { username: 'm-auditor', institutionId: 'ks-county' },
  administrator: { username: 'admin', institutionId: 'default' },
  gateway: { username: 'm-gw', institutionId: 'ks-t1' },
  modality: { username: 'm-modality', institutionId: 'ks-t1' },
};

const ALL: readonly Role[] = ROLES;
const ADMIN: readonly Role[] = ['administrator'];
const READERS: readonly Role[] = ['radiologist', 'reviewing-radiologist', 'expert'];
/** people, not device accounts (gateway, modality) */
const PEOPLE: readonly Role[] = ROLES.filter((role) => role !== 'gateway' && role !== 'modality');
/** the roles that may see patient identity and clinical content (roles.ts: patients:read) */
const PATIENT_ROLES: readonly Role[] = ['technologist', 'radiologist', 'reviewing-radiologist', 'expert', 'clinician', 'qc-officer', 'administrator'];
const IMAGE_READERS: readonly Role[] = [...PATIENT_ROLES, 'modality'];
/** recognition/module.ts: who search the patient index, and who open and recognise other institutions' exams */
const CLINICAL_READERS: readonly Role[] = ['clinician', ...READERS];
const RECOGNITION_SEARCHERS: readonly Role[] = [...CLINICAL_READERS, 'technologist', 'administrator'];
/** consult/referral-mdt.ts: who refer patients and sit in MDT sessions (referral:write, mdt:write); the readers add administrators */
const CLINICAL_STAFF: readonly Role[] = ['clinician', ...READERS];
const CLINICAL_STAFF_AND_ADMIN: readonly Role[] = [...CLINICAL_STAFF, 'administrator'];
/** a referral from the role's own institution (the service refuses another's with 403), of a study that exists nowhere for allowed roles (404) */
const matrixReferral = (fx: Fixtures, fill: Fill, role: Role) => {
  const from = USERS[role].institutionId;
  return { direction: 'up', patient: { patientId: 'P-MATRIX' }, fromInstitutionId: from, toInstitutionId: from === 'ks-county' ? 'ks-t1' : 'ks-county', reason: '矩阵', studyInstanceUids: [fill === 'real' ? fx.studyUid : newUid()], reportIds: [] };
};
const matrixMdt = (fx: Fixtures, fill: Fill) => ({ title: '矩阵 MDT', scheduledAt: '2026-12-08T08:00:00Z', studyInstanceUids: [fill === 'real' ? fx.studyUid : newUid()], departments: ['放射科'], participants: [{ username: USERS.radiologist.username, department: '放射科' }] });

/** templates:write (productivity/module.ts): the readers and administrators */
const LIBRARY_KEEPERS: readonly Role[] = [...READERS, 'administrator'];
/** consult/module.ts: who ask for a consultation, and who see consultations */
const CONSULT_REQUESTERS: readonly Role[] = ['radiologist', 'reviewing-radiologist', 'clinician'];
const CONSULT_READERS: readonly Role[] = [...CONSULT_REQUESTERS, 'expert', 'administrator'];
const EXPERTS: readonly Role[] = ['expert'];
const matrixShift = (username: string) => ({ institutionId: 'ks-county', username, startsAt: '2026-01-01T00:00:00Z', endsAt: '2026-01-02T00:00:00Z' });

interface Fixtures {
  studyUid: string;
  /** the series and instance of studyUid (rendered series, WADO-URI) */
  seriesUid: string;
  sopUid: string;
  priorUid: string;
  requestId: string;
  reportId: string;
  ruleId: string;
  linkId: string;
  patientResourceId: string;
  /** a radiologist's personal template and phrase (report library) */
  templateId: string;
  phraseId: string;
  /** a critical finding (危急值) flagged on the request */
  criticalFindingId: string;
  /** a FHIR Subscription of the township (report signed) */
  subscriptionId: string;
  /** an order (检查申请) of the township, and its FHIR ServiceRequest id */
  orderId: string;
  serviceRequestId: string;
  /** the matrix patient's person in the regional patient index (recognition/) */
  personId: string;
  /** the township's consultation with the county's expert, its agreement and the expert's shift (consult/) */
  consultationId: string;
  agreementId: string;
  shiftId: string;
  /** a referral of the township up to the county (consult/), and an MDT session on the study */
  referralId: string;
  mdtSessionId: string;
}

/** A valid Subscription (fhir/subscription.ts) to an endpoint nobody listens on. */
const matrixSubscription = () => ({
  resourceType: 'Subscription',
  reason: 'route matrix',
  criteria: 'urn:yunying:fhir:SubscriptionTopic:report-signed',
  channel: { type: 'rest-hook', endpoint: 'http://127.0.0.1:9/route-matrix', payload: 'application/fhir+json' },
});

/**
 * How a call is filled: forbidden roles always get the real fixtures (the 403 must come
 * before their lookup); allowed roles get them on reads and nonexistent ones on writes
 * (a 404), so the fixtures survive every role's call.
 */
type Fill = 'real' | 'absent';

interface RouteCase {
  /** roles that get through every role check of the route; all others must get 403 */
  allowed: readonly Role[];
  /** the route shows patient identity or clinical content: allowed must need patients:read */
  patientData?: boolean;
  body?: (fx: Fixtures, fill: Fill, role: Role) => unknown;
  query?: (fx: Fixtures, fill: Fill) => Record<string, string>;
  /** allowed roles are called like forbidden ones, with the real fixtures (harmless writes) */
  allowedFill?: Fill;
  /** how the call is made, when not a plain JSON request with the role's token */
  kind?: 'sse' | 'fresh-session' | 'no-token';
}

const reason = { reason: 'route matrix' };
const period = () => ({ from: '2000-01-01T00:00:00Z', to: '2100-01-01T00:00:00Z' });

/** orders (orders/module.ts): the ordering institution's technologists and clinicians, and administrators */
const ORDER_STAFF: readonly Role[] = ['technologist', 'clinician', 'administrator'];
const matrixOrder = () => ({ patient: { patientId: `P-ORD-${randomUUID().slice(0, 8)}`, name: '矩阵' }, requestedProcedure: { description: '胸部正位', modality: 'DX' } });

/** Every route of the OpenAPI document. */
const OPENAPI_ROUTES: Record<string, RouteCase> = {
  'POST /api/v1/auth/login': { allowed: ALL, kind: 'no-token', allowedFill: 'real', body: (_fx, _fill, role) => ({ username: USERS[role].username, password: role === 'administrator' ? TEST_ADMIN_PASSWORD : PASSWORD }) },
  'POST /api/v1/auth/logout': { allowed: ALL, kind: 'fresh-session' },
  'GET /api/v1/auth/me': { allowed: ALL },
  // the current password is right, the new one too weak: refused after the role check, nothing changes
  // the signer's own signing PIN (review stage): for those who sign; a weak PIN is refused (400) before anything changes
  'GET /api/v1/auth/signing-pin': { allowed: ['reviewing-radiologist'] },
  'PUT /api/v1/auth/signing-pin': { allowed: ['reviewing-radiologist'], allowedFill: 'real', body: (_fx, _fill, role) => ({ currentPassword: role === 'administrator' ? TEST_ADMIN_PASSWORD : PASSWORD, pin: '111111' }) },
  'POST /api/v1/auth/password': { allowed: ALL, allowedFill: 'real', body: (_fx, _fill, role) => ({ currentPassword: role === 'administrator' ? TEST_ADMIN_PASSWORD : PASSWORD, newPassword: 'short' }) },

  'GET /api/v1/institutions': { allowed: ADMIN },
  'POST /api/v1/institutions': { allowed: ADMIN, body: (_fx, fill) => ({ id: fill === 'real' ? 'ks-t1' : `m-${randomUUID().slice(0, 8)}`, name: '矩阵测试', tier: 'township' }) },
  'GET /api/v1/institutions/{id}': { allowed: ADMIN },
  'PATCH /api/v1/institutions/{id}': { allowed: ADMIN, body: () => ({ name: '改名' }) },
  'PUT /api/v1/institutions/{id}/members/{memberId}': { allowed: ADMIN },
  'DELETE /api/v1/institutions/{id}/members/{memberId}': { allowed: ADMIN },
  'GET /api/v1/users': { allowed: ADMIN },
  'POST /api/v1/users': { allowed: ADMIN, body: (_fx, fill) => ({ username: fill === 'real' ? 'm-tech' : `m-${randomUUID().slice(0, 8)}`, password: PASSWORD, role: 'administrator', institutionId: fill === 'real' ? 'ks-t1' : 'no-such-institution' }) },
  'GET /api/v1/users/{username}': { allowed: ADMIN },
  'PATCH /api/v1/users/{username}': { allowed: ADMIN, body: () => ({ role: 'administrator' }) },
  'POST /api/v1/users/{username}/revoke-sessions': { allowed: ADMIN },
  'GET /api/v1/application-entities': { allowed: ADMIN },
  'PUT /api/v1/application-entities/{aeTitle}': { allowed: ADMIN, body: (_fx, fill) => ({ institutionId: fill === 'real' ? 'ks-t2' : 'no-such-institution' }) },
  'DELETE /api/v1/application-entities/{aeTitle}': { allowed: ADMIN },
  'GET /api/v1/dicom-nodes': { allowed: ADMIN },
  'PUT /api/v1/dicom-nodes/{aeTitle}': { allowed: ADMIN, body: (_fx, fill) => ({ host: '127.0.0.1', port: 1, institutionId: fill === 'real' ? 'ks-t2' : 'no-such-institution' }) },
  'DELETE /api/v1/dicom-nodes/{aeTitle}': { allowed: ADMIN },
  'POST /api/v1/studies/{study}/grants': { allowed: ADMIN, body: () => ({ institutionId: 'wx', reason: 'route matrix' }) },

  'GET /api/v1/audit-events': { allowed: ['insurance-auditor', 'administrator'] },
  'GET /api/v1/audit-events/export': { allowed: ['insurance-auditor', 'administrator'] },
  'GET /api/v1/audit-events/verification': { allowed: ['insurance-auditor', 'administrator'] },

  'POST /api/v1/studies/{study}/corrections': { allowed: ADMIN, patientData: true, body: () => ({ patientName: 'Changed^Name', ...reason }) },
  'DELETE /api/v1/studies/{study}': { allowed: ADMIN, patientData: true, query: () => reason },

  'POST /api/v1/reading-requests': { allowed: ['technologist', 'administrator'], patientData: true, body: (fx, fill) => ({ studyInstanceUid: fill === 'real' ? fx.studyUid : newUid(), readingInstitutionId: 'ks-county', priority: 'routine', imagesComplete: true }) },
  // the worklist: readers of the centre and the requesting technologists (clinicians and QC have none)
  'GET /api/v1/reading-requests': { allowed: [...READERS, 'technologist', 'administrator'], patientData: true },
  // nothing is pending: the readers get 404, nobody claims a fixture
  'POST /api/v1/reading-requests/claim-next': { allowed: READERS, patientData: true },
  'GET /api/v1/reading-requests/{id}': { allowed: PATIENT_ROLES, patientData: true },
  'POST /api/v1/reading-requests/{id}/claim': { allowed: PATIENT_ROLES, patientData: true },
  'POST /api/v1/reading-requests/{id}/release': { allowed: PATIENT_ROLES, patientData: true },
  'POST /api/v1/reading-requests/{id}/images-complete': { allowed: PATIENT_ROLES, patientData: true },
  'POST /api/v1/reading-requests/{id}/retake': { allowed: PATIENT_ROLES, patientData: true, body: () => reason },
  'POST /api/v1/reading-requests/{id}/resubmit': { allowed: PATIENT_ROLES, patientData: true },
  'POST /api/v1/reading-requests/{id}/cancel': { allowed: PATIENT_ROLES, patientData: true, body: () => reason },
  // the reading page's priors: the reading centre's radiologists only (finding 1)
  'GET /api/v1/reading-requests/{id}/priors': { allowed: READERS, patientData: true },
  'POST /api/v1/reading-requests/{id}/priors/{studyInstanceUid}/access': { allowed: PATIENT_ROLES, patientData: true, body: () => reason },
  'PUT /api/v1/reading-requests/{id}/report': { allowed: PATIENT_ROLES, patientData: true, body: () => ({ findings: '矩阵', impression: '矩阵' }) },
  'GET /api/v1/reports/{id}': { allowed: PATIENT_ROLES, patientData: true },
  'POST /api/v1/reports/{id}/submit': { allowed: PATIENT_ROLES, patientData: true },
  // with an electronic signature in the body (review stage): the role check comes first
  'POST /api/v1/reports/{id}/sign': { allowed: PATIENT_ROLES, patientData: true, body: () => ({ password: 'route-matrix' }) },
  'POST /api/v1/reports/{id}/return': { allowed: PATIENT_ROLES, patientData: true, body: () => ({ comments: '矩阵' }) },
  'POST /api/v1/reports/{id}/addenda': { allowed: PATIENT_ROLES, patientData: true, body: () => ({ text: '矩阵' }) },
  'GET /api/v1/reports/{id}/pdf': { allowed: PATIENT_ROLES, patientData: true },
  // templates carry no patient data: every signed-in role may read them
  'GET /api/v1/report-templates': { allowed: ALL },
  // the report library (productivity/): readers keep their own; institution scope needs templates:manage (checked after the role)
  'POST /api/v1/report-templates': { allowed: LIBRARY_KEEPERS, body: () => ({ scope: 'personal', modality: 'US', bodyPart: 'THYROID', name: '矩阵', findings: '矩阵', impression: '矩阵' }) },
  'PUT /api/v1/report-templates/{id}': { allowed: LIBRARY_KEEPERS, body: () => ({ modality: 'US', bodyPart: 'THYROID', name: '矩阵', findings: '矩阵', impression: '矩阵' }) },
  'DELETE /api/v1/report-templates/{id}': { allowed: LIBRARY_KEEPERS },
  'GET /api/v1/report-phrases': { allowed: LIBRARY_KEEPERS },
  'POST /api/v1/report-phrases': { allowed: LIBRARY_KEEPERS, body: () => ({ scope: 'personal', group: '矩阵', text: '矩阵' }) },
  'PUT /api/v1/report-phrases/{id}': { allowed: LIBRARY_KEEPERS, body: () => ({ group: '矩阵', text: '矩阵' }) },
  'DELETE /api/v1/report-phrases/{id}': { allowed: LIBRARY_KEEPERS },
  'GET /api/v1/reports/{id}/attachments': { allowed: PATIENT_ROLES, patientData: true },
  'GET /api/v1/routing-rules': { allowed: ADMIN },
  'POST /api/v1/routing-rules': { allowed: ADMIN, body: (_fx, fill) => ({ name: 'matrix', readingInstitutionId: fill === 'real' ? 'ks-county' : 'no-such-institution', sourceInstitutionId: 'ks-t2' }) },
  'DELETE /api/v1/routing-rules/{id}': { allowed: ADMIN },
  'PATCH /api/v1/routing-rules/{id}': { allowed: ADMIN, body: () => ({ name: 'matrix renamed' }) },
  // administrator settings (settings/): every person's role reads them, administrators write
  'GET /api/v1/settings/pick-lists': { allowed: PEOPLE },
  'PUT /api/v1/settings/pick-lists': { allowed: ADMIN, body: (_fx, fill) => ({ institutionId: fill === 'real' ? 'ks-t1' : 'no-such-institution', modalities: ['DX'], bodyParts: ['CHEST'] }) },
  'DELETE /api/v1/settings/pick-lists/{institutionId}': { allowed: ADMIN },
  'GET /api/v1/settings/sla': { allowed: PEOPLE },
  // allowed: emergency longer than urgent, refused (400) after the role check, nothing changes
  'PUT /api/v1/settings/sla': { allowed: ADMIN, body: (_fx, fill) => (fill === 'real' ? { emergency: 30, urgent: 60, routine: 120 } : { emergency: 90, urgent: 60, routine: 120 }) },
  // compression on ingest (settings/ingest-compression.ts): administrators only, read and write; 'off' keeps the matrix's stored objects as received
  'GET /api/v1/settings/ingest-compression': { allowed: ADMIN },
  'PUT /api/v1/settings/ingest-compression': { allowed: ADMIN, body: (_fx, fill) => ({ institutionId: fill === 'real' ? 'ks-t1' : 'no-such-institution', compression: 'off' }) },
  // critical findings (危急值, critical-findings/): the reading centre's readers flag, the requesting institution acknowledges
  'POST /api/v1/reading-requests/{id}/critical-findings': { allowed: READERS, patientData: true, body: () => ({ category: 'pneumothorax', note: '矩阵' }) },
  'GET /api/v1/reading-requests/{id}/critical-findings': { allowed: PATIENT_ROLES, patientData: true },
  'GET /api/v1/critical-findings': { allowed: PATIENT_ROLES, patientData: true },
  'POST /api/v1/critical-findings/{id}/acknowledgement': { allowed: ['technologist', 'clinician'], patientData: true, body: () => ({ receivedBy: '矩阵', informedVia: 'phone' }) },
  'GET /api/v1/critical-findings/categories': { allowed: PATIENT_ROLES },
  // the list as seeded: a harmless write
  'PUT /api/v1/critical-findings/categories': { allowed: ADMIN, body: () => ({ categories: DEFAULT_CRITICAL_CATEGORIES }) },
  'GET /api/v1/critical-findings/contacts': { allowed: ADMIN },
  'PUT /api/v1/critical-findings/contacts/{institutionId}': { allowed: ADMIN, body: () => ({ phone: '13800138000' }) },
  'DELETE /api/v1/critical-findings/contacts/{institutionId}': { allowed: ADMIN },
  // counts per radiologist, no patient data: the commission sees the workload too
  'GET /api/v1/reading-statistics/radiologists': { allowed: [...READERS, 'commission-analyst', 'administrator'], query: period },

  'POST /api/v1/share-links': { allowed: PATIENT_ROLES, patientData: true, body: (fx, fill) => ({ studyInstanceUid: fill === 'real' ? fx.studyUid : newUid() }) },
  // the links of a study: its own institution's staff (the reading centre's get 403 for that)
  'GET /api/v1/share-links': { allowed: ['technologist', 'clinician', 'administrator'], patientData: true, query: (fx) => ({ studyInstanceUid: fx.studyUid }) },
  'GET /api/v1/share-links/{id}': { allowed: PATIENT_ROLES, patientData: true },
  'POST /api/v1/share-links/{id}/revoke': { allowed: PATIENT_ROLES, patientData: true },
  'POST /api/v1/share-links/{id}/access-code': { allowed: PATIENT_ROLES, patientData: true, body: () => ({}) },
  'GET /api/v1/share-links/{id}/accesses': { allowed: PATIENT_ROLES, patientData: true },
  'GET /api/v1/share-links/{id}/qr.png': { allowed: PATIENT_ROLES, patientData: true },
  'GET /api/v1/share-links/{id}/qr.svg': { allowed: PATIENT_ROLES, patientData: true },

  // orders (检查申请/预约): an allowed role's order is a harmless new one; cancel of a nonexistent one a 404
  'POST /api/v1/orders': { allowed: ORDER_STAFF, patientData: true, body: matrixOrder },
  'GET /api/v1/orders': { allowed: ORDER_STAFF, patientData: true },
  'GET /api/v1/orders/{id}': { allowed: ORDER_STAFF, patientData: true },
  'POST /api/v1/orders/{id}/cancel': { allowed: ORDER_STAFF, patientData: true, body: () => reason },

  // HL7 v2 (hl7/): platform administrators map HIS facilities, set ORU destinations, see the messages' state
  'GET /api/v1/hl7/facilities': { allowed: ADMIN },
  'PUT /api/v1/hl7/facilities/{facility}': { allowed: ADMIN, body: (_fx, fill) => ({ institutionId: fill === 'real' ? 'ks-t1' : 'no-such-institution' }) },
  'DELETE /api/v1/hl7/facilities/{facility}': { allowed: ADMIN },
  'GET /api/v1/hl7/destinations': { allowed: ADMIN },
  'PUT /api/v1/hl7/destinations/{institutionId}': { allowed: ADMIN, body: () => ({ destinations: [] }) },
  'GET /api/v1/hl7/outbound': { allowed: ADMIN },
  'GET /api/v1/hl7/inbound': { allowed: ADMIN },

  // the notifications name patients and reports
  'GET /api/v1/events': { allowed: PATIENT_ROLES, patientData: true, kind: 'sse' },
  // mutual recognition (recognition/): clinical people search and read the timeline; clinicians and readers open and recognise; administrators merge
  'GET /api/v1/patients': { allowed: RECOGNITION_SEARCHERS, patientData: true, query: () => ({ name: '周敏', birthDate: '19700101' }) },
  'GET /api/v1/patients/{id}': { allowed: RECOGNITION_SEARCHERS, patientData: true },
  'GET /api/v1/patients/{id}/timeline': { allowed: RECOGNITION_SEARCHERS, patientData: true },
  // allowed roles ask for a study of nobody (404); the administrator sees everything (404 too)
  'POST /api/v1/patients/{id}/access-requests': { allowed: CLINICAL_READERS, patientData: true, body: (fx, fill) => ({ studyInstanceUid: fill === 'real' ? fx.priorUid : newUid(), reason: '矩阵' }) },
  'POST /api/v1/patients/{id}/candidates/{candidateId}/confirm': { allowed: ['clinician', 'administrator'], patientData: true, body: () => ({}) },
  'POST /api/v1/patients/{id}/candidates/{candidateId}/reject': { allowed: ['clinician', 'administrator'], patientData: true, body: () => ({}) },
  'POST /api/v1/patients/{id}/merge': { allowed: ADMIN, patientData: true, body: () => ({ personId: `psn-${randomUUID()}`, reason: '矩阵' }) },
  'POST /api/v1/patients/{id}/unmerge': { allowed: ADMIN, patientData: true, body: () => ({ personId: `psn-${randomUUID()}`, reason: '矩阵' }) },
  'POST /api/v1/patients/{id}/unlink': { allowed: ADMIN, patientData: true, body: () => ({ identityId: `pid-${randomUUID()}`, reason: '矩阵' }) },
  'POST /api/v1/duplicate-checks': { allowed: RECOGNITION_SEARCHERS, patientData: true, body: () => ({ patient: { patientId: 'P-MATRIX', institutionId: 'ks-t1' }, modality: 'CT', bodyPart: 'CHEST' }) },
  'POST /api/v1/recognitions': { allowed: CLINICAL_READERS, patientData: true, body: (fx, fill) => ({ studyInstanceUid: fill === 'real' ? fx.priorUid : newUid(), decision: 'recognised', reason: '矩阵' }) },
  'GET /api/v1/recognitions': { allowed: RECOGNITION_SEARCHERS, patientData: true, query: (fx) => ({ studyInstanceUid: fx.priorUid }) },
  'GET /api/v1/statistics/recognitions': { allowed: ['commission-analyst', 'qc-officer', 'administrator'], query: () => ({ groupBy: 'institution' }) },
  'GET /api/v1/recognition-items': { allowed: PEOPLE },
  // a valid body for the forbidden roles (the body is validated before the role check); the administrator's is refused (400)
  'PUT /api/v1/recognition-items/{code}': { allowed: ADMIN, body: (_fx, fill) => ({ name: '胸部CT平扫', modality: 'CT', bodyPart: 'CHEST', windowDays: fill === 'real' ? 30 : 0, requireSignedReport: true, referencePriceYuan: 180 }) },
  'DELETE /api/v1/recognition-items/{code}': { allowed: ADMIN },
  'GET /api/v1/statistics/studies': { allowed: ['commission-analyst', 'administrator'], query: () => ({ groupBy: 'institution' }) },

  // consultation (consult/): requesters ask and close, invited experts answer, administrators keep agreements and rosters
  'POST /api/v1/consultations': { allowed: CONSULT_REQUESTERS, patientData: true, body: (fx, fill) => ({ type: 'routine', studyInstanceUids: [fill === 'real' ? fx.studyUid : newUid()], question: '矩阵', clinicalSummary: '矩阵', invitedExperts: ['m-expert'] }) },
  'GET /api/v1/consultations': { allowed: CONSULT_READERS, patientData: true, query: () => ({ box: 'incoming' }) },
  'GET /api/v1/consultations/{id}': { allowed: CONSULT_READERS, patientData: true },
  'GET /api/v1/consultations/{id}/pdf': { allowed: CONSULT_READERS, patientData: true },
  'POST /api/v1/consultations/{id}/accept': { allowed: EXPERTS, patientData: true, body: () => ({}) },
  'POST /api/v1/consultations/{id}/decline': { allowed: EXPERTS, patientData: true, body: () => reason },
  'POST /api/v1/consultations/{id}/experts': { allowed: CONSULT_REQUESTERS, patientData: true, body: () => ({ username: 'm-expert' }) },
  'POST /api/v1/consultations/{id}/opinions': { allowed: EXPERTS, patientData: true, body: () => ({ text: '矩阵', sign: false }) },
  'POST /api/v1/consultations/{id}/conclusion': { allowed: EXPERTS, patientData: true, body: () => ({ text: '矩阵', password: PASSWORD }) },
  'POST /api/v1/consultations/{id}/close': { allowed: CONSULT_REQUESTERS, patientData: true, body: () => ({ followUpNote: '矩阵' }) },
  'POST /api/v1/consultations/{id}/cancel': { allowed: CONSULT_REQUESTERS, patientData: true, body: () => reason },
  'POST /api/v1/consultation-agreements': { allowed: ADMIN, body: (_fx, fill) => ({ requestingInstitutionId: 'ks-t2', expertInstitutionId: fill === 'real' ? 'ks-county' : 'no-such-institution' }) },
  'GET /api/v1/consultation-agreements': { allowed: CONSULT_READERS },
  'DELETE /api/v1/consultation-agreements/{id}': { allowed: ADMIN },
  'POST /api/v1/duty-roster': { allowed: ADMIN, body: (_fx, fill) => matrixShift(fill === 'real' ? 'm-expert' : 'no-such-user') },
  'GET /api/v1/duty-roster': { allowed: CONSULT_READERS, query: () => ({ institutionId: 'ks-county' }) },
  'DELETE /api/v1/duty-roster/{id}': { allowed: ADMIN },
  'GET /api/v1/statistics/consultations': { allowed: ['commission-analyst', 'qc-officer', 'administrator'] },
  // two-way referral and MDT sessions (consult/): clinical staff write; administrators also read
  'POST /api/v1/referrals': { allowed: CLINICAL_STAFF, patientData: true, body: matrixReferral },
  'GET /api/v1/referrals': { allowed: CLINICAL_STAFF_AND_ADMIN, patientData: true, query: () => ({ box: 'in' }) },
  'GET /api/v1/referrals/{id}': { allowed: CLINICAL_STAFF_AND_ADMIN, patientData: true },
  'POST /api/v1/referrals/{id}/accept': { allowed: CLINICAL_STAFF, patientData: true, body: () => ({}) },
  'POST /api/v1/referrals/{id}/refuse': { allowed: CLINICAL_STAFF, patientData: true, body: () => reason },
  'POST /api/v1/referrals/{id}/complete': { allowed: CLINICAL_STAFF, patientData: true, body: () => ({ outcome: '矩阵' }) },
  'POST /api/v1/referrals/{id}/cancel': { allowed: CLINICAL_STAFF, patientData: true, body: () => reason },
  'GET /api/v1/referral-suggestions': { allowed: CLINICAL_STAFF_AND_ADMIN, query: () => ({ fromInstitutionId: 'ks-t1', direction: 'up' }) },
  'POST /api/v1/mdt-sessions': { allowed: CLINICAL_STAFF, patientData: true, body: matrixMdt },
  'GET /api/v1/mdt-sessions': { allowed: CLINICAL_STAFF_AND_ADMIN, patientData: true, query: period },
  'GET /api/v1/mdt-sessions/{id}': { allowed: CLINICAL_STAFF_AND_ADMIN, patientData: true },
  // sign-in (签到) is mdt:read: an allowed role's call names a session that exists nowhere (404)
  'POST /api/v1/mdt-sessions/{id}/attendance': { allowed: CLINICAL_STAFF_AND_ADMIN, patientData: true, body: () => ({}) },
  'POST /api/v1/mdt-sessions/{id}/minutes': { allowed: CLINICAL_STAFF, patientData: true, body: () => ({ minutes: '矩阵', decisions: ['矩阵'] }) },
};

/** Patient-data routes the OpenAPI document does not describe (FHIR, DICOMweb). */
const OTHER_ROUTES: Record<string, RouteCase> = {
  'GET /fhir/r4/DiagnosticReport/{reportId}': { allowed: PATIENT_ROLES, patientData: true },
  'GET /fhir/r4/DiagnosticReport': { allowed: PATIENT_ROLES, patientData: true, query: (fx) => ({ study: fx.studyUid }) },
  'GET /fhir/r4/DiagnosticReport?patient': { allowed: PATIENT_ROLES, patientData: true, query: (fx) => ({ patient: `Patient/${fx.patientResourceId}` }) },
  'GET /fhir/r4/DiagnosticReport?identifier': { allowed: PATIENT_ROLES, patientData: true, query: (fx) => ({ identifier: fx.reportId, status: 'final' }) },
  // the printable report (presentedForm.url) with the FHIR credentials
  'GET /fhir/r4/DiagnosticReport/{reportId}/pdf': { allowed: PATIENT_ROLES, patientData: true },
  // report-signed notifications (fhir:subscribe): what they tell is the report; an allowed role's write is a 400/404
  'POST /fhir/r4/Subscription': { allowed: PATIENT_ROLES, patientData: true, body: (_fx, fill) => (fill === 'real' ? matrixSubscription() : { resourceType: 'Subscription' }) },
  'GET /fhir/r4/Subscription/{subscriptionId}': { allowed: PATIENT_ROLES, patientData: true },
  'GET /fhir/r4/Subscription': { allowed: PATIENT_ROLES, patientData: true },
  'DELETE /fhir/r4/Subscription/{subscriptionId}': { allowed: PATIENT_ROLES, patientData: true },
  // orders and reading requests as ServiceRequest (orders/service-request.ts): the order staff's
  'GET /fhir/r4/ServiceRequest/{serviceRequestId}': { allowed: ORDER_STAFF, patientData: true },
  'GET /fhir/r4/ServiceRequest': { allowed: ORDER_STAFF, patientData: true, query: () => ({ status: 'active' }) },
  'POST /fhir/r4/ServiceRequest': { allowed: ORDER_STAFF, patientData: true, body: () => ({ resourceType: 'ServiceRequest', intent: 'order' }) },
  // demographics, as DICOMweb shows them to every role that reads images
  'GET /fhir/r4/Patient/{patientResourceId}': { allowed: IMAGE_READERS, patientData: true },
  'GET /fhir/r4/Patient': { allowed: IMAGE_READERS, patientData: true, query: () => ({ identifier: 'P-MATRIX' }) },
  'GET /fhir/r4/ImagingStudy': { allowed: IMAGE_READERS, patientData: true, query: (fx) => ({ _id: fx.studyUid }) },
  'GET /dicom-web/studies': { allowed: IMAGE_READERS, patientData: true, query: (fx) => ({ StudyInstanceUID: fx.studyUid }) },
  // PS3.18 8.9 Retrieve Capabilities: authenticated and permitted like the rest of DICOMweb (dicomweb/capabilities.ts)
  'OPTIONS /dicom-web': { allowed: IMAGE_READERS },
  'OPTIONS /dicom-web/studies/{study}/series': { allowed: IMAGE_READERS },
  // rendered studies and series, their thumbnails, WADO-URI's de-identified export (issue 15 item 2)
  'GET /dicom-web/studies/{study}/rendered': { allowed: IMAGE_READERS, patientData: true },
  'GET /dicom-web/studies/{study}/thumbnail': { allowed: IMAGE_READERS, patientData: true },
  'GET /dicom-web/studies/{study}/series/{series}/rendered': { allowed: IMAGE_READERS, patientData: true },
  'GET /dicom-web/studies/{study}/series/{series}/thumbnail': { allowed: IMAGE_READERS, patientData: true },
  'GET /wado?anonymize': { allowed: IMAGE_READERS, query: (fx) => ({ requestType: 'WADO', studyUID: fx.studyUid, seriesUID: fx.seriesUid, objectUID: fx.sopUid, contentType: 'application/dicom', anonymize: 'yes' }) },
};

let server: ListeningServer;
const tokens = {} as Record<Role, string>;
let fx: Fixtures;

type Answer = HttpAnswer;

async function call(method: string, url: string, options: HttpCallOptions = {}): Promise<Answer> {
  return callHttp(server.baseUrl, method, url, options);
}

async function as(role: Role, method: string, url: string, body?: unknown): Promise<Answer> {
  return call(method, url, { token: tokens[role], body });
}

async function login(username: string, password: string): Promise<string> {
  const answer = await call('POST', '/api/v1/auth/login', { body: { username, password } });
  assert.equal(answer.status, 200, answer.text);
  return (answer.body as { token: string }).token;
}

function ok(answer: Answer, status: number, what: string): void {
  assert.equal(answer.status, status, `${what}: ${answer.text}`);
}

/** The value of a path parameter: a real fixture, or one that exists nowhere. */
function parameter(route: string, name: string, fill: Fill): string {
  const real = fill === 'real';
  const routeId = (prefix: string, value: string, absent = randomUUID()) => (route.includes(`/${prefix}/{id}`) ? (real ? value : absent) : undefined);
  const value =
    name === 'id'
      ? routeId('patients', fx.personId) ?? routeId('reading-requests', fx.requestId) ?? routeId('reports', fx.reportId) ?? routeId('routing-rules', fx.ruleId) ?? routeId('share-links', fx.linkId) ?? routeId('report-templates', fx.templateId) ?? routeId('report-phrases', fx.phraseId) ?? routeId('critical-findings', fx.criticalFindingId) ?? routeId('orders', fx.orderId) ?? routeId('consultations', fx.consultationId, `con-${randomUUID()}`) ?? routeId('consultation-agreements', fx.agreementId, `agr-${randomUUID()}`) ?? routeId('duty-roster', fx.shiftId, `duty-${randomUUID()}`) ?? routeId('referrals', fx.referralId, `ref-${randomUUID()}`) ?? routeId('mdt-sessions', fx.mdtSessionId, `mdt-${randomUUID()}`) ?? (route.includes('/institutions/{id}') ? (real ? 'ks-county' : 'no-such-institution') : undefined)
      : ({
          memberId: real ? 'ks-t1' : 'no-such-institution',
          institutionId: real ? 'ks-t1' : 'no-such-institution',
          username: real ? USERS.technologist.username : 'no-such-user',
          aeTitle: real ? 'T1_CT' : 'NO_SUCH_AE',
          study: real ? fx.studyUid : newUid(),
          series: real ? fx.seriesUid : newUid(),
          studyInstanceUid: real ? fx.priorUid : newUid(),
          reportId: real ? fx.reportId : randomUUID(),
          subscriptionId: real ? fx.subscriptionId : randomUUID(),
          facility: real ? 'MATRIXHIS' : 'NO_SUCH_FACILITY',
          serviceRequestId: real ? fx.serviceRequestId : `o-${randomUUID()}`,
          patientResourceId: fx.patientResourceId,
          candidateId: `cand-${randomUUID()}`,
          code: real ? 'CT-CHEST' : 'NO-SUCH-ITEM',
        } as Record<string, string>)[name];
  if (value === undefined) throw new Error(`${route}: no fixture for the path parameter {${name}}; add one to parameter()`);
  return encodeURIComponent(value);
}

function urlOf(key: string, routeCase: RouteCase, fill: Fill): { method: string; url: string } {
  const [method, template] = key.split(' ') as [string, string];
  const pathTemplate = template.split('?')[0]!;
  const path = pathTemplate.replace(/\{([^}]+)\}/g, (_whole, name: string) => parameter(pathTemplate, name, fill));
  const query = routeCase.query ? `?${new URLSearchParams(routeCase.query(fx, fill))}` : '';
  return { method, url: `${path}${query}` };
}

/** An event stream: status and headers only, then the connection is dropped. */
async function openStream(role: Role, url: string): Promise<Answer> {
  const abort = new AbortController();
  const response = await fetch(`${server.baseUrl}${url}`, { headers: { authorization: `Bearer ${tokens[role]}` }, signal: abort.signal });
  const isStream = (response.headers.get('content-type') ?? '').startsWith('text/event-stream');
  const text = isStream ? '' : await response.text();
  abort.abort();
  return { status: response.status, text, body: text, headers: response.headers };
}

async function callAs(role: Role, key: string, routeCase: RouteCase): Promise<Answer> {
  const allowed = routeCase.allowed.includes(role);
  const [method] = key.split(' ') as [string];
  const fill: Fill = allowed ? (routeCase.allowedFill ?? (method === 'GET' ? 'real' : 'absent')) : 'real';
  const { url } = urlOf(key, routeCase, fill);
  const body = routeCase.body?.(fx, fill, role);
  switch (routeCase.kind) {
    case 'sse':
      return openStream(role, url);
    case 'no-token':
      return call(method, url, { body });
    case 'fresh-session': {
      const { username } = USERS[role];
      return call(method, url, { token: await login(username, role === 'administrator' ? TEST_ADMIN_PASSWORD : PASSWORD), body });
    }
    default:
      return call(method, url, { token: tokens[role], body });
  }
}

/** The outcome class of one call: through the role checks, or refused for the role. */
function outcomeOf(answer: Answer): 'through' | 'forbidden' | 'unexpected' {
  if (answer.status === 403) return 'forbidden';
  if (answer.status === 401 || answer.status >= 500) return 'unexpected';
  return 'through';
}

async function inBatches<T>(tasks: ReadonlyArray<() => Promise<T>>, limit: number): Promise<T[]> {
  const results: T[] = new Array(tasks.length);
  let next = 0;
  const worker = async () => {
    while (next < tasks.length) {
      const index = next++;
      results[index] = await tasks[index]!();
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, tasks.length) }, worker));
  return results;
}

async function runMatrix(table: Record<string, RouteCase>): Promise<string[]> {
  const tasks = Object.entries(table).flatMap(([key, routeCase]) =>
    ROLES.map((role) => async () => {
      const answer = await callAs(role, key, routeCase);
      const expected = routeCase.allowed.includes(role) ? 'through' : 'forbidden';
      const outcome = outcomeOf(answer);
      return outcome === expected ? undefined : `${key} as ${role}: expected ${expected}, got ${answer.status} ${answer.text.slice(0, 160)}`;
    }),
  );
  return (await inBatches(tasks, CONCURRENCY)).filter((line): line is string => line !== undefined);
}

before(async () => {
  server = await startListeningServer();
  tokens.administrator = await login('admin', TEST_ADMIN_PASSWORD);
  const admin = (method: string, url: string, body?: unknown) => as('administrator', method, url, body);
  const institutions = [
    { id: 'js', name: '江苏省卫健委', tier: 'province' },
    { id: 'sz', name: '苏州市', tier: 'city', parentId: 'js' },
    { id: 'ks-county', name: '昆山市第一人民医院', tier: 'county', grade: 3, regionCode: '320583', parentId: 'sz' },
    { id: 'ks-t1', name: '周市镇卫生院', tier: 'township', grade: 1, parentId: 'ks-county' },
    { id: 'ks-t2', name: '陆家镇卫生院', tier: 'township', grade: 1, parentId: 'ks-county' },
    { id: 'wx', name: '无锡市', tier: 'city', parentId: 'js' },
  ];
  for (const institution of institutions) ok(await admin('POST', '/api/v1/institutions', institution), 201, institution.id);
  for (const member of ['ks-t1', 'ks-t2']) ok(await admin('PUT', `/api/v1/institutions/ks-county/members/${member}`), 204, member);
  for (const role of ROLES) {
    if (role === 'administrator') continue;
    const { username, institutionId } = USERS[role];
    ok(await admin('POST', '/api/v1/users', { username, password: PASSWORD, role, institutionId }), 201, username);
  }
  // one after the other: the login throttle caps concurrent verifications per address
  for (const role of ROLES) if (role !== 'administrator') tokens[role] = await login(USERS[role].username, PASSWORD);
  ok(await admin('PUT', '/api/v1/application-entities/T1_CT', { institutionId: 'ks-t1' }), 200, 'AE');

  // The township's study, an earlier one of the same patient, a signed report and its cloud film.
  const patient = { patientId: 'P-MATRIX', patientName: 'Zhou^Min=周^敏', patientBirthDate: '19700101' };
  const current = makeSyntheticInstance({ ...patient, studyDate: '20260301' });
  const prior = makeSyntheticInstance({ ...patient, studyDate: '20250301' });
  for (const instance of [current, prior]) {
    const { payload, contentType } = stowBody([instance.bytes]);
    const response = await fetch(`${server.baseUrl}/dicom-web/studies`, { method: 'POST', headers: { authorization: `Bearer ${tokens.technologist}`, 'content-type': contentType, accept: 'application/dicom+json' }, body: payload });
    assert.equal(response.status, 200, await response.text());
  }
  const created = await as('technologist', 'POST', '/api/v1/reading-requests', { studyInstanceUid: current.studyInstanceUid, readingInstitutionId: 'ks-county', priority: 'routine', imagesComplete: true });
  ok(created, 201, 'request');
  const requestId = (created.body as { id: string }).id;
  ok(await as('radiologist', 'POST', `/api/v1/reading-requests/${requestId}/claim`), 200, 'claim');
  const draft = await as('radiologist', 'PUT', `/api/v1/reading-requests/${requestId}/report`, { findings: '双肺纹理清晰。', impression: '未见异常。', positive: false });
  ok(draft, 200, 'draft');
  const reportId = (draft.body as { id: string }).id;
  ok(await as('radiologist', 'POST', `/api/v1/reports/${reportId}/submit`), 200, 'submit');
  ok(await as('reviewing-radiologist', 'POST', `/api/v1/reports/${reportId}/sign`, { password: PASSWORD }), 200, 'sign');
  const link = await as('technologist', 'POST', '/api/v1/share-links', { studyInstanceUid: current.studyInstanceUid, reportId });
  ok(link, 201, 'share link');
  const rule = await admin('POST', '/api/v1/routing-rules', { name: 'matrix fixture', sourceInstitutionId: 'ks-t2', readingInstitutionId: 'ks-county' });
  ok(rule, 201, 'routing rule');
  const template = await as('radiologist', 'POST', '/api/v1/report-templates', { scope: 'personal', modality: 'US', bodyPart: 'THYROID', name: '矩阵模板', findings: '甲状腺。', impression: '未见异常。' });
  ok(template, 201, 'personal template');
  const phrase = await as('radiologist', 'POST', '/api/v1/report-phrases', { scope: 'personal', group: '矩阵', text: '未见异常。' });
  ok(phrase, 201, 'personal phrase');
  const critical = await as('radiologist', 'POST', `/api/v1/reading-requests/${requestId}/critical-findings`, { category: 'pneumothorax', note: '矩阵' });
  ok(critical, 201, 'critical finding');
  const subscription = await as('clinician', 'POST', '/fhir/r4/Subscription', matrixSubscription());
  ok(subscription, 201, 'FHIR subscription');
  const order = await as('technologist', 'POST', '/api/v1/orders', matrixOrder());
  ok(order, 201, 'order');
  const agreement = await admin('POST', '/api/v1/consultation-agreements', { requestingInstitutionId: 'ks-t1', expertInstitutionId: 'ks-county' });
  ok(agreement, 201, 'consultation agreement');
  const consultation = await as('clinician', 'POST', '/api/v1/consultations', { type: 'routine', studyInstanceUids: [current.studyInstanceUid], question: '矩阵', clinicalSummary: '矩阵', invitedExperts: ['m-expert'] });
  ok(consultation, 201, 'consultation');
  const shift = await admin('POST', '/api/v1/duty-roster', matrixShift('m-expert'));
  ok(shift, 201, 'duty shift');
  const referral = await as('clinician', 'POST', '/api/v1/referrals', { direction: 'up', patient: { patientId: 'P-MATRIX' }, fromInstitutionId: 'ks-t1', toInstitutionId: 'ks-county', reason: '矩阵', studyInstanceUids: [current.studyInstanceUid], reportIds: [] });
  ok(referral, 201, 'referral');
  const mdt = await as('clinician', 'POST', '/api/v1/mdt-sessions', { title: '矩阵 MDT', scheduledAt: '2026-12-08T08:00:00Z', studyInstanceUids: [current.studyInstanceUid], departments: ['放射科'], participants: [{ username: USERS.radiologist.username, department: '放射科' }] });
  ok(mdt, 201, 'MDT session');
  await server.feedHandled();
  const persons = await admin('GET', `/api/v1/patients?name=${encodeURIComponent('周敏')}&birthDate=19700101`);
  ok(persons, 200, 'the matrix patient in the patient index');
  fx = {
    referralId: (referral.body as { id: string }).id,
    mdtSessionId: (mdt.body as { id: string }).id,
    personId: (persons.body as Array<{ id: string }>)[0]!.id,
    consultationId: (consultation.body as { id: string }).id,
    agreementId: (agreement.body as { id: string }).id,
    shiftId: (shift.body as { id: string }).id,
    orderId: (order.body as { id: string }).id,
    serviceRequestId: `o-${(order.body as { id: string }).id}`,
    subscriptionId: (subscription.body as { id: string }).id,
    criticalFindingId: (critical.body as { id: string }).id,
    templateId: (template.body as { id: string }).id,
    phraseId: (phrase.body as { id: string }).id,
    studyUid: current.studyInstanceUid,
    seriesUid: current.seriesInstanceUid,
    sopUid: current.sopInstanceUid,
    priorUid: prior.studyInstanceUid,
    requestId,
    reportId,
    ruleId: (rule.body as { id: string }).id,
    linkId: (link.body as { id: string }).id,
    patientResourceId: encodePatientId({ patientId: 'P-MATRIX', institutionId: 'ks-t1' }),
  };
});

after(async () => {
  await server?.close();
});

describe('role × route matrix (issue 12, finding 2)', () => {
  test('the table lists every route of the OpenAPI document, and no route that is not there', async () => {
    const document = await as('administrator', 'GET', '/api/openapi.json');
    ok(document, 200, 'openapi.json');
    const paths = (document.body as { paths: Record<string, Record<string, unknown>> }).paths;
    const documented = Object.entries(paths).flatMap(([path, operations]) => Object.keys(operations).map((method) => `${method.toUpperCase()} ${path}`));
    const unlisted = documented.filter((key) => !(key in OPENAPI_ROUTES));
    assert.deepEqual(unlisted, [], 'routes without an expectation: add them to OPENAPI_ROUTES');
    const stale = Object.keys(OPENAPI_ROUTES).filter((key) => !documented.includes(key));
    assert.deepEqual(stale, [], 'expectations for routes the document no longer has');
  });

  test('a route that shows patient data lets in only roles with patients:read', () => {
    for (const [key, routeCase] of Object.entries({ ...OPENAPI_ROUTES, ...OTHER_ROUTES })) {
      if (!routeCase.patientData) continue;
      const needed = key.includes('/fhir/r4/Patient') || key.includes('/ImagingStudy') || key.startsWith('GET /dicom-web/') ? 'images:read' : 'patients:read';
      for (const role of routeCase.allowed) assert.ok((ROLE_DEFINITIONS[role].permissions as readonly string[]).includes(needed), `${key} lets in ${role}, which lacks ${needed}`);
    }
    for (const role of ['commission-analyst', 'insurance-auditor', 'gateway', 'modality'] as const) {
      assert.ok(!(ROLE_DEFINITIONS[role].permissions as readonly string[]).includes('patients:read'), `${role} must not see patient data`);
    }
  });

  test('every role gets through exactly the OpenAPI routes the table says, and 403 on the rest', async () => {
    assert.deepEqual(await runMatrix(OPENAPI_ROUTES), []);
  });

  test('FHIR DiagnosticReport and Patient, ImagingStudy and QIDO-RS follow the same table', async () => {
    assert.deepEqual(await runMatrix(OTHER_ROUTES), []);
  });

  test('a role that may see patients gets the signed report, its PDF and the event stream', async () => {
    const report = await as('clinician', 'GET', `/api/v1/reports/${fx.reportId}`);
    ok(report, 200, 'report');
    const pdf = await as('clinician', 'GET', `/api/v1/reports/${fx.reportId}/pdf`);
    ok(pdf, 200, 'pdf');
    assert.equal(pdf.headers.get('content-type'), 'application/pdf');
    const stream = await openStream('technologist', '/api/v1/events');
    assert.equal(stream.status, 200);
    assert.match(stream.headers.get('content-type') ?? '', /^text\/event-stream/);
    const fhir = await as('clinician', 'GET', `/fhir/r4/DiagnosticReport/${fx.reportId}`);
    ok(fhir, 200, 'DiagnosticReport');
  });

  test('a role without patient access learns nothing from the refusal: a real and an absent report answer alike', async () => {
    for (const role of ['commission-analyst', 'insurance-auditor', 'gateway', 'modality'] as const) {
      for (const path of ['/api/v1/reports/{id}', '/api/v1/reports/{id}/pdf', '/api/v1/reading-requests/{id}', '/fhir/r4/DiagnosticReport/{id}']) {
        const real = await as(role, 'GET', path.replace('{id}', path.includes('reading-requests') ? fx.requestId : fx.reportId));
        const absent = await as(role, 'GET', path.replace('{id}', randomUUID()));
        assert.equal(real.status, 403, `${role} ${path}: ${real.text}`);
        assert.equal(absent.status, 403, `${role} ${path} (absent): ${absent.text}`);
        assert.equal(real.text, absent.text, `${role} ${path}: the refusal differs for a real record`);
      }
    }
  });
});

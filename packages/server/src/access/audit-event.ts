import type { Caller } from './caller.ts';

/**
 * What the audit trail records, in the spirit of IHE ATNA / DICOM PS3.15 A.5: who (the
 * caller), what (action and object), when, from where and through which interface.
 * Actions are past tense, `object.verb`: study.queried, study.viewed, study.retrieved,
 * study.exported, study.shared, study.corrected, study.deleted, instance.stored,
 * user.logged-in, user.login-failed, user.created, institution.created, ae.registered,
 * access.denied (a 403, or a 404 of an authenticated lookup), statistics.viewed,
 * events.subscribed, share.link-viewed (staff views of a link or its QR code),
 * association.refused (an A-ASSOCIATE-RJ), move.refused (a C-MOVE destination unknown or not permitted), …
 */
export interface AuditEventInput {
  action: string;
  outcome?: 'success' | 'failure';
  caller: Caller;
  objectType?: 'study' | 'patient' | 'user' | 'institution' | 'ae' | 'session' | 'audit' | 'share' | 'template' | 'phrase' | 'order' | 'consultation' | 'referral' | 'mdt-session';
  objectId?: string;
  /** the patient the object belongs to (DICOM Patient ID), never a name */
  patientId?: string;
  /** anything else the auditor needs: counts, old values of a correction, query keys without names */
  details?: Record<string, unknown>;
}

/** Where audit events go. Recording resolves once the event is committed (hash-chained). */
export interface AuditRecorder {
  record(event: AuditEventInput): Promise<void>;
}

/** For tests and tools that need no trail. */
export const noAudit: AuditRecorder = { record: async () => undefined };

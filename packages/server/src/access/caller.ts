import { YunyingError } from '../errors.ts';
import { DEFAULT_INSTITUTION_ID } from '../store/institutions.ts';
import type { StudyScope } from '../store/index-store.ts';
import { roleHasPermission, type Permission } from './permissions.ts';
import { ROLE_DEFINITIONS, type Role } from './roles.ts';

/**
 * Who is asking. Every domain call receives the caller explicitly and applies scope
 * itself (design.md: "Caller passed explicitly"). The caller is resolved once per request
 * or association (http-caller.ts, dimse-caller.ts) from a token, credentials or an AE title.
 */
export type CallerKind = 'user' | 'ae' | 'system';

/** The interface a request came through; written to the audit trail. */
export type AccessInterface = 'dicomweb' | 'wado-uri' | 'dimse' | 'rest' | 'fhir' | 'cli' | 'system';

export interface Caller {
  kind: CallerKind;
  /** user name or calling AE title; written to logs and the audit trail, never a secret */
  name: string;
  /** users only */
  userId?: string;
  institutionId: string;
  role: Role;
  /** institutions whose studies this caller may see; `'all'` for platform administrators */
  visibleInstitutionIds: readonly string[] | 'all';
  /** studies granted to this institution (sent to it for reading or consultation) are visible too */
  grantedToInstitutionId?: string;
  /** users: studies granted to this user alone until they expire (a clinician's access request, recognition/) are visible too */
  grantedToUserId?: string;
  via: AccessInterface;
  /** where the request came from (IP address) */
  remoteAddress?: string;
}

export { DEFAULT_INSTITUTION_ID };

export function systemCaller(name = 'system'): Caller {
  return { kind: 'system', name, institutionId: DEFAULT_INSTITUTION_ID, role: 'administrator', visibleInstitutionIds: 'all', via: 'system' };
}

/** A local tool (storescu, the benchmark) on a loopback-only DICOM port: design.md's default-institution administrator. */
export function localAeCaller(aeTitle: string, remoteAddress?: string): Caller {
  return { kind: 'ae', name: aeTitle, institutionId: DEFAULT_INSTITUTION_ID, role: 'administrator', visibleInstitutionIds: 'all', via: 'dimse', remoteAddress };
}

export function hasPermission(caller: Caller, permission: Permission): boolean {
  return roleHasPermission(caller.role, permission);
}

/**
 * The caller's role reaches every institution (platform administrators): institution
 * checks (the requesting institution, the issuing institution) do not apply to it.
 */
export function actsForEveryInstitution(caller: Caller): boolean {
  return ROLE_DEFINITIONS[caller.role].reach === 'all';
}

/** 403 when the caller's role never may do this (a question of role, not of which study: nothing leaks). */
export function requirePermission(caller: Caller, permission: Permission): void {
  if (!hasPermission(caller, permission)) {
    throw new YunyingError('FORBIDDEN', `the role ${caller.role} may not do this (needs ${permission})`);
  }
}

export function canSeeInstitution(caller: Caller, institutionId: string): boolean {
  return caller.visibleInstitutionIds === 'all' || caller.visibleInstitutionIds.includes(institutionId);
}

/** The caller's scope as the index applies it in SQL. */
export function studyScopeOf(caller: Caller): StudyScope {
  if (caller.visibleInstitutionIds === 'all') return {};
  return { institutionIds: caller.visibleInstitutionIds, grantedToInstitutionId: caller.grantedToInstitutionId, grantedToUserId: caller.grantedToUserId };
}

/**
 * Who is asking. Every domain call receives the caller explicitly and applies scope
 * itself (design.md: "Caller passed explicitly"). Users, roles and institution
 * hierarchy arrive with the access issue; until then the archive knows the institution
 * an AE or user belongs to and whether it may see every institution.
 */
export type CallerKind = 'user' | 'ae' | 'system';

export interface Caller {
  kind: CallerKind;
  /** user name or calling AE title; written to logs and the audit trail, never a secret */
  name: string;
  institutionId: string;
  role: string;
  /** institutions whose studies this caller may see; `'all'` for platform administrators */
  visibleInstitutionIds: readonly string[] | 'all';
  /** where the request came from (IP address) */
  remoteAddress?: string;
}

export const DEFAULT_INSTITUTION_ID = 'default';

export function systemCaller(name = 'system'): Caller {
  return { kind: 'system', name, institutionId: DEFAULT_INSTITUTION_ID, role: 'administrator', visibleInstitutionIds: 'all' };
}

/** A local tool (storescu, the benchmark) on a loopback-only DICOM port: design.md's default-institution administrator. */
export function localAeCaller(aeTitle: string, remoteAddress?: string): Caller {
  return { kind: 'ae', name: aeTitle, institutionId: DEFAULT_INSTITUTION_ID, role: 'administrator', visibleInstitutionIds: 'all', remoteAddress };
}

export function canSeeInstitution(caller: Caller, institutionId: string): boolean {
  return caller.visibleInstitutionIds === 'all' || caller.visibleInstitutionIds.includes(institutionId);
}

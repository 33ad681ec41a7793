/**
 * Roles (design.md "Who uses it") and what each may do. A permission says which kind of
 * operation a role may attempt; which studies it applies to is the caller's scope
 * (caller.ts), decided from the role and the institution.
 */
export const ROLES = [
  'technologist',
  'radiologist',
  'reviewing-radiologist',
  'expert',
  'clinician',
  'qc-officer',
  'commission-analyst',
  'insurance-auditor',
  'administrator',
  /** an edge gateway's account: sends images of its institution, nothing else */
  'gateway',
  /** a registered calling AE (modality or workstation) of an institution */
  'modality',
] as const;

export type Role = (typeof ROLES)[number];

export const PERMISSIONS = [
  /** QIDO-RS, WADO-RS, WADO-URI, C-FIND, C-MOVE, C-GET, FHIR ImagingStudy: studies in scope */
  'images:read',
  /** STOW-RS, C-STORE */
  'images:write',
  /**
   * patient identity and clinical content outside the images: reading requests, reports,
   * report PDFs, the notification stream, FHIR DiagnosticReport, cloud-film links (issue 12,
   * finding 2). Checked at the route before any lookup, on top of the institution match.
   */
  'patients:read',
  /** aggregates (counts by institution, modality, month) without patient data */
  'statistics:read',
  /** search and export the audit trail */
  'audit:read',
  /** correct demographics, delete studies */
  'studies:manage',
  /** institutions, users, AE titles, alliances */
  'platform:manage',
] as const;

export type Permission = (typeof PERMISSIONS)[number];

/**
 * How far a role's scope reaches:
 * - own: the caller's institution only;
 * - served: the caller's institution, the institutions it serves in an alliance, and studies
 *   granted to it (sent for reading or consultation);
 * - region: the caller's institution and every institution below it in the hierarchy;
 * - none: no studies at all (aggregates or the audit trail only);
 * - all: every institution (platform administrators).
 */
export type ScopeReach = 'own' | 'served' | 'region' | 'none' | 'all';

interface RoleDefinition {
  permissions: readonly Permission[];
  reach: ScopeReach;
  /** 简体中文 label, for the UI and the CLI */
  label: string;
}

export const ROLE_DEFINITIONS: Record<Role, RoleDefinition> = {
  technologist: { permissions: ['images:read', 'images:write', 'patients:read'], reach: 'own', label: '技师' },
  radiologist: { permissions: ['images:read', 'patients:read'], reach: 'served', label: '诊断医师' },
  'reviewing-radiologist': { permissions: ['images:read', 'patients:read'], reach: 'served', label: '审核医师' },
  expert: { permissions: ['images:read', 'patients:read'], reach: 'served', label: '会诊专家' },
  clinician: { permissions: ['images:read', 'patients:read'], reach: 'served', label: '临床医生' },
  'qc-officer': { permissions: ['images:read', 'patients:read'], reach: 'region', label: '质控员' },
  // No patient data for these: aggregates, the audit trail, sending images, a device's queries.
  'commission-analyst': { permissions: ['statistics:read'], reach: 'region', label: '卫健委' },
  'insurance-auditor': { permissions: ['audit:read'], reach: 'none', label: '医保' },
  administrator: { permissions: ['images:read', 'images:write', 'patients:read', 'statistics:read', 'audit:read', 'studies:manage', 'platform:manage'], reach: 'all', label: '管理员' },
  gateway: { permissions: ['images:write'], reach: 'own', label: '前置机' },
  modality: { permissions: ['images:read', 'images:write'], reach: 'own', label: '设备' },
};

export function isRole(value: string): value is Role {
  return (ROLES as readonly string[]).includes(value);
}

/**
 * Roles (design.md "Who uses it"): what each may do (its permissions, from the one table in
 * permissions.ts) and how far its scope reaches. Which studies an operation applies to is the
 * caller's scope (caller.ts), decided from the reach and the institution.
 */
import { permissionsOf, type Permission } from './permissions.ts';
import type { Role } from './role-names.ts';

export { ROLES, isRole, type Role } from './role-names.ts';
export type { Permission } from './permissions.ts';

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
  /** from the table in permissions.ts (with the modules' permissions) */
  readonly permissions: readonly Permission[];
  reach: ScopeReach;
  /** 简体中文 label, for the UI and the CLI */
  label: string;
}

const ROLE_SCOPES: Record<Role, Omit<RoleDefinition, 'permissions'>> = {
  technologist: { reach: 'own', label: '技师' },
  radiologist: { reach: 'served', label: '诊断医师' },
  'reviewing-radiologist': { reach: 'served', label: '审核医师' },
  expert: { reach: 'served', label: '会诊专家' },
  clinician: { reach: 'served', label: '临床医生' },
  'qc-officer': { reach: 'region', label: '质控员' },
  'commission-analyst': { reach: 'region', label: '卫健委' },
  'insurance-auditor': { reach: 'none', label: '医保' },
  administrator: { reach: 'all', label: '管理员' },
  gateway: { reach: 'own', label: '前置机' },
  modality: { reach: 'own', label: '设备' },
};

function definitionOf(role: Role): RoleDefinition {
  return {
    ...ROLE_SCOPES[role],
    // read at each use: modules add permissions when they register
    get permissions() {
      return permissionsOf(role);
    },
  };
}

export const ROLE_DEFINITIONS: Readonly<Record<Role, RoleDefinition>> = Object.fromEntries(
  (Object.keys(ROLE_SCOPES) as Role[]).map((role) => [role, definitionOf(role)]),
) as Record<Role, RoleDefinition>;

/** The roles (design.md "Who uses it"): the rows of the permission table (permissions.ts) and of ROLE_DEFINITIONS (roles.ts). */
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

export function isRole(value: string): value is Role {
  return (ROLES as readonly string[]).includes(value);
}

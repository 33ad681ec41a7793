/**
 * The permission catalog and the ONE table of which role holds which permission. A
 * permission names an operation a route (or a service behind it) performs; which studies it
 * applies to is the caller's scope (caller.ts), decided from the role's reach and the
 * institution. Routes declare theirs (`config: { permission }`, route-permission.ts) and
 * services check theirs with requirePermission; nothing else looks at role names.
 *
 * A module declares its own permissions (YunyingModule.permissions, with the roles that hold
 * them) and adds their names to the Permission type by declaration merging:
 *
 *   declare module '../access/permissions.ts' { interface ModulePermissions { 'qc:grade': true } }
 *
 * docs/errors.md shows the catalog and the table (npm run docs:errors).
 */
import { ROLES, type Role } from './role-names.ts';

export interface PermissionText {
  zh: string;
  en: string;
}

export const CORE_PERMISSIONS = {
  'images:read': { zh: '查询与调阅范围内的影像（QIDO-RS、WADO、C-FIND、C-MOVE、C-GET、FHIR ImagingStudy/Patient）', en: 'query and retrieve the images in scope (QIDO-RS, WADO, C-FIND, C-MOVE, C-GET, FHIR ImagingStudy and Patient)' },
  'images:write': { zh: '上传影像（STOW-RS、C-STORE）', en: 'send images (STOW-RS, C-STORE)' },
  'patients:read': { zh: '查看影像以外的患者身份与临床内容：诊断申请、报告、通知、FHIR DiagnosticReport、云胶片链接', en: 'see patient identity and clinical content beyond the images: reading requests, reports, notifications, FHIR DiagnosticReport, cloud-film links' },
  'statistics:read': { zh: '查看不含患者信息的统计（按机构、设备类型、月份）', en: 'see aggregates without patient data (by institution, modality, month)' },
  'audit:read': { zh: '检索、导出与校验审计日志', en: 'search, export and verify the audit trail' },
  'studies:manage': { zh: '更正检查信息、删除检查、授权其他机构查看检查', en: 'correct demographics, delete studies, grant a study to another institution' },
  'platform:manage': { zh: '管理机构、用户、AE、DICOM 节点、医联体与运行指标', en: 'manage institutions, users, AE titles, DICOM nodes, alliances and the metrics' },
  'request:create': { zh: '发起远程诊断申请，并处理本机构申请（图像齐全、重拍、重新提交、撤销）', en: 'request a remote read and act on the requests of the own institution (images complete, retake, resubmit, cancel)' },
  'worklist:read': { zh: '查看诊断工作列表', en: 'see the reading worklist' },
  'request:claim': { zh: '在诊断中心领取、释放诊断申请，或要求重拍', en: 'claim and release reading requests at the reading centre, or ask for a retake' },
  'report:write': { zh: '书写、提交报告与补充报告', en: 'write and submit reports and addenda' },
  'report:sign': { zh: '审核签发或退回报告（二级审核）', en: 'sign or return a report (second-level review)' },
  'priors:read': { zh: '诊断时查看患者既往检查', en: 'see the patient’s prior studies while reading' },
  'workload:read': { zh: '查看医师工作量统计', en: 'see the workload counts per radiologist' },
  'routing:manage': { zh: '管理诊断申请的自动分配规则', en: 'manage the routing rules of reading requests' },
  'share:issue': { zh: '为患者签发云胶片链接与访问码', en: 'issue cloud-film links and access codes for patients' },
  'share:revoke': { zh: '撤销云胶片链接', en: 'revoke cloud-film links' },
} as const satisfies Record<string, PermissionText>;

export type CorePermission = keyof typeof CORE_PERMISSIONS;

/** Modules add their permission names here (declaration merging; see the file comment). */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface ModulePermissions {}

export type Permission = CorePermission | (keyof ModulePermissions & string);

export interface PermissionDeclaration {
  name: Permission;
  zh: string;
  en: string;
  /** the roles that hold it (a module's permission joins the table with these rows) */
  roles?: readonly Role[];
}

const CLINICAL_READ = ['images:read', 'patients:read'] as const satisfies readonly CorePermission[];
const READING = [...CLINICAL_READ, 'worklist:read', 'request:claim', 'report:write', 'priors:read', 'workload:read', 'share:issue', 'share:revoke'] as const satisfies readonly CorePermission[];

/** THE table: what each role may do. A role not holding a permission gets 403 before any lookup. */
export const ROLE_PERMISSIONS: Readonly<Record<Role, readonly CorePermission[]>> = {
  technologist: [...CLINICAL_READ, 'images:write', 'request:create', 'worklist:read', 'share:issue', 'share:revoke'],
  radiologist: READING,
  'reviewing-radiologist': [...READING, 'report:sign'],
  expert: READING,
  clinician: [...CLINICAL_READ, 'share:issue', 'share:revoke'],
  'qc-officer': [...CLINICAL_READ, 'share:issue', 'share:revoke'],
  // No patient data for these: aggregates, the audit trail, sending images, a device's queries.
  'commission-analyst': ['statistics:read', 'workload:read'],
  'insurance-auditor': ['audit:read'],
  // Platform administrators run the platform and may act for any institution; they do not read (no claim, write or sign).
  administrator: ['images:read', 'images:write', 'patients:read', 'statistics:read', 'audit:read', 'studies:manage', 'platform:manage', 'request:create', 'worklist:read', 'workload:read', 'routing:manage', 'share:issue', 'share:revoke'],
  gateway: ['images:write'],
  modality: ['images:read', 'images:write'],
};

/** Permissions modules declared (definePermissions), with the roles that hold them. */
const modulePermissions = new Map<Permission, PermissionDeclaration>();

/**
 * Adds a module's permissions to the catalog and the table (at registration). A name the
 * catalog already has is an error: two owners of one permission would each think they decide it.
 */
export function definePermissions(declarations: readonly PermissionDeclaration[]): void {
  for (const declaration of declarations) {
    if (Object.hasOwn(CORE_PERMISSIONS, declaration.name)) throw new Error(`permission ${declaration.name} is a core permission`);
    // a process may build several servers (tests): the same declaration again is no conflict
    const known = modulePermissions.get(declaration.name);
    if (known && JSON.stringify(known) !== JSON.stringify(declaration)) throw new Error(`permission ${declaration.name} is declared twice, differently`);
    modulePermissions.set(declaration.name, declaration);
  }
}

export function roleHasPermission(role: Role, permission: Permission): boolean {
  if ((ROLE_PERMISSIONS[role] as readonly Permission[]).includes(permission)) return true;
  return modulePermissions.get(permission)?.roles?.includes(role) ?? false;
}

/** Every permission a role holds, core and modules', in catalog order. */
export function permissionsOf(role: Role): Permission[] {
  return permissionCatalog().filter((declaration) => roleHasPermission(role, declaration.name)).map((declaration) => declaration.name);
}

/** The catalog: core permissions, then the modules'. */
export function permissionCatalog(): PermissionDeclaration[] {
  const core = (Object.keys(CORE_PERMISSIONS) as CorePermission[]).map((name): PermissionDeclaration => ({ name, ...CORE_PERMISSIONS[name], roles: ROLES.filter((role) => ROLE_PERMISSIONS[role].includes(name)) }));
  return [...core, ...modulePermissions.values()];
}

import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import { badRequest, conflict, notFound, unauthorized, YunyingError } from '../errors.ts';
import type { AccessStore, InstitutionRow, UserRow } from '../store/access-store.ts';
import type { UnitOfWork } from '../store/unit-of-work.ts';
import type { AuditRecorder } from './audit-event.ts';
import { DEFAULT_INSTITUTION_ID, requirePermission, type AccessInterface, type Caller } from './caller.ts';
import { AttemptThrottle, type ThrottleRule } from './attempt-throttle.ts';
import { dummyPasswordHash, hashPassword, needsRehash, requireStrongPassword, verifyPassword } from './passwords.ts';
import { isRole, ROLE_DEFINITIONS, ROLES, type Role } from './roles.ts';

export interface AccessOptions {
  /** lifetime of a bearer token */
  tokenTtlSeconds: number;
  /** grants commit with their audit record and feed row (archive.unitOfWork) */
  unitOfWork: UnitOfWork;
  /** failed logins per account within the window before it is throttled */
  maxFailuresPerAccount?: number;
  /** failed logins per client address within the window before it is throttled */
  maxFailuresPerClient?: number;
  throttleWindowSeconds?: number;
  /** password checks of one account running at once in a process [2]; more answer 429 at once */
  maxConcurrentPerAccount?: number;
  /** password checks from one client address running at once in a process [8: a hospital behind one NAT] */
  maxConcurrentPerClient?: number;
}

export interface LoginResult {
  token: string;
  expiresAt: string;
  user: PublicUser;
}

export interface PublicUser {
  id: string;
  username: string;
  displayName: string | null;
  institutionId: string;
  role: Role;
  enabled: boolean;
}

export const INSTITUTION_TIERS = ['province', 'city', 'county', 'township'] as const;
export type InstitutionTier = (typeof INSTITUTION_TIERS)[number];

export interface InstitutionInput {
  id: string;
  name: string;
  tier?: InstitutionTier;
  grade?: 1 | 2 | 3;
  regionCode?: string;
  parentId?: string;
}

export interface PublicInstitution {
  id: string;
  name: string;
  tier: string | null;
  grade: number | null;
  regionCode: string | null;
  parentId: string | null;
  /** institutions this one serves as a diagnostic centre */
  serves: string[];
}

export interface UserInput {
  username: string;
  password: string;
  role: string;
  institutionId: string;
  displayName?: string;
}

export interface UserChanges {
  password?: string;
  role?: string;
  institutionId?: string;
  displayName?: string | null;
  enabled?: boolean;
}

export interface AeInput {
  aeTitle: string;
  institutionId: string;
  host?: string;
  port?: number;
  description?: string;
}

/** Where a request or association came from: the interface and the client address. */
export interface Origin {
  via: AccessInterface;
  remoteAddress?: string;
}

const USERNAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/;
const INSTITUTION_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/**
 * Institutions, users, AE titles, sessions and scope: who a caller is and what it may see.
 * Every administrative change is checked against the caller's permissions and audited.
 */
export class AccessService {
  /** Basic credentials already verified, keyed by a hash of user, password and stored hash; per process, never shared. */
  private readonly verifiedBasic = new Map<string, number>();
  /** Basic checks in progress by the same key: a DICOM tool's parallel first requests share one verification. */
  private readonly basicInFlight = new Map<string, Promise<UserRow>>();
  private readonly maxFailuresPerAccount: number;
  private readonly maxFailuresPerClient: number;
  private readonly maxConcurrentPerAccount: number;
  private readonly maxConcurrentPerClient: number;
  private readonly throttle: AttemptThrottle;

  private readonly store: AccessStore;
  private readonly audit: AuditRecorder;
  private readonly options: AccessOptions;
  constructor(
    store: AccessStore,
    audit: AuditRecorder,
    options: AccessOptions,
  ) {
    this.store = store;
    this.audit = audit;
    this.options = options;
    this.maxFailuresPerAccount = options.maxFailuresPerAccount ?? 5;
    this.maxFailuresPerClient = options.maxFailuresPerClient ?? 30;
    this.maxConcurrentPerAccount = options.maxConcurrentPerAccount ?? 2;
    this.maxConcurrentPerClient = options.maxConcurrentPerClient ?? 8;
    this.throttle = new AttemptThrottle(store, (options.throttleWindowSeconds ?? 15 * 60) * 1000);
  }

  // Authentication

  async login(username: string, password: string, origin: Origin): Promise<LoginResult> {
    const user = await this.checkCredentials(username, password, origin);
    const token = randomBytes(32).toString('base64url');
    const now = Date.now();
    const expiresAt = new Date(now + this.options.tokenTtlSeconds * 1000).toISOString();
    await this.store.insertSession({ token_sha256: sha256(token), user_id: user.id, created_at: new Date(now).toISOString(), expires_at: expiresAt, revoked_at: null, remote_address: origin.remoteAddress ?? null });
    const caller = await this.callerForUser(user, origin);
    await this.audit.record({ action: 'user.logged-in', caller, objectType: 'user', objectId: user.username });
    return { token, expiresAt, user: publicUser(user) };
  }

  /** The caller a bearer token stands for; 401 when it is unknown, expired or revoked. */
  async authenticateToken(token: string, origin: Origin): Promise<Caller> {
    const live = await this.store.findLiveSession(sha256(token), new Date().toISOString());
    if (!live) throw unauthorized('the token is invalid, expired or revoked');
    return this.callerForUser(live.user, origin);
  }

  /** HTTP Basic for DICOM tools: throttled like a login; verified credentials are remembered briefly per process. */
  async authenticateBasic(username: string, password: string, origin: Origin): Promise<Caller> {
    const user = await this.store.findUserByName(username);
    if (user && user.enabled === 1) {
      const key = sha256(`${username}\u0000${password}\u0000${user.password_hash}`);
      const until = this.verifiedBasic.get(key);
      if (until !== undefined && until > Date.now()) return this.callerForUser(user, origin);
    }
    const flightKey = sha256(`${username}\u0000${password}`);
    let flight = this.basicInFlight.get(flightKey);
    if (!flight) {
      flight = this.checkCredentials(username, password, origin).finally(() => this.basicInFlight.delete(flightKey));
      this.basicInFlight.set(flightKey, flight);
    }
    const verified = await flight;
    this.rememberBasic(sha256(`${username}\u0000${password}\u0000${verified.password_hash}`));
    return this.callerForUser(verified, origin);
  }

  /** Ends the session of the token and records who logged out (a token of no live session changes nothing). */
  async logout(token: string, origin: Origin = { via: 'rest' }): Promise<void> {
    const live = await this.store.findLiveSession(sha256(token), new Date().toISOString());
    if (!(await this.store.revokeSession(sha256(token))) || !live) return;
    await this.audit.record({ action: 'user.logged-out', caller: await this.callerForUser(live.user, origin), objectType: 'user', objectId: live.user.username });
  }

  private rememberBasic(key: string): void {
    if (this.verifiedBasic.size >= 1000) this.verifiedBasic.clear();
    // A password change or a disabled account takes effect at once: the key holds the
    // stored hash, and the user row is read on every request.
    this.verifiedBasic.set(key, Date.now() + 5 * 60 * 1000);
  }

  /**
   * Verifies a user name and password under the throttle; every failure is audited without
   * the password. The attempt is reserved per account and per client address before the
   * hash is computed (attempt-throttle.ts), so parallel guesses test no more than the limit.
   */
  private async checkCredentials(username: string, password: string, origin: Origin): Promise<UserRow> {
    const rules: ThrottleRule[] = [
      { key: `user:${username.toLowerCase()}`, limit: this.maxFailuresPerAccount, maxInFlight: this.maxConcurrentPerAccount, onSuccess: 'clear' },
      { key: `ip:${origin.remoteAddress ?? 'unknown'}`, limit: this.maxFailuresPerClient, maxInFlight: this.maxConcurrentPerClient, onSuccess: 'release' },
    ];
    let user: UserRow | undefined;
    let valid = false;
    const accepted = await this.throttle.run(rules, loginThrottled, async () => {
      user = await this.store.findUserByName(username);
      // Same work whether or not the account exists: timing does not tell which names exist.
      valid = await verifyPassword(password, user?.password_hash ?? (await dummyPasswordHash()));
      return Boolean(user && valid && user.enabled === 1);
    });
    if (!accepted || !user) {
      await this.audit.record({
        action: 'user.login-failed',
        outcome: 'failure',
        caller: { kind: 'user', name: username.slice(0, 64), institutionId: user?.institution_id ?? '-', role: user && isRole(user.role) ? user.role : 'modality', visibleInstitutionIds: [], via: origin.via, remoteAddress: origin.remoteAddress },
        objectType: 'user',
        objectId: username.slice(0, 64),
        details: { reason: !user ? 'unknown user' : !valid ? 'wrong password' : 'account disabled' },
      });
      throw unauthorized('wrong user name or password');
    }
    return this.upgradeHash(user, password);
  }

  /** A hash made at an older, lower cost is replaced after the password was proven; a busy pool leaves it for next time. */
  private async upgradeHash(user: UserRow, password: string): Promise<UserRow> {
    if (!needsRehash(user.password_hash)) return user;
    try {
      const passwordHash = await hashPassword(password);
      await this.store.updateUser(user.id, { password_hash: passwordHash });
      return { ...user, password_hash: passwordHash };
    } catch {
      return user;
    }
  }

  // Callers and scope

  /** Scope from the role's reach (roles.ts) and the institution's place in alliances and the hierarchy. */
  async callerForUser(user: UserRow, origin: Origin): Promise<Caller> {
    const role: Role = isRole(user.role) ? user.role : 'clinician';
    const base = { kind: 'user' as const, name: user.username, userId: user.id, institutionId: user.institution_id, role, via: origin.via, remoteAddress: origin.remoteAddress };
    const scope = await this.scopeFor(role, user.institution_id);
    // a user's own grants (study_user_grants) widen a scope that has limits; 'none' stays none
    const personal = scope.visibleInstitutionIds !== 'all' && ROLE_DEFINITIONS[role].reach !== 'none' ? { grantedToUserId: user.id } : {};
    return { ...base, ...scope, ...personal };
  }

  /** A registered calling AE acts for its institution; undefined for an unknown AE. */
  async callerForAe(aeTitle: string, remoteAddress?: string): Promise<Caller | undefined> {
    const ae = await this.store.findApplicationEntity(aeTitle);
    if (!ae) return undefined;
    const scope = await this.scopeFor('modality', ae.institution_id);
    return { kind: 'ae', name: ae.ae_title, institutionId: ae.institution_id, role: 'modality', via: 'dimse', remoteAddress, ...scope };
  }

  private async scopeFor(role: Role, institutionId: string): Promise<Pick<Caller, 'visibleInstitutionIds' | 'grantedToInstitutionId'>> {
    switch (ROLE_DEFINITIONS[role].reach) {
      case 'all':
        return { visibleInstitutionIds: 'all' };
      case 'none':
        return { visibleInstitutionIds: [] };
      case 'own':
        return { visibleInstitutionIds: [institutionId] };
      case 'served':
        return { visibleInstitutionIds: [institutionId, ...(await this.store.listAllianceMembers(institutionId))], grantedToInstitutionId: institutionId };
      case 'region':
        return { visibleInstitutionIds: await this.store.institutionSubtree(institutionId) };
    }
  }

  /**
   * On first start with no users: user `admin` with YUNYING_ADMIN_PASSWORD, or with a random
   * password written to a file only the server's user can read (never to the log).
   */
  async ensureFirstAdministrator(adminPassword: string | undefined, dataDir: string, logger: Logger): Promise<void> {
    if ((await this.store.countUsers()) > 0) return;
    const password = adminPassword ?? randomBytes(18).toString('base64url');
    // Several processes may start at once on a fresh database, each with a password of its
    // own: the unique user name lets one insert win, and only that process names its password
    // in the file (issue 13, item 10). Written to a temporary file first, so the file is whole
    // the moment it appears, and kept ready before the insert, so the password is never lost.
    const pending = adminPassword ? undefined : await writePendingPasswordFile(dataDir, password);
    try {
      await this.store.insertUser({ id: randomUUID(), username: 'admin', display_name: '管理员', institution_id: DEFAULT_INSTITUTION_ID, role: 'administrator', password_hash: await hashPassword(password), enabled: 1 });
    } catch (error) {
      if (pending) await rm(pending.temporary, { force: true });
      if (await this.store.findUserByName('admin')) return; // another server process created it first: its file stands
      throw error;
    }
    if (pending) await rename(pending.temporary, pending.file);
    logger.info(pending ? { passwordFile: pending.file } : {}, pending ? 'created user admin; its initial password is in the file named here' : 'created user admin with YUNYING_ADMIN_PASSWORD');
  }

  // Institutions

  async createInstitution(caller: Caller, input: InstitutionInput): Promise<PublicInstitution> {
    requirePermission(caller, 'platform:manage');
    if (!INSTITUTION_ID_PATTERN.test(input.id)) throw badRequest('INVALID_INSTITUTION_ID', 'an institution id is 1-64 letters, digits, dot, dash or underscore');
    if (await this.store.findInstitution(input.id)) throw conflict('INSTITUTION_EXISTS', `institution ${input.id} exists`);
    if (input.parentId) await this.requireInstitution(input.parentId);
    await this.store.insertInstitution({ id: input.id, name: input.name, tier: input.tier ?? null, grade: input.grade ?? null, region_code: input.regionCode ?? null, parent_id: input.parentId ?? null });
    await this.audit.record({ action: 'institution.created', caller, objectType: 'institution', objectId: input.id, details: { ...input } });
    return this.getInstitution(caller, input.id);
  }

  async updateInstitution(caller: Caller, id: string, changes: Partial<Omit<InstitutionInput, 'id'>>): Promise<PublicInstitution> {
    requirePermission(caller, 'platform:manage');
    const before = await this.requireInstitution(id);
    if (changes.parentId) {
      await this.requireInstitution(changes.parentId);
      if ((await this.store.institutionSubtree(id)).includes(changes.parentId)) throw badRequest('INSTITUTION_CYCLE', 'an institution cannot sit below itself');
    }
    await this.store.updateInstitution(id, {
      ...(changes.name !== undefined ? { name: changes.name } : {}),
      ...(changes.tier !== undefined ? { tier: changes.tier } : {}),
      ...(changes.grade !== undefined ? { grade: changes.grade } : {}),
      ...(changes.regionCode !== undefined ? { region_code: changes.regionCode } : {}),
      ...(changes.parentId !== undefined ? { parent_id: changes.parentId } : {}),
    });
    await this.audit.record({ action: 'institution.updated', caller, objectType: 'institution', objectId: id, details: { before: toPublicInstitution(before, []), changes } });
    return this.getInstitution(caller, id);
  }

  async getInstitution(caller: Caller, id: string): Promise<PublicInstitution> {
    requirePermission(caller, 'platform:manage');
    const row = await this.requireInstitution(id);
    return toPublicInstitution(row, await this.store.listAllianceMembers(id));
  }

  async listInstitutions(caller: Caller): Promise<PublicInstitution[]> {
    requirePermission(caller, 'platform:manage');
    const rows = await this.store.listInstitutions();
    return Promise.all(rows.map(async (row) => toPublicInstitution(row, await this.store.listAllianceMembers(row.id))));
  }

  /** The diagnostic centre serves the member (医共体): its readers see the member's studies. */
  async addAllianceMember(caller: Caller, centreId: string, memberId: string): Promise<void> {
    requirePermission(caller, 'platform:manage');
    await this.requireInstitution(centreId);
    await this.requireInstitution(memberId);
    if (centreId === memberId) throw badRequest('INVALID_ALLIANCE', 'an institution does not serve itself');
    await this.store.addAllianceMember(centreId, memberId);
    await this.audit.record({ action: 'alliance.member-added', caller, objectType: 'institution', objectId: centreId, details: { memberId } });
  }

  async removeAllianceMember(caller: Caller, centreId: string, memberId: string): Promise<void> {
    requirePermission(caller, 'platform:manage');
    if (!(await this.store.removeAllianceMember(centreId, memberId))) throw notFound(`alliance ${centreId} → ${memberId}`);
    await this.audit.record({ action: 'alliance.member-removed', caller, objectType: 'institution', objectId: centreId, details: { memberId } });
  }

  private async requireInstitution(id: string): Promise<InstitutionRow> {
    const row = await this.store.findInstitution(id);
    if (!row) throw notFound(`institution ${id}`);
    return row;
  }

  // Users

  async createUser(caller: Caller, input: UserInput): Promise<PublicUser> {
    requirePermission(caller, 'platform:manage');
    if (!USERNAME_PATTERN.test(input.username)) throw badRequest('INVALID_USERNAME', 'a user name is 1-64 letters, digits, dot, dash, underscore or @');
    if (!isRole(input.role)) throw badRequest('INVALID_ROLE', `role must be one of ${ROLES.join(', ')}`);
    requireStrongPassword(input.password, input.username);
    await this.requireInstitution(input.institutionId);
    if (await this.store.findUserByName(input.username)) throw conflict('USER_EXISTS', `user ${input.username} exists`);
    const id = randomUUID();
    await this.store.insertUser({ id, username: input.username, display_name: input.displayName ?? null, institution_id: input.institutionId, role: input.role, password_hash: await hashPassword(input.password), enabled: 1 });
    await this.audit.record({ action: 'user.created', caller, objectType: 'user', objectId: input.username, details: { role: input.role, institutionId: input.institutionId } });
    return publicUser((await this.store.findUserById(id))!);
  }

  async updateUser(caller: Caller, username: string, changes: UserChanges): Promise<PublicUser> {
    requirePermission(caller, 'platform:manage');
    const user = await this.requireUser(username);
    if (changes.role !== undefined && !isRole(changes.role)) throw badRequest('INVALID_ROLE', `role must be one of ${ROLES.join(', ')}`);
    if (changes.institutionId !== undefined) await this.requireInstitution(changes.institutionId);
    if (changes.password !== undefined) requireStrongPassword(changes.password, username);
    if (user.id === caller.userId && (changes.enabled === false || (changes.role !== undefined && changes.role !== user.role))) {
      throw badRequest('SELF_LOCKOUT', 'administrators cannot disable themselves or change their own role');
    }
    await this.store.updateUser(user.id, {
      ...(changes.role !== undefined ? { role: changes.role } : {}),
      ...(changes.institutionId !== undefined ? { institution_id: changes.institutionId } : {}),
      ...(changes.displayName !== undefined ? { display_name: changes.displayName } : {}),
      ...(changes.enabled !== undefined ? { enabled: changes.enabled ? 1 : 0 } : {}),
      ...(changes.password !== undefined ? { password_hash: await hashPassword(changes.password) } : {}),
    });
    // A new password, role, institution or a disabled account ends every open session.
    if (changes.password !== undefined || changes.enabled === false || changes.role !== undefined || changes.institutionId !== undefined) await this.store.revokeSessionsOfUser(user.id);
    const { password, ...safeChanges } = changes;
    await this.audit.record({ action: 'user.updated', caller, objectType: 'user', objectId: username, details: { before: { role: user.role, institutionId: user.institution_id, enabled: user.enabled === 1 }, changes: { ...safeChanges, ...(password !== undefined ? { password: 'changed' } : {}) } } });
    return publicUser((await this.store.findUserById(user.id))!);
  }

  /** Any user changes their own password, proving the current one. */
  async changeOwnPassword(caller: Caller, currentPassword: string, newPassword: string): Promise<void> {
    if (caller.kind !== 'user' || !caller.userId) throw badRequest('NOT_A_USER', 'only users have passwords');
    const known = await this.store.findUserById(caller.userId);
    if (!known) throw unauthorized('the current password is wrong');
    // Under the login throttle: a stolen session must not become an unthrottled password oracle.
    const user = await this.checkCredentials(known.username, currentPassword, { via: caller.via, remoteAddress: caller.remoteAddress });
    requireStrongPassword(newPassword, user.username);
    await this.store.updateUser(user.id, { password_hash: await hashPassword(newPassword) });
    await this.store.revokeSessionsOfUser(user.id);
    await this.audit.record({ action: 'user.password-changed', caller, objectType: 'user', objectId: user.username });
  }

  async listUsers(caller: Caller, institutionId?: string): Promise<PublicUser[]> {
    requirePermission(caller, 'platform:manage');
    return (await this.store.listUsers(institutionId)).map(publicUser);
  }

  async getUser(caller: Caller, username: string): Promise<PublicUser> {
    requirePermission(caller, 'platform:manage');
    return publicUser(await this.requireUser(username));
  }

  async describeSelf(caller: Caller): Promise<PublicUser & { permissions: readonly string[] }> {
    if (caller.kind !== 'user' || !caller.userId) throw badRequest('NOT_A_USER', 'not a user');
    const user = await this.store.findUserById(caller.userId);
    if (!user) throw unauthorized();
    return { ...publicUser(user), permissions: ROLE_DEFINITIONS[caller.role].permissions };
  }

  async revokeSessions(caller: Caller, username: string): Promise<number> {
    requirePermission(caller, 'platform:manage');
    const user = await this.requireUser(username);
    const count = await this.store.revokeSessionsOfUser(user.id);
    await this.audit.record({ action: 'user.sessions-revoked', caller, objectType: 'user', objectId: username, details: { count } });
    return count;
  }

  private async requireUser(username: string): Promise<UserRow> {
    const user = await this.store.findUserByName(username);
    if (!user) throw notFound(`user ${username}`);
    return user;
  }

  // Application entities

  async registerAe(caller: Caller, input: AeInput): Promise<AeInput> {
    requirePermission(caller, 'platform:manage');
    const aeTitle = input.aeTitle.trim();
    if (!/^[\x20-\x5b\x5d-\x7e]{1,16}$/.test(aeTitle)) throw badRequest('INVALID_AE_TITLE', 'an AE title is 1-16 printable characters without backslash');
    if ((input.host === undefined) !== (input.port === undefined)) throw badRequest('INVALID_AE_ADDRESS', 'give both host and port, or neither');
    await this.requireInstitution(input.institutionId);
    await this.store.upsertApplicationEntity({ ae_title: aeTitle, institution_id: input.institutionId, host: input.host ?? null, port: input.port ?? null, description: input.description ?? null });
    await this.audit.record({ action: 'ae.registered', caller, objectType: 'ae', objectId: aeTitle, details: { ...input, aeTitle } });
    return { ...input, aeTitle };
  }

  /**
   * The older PUT /dicom-nodes: a C-MOVE destination's address. A new node without
   * institutionId joins the caller's institution; an existing AE is only changed when the
   * request names its institution — an omitted one used to move the node, and the studies
   * sent to it, to the administrator's institution without a word (issue 12, finding 15).
   * The description, which this route cannot carry, is kept.
   */
  async registerDicomNode(caller: Caller, input: { aeTitle: string; host: string; port: number; institutionId?: string }): Promise<AeInput> {
    requirePermission(caller, 'platform:manage');
    const existing = await this.store.findApplicationEntity(input.aeTitle.trim());
    if (existing && input.institutionId === undefined) {
      throw conflict('INSTITUTION_REQUIRED', `AE ${existing.ae_title} is registered to institution ${existing.institution_id}: give institutionId to change it`);
    }
    return this.registerAe(caller, { aeTitle: input.aeTitle, host: input.host, port: input.port, institutionId: input.institutionId ?? caller.institutionId, ...(existing?.description ? { description: existing.description } : {}) });
  }

  async removeAe(caller: Caller, aeTitle: string): Promise<void> {
    requirePermission(caller, 'platform:manage');
    if (!(await this.store.deleteApplicationEntity(aeTitle.trim()))) throw notFound(`AE ${aeTitle}`);
    await this.audit.record({ action: 'ae.removed', caller, objectType: 'ae', objectId: aeTitle.trim() });
  }

  async listAes(caller: Caller): Promise<AeInput[]> {
    requirePermission(caller, 'platform:manage');
    return (await this.store.listApplicationEntities()).map((row) => ({ aeTitle: row.ae_title, institutionId: row.institution_id, ...(row.host !== null ? { host: row.host } : {}), ...(row.port !== null ? { port: row.port } : {}), ...(row.description ? { description: row.description } : {}) }));
  }

  /**
   * May this caller's C-MOVE send studies to a node of that institution? Its own, or a
   * diagnostic centre that serves it (the township sends to its county for reading); a
   * platform-wide caller anywhere. Not to another county, nor from the centre down to a
   * member, whose node would receive the centre's other patients (issue 12, finding 14).
   */
  async mayMoveTo(caller: Caller, destinationInstitutionId: string): Promise<boolean> {
    if (caller.visibleInstitutionIds === 'all') return true;
    if (destinationInstitutionId === caller.institutionId) return true;
    return (await this.store.listServingCentres(caller.institutionId)).includes(destinationInstitutionId);
  }

  // Study grants

  /** Makes a study visible to an institution beyond its scope (sent for reading or consultation). */
  async grantStudy(caller: Caller, studyInstanceUid: string, institutionId: string, reason: string): Promise<void> {
    requirePermission(caller, 'studies:manage');
    await this.requireInstitution(institutionId);
    await this.options.unitOfWork.run(async (tx) => {
      await tx.access.grantStudy({ study_instance_uid: studyInstanceUid, institution_id: institutionId, reason, granted_by: caller.name });
      tx.audit.record({ action: 'study.shared', caller, objectType: 'study', objectId: studyInstanceUid, details: { institutionId, reason } });
      tx.feed.append({ type: 'grant.created', resourceType: 'study', resourceId: studyInstanceUid, institutionId, payload: { reason } });
    });
  }
}

function sha256(value: string): string {
  return createHash('sha256').update(value).digest('hex');
}

function publicUser(row: UserRow): PublicUser {
  return { id: row.id, username: row.username, displayName: row.display_name, institutionId: row.institution_id, role: isRole(row.role) ? row.role : 'clinician', enabled: row.enabled === 1 };
}

function toPublicInstitution(row: InstitutionRow, serves: string[]): PublicInstitution {
  return { id: row.id, name: row.name, tier: row.tier, grade: row.grade, regionCode: row.region_code, parentId: row.parent_id, serves };
}

const loginThrottled = (retryAfterSeconds: number): YunyingError =>
  new YunyingError('LOGIN_THROTTLED', `too many failed logins; try again in ${retryAfterSeconds} s`, { retryAfterSeconds });

/**
 * The initial administrator password in a temporary file of this process alone (created
 * exclusively, readable by the owner only), to be renamed to `initial-admin-password` by the
 * process whose insert of admin won.
 */
async function writePendingPasswordFile(dataDir: string, password: string): Promise<{ file: string; temporary: string }> {
  await mkdir(dataDir, { recursive: true });
  const file = path.join(dataDir, 'initial-admin-password');
  const temporary = `${file}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  await writeFile(temporary, `${password}\n`, { mode: 0o600, flag: 'wx' });
  return { file, temporary };
}

import { randomUUID } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import type { ApplicationEntityTable, Database, InstitutionTable, SessionTable, StudyGrantTable, StudyUserGrantTable, UserTable } from './schema.ts';

export type InstitutionRow = InstitutionTable;
export type ApplicationEntityRow = ApplicationEntityTable;
export type UserRow = UserTable;
export type SessionRow = SessionTable;
export type StudyGrantRow = StudyGrantTable;
export type StudyUserGrantRow = StudyUserGrantTable;
/** A study grant to write: granted_for only for a case's grant (migration 0028). */
export type StudyGrantInput = Omit<StudyGrantRow, 'created_at' | 'granted_for'> & { granted_for?: string | null };

/**
 * Institutions, alliances, registered AEs, users, sessions, attempt throttling and study
 * grants in SQL. Everything another server process must agree on lives here, not in memory.
 */
export class AccessStore {
  private readonly db: Kysely<Database>;
  constructor(db: Kysely<Database>) {
    this.db = db;
  }

  // Institutions and alliances

  async insertInstitution(row: Omit<InstitutionRow, 'created_at'>): Promise<void> {
    await this.db.insertInto('institutions').values({ ...row, created_at: now() }).execute();
  }

  async updateInstitution(id: string, changes: Partial<Omit<InstitutionRow, 'id' | 'created_at'>>): Promise<boolean> {
    const result = await this.db.updateTable('institutions').set(changes).where('id', '=', id).executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  async findInstitution(id: string): Promise<InstitutionRow | undefined> {
    return this.db.selectFrom('institutions').selectAll().where('id', '=', id).executeTakeFirst();
  }

  async listInstitutions(): Promise<InstitutionRow[]> {
    return this.db.selectFrom('institutions').selectAll().orderBy('id').execute();
  }

  async addAllianceMember(centreId: string, memberId: string): Promise<void> {
    await this.db
      .insertInto('alliance_members')
      .values({ centre_id: centreId, member_id: memberId, created_at: now() })
      .onConflict((oc) => oc.columns(['centre_id', 'member_id']).doNothing())
      .execute();
  }

  async removeAllianceMember(centreId: string, memberId: string): Promise<boolean> {
    const result = await this.db.deleteFrom('alliance_members').where('centre_id', '=', centreId).where('member_id', '=', memberId).executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }

  async listAllianceMembers(centreId: string): Promise<string[]> {
    const rows = await this.db.selectFrom('alliance_members').select('member_id').where('centre_id', '=', centreId).orderBy('member_id').execute();
    return rows.map((row) => row.member_id);
  }

  /** Whether the centre's alliance has the institution as a member. */
  async isAllianceMember(centreId: string, memberId: string): Promise<boolean> {
    const row = await this.db.selectFrom('alliance_members').select('centre_id').where('centre_id', '=', centreId).where('member_id', '=', memberId).executeTakeFirst();
    return row !== undefined;
  }

  /** The centre that serves the institution first (the alliance it joined first): a request's default reading centre. */
  async firstServingCentre(memberId: string): Promise<string | undefined> {
    const row = await this.db.selectFrom('alliance_members').select('centre_id').where('member_id', '=', memberId).orderBy('created_at').executeTakeFirst();
    return row?.centre_id;
  }

  /** The diagnostic centres that serve this member institution (the other direction of listAllianceMembers). */
  async listServingCentres(memberId: string): Promise<string[]> {
    const rows = await this.db.selectFrom('alliance_members').select('centre_id').where('member_id', '=', memberId).orderBy('centre_id').execute();
    return rows.map((row) => row.centre_id);
  }

  /** The institution and every institution below it in the hierarchy. */
  async institutionSubtree(id: string): Promise<string[]> {
    const result = await sql<{ id: string }>`with recursive subtree(id) as (
        select id from institutions where id = ${id}
        union select i.id from institutions i join subtree s on i.parent_id = s.id)
      select id from subtree`.execute(this.db);
    return result.rows.map((row) => row.id);
  }

  // Application entities

  async upsertApplicationEntity(row: Omit<ApplicationEntityRow, 'created_at'>): Promise<void> {
    await this.db
      .insertInto('application_entities')
      .values({ ...row, created_at: now() })
      .onConflict((oc) => oc.column('ae_title').doUpdateSet({ institution_id: row.institution_id, host: row.host, port: row.port, description: row.description }))
      .execute();
  }

  async findApplicationEntity(aeTitle: string): Promise<ApplicationEntityRow | undefined> {
    return this.db.selectFrom('application_entities').selectAll().where('ae_title', '=', aeTitle).executeTakeFirst();
  }

  async listApplicationEntities(): Promise<ApplicationEntityRow[]> {
    return this.db.selectFrom('application_entities').selectAll().orderBy('ae_title').execute();
  }

  async deleteApplicationEntity(aeTitle: string): Promise<boolean> {
    const result = await this.db.deleteFrom('application_entities').where('ae_title', '=', aeTitle).executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }

  // Users

  async insertUser(row: Omit<UserRow, 'created_at' | 'updated_at'>): Promise<void> {
    const at = now();
    await this.db.insertInto('users').values({ ...row, created_at: at, updated_at: at }).execute();
  }

  async updateUser(id: string, changes: Partial<Omit<UserRow, 'id' | 'created_at' | 'updated_at'>>): Promise<boolean> {
    const result = await this.db.updateTable('users').set({ ...changes, updated_at: now() }).where('id', '=', id).executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  async findUserByName(username: string): Promise<UserRow | undefined> {
    return this.db.selectFrom('users').selectAll().where('username', '=', username).executeTakeFirst();
  }

  async findUserById(id: string): Promise<UserRow | undefined> {
    return this.db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
  }

  async listUsers(institutionId?: string): Promise<UserRow[]> {
    let query = this.db.selectFrom('users').selectAll();
    if (institutionId) query = query.where('institution_id', '=', institutionId);
    return query.orderBy('username').execute();
  }

  async countUsers(): Promise<number> {
    const row = await this.db.selectFrom('users').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
    return Number(row.n);
  }

  // Sessions

  async insertSession(row: SessionRow): Promise<void> {
    await this.db.insertInto('sessions').values(row).execute();
  }

  /** The session and its user when the token is neither expired nor revoked and the user is enabled. */
  async findLiveSession(tokenSha256: string, at: string): Promise<{ session: SessionRow; user: UserRow } | undefined> {
    const row = await this.db
      .selectFrom('sessions as s')
      .innerJoin('users as u', 'u.id', 's.user_id')
      .selectAll('u')
      .select(['s.token_sha256', 's.created_at as session_created_at', 's.expires_at', 's.revoked_at', 's.remote_address'])
      .where('s.token_sha256', '=', tokenSha256)
      .where('s.expires_at', '>', at)
      .where('s.revoked_at', 'is', null)
      .where('u.enabled', '=', 1)
      .executeTakeFirst();
    if (!row) return undefined;
    const { token_sha256, session_created_at, expires_at, revoked_at, remote_address, ...user } = row;
    return { session: { token_sha256, user_id: user.id, created_at: session_created_at, expires_at, revoked_at, remote_address }, user };
  }

  async revokeSession(tokenSha256: string): Promise<boolean> {
    const result = await this.db.updateTable('sessions').set({ revoked_at: now() }).where('token_sha256', '=', tokenSha256).where('revoked_at', 'is', null).executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  async revokeSessionsOfUser(userId: string): Promise<number> {
    const result = await this.db.updateTable('sessions').set({ revoked_at: now() }).where('user_id', '=', userId).where('revoked_at', 'is', null).executeTakeFirst();
    return Number(result.numUpdatedRows);
  }

  // Attempt throttling (logins, cloud-film codes)

  /**
   * Takes one attempt of `key`'s window, or refuses when the window already holds `limit`.
   * One conditional upsert: SQLite runs it under its write lock, PostgreSQL locks the key's
   * row and re-evaluates the condition on its latest version, so concurrent callers, in one
   * process or several, never take more than `limit` between them. A window older than
   * `windowMs` starts over. Refused: the seconds until the window ends.
   */
  async reserveAttempt(key: string, limit: number, windowMs: number): Promise<{ reserved: true } | { reserved: false; retryAfterSeconds: number }> {
    const at = new Date();
    const startedAt = at.toISOString();
    const staleBefore = new Date(at.getTime() - windowMs).toISOString();
    const taken = await this.db
      .insertInto('attempt_reservations')
      .values({ throttle_key: key, window_started_at: startedAt, attempts: 1 })
      .onConflict((oc) =>
        oc
          .column('throttle_key')
          .doUpdateSet({
            attempts: sql<number>`case when attempt_reservations.window_started_at < ${staleBefore} then 1 else attempt_reservations.attempts + 1 end`,
            window_started_at: sql<string>`case when attempt_reservations.window_started_at < ${staleBefore} then ${startedAt} else attempt_reservations.window_started_at end`,
          })
          .where(sql<boolean>`attempt_reservations.window_started_at < ${staleBefore} or attempt_reservations.attempts < ${limit}`),
      )
      .returning('attempts')
      .executeTakeFirst();
    if (taken) return { reserved: true };
    const row = await this.db.selectFrom('attempt_reservations').select('window_started_at').where('throttle_key', '=', key).executeTakeFirst();
    const endsAt = (row ? Date.parse(row.window_started_at) : at.getTime()) + windowMs;
    return { reserved: false, retryAfterSeconds: Math.max(1, Math.ceil((endsAt - Date.now()) / 1000)) };
  }

  /** Gives back an attempt that was not a guess (verified right, or never verified). */
  async releaseAttempt(key: string): Promise<void> {
    await this.db.updateTable('attempt_reservations').set({ attempts: sql<number>`attempts - 1` }).where('throttle_key', '=', key).where('attempts', '>', 0).execute();
  }

  /** Attempts of `key` in its current window, and when that window ends. */
  async attemptsInWindow(key: string, windowMs: number): Promise<{ attempts: number; retryAfterSeconds: number }> {
    const row = await this.db.selectFrom('attempt_reservations').select(['attempts', 'window_started_at']).where('throttle_key', '=', key).executeTakeFirst();
    const endsAt = row ? Date.parse(row.window_started_at) + windowMs : 0;
    if (!row || endsAt <= Date.now()) return { attempts: 0, retryAfterSeconds: 0 };
    return { attempts: Number(row.attempts), retryAfterSeconds: Math.max(1, Math.ceil((endsAt - Date.now()) / 1000)) };
  }

  /** Forgets every attempt of `key` (a right password; a new access code). */
  async clearAttempts(key: string): Promise<void> {
    await this.db.deleteFrom('attempt_reservations').where('throttle_key', '=', key).execute();
  }

  /** Drops windows that ended before `before` (ISO time), so the table holds live keys only. */
  async purgeAttempts(before: string): Promise<void> {
    await this.db.deleteFrom('attempt_reservations').where('window_started_at', '<', before).execute();
  }

  // Study grants

  async grantStudy(row: StudyGrantInput): Promise<void> {
    await this.grantStudies([row]);
  }

  /**
   * Grants several studies in one statement. A grant that exists already stays, except that a
   * grant no case ends (granted_for null) replaces a case's: the case's end must not take back
   * what a reading request or an administrator granted as well.
   */
  async grantStudies(rows: ReadonlyArray<StudyGrantInput>): Promise<void> {
    if (rows.length === 0) return;
    const createdAt = now();
    const values = rows.map((row) => ({ ...row, granted_for: row.granted_for ?? null, created_at: createdAt }));
    const lasting = values.filter((row) => row.granted_for === null);
    const forCase = values.filter((row) => row.granted_for !== null);
    if (lasting.length > 0) {
      await this.db.insertInto('study_grants').values(lasting).onConflict((oc) => oc.columns(['institution_id', 'study_instance_uid']).doUpdateSet({ granted_for: null })).execute();
    }
    if (forCase.length > 0) {
      await this.db.insertInto('study_grants').values(forCase).onConflict((oc) => oc.columns(['institution_id', 'study_instance_uid']).doNothing()).execute();
    }
  }

  /** Takes back the institution grants a case made (granted_for); returns how many. */
  async endCaseGrants(grantedFor: string): Promise<number> {
    const result = await this.db.deleteFrom('study_grants').where('granted_for', '=', grantedFor).executeTakeFirst();
    return Number(result.numDeletedRows);
  }

  /** Ends now the user grants a case made (granted_for), of one user when given; the rows stay as the record of who had access until when. */
  async endCaseUserGrants(grantedFor: string, userId?: string): Promise<number> {
    const at = now();
    let update = this.db.updateTable('study_user_grants').set({ expires_at: at }).where('granted_for', '=', grantedFor).where('expires_at', '>', at);
    if (userId !== undefined) update = update.where('user_id', '=', userId);
    const result = await update.executeTakeFirst();
    return Number(result.numUpdatedRows);
  }

  async revokeStudyGrant(studyInstanceUid: string, institutionId: string): Promise<boolean> {
    const result = await this.db.deleteFrom('study_grants').where('study_instance_uid', '=', studyInstanceUid).where('institution_id', '=', institutionId).executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }

  /** A study for one user until expiresAt (an access request or break-glass). */
  async grantStudyToUser(row: Omit<StudyUserGrantRow, 'id' | 'granted_at' | 'granted_for'> & { granted_for?: string | null }): Promise<StudyUserGrantRow> {
    const granted = { ...row, granted_for: row.granted_for ?? null, id: randomUUID(), granted_at: now() };
    await this.db.insertInto('study_user_grants').values(granted).execute();
    return granted;
  }

  /** The user's grants of these studies that have not expired, the latest expiry per study. */
  async activeUserGrants(userId: string, studyInstanceUids: readonly string[]): Promise<Map<string, string>> {
    if (studyInstanceUids.length === 0) return new Map();
    const rows = await this.db
      .selectFrom('study_user_grants')
      .select(['study_instance_uid', (eb) => eb.fn.max('expires_at').as('expires_at')])
      .where('user_id', '=', userId)
      .where('study_instance_uid', 'in', [...studyInstanceUids])
      .where('expires_at', '>', now())
      .groupBy('study_instance_uid')
      .execute();
    return new Map(rows.map((row) => [row.study_instance_uid, String(row.expires_at)]));
  }

  async listStudyGrants(studyInstanceUid: string): Promise<StudyGrantRow[]> {
    return this.db.selectFrom('study_grants').selectAll().where('study_instance_uid', '=', studyInstanceUid).orderBy('institution_id').execute();
  }
}

const now = (): string => new Date().toISOString();

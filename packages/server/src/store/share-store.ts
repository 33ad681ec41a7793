import { sql, type Kysely } from 'kysely';
import type { Database, ShareAccessTable, ShareLinkTable } from './schema.ts';

/** study_key is the store's to set (insertLink binds the link to the study row there is). */
export type ShareLinkRow = Omit<ShareLinkTable, 'views' | 'study_key'> & { views: number; study_key?: string | null };
export type ShareAccessRow = Omit<ShareAccessTable, 'id'> & { id: number };

/** A link together with its parent (onward links die with the patient's link). */
export interface ShareLinkWithParent {
  link: ShareLinkRow;
  parent?: ShareLinkRow;
  /** the study the link was made for is no longer there (deleted, or another study now has its UID) */
  studyGone: boolean;
}

export interface SeriesSummary {
  seriesInstanceUid: string;
  modality: string | null;
  seriesNumber: number | null;
  description: string | null;
  bodyPart: string | null;
}

/**
 * Cloud film in the index database: share_links and share_accesses (migration 0006), and
 * the few reads of series the patient page needs (reports come through the reports port).
 * All state of a link lives here, so revocation and expiry take effect at once in every
 * server process.
 */
export class ShareStore {
  private readonly db: Kysely<Database>;
  constructor(db: Kysely<Database>) {
    this.db = db;
  }

  async insertLink(row: Omit<ShareLinkRow, 'views'>): Promise<void> {
    await this.db.insertInto('share_links').values({ ...row, views: 0, study_key: this.keyOfStudy(row.study_instance_uid) }).execute();
  }

  async findByToken(token: string): Promise<ShareLinkWithParent | undefined> {
    const link = await this.db.selectFrom('share_links').selectAll().select(this.keyOfStudy(sql.ref('share_links.study_instance_uid')).as('current_study_key')).where('token', '=', token).executeTakeFirst();
    if (!link) return undefined;
    const { current_study_key: currentStudyKey, ...row } = link;
    const parent = row.parent_id ? await this.findById(row.parent_id) : undefined;
    return { link: row as ShareLinkRow, parent, studyGone: !isLinkOfStudyRow(row.study_key, currentStudyKey) };
  }

  async findById(id: string): Promise<ShareLinkRow | undefined> {
    return (await this.db.selectFrom('share_links').selectAll().where('id', '=', id).executeTakeFirst()) as ShareLinkRow | undefined;
  }

  /** The links of the study row there is under the UID (not those of a deleted study that had it). */
  async linksOfStudy(studyInstanceUid: string): Promise<ShareLinkRow[]> {
    const current = await this.db.selectFrom('studies').select('study_key').where('study_instance_uid', '=', studyInstanceUid).executeTakeFirst();
    if (!current) return [];
    const rows = await this.db.selectFrom('share_links').selectAll().where('study_instance_uid', '=', studyInstanceUid).orderBy('created_at').execute();
    return rows.filter((row) => isLinkOfStudyRow(row.study_key, current.study_key)) as ShareLinkRow[];
  }

  async onwardLinksOf(parentId: string): Promise<ShareLinkRow[]> {
    return (await this.db.selectFrom('share_links').selectAll().where('parent_id', '=', parentId).orderBy('created_at').execute()) as ShareLinkRow[];
  }

  /** The newest live patient link issued for a report (automatic links are made once). */
  async livePatientLinkOfReport(reportId: string, now: string): Promise<ShareLinkRow | undefined> {
    return (await this.db
      .selectFrom('share_links')
      .selectAll()
      .where('report_id', '=', reportId)
      .where('kind', '=', 'patient')
      .where('revoked_at', 'is', null)
      .where('expires_at', '>', now)
      .orderBy('created_at', 'desc')
      .executeTakeFirst()) as ShareLinkRow | undefined;
  }

  /** Revokes the link and every onward link made from it; true when the link was live. */
  async revoke(id: string, at: string): Promise<boolean> {
    const result = await this.db.updateTable('share_links').set({ revoked_at: at }).where('id', '=', id).where('revoked_at', 'is', null).executeTakeFirst();
    await this.db.updateTable('share_links').set({ revoked_at: at }).where('parent_id', '=', id).where('revoked_at', 'is', null).execute();
    return Number(result.numUpdatedRows) > 0;
  }

  async setAccessCodeHash(id: string, hash: string | null): Promise<void> {
    await this.db.updateTable('share_links').set({ access_code_hash: hash }).where('id', '=', id).execute();
  }

  async countView(id: string): Promise<void> {
    await this.db
      .updateTable('share_links')
      .set((eb) => ({ views: eb('views', '+', 1) }))
      .where('id', '=', id)
      .execute();
  }

  async recordAccess(row: Omit<ShareAccessRow, 'id'>): Promise<void> {
    await this.db.insertInto('share_accesses').values(row).execute();
  }

  async accessesOf(linkIds: readonly string[], limit = 500): Promise<ShareAccessRow[]> {
    if (linkIds.length === 0) return [];
    return (await this.db.selectFrom('share_accesses').selectAll().where('link_id', 'in', [...linkIds]).orderBy('id', 'desc').limit(limit).execute()).map((row) => ({ ...row, id: Number(row.id) }));
  }

  /** Failed codes of a link since a time (the lifetime cap counts from the last code issued). */
  async countAccesses(linkId: string, action: string, since: string): Promise<number> {
    const row = await this.db
      .selectFrom('share_accesses')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('link_id', '=', linkId)
      .where('action', '=', action)
      .where('at', '>=', since)
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }

  async lastAccessAt(linkId: string, action: string): Promise<string | undefined> {
    const row = await this.db.selectFrom('share_accesses').select('at').where('link_id', '=', linkId).where('action', '=', action).orderBy('id', 'desc').executeTakeFirst();
    return row?.at;
  }

  async seriesOfStudy(studyInstanceUid: string): Promise<SeriesSummary[]> {
    const rows = await this.db
      .selectFrom('series')
      .select(['series_instance_uid', 'modality', 'series_number', 'series_description', 'body_part_examined'])
      .where('study_instance_uid', '=', studyInstanceUid)
      .orderBy('series_number')
      .orderBy('series_instance_uid')
      .execute();
    return rows.map((row) => ({ seriesInstanceUid: row.series_instance_uid, modality: row.modality, seriesNumber: row.series_number, description: row.series_description, bodyPart: row.body_part_examined }));
  }

  /** The key of the study row under a UID (a value, or a column of the outer query), as a subquery. */
  private keyOfStudy(studyInstanceUid: unknown) {
    return sql<string | null>`(select s.study_key from studies s where s.study_instance_uid = ${studyInstanceUid})`;
  }

  async institutionName(id: string): Promise<string | undefined> {
    return (await this.db.selectFrom('institutions').select('name').where('id', '=', id).executeTakeFirst())?.name;
  }
}

/**
 * A link belongs to the study row it was made for: the row must still be there with the same
 * key. (Every study row has one since migration 0008; a link made as its study was being
 * deleted has none and belongs to nothing.)
 */
function isLinkOfStudyRow(linkStudyKey: string | null | undefined, currentStudyKey: string | null | undefined): boolean {
  return typeof linkStudyKey === 'string' && linkStudyKey === currentStudyKey;
}

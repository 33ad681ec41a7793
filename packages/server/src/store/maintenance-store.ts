import type { Kysely } from 'kysely';
import type { SqlDialectName } from './database.ts';
import type { Database, StudyTable } from './schema.ts';
import { inTransaction } from './transaction.ts';

export interface ReplacedBlob {
  sopInstanceUid: string;
  blobKey: string;
  size: number;
  contentSha256: string;
}

export type StudyDemographics = Pick<StudyTable, 'patient_id' | 'patient_name' | 'patient_name_alphabetic' | 'patient_name_ideographic' | 'patient_name_phonetic' | 'patient_name_search' | 'patient_name_bigrams' | 'patient_name_pinyin' | 'patient_birth_date' | 'patient_sex' | 'attributes_json'>;

/** What a deletion ended with the study: requests tombstoned (their reports with them) and links revoked. */
export interface EndedRecords {
  readingRequests: number;
  shareLinks: number;
}

/** Corrections and deletions of whole studies: each is one transaction on the index. */
export class MaintenanceStore {
  private readonly db: Kysely<Database>;
  private readonly dialect: SqlDialectName;
  constructor(
    db: Kysely<Database>,
    dialect: SqlDialectName,
  ) {
    this.db = db;
    this.dialect = dialect;
  }

  async findStudy(studyInstanceUid: string): Promise<StudyTable | undefined> {
    return this.db.selectFrom('studies').selectAll().where('study_instance_uid', '=', studyInstanceUid).executeTakeFirst();
  }

  /** New demographics on the study and every instance's new object, or nothing at all. */
  async applyCorrection(studyInstanceUid: string, demographics: Partial<StudyDemographics>, blobs: readonly ReplacedBlob[]): Promise<void> {
    // The bigram array exists for PostgreSQL's index only (migration 0003); SQLite keeps it null.
    const { patient_name_bigrams: bigrams, ...rest } = demographics;
    const changes = this.dialect === 'postgres' && bigrams !== undefined ? { ...rest, patient_name_bigrams: bigrams } : rest;
    await inTransaction(this.db, async (trx) => {
      for (const blob of blobs) {
        await trx.updateTable('instances').set({ blob_key: blob.blobKey, size: blob.size, content_sha256: blob.contentSha256 }).where('sop_instance_uid', '=', blob.sopInstanceUid).execute();
      }
      await trx.updateTable('studies').set({ ...changes, updated_at: new Date().toISOString() }).where('study_instance_uid', '=', studyInstanceUid).execute();
    });
  }

  /**
   * Removes the study, its series, instances and grants from the index; in the same
   * transaction tombstones its reading requests and reports (status 'deleted', with the
   * request's event) and revokes every cloud-film link to it, so that nothing made of the
   * study outlives it, even for a moment.
   */
  async deleteStudy(studyInstanceUid: string, by: { actor: string; reason: string }): Promise<EndedRecords> {
    const at = new Date().toISOString();
    return inTransaction(this.db, async (trx) => {
      const ended = await tombstoneRecordsOf(trx, this.dialect, studyInstanceUid, at, by);
      await trx.deleteFrom('instances').where('study_instance_uid', '=', studyInstanceUid).execute();
      await trx.deleteFrom('series').where('study_instance_uid', '=', studyInstanceUid).execute();
      await trx.deleteFrom('study_grants').where('study_instance_uid', '=', studyInstanceUid).execute();
      await trx.deleteFrom('study_user_grants').where('study_instance_uid', '=', studyInstanceUid).execute();
      await trx.deleteFrom('studies').where('study_instance_uid', '=', studyInstanceUid).execute();
      return ended;
    });
  }
}

/** The study's requests and reports become tombstones, its links are revoked (see deleteStudy). */
async function tombstoneRecordsOf(trx: Kysely<Database>, dialect: SqlDialectName, studyInstanceUid: string, at: string, by: { actor: string; reason: string }): Promise<EndedRecords> {
  // Locked on PostgreSQL, so that each event's "from" is the status the update changes.
  const live = trx.selectFrom('reading_requests').select(['id', 'status']).where('study_instance_uid', '=', studyInstanceUid).where('status', '<>', 'deleted');
  const requests = await (dialect === 'postgres' ? live.forUpdate() : live).execute();
  if (requests.length > 0) {
    const ids = requests.map((request) => request.id);
    await trx.updateTable('reading_requests').set({ status: 'deleted', updated_at: at }).where('id', 'in', ids).execute();
    await trx.updateTable('reports').set({ status: 'deleted', updated_at: at }).where('request_id', 'in', ids).execute();
    const details = JSON.stringify({ reason: by.reason, studyDeleted: true });
    await trx.insertInto('reading_request_events').values(requests.map((request) => ({ request_id: request.id, at, actor: by.actor, from_status: request.status, to_status: 'deleted', details }))).execute();
  }
  const revoked = await trx.updateTable('share_links').set({ revoked_at: at }).where('study_instance_uid', '=', studyInstanceUid).where('revoked_at', 'is', null).executeTakeFirst();
  return { readingRequests: requests.length, shareLinks: Number(revoked.numUpdatedRows) };
}

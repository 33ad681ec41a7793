import type { Kysely } from 'kysely';
import type { SqlDialectName } from './database.ts';
import type { Database, StudyTable } from './schema.ts';

export interface ReplacedBlob {
  sopInstanceUid: string;
  blobKey: string;
  size: number;
  contentSha256: string;
}

export type StudyDemographics = Pick<StudyTable, 'patient_id' | 'patient_name' | 'patient_name_alphabetic' | 'patient_name_ideographic' | 'patient_name_phonetic' | 'patient_name_search' | 'patient_name_bigrams' | 'patient_birth_date' | 'patient_sex' | 'attributes_json'>;

/** Corrections and deletions of whole studies: each is one transaction on the index. */
export class MaintenanceStore {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly dialect: SqlDialectName,
  ) {}

  async findStudy(studyInstanceUid: string): Promise<StudyTable | undefined> {
    return this.db.selectFrom('studies').selectAll().where('study_instance_uid', '=', studyInstanceUid).executeTakeFirst();
  }

  /** New demographics on the study and every instance's new object, or nothing at all. */
  async applyCorrection(studyInstanceUid: string, demographics: Partial<StudyDemographics>, blobs: readonly ReplacedBlob[]): Promise<void> {
    // The bigram array exists for PostgreSQL's index only (migration 0003); SQLite keeps it null.
    const { patient_name_bigrams: bigrams, ...rest } = demographics;
    const changes = this.dialect === 'postgres' && bigrams !== undefined ? { ...rest, patient_name_bigrams: bigrams } : rest;
    await this.db.transaction().execute(async (trx) => {
      for (const blob of blobs) {
        await trx.updateTable('instances').set({ blob_key: blob.blobKey, size: blob.size, content_sha256: blob.contentSha256 }).where('sop_instance_uid', '=', blob.sopInstanceUid).execute();
      }
      await trx.updateTable('studies').set({ ...changes, updated_at: new Date().toISOString() }).where('study_instance_uid', '=', studyInstanceUid).execute();
    });
  }

  /** Removes the study, its series, instances and grants from the index. */
  async deleteStudy(studyInstanceUid: string): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      await trx.deleteFrom('instances').where('study_instance_uid', '=', studyInstanceUid).execute();
      await trx.deleteFrom('series').where('study_instance_uid', '=', studyInstanceUid).execute();
      await trx.deleteFrom('study_grants').where('study_instance_uid', '=', studyInstanceUid).execute();
      await trx.deleteFrom('studies').where('study_instance_uid', '=', studyInstanceUid).execute();
    });
  }
}

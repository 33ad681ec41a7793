/**
 * The gateway's local cache (issue 13, item 6: the gateway runs without the server): Part 10
 * files under DATA_DIR/blobs named by their content hash, and an SQLite index of studies,
 * series and instances that the forwarding queue, eviction, C-FIND and C-MOVE read.
 *
 * An instance is acknowledged only once durable (docs/adr/0003): the file is written, synced
 * and renamed into place, then the index row commits (with fsync on, SQLite syncs each
 * commit); only then does ingest resolve, and the SCP answer the modality.
 */
import { createHash, randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { Kysely, SqliteDialect, sql } from 'kysely';
import { buildPart10Header, parseDicom, readIndexAttributes, type IndexAttributes } from '@yunying/dicom';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyDb = Kysely<any>;

/** The index tables, for typed queries beside the raw SQL (the queue's tables are added with withTables). */
export interface CacheSchema {
  studies: { study_instance_uid: string; patient_id: string | null; patient_name: string | null; study_date: string | null; updated_at: number };
  series: { series_instance_uid: string; study_instance_uid: string; modality: string | null; series_number: number | null };
  instances: { sop_instance_uid: string; study_instance_uid: string; series_instance_uid: string; sop_class_uid: string; transfer_syntax_uid: string; instance_number: number | null; blob_key: string; size: number; stored_at: number };
}

export type IngestInput =
  /** a Part 10 file (tests, imports) */
  | { kind: 'part10'; bytes: Buffer }
  /** a bare data set as received over DIMSE, in the negotiated transfer syntax */
  | { kind: 'dataset'; bytes: Buffer; transferSyntaxUid: string; sopClassUid: string; sopInstanceUid: string; sourceAeTitle: string };

export interface IngestResult {
  /** stored: new; duplicate: the same bytes again (nothing written); replaced: other bytes under the UID */
  outcome: 'stored' | 'duplicate' | 'replaced';
  sopInstanceUid: string;
  sopClassUid: string;
  studyInstanceUid: string;
  seriesInstanceUid: string;
}

export interface CachedInstance {
  sopInstanceUid: string;
  sopClassUid: string;
  studyInstanceUid: string;
  seriesInstanceUid: string;
  transferSyntaxUid: string;
  blobKey: string;
  size: number;
  instanceNumber?: number;
}

/** Which instances: any list may hold several UIDs (a C-MOVE list of UIDs). */
export interface InstanceScope {
  patientIds?: string[];
  studyInstanceUids?: string[];
  seriesInstanceUids?: string[];
  sopInstanceUids?: string[];
}

/** A refusal with the DIMSE status the SCP answers (duck-typed by @yunying/dimse). */
export class CacheError extends Error {
  readonly dimseStatus: number;

  constructor(dimseStatus: number, message: string) {
    super(message);
    this.dimseStatus = dimseStatus;
    this.name = 'CacheError';
  }
}

const CANNOT_UNDERSTAND = 0xc000;
/** C-STORE "Cannot understand" range, as the cloud answers it (0111 is a DIMSE-N status, not a C-STORE one; ADR 0002) */
const SOP_INSTANCE_CONFLICT = 0xc111;

export interface CacheOptions {
  dataDir: string;
  /** sync files and commits before acknowledging (durable across power loss, not only crashes) */
  fsync: boolean;
  /** after the index commit of a stored or replaced instance */
  onStored?(result: IngestResult): void;
}

const SCHEMA: readonly string[] = [
  `create table if not exists studies (
     study_instance_uid text primary key,
     patient_id text, issuer_of_patient_id text, patient_name text, patient_birth_date text, patient_sex text,
     study_date text, study_time text, accession_number text, study_id text, study_description text,
     referring_physician_name text, updated_at integer not null
   )`,
  `create table if not exists series (
     series_instance_uid text primary key,
     study_instance_uid text not null,
     modality text, series_number integer, series_description text
   )`,
  `create index if not exists series_study on series (study_instance_uid)`,
  `create table if not exists instances (
     sop_instance_uid text primary key,
     study_instance_uid text not null,
     series_instance_uid text not null,
     sop_class_uid text not null,
     transfer_syntax_uid text not null,
     instance_number integer,
     blob_key text not null,
     size integer not null,
     source_ae_title text,
     stored_at integer not null
   )`,
  `create index if not exists instances_study on instances (study_instance_uid)`,
  `create index if not exists instances_series on instances (series_instance_uid)`,
  `create index if not exists instances_blob on instances (blob_key)`,
];

/** Part 10 files by content hash, written durably. */
export class CacheBlobs {
  readonly root: string;
  private readonly fsync: boolean;

  constructor(root: string, fsync: boolean) {
    this.root = root;
    this.fsync = fsync;
  }

  static keyOf(bytes: Buffer): string {
    const hash = createHash('sha256').update(bytes).digest('hex');
    return `${hash.slice(0, 2)}/${hash}.dcm`;
  }

  private pathOf(key: string): string {
    if (!/^[0-9a-f]{2}\/[0-9a-f]{64}\.dcm$/.test(key)) throw new Error(`not a cache key: ${key}`);
    return path.join(this.root, key);
  }

  async get(key: string): Promise<Buffer> {
    return readFile(this.pathOf(key));
  }

  /** Writes the file under a temporary name, syncs it, renames it into place and syncs the directory. */
  async put(key: string, bytes: Buffer): Promise<void> {
    const file = this.pathOf(key);
    const dir = path.dirname(file);
    await mkdir(dir, { recursive: true });
    const temporary = `${file}.${randomUUID()}.tmp`;
    const handle = await open(temporary, 'wx');
    try {
      await handle.writeFile(bytes);
      if (this.fsync) await handle.datasync();
    } finally {
      await handle.close();
    }
    await rename(temporary, file);
    if (this.fsync) {
      const directory = await open(dir, 'r');
      try {
        await directory.sync();
      } finally {
        await directory.close();
      }
    }
  }

  async delete(key: string): Promise<void> {
    await rm(this.pathOf(key), { force: true });
  }
}

interface InstanceRow {
  sop_instance_uid: string;
  study_instance_uid: string;
  series_instance_uid: string;
  sop_class_uid: string;
  transfer_syntax_uid: string;
  instance_number: number | null;
  blob_key: string;
  size: number;
}

function toCached(row: InstanceRow): CachedInstance {
  return {
    sopInstanceUid: row.sop_instance_uid,
    sopClassUid: row.sop_class_uid,
    studyInstanceUid: row.study_instance_uid,
    seriesInstanceUid: row.series_instance_uid,
    transferSyntaxUid: row.transfer_syntax_uid,
    blobKey: row.blob_key,
    size: Number(row.size),
    ...(row.instance_number !== null ? { instanceNumber: Number(row.instance_number) } : {}),
  };
}

export class LocalCache {
  /** the index (the queue and import tables live beside it) */
  readonly database: { db: Kysely<CacheSchema> };
  readonly blobs: CacheBlobs;
  private readonly onStored: CacheOptions['onStored'];

  private constructor(db: Kysely<CacheSchema>, blobs: CacheBlobs, onStored: CacheOptions['onStored']) {
    this.database = { db };
    this.blobs = blobs;
    this.onStored = onStored;
  }

  static async open(options: CacheOptions): Promise<LocalCache> {
    const file = path.join(options.dataDir, 'index.sqlite');
    mkdirSync(options.dataDir, { recursive: true });
    const sqlite = new SqliteDatabase(file);
    sqlite.pragma('journal_mode = WAL');
    // with fsync on, each commit is synced before it resolves: an acknowledged instance is on disk
    sqlite.pragma(`synchronous = ${options.fsync ? 'FULL' : 'NORMAL'}`);
    sqlite.pragma('busy_timeout = 5000');
    const db = new Kysely<CacheSchema>({ dialect: new SqliteDialect({ database: sqlite }) });
    await refuseServerSchema(db, file);
    for (const statement of SCHEMA) await sql.raw(statement).execute(db);
    return new LocalCache(db, new CacheBlobs(path.join(options.dataDir, 'blobs'), options.fsync), options.onStored);
  }

  async ingest(input: IngestInput): Promise<IngestResult> {
    const { bytes, attributes } = decode(input);
    const blobKey = CacheBlobs.keyOf(bytes);
    const existing = await sql<InstanceRow>`select * from instances where sop_instance_uid = ${attributes.sopInstanceUid}`.execute(this.database.db);
    const before = existing.rows[0];
    const identity = { sopInstanceUid: attributes.sopInstanceUid, sopClassUid: attributes.sopClassUid, studyInstanceUid: attributes.studyInstanceUid, seriesInstanceUid: attributes.seriesInstanceUid };
    if (before && (before.study_instance_uid !== attributes.studyInstanceUid || before.series_instance_uid !== attributes.seriesInstanceUid)) {
      throw new CacheError(SOP_INSTANCE_CONFLICT, 'SOP Instance UID already stored in another series');
    }
    if (before && before.blob_key === blobKey) {
      // the same bytes again: make sure the file is there (a crash between write and commit cannot lose it, but a manual deletion could)
      const present = await this.blobs.get(blobKey).then(() => true, () => false);
      if (present) return { outcome: 'duplicate', ...identity };
    }
    await this.blobs.put(blobKey, bytes);
    await this.database.db.transaction().execute(async (trx) => {
      await upsertStudy(trx, attributes);
      await sql`insert into series (series_instance_uid, study_instance_uid, modality, series_number, series_description)
        values (${attributes.seriesInstanceUid}, ${attributes.studyInstanceUid}, ${attributes.modality ?? null}, ${attributes.seriesNumber ?? null}, ${attributes.seriesDescription ?? null})
        on conflict (series_instance_uid) do update set modality = coalesce(excluded.modality, series.modality),
          series_number = coalesce(excluded.series_number, series.series_number), series_description = coalesce(excluded.series_description, series.series_description)`.execute(trx);
      await sql`insert into instances (sop_instance_uid, study_instance_uid, series_instance_uid, sop_class_uid, transfer_syntax_uid, instance_number, blob_key, size, source_ae_title, stored_at)
        values (${attributes.sopInstanceUid}, ${attributes.studyInstanceUid}, ${attributes.seriesInstanceUid}, ${attributes.sopClassUid}, ${attributes.transferSyntaxUid}, ${attributes.instanceNumber ?? null}, ${blobKey}, ${bytes.length}, ${input.kind === 'dataset' ? input.sourceAeTitle : null}, ${Date.now()})
        on conflict (sop_instance_uid) do update set sop_class_uid = excluded.sop_class_uid, transfer_syntax_uid = excluded.transfer_syntax_uid,
          instance_number = excluded.instance_number, blob_key = excluded.blob_key, size = excluded.size, source_ae_title = excluded.source_ae_title, stored_at = excluded.stored_at`.execute(trx);
    });
    const result: IngestResult = { outcome: before ? (before.blob_key === blobKey ? 'duplicate' : 'replaced') : 'stored', ...identity };
    if (before && before.blob_key !== blobKey) await this.deleteIfUnreferenced(before.blob_key);
    this.onStored?.(result);
    return result;
  }

  /** Instances of the scope, by series then instance number. */
  async findInstances(scope: InstanceScope): Promise<CachedInstance[]> {
    const conditions = [
      scope.sopInstanceUids?.length ? sql`i.sop_instance_uid in (${sql.join(scope.sopInstanceUids)})` : undefined,
      scope.seriesInstanceUids?.length ? sql`i.series_instance_uid in (${sql.join(scope.seriesInstanceUids)})` : undefined,
      scope.studyInstanceUids?.length ? sql`i.study_instance_uid in (${sql.join(scope.studyInstanceUids)})` : undefined,
      scope.patientIds?.length ? sql`st.patient_id in (${sql.join(scope.patientIds)})` : undefined,
    ].filter((c) => c !== undefined);
    if (conditions.length === 0) return [];
    const rows = await sql<InstanceRow>`select i.* from instances i join studies st on st.study_instance_uid = i.study_instance_uid
      where ${sql.join(conditions, sql` and `)}
      order by i.study_instance_uid, i.series_instance_uid, i.instance_number, i.sop_instance_uid`.execute(this.database.db);
    return rows.rows.map(toCached);
  }

  /** The cached Part 10 bytes, exactly as stored. */
  readInstance(instance: Pick<CachedInstance, 'blobKey'>): Promise<Buffer> {
    return this.blobs.get(instance.blobKey);
  }

  async close(): Promise<void> {
    await this.database.db.destroy();
  }

  private async deleteIfUnreferenced(blobKey: string): Promise<void> {
    const again = await sql`select 1 from instances where blob_key = ${blobKey}`.execute(this.database.db);
    if (again.rows.length === 0) await this.blobs.delete(blobKey).catch(() => undefined);
  }
}

async function upsertStudy(trx: AnyDb, a: IndexAttributes): Promise<void> {
  await sql`insert into studies (study_instance_uid, patient_id, issuer_of_patient_id, patient_name, patient_birth_date, patient_sex, study_date, study_time, accession_number, study_id, study_description, referring_physician_name, updated_at)
    values (${a.studyInstanceUid}, ${a.patientId ?? null}, ${a.issuerOfPatientId ?? null}, ${a.patientName ?? null}, ${a.patientBirthDate ?? null}, ${a.patientSex ?? null}, ${a.studyDate ?? null}, ${a.studyTime ?? null}, ${a.accessionNumber ?? null}, ${a.studyId ?? null}, ${a.studyDescription ?? null}, ${a.referringPhysicianName ?? null}, ${Date.now()})
    on conflict (study_instance_uid) do update set
      patient_id = coalesce(excluded.patient_id, studies.patient_id), issuer_of_patient_id = coalesce(excluded.issuer_of_patient_id, studies.issuer_of_patient_id),
      patient_name = coalesce(excluded.patient_name, studies.patient_name), patient_birth_date = coalesce(excluded.patient_birth_date, studies.patient_birth_date),
      patient_sex = coalesce(excluded.patient_sex, studies.patient_sex), study_date = coalesce(excluded.study_date, studies.study_date),
      study_time = coalesce(excluded.study_time, studies.study_time), accession_number = coalesce(excluded.accession_number, studies.accession_number),
      study_id = coalesce(excluded.study_id, studies.study_id), study_description = coalesce(excluded.study_description, studies.study_description),
      referring_physician_name = coalesce(excluded.referring_physician_name, studies.referring_physician_name), updated_at = excluded.updated_at`.execute(trx);
}

/** The Part 10 bytes to cache and the attributes to index; a data set gets its file meta here. */
function decode(input: IngestInput): { bytes: Buffer; attributes: IndexAttributes } {
  try {
    if (input.kind === 'part10') {
      return { bytes: input.bytes, attributes: readIndexAttributes(parseDicom(input.bytes, { untilPixelData: true })) };
    }
    const attributes = readIndexAttributes(parseDicom(input.bytes, { transferSyntaxUid: input.transferSyntaxUid, untilPixelData: true }));
    if (attributes.sopInstanceUid !== input.sopInstanceUid) throw new CacheError(CANNOT_UNDERSTAND, 'SOP Instance UID differs from the command');
    const header = buildPart10Header({ transferSyntaxUid: input.transferSyntaxUid, sopClassUid: input.sopClassUid, sopInstanceUid: input.sopInstanceUid, sourceAeTitle: input.sourceAeTitle });
    return { bytes: Buffer.concat([header, input.bytes]), attributes: { ...attributes, transferSyntaxUid: input.transferSyntaxUid } };
  } catch (err) {
    if (err instanceof CacheError) throw err;
    throw new CacheError(CANNOT_UNDERSTAND, `Cannot parse the data set: ${(err as Error).message}`);
  }
}

/**
 * A data directory of a gateway from before its own cache (the server's archive index, with
 * an institution on every instance) is not read as this cache: say so instead of failing on
 * the first insert.
 */
async function refuseServerSchema(db: AnyDb, file: string): Promise<void> {
  const columns = await sql<{ name: string }>`select name from pragma_table_info('instances')`.execute(db);
  if (columns.rows.some((c) => c.name === 'institution_id')) {
    await db.destroy();
    throw new Error(`${file} is the index of the server's archive (a gateway before issue 13): forward what it holds with that version, then start with an empty YUNYING_GATEWAY_DATA_DIR`);
  }
}

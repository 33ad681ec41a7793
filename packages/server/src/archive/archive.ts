import path from 'node:path';
import type { DicomJsonDataset } from '@yunying/dicom';
import { requirePermission, studyScopeOf, type Caller } from '../access/caller.ts';
import { AuditTrail } from '../access/audit-trail.ts';
import { ViewAudit } from '../access/view-audit.ts';
import { loadAuditKey, type AuditKey } from '../access/audit-key.ts';
import type { AccessStore } from '../store/access-store.ts';
import type { BlobStore } from '../store/blob-store.ts';
import { openIndexDatabase, type IndexDatabase, type ModuleMigrationSource } from '../store/database.ts';
import { FileBlobStore } from '../store/file-blob-store.ts';
import { parseS3Url, S3BlobStore, s3ClientConfigFromEnv } from '../store/s3-blob-store.ts';
import { S3Client } from '@aws-sdk/client-s3';
import type { IndexStore, InstanceRow } from '../store/index-store.ts';
import { createStores, type Stores } from '../store/stores.ts';
import type { UnitOfWork } from '../store/unit-of-work.ts';
import type { ArchiveService, DicomNode, DicomNodeRegistry, IngestInput, IngestResult, InstanceRecord, InstanceScope, QueryRequest, RetrievalAction } from './archive-service.ts';
import { ingestInstance } from './ingest.ts';
import type { IngestCompression } from './ingest-compression.ts';
import { removeStaleStagedFiles } from './staging.ts';
import { queryArchive, queryArchivePage } from './query-service.ts';

export interface ArchiveOptions {
  dataDir: string;
  databaseUrl?: string;
  storageUrl?: string;
  /** AWS_* variables for an s3:// storage URL */
  awsEnv?: Record<string, string | undefined>;
  fsync: boolean;
  onStored?: (result: IngestResult, caller: Caller) => void;
  /** the audit chain's HMAC key (YUNYING_AUDIT_KEY); else read from, or created in, auditKeyFile [DATA_DIR/audit-key] */
  auditKey?: string;
  auditKeyFile?: string;
  /** the listed modules' migrations (app.ts MODULES), run with the core list */
  moduleMigrations?: ModuleMigrationSource;
}

/** The archive with its stores: what buildServer wires into every protocol. */
export interface Archive extends ArchiveService, DicomNodeRegistry {
  readonly index: IndexStore;
  readonly blobs: BlobStore;
  readonly database: IndexDatabase;
  /** every store on the index database (store/stores.ts), and the unit of work that writes a change with its audit and feed rows */
  readonly stores: Stores;
  readonly unitOfWork: UnitOfWork;
  /** institutions, users, AEs, sessions, grants: the same database */
  readonly accessStore: AccessStore;
  readonly audit: AuditTrail;
  /** compression on ingest (the settings module sets it: the administrator's choice per institution); unset: stored as received */
  setIngestCompression(compression: IngestCompression | undefined): void;
  close(): Promise<void>;
}

/** Opens the index database and blob store named by the configuration. */
export async function openArchive(options: ArchiveOptions): Promise<Archive> {
  const auditKey = await loadAuditKey({ key: options.auditKey, keyFile: options.auditKeyFile, dataDir: options.dataDir });
  const blobs = openBlobStore(options);
  await removeStaleStagedFiles(blobs.stagingDirectory);
  const database = await openIndexDatabase(options);
  return createArchive(database, blobs, options.onStored, auditKey);
}

function openBlobStore(options: ArchiveOptions): BlobStore {
  if (!options.storageUrl) return new FileBlobStore(path.join(options.dataDir, 'blobs'), options.fsync);
  const env = options.awsEnv ?? {};
  const credentials = env.AWS_ACCESS_KEY_ID && env.AWS_SECRET_ACCESS_KEY ? { accessKeyId: env.AWS_ACCESS_KEY_ID, secretAccessKey: env.AWS_SECRET_ACCESS_KEY, sessionToken: env.AWS_SESSION_TOKEN } : undefined;
  // Without explicit keys the SDK's default chain applies (instance roles, profiles).
  const client = new S3Client({ ...s3ClientConfigFromEnv(env), ...(credentials ? { credentials } : {}) });
  return new S3BlobStore(client, parseS3Url(options.storageUrl), path.join(options.dataDir, 'staging'));
}

/**
 * Every read and write of patient data checks the caller's permission, applies its scope
 * in SQL and lands in the audit trail before the answer goes out.
 */
export function createArchive(database: IndexDatabase, blobs: BlobStore, onStored: ArchiveOptions['onStored'] | undefined, auditKey: AuditKey): Archive {
  const stores = createStores(database, auditKey);
  const { index, access: accessStore, unitOfWork } = stores;
  const audit = new AuditTrail(stores.audit);
  // study.viewed once per viewer, study and period, the other views counted (access/view-audit.ts)
  const views = new ViewAudit(audit);
  let compression: IngestCompression | undefined;
  return {
    index,
    blobs,
    database,
    stores,
    unitOfWork,
    accessStore,
    audit,
    async ingest(caller: Caller, input: IngestInput) {
      requirePermission(caller, 'images:write');
      // The instance's audit record commits with it (ingest.ts); a duplicate changes nothing and records nothing.
      return ingestInstance({ index, blobs, unitOfWork, onStored, compression }, caller, input);
    },
    setIngestCompression(next: IngestCompression | undefined) {
      compression = next;
    },
    async query(caller: Caller, request: QueryRequest) {
      requirePermission(caller, 'images:read');
      const results = await queryArchive(index, caller, request);
      await auditQuery(audit, caller, request, results.length);
      return results;
    },
    async queryPage(caller: Caller, request: QueryRequest) {
      requirePermission(caller, 'images:read');
      const page = await queryArchivePage(index, caller, request, { countTotal: true });
      await auditQuery(audit, caller, request, page.datasets.length);
      return { results: page.datasets, total: page.total ?? page.datasets.length };
    },
    async findInstances(caller: Caller, scope: InstanceScope, action: RetrievalAction = 'study.retrieved', details: Record<string, unknown> = {}): Promise<InstanceRecord[]> {
      requirePermission(caller, 'images:read');
      if (!scope.studyInstanceUids && !scope.seriesInstanceUids && !scope.sopInstanceUids && !scope.patientIds) return [];
      const rows = await index.findInstances({ ...scope, scope: studyScopeOf(caller) });
      await auditRetrieval(caller, rows, action, details);
      return rows.map(toInstanceRecord);
    },
    readInstance: (record: InstanceRecord) => blobs.get(record.blobKey),
    openInstance: async (record: InstanceRecord) => (blobs.openReader ? blobs.openReader(record.blobKey) : undefined),
    async findNode(aeTitle: string): Promise<DicomNode | undefined> {
      const row = await accessStore.findApplicationEntity(aeTitle);
      if (!row || row.host === null || row.port === null) return undefined;
      return { aeTitle: row.ae_title, host: row.host, port: row.port, institutionId: row.institution_id };
    },
    async close() {
      await views.drain();
      await audit.drain();
      await database.close();
      await blobs.close();
    },
  };

  /** One audit record per study touched, with the patient it belongs to. */
  async function auditRetrieval(caller: Caller, rows: readonly InstanceRow[], action: RetrievalAction, details: Record<string, unknown>): Promise<void> {
    const perStudy = new Map<string, number>();
    for (const row of rows) perStudy.set(row.study_instance_uid, (perStudy.get(row.study_instance_uid) ?? 0) + 1);
    if (perStudy.size === 0) return;
    const event = async (study: string, instances: number, patients?: Map<string, string | undefined>) => ({ action, caller, objectType: 'study' as const, objectId: study, patientId: (patients ?? (await index.patientIdsOfStudies([study]))).get(study), details: { ...details, instances } });
    if (action === 'study.viewed') {
      await Promise.all([...perStudy].map(([study, instances]) => views.view(caller, study, () => event(study, instances))));
      return;
    }
    const patients = await index.patientIdsOfStudies([...perStudy.keys()]);
    await Promise.all([...perStudy].map(async ([study, instances]) => audit.record(await event(study, instances, patients))));
  }
}

function auditQuery(audit: AuditTrail, caller: Caller, request: QueryRequest, results: number): Promise<void> {
  return audit.record({ action: 'study.queried', caller, objectType: request.keys['0020000D']?.Value ? 'study' : undefined, objectId: stringKey(request.keys, '0020000D'), patientId: stringKey(request.keys, '00100020'), details: { level: request.level, keys: auditableKeys(request.keys), results } });
}

function stringKey(keys: DicomJsonDataset, tag: string): string | undefined {
  const value = keys[tag]?.Value?.[0];
  return typeof value === 'string' ? value : undefined;
}

/** Matching keys for the trail: values of identifiers and dates, but never of names (PN). */
function auditableKeys(keys: DicomJsonDataset): Record<string, unknown> {
  const kept: Record<string, unknown> = {};
  for (const [tag, element] of Object.entries(keys)) {
    if (!element.Value) continue;
    kept[tag] = element.vr === 'PN' ? '(name)' : element.Value;
  }
  return kept;
}

function toInstanceRecord(row: InstanceRow): InstanceRecord {
  return {
    sopInstanceUid: row.sop_instance_uid,
    sopClassUid: row.sop_class_uid,
    seriesInstanceUid: row.series_instance_uid,
    studyInstanceUid: row.study_instance_uid,
    transferSyntaxUid: row.transfer_syntax_uid,
    institutionId: row.institution_id,
    blobKey: row.blob_key,
    size: Number(row.size),
    instanceNumber: row.instance_number ?? undefined,
    numberOfFrames: row.number_of_frames ?? undefined,
    rows: row.rows ?? undefined,
    columns: row.columns ?? undefined,
  };
}

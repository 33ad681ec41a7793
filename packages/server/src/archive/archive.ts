import path from 'node:path';
import type { Caller } from '../access/caller.ts';
import type { BlobStore } from '../store/blob-store.ts';
import { openIndexDatabase, type IndexDatabase } from '../store/database.ts';
import { FileBlobStore } from '../store/file-blob-store.ts';
import { parseS3Url, S3BlobStore, s3ClientConfigFromEnv } from '../store/s3-blob-store.ts';
import { S3Client } from '@aws-sdk/client-s3';
import { IndexStore, type InstanceRow } from '../store/index-store.ts';
import type { ArchiveService, DicomNode, DicomNodeRegistry, IngestInput, IngestResult, InstanceRecord, InstanceScope, QueryRequest } from './archive-service.ts';
import { ingestInstance } from './ingest.ts';
import { queryArchive } from './query-service.ts';

export interface ArchiveOptions {
  dataDir: string;
  databaseUrl?: string;
  storageUrl?: string;
  /** AWS_* variables for an s3:// storage URL */
  awsEnv?: Record<string, string | undefined>;
  fsync: boolean;
  onStored?: (result: IngestResult, caller: Caller) => void;
}

/** The archive with its stores: what buildServer wires into every protocol. */
export interface Archive extends ArchiveService, DicomNodeRegistry {
  readonly index: IndexStore;
  readonly blobs: BlobStore;
  registerNode(node: DicomNode): Promise<void>;
  close(): Promise<void>;
}

/** Opens the index database and blob store named by the configuration. */
export async function openArchive(options: ArchiveOptions): Promise<Archive> {
  const blobs = openBlobStore(options);
  const database = await openIndexDatabase(options);
  return createArchive(database, blobs, options.onStored);
}

function openBlobStore(options: ArchiveOptions): BlobStore {
  if (!options.storageUrl) return new FileBlobStore(path.join(options.dataDir, 'blobs'), options.fsync);
  const env = options.awsEnv ?? {};
  const credentials = env.AWS_ACCESS_KEY_ID && env.AWS_SECRET_ACCESS_KEY ? { accessKeyId: env.AWS_ACCESS_KEY_ID, secretAccessKey: env.AWS_SECRET_ACCESS_KEY, sessionToken: env.AWS_SESSION_TOKEN } : undefined;
  // Without explicit keys the SDK's default chain applies (instance roles, profiles).
  const client = new S3Client({ ...s3ClientConfigFromEnv(env), ...(credentials ? { credentials } : {}) });
  return new S3BlobStore(client, parseS3Url(options.storageUrl));
}

export function createArchive(database: IndexDatabase, blobs: BlobStore, onStored?: ArchiveOptions['onStored']): Archive {
  const index = new IndexStore(database);
  return {
    index,
    blobs,
    ingest: (caller: Caller, input: IngestInput) => ingestInstance({ index, blobs, onStored }, caller, input),
    query: (caller: Caller, request: QueryRequest) => queryArchive(index, caller, request),
    async findInstances(caller: Caller, scope: InstanceScope): Promise<InstanceRecord[]> {
      if (!scope.studyInstanceUids && !scope.seriesInstanceUids && !scope.sopInstanceUids && !scope.patientIds) return [];
      const rows = await index.findInstances({ ...scope, institutionIds: caller.visibleInstitutionIds === 'all' ? undefined : caller.visibleInstitutionIds });
      return rows.map(toInstanceRecord);
    },
    readInstance: (record: InstanceRecord) => blobs.get(record.blobKey),
    async findNode(aeTitle: string): Promise<DicomNode | undefined> {
      const row = await index.findNode(aeTitle);
      return row && { aeTitle: row.ae_title, host: row.host, port: row.port, institutionId: row.institution_id };
    },
    registerNode: (node: DicomNode) => index.upsertNode({ ae_title: node.aeTitle, host: node.host, port: node.port, institution_id: node.institutionId }),
    async close() {
      await database.close();
      await blobs.close();
    },
  };
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

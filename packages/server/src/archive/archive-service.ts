import type { DicomJsonDataset } from '@yunying/dicom';
import type { Caller } from '../access/caller.ts';
import type { QueryLevel } from '../store/query-level.ts';
import type { BlobReader } from '../store/blob-store.ts';

export type { QueryLevel } from '../store/query-level.ts';
export type { BlobReader } from '../store/blob-store.ts';

export interface QueryRequest {
  level: QueryLevel;
  /**
   * Matching and return keys in the DICOM JSON model (tag → element). An element with a
   * Value is a matching key (wildcards, ranges, lists of UIDs as PS3.4 C.2.2.2 says);
   * an element without a Value is a return key (universal matching).
   */
  keys: DicomJsonDataset;
  /** return every attribute the archive knows for the level (QIDO includefield=all) */
  includeAllFields?: boolean;
  /**
   * give each result the id of the institution that holds the study, under
   * HOLDING_INSTITUTION_KEY: what a patient identity needs besides PatientID and issuer.
   * Internal callers only (FHIR); DIMSE and QIDO never ask, so it never reaches a DICOM peer.
   */
  includeHoldingInstitution?: boolean;
  limit?: number;
  offset?: number;
  /** PS3.18 fuzzymatching=true: PN keys also match in pinyin ("zhang*" finds 张^三) */
  fuzzyMatching?: boolean;
}

/**
 * The key of the holding institution's id in a query result (QueryRequest.includeHoldingInstitution).
 * Not a DICOM tag (those are eight hex digits), so it can never collide with one. At PATIENT
 * level the archive answers one result per patient identity (PatientID, IssuerOfPatientID,
 * holding institution), so each result has exactly one.
 */
export const HOLDING_INSTITUTION_KEY = 'yunying:holdingInstitutionId';

/** What the archive knows about one stored instance, enough to retrieve it. */
export interface InstanceRecord {
  sopInstanceUid: string;
  sopClassUid: string;
  seriesInstanceUid: string;
  studyInstanceUid: string;
  transferSyntaxUid: string;
  institutionId: string;
  blobKey: string;
  size: number;
  instanceNumber?: number;
  numberOfFrames?: number;
  rows?: number;
  columns?: number;
}

/**
 * An instance received into a temporary file instead of memory (a large STOW-RS part, a
 * large DIMSE data set): written under the blob store's `stagingDirectory`, so that ingest
 * can move it into the store without a copy. Ingest takes it over: the file is gone when
 * ingest returns or throws.
 */
export interface StagedFile {
  path: string;
  size: number;
  /** SHA-256 (hex) of the file's bytes, when they were hashed as they were written */
  sha256?: string;
}

/** The instance's bytes: in memory, or in a staged file (`'file' in input` tells them apart). */
export type IngestBytes = { bytes: Buffer } | { file: StagedFile };

export type IngestInput =
  /** a DICOM Part 10 file (STOW-RS, import); `studyInstanceUid`, when given, is the study it must belong to (STOW-RS to /studies/{uid}) */
  | ({ kind: 'part10'; studyInstanceUid?: string } & IngestBytes)
  /** a bare data set as received over DIMSE, in the negotiated transfer syntax */
  | ({ kind: 'dataset'; transferSyntaxUid: string; sopClassUid: string; sopInstanceUid: string; sourceAeTitle: string } & IngestBytes);

export type IngestOutcome =
  /** first time this SOP Instance was stored */
  | 'stored'
  /** identical bytes were already stored: nothing changed (idempotent resend) */
  | 'duplicate'
  /** a different object under the same SOP Instance UID, same study and series: the new one replaced the old */
  | 'replaced';

export interface IngestResult {
  outcome: IngestOutcome;
  sopClassUid: string;
  sopInstanceUid: string;
  studyInstanceUid: string;
  seriesInstanceUid: string;
  /** set when the instance was stored but something was coerced or is worth telling the sender */
  warning?: string;
}

/**
 * The archive as protocol layers see it (DIMSE, DICOMweb, later FHIR and the REST API).
 * Failures are thrown as YunyingError carrying both an HTTP and a DIMSE status.
 */
export interface ArchiveService {
  ingest(caller: Caller, input: IngestInput): Promise<IngestResult>;
  /** QIDO-RS and C-FIND: results in the DICOM JSON model, scoped to what the caller may see. */
  query(caller: Caller, request: QueryRequest): Promise<DicomJsonDataset[]>;
  /** The same, with how many match in all, whatever the limit and offset (QIDO-RS truncation headers). */
  queryPage(caller: Caller, request: QueryRequest): Promise<{ results: DicomJsonDataset[]; total: number }>;
  /**
   * Instances for WADO-RS, C-MOVE and C-GET, scoped to the caller, ordered by series then
   * instance number. Unknown or invisible UIDs give an empty list.
   */
  findInstances(caller: Caller, scope: InstanceScope, action?: RetrievalAction, details?: Record<string, unknown>): Promise<InstanceRecord[]>;
  /** The stored Part 10 bytes, exactly as received (file meta + data set). */
  readInstance(record: InstanceRecord): Promise<Buffer>;
  /** The stored bytes opened for streaming through reused buffers, where the blob store can (local files); else undefined: use readInstance. */
  openInstance?(record: InstanceRecord): Promise<BlobReader | undefined>;
}

/**
 * What a look-up is for, as the audit trail records it: viewed (metadata, frames,
 * rendered images in a viewer), retrieved (the DICOM objects themselves), exported (sent
 * on to another AE by C-MOVE, or downloaded in bulk).
 */
export type RetrievalAction = 'study.viewed' | 'study.retrieved' | 'study.exported';

/** Which instances: any of the UID lists may hold several UIDs (C-MOVE/C-GET list of UIDs). */
export interface InstanceScope {
  studyInstanceUids?: string[];
  seriesInstanceUids?: string[];
  sopInstanceUids?: string[];
  /** PATIENT-level retrieve */
  patientIds?: string[];
}

/** Registered DICOM peers a C-MOVE may send to. */
export interface DicomNode {
  aeTitle: string;
  host: string;
  port: number;
  institutionId: string;
}

export interface DicomNodeRegistry {
  findNode(aeTitle: string): Promise<DicomNode | undefined>;
}

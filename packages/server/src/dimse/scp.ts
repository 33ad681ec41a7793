/**
 * The archive's DIMSE SCP: @yunying/dimse's SCP core with handlers over the ArchiveService.
 * Here is what the core does not know: callers and their access scope (the AE policy), the
 * archive (store, find, retrieve), which C-MOVE destinations a caller may send to, and the
 * audit trail of refusals.
 */
import { mkdir, readdir, readFile, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import type { TlsOptions } from 'node:tls';
import {
  DIMSE_STATUS,
  DimseStatusError,
  startDimseServer as startScp,
  type AePolicy,
  type AssociationLimits,
  type AssociationRefusal,
  type DatasetBounds,
  type DimseLogger,
  type DimseServer,
  type FindHandler,
  type MoveDestination,
  type MppsHandler,
  type QueryRequest,
  type RetrieveHandler,
  type RetrieveTranscoder,
  type StoreHandler,
  type WorklistHandler,
} from '@yunying/dimse';
import { localAeCaller, type Caller } from '../access/caller.ts';
import { noAudit, type AuditRecorder } from '../access/audit-event.ts';
import type { ArchiveService, DicomNode, DicomNodeRegistry, InstanceRecord, InstanceScope } from '../archive/archive-service.ts';
import { sharedTranscoder } from '../transcoding/index.ts';

export type { DimseServer } from '@yunying/dimse';
export { QR, STORAGE_TRANSFER_SYNTAXES, encodeFailedUidList, isStorageSopClass, pickStorageContext } from '@yunying/dimse';

export interface DimseServerOptions {
  archive: ArchiveService;
  nodes: DicomNodeRegistry;
  aeTitle: string;
  host: string;
  /** 0 = ephemeral */
  port: number;
  /** accept calling AEs that resolveCaller does not know, as the default institution's administrator */
  acceptUnknownAe: boolean;
  /** the caller for a registered calling AE title; undefined when unknown */
  resolveCaller(callingAeTitle: string, remoteAddress: string): Promise<Caller | undefined>;
  logger: DimseLogger;
  /** largest PDU we receive (advertised in the A-ASSOCIATE-AC); default 256 KiB */
  maxPduLength?: number;
  /** ARTIM timer; default 30 s, never longer than the idle timeout */
  artimTimeoutMs?: number;
  /** abort an association silent for this long (not while we work on its request); default 60 s */
  idleTimeoutMs?: number;
  /** associations at once: all peers, per calling AE, per address; defaults in @yunying/dimse */
  limits?: Partial<AssociationLimits>;
  /**
   * received data sets above spillBytes go to a temporary file, above maxBytes are refused
   * (A700); spillDir should be the blob store's staging directory, so that ingest moves the
   * file into the store instead of copying it
   */
  datasetBounds?: DatasetBounds;
  /** DICOM over TLS: the options of tls.createServer */
  tls?: TlsOptions;
  /**
   * may this caller's C-MOVE send to this registered node? Default: a caller who sees every
   * institution may send anywhere, any other only to its own institution's nodes.
   */
  moveDestinationPermitted?(caller: Caller, destination: DicomNode): Promise<boolean>;
  /** where refused associations, C-MOVE destinations and oversized data sets are recorded; default: nowhere (tools, tests) */
  audit?: AuditRecorder;
  /** Modality Worklist FIND and MPPS (the orders module's handlers); without them neither is accepted */
  worklist?: WorklistHandler<Caller>;
  mpps?: MppsHandler<Caller>;
}

/** a spilled data set untouched this long belongs to no association any more */
const LEFTOVER_AGE_MS = 6 * 3600_000;

/**
 * The TLS options of the DICOM port from the configured PEM files. With a CA, a peer must
 * present a certificate it signed (mutual TLS); without one, any peer may connect over TLS
 * and the AE title decides as on plain TCP.
 */
export async function dicomTlsOptions(files: { certFile: string; keyFile: string; caFile?: string }): Promise<TlsOptions> {
  const [cert, key, ca] = await Promise.all([readFile(files.certFile), readFile(files.keyFile), files.caFile ? readFile(files.caFile) : undefined]);
  return ca ? { cert, key, ca, requestCert: true, rejectUnauthorized: true } : { cert, key };
}

/** Without a rule from the caller: the platform-wide administrator anywhere, everyone else within the own institution. */
async function ownInstitutionOnly(caller: Caller, destination: DicomNode): Promise<boolean> {
  return caller.visibleInstitutionIds === 'all' || destination.institutionId === caller.institutionId;
}

export async function startDimseServer(options: DimseServerOptions): Promise<DimseServer> {
  const audit = options.audit ?? noAudit;
  const spillDir = options.datasetBounds?.spillDir;
  if (spillDir) {
    await mkdir(spillDir, { recursive: true });
    await removeLeftovers(spillDir, options.logger);
  }
  return await startScp<Caller>({
    aeTitle: options.aeTitle,
    host: options.host,
    port: options.port,
    logger: options.logger,
    maxPduLength: options.maxPduLength,
    artimTimeoutMs: options.artimTimeoutMs,
    idleTimeoutMs: options.idleTimeoutMs,
    limits: options.limits,
    datasetBounds: options.datasetBounds,
    tls: options.tls,
    aePolicy: archiveAePolicy(options),
    store: archiveStore(options),
    find: archiveFind(options),
    retrieve: archiveRetrieve(options, audit),
    worklist: options.worklist,
    mpps: options.mpps,
    onRefused: audit === noAudit ? undefined : (refusal) => auditRefusal(options, audit, refusal),
  });
}

/**
 * Temporary files of data sets a process was receiving when it stopped. Only old ones: other
 * server processes on the same data directory write theirs there too, and a file being
 * received is written to all the time.
 */
async function removeLeftovers(spillDir: string, logger: DimseLogger): Promise<void> {
  const cutoff = Date.now() - LEFTOVER_AGE_MS;
  let removed = 0;
  for (const name of await readdir(spillDir)) {
    if (!name.startsWith('yunying-dimse-')) continue;
    const file = path.join(spillDir, name);
    const info = await stat(file).catch(() => undefined);
    if (!info || info.mtimeMs > cutoff) continue;
    await rm(file, { force: true });
    removed += 1;
  }
  if (removed > 0) logger.info({ spillDir, files: removed }, 'removed temporary files of data sets left by an earlier process');
}

/** Registered AEs act for their institution; unknown ones only when acceptUnknownAe says so. */
function archiveAePolicy(options: DimseServerOptions): AePolicy<Caller> {
  return {
    async admit({ callingAeTitle, remoteAddress }) {
      const caller = await options.resolveCaller(callingAeTitle, remoteAddress);
      if (caller) return caller;
      if (options.acceptUnknownAe && callingAeTitle.length > 0) return localAeCaller(callingAeTitle, remoteAddress);
      return undefined;
    },
  };
}

/**
 * An A-ASSOCIATE-RJ (or a connection dropped in a flood) in the audit trail (issue 12,
 * finding 12): who called, from where, why. A registered AE is recorded as itself (its
 * institution); anyone else as the name it gave.
 */
async function auditRefusal(options: DimseServerOptions, audit: AuditRecorder, refusal: AssociationRefusal): Promise<void> {
  const { reason, remoteAddress, callingAeTitle, calledAeTitle, suppressed } = refusal;
  const registered = callingAeTitle ? await options.resolveCaller(callingAeTitle, remoteAddress) : undefined;
  const caller: Caller = registered ?? { kind: 'ae', name: callingAeTitle || '-', institutionId: '-', role: 'modality', visibleInstitutionIds: [], via: 'dimse', remoteAddress };
  await audit.record({
    action: 'association.refused',
    outcome: 'failure',
    caller,
    objectType: 'ae',
    objectId: callingAeTitle || undefined,
    details: { reason, ...(calledAeTitle !== undefined ? { calledAeTitle } : {}), ...(suppressed > 0 ? { suppressedSinceLastRecord: suppressed } : {}) },
  });
}

function archiveStore(options: DimseServerOptions): StoreHandler<Caller> {
  return {
    async store(caller, request) {
      const { dataset } = request;
      // a spilled data set is handed over as its file (in the blob store's staging directory:
      // ingest moves it into the store and deletes it), never read into memory (issue 13, item 7)
      const content = dataset.path !== undefined ? { file: { path: dataset.path, size: dataset.size } } : { bytes: await dataset.read() };
      const result = await options.archive.ingest(caller, {
        kind: 'dataset',
        ...content,
        transferSyntaxUid: request.transferSyntaxUid,
        sopClassUid: request.sopClassUid,
        sopInstanceUid: request.sopInstanceUid,
        sourceAeTitle: request.callingAeTitle,
      });
      return { warning: result.warning };
    },
  };
}

function archiveFind(options: DimseServerOptions): FindHandler<Caller> {
  return {
    find: (caller, query) => options.archive.query(caller, { level: query.level, keys: query.keys }),
  };
}

function uidValues(query: QueryRequest, tag: string): string[] {
  const values = query.keys[tag]?.Value ?? [];
  return values.flatMap((v) => String(v ?? '').split('\\')).map((s) => s.trim()).filter((s) => s.length > 0);
}

/** The instances a C-MOVE/C-GET identifier names: the unique key of its level, one UID or a list. */
function scopeOf(query: QueryRequest): InstanceScope {
  const need = (tag: string, name: string): string[] => {
    const v = uidValues(query, tag);
    if (v.length === 0) throw new DimseStatusError(DIMSE_STATUS.IDENTIFIER_DOES_NOT_MATCH_SOP_CLASS, `${name} missing at ${query.level} level`);
    return v;
  };
  switch (query.level) {
    case 'PATIENT':
      return { patientIds: need('00100020', 'PatientID') };
    case 'STUDY':
      return { studyInstanceUids: need('0020000D', 'StudyInstanceUID') };
    case 'SERIES':
      return { seriesInstanceUids: need('0020000E', 'SeriesInstanceUID') };
    case 'IMAGE':
      return { sopInstanceUids: need('00080018', 'SOPInstanceUID') };
  }
}

function archiveRetrieve(options: DimseServerOptions, audit: AuditRecorder): RetrieveHandler<Caller, InstanceRecord> {
  return {
    /**
     * The node a C-MOVE names, if it is registered with an address and the caller may send to
     * it (issue 12, finding 14: a node of the own institution or of a centre serving it, by
     * moveDestinationPermitted). A refusal is audited (finding 12).
     */
    async moveDestination(caller, ae): Promise<{ destination: MoveDestination } | { refused: string }> {
      const node = ae ? await options.nodes.findNode(ae) : undefined;
      const permitted = node ? await (options.moveDestinationPermitted ?? ownInstitutionOnly)(caller, node) : false;
      if (node && permitted) return { destination: { aeTitle: node.aeTitle, host: node.host, port: node.port } };
      const reason = node ? 'destination-not-permitted' : 'unknown-destination';
      try {
        await audit.record({
          action: 'move.refused',
          outcome: 'failure',
          caller,
          objectType: 'ae',
          objectId: ae.slice(0, 16) || undefined,
          details: { reason, ...(node ? { destinationInstitutionId: node.institutionId } : {}) },
        });
      } catch (err) {
        options.logger.warn({ err: (err as Error)?.message }, 'DIMSE C-MOVE refusal not audited');
      }
      return { refused: reason };
    },
    instances(caller, query, retrieval) {
      return retrieval.service === 'MOVE'
        ? options.archive.findInstances(caller, scopeOf(query), 'study.exported', { moveDestination: retrieval.destination.aeTitle })
        : options.archive.findInstances(caller, scopeOf(query), 'study.retrieved');
    },
    read: (_caller, record) => options.archive.readInstance(record),
    // read at each retrieval: the process's transcoder, made on first use
    get transcoder() {
      return processTranscoder();
    },
  };
}

/**
 * The process's transcoder as the DIMSE core's RetrieveTranscoder: a destination that takes
 * only uncompressed syntaxes gets compressed instances decompressed (issue 15, item 1).
 * Undefined when none can be made: then only implicit ↔ explicit VR LE are converted.
 */
function processTranscoder(): RetrieveTranscoder | undefined {
  try {
    return sharedTranscoder();
  } catch {
    return undefined;
  }
}

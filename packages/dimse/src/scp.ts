/**
 * The DIMSE SCP core: association acceptance (limits, AE policy, presentation contexts and
 * roles), C-ECHO, and the dispatch of C-STORE, C-FIND, C-MOVE and C-GET to handlers. What a
 * store, a query or a retrieval means (an archive, a gateway's cache, a test's map) is the
 * handlers' business; so is who may associate (AePolicy) and what is recorded of a refusal.
 */
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer, type ConnectionOptions, type PeerCertificate, type TlsOptions, type TLSSocket } from 'node:tls';
import { encodeDataset, parseDicom, splitPart10, toDicomJson, type DicomJsonDataset } from '@yunying/dicom';
import { Association, type AssociateDecision, type DimseLogger, type NegotiatedContext } from './association.ts';
import { AssociationCounter, DEFAULT_ASSOCIATION_LIMITS, RefusalAuditGate, type AssociationLimits } from './association-limits.ts';
import { COMMAND, DATASET_PRESENT, NO_DATASET, PRIORITY_MEDIUM, discardSpilled, type DatasetBounds, type DimseCommand, type DimseMessage } from './dimse-message.ts';
import { APPLICATION_CONTEXT_NAME, IMPLEMENTATION_CLASS_UID, IMPLEMENTATION_VERSION_NAME, PC_RESULT, REJECT, type AcceptedPresentationContext, type AssociateRq, type RoleSelection } from './pdu.ts';
import { DEFAULT_MAX_PDU_LENGTH, VERIFICATION_SOP_CLASS, openAssociation, type DimseClient } from './scu.ts';
import { DIMSE_STATUS, errorComment, statusOfError } from './status.ts';
import { datasetForContext, pickStorageContext, retrieveProposals, type RetrieveTranscoder } from './transcode.ts';

// ---------------------------------------------------------------------------------------
// SOP classes and transfer syntaxes

export const QR = {
  PATIENT_ROOT_FIND: '1.2.840.10008.5.1.4.1.2.1.1',
  PATIENT_ROOT_MOVE: '1.2.840.10008.5.1.4.1.2.1.2',
  PATIENT_ROOT_GET: '1.2.840.10008.5.1.4.1.2.1.3',
  STUDY_ROOT_FIND: '1.2.840.10008.5.1.4.1.2.2.1',
  STUDY_ROOT_MOVE: '1.2.840.10008.5.1.4.1.2.2.2',
  STUDY_ROOT_GET: '1.2.840.10008.5.1.4.1.2.2.3',
} as const;

/** Modality Worklist Information Model – FIND (PS3.4 K.6) and Modality Performed Procedure Step (PS3.4 F.7). */
export const MODALITY_WORKLIST_FIND = '1.2.840.10008.5.1.4.31';
export const MPPS_SOP_CLASS = '1.2.840.10008.3.1.2.3.3';

type QrModel = 'PATIENT' | 'STUDY';
const QR_CLASSES = new Map<string, { model: QrModel; service: 'FIND' | 'MOVE' | 'GET' }>([
  [QR.PATIENT_ROOT_FIND, { model: 'PATIENT', service: 'FIND' }],
  [QR.PATIENT_ROOT_MOVE, { model: 'PATIENT', service: 'MOVE' }],
  [QR.PATIENT_ROOT_GET, { model: 'PATIENT', service: 'GET' }],
  [QR.STUDY_ROOT_FIND, { model: 'STUDY', service: 'FIND' }],
  [QR.STUDY_ROOT_MOVE, { model: 'STUDY', service: 'MOVE' }],
  [QR.STUDY_ROOT_GET, { model: 'STUDY', service: 'GET' }],
]);

const IMPLICIT_LE = '1.2.840.10008.1.2';
const EXPLICIT_LE = '1.2.840.10008.1.2.1';

/** Storage SOP classes outside 1.2.840.10008.5.1.4.1.1.* */
const OTHER_STORAGE_CLASSES = new Set([
  '1.2.840.10008.5.1.4.38.1', // Hanging Protocol Storage
  '1.2.840.10008.5.1.4.39.1', // Color Palette Storage
  '1.2.840.10008.5.1.4.43.1', // Generic Implant Template Storage
  '1.2.840.10008.5.1.4.44.1', // Implant Assembly Template Storage
  '1.2.840.10008.5.1.4.45.1', // Implant Template Group Storage
  '1.2.840.10008.5.1.4.34.7', // RT Beams Delivery Instruction Storage
  '1.2.840.10008.5.1.4.34.10', // RT Brachy Application Setup Delivery Instruction Storage
]);

/**
 * Storage SOP classes: the standard storage branch, a few storage classes elsewhere, and
 * any private (non-1.2.840.10008) SOP class. Other standard classes (Q/R, worklist, MPPS,
 * storage commitment, ...) are not storage.
 */
export function isStorageSopClass(uid: string): boolean {
  if (uid.startsWith('1.2.840.10008.5.1.4.1.1.')) return true;
  if (OTHER_STORAGE_CLASSES.has(uid)) return true;
  if (uid.startsWith('1.2.840.10008.')) return false;
  return /^[0-9]+(\.[0-9]+)+$/.test(uid);
}

/** Transfer syntaxes accepted for storage; data sets are stored as received, never transcoded. */
export const STORAGE_TRANSFER_SYNTAXES: ReadonlySet<string> = new Set([
  IMPLICIT_LE,
  EXPLICIT_LE,
  '1.2.840.10008.1.2.2', // explicit VR big endian (retired)
  '1.2.840.10008.1.2.1.99', // deflated explicit VR LE
  '1.2.840.10008.1.2.4.50', // JPEG baseline
  '1.2.840.10008.1.2.4.51', // JPEG extended
  '1.2.840.10008.1.2.4.53', // JPEG spectral selection (retired)
  '1.2.840.10008.1.2.4.55', // JPEG full progression (retired)
  '1.2.840.10008.1.2.4.57', // JPEG lossless P14
  '1.2.840.10008.1.2.4.70', // JPEG lossless SV1
  '1.2.840.10008.1.2.4.80', // JPEG-LS lossless
  '1.2.840.10008.1.2.4.81', // JPEG-LS near-lossless
  '1.2.840.10008.1.2.4.90', // JPEG 2000 lossless
  '1.2.840.10008.1.2.4.91', // JPEG 2000
  '1.2.840.10008.1.2.4.92', // JPEG 2000 part 2 lossless
  '1.2.840.10008.1.2.4.93', // JPEG 2000 part 2
  '1.2.840.10008.1.2.4.100', // MPEG2 MP@ML
  '1.2.840.10008.1.2.4.100.1',
  '1.2.840.10008.1.2.4.101', // MPEG2 MP@HL
  '1.2.840.10008.1.2.4.101.1',
  '1.2.840.10008.1.2.4.102', // MPEG-4 AVC/H.264
  '1.2.840.10008.1.2.4.102.1',
  '1.2.840.10008.1.2.4.103',
  '1.2.840.10008.1.2.4.103.1',
  '1.2.840.10008.1.2.4.104',
  '1.2.840.10008.1.2.4.104.1',
  '1.2.840.10008.1.2.4.105',
  '1.2.840.10008.1.2.4.105.1',
  '1.2.840.10008.1.2.4.106',
  '1.2.840.10008.1.2.4.106.1',
  '1.2.840.10008.1.2.4.107', // HEVC/H.265 main
  '1.2.840.10008.1.2.4.108', // HEVC/H.265 main 10
  '1.2.840.10008.1.2.4.110', // JPEG XL lossless
  '1.2.840.10008.1.2.4.111', // JPEG XL JPEG recompression
  '1.2.840.10008.1.2.4.112', // JPEG XL
  '1.2.840.10008.1.2.4.201', // HTJ2K lossless
  '1.2.840.10008.1.2.4.202', // HTJ2K lossless RPCL
  '1.2.840.10008.1.2.4.203', // HTJ2K
  '1.2.840.10008.1.2.5', // RLE lossless
  '1.2.840.10008.1.2.8.1', // deflated image frame compression
]);

/** For Verification and Q/R: the data sets we build are little endian; explicit preferred. */
function chooseLittleEndian(proposed: string[]): string | undefined {
  if (proposed.includes(EXPLICIT_LE)) return EXPLICIT_LE;
  if (proposed.includes(IMPLICIT_LE)) return IMPLICIT_LE;
  return undefined;
}

// ---------------------------------------------------------------------------------------
// handlers

export type QueryLevel = 'PATIENT' | 'STUDY' | 'SERIES' | 'IMAGE';

/** What the SCP knows of an association request when it asks the AE policy. */
export interface AssociationRequestInfo {
  callingAeTitle: string;
  calledAeTitle: string;
  remoteAddress: string;
  /** the peer's certificate, on a TLS connection that asked for one */
  peerCertificate?: PeerCertificate;
}

/**
 * Who may associate, and as whom: the peer an accepted association acts as (passed to every
 * handler), or undefined for an A-ASSOCIATE-RJ "calling AE title not recognized".
 */
export interface AePolicy<Peer> {
  admit(request: AssociationRequestInfo): Promise<Peer | undefined>;
}

/** A received data set: in memory below the spill threshold, else in a temporary file. */
export interface ReceivedDataset {
  size: number;
  /** the bytes, when they stayed in memory */
  bytes?: Buffer;
  /** the temporary file, when they did not (deleted once the store handler has returned) */
  path?: string;
  /** the bytes either way (reads the file when spilled) */
  read(): Promise<Buffer>;
}

export interface IncomingStore {
  sopClassUid: string;
  sopInstanceUid: string;
  /** of the presentation context: the data set's encoding */
  transferSyntaxUid: string;
  callingAeTitle: string;
  dataset: ReceivedDataset;
}

/** C-STORE. Throw an error with `dimseStatus` (DimseStatusError) to refuse with that status. */
export interface StoreHandler<Peer> {
  /** resolves when the instance is stored (a warning is answered as B000 with the text) */
  store(peer: Peer, request: IncomingStore): Promise<{ warning?: string }>;
}

export interface QueryRequest {
  model: 'PATIENT' | 'STUDY';
  level: QueryLevel;
  /** the identifier without (0008,0052) and (0008,0005) */
  keys: DicomJsonDataset;
}

/** C-FIND: the matches, each answered as a pending response with its Query/Retrieve Level added. */
export interface FindHandler<Peer> {
  find(peer: Peer, query: QueryRequest): Promise<DicomJsonDataset[]>;
}

export interface WorklistQuery {
  /** the identifier without (0008,0005) */
  keys: DicomJsonDataset;
  /** (0008,0005) of the request, e.g. ['GB18030'] or ['ISO_IR 192']; empty for the default repertoire */
  specificCharacterSet: string[];
}

/**
 * Modality Worklist C-FIND: the matching scheduled procedure steps, one data set each, with
 * the request's return keys. The core writes them in the request's character set when that
 * is GB18030 or GBK, else in UTF-8 (ISO_IR 192) when any text is not ASCII.
 */
export interface WorklistHandler<Peer> {
  find(peer: Peer, query: WorklistQuery): Promise<DicomJsonDataset[]>;
}

/** An MPPS N-CREATE or N-SET as the handler sees it. */
export interface MppsRequest {
  /** the Affected (N-CREATE) or Requested (N-SET) SOP Instance UID; for an N-CREATE without one, the core makes one */
  sopInstanceUid: string;
  dataset: DicomJsonDataset;
}

/**
 * MPPS (PS3.4 F.7): N-CREATE and N-SET of Modality Performed Procedure Step instances.
 * Throw a DimseStatusError to refuse (0x0111 duplicate, 0x0112 no such instance, 0x0110
 * once completed, 0x0106 invalid value, 0x0120 missing attribute).
 */
export interface MppsHandler<Peer> {
  create(peer: Peer, request: MppsRequest): Promise<void>;
  set(peer: Peer, request: MppsRequest): Promise<void>;
}

/** A stored instance a retrieval sends: what the sub-operation's C-STORE needs to pick a context. */
export interface RetrieveInstance {
  sopClassUid: string;
  sopInstanceUid: string;
  transferSyntaxUid: string;
}

/** A C-MOVE destination: where the SCP opens the sub-association to. */
export interface MoveDestination {
  aeTitle: string;
  host: string;
  port: number;
  /** reach it over TLS with these options */
  tls?: ConnectionOptions;
}

/** C-MOVE and C-GET. */
export interface RetrieveHandler<Peer, Instance extends RetrieveInstance = RetrieveInstance> {
  /**
   * The node a C-MOVE names, or why it is refused (unknown, not permitted). The SCP answers
   * A801 either way and logs the refusal; recording it (an audit trail) is the handler's.
   */
  moveDestination(peer: Peer, aeTitle: string): Promise<{ destination: MoveDestination } | { refused: string }>;
  /** the instances the identifier names that the peer may retrieve */
  instances(peer: Peer, query: QueryRequest, retrieval: { service: 'MOVE'; destination: MoveDestination } | { service: 'GET' }): Promise<Instance[]>;
  /** one instance's Part 10 bytes */
  read(peer: Peer, instance: Instance): Promise<Buffer>;
  /**
   * converts an instance for a destination that accepted none of its stored syntax's contexts
   * (decompressing, issue 15); without one, only implicit ↔ explicit VR little endian
   */
  transcoder?: RetrieveTranscoder;
}

/** An association refused, or a connection dropped in a flood: for the handler's audit trail. */
export interface AssociationRefusal {
  reason: string;
  remoteAddress: string;
  callingAeTitle?: string;
  calledAeTitle?: string;
  /** refusals of the same key not reported since the last report (RefusalAuditGate) */
  suppressed: number;
}

// ---------------------------------------------------------------------------------------
// server

export interface DimseServerOptions<Peer> {
  aeTitle: string;
  host: string;
  /** 0 = ephemeral */
  port: number;
  logger: DimseLogger;
  aePolicy: AePolicy<Peer>;
  /** without one, storage SOP classes are not accepted; likewise Q/R FIND and MOVE/GET */
  store?: StoreHandler<Peer>;
  find?: FindHandler<Peer>;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  retrieve?: RetrieveHandler<Peer, any>;
  /** without one, Modality Worklist FIND is not accepted; likewise MPPS */
  worklist?: WorklistHandler<Peer>;
  mpps?: MppsHandler<Peer>;
  /** a refusal, at most a few per key and minute (a flood is a handful of calls); errors are logged */
  onRefused?(refusal: AssociationRefusal): Promise<void>;
  /** DICOM over TLS (PS3.15 B.1): the options of tls.createServer (key, cert, ca, requestCert...) */
  tls?: TlsOptions;
  /** received data sets above spillBytes go to a temporary file, above maxBytes are refused (A700); default: in memory, unbounded */
  datasetBounds?: DatasetBounds;
  /** largest PDU we receive (advertised in the A-ASSOCIATE-AC); default 256 KiB */
  maxPduLength?: number;
  /** ARTIM timer; default 30 s, never longer than the idle timeout */
  artimTimeoutMs?: number;
  /**
   * abort an association silent for this long (not while we work on its request); default
   * 60 s: an idle association holds a slot of the limits below
   */
  idleTimeoutMs?: number;
  /** associations at once: all peers, per calling AE, per address (association-limits.ts); defaults there */
  limits?: Partial<AssociationLimits>;
}

const DEFAULT_IDLE_TIMEOUT_MS = 60_000;
const DEFAULT_ARTIM_TIMEOUT_MS = 30_000;
/** the association to a C-MOVE destination: ours, waiting for its C-STORE responses */
const MOVE_SUB_ASSOCIATION_IDLE_MS = 600_000;

/** What the SCP shares across its connections. */
interface ServerContext {
  counter: AssociationCounter;
  refusalAudit: RefusalAuditGate;
}

export interface DimseServer {
  port: number;
  close(): Promise<void>;
}

export async function startDimseServer<Peer>(options: DimseServerOptions<Peer>): Promise<DimseServer> {
  const sockets = new Set<Socket>();
  const limits: AssociationLimits = { ...DEFAULT_ASSOCIATION_LIMITS, ...options.limits };
  const context: ServerContext = { counter: new AssociationCounter(limits), refusalAudit: new RefusalAuditGate() };
  const onConnection = (socket: Socket): void => {
    const remoteAddress = socket.remoteAddress ?? '';
    if (!context.counter.connectionOpened(remoteAddress)) {
      // far beyond a limit: no socket is held for the ARTIM period on behalf of a flood
      socket.destroy();
      void reportRefusal(context, options, { reason: 'connection-flood', remoteAddress });
      return;
    }
    sockets.add(socket);
    socket.once('close', () => {
      sockets.delete(socket);
      context.counter.connectionClosed(remoteAddress);
    });
    serveConnection(socket, options, context);
  };
  const server: Server = options.tls ? createTlsServer(options.tls, onConnection) : createServer(onConnection);
  if (options.tls) {
    server.on('tlsClientError', (err: Error, socket: TLSSocket) => {
      options.logger.warn({ err: err.message, remoteAddress: socket.remoteAddress }, 'DIMSE TLS handshake failed');
    });
  }
  // a backstop only: connectionOpened refuses well before
  server.maxConnections = 2 * limits.total + 1;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  options.logger.info({ aeTitle: options.aeTitle, host: options.host, port, tls: Boolean(options.tls) }, 'DIMSE SCP listening');
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      }),
  };
}

interface Operation {
  cancelled: boolean;
}

interface Session<Peer> {
  association: Association;
  peer: Peer | undefined;
  stats: { echoes: number; stored: number; storeFailures: number; storedBytes: number; spilled: number; oversize: number; finds: number; moves: number; gets: number };
  operations: Map<number, Operation>;
}

function serveConnection<Peer>(socket: Socket, options: DimseServerOptions<Peer>, context: ServerContext): void {
  const { logger } = options;
  const remoteAddress = socket.remoteAddress ?? '';
  const started = Date.now();
  logger.debug({ remoteAddress, remotePort: socket.remotePort }, 'DIMSE connection');
  const idleTimeoutMs = options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS;
  // eslint-disable-next-line prefer-const
  let session: Session<Peer>;
  let admittedAs: string | undefined;
  const association = new Association(socket, {
    role: 'acceptor',
    logger,
    maxPduLength: options.maxPduLength ?? DEFAULT_MAX_PDU_LENGTH,
    // a connection that has not even asked for an association is idle too
    artimTimeoutMs: Math.min(options.artimTimeoutMs ?? DEFAULT_ARTIM_TIMEOUT_MS, idleTimeoutMs),
    idleTimeoutMs,
    datasetBounds: options.datasetBounds,
    onAssociateRequest: async (rq) => {
      // the limits first: a flood costs no policy lookup
      const exceeded = context.counter.admit(rq.callingAeTitle, remoteAddress);
      const decision: Negotiation<Peer> = exceeded
        ? { reject: { result: REJECT.RESULT_TRANSIENT, source: REJECT.SOURCE_SERVICE_PROVIDER_PRESENTATION, reason: REJECT.REASON_LOCAL_LIMIT_EXCEEDED }, why: exceeded }
        : await negotiate(rq, { remoteAddress, peerCertificate: peerCertificateOf(socket) }, options);
      if (!exceeded) admittedAs = rq.callingAeTitle;
      if ('reject' in decision) {
        logger.warn({ callingAeTitle: rq.callingAeTitle, calledAeTitle: rq.calledAeTitle, remoteAddress, reason: decision.reject.reason, source: decision.reject.source, why: decision.why }, 'DIMSE association rejected');
        await reportRefusal(context, options, { reason: decision.why, remoteAddress, callingAeTitle: rq.callingAeTitle, calledAeTitle: rq.calledAeTitle });
      } else {
        session.peer = decision.peer;
        const accepted = decision.contexts.length;
        logger.info({ callingAeTitle: rq.callingAeTitle, calledAeTitle: rq.calledAeTitle, remoteAddress, proposed: rq.presentationContexts.length, accepted, peerMaxPdu: rq.userInformation.maxPduLength, peerImplementation: rq.userInformation.implementationVersionName }, 'DIMSE association accepted');
      }
      return decision;
    },
    onRequest: (message) => handleRequest(session, message, options),
    onCancel: (messageId) => {
      const op = session.operations.get(messageId);
      if (op) op.cancelled = true;
    },
  });
  session = { association, peer: undefined, stats: { echoes: 0, stored: 0, storeFailures: 0, storedBytes: 0, spilled: 0, oversize: 0, finds: 0, moves: 0, gets: 0 }, operations: new Map() };
  association.on('close', () => {
    if (admittedAs !== undefined) context.counter.associationEnded(admittedAs);
    if (session.peer === undefined) return;
    logger.info({ callingAeTitle: association.callingAeTitle, remoteAddress, durationMs: Date.now() - started, ...session.stats }, 'DIMSE association ended');
  });
}

function peerCertificateOf(socket: Socket): PeerCertificate | undefined {
  const tlsSocket = socket as Partial<TLSSocket>;
  if (typeof tlsSocket.getPeerCertificate !== 'function') return undefined;
  const certificate = tlsSocket.getPeerCertificate();
  return certificate && Object.keys(certificate).length > 0 ? certificate : undefined;
}

/**
 * An A-ASSOCIATE-RJ (or a connection dropped in a flood) to the onRefused handler (issue 12,
 * finding 12: the audit trail), through RefusalAuditGate, so that a flood of refusals is a
 * handful of calls. A failing handler is logged; the refusal stands.
 */
async function reportRefusal<Peer>(context: ServerContext, options: DimseServerOptions<Peer>, refusal: Omit<AssociationRefusal, 'suppressed'>): Promise<void> {
  if (!options.onRefused) return;
  const { reason, remoteAddress, callingAeTitle } = refusal;
  const gate = context.refusalAudit.pass(`${reason}|${callingAeTitle ?? ''}|${remoteAddress}`);
  if (!gate) return;
  try {
    await options.onRefused({ ...refusal, suppressed: gate.suppressed });
  } catch (err) {
    options.logger.warn({ err: (err as Error)?.message, reason, remoteAddress }, 'DIMSE refusal not audited');
  }
}

/** The decision, with the peer when accepted, and in words when rejected (for the log and the audit trail). */
type Negotiation<Peer> = ({ accept: Extract<AssociateDecision, { accept: unknown }>['accept']; contexts: NegotiatedContext[]; peer: Peer }) | (Extract<AssociateDecision, { reject: unknown }> & { why: string });

/** Whether the SCP serves this abstract syntax with the handlers it has, and in which transfer syntax. */
function chooseTransferSyntax<Peer>(abstractSyntax: string, transferSyntaxes: string[], options: DimseServerOptions<Peer>): { supported: boolean; transferSyntax?: string } {
  if (abstractSyntax === VERIFICATION_SOP_CLASS) return { supported: true, transferSyntax: chooseLittleEndian(transferSyntaxes) };
  const qr = QR_CLASSES.get(abstractSyntax);
  if (qr) {
    const served = qr.service === 'FIND' ? options.find : options.retrieve;
    return served ? { supported: true, transferSyntax: chooseLittleEndian(transferSyntaxes) } : { supported: false };
  }
  if (abstractSyntax === MODALITY_WORKLIST_FIND) return options.worklist ? { supported: true, transferSyntax: chooseLittleEndian(transferSyntaxes) } : { supported: false };
  if (abstractSyntax === MPPS_SOP_CLASS) return options.mpps ? { supported: true, transferSyntax: chooseLittleEndian(transferSyntaxes) } : { supported: false };
  // C-GET delivers on storage contexts: they are accepted for a retrieve handler too
  if (isStorageSopClass(abstractSyntax) && (options.store || options.retrieve)) {
    return { supported: true, transferSyntax: transferSyntaxes.find((ts) => STORAGE_TRANSFER_SYNTAXES.has(ts)) };
  }
  return { supported: false };
}

async function negotiate<Peer>(rq: AssociateRq, connection: { remoteAddress: string; peerCertificate?: PeerCertificate }, options: DimseServerOptions<Peer>): Promise<Negotiation<Peer>> {
  const reject = (result: number, source: number, reason: number, why: string): Negotiation<Peer> => ({ reject: { result, source, reason }, why });
  if ((rq.protocolVersion & 0x0001) === 0) return reject(REJECT.RESULT_PERMANENT, REJECT.SOURCE_SERVICE_PROVIDER_ACSE, REJECT.REASON_PROTOCOL_VERSION_NOT_SUPPORTED, 'protocol-version-not-supported');
  if (rq.applicationContext !== APPLICATION_CONTEXT_NAME) return reject(REJECT.RESULT_PERMANENT, REJECT.SOURCE_SERVICE_USER, REJECT.REASON_APPLICATION_CONTEXT_NOT_SUPPORTED, 'application-context-not-supported');
  if (rq.calledAeTitle !== options.aeTitle) return reject(REJECT.RESULT_PERMANENT, REJECT.SOURCE_SERVICE_USER, REJECT.REASON_CALLED_AE_NOT_RECOGNIZED, 'called-ae-not-recognized');
  const peer = await options.aePolicy.admit({ callingAeTitle: rq.callingAeTitle, calledAeTitle: rq.calledAeTitle, ...connection });
  if (peer === undefined) return reject(REJECT.RESULT_PERMANENT, REJECT.SOURCE_SERVICE_USER, REJECT.REASON_CALLING_AE_NOT_RECOGNIZED, 'calling-ae-not-recognized');

  const results: AcceptedPresentationContext[] = [];
  const contexts: NegotiatedContext[] = [];
  const roles = new Map(rq.userInformation.roleSelections.map((r) => [r.sopClassUid, r]));
  const roleReplies = new Map<string, RoleSelection>();
  for (const pc of rq.presentationContexts) {
    const { abstractSyntax, transferSyntaxes } = pc;
    const { supported, transferSyntax } = chooseTransferSyntax(abstractSyntax, transferSyntaxes, options);
    if (!supported) {
      results.push({ id: pc.id, result: PC_RESULT.ABSTRACT_SYNTAX_NOT_SUPPORTED });
      continue;
    }
    if (!transferSyntax) {
      results.push({ id: pc.id, result: PC_RESULT.TRANSFER_SYNTAXES_NOT_SUPPORTED });
      continue;
    }
    results.push({ id: pc.id, result: PC_RESULT.ACCEPTANCE, transferSyntax });
    const role = roles.get(abstractSyntax);
    // we accept whatever roles are proposed (the SCP role matters for C-GET's storage sub-operations)
    if (role) roleReplies.set(abstractSyntax, { sopClassUid: abstractSyntax, scuRole: role.scuRole, scpRole: role.scpRole });
    contexts.push({ id: pc.id, abstractSyntax, transferSyntax, requestorIsScu: role ? role.scuRole === 1 : true, requestorIsScp: role ? role.scpRole === 1 : false });
  }
  return {
    peer,
    contexts,
    accept: {
      protocolVersion: 1,
      calledAeTitle: rq.calledAeTitle,
      callingAeTitle: rq.callingAeTitle,
      applicationContext: APPLICATION_CONTEXT_NAME,
      presentationContexts: results,
      userInformation: {
        maxPduLength: options.maxPduLength ?? DEFAULT_MAX_PDU_LENGTH,
        implementationClassUid: IMPLEMENTATION_CLASS_UID,
        implementationVersionName: IMPLEMENTATION_VERSION_NAME,
        roleSelections: [...roleReplies.values()],
        other: [],
      },
    },
  };
}

// ---------------------------------------------------------------------------------------
// services

function respond<Peer>(session: Session<Peer>, message: DimseMessage, fields: Partial<DimseCommand> & { status: number }, dataset?: Buffer): Promise<void> {
  const rq = message.command;
  const command: DimseCommand = {
    commandField: rq.commandField | 0x8000,
    messageIdBeingRespondedTo: rq.messageId,
    affectedSopClassUid: rq.affectedSopClassUid,
    commandDataSetType: dataset ? DATASET_PRESENT : NO_DATASET,
    ...fields,
  };
  if (command.errorComment !== undefined) command.errorComment = errorComment(command.errorComment);
  return session.association.send(message.presentationContextId, command, dataset);
}

async function handleRequest<Peer>(session: Session<Peer>, message: DimseMessage, options: DimseServerOptions<Peer>): Promise<void> {
  try {
    if (message.oversizeBytes !== undefined) return await refuseOversize(session, message, options);
    return await dispatch(session, message, options);
  } finally {
    await discardSpilled(message.spilled);
  }
}

/**
 * A data set over the maximum message size (issue 13, item 7): it was read to its end and
 * dropped, so the association goes on; the request is refused with "out of resources".
 */
async function refuseOversize<Peer>(session: Session<Peer>, message: DimseMessage, options: DimseServerOptions<Peer>): Promise<void> {
  const { command } = message;
  const maxBytes = options.datasetBounds?.maxBytes ?? 0;
  session.stats.oversize += 1;
  if (command.commandField === COMMAND.C_STORE_RQ) session.stats.storeFailures += 1;
  options.logger.warn({ callingAeTitle: session.association.callingAeTitle, remoteAddress: session.association.remoteAddress, commandField: command.commandField, sopInstanceUid: command.affectedSopInstanceUid, bytes: message.oversizeBytes, maxBytes }, 'DIMSE data set over the maximum message size refused');
  return respond(session, message, { status: DIMSE_STATUS.OUT_OF_RESOURCES, errorComment: `Data set over the maximum of ${maxBytes} bytes`, ...(command.commandField === COMMAND.C_STORE_RQ ? { affectedSopInstanceUid: command.affectedSopInstanceUid } : {}) });
}

async function dispatch<Peer>(session: Session<Peer>, message: DimseMessage, options: DimseServerOptions<Peer>): Promise<void> {
  const pc = session.association.contexts.get(message.presentationContextId) as NegotiatedContext;
  const { command } = message;
  const sopClass = command.affectedSopClassUid;
  switch (command.commandField) {
    case COMMAND.C_ECHO_RQ:
      session.stats.echoes += 1;
      if (pc.abstractSyntax !== VERIFICATION_SOP_CLASS) return respond(session, message, { status: DIMSE_STATUS.SOP_CLASS_NOT_SUPPORTED, errorComment: 'Verification not negotiated on this context' });
      return respond(session, message, { status: DIMSE_STATUS.SUCCESS });
    case COMMAND.C_STORE_RQ:
      if (!options.store) return respond(session, message, { status: DIMSE_STATUS.SOP_CLASS_NOT_SUPPORTED, errorComment: 'Storage is not served here', affectedSopInstanceUid: command.affectedSopInstanceUid });
      return handleStore(session, message, pc, options.store, options);
    case COMMAND.C_FIND_RQ:
    case COMMAND.C_MOVE_RQ:
    case COMMAND.C_GET_RQ: {
      if (pc.abstractSyntax === MODALITY_WORKLIST_FIND && options.worklist) {
        if (command.commandField !== COMMAND.C_FIND_RQ || (sopClass && sopClass !== pc.abstractSyntax)) return respond(session, message, { status: DIMSE_STATUS.SOP_CLASS_NOT_SUPPORTED, errorComment: 'SOP Class not supported on this context' });
        return handleWorklistFind(session, message, pc, options.worklist, options);
      }
      const qr = QR_CLASSES.get(pc.abstractSyntax);
      const expected = command.commandField === COMMAND.C_FIND_RQ ? 'FIND' : command.commandField === COMMAND.C_MOVE_RQ ? 'MOVE' : 'GET';
      if (!qr || qr.service !== expected || (sopClass && sopClass !== pc.abstractSyntax)) {
        return respond(session, message, { status: DIMSE_STATUS.SOP_CLASS_NOT_SUPPORTED, errorComment: 'SOP Class not supported on this context' });
      }
      if (expected === 'FIND') return handleFind(session, message, pc, qr.model, options);
      return handleRetrieve(session, message, pc, qr.model, expected, options);
    }
    case COMMAND.N_CREATE_RQ:
    case COMMAND.N_SET_RQ:
      if (pc.abstractSyntax !== MPPS_SOP_CLASS || !options.mpps) return respond(session, message, { status: DIMSE_STATUS.NO_SUCH_SOP_CLASS, errorComment: 'MPPS is not negotiated on this context', affectedSopClassUid: pc.abstractSyntax });
      return handleMpps(session, message, pc, options.mpps, options);
    default:
      options.logger.warn({ commandField: command.commandField, callingAeTitle: session.association.callingAeTitle }, 'DIMSE unsupported command');
      return respond(session, message, { status: DIMSE_STATUS.UNRECOGNIZED_OPERATION, errorComment: 'Unrecognized operation' });
  }
}

function receivedDataset(message: DimseMessage): ReceivedDataset | undefined {
  const { dataset, spilled } = message;
  if (dataset) return { size: dataset.length, bytes: dataset, read: async () => dataset };
  if (spilled) {
    return {
      size: spilled.size,
      path: spilled.path,
      read: async () => {
        await spilled.written;
        return readFile(spilled.path);
      },
    };
  }
  return undefined;
}

/** An identifier (C-FIND, C-MOVE, C-GET) is small, but a spilled one is read like any other. */
async function identifierBytes(message: DimseMessage): Promise<Buffer | undefined> {
  return receivedDataset(message)?.read();
}

async function handleStore<Peer>(session: Session<Peer>, message: DimseMessage, pc: NegotiatedContext, handler: StoreHandler<Peer>, options: DimseServerOptions<Peer>): Promise<void> {
  const { command } = message;
  const sopClassUid = command.affectedSopClassUid ?? '';
  const sopInstanceUid = command.affectedSopInstanceUid ?? '';
  const reply = (status: number, comment?: string): Promise<void> =>
    respond(session, message, { status, errorComment: comment, affectedSopInstanceUid: sopInstanceUid });
  const dataset = receivedDataset(message);
  if (!dataset) return reply(DIMSE_STATUS.CANNOT_UNDERSTAND, 'C-STORE without a data set');
  if (sopClassUid !== pc.abstractSyntax) {
    session.stats.storeFailures += 1;
    return reply(DIMSE_STATUS.SOP_CLASS_NOT_SUPPORTED, 'SOP Class differs from the presentation context');
  }
  if (!sopInstanceUid) {
    session.stats.storeFailures += 1;
    return reply(DIMSE_STATUS.CANNOT_UNDERSTAND, 'No Affected SOP Instance UID');
  }
  try {
    if (message.spilled) await message.spilled.written;
    const result = await handler.store(session.peer as Peer, { sopClassUid, sopInstanceUid, transferSyntaxUid: pc.transferSyntax, callingAeTitle: session.association.callingAeTitle, dataset });
    session.stats.stored += 1;
    session.stats.storedBytes += dataset.size;
    if (message.spilled) session.stats.spilled += 1;
    if (result.warning) return reply(DIMSE_STATUS.WARNING_COERCION, result.warning);
    return reply(DIMSE_STATUS.SUCCESS);
  } catch (err) {
    session.stats.storeFailures += 1;
    const { status, errorComment: comment, known } = statusOfError(err);
    const log = { err: (err as Error)?.message, callingAeTitle: session.association.callingAeTitle, sopInstanceUid, status: `0x${status.toString(16)}` };
    if (known) options.logger.warn(log, 'DIMSE C-STORE refused');
    else options.logger.error(log, 'DIMSE C-STORE failed');
    return reply(status, comment);
  }
}

const LEVELS: Record<QrModel, readonly QueryLevel[]> = {
  PATIENT: ['PATIENT', 'STUDY', 'SERIES', 'IMAGE'],
  STUDY: ['STUDY', 'SERIES', 'IMAGE'],
};

class IdentifierError extends Error {
  readonly status: number;

  constructor(message: string, status: number = DIMSE_STATUS.IDENTIFIER_DOES_NOT_MATCH_SOP_CLASS) {
    super(message);
    this.status = status;
  }
}

function readIdentifier(dataset: Buffer | undefined, transferSyntaxUid: string, model: QrModel): QueryRequest {
  if (!dataset) throw new IdentifierError('No identifier');
  let keys: DicomJsonDataset;
  try {
    keys = toDicomJson(parseDicom(dataset, { transferSyntaxUid }), { omitBinary: true });
  } catch (err) {
    throw new IdentifierError(`Cannot parse identifier: ${(err as Error).message}`, DIMSE_STATUS.CANNOT_UNDERSTAND);
  }
  const raw = keys['00080052']?.Value?.[0];
  const level = typeof raw === 'string' ? raw.trim().toUpperCase() : '';
  if (!(LEVELS[model] as readonly string[]).includes(level)) throw new IdentifierError(`Invalid QueryRetrieveLevel '${level}'`);
  delete keys['00080052'];
  delete keys['00080005'];
  return { model, level: level as QueryLevel, keys };
}

function sortedDataset(ds: DicomJsonDataset): DicomJsonDataset {
  const out: DicomJsonDataset = {};
  for (const tag of Object.keys(ds).sort()) out[tag] = ds[tag];
  return out;
}

/** A handler's failure of a query or a lookup: its status, except that a bare processing failure is "unable to process" (C000 class). */
function queryFailure(err: unknown): { status: number; errorComment: string; known: boolean } {
  const { status, errorComment: comment, known } = statusOfError(err);
  return { status: status === DIMSE_STATUS.PROCESSING_FAILURE ? DIMSE_STATUS.UNABLE_TO_PROCESS : status, errorComment: comment, known };
}

async function handleFind<Peer>(session: Session<Peer>, message: DimseMessage, pc: NegotiatedContext, model: QrModel, options: DimseServerOptions<Peer>): Promise<void> {
  session.stats.finds += 1;
  const messageId = message.command.messageId ?? -1;
  const op: Operation = { cancelled: false };
  session.operations.set(messageId, op);
  try {
    let request: QueryRequest;
    try {
      request = readIdentifier(await identifierBytes(message), pc.transferSyntax, model);
    } catch (err) {
      const e = err as IdentifierError;
      return await respond(session, message, { status: e.status ?? DIMSE_STATUS.CANNOT_UNDERSTAND, errorComment: e.message });
    }
    let results: DicomJsonDataset[];
    try {
      results = await (options.find as FindHandler<Peer>).find(session.peer as Peer, request);
    } catch (err) {
      const { status, errorComment: comment, known } = queryFailure(err);
      if (!known) options.logger.error({ err: (err as Error)?.message }, 'DIMSE C-FIND failed');
      return await respond(session, message, { status, errorComment: comment });
    }
    for (let n = 0; n < results.length; n += 1) {
      const result = results[n];
      // let a C-CANCEL that is on its way be read
      if (n % 8 === 7) await new Promise((resolve) => setImmediate(resolve));
      if (op.cancelled) return await respond(session, message, { status: DIMSE_STATUS.CANCEL });
      const ds: DicomJsonDataset = { ...result, '00080052': { vr: 'CS', Value: [request.level] } };
      delete ds['00080005'];
      let bytes: Buffer;
      try {
        bytes = encodeDataset(sortedDataset(ds), pc.transferSyntax);
      } catch (err) {
        options.logger.error({ err: (err as Error)?.message }, 'DIMSE C-FIND cannot encode a result');
        return await respond(session, message, { status: DIMSE_STATUS.UNABLE_TO_PROCESS, errorComment: 'Cannot encode a result' });
      }
      await respond(session, message, { status: DIMSE_STATUS.PENDING }, bytes);
    }
    if (op.cancelled) return await respond(session, message, { status: DIMSE_STATUS.CANCEL });
    return await respond(session, message, { status: DIMSE_STATUS.SUCCESS });
  } finally {
    session.operations.delete(messageId);
  }
}

/** The character sets a worklist answer may be written in other than UTF-8: the request's, when it is one of these. */
const ANSWER_CHARSETS = new Set(['GB18030', 'GBK']);

function readDataset(dataset: Buffer, transferSyntaxUid: string): DicomJsonDataset {
  return toDicomJson(parseDicom(dataset, { transferSyntaxUid }), { omitBinary: true });
}

function charsetTerms(ds: DicomJsonDataset): string[] {
  return (ds['00080005']?.Value ?? []).map((v) => String(v ?? '').trim());
}

/**
 * Modality Worklist C-FIND (PS3.4 K.4.1.2): pending responses with the matches, in the
 * request's character set when that is GB18030/GBK (a Chinese modality that asked in it
 * reads the answer in it), else UTF-8 where the text needs it. C-CANCEL is honoured.
 */
async function handleWorklistFind<Peer>(session: Session<Peer>, message: DimseMessage, pc: NegotiatedContext, handler: WorklistHandler<Peer>, options: DimseServerOptions<Peer>): Promise<void> {
  session.stats.finds += 1;
  const messageId = message.command.messageId ?? -1;
  const op: Operation = { cancelled: false };
  session.operations.set(messageId, op);
  try {
    const bytes = await identifierBytes(message);
    if (!bytes) return await respond(session, message, { status: DIMSE_STATUS.IDENTIFIER_DOES_NOT_MATCH_SOP_CLASS, errorComment: 'No identifier' });
    let keys: DicomJsonDataset;
    try {
      keys = readDataset(bytes, pc.transferSyntax);
    } catch (err) {
      return await respond(session, message, { status: DIMSE_STATUS.CANNOT_UNDERSTAND, errorComment: `Cannot parse identifier: ${(err as Error).message}` });
    }
    const specificCharacterSet = charsetTerms(keys);
    delete keys['00080005'];
    let results: DicomJsonDataset[];
    try {
      results = await handler.find(session.peer as Peer, { keys, specificCharacterSet });
    } catch (err) {
      const { status, errorComment: comment, known } = queryFailure(err);
      if (!known) options.logger.error({ err: (err as Error)?.message }, 'DIMSE worklist C-FIND failed');
      return await respond(session, message, { status, errorComment: comment });
    }
    const answerCharset = specificCharacterSet.find((term) => ANSWER_CHARSETS.has(term));
    for (let n = 0; n < results.length; n += 1) {
      if (n % 8 === 7) await new Promise((resolve) => setImmediate(resolve));
      if (op.cancelled) return await respond(session, message, { status: DIMSE_STATUS.CANCEL });
      const ds: DicomJsonDataset = { ...results[n] };
      delete ds['00080005'];
      let encoded: Buffer;
      try {
        encoded = encodeDataset(sortedDataset(ds), pc.transferSyntax, { specificCharacterSet: answerCharset });
      } catch (err) {
        options.logger.error({ err: (err as Error)?.message }, 'DIMSE worklist C-FIND cannot encode a result');
        return await respond(session, message, { status: DIMSE_STATUS.UNABLE_TO_PROCESS, errorComment: 'Cannot encode a result' });
      }
      await respond(session, message, { status: DIMSE_STATUS.PENDING }, encoded);
    }
    if (op.cancelled) return await respond(session, message, { status: DIMSE_STATUS.CANCEL });
    return await respond(session, message, { status: DIMSE_STATUS.SUCCESS });
  } finally {
    session.operations.delete(messageId);
  }
}

/** A UID for an N-CREATE that left it to us (PS3.7 10.1.5.1.3): 2.25 and a random UUID. */
function newInstanceUid(): string {
  return `2.25.${BigInt(`0x${randomUUID().replace(/-/g, '')}`)}`;
}

/**
 * MPPS N-CREATE / N-SET (PS3.4 F.7.2): the data set to the handler; the response names the
 * instance (Affected SOP Class and Instance UID) and carries no attribute list (the
 * standard lets the SCP leave it out).
 */
async function handleMpps<Peer>(session: Session<Peer>, message: DimseMessage, pc: NegotiatedContext, handler: MppsHandler<Peer>, options: DimseServerOptions<Peer>): Promise<void> {
  const { command } = message;
  const create = command.commandField === COMMAND.N_CREATE_RQ;
  const sopInstanceUid = (create ? command.affectedSopInstanceUid : command.requestedSopInstanceUid) || (create ? newInstanceUid() : '');
  const reply = (status: number, comment?: string): Promise<void> =>
    respond(session, message, { status, errorComment: comment, affectedSopClassUid: MPPS_SOP_CLASS, affectedSopInstanceUid: sopInstanceUid || undefined });
  const requestedClass = create ? command.affectedSopClassUid : command.requestedSopClassUid;
  if (requestedClass && requestedClass !== MPPS_SOP_CLASS) return reply(DIMSE_STATUS.NO_SUCH_SOP_CLASS, 'Not the MPPS SOP Class');
  if (!sopInstanceUid) return reply(DIMSE_STATUS.NO_SUCH_SOP_INSTANCE, 'N-SET without a Requested SOP Instance UID');
  const bytes = await identifierBytes(message);
  let dataset: DicomJsonDataset = {};
  if (bytes) {
    try {
      dataset = readDataset(bytes, pc.transferSyntax);
    } catch (err) {
      return reply(DIMSE_STATUS.CANNOT_UNDERSTAND, `Cannot parse the data set: ${(err as Error).message}`);
    }
  }
  try {
    if (create) await handler.create(session.peer as Peer, { sopInstanceUid, dataset });
    else await handler.set(session.peer as Peer, { sopInstanceUid, dataset });
    return await reply(DIMSE_STATUS.SUCCESS);
  } catch (err) {
    const { status, errorComment: comment, known } = statusOfError(err);
    const log = { err: (err as Error)?.message, callingAeTitle: session.association.callingAeTitle, sopInstanceUid, status: `0x${status.toString(16)}` };
    if (known) options.logger.warn(log, `DIMSE MPPS N-${create ? 'CREATE' : 'SET'} refused`);
    else options.logger.error(log, `DIMSE MPPS N-${create ? 'CREATE' : 'SET'} failed`);
    return reply(status, comment);
  }
}

/** The node a C-MOVE names, if the retrieve handler lets the peer send to it; a refusal is logged. */
async function permittedMoveDestination<Peer>(session: Session<Peer>, ae: string, handler: RetrieveHandler<Peer>, options: DimseServerOptions<Peer>): Promise<{ destination: MoveDestination } | { refused: string }> {
  const found = await handler.moveDestination(session.peer as Peer, ae);
  if ('refused' in found) options.logger.warn({ callingAeTitle: session.association.callingAeTitle, moveDestination: ae, reason: found.refused }, 'DIMSE C-MOVE destination refused');
  return found;
}

/** (0008,0058) Failed SOP Instance UID List as a one-element data set in implicit or explicit VR LE. */
export function encodeFailedUidList(uids: string[], transferSyntaxUid: string): Buffer {
  const explicit = transferSyntaxUid !== IMPLICIT_LE;
  let text = uids.join('\\');
  const limit = explicit ? 0xfffe : 0xfffffffe;
  if (text.length > limit) text = text.slice(0, text.lastIndexOf('\\', limit));
  if (text.length % 2) text += '\0';
  const value = Buffer.from(text, 'ascii');
  const header = Buffer.alloc(8);
  header.writeUInt16LE(0x0008, 0);
  header.writeUInt16LE(0x0058, 2);
  if (explicit) {
    header.write('UI', 4, 'ascii');
    header.writeUInt16LE(value.length, 6);
  } else {
    header.writeUInt32LE(value.length, 4);
  }
  return Buffer.concat([header, value]);
}

function subOpOutcome(status: number): 'completed' | 'warning' | 'failed' {
  if (status === 0x0000) return 'completed';
  if (status === 0x0001 || (status & 0xf000) === 0xb000) return 'warning';
  return 'failed';
}

interface SubOpSender {
  /** sends one instance (its stored Part 10 bytes; converted when the destination needs it); resolves with its C-STORE status */
  send(instance: RetrieveInstance, part10: Buffer): Promise<number>;
  close(): Promise<void>;
}

async function handleRetrieve<Peer>(session: Session<Peer>, message: DimseMessage, pc: NegotiatedContext, model: QrModel, service: 'MOVE' | 'GET', options: DimseServerOptions<Peer>): Promise<void> {
  const { command } = message;
  const messageId = command.messageId ?? -1;
  const peer = session.peer as Peer;
  const handler = options.retrieve as RetrieveHandler<Peer>;
  const log = options.logger;
  if (service === 'MOVE') session.stats.moves += 1;
  else session.stats.gets += 1;
  const op: Operation = { cancelled: false };
  session.operations.set(messageId, op);
  let sender: SubOpSender | undefined;
  try {
    // the destination first: an unknown one, or one the peer may not send to, is refused before anything else
    let destination: MoveDestination | undefined;
    if (service === 'MOVE') {
      const ae = (command.moveDestination ?? '').trim();
      const found = await permittedMoveDestination(session, ae, handler, options);
      if ('refused' in found) {
        // the same answer whether the node is elsewhere or nowhere: no AE title of another institution is confirmed
        return await respond(session, message, { status: DIMSE_STATUS.MOVE_DESTINATION_UNKNOWN, errorComment: `Unknown move destination ${ae}` });
      }
      destination = found.destination;
    }
    let instances: RetrieveInstance[];
    try {
      const query = readIdentifier(await identifierBytes(message), pc.transferSyntax, model);
      instances = await handler.instances(peer, query, destination ? { service: 'MOVE', destination } : { service: 'GET' });
    } catch (err) {
      if (err instanceof IdentifierError) return await respond(session, message, { status: err.status, errorComment: err.message });
      const { status, errorComment: comment, known } = queryFailure(err);
      if (!known) log.error({ err: (err as Error)?.message }, `DIMSE C-${service} lookup failed`);
      return await respond(session, message, { status, errorComment: comment });
    }

    const counts = { remaining: instances.length, completed: 0, failed: 0, warning: 0 };
    const failedUids: string[] = [];
    if (instances.length === 0) return await respond(session, message, { status: DIMSE_STATUS.SUCCESS, completed: 0, failed: 0, warning: 0 });

    try {
      sender = destination ? await openMoveSender(session, destination, instances, command, options, handler.transcoder) : getSender(session, handler.transcoder);
    } catch (err) {
      log.warn({ err: (err as Error).message, moveDestination: command.moveDestination }, 'DIMSE C-MOVE cannot associate with the destination');
      const ds = encodeFailedUidList(instances.map((i) => i.sopInstanceUid), pc.transferSyntax);
      return await respond(session, message, { status: DIMSE_STATUS.OUT_OF_RESOURCES_SUBOPS, errorComment: 'Cannot reach the move destination', completed: 0, failed: instances.length, warning: 0 }, ds);
    }

    for (const instance of instances) {
      if (op.cancelled) break;
      let outcome: 'completed' | 'warning' | 'failed';
      try {
        outcome = subOpOutcome(await sender.send(instance, await handler.read(peer, instance)));
      } catch (err) {
        log.warn({ err: (err as Error)?.message, sopInstanceUid: instance.sopInstanceUid }, `DIMSE C-${service} sub-operation failed`);
        outcome = 'failed';
      }
      counts.remaining -= 1;
      counts[outcome] += 1;
      if (outcome === 'failed') failedUids.push(instance.sopInstanceUid);
      if (counts.remaining > 0) await respond(session, message, { status: DIMSE_STATUS.PENDING, ...counts });
    }

    const ds = failedUids.length > 0 ? encodeFailedUidList(failedUids, pc.transferSyntax) : undefined;
    if (op.cancelled && counts.remaining > 0) {
      return await respond(session, message, { status: DIMSE_STATUS.CANCEL, ...counts }, ds);
    }
    const status = counts.failed > 0 || counts.warning > 0 ? DIMSE_STATUS.WARNING_SUBOPS_FAILED : DIMSE_STATUS.SUCCESS;
    log.info({ callingAeTitle: session.association.callingAeTitle, moveDestination: command.moveDestination, ...counts }, `DIMSE C-${service} done`);
    return await respond(session, message, { status, completed: counts.completed, failed: counts.failed, warning: counts.warning }, ds);
  } finally {
    session.operations.delete(messageId);
    if (sender) await sender.close().catch(() => {});
  }
}

async function openMoveSender<Peer>(session: Session<Peer>, destination: MoveDestination, instances: RetrieveInstance[], command: DimseCommand, options: DimseServerOptions<Peer>, transcoder: RetrieveTranscoder | undefined): Promise<SubOpSender> {
  // per SOP class, the stored syntaxes (sent as stored when taken) and the uncompressed ones
  // (the instances converted when the destination takes none of their stored syntaxes)
  const client: DimseClient = await openAssociation({
    host: destination.host,
    port: destination.port,
    callingAeTitle: options.aeTitle,
    calledAeTitle: destination.aeTitle,
    presentationContexts: retrieveProposals(instances, transcoder),
    logger: options.logger,
    connectTimeoutMs: 30_000,
    idleTimeoutMs: MOVE_SUB_ASSOCIATION_IDLE_MS,
    tls: destination.tls,
  });
  return {
    async send(instance, part10) {
      const storedTs = splitPart10(part10).transferSyntaxUid;
      const pick = pickStorageContext(client.contexts, instance.sopClassUid, storedTs, transcoder);
      if (!pick) throw new Error(`destination accepted no context for ${instance.sopClassUid} in ${storedTs} or one it converts to`);
      const r = await client.request(pick.context.id, {
        commandField: COMMAND.C_STORE_RQ,
        affectedSopClassUid: instance.sopClassUid,
        affectedSopInstanceUid: instance.sopInstanceUid,
        priority: PRIORITY_MEDIUM,
        commandDataSetType: DATASET_PRESENT,
        moveOriginatorAeTitle: session.association.callingAeTitle,
        moveOriginatorMessageId: command.messageId,
      }, await datasetForContext(part10, pick, transcoder));
      if (r.status !== 0) options.logger.warn({ sopInstanceUid: instance.sopInstanceUid, status: `0x${r.status.toString(16)}`, errorComment: r.errorComment }, 'DIMSE C-MOVE sub-operation not successful');
      return r.status;
    },
    async close() {
      if (client.association.state === 'established') await client.release();
      else client.abort();
    },
  };
}

function getSender<Peer>(session: Session<Peer>, transcoder: RetrieveTranscoder | undefined): SubOpSender {
  const association = session.association;
  return {
    async send(instance, part10) {
      const storedTs = splitPart10(part10).transferSyntaxUid;
      const pick = pickStorageContext(association.contexts.values(), instance.sopClassUid, storedTs, transcoder);
      if (!pick) throw new Error(`no storage context for ${instance.sopClassUid} in ${storedTs} or one it converts to`);
      const response = await association.request(pick.context.id, {
        commandField: COMMAND.C_STORE_RQ,
        affectedSopClassUid: instance.sopClassUid,
        affectedSopInstanceUid: instance.sopInstanceUid,
        priority: PRIORITY_MEDIUM,
        commandDataSetType: DATASET_PRESENT,
      }, await datasetForContext(part10, pick, transcoder));
      return response.command.status ?? 0xffff;
    },
    async close() {},
  };
}

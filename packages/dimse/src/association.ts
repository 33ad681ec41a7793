/**
 * One DICOM association over one TCP connection (PS3.8 state machine, simplified):
 * PDU reading, ARTIM timer, message assembly and dispatch, fragmentation to the peer's
 * maximum PDU length, release and abort. Used by both the SCP (acceptor) and the SCU
 * (requestor); the services live in scp.ts and scu.ts.
 */
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import {
  ABORT,
  PDU_TYPE,
  PduError,
  PduReader,
  decodePduPieces,
  encodeAbort,
  encodeAssociateAc,
  encodeAssociateRj,
  encodeAssociateRq,
  encodePDataHeader,
  encodeReleaseRp,
  encodeReleaseRq,
  type AssociateAc,
  type AssociateRj,
  type AssociateRq,
  type Pdu,
} from './pdu.ts';
import { COMMAND, DimseError, MessageAssembler, discardSpilled, encodeCommand, isResponse, type DatasetBounds, type DimseCommand, type DimseMessage } from './dimse-message.ts';

/** pino-compatible logger */
export interface DimseLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
  debug(obj: object, msg?: string): void;
}

export const silentLogger: DimseLogger = { info() {}, warn() {}, error() {}, debug() {} };

export interface NegotiatedContext {
  id: number;
  abstractSyntax: string;
  transferSyntax: string;
  /** from role selection: may the association requestor act as SCU / SCP for this SOP class */
  requestorIsScu: boolean;
  requestorIsScp: boolean;
}

export type AssociationState = 'awaiting-rq' | 'awaiting-ac' | 'established' | 'releasing' | 'closed';

export interface AssociationOptions {
  role: 'acceptor' | 'requestor';
  logger?: DimseLogger;
  /** largest P-DATA-TF we accept (and advertise) */
  maxPduLength: number;
  /** ARTIM: time allowed for association negotiation and release */
  artimTimeoutMs?: number;
  /** abort after this long without traffic (0 = never) */
  idleTimeoutMs?: number;
  /** pause reading when this many bytes of received messages wait for processing */
  highWaterBytes?: number;
  /** spill large received data sets to temporary files, drop those over a maximum (default: all in memory) */
  datasetBounds?: DatasetBounds;
  /** acceptor only: decides on an A-ASSOCIATE-RQ */
  onAssociateRequest?: (rq: AssociateRq) => Promise<AssociateDecision>;
  /** a request (not a response, not C-CANCEL); requests are processed one at a time, in order */
  onRequest?: (message: DimseMessage) => Promise<void>;
  /** C-CANCEL-RQ for the request with this message ID */
  onCancel?: (messageIdBeingRespondedTo: number) => void;
}

export type AssociateDecision =
  | { accept: Omit<AssociateAc, 'type'>; contexts: NegotiatedContext[] }
  | { reject: { result: number; source: number; reason: number } };

interface PendingRequest {
  onResponse: (message: DimseMessage) => void;
  resolve: (message: DimseMessage) => void;
  reject: (error: Error) => void;
}

export class AssociationError extends Error {
  readonly rejection?: AssociateRj;

  constructor(message: string, rejection?: AssociateRj) {
    super(message);
    this.rejection = rejection;
    this.name = 'AssociationError';
  }
}

const PENDING_STATUSES = new Set([0xff00, 0xff01]);

/**
 * What a received message weighs while it waits: its data set in memory, or in its temporary
 * file (a peer must not pile up spilled data sets on disk faster than they are handled either).
 */
function queuedSize(message: DimseMessage): number {
  return message.dataset?.length ?? message.spilled?.size ?? 0;
}

/** why reading from the socket is paused: a decision on the A-ASSOCIATE-RQ, too many queued bytes, a spill file behind */
type PauseReason = 'decision' | 'backpressure' | 'spill';

export class Association extends EventEmitter {
  state: AssociationState;
  readonly contexts = new Map<number, NegotiatedContext>();
  callingAeTitle = '';
  calledAeTitle = '';
  peerMaxPduLength = 0;
  peerImplementationClassUid: string | undefined;
  peerImplementationVersionName: string | undefined;
  readonly remoteAddress: string;

  private readonly reader: PduReader;
  private readonly assembler: MessageAssembler;
  private readonly logger: DimseLogger;
  private readonly queue: DimseMessage[] = [];
  private queuedBytes = 0;
  private processing = false;
  private releaseRequested = false;
  private readonly pauseReasons = new Set<PauseReason>();
  private artim: NodeJS.Timeout | undefined;
  private nextMessageId = 1;
  private readonly pending = new Map<number, PendingRequest>();
  private awaitingAc: { resolve: (ac: AssociateAc) => void; reject: (e: Error) => void } | undefined;
  private awaitingRp: (() => void) | undefined;
  private readonly highWater: number;

  readonly socket: Socket;
  private readonly options: AssociationOptions;

  constructor(socket: Socket, options: AssociationOptions) {
    super();
    this.socket = socket;
    this.options = options;
    this.assembler = new MessageAssembler(options.datasetBounds, (busy) => this.setPaused('spill', busy));
    this.logger = options.logger ?? silentLogger;
    this.reader = new PduReader(Math.max(options.maxPduLength * 4, 16 * 1024 * 1024));
    this.highWater = options.highWaterBytes ?? 32 * 1024 * 1024;
    this.state = options.role === 'acceptor' ? 'awaiting-rq' : 'awaiting-ac';
    this.remoteAddress = socket.remoteAddress ?? '';
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (err) => {
      this.logger.debug({ err: err.message, remoteAddress: this.remoteAddress }, 'DIMSE socket error');
      this.emit('socket-error', err);
    });
    socket.on('close', () => this.onClose());
    socket.on('end', () => {
      if (this.state !== 'closed') socket.destroy();
    });
    if (options.idleTimeoutMs) {
      const idleMs = options.idleTimeoutMs;
      socket.setTimeout(idleMs, () => this.onIdle(idleMs));
    }
    if (options.role === 'acceptor') this.startArtim();
  }

  // -------------------------------------------------------------------------------------
  // sending

  /** Sends one DIMSE message, fragmented to the peer's maximum PDU length. Resolves once the socket drained. */
  async send(presentationContextId: number, command: DimseCommand, dataset?: Buffer): Promise<void> {
    if (this.state !== 'established' && this.state !== 'releasing') throw new AssociationError(`cannot send in state ${this.state}`);
    const socket = this.socket;
    const peerMax = this.peerMaxPduLength > 0 ? this.peerMaxPduLength : 1024 * 1024;
    const maxData = Math.max(peerMax, 64) - 6;
    socket.cork();
    this.writeFragments(presentationContextId, true, encodeCommand(command), maxData);
    if (dataset) this.writeFragments(presentationContextId, false, dataset, maxData);
    socket.uncork();
    if (socket.writableNeedDrain) {
      await new Promise<void>((resolve, reject) => {
        const onDrain = (): void => { cleanup(); resolve(); };
        const onClose = (): void => { cleanup(); reject(new AssociationError('connection closed while sending')); };
        const cleanup = (): void => { socket.off('drain', onDrain); socket.off('close', onClose); };
        socket.on('drain', onDrain);
        socket.on('close', onClose);
      });
    }
  }

  private writeFragments(pcId: number, isCommand: boolean, bytes: Buffer, maxData: number): void {
    let offset = 0;
    do {
      const n = Math.min(maxData, bytes.length - offset);
      const last = offset + n >= bytes.length;
      this.socket.write(encodePDataHeader(pcId, isCommand, last, n));
      if (n > 0) this.socket.write(bytes.subarray(offset, offset + n));
      offset += n;
    } while (offset < bytes.length);
  }

  /**
   * Sends a request and resolves with its final response (status not Pending).
   * Pending responses go to `onResponse`. The message ID is assigned here.
   */
  request(presentationContextId: number, command: Omit<DimseCommand, 'messageId'>, dataset?: Buffer, onResponse?: (m: DimseMessage) => void): Promise<DimseMessage> {
    const messageId = this.allocateMessageId();
    return new Promise<DimseMessage>((resolve, reject) => {
      this.pending.set(messageId, { onResponse: onResponse ?? (() => {}), resolve, reject });
      this.send(presentationContextId, { ...command, messageId }, dataset).catch((err: Error) => {
        this.pending.delete(messageId);
        reject(err);
      });
    });
  }

  allocateMessageId(): number {
    const id = this.nextMessageId;
    this.nextMessageId = id >= 0xffff ? 1 : id + 1;
    return id;
  }

  /** Requestor: sends the A-ASSOCIATE-RQ and waits for AC (resolves) or RJ/abort/timeout (rejects). */
  requestAssociation(rq: Omit<AssociateRq, 'type'>): Promise<AssociateAc> {
    this.callingAeTitle = rq.callingAeTitle;
    this.calledAeTitle = rq.calledAeTitle;
    return new Promise<AssociateAc>((resolve, reject) => {
      this.awaitingAc = { resolve, reject };
      this.startArtim();
      this.socket.write(encodeAssociateRq(rq));
    });
  }

  /** Requestor: A-RELEASE-RQ, wait for A-RELEASE-RP, close. */
  async release(): Promise<void> {
    if (this.state !== 'established') return;
    this.state = 'releasing';
    const done = new Promise<void>((resolve) => {
      this.awaitingRp = resolve;
      this.once('close', resolve);
    });
    this.startArtim();
    this.socket.write(encodeReleaseRq());
    await done;
    this.socket.destroy();
  }

  abort(source: number = ABORT.SOURCE_SERVICE_USER, reason: number = ABORT.REASON_NOT_SPECIFIED): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.rejectPending(new AssociationError('association aborted'));
    if (!this.socket.destroyed && this.socket.writable) {
      this.socket.end(encodeAbort(source, reason));
      // give the A-ABORT a moment to leave, then drop the connection whatever the peer does
      setTimeout(() => this.socket.destroy(), 500).unref();
    } else {
      this.socket.destroy();
    }
  }

  // -------------------------------------------------------------------------------------
  // receiving

  private startArtim(): void {
    this.stopArtim();
    const ms = this.options.artimTimeoutMs ?? 30_000;
    this.artim = setTimeout(() => {
      this.logger.warn({ state: this.state, remoteAddress: this.remoteAddress }, 'DIMSE ARTIM timeout, closing');
      if (this.awaitingAc) this.awaitingAc.reject(new AssociationError('timed out waiting for A-ASSOCIATE-AC'));
      this.awaitingAc = undefined;
      this.state = 'closed';
      this.socket.destroy();
    }, ms);
    this.artim.unref();
  }

  private stopArtim(): void {
    if (this.artim) clearTimeout(this.artim);
    this.artim = undefined;
  }

  /**
   * Nothing went either way for the idle period. Silence while we work on the peer's request
   * (a slow store, a C-MOVE waiting for its destination) is ours, not the peer's: wait on.
   * Otherwise the association is aborted; a connection that never asked for one is just
   * closed (PS3.8: there is no association to abort before the A-ASSOCIATE-RQ).
   */
  private onIdle(idleMs: number): void {
    if (this.state === 'closed') return;
    if (this.processing && this.pending.size === 0) {
      this.socket.setTimeout(idleMs);
      return;
    }
    this.logger.warn({ callingAeTitle: this.callingAeTitle, remoteAddress: this.remoteAddress, state: this.state, idleMs }, 'DIMSE association idle, aborting');
    if (this.state === 'awaiting-rq') {
      this.state = 'closed';
      this.socket.destroy();
      return;
    }
    this.abort(ABORT.SOURCE_SERVICE_PROVIDER, ABORT.REASON_NOT_SPECIFIED);
  }

  private setPaused(reason: PauseReason, paused: boolean): void {
    if (paused === this.pauseReasons.has(reason)) return;
    if (paused) this.pauseReasons.add(reason);
    else this.pauseReasons.delete(reason);
    if (this.pauseReasons.size > 0) this.socket.pause();
    else if (this.state !== 'closed') {
      this.socket.resume();
      // PDUs that were already buffered when we paused
      setImmediate(() => this.drainReader());
    }
  }

  private onData(chunk: Buffer): void {
    this.reader.push(chunk);
    this.drainReader();
  }

  private drainReader(): void {
    try {
      while (this.pauseReasons.size === 0 && this.state !== 'closed') {
        const raw = this.reader.nextPieces();
        if (!raw) break;
        this.handlePdu(decodePduPieces(raw.type, raw.pieces));
      }
    } catch (err) {
      const reason = err instanceof PduError ? err.abortReason : ABORT.REASON_INVALID_PDU_PARAMETER;
      this.logger.warn({ err: (err as Error).message, callingAeTitle: this.callingAeTitle, remoteAddress: this.remoteAddress }, 'DIMSE protocol error, aborting');
      this.abort(ABORT.SOURCE_SERVICE_PROVIDER, reason);
    }
  }

  private protocolViolation(what: string): void {
    throw new PduError(`unexpected ${what} in state ${this.state}`, ABORT.REASON_UNEXPECTED_PDU);
  }

  private handlePdu(pdu: Pdu): void {
    switch (pdu.type) {
      case PDU_TYPE.ASSOCIATE_RQ:
        if (this.state !== 'awaiting-rq' || !this.options.onAssociateRequest) return this.protocolViolation('A-ASSOCIATE-RQ');
        return this.onAssociateRq(pdu);
      case PDU_TYPE.ASSOCIATE_AC:
        if (this.state !== 'awaiting-ac' || !this.awaitingAc) return this.protocolViolation('A-ASSOCIATE-AC');
        this.stopArtim();
        this.state = 'established';
        this.peerMaxPduLength = pdu.userInformation.maxPduLength;
        this.peerImplementationClassUid = pdu.userInformation.implementationClassUid;
        this.peerImplementationVersionName = pdu.userInformation.implementationVersionName;
        this.awaitingAc.resolve(pdu);
        this.awaitingAc = undefined;
        return;
      case PDU_TYPE.ASSOCIATE_RJ:
        if (this.state !== 'awaiting-ac' || !this.awaitingAc) return this.protocolViolation('A-ASSOCIATE-RJ');
        this.stopArtim();
        this.awaitingAc.reject(new AssociationError(`association rejected (result ${pdu.result}, source ${pdu.source}, reason ${pdu.reason})`, pdu));
        this.awaitingAc = undefined;
        this.state = 'closed';
        this.socket.destroy();
        return;
      case PDU_TYPE.P_DATA_TF:
        if (this.state !== 'established' && this.state !== 'releasing') return this.protocolViolation('P-DATA-TF');
        for (const pdv of pdu.pdvs) {
          if (!this.contexts.has(pdv.presentationContextId)) throw new PduError(`PDV for unknown presentation context ${pdv.presentationContextId}`, ABORT.REASON_INVALID_PDU_PARAMETER);
          let message: DimseMessage | undefined;
          try {
            message = this.assembler.push(pdv);
          } catch (err) {
            if (err instanceof DimseError) throw new PduError(err.message, ABORT.REASON_INVALID_PDU_PARAMETER);
            throw err;
          }
          if (message) this.dispatch(message);
        }
        return;
      case PDU_TYPE.RELEASE_RQ:
        if (this.state !== 'established') return this.protocolViolation('A-RELEASE-RQ');
        this.releaseRequested = true;
        this.maybeFinishRelease();
        return;
      case PDU_TYPE.RELEASE_RP:
        if (this.state !== 'releasing' || !this.awaitingRp) return this.protocolViolation('A-RELEASE-RP');
        this.stopArtim();
        this.state = 'closed';
        this.awaitingRp();
        this.awaitingRp = undefined;
        return;
      case PDU_TYPE.ABORT:
        this.logger.info({ callingAeTitle: this.callingAeTitle, remoteAddress: this.remoteAddress, source: pdu.source, reason: pdu.reason }, 'DIMSE association aborted by peer');
        this.state = 'closed';
        this.rejectPending(new AssociationError('association aborted by peer'));
        this.emit('aborted');
        this.socket.destroy();
        return;
    }
  }

  private onAssociateRq(rq: AssociateRq): void {
    this.stopArtim();
    this.callingAeTitle = rq.callingAeTitle;
    this.calledAeTitle = rq.calledAeTitle;
    this.peerMaxPduLength = rq.userInformation.maxPduLength;
    this.peerImplementationClassUid = rq.userInformation.implementationClassUid;
    this.peerImplementationVersionName = rq.userInformation.implementationVersionName;
    this.setPaused('decision', true);
    const decide = this.options.onAssociateRequest as (rq: AssociateRq) => Promise<AssociateDecision>;
    decide(rq).then(
      (decision) => {
        if (this.state === 'closed') return;
        if ('reject' in decision) {
          const { result, source, reason } = decision.reject;
          this.state = 'closed';
          this.socket.end(encodeAssociateRj(result, source, reason));
          this.startArtim();
          return;
        }
        for (const c of decision.contexts) this.contexts.set(c.id, c);
        this.state = 'established';
        this.socket.write(encodeAssociateAc(decision.accept));
        this.emit('established');
        this.setPaused('decision', false);
      },
      (err: Error) => {
        this.logger.error({ err: err.message }, 'DIMSE association negotiation failed');
        this.abort(ABORT.SOURCE_SERVICE_PROVIDER, ABORT.REASON_NOT_SPECIFIED);
      },
    );
  }

  private dispatch(message: DimseMessage): void {
    const { command } = message;
    if (isResponse(command)) {
      const id = command.messageIdBeingRespondedTo ?? -1;
      const p = this.pending.get(id);
      if (!p) {
        this.logger.warn({ messageIdBeingRespondedTo: id, commandField: command.commandField }, 'DIMSE response to no outstanding request, ignored');
        return;
      }
      if (command.status !== undefined && PENDING_STATUSES.has(command.status)) {
        p.onResponse(message);
        return;
      }
      this.pending.delete(id);
      p.resolve(message);
      return;
    }
    if (command.commandField === COMMAND.C_CANCEL_RQ) {
      this.options.onCancel?.(command.messageIdBeingRespondedTo ?? -1);
      return;
    }
    if (!this.options.onRequest) {
      this.logger.warn({ commandField: command.commandField }, 'DIMSE request on an association that serves none, aborting');
      this.abort(ABORT.SOURCE_SERVICE_PROVIDER, ABORT.REASON_UNEXPECTED_PDU);
      return;
    }
    this.queue.push(message);
    this.queuedBytes += queuedSize(message);
    if (this.queuedBytes > this.highWater) this.setPaused('backpressure', true);
    void this.processQueue();
  }

  private async processQueue(): Promise<void> {
    if (this.processing) return;
    this.processing = true;
    try {
      while (this.queue.length > 0 && this.state !== 'closed') {
        const message = this.queue.shift() as DimseMessage;
        try {
          await (this.options.onRequest as (m: DimseMessage) => Promise<void>)(message);
        } catch (err) {
          this.logger.error({ err: (err as Error).message, callingAeTitle: this.callingAeTitle }, 'DIMSE request handler failed, aborting');
          this.abort(ABORT.SOURCE_SERVICE_PROVIDER, ABORT.REASON_NOT_SPECIFIED);
          return;
        }
        this.queuedBytes -= queuedSize(message);
        if (this.pauseReasons.has('backpressure') && this.queuedBytes <= this.highWater / 2) this.setPaused('backpressure', false);
      }
    } finally {
      this.processing = false;
    }
    this.maybeFinishRelease();
  }

  private maybeFinishRelease(): void {
    if (!this.releaseRequested || this.processing || this.queue.length > 0 || this.state === 'closed') return;
    this.releaseRequested = false;
    this.state = 'closed';
    this.rejectPending(new AssociationError('association released'));
    this.socket.write(encodeReleaseRp());
    // the requestor closes the transport; ARTIM guards against one that does not
    this.startArtim();
    this.emit('released');
  }

  private rejectPending(err: Error): void {
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
    if (this.awaitingAc) {
      this.awaitingAc.reject(err);
      this.awaitingAc = undefined;
    }
  }

  private onClose(): void {
    this.stopArtim();
    // temporary files of data sets that will never be handled
    void this.assembler.discard();
    for (const message of this.queue.splice(0)) void discardSpilled(message.spilled);
    const wasOpen = this.state !== 'closed';
    this.state = 'closed';
    this.rejectPending(new AssociationError('connection closed'));
    if (this.awaitingRp) {
      this.awaitingRp();
      this.awaitingRp = undefined;
    }
    if (wasOpen) this.emit('dropped');
    this.emit('close');
  }
}

/**
 * A small DIMSE SCU: associate, C-ECHO, C-STORE, release. Used by C-MOVE to reach the
 * move destination; reusable by the edge gateway.
 */
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';
import { Association, AssociationError, silentLogger, type DimseLogger, type NegotiatedContext } from './association.ts';
import { COMMAND, DATASET_PRESENT, NO_DATASET, PRIORITY_MEDIUM, type DimseCommand, type DimseMessage } from './dimse-message.ts';
import { APPLICATION_CONTEXT_NAME, IMPLEMENTATION_CLASS_UID, IMPLEMENTATION_VERSION_NAME, PC_RESULT, type RoleSelection } from './pdu.ts';

export const VERIFICATION_SOP_CLASS = '1.2.840.10008.1.1';
export const DEFAULT_MAX_PDU_LENGTH = 256 * 1024;

export interface ProposedContext {
  abstractSyntax: string;
  transferSyntaxes: string[];
}

export interface ScuOptions {
  host: string;
  port: number;
  callingAeTitle: string;
  calledAeTitle: string;
  presentationContexts: ProposedContext[];
  roleSelections?: RoleSelection[];
  maxPduLength?: number;
  /** TCP connect plus association negotiation */
  connectTimeoutMs?: number;
  /** abort when the peer stays silent this long */
  idleTimeoutMs?: number;
  logger?: DimseLogger;
  /** DICOM over TLS (PS3.15 B.1): the options of tls.connect (ca, cert, key, servername...) */
  tls?: ConnectionOptions;
}

export interface DimseStatus {
  status: number;
  errorComment?: string;
  response: DimseCommand;
  dataset?: Buffer;
}

export interface StoreRequest {
  sopClassUid: string;
  sopInstanceUid: string;
  /** the transfer syntax the data set is encoded in; a context accepted with it is used */
  transferSyntaxUid: string;
  dataset: Buffer;
  moveOriginatorAeTitle?: string;
  moveOriginatorMessageId?: number;
  priority?: number;
}

export class DimseClient {
  readonly association: Association;

  constructor(association: Association) {
    this.association = association;
  }

  get contexts(): NegotiatedContext[] {
    return [...this.association.contexts.values()];
  }

  /** An accepted presentation context for this SOP class (and transfer syntax, when given). */
  findContext(abstractSyntax: string, transferSyntax?: string): NegotiatedContext | undefined {
    for (const c of this.association.contexts.values()) {
      if (c.abstractSyntax === abstractSyntax && (transferSyntax === undefined || c.transferSyntax === transferSyntax)) return c;
    }
    return undefined;
  }

  async echo(): Promise<DimseStatus> {
    const pc = this.findContext(VERIFICATION_SOP_CLASS);
    if (!pc) throw new AssociationError('Verification was not accepted');
    return toStatus(await this.association.request(pc.id, { commandField: COMMAND.C_ECHO_RQ, affectedSopClassUid: VERIFICATION_SOP_CLASS, commandDataSetType: NO_DATASET }));
  }

  async store(request: StoreRequest): Promise<DimseStatus> {
    const pc = this.findContext(request.sopClassUid, request.transferSyntaxUid);
    if (!pc) throw new AssociationError(`no presentation context accepted for ${request.sopClassUid} in ${request.transferSyntaxUid}`);
    const command: Omit<DimseCommand, 'messageId'> = {
      commandField: COMMAND.C_STORE_RQ,
      affectedSopClassUid: request.sopClassUid,
      affectedSopInstanceUid: request.sopInstanceUid,
      priority: request.priority ?? PRIORITY_MEDIUM,
      commandDataSetType: DATASET_PRESENT,
      moveOriginatorAeTitle: request.moveOriginatorAeTitle,
      moveOriginatorMessageId: request.moveOriginatorMessageId,
    };
    return toStatus(await this.association.request(pc.id, command, request.dataset));
  }

  /** Any request on a given context; pending responses go to onPending. */
  async request(presentationContextId: number, command: Omit<DimseCommand, 'messageId'>, dataset?: Buffer, onPending?: (m: DimseMessage) => void): Promise<DimseStatus> {
    return toStatus(await this.association.request(presentationContextId, command, dataset, onPending));
  }

  release(): Promise<void> {
    return this.association.release();
  }

  abort(): void {
    this.association.abort();
  }
}

function toStatus(message: DimseMessage): DimseStatus {
  return { status: message.command.status ?? 0xffff, errorComment: message.command.errorComment, response: message.command, dataset: message.dataset };
}

/** Opens an association; rejects with AssociationError when refused, rejected or timed out. */
export async function openAssociation(options: ScuOptions): Promise<DimseClient> {
  const logger = options.logger ?? silentLogger;
  const maxPduLength = options.maxPduLength ?? DEFAULT_MAX_PDU_LENGTH;
  const timeout = options.connectTimeoutMs ?? 30_000;
  if (options.presentationContexts.length > 128) throw new AssociationError('more than 128 presentation contexts');
  const socket = await new Promise<Socket>((resolve, reject) => {
    const s = options.tls ? tlsConnect({ ...options.tls, host: options.host, port: options.port }) : netConnect({ host: options.host, port: options.port });
    const timer = setTimeout(() => {
      s.destroy();
      reject(new AssociationError(`connection to ${options.host}:${options.port} timed out`));
    }, timeout);
    s.once(options.tls ? 'secureConnect' : 'connect', () => {
      clearTimeout(timer);
      s.removeAllListeners('error');
      resolve(s);
    });
    s.once('error', (err) => {
      clearTimeout(timer);
      reject(new AssociationError(`cannot connect to ${options.host}:${options.port}: ${err.message}`));
    });
  });
  const association = new Association(socket, { role: 'requestor', logger, maxPduLength, artimTimeoutMs: timeout, idleTimeoutMs: options.idleTimeoutMs });
  const proposed = options.presentationContexts.map((pc, i) => ({ id: 2 * i + 1, abstractSyntax: pc.abstractSyntax, transferSyntaxes: pc.transferSyntaxes }));
  const ac = await association.requestAssociation({
    protocolVersion: 1,
    calledAeTitle: options.calledAeTitle,
    callingAeTitle: options.callingAeTitle,
    applicationContext: APPLICATION_CONTEXT_NAME,
    presentationContexts: proposed,
    userInformation: {
      maxPduLength,
      implementationClassUid: IMPLEMENTATION_CLASS_UID,
      implementationVersionName: IMPLEMENTATION_VERSION_NAME,
      roleSelections: options.roleSelections ?? [],
      other: [],
    },
  });
  for (const result of ac.presentationContexts) {
    const p = proposed.find((x) => x.id === result.id);
    if (!p || result.result !== PC_RESULT.ACCEPTANCE || !result.transferSyntax) continue;
    const role = ac.userInformation.roleSelections.find((r) => r.sopClassUid === p.abstractSyntax);
    association.contexts.set(p.id, {
      id: p.id,
      abstractSyntax: p.abstractSyntax,
      transferSyntax: result.transferSyntax,
      requestorIsScu: role ? role.scuRole === 1 : true,
      requestorIsScp: role ? role.scpRole === 1 : false,
    });
  }
  return new DimseClient(association);
}

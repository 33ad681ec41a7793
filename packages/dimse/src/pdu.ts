/**
 * PS3.8 upper layer protocol data units: encode, decode and a chunk-tolerant reader.
 *
 * Everything here is pure (no sockets). Decoding never copies P-DATA values: the PDVs
 * are subarrays of the socket chunks, also when a PDU straddles chunks (PduReader.nextPieces
 * and decodePduPieces; PduReader.next joins such a PDU into one buffer).
 */

export const PDU_TYPE = {
  ASSOCIATE_RQ: 0x01,
  ASSOCIATE_AC: 0x02,
  ASSOCIATE_RJ: 0x03,
  P_DATA_TF: 0x04,
  RELEASE_RQ: 0x05,
  RELEASE_RP: 0x06,
  ABORT: 0x07,
} as const;

export const APPLICATION_CONTEXT_NAME = '1.2.840.10008.3.1.1.1';

/** Implementation Class UID of Yunying (a UUID-derived 2.25 UID, fixed) and version name (≤ 16 chars). */
export const IMPLEMENTATION_CLASS_UID = '2.25.25369440081020989825103197487927471924';
export const IMPLEMENTATION_VERSION_NAME = 'YUNYING_0_1';

/** A-ASSOCIATE-AC presentation context results (PS3.8 9.3.3.2). */
export const PC_RESULT = {
  ACCEPTANCE: 0,
  USER_REJECTION: 1,
  NO_REASON: 2,
  ABSTRACT_SYNTAX_NOT_SUPPORTED: 3,
  TRANSFER_SYNTAXES_NOT_SUPPORTED: 4,
} as const;

/** A-ASSOCIATE-RJ result / source / reason (PS3.8 9.3.4). */
export const REJECT = {
  RESULT_PERMANENT: 1,
  RESULT_TRANSIENT: 2,
  SOURCE_SERVICE_USER: 1,
  SOURCE_SERVICE_PROVIDER_ACSE: 2,
  SOURCE_SERVICE_PROVIDER_PRESENTATION: 3,
  // source 1
  REASON_NO_REASON: 1,
  REASON_APPLICATION_CONTEXT_NOT_SUPPORTED: 2,
  REASON_CALLING_AE_NOT_RECOGNIZED: 3,
  REASON_CALLED_AE_NOT_RECOGNIZED: 7,
  // source 2
  REASON_PROTOCOL_VERSION_NOT_SUPPORTED: 2,
  // source 3
  REASON_TEMPORARY_CONGESTION: 1,
  REASON_LOCAL_LIMIT_EXCEEDED: 2,
} as const;

/** A-ABORT source / reason (PS3.8 9.3.8). */
export const ABORT = {
  SOURCE_SERVICE_USER: 0,
  SOURCE_SERVICE_PROVIDER: 2,
  REASON_NOT_SPECIFIED: 0,
  REASON_UNRECOGNIZED_PDU: 1,
  REASON_UNEXPECTED_PDU: 2,
  REASON_UNRECOGNIZED_PDU_PARAMETER: 4,
  REASON_UNEXPECTED_PDU_PARAMETER: 5,
  REASON_INVALID_PDU_PARAMETER: 6,
} as const;

export interface ProposedPresentationContext {
  id: number;
  abstractSyntax: string;
  transferSyntaxes: string[];
}

export interface AcceptedPresentationContext {
  id: number;
  result: number;
  /** present when result is ACCEPTANCE (PS3.8 allows it to be absent otherwise) */
  transferSyntax?: string;
}

/** SCP/SCU Role Selection sub-item (PS3.7 D.3.3.4): 1 = role supported. */
export interface RoleSelection {
  sopClassUid: string;
  scuRole: number;
  scpRole: number;
}

export interface UserInformation {
  /** 0 = no limit */
  maxPduLength: number;
  implementationClassUid?: string;
  implementationVersionName?: string;
  /** asynchronous operations window; parsed and ignored (we only do one operation at a time) */
  asyncOps?: { invoked: number; performed: number };
  roleSelections: RoleSelection[];
  /** sub-items we do not interpret (extended negotiation, user identity), kept raw */
  other: { type: number; value: Buffer }[];
}

export interface AssociateRq {
  type: typeof PDU_TYPE.ASSOCIATE_RQ;
  protocolVersion: number;
  calledAeTitle: string;
  callingAeTitle: string;
  applicationContext: string;
  presentationContexts: ProposedPresentationContext[];
  userInformation: UserInformation;
}

export interface AssociateAc {
  type: typeof PDU_TYPE.ASSOCIATE_AC;
  protocolVersion: number;
  calledAeTitle: string;
  callingAeTitle: string;
  applicationContext: string;
  presentationContexts: AcceptedPresentationContext[];
  userInformation: UserInformation;
}

export interface AssociateRj {
  type: typeof PDU_TYPE.ASSOCIATE_RJ;
  result: number;
  source: number;
  reason: number;
}

/**
 * One PDV item. From decodePduPieces, a PDV whose value straddles TCP chunks comes as several
 * consecutive Pdv records, one per piece, all with its context and command bit and only the
 * last with its isLast bit: message assembly collects pieces anyway, and joining them here
 * would copy every byte of a data set once more.
 */
export interface Pdv {
  presentationContextId: number;
  isCommand: boolean;
  isLast: boolean;
  data: Buffer;
}

export interface PDataTf {
  type: typeof PDU_TYPE.P_DATA_TF;
  pdvs: Pdv[];
}

export interface ReleaseRq { type: typeof PDU_TYPE.RELEASE_RQ }
export interface ReleaseRp { type: typeof PDU_TYPE.RELEASE_RP }
export interface Abort { type: typeof PDU_TYPE.ABORT; source: number; reason: number }

export type Pdu = AssociateRq | AssociateAc | AssociateRj | PDataTf | ReleaseRq | ReleaseRp | Abort;

/** A malformed PDU: the association must be aborted with `abortReason`. */
export class PduError extends Error {
  readonly abortReason: number;

  constructor(message: string, abortReason: number = ABORT.REASON_INVALID_PDU_PARAMETER) {
    super(message);
    this.abortReason = abortReason;
    this.name = 'PduError';
  }
}

// ---------------------------------------------------------------------------------------
// encoding

function padAe(ae: string): Buffer {
  const b = Buffer.alloc(16, 0x20);
  b.write(ae.slice(0, 16), 0, 'ascii');
  return b;
}

function item(type: number, value: Buffer): Buffer {
  const h = Buffer.alloc(4);
  h[0] = type;
  h.writeUInt16BE(value.length, 2);
  return Buffer.concat([h, value]);
}

function uidItem(type: number, uid: string): Buffer {
  return item(type, Buffer.from(uid, 'ascii'));
}

function pdu(type: number, body: Buffer): Buffer {
  const h = Buffer.alloc(6);
  h[0] = type;
  h.writeUInt32BE(body.length, 2);
  return Buffer.concat([h, body]);
}

function encodeUserInformation(ui: UserInformation): Buffer {
  const parts: Buffer[] = [];
  const max = Buffer.alloc(4);
  max.writeUInt32BE(ui.maxPduLength >>> 0);
  parts.push(item(0x51, max));
  if (ui.implementationClassUid) parts.push(uidItem(0x52, ui.implementationClassUid));
  if (ui.asyncOps) {
    const a = Buffer.alloc(4);
    a.writeUInt16BE(ui.asyncOps.invoked, 0);
    a.writeUInt16BE(ui.asyncOps.performed, 2);
    parts.push(item(0x53, a));
  }
  for (const rs of ui.roleSelections) {
    const uid = Buffer.from(rs.sopClassUid, 'ascii');
    const v = Buffer.alloc(2 + uid.length + 2);
    v.writeUInt16BE(uid.length, 0);
    uid.copy(v, 2);
    v[2 + uid.length] = rs.scuRole;
    v[3 + uid.length] = rs.scpRole;
    parts.push(item(0x54, v));
  }
  if (ui.implementationVersionName) parts.push(item(0x55, Buffer.from(ui.implementationVersionName.slice(0, 16), 'ascii')));
  for (const o of ui.other) parts.push(item(o.type, o.value));
  return item(0x50, Buffer.concat(parts));
}

function associateHeader(protocolVersion: number, called: string, calling: string): Buffer {
  const h = Buffer.alloc(68);
  h.writeUInt16BE(protocolVersion, 0);
  padAe(called).copy(h, 4);
  padAe(calling).copy(h, 20);
  return h;
}

export function encodeAssociateRq(rq: Omit<AssociateRq, 'type'>): Buffer {
  const parts = [associateHeader(rq.protocolVersion, rq.calledAeTitle, rq.callingAeTitle), uidItem(0x10, rq.applicationContext)];
  for (const pc of rq.presentationContexts) {
    const head = Buffer.from([pc.id, 0, 0, 0]);
    parts.push(item(0x20, Buffer.concat([head, uidItem(0x30, pc.abstractSyntax), ...pc.transferSyntaxes.map((ts) => uidItem(0x40, ts))])));
  }
  parts.push(encodeUserInformation(rq.userInformation));
  return pdu(PDU_TYPE.ASSOCIATE_RQ, Buffer.concat(parts));
}

export function encodeAssociateAc(ac: Omit<AssociateAc, 'type'>): Buffer {
  const parts = [associateHeader(ac.protocolVersion, ac.calledAeTitle, ac.callingAeTitle), uidItem(0x10, ac.applicationContext)];
  for (const pc of ac.presentationContexts) {
    const head = Buffer.from([pc.id, 0, pc.result, 0]);
    // PS3.8 9.3.3.2: the transfer syntax sub-item is always sent; its value is ignored unless accepted
    parts.push(item(0x21, Buffer.concat([head, uidItem(0x40, pc.transferSyntax ?? '')])));
  }
  parts.push(encodeUserInformation(ac.userInformation));
  return pdu(PDU_TYPE.ASSOCIATE_AC, Buffer.concat(parts));
}

export function encodeAssociateRj(result: number, source: number, reason: number): Buffer {
  return pdu(PDU_TYPE.ASSOCIATE_RJ, Buffer.from([0, result, source, reason]));
}

export function encodeReleaseRq(): Buffer {
  return pdu(PDU_TYPE.RELEASE_RQ, Buffer.alloc(4));
}

export function encodeReleaseRp(): Buffer {
  return pdu(PDU_TYPE.RELEASE_RP, Buffer.alloc(4));
}

export function encodeAbort(source: number, reason: number): Buffer {
  return pdu(PDU_TYPE.ABORT, Buffer.from([0, 0, source, reason]));
}

/**
 * The 12-byte header of a P-DATA-TF PDU carrying exactly one PDV of `dataLength` bytes.
 * The caller writes the header then the data (no copy of the data).
 */
export function encodePDataHeader(presentationContextId: number, isCommand: boolean, isLast: boolean, dataLength: number): Buffer {
  const h = Buffer.allocUnsafe(12);
  h[0] = PDU_TYPE.P_DATA_TF;
  h[1] = 0;
  h.writeUInt32BE(dataLength + 6, 2);
  h.writeUInt32BE(dataLength + 2, 6);
  h[10] = presentationContextId;
  h[11] = (isCommand ? 0x01 : 0) | (isLast ? 0x02 : 0);
  return h;
}

// ---------------------------------------------------------------------------------------
// decoding

function trimAe(b: Buffer): string {
  return b.toString('ascii').replace(/[\0 ]+$/g, '').replace(/^ +/, '');
}

function uid(b: Buffer): string {
  return b.toString('ascii').replace(/[\0 ]+$/g, '');
}

interface RawItem { type: number; value: Buffer }

function readItems(body: Buffer, offset: number, end: number): RawItem[] {
  const items: RawItem[] = [];
  while (offset < end) {
    if (offset + 4 > end) throw new PduError('truncated item header');
    const type = body[offset];
    const len = body.readUInt16BE(offset + 2);
    if (offset + 4 + len > end) throw new PduError(`item 0x${type.toString(16)} overruns its PDU`);
    items.push({ type, value: body.subarray(offset + 4, offset + 4 + len) });
    offset += 4 + len;
  }
  return items;
}

function decodeUserInformation(v: Buffer): UserInformation {
  const ui: UserInformation = { maxPduLength: 0, roleSelections: [], other: [] };
  for (const sub of readItems(v, 0, v.length)) {
    switch (sub.type) {
      case 0x51:
        if (sub.value.length !== 4) throw new PduError('bad maximum length sub-item');
        ui.maxPduLength = sub.value.readUInt32BE(0);
        break;
      case 0x52:
        ui.implementationClassUid = uid(sub.value);
        break;
      case 0x53:
        if (sub.value.length >= 4) ui.asyncOps = { invoked: sub.value.readUInt16BE(0), performed: sub.value.readUInt16BE(2) };
        break;
      case 0x54: {
        if (sub.value.length < 4) throw new PduError('bad role selection sub-item');
        const n = sub.value.readUInt16BE(0);
        if (2 + n + 2 > sub.value.length) throw new PduError('bad role selection sub-item');
        ui.roleSelections.push({ sopClassUid: uid(sub.value.subarray(2, 2 + n)), scuRole: sub.value[2 + n], scpRole: sub.value[3 + n] });
        break;
      }
      case 0x55:
        ui.implementationVersionName = sub.value.toString('ascii').replace(/[\0 ]+$/g, '');
        break;
      default:
        ui.other.push({ type: sub.type, value: Buffer.from(sub.value) });
    }
  }
  return ui;
}

function decodeAssociate(type: 0x01 | 0x02, body: Buffer): AssociateRq | AssociateAc {
  if (body.length < 68) throw new PduError('A-ASSOCIATE PDU too short');
  const protocolVersion = body.readUInt16BE(0);
  const calledAeTitle = trimAe(body.subarray(4, 20));
  const callingAeTitle = trimAe(body.subarray(20, 36));
  let applicationContext = '';
  let userInformation: UserInformation | undefined;
  const proposed: ProposedPresentationContext[] = [];
  const accepted: AcceptedPresentationContext[] = [];
  for (const it of readItems(body, 68, body.length)) {
    if (it.type === 0x10) applicationContext = uid(it.value);
    else if (it.type === 0x20 && type === PDU_TYPE.ASSOCIATE_RQ) {
      if (it.value.length < 4) throw new PduError('bad presentation context item');
      const pc: ProposedPresentationContext = { id: it.value[0], abstractSyntax: '', transferSyntaxes: [] };
      for (const sub of readItems(it.value, 4, it.value.length)) {
        if (sub.type === 0x30) pc.abstractSyntax = uid(sub.value);
        else if (sub.type === 0x40) pc.transferSyntaxes.push(uid(sub.value));
      }
      proposed.push(pc);
    } else if (it.type === 0x21 && type === PDU_TYPE.ASSOCIATE_AC) {
      if (it.value.length < 4) throw new PduError('bad presentation context item');
      const pc: AcceptedPresentationContext = { id: it.value[0], result: it.value[2] };
      for (const sub of readItems(it.value, 4, it.value.length)) {
        if (sub.type === 0x40) pc.transferSyntax = uid(sub.value);
      }
      accepted.push(pc);
    } else if (it.type === 0x50) userInformation = decodeUserInformation(it.value);
    else throw new PduError(`unexpected item 0x${it.type.toString(16)} in A-ASSOCIATE`, ABORT.REASON_UNRECOGNIZED_PDU_PARAMETER);
  }
  if (!userInformation) throw new PduError('A-ASSOCIATE without user information item');
  const common = { protocolVersion, calledAeTitle, callingAeTitle, applicationContext, userInformation };
  return type === PDU_TYPE.ASSOCIATE_RQ
    ? { type: PDU_TYPE.ASSOCIATE_RQ, ...common, presentationContexts: proposed }
    : { type: PDU_TYPE.ASSOCIATE_AC, ...common, presentationContexts: accepted };
}

/**
 * Decodes a P-DATA-TF body held in consecutive pieces without joining them: PDV values are
 * subarrays of the pieces (a value across a piece boundary is several Pdv records, see Pdv);
 * only a 6-byte item header that straddles two pieces is copied. A body in one buffer is one
 * piece (decodePdu), and then every PDV is one record.
 */
function decodePDataPieces(pieces: readonly Buffer[]): PDataTf {
  let total = 0;
  for (const piece of pieces) total += piece.length;
  const pdvs: Pdv[] = [];
  let index = 0; // current piece
  let at = 0; // offset in it
  let offset = 0; // offset in the whole body
  // the next n bytes, as a subarray when they lie in one piece; advances past them
  const read = (n: number, onPiece: (bytes: Buffer) => void): void => {
    while (n > 0) {
      const piece = pieces[index];
      const k = Math.min(n, piece.length - at);
      onPiece(piece.subarray(at, at + k));
      at += k;
      n -= k;
      if (at === piece.length) {
        index += 1;
        at = 0;
      }
    }
  };
  while (offset < total) {
    if (offset + 6 > total) throw new PduError('truncated PDV item');
    const headerParts: Buffer[] = [];
    read(6, (bytes) => headerParts.push(bytes));
    const header = headerParts.length === 1 ? headerParts[0] : Buffer.concat(headerParts, 6);
    const len = header.readUInt32BE(0);
    if (len < 2 || offset + 4 + len > total) throw new PduError('PDV item length overruns its PDU');
    const presentationContextId = header[4];
    const mch = header[5];
    const isCommand = (mch & 0x01) !== 0;
    const isLast = (mch & 0x02) !== 0;
    const values: Buffer[] = [];
    read(len - 2, (bytes) => values.push(bytes));
    if (values.length === 0) values.push(Buffer.alloc(0));
    values.forEach((data, i) => pdvs.push({ presentationContextId, isCommand, isLast: isLast && i === values.length - 1, data }));
    offset += 4 + len;
  }
  return { type: PDU_TYPE.P_DATA_TF, pdvs };
}

/**
 * Decodes one PDU given its type byte and its body in consecutive pieces (PduReader.nextPieces).
 * P-DATA-TF is decoded in place; the other PDUs are small and joined first.
 */
export function decodePduPieces(type: number, pieces: readonly Buffer[]): Pdu {
  if (type === PDU_TYPE.P_DATA_TF) return decodePDataPieces(pieces);
  return decodePdu(type, pieces.length === 1 ? pieces[0] : Buffer.concat(pieces));
}

/** Decodes one PDU given its type byte and its body (the bytes after the 6-byte header). */
export function decodePdu(type: number, body: Buffer): Pdu {
  switch (type) {
    case PDU_TYPE.ASSOCIATE_RQ:
    case PDU_TYPE.ASSOCIATE_AC:
      return decodeAssociate(type, body);
    case PDU_TYPE.ASSOCIATE_RJ:
      if (body.length < 4) throw new PduError('A-ASSOCIATE-RJ too short');
      return { type, result: body[1], source: body[2], reason: body[3] };
    case PDU_TYPE.P_DATA_TF:
      return decodePDataPieces([body]);
    case PDU_TYPE.RELEASE_RQ:
      return { type };
    case PDU_TYPE.RELEASE_RP:
      return { type };
    case PDU_TYPE.ABORT:
      return { type, source: body.length >= 4 ? body[2] : 0, reason: body.length >= 4 ? body[3] : 0 };
    default:
      throw new PduError(`unrecognized PDU type 0x${type.toString(16)}`, ABORT.REASON_UNRECOGNIZED_PDU);
  }
}

/**
 * Collects TCP chunks and hands out whole PDUs. Chunks are kept in a list and a PDU's body
 * is handed out as subarrays of them (nextPieces), never copied: with a 256 KiB maximum PDU
 * and 64 KiB socket chunks almost every P-DATA-TF of a large data set straddles chunks, and
 * joining them copied every byte received once before message assembly joined them again.
 */
export class PduReader {
  private chunks: Buffer[] = [];
  private head = 0; // offset into chunks[0]
  private buffered = 0;

  private readonly maxPduLength: number;

  constructor(maxPduLength = 64 * 1024 * 1024) {
    this.maxPduLength = maxPduLength;
  }

  get bufferedBytes(): number {
    return this.buffered;
  }

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.buffered += chunk.length;
  }

  /** The next whole PDU as { type, body } (joined into one buffer when it straddled chunks), or undefined. Throws PduError. */
  next(): { type: number; body: Buffer } | undefined {
    const raw = this.nextPieces();
    if (!raw) return undefined;
    const body = raw.pieces.length === 1 ? raw.pieces[0] : Buffer.concat(raw.pieces, raw.length);
    return { type: raw.type, body };
  }

  /**
   * The next whole PDU with its body as consecutive subarrays of the received chunks (one
   * piece, possibly empty, when it lay in one chunk), or undefined when more bytes are
   * needed. Throws PduError, before the body has arrived, on a bad type or length.
   */
  nextPieces(): { type: number; length: number; pieces: Buffer[] } | undefined {
    if (this.buffered < 6) return undefined;
    const header = this.peek(6);
    const type = header[0];
    const length = header.readUInt32BE(2);
    if (type < PDU_TYPE.ASSOCIATE_RQ || type > PDU_TYPE.ABORT) throw new PduError(`unrecognized PDU type 0x${type.toString(16)}`, ABORT.REASON_UNRECOGNIZED_PDU);
    if (length > this.maxPduLength) throw new PduError(`PDU of ${length} bytes exceeds the limit`, ABORT.REASON_INVALID_PDU_PARAMETER);
    if (this.buffered < 6 + length) return undefined;
    this.skip(6);
    return { type, length, pieces: this.take(length) };
  }

  private peek(n: number): Buffer {
    const first = this.chunks[0];
    if (first.length - this.head >= n) return first.subarray(this.head, this.head + n);
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    let i = 0;
    let off = this.head;
    while (filled < n) {
      const c = this.chunks[i];
      const k = Math.min(n - filled, c.length - off);
      c.copy(out, filled, off, off + k);
      filled += k;
      i += 1;
      off = 0;
    }
    return out;
  }

  private skip(n: number): void {
    this.buffered -= n;
    while (n > 0) {
      const c = this.chunks[0];
      const k = Math.min(n, c.length - this.head);
      n -= k;
      this.head += k;
      if (this.head === c.length) {
        this.chunks.shift();
        this.head = 0;
      }
    }
  }

  /** the next n buffered bytes as subarrays of the chunks (n ≤ buffered) */
  private take(n: number): Buffer[] {
    this.buffered -= n;
    const first = this.chunks[0];
    if (n === 0) return [first ? first.subarray(this.head, this.head) : Buffer.alloc(0)];
    const out: Buffer[] = [];
    while (n > 0) {
      const c = this.chunks[0];
      const k = Math.min(n, c.length - this.head);
      out.push(c.subarray(this.head, this.head + k));
      n -= k;
      this.head += k;
      if (this.head === c.length) {
        this.chunks.shift();
        this.head = 0;
      }
    }
    return out;
  }
}

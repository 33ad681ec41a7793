/**
 * PS3.7 DIMSE command sets (always implicit VR little endian, group 0000) and the
 * assembly of P-DATA fragments into messages.
 */
import { randomUUID } from 'node:crypto';
import { createWriteStream, type WriteStream } from 'node:fs';
import { unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Pdv } from './pdu.ts';

export const COMMAND = {
  C_STORE_RQ: 0x0001,
  C_STORE_RSP: 0x8001,
  C_GET_RQ: 0x0010,
  C_GET_RSP: 0x8010,
  C_FIND_RQ: 0x0020,
  C_FIND_RSP: 0x8020,
  C_MOVE_RQ: 0x0021,
  C_MOVE_RSP: 0x8021,
  C_ECHO_RQ: 0x0030,
  C_ECHO_RSP: 0x8030,
  C_CANCEL_RQ: 0x0fff,
  // DIMSE-N, for MPPS (PS3.7 10.3)
  N_SET_RQ: 0x0120,
  N_SET_RSP: 0x8120,
  N_CREATE_RQ: 0x0140,
  N_CREATE_RSP: 0x8140,
} as const;

/** (0000,0800) value meaning "no data set"; any other value means a data set follows. */
export const NO_DATASET = 0x0101;
export const DATASET_PRESENT = 0x0000;

export const PRIORITY_MEDIUM = 0x0000;

export interface DimseCommand {
  commandField: number;
  messageId?: number;
  messageIdBeingRespondedTo?: number;
  affectedSopClassUid?: string;
  requestedSopClassUid?: string;
  affectedSopInstanceUid?: string;
  requestedSopInstanceUid?: string;
  moveDestination?: string;
  priority?: number;
  /** NO_DATASET (0x0101) or DATASET_PRESENT */
  commandDataSetType: number;
  status?: number;
  offendingElement?: number[];
  errorComment?: string;
  errorId?: number;
  remaining?: number;
  completed?: number;
  failed?: number;
  warning?: number;
  moveOriginatorAeTitle?: string;
  moveOriginatorMessageId?: number;
}

type FieldKind = 'UI' | 'US' | 'AE' | 'LO' | 'AT' | 'UL';
type Field = Exclude<keyof DimseCommand, 'commandField' | 'commandDataSetType'> | 'commandField' | 'commandDataSetType';

/** Command elements in ascending tag order. */
const ELEMENTS: readonly { element: number; field: Field; kind: FieldKind }[] = [
  { element: 0x0002, field: 'affectedSopClassUid', kind: 'UI' },
  { element: 0x0003, field: 'requestedSopClassUid', kind: 'UI' },
  { element: 0x0100, field: 'commandField', kind: 'US' },
  { element: 0x0110, field: 'messageId', kind: 'US' },
  { element: 0x0120, field: 'messageIdBeingRespondedTo', kind: 'US' },
  { element: 0x0600, field: 'moveDestination', kind: 'AE' },
  { element: 0x0700, field: 'priority', kind: 'US' },
  { element: 0x0800, field: 'commandDataSetType', kind: 'US' },
  { element: 0x0900, field: 'status', kind: 'US' },
  { element: 0x0901, field: 'offendingElement', kind: 'AT' },
  { element: 0x0902, field: 'errorComment', kind: 'LO' },
  { element: 0x0903, field: 'errorId', kind: 'US' },
  { element: 0x1000, field: 'affectedSopInstanceUid', kind: 'UI' },
  { element: 0x1001, field: 'requestedSopInstanceUid', kind: 'UI' },
  { element: 0x1020, field: 'remaining', kind: 'US' },
  { element: 0x1021, field: 'completed', kind: 'US' },
  { element: 0x1022, field: 'failed', kind: 'US' },
  { element: 0x1023, field: 'warning', kind: 'US' },
  { element: 0x1030, field: 'moveOriginatorAeTitle', kind: 'AE' },
  { element: 0x1031, field: 'moveOriginatorMessageId', kind: 'US' },
];
const BY_ELEMENT = new Map(ELEMENTS.map((e) => [e.element, e]));

export class DimseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DimseError';
  }
}

function encodeValue(kind: FieldKind, value: unknown): Buffer {
  switch (kind) {
    case 'US': {
      const b = Buffer.alloc(2);
      b.writeUInt16LE(Number(value) & 0xffff);
      return b;
    }
    case 'UL': {
      const b = Buffer.alloc(4);
      b.writeUInt32LE(Number(value) >>> 0);
      return b;
    }
    case 'AT': {
      const tags = value as number[];
      const b = Buffer.alloc(tags.length * 4);
      tags.forEach((t, i) => {
        b.writeUInt16LE((t >>> 16) & 0xffff, i * 4);
        b.writeUInt16LE(t & 0xffff, i * 4 + 2);
      });
      return b;
    }
    case 'UI': {
      const s = String(value);
      return Buffer.from(s.length % 2 ? `${s}\0` : s, 'ascii');
    }
    case 'AE':
    case 'LO': {
      let s = String(value).replace(/[\\\r\n]/g, ' ');
      if (kind === 'AE') s = s.slice(0, 16);
      if (kind === 'LO') s = s.slice(0, 64);
      const b = Buffer.from(s, 'latin1');
      return b.length % 2 ? Buffer.concat([b, Buffer.from(' ')]) : b;
    }
  }
}

/** Encodes a command set: implicit VR LE, ascending tags, with (0000,0000) CommandGroupLength first. */
export function encodeCommand(command: DimseCommand): Buffer {
  const parts: Buffer[] = [];
  let length = 0;
  for (const { element, field, kind } of ELEMENTS) {
    const value = command[field];
    if (value === undefined || value === null) continue;
    const v = encodeValue(kind, value);
    const h = Buffer.alloc(8);
    h.writeUInt16LE(0x0000, 0);
    h.writeUInt16LE(element, 2);
    h.writeUInt32LE(v.length, 4);
    parts.push(h, v);
    length += 8 + v.length;
  }
  const gl = Buffer.alloc(12);
  gl.writeUInt32LE(0x00000000, 0);
  gl.writeUInt32LE(4, 4);
  gl.writeUInt32LE(length, 8);
  return Buffer.concat([gl, ...parts], 12 + length);
}

function textValue(b: Buffer): string {
  return b.toString('latin1').replace(/[\0 ]+$/g, '').replace(/^ +/, '');
}

/** Decodes a command set. Unknown elements are skipped; throws DimseError when malformed. */
export function decodeCommand(bytes: Buffer): DimseCommand {
  const out: Record<string, unknown> = {};
  let offset = 0;
  while (offset < bytes.length) {
    if (offset + 8 > bytes.length) throw new DimseError('truncated command element');
    const group = bytes.readUInt16LE(offset);
    const element = bytes.readUInt16LE(offset + 2);
    const length = bytes.readUInt32LE(offset + 4);
    offset += 8;
    if (group !== 0x0000) throw new DimseError(`command set holds element (${group.toString(16).padStart(4, '0')},${element.toString(16).padStart(4, '0')})`);
    if (length === 0xffffffff || offset + length > bytes.length) throw new DimseError('command element overruns the command set');
    const value = bytes.subarray(offset, offset + length);
    offset += length;
    const def = BY_ELEMENT.get(element);
    if (!def) continue;
    switch (def.kind) {
      case 'US':
        if (length < 2) throw new DimseError(`bad US length in (0000,${element.toString(16).padStart(4, '0')})`);
        out[def.field] = value.readUInt16LE(0);
        break;
      case 'UL':
        out[def.field] = value.readUInt32LE(0);
        break;
      case 'AT': {
        const tags: number[] = [];
        for (let i = 0; i + 4 <= length; i += 4) tags.push(((value.readUInt16LE(i) << 16) | value.readUInt16LE(i + 2)) >>> 0);
        out[def.field] = tags;
        break;
      }
      default:
        out[def.field] = textValue(value);
    }
  }
  if (typeof out.commandField !== 'number') throw new DimseError('command set without (0000,0100) CommandField');
  if (typeof out.commandDataSetType !== 'number') out.commandDataSetType = NO_DATASET;
  return out as unknown as DimseCommand;
}

export function hasDataset(command: DimseCommand): boolean {
  return command.commandDataSetType !== NO_DATASET;
}

export function isResponse(command: DimseCommand): boolean {
  return (command.commandField & 0x8000) !== 0;
}

export interface DimseMessage {
  presentationContextId: number;
  command: DimseCommand;
  /** the data set, when it stayed under the spill threshold (always, without bounds) */
  dataset?: Buffer;
  /** the data set was over the spill threshold: it is in this temporary file, which the receiver deletes */
  spilled?: SpilledDataset;
  /** the data set was over the maximum message size: this many bytes arrived and were dropped */
  oversizeBytes?: number;
}

/** A data set written to a temporary file as its fragments arrived. */
export interface SpilledDataset {
  path: string;
  size: number;
  /** resolves once every byte is on disk (rejects when the write failed) */
  written: Promise<void>;
}

/**
 * How much of a received data set is held in memory (issue 13, item 7): a data set above
 * `spillBytes` goes to a temporary file as it arrives, one above `maxBytes` is read to its
 * end and dropped (the message then says how big it was), so one association's C-STORE of
 * a 2 GB instance costs neither 2 GB of heap nor a broken association.
 */
export interface DatasetBounds {
  spillBytes: number;
  maxBytes: number;
  /** directory of the temporary files; default os.tmpdir() */
  spillDir?: string;
}

/** The temporary file of one data set being received. */
class SpillFile {
  readonly path: string;
  size = 0;
  private readonly stream: WriteStream;
  private readonly onPressure: (busy: boolean) => void;
  private failure: Error | undefined;

  constructor(dir: string, onPressure: (busy: boolean) => void) {
    this.path = join(dir, `yunying-dimse-${randomUUID()}.part`);
    this.stream = createWriteStream(this.path, { flags: 'wx', mode: 0o600 });
    this.stream.on('error', (err) => (this.failure ??= err));
    this.stream.on('drain', () => onPressure(false));
    this.onPressure = onPressure;
  }

  write(chunk: Buffer): void {
    this.size += chunk.length;
    if (!this.stream.write(chunk)) this.onPressure(true);
  }

  /** ends the file; the promise settles when it is on disk */
  finish(): SpilledDataset {
    const written = new Promise<void>((resolve, reject) => {
      if (this.failure) return reject(this.failure);
      this.stream.once('error', reject);
      this.stream.end(() => (this.failure ? reject(this.failure) : resolve()));
    });
    // the receiver awaits it; an unobserved failure must not crash the process meanwhile
    written.catch(() => undefined);
    this.onPressure(false);
    return { path: this.path, size: this.size, written };
  }

  /** stops writing and removes the file (once the stream has closed: it may still be opening it) */
  discard(): Promise<void> {
    this.onPressure(false);
    const closed = this.stream.closed ? Promise.resolve() : new Promise<void>((resolve) => this.stream.once('close', () => resolve()));
    this.stream.destroy();
    return closed.then(() => unlink(this.path)).catch(() => undefined);
  }
}

/** Deletes a spilled data set's file (after its message was handled, or when it never will be). */
export async function discardSpilled(spilled: SpilledDataset | undefined): Promise<void> {
  if (!spilled) return;
  await spilled.written.catch(() => undefined);
  await unlink(spilled.path).catch(() => undefined);
}

/**
 * Assembles PDVs into DIMSE messages (PS3.7 E.2). Command fragments are collected,
 * decoded on the last fragment; data set fragments are collected as Buffer[] and
 * concatenated once, or, with bounds, written to a temporary file past the spill
 * threshold and dropped past the maximum. Only one message is assembled at a time
 * (PS3.8: fragments of different messages are not interleaved).
 */
export class MessageAssembler {
  private pcId = -1;
  private commandChunks: Buffer[] = [];
  private command: DimseCommand | undefined;
  private dataChunks: Buffer[] = [];
  private dataBytes = 0;
  private spill: SpillFile | undefined;
  private dropping = false;
  private removing: Promise<void> = Promise.resolve();
  private readonly bounds: DatasetBounds | undefined;
  private readonly onPressure: (busy: boolean) => void;

  /** onPressure: the temporary file cannot take more for now (true) or can again (false) */
  constructor(bounds?: DatasetBounds, onPressure: (busy: boolean) => void = () => undefined) {
    this.bounds = bounds;
    this.onPressure = onPressure;
  }

  /** bytes of the data set being assembled */
  get pendingDataBytes(): number {
    return this.dataBytes;
  }

  /** The message completed by this PDV, if any. Throws DimseError on protocol violations. */
  push(pdv: Pdv): DimseMessage | undefined {
    if (this.pcId === -1) this.pcId = pdv.presentationContextId;
    else if (pdv.presentationContextId !== this.pcId) throw new DimseError('PDV of another presentation context inside a message');
    if (pdv.isCommand) {
      if (this.command) throw new DimseError('command fragment after the command set was complete');
      this.commandChunks.push(pdv.data);
      if (!pdv.isLast) return undefined;
      const bytes = this.commandChunks.length === 1 ? this.commandChunks[0] : Buffer.concat(this.commandChunks);
      this.commandChunks = [];
      this.command = decodeCommand(bytes);
      if (!hasDataset(this.command)) return this.finish({});
      return undefined;
    }
    if (!this.command) throw new DimseError('data set fragment before the command set');
    if (!hasDataset(this.command)) throw new DimseError('data set fragment for a command without a data set');
    this.dataBytes += pdv.data.length;
    this.keep(pdv.data);
    if (!pdv.isLast) return undefined;
    if (this.dropping) return this.finish({ oversizeBytes: this.dataBytes });
    if (this.spill) {
      const spilled = this.spill.finish();
      this.spill = undefined;
      return this.finish({ spilled });
    }
    const dataset = this.dataChunks.length === 1 ? this.dataChunks[0] : Buffer.concat(this.dataChunks, this.dataBytes);
    return this.finish({ dataset });
  }

  /** Drops the message being assembled (the association closed in the middle of it); settles when its file is gone. */
  discard(): Promise<void> {
    const removed = this.spill?.discard() ?? Promise.resolve();
    this.spill = undefined;
    this.finish({});
    return removed;
  }

  /** settles once the file of the last data set dropped over the maximum is gone */
  get settled(): Promise<void> {
    return this.removing;
  }

  private keep(chunk: Buffer): void {
    const bounds = this.bounds;
    if (this.dropping) return;
    if (bounds && this.dataBytes > bounds.maxBytes) {
      // past the maximum: read on to the end of the message, keep nothing
      this.dropping = true;
      if (this.spill) this.removing = this.spill.discard();
      this.spill = undefined;
      this.dataChunks = [];
      return;
    }
    if (this.spill) return this.spill.write(chunk);
    this.dataChunks.push(chunk);
    if (bounds && this.dataBytes > bounds.spillBytes) {
      this.spill = new SpillFile(bounds.spillDir ?? tmpdir(), this.onPressure);
      for (const held of this.dataChunks) this.spill.write(held);
      this.dataChunks = [];
    }
  }

  private finish(body: Pick<DimseMessage, 'dataset' | 'spilled' | 'oversizeBytes'>): DimseMessage {
    const message: DimseMessage = { presentationContextId: this.pcId, command: this.command as DimseCommand, ...body };
    this.pcId = -1;
    this.command = undefined;
    this.dataChunks = [];
    this.dataBytes = 0;
    this.dropping = false;
    return message;
  }
}

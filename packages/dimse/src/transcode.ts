/**
 * Transfer syntaxes of retrieval sub-operations (C-MOVE, C-GET): what is proposed to a
 * destination, which accepted context an instance goes on, and its data set in that context's
 * syntax (issue 15, item 1).
 *
 * An instance goes as stored whenever the destination accepted its stored syntax. When it did
 * not, it goes uncompressed (Explicit, else Implicit VR Little Endian), converted by the
 * retrieve handler's transcoder (the archive's decoders: this package does not decode pixel
 * data). Without a transcoder, only the two little-endian uncompressed syntaxes are converted
 * into each other, here.
 */
import { encodeDataset, parseDicom, splitPart10, toDicomJson } from '@yunying/dicom';
import type { NegotiatedContext } from './association.ts';
import type { ProposedContext } from './scu.ts';

export const IMPLICIT_LE = '1.2.840.10008.1.2';
export const EXPLICIT_LE = '1.2.840.10008.1.2.1';
/** The uncompressed syntaxes proposed beside the stored one, preferred first. */
export const UNCOMPRESSED_SYNTAXES: readonly string[] = [EXPLICIT_LE, IMPLICIT_LE];

/** What a retrieve handler can convert (the archive's transcoder). */
export interface RetrieveTranscoder {
  /** true when an instance stored in `from` can be sent in `to` */
  canTranscode(from: string, to: string): boolean;
  /** a Part 10 file in, the same instance as a Part 10 file in `to` */
  transcodePart10(part10: Buffer, to: string): Promise<Buffer>;
}

export function isLittleEndianUncompressed(transferSyntaxUid: string): boolean {
  return transferSyntaxUid === IMPLICIT_LE || transferSyntaxUid === EXPLICIT_LE;
}

/** The other uncompressed little-endian syntax, or undefined when `ts` is not one. */
export function otherLittleEndian(transferSyntaxUid: string): string | undefined {
  if (transferSyntaxUid === IMPLICIT_LE) return EXPLICIT_LE;
  if (transferSyntaxUid === EXPLICIT_LE) return IMPLICIT_LE;
  return undefined;
}

/** Re-encodes a bare data set from one LE syntax to the other (text re-encoded as UTF-8 when not ASCII). */
export function transcodeLittleEndian(dataset: Buffer, from: string, to: string): Buffer {
  if (from === to) return dataset;
  if (!isLittleEndianUncompressed(from) || !isLittleEndianUncompressed(to)) throw new Error(`cannot transcode ${from} to ${to}`);
  const json = toDicomJson(parseDicom(dataset, { transferSyntaxUid: from }), { inlineBinaryMaxBytes: Number.MAX_SAFE_INTEGER });
  return encodeDataset(json, to);
}

/** Whether an instance stored in `from` can be sent in `to`: the transcoder's answer, or LE ↔ LE without one. */
export function canConvert(transcoder: RetrieveTranscoder | undefined, from: string, to: string): boolean {
  if (from === to) return true;
  if (transcoder) return transcoder.canTranscode(from, to);
  return isLittleEndianUncompressed(from) && isLittleEndianUncompressed(to);
}

/** Most presentation contexts an association request may carry (PS3.8: odd IDs 1–255). */
const MAX_PROPOSED_CONTEXTS = 128;

/**
 * The contexts proposed to a C-MOVE destination: per SOP class, one per stored syntax (so
 * that what the destination takes goes byte for byte) and one with the uncompressed syntaxes
 * (for the instances it takes in none of their stored syntaxes, when they can be converted).
 * A class's contexts stay together; beyond 128 the last classes are left out.
 */
export function retrieveProposals(instances: Iterable<{ sopClassUid: string; transferSyntaxUid: string }>, transcoder: RetrieveTranscoder | undefined): ProposedContext[] {
  const storedByClass = new Map<string, Set<string>>();
  for (const i of instances) {
    let set = storedByClass.get(i.sopClassUid);
    if (!set) storedByClass.set(i.sopClassUid, (set = new Set()));
    set.add(i.transferSyntaxUid);
  }
  const out: ProposedContext[] = [];
  for (const [abstractSyntax, stored] of storedByClass) {
    const forClass: ProposedContext[] = [...stored].map((ts) => ({ abstractSyntax, transferSyntaxes: [ts] }));
    const convertible = [...stored].some((ts) => UNCOMPRESSED_SYNTAXES.some((u) => u !== ts && canConvert(transcoder, ts, u)));
    if (convertible) forClass.push({ abstractSyntax, transferSyntaxes: [...UNCOMPRESSED_SYNTAXES] });
    if (out.length + forClass.length > MAX_PROPOSED_CONTEXTS) break;
    out.push(...forClass);
  }
  return out;
}

export interface StorageContextPick {
  context: NegotiatedContext;
  /** the data set must be converted to the context's syntax */
  transcode: boolean;
}

/**
 * The context to send an instance stored in `transferSyntaxUid` on: one accepted with
 * exactly that syntax (the SCP role preferred, for C-GET), else one accepted with an
 * uncompressed syntax the instance can be converted to (Explicit VR LE before Implicit).
 */
export function pickStorageContext(contexts: Iterable<NegotiatedContext>, sopClassUid: string, transferSyntaxUid: string, transcoder?: RetrieveTranscoder): StorageContextPick | undefined {
  const better = (candidate: NegotiatedContext, current: NegotiatedContext | undefined): boolean => !current || (candidate.requestorIsScp && !current.requestorIsScp);
  let exact: NegotiatedContext | undefined;
  const converted = new Map<string, NegotiatedContext>();
  for (const c of contexts) {
    if (c.abstractSyntax !== sopClassUid) continue;
    if (c.transferSyntax === transferSyntaxUid) {
      if (better(c, exact)) exact = c;
    } else if (UNCOMPRESSED_SYNTAXES.includes(c.transferSyntax) && canConvert(transcoder, transferSyntaxUid, c.transferSyntax)) {
      if (better(c, converted.get(c.transferSyntax))) converted.set(c.transferSyntax, c);
    }
  }
  if (exact) return { context: exact, transcode: false };
  for (const ts of UNCOMPRESSED_SYNTAXES) {
    const c = converted.get(ts);
    if (c) return { context: c, transcode: true };
  }
  return undefined;
}

/**
 * The data set (no File Meta) to send on the picked context: the stored bytes, or the
 * instance converted by the transcoder (LE ↔ LE here when there is none).
 */
export async function datasetForContext(part10: Buffer, pick: StorageContextPick, transcoder: RetrieveTranscoder | undefined): Promise<Buffer> {
  const header = splitPart10(part10);
  if (!pick.transcode) return part10.subarray(header.datasetOffset);
  const to = pick.context.transferSyntax;
  if (transcoder) {
    const converted = await transcoder.transcodePart10(part10, to);
    const convertedHeader = splitPart10(converted);
    if (convertedHeader.transferSyntaxUid !== to) throw new Error(`the transcoder produced ${convertedHeader.transferSyntaxUid}, not ${to}`);
    return converted.subarray(convertedHeader.datasetOffset);
  }
  return transcodeLittleEndian(part10.subarray(header.datasetOffset), header.transferSyntaxUid, to);
}

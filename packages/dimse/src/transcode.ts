/**
 * The only transcoding the DIMSE layer does: between implicit and explicit VR little
 * endian, for a retrieve destination that accepted the other uncompressed syntax. Everything
 * else is sent exactly as stored.
 */
import { encodeDataset, parseDicom, toDicomJson } from '@yunying/dicom';

export const IMPLICIT_LE = '1.2.840.10008.1.2';
export const EXPLICIT_LE = '1.2.840.10008.1.2.1';

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

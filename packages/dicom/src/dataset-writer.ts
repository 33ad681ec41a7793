import type { DicomJsonDataset } from './types.ts';
/**
 * Encodes a DICOM JSON data set (no file meta) in implicit or explicit VR little endian.
 * Text is written as UTF-8 and (0008,0005) is set to ISO_IR 192 when any text is not ASCII.
 * Used for C-FIND responses and identifiers.
 */
export function encodeDataset(_dataset: DicomJsonDataset, _transferSyntaxUid: string): Buffer {
  throw new Error('not implemented');
}

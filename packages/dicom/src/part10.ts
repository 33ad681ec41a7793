/**
 * Part 10 framing: split a file into header facts + data set offset without parsing the
 * data set, and wrap a bare data set (e.g. received over DIMSE) into a Part 10 file.
 */
import { encodeElement } from './dataset-writer.ts';
import { DicomParseError } from './errors.ts';
import { guessTransferSyntax, readFileMeta } from './file-meta.ts';

/** Yunying's implementation identity in the File Meta group (PS3.7 D.3.3.2). */
export const IMPLEMENTATION_CLASS_UID = '1.2.826.0.1.3680043.10.1455';
export const IMPLEMENTATION_VERSION_NAME = 'YUNYING_010';

const PREAMBLE_LENGTH = 128;

export interface Part10Header {
  transferSyntaxUid: string;
  /** '' when the File Meta group lacks (0002,0002) */
  sopClassUid: string;
  /** '' when the File Meta group lacks (0002,0003) */
  sopInstanceUid: string;
  /** offset where the data set starts (after preamble, "DICM" and the file meta group) */
  datasetOffset: number;
}

/**
 * Reads only the preamble and file meta of a Part 10 file. Throws DicomParseError.
 * A missing (0002,0010) is guessed from the first data set element, as parseDicom does.
 */
export function splitPart10(bytes: Uint8Array): Part10Header {
  const meta = readFileMeta(bytes);
  if (!meta) throw new DicomParseError('not a DICOM Part 10 file: no "DICM" after a 128-byte preamble');
  return {
    transferSyntaxUid: meta.transferSyntaxUid ?? guessTransferSyntax(bytes, meta.datasetOffset),
    sopClassUid: meta.sopClassUid ?? '',
    sopInstanceUid: meta.sopInstanceUid ?? '',
    datasetOffset: meta.datasetOffset,
  };
}

function textValue(text: string, pad: number): Buffer {
  const bytes = Buffer.from(text, 'latin1');
  return bytes.length % 2 === 0 ? bytes : Buffer.concat([bytes, Buffer.from([pad])]);
}

/** Prepends a 128-byte preamble, "DICM" and a file meta group to a bare data set. */
export function buildPart10(dataset: Uint8Array, header: { transferSyntaxUid: string; sopClassUid: string; sopInstanceUid: string; sourceAeTitle?: string }): Buffer {
  return Buffer.concat([buildPart10Header(header), dataset]);
}

/**
 * The preamble, "DICM" and file meta group alone: buildPart10 without copying the data set,
 * for writers that can write the two pieces separately (writev).
 */
export function buildPart10Header(header: { transferSyntaxUid: string; sopClassUid: string; sopInstanceUid: string; sourceAeTitle?: string }): Buffer {
  const uid = (tag: number, value: string) => encodeElement(tag, 'UI', textValue(value, 0), true);
  const elements = [
    encodeElement(0x00020001, 'OB', Buffer.from([0x00, 0x01]), true),
    uid(0x00020002, header.sopClassUid),
    uid(0x00020003, header.sopInstanceUid),
    uid(0x00020010, header.transferSyntaxUid),
    uid(0x00020012, IMPLEMENTATION_CLASS_UID),
    encodeElement(0x00020013, 'SH', textValue(IMPLEMENTATION_VERSION_NAME, 0x20), true),
  ];
  if (header.sourceAeTitle) elements.push(encodeElement(0x00020016, 'AE', textValue(header.sourceAeTitle, 0x20), true));
  const body = Buffer.concat(elements);
  const groupLength = Buffer.alloc(4);
  groupLength.writeUInt32LE(body.length);
  return Buffer.concat([
    Buffer.alloc(PREAMBLE_LENGTH),
    Buffer.from('DICM', 'latin1'),
    encodeElement(0x00020000, 'UL', groupLength, true),
    body,
  ]);
}

export interface Part10Header {
  transferSyntaxUid: string;
  sopClassUid: string;
  sopInstanceUid: string;
  /** offset where the data set starts (after preamble, "DICM" and the file meta group) */
  datasetOffset: number;
}
/** Reads only the preamble and file meta of a Part 10 file. Throws DicomParseError. */
export function splitPart10(_bytes: Uint8Array): Part10Header {
  throw new Error('not implemented');
}
/** Prepends a 128-byte preamble, "DICM" and a file meta group to a bare data set. */
export function buildPart10(_dataset: Uint8Array, _header: { transferSyntaxUid: string; sopClassUid: string; sopInstanceUid: string; sourceAeTitle?: string }): Buffer {
  throw new Error('not implemented');
}

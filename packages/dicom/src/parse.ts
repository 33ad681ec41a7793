// STUB: to be implemented (see index.ts contract)
export class DicomParseError extends Error {
  constructor(message: string) { super(message); this.name = 'DicomParseError'; }
}
export interface ParseOptions {
  /** parse a bare data set (no preamble / file meta) encoded in this transfer syntax (DIMSE) */
  transferSyntaxUid?: string;
  /** stop before (7FE0,0010) Pixel Data: enough for indexing and much faster */
  untilPixelData?: boolean;
}
/** A parsed data set. Holds a reference to the bytes; pixel data is never decoded. */
export interface ParsedDicom {
  transferSyntaxUid: string;
  /** the file meta information group as DICOM JSON, when the input was Part 10 */
  meta?: Record<string, { vr: string; Value?: unknown[] }>;
  /** offset of the data set (after file meta) in the input bytes */
  datasetOffset: number;
  /** the underlying dicom-parser DataSet, for the helpers of this package */
  readonly raw: unknown;
  readonly bytes: Uint8Array;
}
export function parseDicom(_bytes: Uint8Array, _options: ParseOptions = {}): ParsedDicom {
  throw new DicomParseError('not implemented');
}

import type { DicomJsonDataset } from './types.ts';
import type { ParsedDicom } from './parse.ts';
export interface DicomJsonOptions {
  /** binary values (OB/OW/OF/OD/OL/OV/UN and Pixel Data) larger than this many bytes get a BulkDataURI instead of InlineBinary */
  inlineBinaryMaxBytes?: number;
  /** builds the BulkDataURI for a binary element; tagPath like "7FE00010" or "00540016/0/00181072" */
  bulkDataUri?: (tagPath: string) => string;
  /** leave out binary elements entirely (e.g. C-FIND identifiers) */
  omitBinary?: boolean;
}
/** The whole data set as PS3.18 F.2 DICOM JSON, text decoded from its Specific Character Set to UTF-8. */
export function toDicomJson(_parsed: ParsedDicom, _options: DicomJsonOptions = {}): DicomJsonDataset {
  throw new Error('not implemented');
}

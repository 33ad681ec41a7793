import type { IndexAttributes } from './types.ts';
import type { ParsedDicom } from './parse.ts';
/** Throws DicomParseError when a required UID (SOP Class/Instance, Study, Series) is missing. */
export function readIndexAttributes(_parsed: ParsedDicom): IndexAttributes {
  throw new Error('not implemented');
}

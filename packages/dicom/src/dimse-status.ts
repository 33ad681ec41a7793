/**
 * DIMSE status codes (PS3.7 Annex C, PS3.4): plain data at the bottom layer, so the DIMSE
 * package, the server's error catalog and the web app (which bundles that catalog) share one table.
 */
export const DIMSE_STATUS = {
  SUCCESS: 0x0000,
  PENDING: 0xff00,
  PENDING_WARNING: 0xff01,
  CANCEL: 0xfe00,
  WARNING_SUBOPS_FAILED: 0xb000,
  WARNING_COERCION: 0xb000,
  /** DIMSE-N (N-SET): an attribute value is out of range or not allowed */
  INVALID_ATTRIBUTE_VALUE: 0x0106,
  PROCESSING_FAILURE: 0x0110,
  /** DIMSE-N (N-CREATE): Duplicate SOP Instance; not a C-STORE status (see SOP_INSTANCE_CONFLICT) */
  DUPLICATE_SOP_INSTANCE: 0x0111,
  /** DIMSE-N: the SOP Instance named is not known */
  NO_SUCH_SOP_INSTANCE: 0x0112,
  /** DIMSE-N (N-CREATE): a required attribute is missing */
  MISSING_ATTRIBUTE: 0x0120,
  NO_SUCH_SOP_CLASS: 0x0118,
  SOP_CLASS_NOT_SUPPORTED: 0x0122,
  /** PS3.7 C.5.x: Refused, not authorized */
  NOT_AUTHORIZED: 0x0124,
  UNRECOGNIZED_OPERATION: 0x0211,
  OUT_OF_RESOURCES: 0xa700,
  /** C-MOVE: Refused, out of resources, unable to perform sub-operations */
  OUT_OF_RESOURCES_SUBOPS: 0xa702,
  MOVE_DESTINATION_UNKNOWN: 0xa801,
  DATASET_DOES_NOT_MATCH_SOP_CLASS: 0xa900,
  IDENTIFIER_DOES_NOT_MATCH_SOP_CLASS: 0xa900,
  CANNOT_UNDERSTAND: 0xc000,
  /**
   * C-STORE, Error "Cannot understand" range C000–CFFF (PS3.4 Table B.2-1): another object is
   * stored under this SOP Instance UID in another study or series, so this one is refused
   * (docs/adr/0002-duplicate-sop-instances.md); the Error Comment says so
   */
  SOP_INSTANCE_CONFLICT: 0xc111,
  UNABLE_TO_PROCESS: 0xc001,
} as const;

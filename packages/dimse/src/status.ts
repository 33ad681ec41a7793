/** DIMSE status codes (PS3.7 Annex C, PS3.4) and how a handler's error becomes one. */

export const DIMSE_STATUS = {
  SUCCESS: 0x0000,
  PENDING: 0xff00,
  PENDING_WARNING: 0xff01,
  CANCEL: 0xfe00,
  WARNING_SUBOPS_FAILED: 0xb000,
  WARNING_COERCION: 0xb000,
  PROCESSING_FAILURE: 0x0110,
  DUPLICATE_SOP_INSTANCE: 0x0111,
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
  UNABLE_TO_PROCESS: 0xc001,
} as const;

/**
 * An error a handler throws to answer with a given status. Any error with a numeric
 * `dimseStatus` counts (duck-typed: the server's YunyingError, a second copy of this module).
 */
export class DimseStatusError extends Error {
  readonly dimseStatus: number;

  constructor(dimseStatus: number, message: string) {
    super(message);
    this.dimseStatus = dimseStatus;
    this.name = 'DimseStatusError';
  }
}

const MAX_COMMENT = 64;

/** An Error Comment (0000,0902): LO, ASCII, no backslash, at most 64 characters. */
export function errorComment(text: string | undefined): string | undefined {
  if (!text) return undefined;
  const clean = text.replace(/[^\x20-\x7e]/g, '?').replace(/\\/g, '/');
  return clean.length > MAX_COMMENT ? `${clean.slice(0, MAX_COMMENT - 3)}...` : clean;
}

interface ErrorLike {
  dimseStatus?: unknown;
  message?: unknown;
}

/** A handler's error → status and comment; `known` is false for errors that carry no status (logged as failures). */
export function statusOfError(err: unknown): { status: number; errorComment: string; known: boolean } {
  const e = err as ErrorLike;
  if (e && typeof e === 'object' && typeof e.dimseStatus === 'number') {
    return { status: e.dimseStatus, errorComment: errorComment(String(e.message ?? '')) ?? '', known: true };
  }
  return { status: DIMSE_STATUS.PROCESSING_FAILURE, errorComment: 'Internal error', known: false };
}

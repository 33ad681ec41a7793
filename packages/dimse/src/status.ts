/** DIMSE status codes (PS3.7 Annex C, PS3.4; the table is @yunying/dicom's) and how a handler's error becomes one. */
import { DIMSE_STATUS } from '@yunying/dicom/dimse-status';

export { DIMSE_STATUS };

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

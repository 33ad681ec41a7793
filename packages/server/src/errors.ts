/**
 * The one error type of the platform. Protocol layers translate it: HTTP routes
 * answer `httpStatus` with `{ code, message }`, DIMSE services answer `dimseStatus`
 * with `message` as the Error Comment.
 */
export class YunyingError extends Error {
  readonly code: string;
  readonly httpStatus: number;
  readonly dimseStatus: number;
  readonly retryAfterSeconds?: number;
  constructor(
    code: string,
    message: string,
    httpStatus: number,
    dimseStatus: number = DIMSE_STATUS.PROCESSING_FAILURE,
    /** for 429 and 503: when the client may try again (Retry-After) */
    retryAfterSeconds?: number,
  ) {
    super(message);
    this.code = code;
    this.httpStatus = httpStatus;
    this.dimseStatus = dimseStatus;
    this.retryAfterSeconds = retryAfterSeconds;
    this.name = 'YunyingError';
  }

  /** machine-readable particulars HTTP answers carry next to code and message (e.g. which password rule failed) */
  details?: Record<string, string | number>;
}

/** DIMSE status codes used across services (PS3.7 Annex C, PS3.4). */
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
  /** PS3.7 C.5.x: Refused, not authorized */
  NOT_AUTHORIZED: 0x0124,
  OUT_OF_RESOURCES: 0xa700,
  MOVE_DESTINATION_UNKNOWN: 0xa801,
  DATASET_DOES_NOT_MATCH_SOP_CLASS: 0xa900,
  IDENTIFIER_DOES_NOT_MATCH_SOP_CLASS: 0xa900,
  CANNOT_UNDERSTAND: 0xc000,
  UNABLE_TO_PROCESS: 0xc001,
} as const;

export const notFound = (what: string): YunyingError =>
  new YunyingError('NOT_FOUND', `${what} not found`, 404, DIMSE_STATUS.UNABLE_TO_PROCESS);

export const badRequest = (code: string, message: string): YunyingError =>
  new YunyingError(code, message, 400, DIMSE_STATUS.CANNOT_UNDERSTAND);

export const notImplemented = (what: string): YunyingError =>
  new YunyingError('NOT_IMPLEMENTED', `${what} is not implemented`, 501, DIMSE_STATUS.UNABLE_TO_PROCESS);

export const forbidden = (message: string): YunyingError => new YunyingError('FORBIDDEN', message, 403, DIMSE_STATUS.NOT_AUTHORIZED);

export const unauthorized = (message = 'authentication required'): YunyingError => new YunyingError('UNAUTHORIZED', message, 401, DIMSE_STATUS.NOT_AUTHORIZED);

export const conflict = (code: string, message: string): YunyingError => new YunyingError(code, message, 409, DIMSE_STATUS.PROCESSING_FAILURE);

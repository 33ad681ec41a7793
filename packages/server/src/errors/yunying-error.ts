import { dimseStatusOf, ERROR_CATALOG, type ErrorCode, type ErrorCodeWithStatus } from './catalog.ts';

export interface YunyingErrorOptions {
  /** for 429 and 503: when the client may try again (Retry-After) */
  retryAfterSeconds?: number;
  /** machine-readable particulars HTTP answers carry next to code and message */
  details?: Record<string, string | number>;
  cause?: unknown;
}

/**
 * The one error type of the platform. Its code is one of the catalog (catalog.ts), which
 * also gives its HTTP and DIMSE status; protocol layers translate it: HTTP routes answer
 * `httpStatus` with `{ code, message }` (http-errors.ts), DIMSE services answer
 * `dimseStatus` with `message` as the Error Comment.
 */
export class YunyingError extends Error {
  readonly code: ErrorCode;
  readonly httpStatus: number;
  readonly dimseStatus: number;
  readonly retryAfterSeconds?: number;
  /** machine-readable particulars HTTP answers carry next to code and message (e.g. which password rule failed) */
  details?: Record<string, string | number>;

  /** `message`: what happened here, in English (which study, which parameter); the catalog's text when omitted */
  constructor(code: ErrorCode, message: string = ERROR_CATALOG[code].en, options: YunyingErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'YunyingError';
    this.code = code;
    this.httpStatus = ERROR_CATALOG[code].http;
    this.dimseStatus = dimseStatusOf(code);
    if (options.retryAfterSeconds !== undefined) this.retryAfterSeconds = options.retryAfterSeconds;
    if (options.details !== undefined) this.details = options.details;
  }
}

export const notFound = (what: string): YunyingError => new YunyingError('NOT_FOUND', `${what} not found`);

export const badRequest = (code: ErrorCodeWithStatus<400>, message: string): YunyingError => new YunyingError(code, message);

export const notImplemented = (what: string): YunyingError => new YunyingError('NOT_IMPLEMENTED', `${what} is not implemented`);

export const forbidden = (message: string): YunyingError => new YunyingError('FORBIDDEN', message);

export const unauthorized = (message = 'authentication required'): YunyingError => new YunyingError('UNAUTHORIZED', message);

export const conflict = (code: ErrorCodeWithStatus<409>, message: string): YunyingError => new YunyingError(code, message);

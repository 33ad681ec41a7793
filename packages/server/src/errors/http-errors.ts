/**
 * The one HTTP error handler: whatever a route or hook threw becomes a status, a catalog code
 * and a message, decided here for every interface (REST API, DICOMweb, WADO-URI, FHIR). The
 * interfaces differ only in how they write the answer: JSON `{ code, message, details? }` by
 * default, an OperationOutcome under /fhir/r4 (createErrorHandler's `send`).
 */
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { DicomParseError } from '@yunying/dicom';
import { ERROR_CATALOG, type ErrorCode } from './catalog.ts';
import { YunyingError } from './yunying-error.ts';

export interface HttpErrorAnswer {
  status: number;
  code: ErrorCode;
  message: string;
  details?: Record<string, string | number>;
  retryAfterSeconds?: number;
  /** the cause is ours, not the client's: worth a log line */
  internal: boolean;
}

/** The catalog code for a status an HTTP-layer error (Fastify's own: body too large, bad JSON, schema) carries. */
const FRAMEWORK_CODES: Readonly<Record<number, ErrorCode>> = {
  401: 'UNAUTHORIZED',
  403: 'FORBIDDEN',
  404: 'NOT_FOUND',
  406: 'NOT_ACCEPTABLE',
  413: 'PAYLOAD_TOO_LARGE',
  415: 'UNSUPPORTED_MEDIA_TYPE',
};

/** Any thrown value → the answer; the text of an internal error is not revealed. */
export function httpErrorAnswer(error: unknown): HttpErrorAnswer {
  if (error instanceof YunyingError) {
    return {
      status: error.httpStatus,
      code: error.code,
      message: error.message,
      ...(error.details ? { details: error.details } : {}),
      ...(error.retryAfterSeconds !== undefined ? { retryAfterSeconds: error.retryAfterSeconds } : {}),
      internal: error.httpStatus >= 500 && error.httpStatus !== 501,
    };
  }
  // Request bodies are parsed per part (STOW) into YunyingErrors: a parse error that escapes is a stored object we cannot read as asked.
  if (error instanceof DicomParseError) return { status: 500, code: 'INVALID_STORED_OBJECT', message: `the stored object cannot be read: ${error.message}`, internal: true };
  const statusCode = (error as FastifyError | undefined)?.statusCode;
  if (typeof statusCode === 'number' && statusCode >= 400 && statusCode < 500) {
    // the HTTP layer's status stands (a 413 stays a 413); its code becomes the catalog's
    return { status: statusCode, code: FRAMEWORK_CODES[statusCode] ?? 'BAD_REQUEST', message: error instanceof Error ? error.message : String(error), internal: false };
  }
  return { status: 500, code: 'INTERNAL_ERROR', message: ERROR_CATALOG.INTERNAL_ERROR.en, internal: true };
}

export interface ErrorHandlerOptions {
  /** what a 401 tells the client about how to authenticate (RFC 9110 §11.6.1), e.g. `Basic realm="…"` */
  wwwAuthenticate?: string;
  /** writes the answer in the interface's own format; default JSON `{ code, message, details? }` */
  send?: (request: FastifyRequest, reply: FastifyReply, answer: HttpErrorAnswer) => FastifyReply;
}

export type HttpErrorHandler = (error: unknown, request: FastifyRequest, reply: FastifyReply) => FastifyReply;

export function createErrorHandler(options: ErrorHandlerOptions = {}): HttpErrorHandler {
  const send = options.send ?? sendJsonError;
  return (error, request, reply) => {
    const answer = httpErrorAnswer(error);
    if (answer.internal) request.log.error({ err: error }, 'request failed');
    if (answer.retryAfterSeconds !== undefined) reply.header('Retry-After', String(answer.retryAfterSeconds));
    if (answer.status === 401 && options.wwwAuthenticate && !reply.hasHeader('WWW-Authenticate')) reply.header('WWW-Authenticate', options.wwwAuthenticate);
    return send(request, reply, answer);
  };
}

/** The answer body of the REST API and DICOMweb. */
export function errorBody(answer: Pick<HttpErrorAnswer, 'code' | 'message' | 'details'>): { code: ErrorCode; message: string; details?: Record<string, string | number> } {
  return { code: answer.code, message: answer.message, ...(answer.details ? { details: answer.details } : {}) };
}

function sendJsonError(_request: FastifyRequest, reply: FastifyReply, answer: HttpErrorAnswer): FastifyReply {
  return reply.status(answer.status).type('application/json; charset=utf-8').send(errorBody(answer));
}

/** The handler of the whole server (app.ts); DICOMweb and FHIR set their own variant on their scopes. */
export const yunyingErrorHandler: HttpErrorHandler = createErrorHandler();

/**
 * Errors as FHIR OperationOutcome (R4 §3.1.0.5): every failure under /fhir/r4 answers one,
 * with the HTTP status of the YunyingError and our stable error code beside the FHIR issue
 * type, so clients can branch on either.
 */
import type { FastifyError } from 'fastify';
import { YunyingError } from '../errors.ts';

export const ERROR_CODE_SYSTEM = 'urn:yunying:error-code';

export interface OperationOutcome {
  resourceType: 'OperationOutcome';
  issue: Array<{
    severity: 'fatal' | 'error' | 'warning' | 'information';
    code: string;
    details: { coding: Array<{ system: string; code: string }>; text: string };
    diagnostics?: string;
  }>;
}

/** FHIR IssueType (http://hl7.org/fhir/issue-type) for an HTTP status. */
function issueType(httpStatus: number): string {
  switch (httpStatus) {
    case 400: return 'invalid';
    case 401: return 'login';
    case 403: return 'forbidden';
    case 404: return 'not-found';
    case 405:
    case 406:
    case 415:
    case 501: return 'not-supported';
    case 409: return 'conflict';
    case 410: return 'deleted';
    case 413: return 'too-costly';
    case 429: return 'throttled';
    default: return httpStatus >= 500 ? 'exception' : 'processing';
  }
}

export function operationOutcome(httpStatus: number, code: string, text: string): OperationOutcome {
  return {
    resourceType: 'OperationOutcome',
    issue: [{ severity: 'error', code: issueType(httpStatus), details: { coding: [{ system: ERROR_CODE_SYSTEM, code }], text } }],
  };
}

export interface ErrorAnswer {
  httpStatus: number;
  outcome: OperationOutcome;
  /** true when the cause is ours, not the client's: worth a log line */
  internal: boolean;
}

/** Any error a route or hook threw → status and OperationOutcome; internals are not revealed. */
export function answerForError(error: unknown): ErrorAnswer {
  if (error instanceof YunyingError) {
    return { httpStatus: error.httpStatus, outcome: operationOutcome(error.httpStatus, error.code, error.message), internal: error.httpStatus >= 500 && error.httpStatus !== 501 };
  }
  const statusCode = (error as FastifyError | undefined)?.statusCode;
  if (typeof statusCode === 'number' && statusCode >= 400 && statusCode < 500) {
    const code = statusCode === 413 ? 'PAYLOAD_TOO_LARGE' : statusCode === 415 ? 'UNSUPPORTED_MEDIA_TYPE' : 'BAD_REQUEST';
    return { httpStatus: statusCode, outcome: operationOutcome(statusCode, code, (error as Error).message), internal: false };
  }
  return { httpStatus: 500, outcome: operationOutcome(500, 'INTERNAL_ERROR', 'internal error'), internal: true };
}

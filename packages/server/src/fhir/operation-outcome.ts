/**
 * Errors as FHIR OperationOutcome (R4 §3.1.0.5): every failure under /fhir/r4 answers one,
 * with the HTTP status of the YunyingError and our stable error code beside the FHIR issue
 * type, so clients can branch on either.
 */
import type { HttpErrorAnswer } from '../errors/http-errors.ts';

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

/** An answer of the one error handler (errors/http-errors.ts) as the OperationOutcome FHIR clients expect. */
export function outcomeOfAnswer(answer: Pick<HttpErrorAnswer, 'status' | 'code' | 'message'>): OperationOutcome {
  return operationOutcome(answer.status, answer.code, answer.message);
}

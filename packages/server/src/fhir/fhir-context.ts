/**
 * What the FHIR routes share: options, the caller of a request (resolved once in an
 * onRequest hook), the negotiated media type and absolute URLs.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ArchiveService } from '../archive/archive-service.ts';
import type { Caller } from '../access/caller.ts';
import type { DiagnosticReportSource } from './report-source.ts';
import { badRequest, unauthorized, YunyingError } from '../errors.ts';
import { parseAccept, typeMatches } from '../dicomweb/media-types.ts';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** a FHIR route that answers another media type itself (the report PDF): no JSON negotiation */
    fhirBinary?: boolean;
  }
}

export interface FhirOptions {
  archive: ArchiveService;
  /** throws YunyingError (401, 403) when the request may not come in */
  resolveCaller(request: FastifyRequest): Promise<Caller>;
  /** e.g. "https://pacs.example.org"; fullUrl and endpoint addresses are built from it; default: from the request's Host */
  publicBaseUrl?: string;
  /**
   * UTC offset of StudyDate/StudyTime, which DICOM records in local time without a zone,
   * while FHIR dateTime with a time must carry one [+08:00, China Standard Time, no DST].
   */
  timeZoneOffset?: string;
  /** signed reports for DiagnosticReport; without it DiagnosticReport answers 501 */
  diagnosticReports?: DiagnosticReportSource;
  /** Patients of the regional patient index (ids "psn-…", recognition/); without it only per-identity Patients exist */
  personPatients?: PersonPatientSource;
}

/** A person of the regional patient index as a FHIR Patient, or undefined when the caller may not see it or it does not exist. */
export type PersonPatientSource = (caller: Caller, personId: string) => Promise<Record<string, unknown> | undefined>;

export const FHIR_JSON = 'application/fhir+json';
const PLAIN_JSON = 'application/json';

/** _format values meaning JSON (R4 §3.1.0.1.10); "+" arrives as a space when not percent-encoded. */
const JSON_FORMATS = new Set(['json', FHIR_JSON, 'application/fhir json', PLAIN_JSON, 'application/json+fhir', 'application/json fhir']);

export class FhirContext {
  readonly archive: ArchiveService;
  readonly timeZoneOffset: string;
  private readonly callers = new WeakMap<FastifyRequest, Caller>();
  private readonly mediaTypes = new WeakMap<FastifyRequest, string>();

  readonly options: FhirOptions;
  constructor(options: FhirOptions) {
    this.options = options;
    this.archive = options.archive;
    this.timeZoneOffset = options.timeZoneOffset ?? '+08:00';
  }

  async authenticate(request: FastifyRequest): Promise<void> {
    const caller = await this.options.resolveCaller(request);
    // The resolver serves every HTTP interface; the audit trail must say this one.
    this.callers.set(request, { ...caller, via: 'fhir' });
  }

  callerOf(request: FastifyRequest): Caller {
    const caller = this.callers.get(request);
    if (!caller) throw unauthorized();
    return caller;
  }

  /**
   * Picks the response media type from _format, else Accept; 406 for anything but JSON.
   * A route answering something else itself (the report PDF) says so with `config: { fhirBinary: true }`.
   */
  negotiate(request: FastifyRequest): void {
    if (request.routeOptions.config?.fhirBinary) return;
    const format = (request.query as Record<string, unknown> | undefined)?._format;
    if (format !== undefined) {
      const text = String(Array.isArray(format) ? format[0] : format).trim().toLowerCase();
      if (!JSON_FORMATS.has(text)) throw new YunyingError('NOT_ACCEPTABLE', `_format ${text} is not supported: this server answers JSON only`);
      this.mediaTypes.set(request, FHIR_JSON);
      return;
    }
    const type = negotiateJson(request.headers.accept);
    if (!type) throw new YunyingError('NOT_ACCEPTABLE', `this server answers ${FHIR_JSON} (or ${PLAIN_JSON}) only`);
    this.mediaTypes.set(request, type);
  }

  /** Sends a resource with the negotiated media type (FHIR JSON when negotiation failed). */
  send(request: FastifyRequest, reply: FastifyReply, status: number, body: unknown): FastifyReply {
    const type = this.mediaTypes.get(request) ?? FHIR_JSON;
    return reply.code(status).type(`${type}; charset=utf-8`).send(JSON.stringify(body));
  }

  /**
   * The request body as a JSON object (the scope takes every body as bytes): 400 when it is
   * missing or not JSON, 415 for a media type other than FHIR JSON or JSON.
   */
  jsonBody(request: FastifyRequest): Record<string, unknown> {
    const type = String(request.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    if (type && type !== FHIR_JSON && type !== PLAIN_JSON && type !== 'application/json+fhir') {
      throw new YunyingError('UNSUPPORTED_MEDIA_TYPE', `send ${FHIR_JSON}, not ${type}`);
    }
    const body = request.body;
    const text = Buffer.isBuffer(body) ? body.toString('utf8') : typeof body === 'string' ? body : '';
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw badRequest('INVALID_RESOURCE', 'the body is not a JSON resource');
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw badRequest('INVALID_RESOURCE', 'the body is not a JSON resource');
    return parsed as Record<string, unknown>;
  }

  origin(request: FastifyRequest): string {
    return this.options.publicBaseUrl?.replace(/\/+$/, '') ?? `${request.protocol}://${request.host}`;
  }

  /** "http://host/fhir/r4" */
  fhirBase(request: FastifyRequest): string {
    return `${this.origin(request)}/fhir/r4`;
  }

  dicomWebBase(request: FastifyRequest): string {
    return `${this.origin(request)}/dicom-web`;
  }
}

/** A client asking only for plain JSON gets it labelled so; otherwise FHIR JSON. */
function negotiateJson(accept: string | string[] | undefined): string | undefined {
  for (const range of parseAccept(accept)) {
    if (range.type === 'application/json+fhir') return FHIR_JSON; // the DSTU2 name, still sent by some clients
    if (typeMatches(range.type, FHIR_JSON)) return FHIR_JSON;
    if (typeMatches(range.type, PLAIN_JSON)) return PLAIN_JSON;
  }
  return undefined;
}

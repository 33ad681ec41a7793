import type { FastifyInstance, FastifyRequest } from 'fastify';
import { badRequest, notFound } from '../errors.ts';
import type { ReportDocument } from '../reports/report-document.ts';
import { searchsetBundle } from './bundle.ts';
import { isReportOf, reportIdSystem, reportNumberSystem, toDiagnosticReport } from './diagnostic-report.ts';
import type { FhirContext } from './fhir-context.ts';
import type { DiagnosticReportSource } from './report-source.ts';
import { decodePatientId } from './patient-id.ts';
import type { FhirSearchParam } from './resource-registry.ts';
import { alternatives, parseSearch, parseToken, singleValue, type ParsedSearch, type QueryParams } from './search-params.ts';

export type { DiagnosticReportSource } from './report-source.ts';

export const DIAGNOSTIC_REPORT_SEARCH_PARAMETERS: readonly FhirSearchParam[] = [
  { name: '_id', type: 'token', documentation: 'the report id' },
  { name: 'identifier', type: 'token', documentation: '<base>/report-numbers|<报告编号> (the number printed on the report), <base>/api/v1/reports|<report id>, or a value alone (either)' },
  { name: 'study', type: 'reference', documentation: 'ImagingStudy/<Study Instance UID>' },
  { name: 'patient', type: 'reference', documentation: 'Patient/<id>' },
  { name: 'subject', type: 'reference', documentation: 'Patient/<id>' },
  { name: 'status', type: 'token', documentation: 'final or amended (comma for either), with one of _id, identifier, study or patient' },
];
const SUPPORTED = DIAGNOSTIC_REPORT_SEARCH_PARAMETERS.map((p) => p.name);
const REPORT_ID = /^[A-Za-z0-9.-]{1,64}$/;
const STATUSES = ['final', 'amended'] as const;
const STATUS_SYSTEM = 'http://hl7.org/fhir/diagnostic-report-status';

/** GET /DiagnosticReport/{id}, GET /DiagnosticReport?…, and GET /DiagnosticReport/{id}/pdf (presentedForm.url). */
export function registerDiagnosticReportRoutes(app: FastifyInstance, ctx: FhirContext, source: DiagnosticReportSource): void {
  const baseUrl = (request: FastifyRequest) => ctx.origin(request);
  // A report is clinical content: a role without patient access gets 403 before any lookup or
  // parameter check, so it learns nothing (issue 12, finding 2).
  const config = { permission: 'patients:read' } as const;

  app.get<{ Params: { id: string } }>('/DiagnosticReport/:id', { config }, async (request, reply) => {
    const caller = ctx.callerOf(request);
    const document = REPORT_ID.test(request.params.id) ? await source.read(caller, request.params.id) : undefined;
    if (!document) throw notFound('DiagnosticReport');
    return ctx.send(request, reply, 200, toDiagnosticReport(document, baseUrl(request), { timeZoneOffset: ctx.timeZoneOffset }));
  });

  // The printable report with the FHIR credentials (Bearer or Basic): the link a
  // DiagnosticReport's presentedForm gives. Scoped and audited (study.exported) like the REST PDF.
  app.get<{ Params: { id: string } }>('/DiagnosticReport/:id/pdf', { config: { ...config, fhirBinary: true } }, async (request, reply) => {
    const caller = ctx.callerOf(request);
    const pdf = REPORT_ID.test(request.params.id) && source.pdf ? await source.pdf(caller, request.params.id) : undefined;
    if (!pdf) throw notFound('DiagnosticReport');
    return reply
      .type('application/pdf')
      .header('Content-Disposition', `inline; filename="${pdf.filename}"`)
      .header('Cache-Control', 'private, no-store')
      .send(pdf.bytes);
  });

  app.get('/DiagnosticReport', { config }, async (request, reply) => {
    const caller = ctx.callerOf(request);
    const search = parseSearch(request.query as QueryParams, 'DiagnosticReport', SUPPORTED);
    const statuses = statusesOf(search);
    const found = await findReports(source, caller, search, baseUrl(request));
    // status: a signed report is final, one with an addendum amended (toDiagnosticReport decides)
    const resources = found
      .map((document) => toDiagnosticReport(document, baseUrl(request), { timeZoneOffset: ctx.timeZoneOffset }))
      .filter((resource) => !statuses || statuses.includes(resource.status));
    const page = resources.slice(search.offset, search.offset + search.count);
    return ctx.send(request, reply, 200, searchsetBundle(ctx, request, page, search, { total: resources.length }));
  });
}

type Caller = Parameters<DiagnosticReportSource['read']>[0];

/** The reports the search's one selecting parameter names, visible to the caller. */
async function findReports(source: DiagnosticReportSource, caller: Caller, search: ParsedSearch, base: string): Promise<ReportDocument[]> {
  const id = singleValue(search, '_id');
  const identifier = singleValue(search, 'identifier');
  const study = singleValue(search, 'study')?.replace(/^(?:.*\/)?ImagingStudy\//, '');
  const patientReference = (singleValue(search, 'patient') ?? singleValue(search, 'subject'))?.replace(/^(?:.*\/)?Patient\//, '');
  if (id) return readAll(source, caller, alternatives(id));
  if (identifier) return byIdentifier(source, caller, identifier, base);
  if (study) return source.search(caller, { studyInstanceUid: study });
  if (patientReference) {
    const reference = decodePatientId(patientReference);
    // the source finds the Patient ID; the identity (issuer, issuing institution) picks this patient's
    return reference === undefined ? [] : source.search(caller, { patientId: reference.patientId, ofPatient: (document) => isReportOf(document, reference) });
  }
  throw badRequest('SEARCH_TOO_BROAD', 'search DiagnosticReport by _id, identifier, study or patient (status narrows one of them)');
}

async function readAll(source: DiagnosticReportSource, caller: Caller, ids: readonly string[]): Promise<ReportDocument[]> {
  const documents = await Promise.all([...new Set(ids)].filter((id) => REPORT_ID.test(id)).map((id) => source.read(caller, id)));
  return documents.filter((d): d is ReportDocument => d !== undefined);
}

/**
 * identifier: the systems DiagnosticReport.identifier carries (report numbers, report ids,
 * on this server's base URL); a value alone is either. Another system is a 400: answering
 * nothing would look like "no such report".
 */
async function byIdentifier(source: DiagnosticReportSource, caller: Caller, text: string, base: string): Promise<ReportDocument[]> {
  const ids: string[] = [];
  const numbers: string[] = [];
  for (const token of alternatives(text).map(parseToken)) {
    if (token.system === reportNumberSystem(base)) numbers.push(token.code);
    else if (token.system === reportIdSystem(base)) ids.push(token.code);
    else if (token.system === undefined) {
      numbers.push(token.code);
      ids.push(token.code);
    } else if (token.system !== '') {
      throw badRequest('INVALID_SEARCH_PARAMETER', `identifier system "${token.system}" is not one of this server's (${reportNumberSystem(base)}, ${reportIdSystem(base)})`);
    }
  }
  const byNumber = numbers.length ? await source.search(caller, { reportNumbers: numbers }) : [];
  const byId = await readAll(source, caller, ids.filter((id) => !byNumber.some((d) => d.reportId === id)));
  return [...byNumber, ...byId];
}

function statusesOf(search: ParsedSearch): string[] | undefined {
  const text = singleValue(search, 'status');
  if (text === undefined) return undefined;
  return alternatives(text).map(parseToken).map((token) => {
    if (token.system && token.system !== STATUS_SYSTEM) throw badRequest('INVALID_SEARCH_PARAMETER', `status system "${token.system}" is not ${STATUS_SYSTEM}`);
    // registered, partial, preliminary … are valid codes no report here has: they match nothing
    if (!/^[a-z-]{1,32}$/.test(token.code)) throw badRequest('INVALID_SEARCH_PARAMETER', `"${token.code}" is not a DiagnosticReport status (${STATUSES.join(', ')}, …)`);
    return token.code;
  });
}

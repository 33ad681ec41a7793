import type { FastifyInstance, FastifyRequest } from 'fastify';
import { badRequest, notFound } from '../errors.ts';
import type { ReportDocument } from '../reports/report-document.ts';
import { searchsetBundle } from './bundle.ts';
import { isReportOf, toDiagnosticReport } from './diagnostic-report.ts';
import type { FhirContext } from './fhir-context.ts';
import type { DiagnosticReportSource } from './report-source.ts';
import { decodePatientId } from './patient-id.ts';
import { parseSearch, singleValue, type QueryParams } from './search-params.ts';

export type { DiagnosticReportSource } from './report-source.ts';

const SUPPORTED = ['_id', 'study', 'patient', 'subject'] as const;
const REPORT_ID = /^[A-Za-z0-9.-]{1,64}$/;

/** GET /DiagnosticReport/{id} and GET /DiagnosticReport?study=…|patient=… */
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

  app.get('/DiagnosticReport', { config }, async (request, reply) => {
    const caller = ctx.callerOf(request);
    const search = parseSearch(request.query as QueryParams, 'DiagnosticReport', SUPPORTED);
    const id = singleValue(search, '_id');
    const study = singleValue(search, 'study')?.replace(/^ImagingStudy\//, '');
    const patientReference = (singleValue(search, 'patient') ?? singleValue(search, 'subject'))?.replace(/^Patient\//, '');
    let documents: ReportDocument[];
    if (id) documents = REPORT_ID.test(id) ? [await source.read(caller, id)].filter((d): d is ReportDocument => d !== undefined) : [];
    else if (study) documents = await source.search(caller, { studyInstanceUid: study });
    else if (patientReference) {
      const reference = decodePatientId(patientReference);
      // the source finds the Patient ID; the identity (issuer, issuing institution) picks this patient's
      documents = reference === undefined ? [] : await source.search(caller, { patientId: reference.patientId, ofPatient: (document) => isReportOf(document, reference) });
    } else throw badRequest('SEARCH_TOO_BROAD', 'search DiagnosticReport by _id, study or patient');
    const page = documents.slice(search.offset, search.offset + search.count);
    const resources = page.map((document) => toDiagnosticReport(document, baseUrl(request), { timeZoneOffset: ctx.timeZoneOffset }));
    return ctx.send(request, reply, 200, searchsetBundle(ctx, request, resources, search, documents.length > search.offset + search.count));
  });
}

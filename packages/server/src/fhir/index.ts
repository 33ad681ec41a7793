/**
 * FHIR R4 façade under /fhir/r4 (design.md): ImagingStudy, Patient and DiagnosticReport, thin
 * over the archive, Subscription for report notifications, and whatever other modules add
 * through the resource registry (resource-registry.ts), which /metadata describes. Every request but /metadata is authenticated first (resolveCaller, once, in an
 * onRequest hook) and every look-up goes through ArchiveService with that caller, so scope
 * applies in the index; what the caller may not see answers exactly like what does not exist.
 * Every failure is an OperationOutcome with the error's HTTP status.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { notFound, notImplemented } from '../errors.ts';
import { registerMetadata } from './capability-statement.ts';
import { FhirContext, type FhirOptions } from './fhir-context.ts';
import { IMAGING_STUDY_SEARCH_PARAMETERS, registerImagingStudy } from './imaging-study-routes.ts';
import { DIAGNOSTIC_REPORT_SEARCH_PARAMETERS, registerDiagnosticReportRoutes } from './diagnostic-report-routes.ts';
import { FhirResourceRegistry } from './resource-registry.ts';
import { outcomeOfAnswer } from './operation-outcome.ts';
import { createErrorHandler } from '../errors/http-errors.ts';
import { enforceRoutePermissions } from '../access/route-permission.ts';
import { PATIENT_SEARCH_PARAMETERS, registerPatient } from './patient.ts';

export type { FhirOptions } from './fhir-context.ts';
export { FhirContext } from './fhir-context.ts';
export { FHIR_RESOURCES, fhirResources, FhirResourceRegistry, type FhirResourceDefinition, type FhirSearchParam } from './resource-registry.ts';
export { searchsetBundle, type Resource } from './bundle.ts';
export { parseSearch, parseToken, singleValue, alternatives, type ParsedSearch, type QueryParams } from './search-params.ts';

export const FHIR_PREFIX = '/fhir/r4';
/** FHIR request bodies (a Subscription, a ServiceRequest) are small resources */
const BODY_LIMIT = 1024 * 1024;
const WRITE_METHODS = ['POST', 'PUT', 'PATCH', 'DELETE'] as const;

/** The one error handler (errors/http-errors.ts), its answer written as an OperationOutcome. */
function errorHandlerFor(ctx: FhirContext) {
  return createErrorHandler({
    // 401 must tell the client how to authenticate (RFC 9110 §11.6.1).
    wwwAuthenticate: 'Bearer realm="Yunying FHIR"',
    send: (request, reply, answer) => ctx.send(request, reply, answer.status, outcomeOfAnswer(answer)),
  });
}

/** Without a report source (tests of the façade alone): an honest 501, never an empty Bundle, and not in /metadata. */
function registerDiagnosticReportRefusals(app: FastifyInstance): void {
  const refuse = async () => {
    throw notImplemented('DiagnosticReport');
  };
  app.get('/DiagnosticReport', refuse);
  app.get('/DiagnosticReport/:id', refuse);
}

/** Writes to a resource that takes none are 501, not 404 (a registered create or delete route wins over these). */
function registerWriteRefusals(app: FastifyInstance): void {
  const refuse = async (request: FastifyRequest) => {
    throw notImplemented(`${request.method} on the FHIR façade`);
  };
  app.route({ method: [...WRITE_METHODS], url: '/:type', handler: refuse });
  app.route({ method: [...WRITE_METHODS], url: '/:type/*', handler: refuse });
}

/** The façade's own resources, into the registry /metadata is built from. */
function addOwnResources(registry: FhirResourceRegistry, options: FhirOptions): void {
  registry.add({ type: 'ImagingStudy', interactions: ['read', 'search-type'], searchParams: IMAGING_STUDY_SEARCH_PARAMETERS, routes: registerImagingStudy });
  registry.add({ type: 'Patient', interactions: ['read', 'search-type'], searchParams: PATIENT_SEARCH_PARAMETERS, routes: registerPatient });
  const reports = options.diagnosticReports;
  if (reports) {
    registry.add({ type: 'DiagnosticReport', interactions: ['read', 'search-type'], searchParams: DIAGNOSTIC_REPORT_SEARCH_PARAMETERS, routes: (scope, ctx) => registerDiagnosticReportRoutes(scope, ctx, reports) });
  }
}

export async function registerFhir(app: FastifyInstance, options: FhirOptions & { resources?: FhirResourceRegistry }): Promise<void> {
  const ctx = new FhirContext(options);
  const registry = options.resources ?? new FhirResourceRegistry();
  addOwnResources(registry, options);
  await app.register(
    async (scope) => {
      scope.setErrorHandler(errorHandlerFor(ctx));
      scope.setNotFoundHandler(async () => {
        throw notFound('FHIR resource');
      });
      scope.addHook('onRequest', async (request) => ctx.negotiate(request));
      // FHIR bodies (application/fhir+json) are not parsed by Fastify; take any as bytes (FhirContext.jsonBody reads them).
      scope.removeAllContentTypeParsers();
      scope.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: BODY_LIMIT }, (_request, body, done) => done(null, body));
      registerMetadata(scope, ctx, registry);
      await scope.register(async (authenticated) => {
        authenticated.addHook('onRequest', async (request) => ctx.authenticate(request));
        enforceRoutePermissions(authenticated, async (request) => ctx.callerOf(request));
        if (!options.diagnosticReports) registerDiagnosticReportRefusals(authenticated);
        registerWriteRefusals(authenticated);
        registry.attach(authenticated, ctx);
      });
    },
    { prefix: FHIR_PREFIX },
  );
}

/**
 * FHIR R4 façade under /fhir/r4 (design.md): ImagingStudy and Patient, read-only, thin over
 * the archive. Every request but /metadata is authenticated first (resolveCaller, once, in an
 * onRequest hook) and every look-up goes through ArchiveService with that caller, so scope
 * applies in the index; what the caller may not see answers exactly like what does not exist.
 * Every failure is an OperationOutcome with the error's HTTP status.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { notFound, notImplemented } from '../errors.ts';
import { registerMetadata } from './capability-statement.ts';
import { FhirContext, type FhirOptions } from './fhir-context.ts';
import { registerImagingStudy } from './imaging-study-routes.ts';
import { registerDiagnosticReportRoutes } from './diagnostic-report-routes.ts';
import { outcomeOfAnswer } from './operation-outcome.ts';
import { createErrorHandler } from '../errors/http-errors.ts';
import { enforceRoutePermissions } from '../access/route-permission.ts';
import { registerPatient } from './patient.ts';

export type { FhirOptions } from './fhir-context.ts';

export const FHIR_PREFIX = '/fhir/r4';
/** request bodies are only read to be refused (writes are not implemented); keep them small */
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

/** Without a report source (tests of the façade alone): an honest 501, never an empty Bundle. */
function registerDiagnosticReport(app: FastifyInstance): void {
  const refuse = async () => {
    throw notImplemented('DiagnosticReport');
  };
  app.get('/DiagnosticReport', refuse);
  app.get('/DiagnosticReport/:id', refuse);
}

/** The façade is read-only for now: writes to any resource are 501, not 404. */
function registerWriteRefusals(app: FastifyInstance): void {
  const refuse = async (request: FastifyRequest) => {
    throw notImplemented(`${request.method} on the FHIR façade`);
  };
  app.route({ method: [...WRITE_METHODS], url: '/:type', handler: refuse });
  app.route({ method: [...WRITE_METHODS], url: '/:type/*', handler: refuse });
}

export async function registerFhir(app: FastifyInstance, options: FhirOptions): Promise<void> {
  const ctx = new FhirContext(options);
  await app.register(
    async (scope) => {
      scope.setErrorHandler(errorHandlerFor(ctx));
      scope.setNotFoundHandler(async () => {
        throw notFound('FHIR resource');
      });
      scope.addHook('onRequest', async (request) => ctx.negotiate(request));
      // FHIR bodies (application/fhir+json) are not parsed by Fastify; take any as bytes so a write gets its 501.
      scope.removeAllContentTypeParsers();
      scope.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: BODY_LIMIT }, (_request, body, done) => done(null, body));
      registerMetadata(scope, ctx);
      await scope.register(async (authenticated) => {
        authenticated.addHook('onRequest', async (request) => ctx.authenticate(request));
        enforceRoutePermissions(authenticated, async (request) => ctx.callerOf(request));
        registerImagingStudy(authenticated, ctx);
        registerPatient(authenticated, ctx);
        if (options.diagnosticReports) registerDiagnosticReportRoutes(authenticated, ctx, options.diagnosticReports);
        else registerDiagnosticReport(authenticated);
        registerWriteRefusals(authenticated);
      });
    },
    { prefix: FHIR_PREFIX },
  );
}

/**
 * DICOMweb (PS3.18) over HTTP: QIDO-RS, WADO-RS, STOW-RS and rendering under /dicom-web,
 * WADO-URI under /wado. A thin translation layer over ArchiveService: every request is
 * authenticated first (resolveCaller, before any body is read) and every look-up goes
 * through the archive with that caller, so scope applies; what a caller may not see is a
 * 404 like what does not exist.
 */
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { createErrorHandler, errorBody } from '../errors/http-errors.ts';
import { enforceRoutePermissions } from '../access/route-permission.ts';
import { DEFAULT_MAX_STOW_BYTES, DicomWebContext, type DicomWebOptions } from './context.ts';
import { registerCapabilities } from './capabilities.ts';
import { registerQido } from './qido.ts';
import { registerRendered } from './rendered.ts';
import { registerStow } from './stow.ts';
import { registerWadoRs } from './wado-rs.ts';
import { registerWadoUri } from './wado-uri.ts';

export type { DicomWebOptions } from './context.ts';

// The one error handler (errors/http-errors.ts); a 401 names the Basic scheme DICOM tools send.
const handleError = createErrorHandler({ wwwAuthenticate: 'Basic realm="Yunying DICOMweb", charset="UTF-8"' });

/**
 * Every DICOMweb and WADO-URI route reads images, but STOW-RS writes them: declared here for
 * the whole interface (route-permission.ts checks it). STOW also checks before its body is
 * read (stow.ts preParsing), so a refused upload is not received first.
 */
function declarePermissions(scope: FastifyInstance, ctx: DicomWebContext): void {
  scope.addHook('onRoute', (route) => {
    const writes = [route.method].flat().includes('POST');
    route.config = { ...route.config, permission: route.config?.permission ?? (writes ? 'images:write' : 'images:read') };
  });
  enforceRoutePermissions(scope, async (request) => ctx.callerOf(request));
}

function notFoundHandler(request: FastifyRequest, reply: FastifyReply) {
  return reply.code(404).type('application/json').send(errorBody({ code: 'NOT_FOUND', message: `no DICOMweb resource ${request.method} ${request.url.split('?')[0]}` }));
}

/** Mounts /dicom-web and /wado on `app`. */
export async function registerDicomWeb(app: FastifyInstance, options: DicomWebOptions): Promise<void> {
  const ctx = new DicomWebContext(options);
  const bodyLimit = options.maxStowBytes ?? DEFAULT_MAX_STOW_BYTES;

  await app.register(
    async (scope) => {
      scope.setErrorHandler(handleError);
      scope.setNotFoundHandler(notFoundHandler);
      scope.addHook('onRequest', async (request) => ctx.authenticate(request));
      declarePermissions(scope, ctx);
      // every body is taken as bytes; the STOW handler decides (415 for what it cannot use)
      scope.removeAllContentTypeParsers();
      scope.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit }, (_request, body, done) => done(null, body));
      // first: it reads the routes below as they are added (PS3.18 8.9, OPTIONS)
      registerCapabilities(scope, ctx);
      registerQido(scope, ctx);
      registerStow(scope, ctx, { maxBytes: bodyLimit, stagingDirectory: options.stagingDirectory ?? path.join(tmpdir(), 'yunying-staging') });
      registerWadoRs(scope, ctx);
      registerRendered(scope, ctx);
    },
    { prefix: '/dicom-web' },
  );

  await app.register(
    async (scope) => {
      scope.setErrorHandler(handleError);
      scope.setNotFoundHandler(notFoundHandler);
      scope.addHook('onRequest', async (request) => ctx.authenticateWadoUri(request));
      declarePermissions(scope, ctx);
      registerWadoUri(scope, ctx);
    },
    { prefix: '/wado' },
  );
}

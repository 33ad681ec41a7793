/**
 * DICOMweb (PS3.18) over HTTP: QIDO-RS, WADO-RS, STOW-RS and rendering under /dicom-web,
 * WADO-URI under /wado. A thin translation layer over ArchiveService: every request is
 * authenticated first (resolveCaller, before any body is read) and every look-up goes
 * through the archive with that caller, so scope applies; what a caller may not see is a
 * 404 like what does not exist.
 */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { DicomParseError } from '@yunying/dicom';
import { YunyingError } from '../errors.ts';
import { DEFAULT_MAX_STOW_BYTES, DicomWebContext, type DicomWebOptions } from './context.ts';
import { registerQido } from './qido.ts';
import { registerRendered } from './rendered.ts';
import { registerStow } from './stow.ts';
import { registerWadoRs } from './wado-rs.ts';
import { registerWadoUri } from './wado-uri.ts';

export type { DicomWebOptions } from './context.ts';

function handleError(error: FastifyError | YunyingError | Error, request: FastifyRequest, reply: FastifyReply) {
  if (error instanceof YunyingError) {
    if (error.httpStatus >= 500) request.log.error({ err: error }, 'DICOMweb request failed');
    if (error.retryAfterSeconds !== undefined) reply.header('Retry-After', String(error.retryAfterSeconds));
    if (error.httpStatus === 401 && !reply.hasHeader('WWW-Authenticate')) reply.header('WWW-Authenticate', 'Basic realm="Yunying DICOMweb", charset="UTF-8"');
    return reply.code(error.httpStatus).type('application/json').send({ code: error.code, message: error.message, ...(error.details ? { details: error.details } : {}) });
  }
  if (error instanceof DicomParseError) {
    // request bodies are parsed per part in STOW; this is a stored object we cannot read as asked
    request.log.error({ err: error }, 'DICOMweb: stored object unreadable');
    return reply.code(500).type('application/json').send({ code: 'INVALID_STORED_OBJECT', message: `the stored object cannot be read: ${error.message}` });
  }
  const statusCode = (error as FastifyError).statusCode;
  if (typeof statusCode === 'number' && statusCode >= 400 && statusCode < 500) {
    const code = statusCode === 413 ? 'PAYLOAD_TOO_LARGE' : statusCode === 415 ? 'UNSUPPORTED_MEDIA_TYPE' : 'BAD_REQUEST';
    return reply.code(statusCode).type('application/json').send({ code, message: error.message });
  }
  request.log.error({ err: error }, 'DICOMweb request failed');
  return reply.code(500).type('application/json').send({ code: 'INTERNAL_ERROR', message: 'internal error' });
}

function notFoundHandler(request: FastifyRequest, reply: FastifyReply) {
  return reply.code(404).type('application/json').send({ code: 'NOT_FOUND', message: `no DICOMweb resource ${request.method} ${request.url.split('?')[0]}` });
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
      // every body is taken as bytes; the STOW handler decides (415 for what it cannot use)
      scope.removeAllContentTypeParsers();
      scope.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit }, (_request, body, done) => done(null, body));
      registerQido(scope, ctx);
      registerStow(scope, ctx, bodyLimit);
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
      registerWadoUri(scope, ctx);
    },
    { prefix: '/wado' },
  );
}

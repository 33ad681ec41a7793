import { test } from 'node:test';
import assert from 'node:assert/strict';
import Fastify from 'fastify';
import { DicomParseError } from '@yunying/dicom';
import { badRequest, YunyingError } from './yunying-error.ts';
import { createErrorHandler, httpErrorAnswer } from './http-errors.ts';

test('a YunyingError answers the catalog status and its own message, details and Retry-After', () => {
  assert.deepEqual(httpErrorAnswer(new YunyingError('PASSWORD_HASHING_BUSY', 'busy', { retryAfterSeconds: 2 })), { status: 503, code: 'PASSWORD_HASHING_BUSY', message: 'busy', retryAfterSeconds: 2, internal: true });
  assert.deepEqual(httpErrorAnswer(new YunyingError('UNSUPPORTED_MATCHING_KEY', 'no', { details: { key: 'PatientAge' } })), { status: 400, code: 'UNSUPPORTED_MATCHING_KEY', message: 'no', details: { key: 'PatientAge' }, internal: false });
  assert.equal(httpErrorAnswer(badRequest('INVALID_QUERY', 'x')).status, 400);
  assert.equal(new YunyingError('DUPLICATE_SOP_INSTANCE').dimseStatus, 0xc111);
  assert.equal(new YunyingError('INVALID_QUERY').dimseStatus, 0xc000);
  assert.equal(new YunyingError('FORBIDDEN').message, 'the caller may not do this');
});

test('errors of the HTTP layer keep their status and answer a catalog code; anything else is an INTERNAL_ERROR that reveals nothing', () => {
  const tooLarge = Object.assign(new Error('Request body is too large'), { statusCode: 413, code: 'FST_ERR_CTP_BODY_TOO_LARGE' });
  assert.deepEqual(httpErrorAnswer(tooLarge), { status: 413, code: 'PAYLOAD_TOO_LARGE', message: 'Request body is too large', internal: false });
  const invalid = Object.assign(new Error('body/name must be string'), { statusCode: 400, code: 'FST_ERR_VALIDATION' });
  assert.equal(httpErrorAnswer(invalid).code, 'BAD_REQUEST');
  assert.deepEqual(httpErrorAnswer(new Error('secret path /var/x')), { status: 500, code: 'INTERNAL_ERROR', message: 'internal error', internal: true });
  assert.equal(httpErrorAnswer(new DicomParseError('truncated')).code, 'INVALID_STORED_OBJECT');
});

test('the handler writes JSON, Retry-After and the 401 challenge; an interface may write its own format', async () => {
  const app = Fastify({ logger: false });
  app.register(async (scope) => {
    scope.setErrorHandler(createErrorHandler({ wwwAuthenticate: 'Basic realm="x"' }));
    scope.get('/refused', async () => {
      throw new YunyingError('UNAUTHORIZED');
    });
    scope.get('/busy', async () => {
      throw new YunyingError('DECODER_BUSY', 'later', { retryAfterSeconds: 3 });
    });
  });
  app.register(async (scope) => {
    scope.setErrorHandler(createErrorHandler({ send: (_request, reply, answer) => reply.status(answer.status).send({ wrapped: answer.code }) }));
    scope.get('/wrapped', async () => {
      throw new YunyingError('NOT_IMPLEMENTED');
    });
  });
  const refused = await app.inject({ url: '/refused' });
  assert.equal(refused.statusCode, 401);
  assert.equal(refused.headers['www-authenticate'], 'Basic realm="x"');
  assert.deepEqual(refused.json(), { code: 'UNAUTHORIZED', message: 'authentication required, or the credentials are invalid' });
  const busy = await app.inject({ url: '/busy' });
  assert.equal(busy.statusCode, 503);
  assert.equal(busy.headers['retry-after'], '3');
  assert.deepEqual((await app.inject({ url: '/wrapped' })).json(), { wrapped: 'NOT_IMPLEMENTED' });
  await app.close();
});

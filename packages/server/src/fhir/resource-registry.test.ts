/**
 * The FHIR resource registry (resource-registry.ts): a resource another module adds, before
 * or after the façade registered, is served behind the façade's authentication, permission
 * check and OperationOutcome errors, and /metadata lists it with its search parameters.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { openArchive, type Archive } from '../archive/archive.ts';
import { systemCaller, type Caller } from '../access/caller.ts';
import { unauthorized } from '../errors.ts';
import { registerFhir } from './index.ts';
import { searchsetBundle } from './bundle.ts';
import { FhirResourceRegistry, type FhirResourceDefinition } from './resource-registry.ts';
import { parseSearch, type QueryParams } from './search-params.ts';

/* eslint-disable @typescript-eslint/no-explicit-any -- FHIR JSON is read loosely in assertions */
type Json = any;

const CALLERS: Record<string, Caller> = {
  admin: systemCaller('registry-test'),
  analyst: { kind: 'user', name: 'analyst', institutionId: 'default', role: 'commission-analyst', visibleInstitutionIds: ['default'], via: 'rest' },
};

/** A resource as a module outside fhir/ would add it: search with a total, create from a JSON body. */
function exampleResource(type: string): FhirResourceDefinition {
  const stored: Json[] = [];
  return {
    type,
    interactions: ['search-type', 'create'],
    searchParams: [{ name: 'code', type: 'token', documentation: 'what it is' }],
    routes(scope, fhir) {
      scope.get(`/${type}`, { config: { permission: 'patients:read' } }, async (request, reply) => {
        const search = parseSearch(request.query as QueryParams, type, ['code']);
        return fhir.send(request, reply, 200, searchsetBundle(fhir, request, stored.slice(search.offset, search.offset + search.count), search, { total: stored.length }));
      });
      scope.post(`/${type}`, { config: { permission: 'patients:read' } }, async (request, reply) => {
        const body = fhir.jsonBody(request);
        const resource = { ...body, resourceType: type, id: String(stored.length + 1) };
        stored.push(resource);
        return fhir.send(request, reply, 201, resource);
      });
    },
  };
}

describe('FHIR resource registry', () => {
  let app: FastifyInstance;
  let archive: Archive;
  let dataDir: string;
  const registry = new FhirResourceRegistry();

  before(async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), 'yunying-fhir-registry-'));
    archive = await openArchive({ dataDir, fsync: false });
    app = Fastify({ logger: false });
    registry.add(exampleResource('ServiceRequest')); // a module listed before fhir
    await registerFhir(app, {
      archive,
      resources: registry,
      async resolveCaller(request) {
        const caller = CALLERS[/^Bearer (.+)$/.exec(request.headers.authorization ?? '')?.[1] ?? ''];
        if (!caller) throw unauthorized();
        return caller;
      },
    });
    registry.add(exampleResource('Task')); // a module listed after fhir
    await app.ready();
  });

  after(async () => {
    await app.close();
    await archive.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  const call = (method: 'GET' | 'POST', url: string, token: string | null, payload?: string, contentType = 'application/fhir+json') =>
    app.inject({ method, url, payload, headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(payload !== undefined ? { 'content-type': contentType } : {}) } });

  test('/metadata lists the façade\'s resources and both added ones, with their search parameters and paging', async () => {
    const body = (await call('GET', '/fhir/r4/metadata', null)).json();
    const resources = body.rest[0].resource;
    assert.deepEqual(resources.map((r: Json) => r.type), ['ImagingStudy', 'Patient', 'ServiceRequest', 'Task']);
    const task = resources.find((r: Json) => r.type === 'Task');
    assert.deepEqual(task.interaction.map((i: Json) => i.code), ['search-type', 'create']);
    assert.deepEqual(task.searchParam.map((p: Json) => p.name), ['code', '_count', '_offset']);
  });

  for (const type of ['ServiceRequest', 'Task']) {
    test(`${type}: behind the façade's authentication and permission check, errors as OperationOutcome, body as JSON`, async () => {
      const anonymous = await call('GET', `/fhir/r4/${type}`, null);
      assert.equal(anonymous.statusCode, 401);
      assert.equal(anonymous.json().resourceType, 'OperationOutcome');
      assert.equal((await call('GET', `/fhir/r4/${type}`, 'analyst')).statusCode, 403);
      const created = await call('POST', `/fhir/r4/${type}`, 'admin', JSON.stringify({ resourceType: type, status: 'active' }));
      assert.equal(created.statusCode, 201, created.body);
      assert.equal(created.json().status, 'active');
      const notJson = await call('POST', `/fhir/r4/${type}`, 'admin', '{not json');
      assert.equal(notJson.statusCode, 400);
      assert.equal(notJson.json().issue[0].details.coding[0].code, 'INVALID_RESOURCE');
      assert.equal((await call('POST', `/fhir/r4/${type}`, 'admin', '<x/>', 'application/fhir+xml')).statusCode, 415);
      const bundle = (await call('GET', `/fhir/r4/${type}?_count=1`, 'admin')).json();
      assert.equal(bundle.total, 1);
      assert.equal(bundle.entry.length, 1);
      assert.equal((await call('GET', `/fhir/r4/${type}?other=1`, 'admin')).statusCode, 400);
    });
  }

  test('a type registered twice is an error', () => {
    assert.throws(() => registry.add(exampleResource('Task')), /registered twice/);
  });
});

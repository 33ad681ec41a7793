/**
 * GET /metadata: what this façade does (R4 §3.1.0.13), readable without authentication so
 * clients can discover the server before they log in. Built at each request from the
 * resource registry the routes register into (resource-registry.ts), so it lists exactly
 * the resources, interactions and search parameters served, including those another module
 * added (ServiceRequest from orders).
 */
import type { FastifyInstance } from 'fastify';
import type { FhirContext } from './fhir-context.ts';
import { FHIR_JSON } from './fhir-context.ts';
import { PAGING_PARAMS, type FhirResourceDefinition, type FhirResourceRegistry } from './resource-registry.ts';

const SECURITY_SERVICE_SYSTEM = 'http://terminology.hl7.org/CodeSystem/restful-security-service';

function resourceEntry(definition: FhirResourceDefinition) {
  const searchable = definition.interactions.includes('search-type');
  const searchParam = searchable ? [...(definition.searchParams ?? []), ...PAGING_PARAMS] : [];
  return {
    ...(definition.extension?.length ? { extension: definition.extension } : {}),
    type: definition.type,
    ...(definition.supportedProfiles?.length ? { supportedProfile: definition.supportedProfiles } : {}),
    ...(definition.documentation ? { documentation: definition.documentation } : {}),
    interaction: definition.interactions.map((code) => ({ code })),
    ...(searchParam.length ? { searchParam: searchParam.map(({ name, type, documentation }) => ({ name, type, documentation })) } : {}),
  };
}

/** Both ways in (the FHIR caller resolver takes a Bearer token or HTTP Basic). */
export const SECURITY = {
  service: [
    { text: 'Bearer: Authorization: Bearer <token>, the token from POST /api/v1/auth/login' },
    { coding: [{ system: SECURITY_SERVICE_SYSTEM, code: 'Basic', display: 'Basic' }], text: 'HTTP Basic: the username and password of a Yunying account' },
  ],
  description: 'Authorization: Bearer <token> (POST /api/v1/auth/login) or HTTP Basic with a Yunying account; results are limited to the studies and reports the caller\'s institution may see',
};

export function capabilityStatement(baseUrl: string, date: string, resources: readonly FhirResourceDefinition[]) {
  const writes = resources.some((r) => r.interactions.some((i) => i === 'create' || i === 'update' || i === 'delete'));
  return {
    resourceType: 'CapabilityStatement',
    status: 'active',
    date,
    publisher: 'Yunying',
    kind: 'instance',
    software: { name: 'Yunying 云影' },
    implementation: { description: `Yunying FHIR R4 façade over the imaging archive${writes ? '' : ' (read-only)'}`, url: baseUrl },
    fhirVersion: '4.0.1',
    format: [FHIR_JSON, 'json'],
    rest: [{
      mode: 'server',
      security: SECURITY,
      resource: [...resources].sort((a, b) => a.type.localeCompare(b.type)).map(resourceEntry),
    }],
  };
}

export function registerMetadata(app: FastifyInstance, ctx: FhirContext, registry: FhirResourceRegistry): void {
  // kind "instance": this describes the running server, so its date is when it started.
  const date = new Date().toISOString();
  app.get('/metadata', async (request, reply) => ctx.send(request, reply, 200, capabilityStatement(ctx.fhirBase(request), date, registry.list())));
}

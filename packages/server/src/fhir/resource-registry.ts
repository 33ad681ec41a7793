/**
 * The resources the FHIR façade serves, as their routes register them: the
 * CapabilityStatement (/metadata) is built from this list, so what it says cannot drift
 * from what is served. The façade's own resources (ImagingStudy, Patient, DiagnosticReport,
 * Subscription) register here like any other module's (orders adds ServiceRequest).
 *
 * Another module adds a resource with `fhirResources(ctx.services).add({...})` in its
 * register(). Listed before the fhir module in app.ts MODULES, its routes join the FHIR scope
 * when fhir registers; listed after, they join it at once (Fastify takes routes until the
 * server is ready). Either way they run behind the FHIR scope's authentication, permission
 * check (`config.permission`), OperationOutcome errors and media-type negotiation.
 */
import type { FastifyInstance } from 'fastify';
import { serviceKey, type ServiceRegistry } from '../modules/module.ts';
import type { FhirContext } from './fhir-context.ts';

export type FhirSearchParamType = 'number' | 'date' | 'string' | 'token' | 'reference' | 'composite' | 'quantity' | 'uri' | 'special';

export interface FhirSearchParam {
  name: string;
  type: FhirSearchParamType;
  documentation: string;
}

/** R4 TypeRestfulInteraction codes */
export type FhirInteraction = 'read' | 'vread' | 'update' | 'patch' | 'delete' | 'history-instance' | 'history-type' | 'create' | 'search-type';

export interface FhirResourceDefinition {
  /** the resource type, e.g. 'ServiceRequest' */
  type: string;
  interactions: readonly FhirInteraction[];
  /** the search parameters its search accepts, beyond _count, _offset and _format (added for every searchable resource) */
  searchParams?: readonly FhirSearchParam[];
  /** profiles it conforms to (CapabilityStatement.rest.resource.supportedProfile) */
  supportedProfiles?: readonly string[];
  /** extensions of its CapabilityStatement entry (e.g. the Subscriptions Backport's topic canonicals) */
  extension?: readonly Record<string, unknown>[];
  documentation?: string;
  /**
   * Registers the routes, relative to /fhir/r4 (`scope.get('/ServiceRequest', { config: { permission } }, …)`).
   * `fhir` gives the caller (fhir.callerOf(request)), answers in the negotiated type
   * (fhir.send), absolute URLs (fhir.fhirBase) and the request body as JSON (fhir.jsonBody).
   * Throw YunyingErrors: they answer as OperationOutcomes.
   */
  routes(scope: FastifyInstance, fhir: FhirContext): void;
}

/** Paging parameters every search takes (search-params.ts). */
export const PAGING_PARAMS: readonly FhirSearchParam[] = [
  { name: '_count', type: 'number', documentation: 'page size (at most 100)' },
  { name: '_offset', type: 'number', documentation: 'matches to skip (the next link sets it)' },
];

export class FhirResourceRegistry {
  private readonly definitions: FhirResourceDefinition[] = [];
  private attached?: { scope: FastifyInstance; fhir: FhirContext };

  /** Adds a resource; its type may be served once. */
  add(definition: FhirResourceDefinition): void {
    if (this.definitions.some((d) => d.type === definition.type)) throw new Error(`FHIR resource ${definition.type} is registered twice`);
    this.definitions.push(definition);
    if (this.attached) definition.routes(this.attached.scope, this.attached.fhir);
  }

  /** What is served, in registration order (the CapabilityStatement's order). */
  list(): readonly FhirResourceDefinition[] {
    return this.definitions;
  }

  /** Called once by the fhir module with its authenticated scope: routes of resources added so far, and of those added later. */
  attach(scope: FastifyInstance, fhir: FhirContext): void {
    if (this.attached) throw new Error('the FHIR resource registry is attached twice');
    this.attached = { scope, fhir };
    for (const definition of this.definitions) definition.routes(scope, fhir);
  }
}

/** The registry of one server, as a service: see fhirResources. */
export const FHIR_RESOURCES = serviceKey<FhirResourceRegistry>('fhir.resources');

/**
 * The server's FHIR resource registry, created by whichever module asks first (a module
 * listed before fhir may add to it before fhir exists; fhir then serves what it holds).
 */
export function fhirResources(services: ServiceRegistry): FhirResourceRegistry {
  if (!services.has(FHIR_RESOURCES)) services.provide(FHIR_RESOURCES, new FhirResourceRegistry());
  return services.get(FHIR_RESOURCES);
}

/**
 * POST /Subscription, GET /Subscription/{id}, GET /Subscription, DELETE /Subscription/{id}:
 * a HIS account subscribes its institution to a topic (subscription.ts). A subscription
 * belongs to the creator's institution: another institution's answers like one that does not
 * exist; platform administrators see and remove any.
 */
import { randomUUID } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import type { UnitOfWork } from '../store/unit-of-work.ts';
import { actsForEveryInstitution, type Caller } from '../access/caller.ts';
import { forbidden, notFound } from '../errors.ts';
import { searchsetBundle } from './bundle.ts';
import type { FhirResourceDefinition } from './resource-registry.ts';
import { parseSearch, type QueryParams } from './search-params.ts';
import { BACKPORT_SUBSCRIPTION_PROFILE, parseSubscription, REPORT_SIGNED_TOPIC, TOPIC_CANONICAL_EXTENSION, toSubscription } from './subscription.ts';
import { fhirSubscriptionStore, type FhirSubscriptionStore, type SubscriptionRow } from './subscription-store.ts';

const ID = /^[0-9a-f-]{36}$/;

function mayManage(caller: Caller, row: SubscriptionRow): boolean {
  return actsForEveryInstitution(caller) || row.institution_id === caller.institutionId;
}

async function visibleSubscription(store: FhirSubscriptionStore, caller: Caller, id: string): Promise<SubscriptionRow> {
  const row = ID.test(id) ? await store.find(id) : undefined;
  if (!row || !mayManage(caller, row)) throw notFound('Subscription');
  return row;
}

/** The resource for the registry: reads on `store`, writes with their audit record in one unit of work. */
export function subscriptionResource(store: FhirSubscriptionStore, unitOfWork: UnitOfWork): FhirResourceDefinition {
  return {
    type: 'Subscription',
    interactions: ['create', 'read', 'search-type', 'delete'],
    searchParams: [],
    supportedProfiles: [BACKPORT_SUBSCRIPTION_PROFILE],
    extension: [{ url: TOPIC_CANONICAL_EXTENSION, valueCanonical: REPORT_SIGNED_TOPIC }],
    documentation: `R4 Subscriptions Backport: topic ${REPORT_SIGNED_TOPIC} (a report was signed; focus DiagnosticReport), channel rest-hook, payload empty, id-only or full-resource; the caller's institution's reports only`,
    routes(scope, fhir) {
      // A subscription tells of reports: only roles that may read them may subscribe.
      const config = { permission: 'fhir:subscribe' } as const;
      scope.post('/Subscription', { config }, async (request, reply) => {
        const caller = fhir.callerOf(request);
        // notifications are scoped by the account that asked, looked up at each event
        if (caller.kind !== 'user') throw forbidden('a subscription belongs to a user account');
        const input = parseSubscription(fhir.jsonBody(request));
        const now = new Date().toISOString();
        const row: SubscriptionRow = {
          id: randomUUID(),
          institution_id: caller.institutionId,
          owner: caller.name,
          // the backport's handshake is optional; the endpoint's first notification is the check
          status: 'active',
          topic: input.topic,
          reason: input.reason,
          endpoint: input.endpoint,
          payload_content: input.payloadContent,
          headers: JSON.stringify(input.headers),
          end_at: input.end ?? null,
          events: 0,
          last_error: null,
          created_at: now,
          updated_at: now,
        };
        await unitOfWork.run(async (tx) => {
          await tx.open(fhirSubscriptionStore).insert(row);
          tx.audit.record({ action: 'subscription.created', caller, objectType: 'institution', objectId: caller.institutionId, details: { subscriptionId: row.id, topic: row.topic, endpoint: endpointOrigin(row.endpoint), payload: row.payload_content } });
        });
        reply.header('Location', `${fhir.fhirBase(request)}/Subscription/${row.id}`);
        return fhir.send(request, reply, 201, toSubscription(row));
      });
      scope.get<{ Params: { id: string } }>('/Subscription/:id', { config }, async (request, reply) => {
        const row = await visibleSubscription(store, fhir.callerOf(request), request.params.id);
        return fhir.send(request, reply, 200, toSubscription(row));
      });
      scope.get('/Subscription', { config }, async (request: FastifyRequest, reply) => {
        const caller = fhir.callerOf(request);
        const search = parseSearch(request.query as QueryParams, 'Subscription', []);
        const rows = await store.list(actsForEveryInstitution(caller) ? 'all' : [caller.institutionId]);
        const page = rows.slice(search.offset, search.offset + search.count).map(toSubscription);
        return fhir.send(request, reply, 200, searchsetBundle(fhir, request, page, search, { total: rows.length }));
      });
      scope.delete<{ Params: { id: string } }>('/Subscription/:id', { config }, async (request, reply) => {
        const caller = fhir.callerOf(request);
        const row = await visibleSubscription(store, caller, request.params.id);
        await unitOfWork.run(async (tx) => {
          await tx.open(fhirSubscriptionStore).delete(row.id);
          tx.audit.record({ action: 'subscription.deleted', caller, objectType: 'institution', objectId: row.institution_id, details: { subscriptionId: row.id, topic: row.topic } });
        });
        return reply.code(204).send();
      });
    },
  };
}

/** The endpoint's origin for the audit trail (its path or query may carry a token). */
export function endpointOrigin(endpoint: string): string {
  try {
    return new URL(endpoint).origin;
  } catch {
    return '';
  }
}

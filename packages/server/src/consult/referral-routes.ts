import type { FastifyInstance } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import type { HttpCallerResolver } from '../access/http-caller.ts';
import type { ReferralService } from './referral-service.ts';

const ReferralParams = Type.Object({ id: Type.String({ pattern: '^ref-[0-9a-f-]{36}$' }) });
const Text = (maxLength: number) => Type.String({ minLength: 1, maxLength, pattern: '\\S' });
const InstitutionId = Type.String({ minLength: 1, maxLength: 64 });
const Uid = Type.String({ minLength: 1, maxLength: 64, pattern: '^[0-9.]+$' });
const Direction = Type.Union([Type.Literal('up'), Type.Literal('down')]);
const Status = Type.Union(['requested', 'accepted', 'refused', 'completed', 'cancelled'].map((status) => Type.Literal(status)));

const CreateBody = Type.Object(
  {
    direction: Direction,
    patient: Type.Object(
      {
        patientId: Type.String({ minLength: 1, maxLength: 64 }),
        issuerOfPatientId: Type.Optional(Type.String({ maxLength: 64 })),
        name: Type.Optional(Type.String({ maxLength: 128 })),
        sex: Type.Optional(Type.String({ maxLength: 16 })),
        birthDate: Type.Optional(Type.String({ pattern: '^(\\d{8}|\\d{4}-\\d{2}-\\d{2})?$' })),
      },
      { additionalProperties: false },
    ),
    fromInstitutionId: InstitutionId,
    toInstitutionId: InstitutionId,
    reason: Text(2000),
    studyInstanceUids: Type.Array(Uid, { minItems: 1, maxItems: 50 }),
    reportIds: Type.Array(Type.String({ minLength: 1, maxLength: 64 }), { maxItems: 50 }),
    dischargeSummary: Type.Optional(Type.String({ maxLength: 10_000 })),
    followUpPlan: Type.Optional(Type.String({ maxLength: 10_000 })),
  },
  { additionalProperties: false },
);
const AcceptBody = Type.Object({ note: Type.Optional(Type.String({ maxLength: 2000 })) }, { additionalProperties: false });
const ReasonBody = Type.Object({ reason: Text(2000) }, { additionalProperties: false });
const OutcomeBody = Type.Object({ outcome: Text(10_000) }, { additionalProperties: false });
const ListQuery = Type.Object({ box: Type.Optional(Type.Union([Type.Literal('in'), Type.Literal('out')])), status: Type.Optional(Status) }, { additionalProperties: false });
const SuggestionQuery = Type.Object({ fromInstitutionId: Type.Optional(InstitutionId), direction: Type.Optional(Direction) }, { additionalProperties: false });

/**
 * Two-way referral routes (docs/consultation.md "Referrals"). Each route's permission is
 * checked before any lookup (the route permission hook); the service applies scope and audit.
 */
export async function registerReferralRoutes(app: FastifyInstance, options: { referrals: ReferralService; resolveCaller: HttpCallerResolver }): Promise<void> {
  const { referrals, resolveCaller } = options;
  const tags = ['referral'];
  const id = (request: { params: unknown }) => (request.params as Static<typeof ReferralParams>).id;

  app.post('/api/v1/referrals', { config: { permission: 'referral:write' }, schema: { tags, body: CreateBody } }, async (request, reply) =>
    reply.status(201).send(await referrals.create(await resolveCaller(request), request.body as Static<typeof CreateBody>)),
  );
  app.get('/api/v1/referrals', { config: { permission: 'referral:read' }, schema: { tags, querystring: ListQuery } }, async (request) => referrals.list(await resolveCaller(request), request.query as Static<typeof ListQuery>));
  app.get('/api/v1/referrals/:id', { config: { permission: 'referral:read' }, schema: { tags, params: ReferralParams } }, async (request) => referrals.get(await resolveCaller(request), id(request)));
  app.post('/api/v1/referrals/:id/accept', { config: { permission: 'referral:write' }, schema: { tags, params: ReferralParams, body: AcceptBody } }, async (request) =>
    referrals.accept(await resolveCaller(request), id(request), (request.body as Static<typeof AcceptBody>).note),
  );
  app.post('/api/v1/referrals/:id/refuse', { config: { permission: 'referral:write' }, schema: { tags, params: ReferralParams, body: ReasonBody } }, async (request) =>
    referrals.refuse(await resolveCaller(request), id(request), (request.body as Static<typeof ReasonBody>).reason),
  );
  app.post('/api/v1/referrals/:id/complete', { config: { permission: 'referral:write' }, schema: { tags, params: ReferralParams, body: OutcomeBody } }, async (request) =>
    referrals.complete(await resolveCaller(request), id(request), (request.body as Static<typeof OutcomeBody>).outcome),
  );
  app.post('/api/v1/referrals/:id/cancel', { config: { permission: 'referral:write' }, schema: { tags, params: ReferralParams, body: ReasonBody } }, async (request) =>
    referrals.cancel(await resolveCaller(request), id(request), (request.body as Static<typeof ReasonBody>).reason),
  );
  app.get('/api/v1/referral-suggestions', { config: { permission: 'referral:read' }, schema: { tags, querystring: SuggestionQuery } }, async (request) => {
    const query = request.query as Static<typeof SuggestionQuery>;
    return referrals.suggestions(await resolveCaller(request), query.fromInstitutionId, query.direction ?? 'up');
  });
}

import type { FastifyInstance } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import type { Caller } from '../access/caller.ts';
import type { HttpCallerResolver } from '../access/http-caller.ts';
import { notFound } from '../errors.ts';
import type { ConsultationAgreements } from './consultation-agreements.ts';
import type { ConsultationDocuments } from './consultation-document.ts';
import { CONSULTATION_TYPES, type ConsultationService } from './consultation-service.ts';
import type { ConsultationStatistics } from './consultation-statistics.ts';

const Id = (prefix: string) => Type.String({ pattern: `^${prefix}-[0-9a-f-]{36}$` });
const ConsultationParams = Type.Object({ id: Id('con') });
const AgreementParams = Type.Object({ id: Id('agr') });
const ShiftParams = Type.Object({ id: Id('duty') });
const Uid = Type.String({ minLength: 1, maxLength: 64, pattern: '^[0-9.]+$' });
const Username = Type.String({ minLength: 1, maxLength: 64 });
const InstitutionId = Type.String({ minLength: 1, maxLength: 64 });
const Text = (maxLength: number) => Type.String({ minLength: 1, maxLength, pattern: '\\S' });
const ConsultationType = Type.Union(CONSULTATION_TYPES.map((type) => Type.Literal(type)));
const Credential = { password: Type.Optional(Type.String({ maxLength: 256 })), pin: Type.Optional(Type.String({ maxLength: 32 })) };

const CreateBody = Type.Object(
  {
    type: ConsultationType,
    studyInstanceUids: Type.Array(Uid, { minItems: 1, maxItems: 20 }),
    question: Text(2000),
    clinicalSummary: Text(4000),
    attachments: Type.Optional(Type.Array(Type.Object({ title: Text(200), reportId: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })) }, { additionalProperties: false }), { maxItems: 20 })),
    invitedExperts: Type.Optional(Type.Array(Username, { minItems: 1, maxItems: 10 })),
    invitedInstitutionId: Type.Optional(InstitutionId),
  },
  { additionalProperties: false },
);
const ListQuery = Type.Object(
  { box: Type.Optional(Type.Union([Type.Literal('outgoing'), Type.Literal('incoming')])), status: Type.Optional(Type.String({ maxLength: 32 })) },
  { additionalProperties: false },
);
const ReasonBody = Type.Object({ reason: Text(500) }, { additionalProperties: false });
const EmptyBody = Type.Object({}, { additionalProperties: false });
const ExpertBody = Type.Object({ username: Username, replaces: Type.Optional(Username) }, { additionalProperties: false });
const OpinionBody = Type.Object({ text: Text(8000), sign: Type.Boolean(), ...Credential }, { additionalProperties: false });
const ConclusionBody = Type.Object({ text: Text(8000), ...Credential }, { additionalProperties: false });
const CloseBody = Type.Object({ followUpNote: Type.Optional(Type.String({ maxLength: 2000 })) }, { additionalProperties: false });
const AgreementBody = Type.Object({ requestingInstitutionId: InstitutionId, expertInstitutionId: InstitutionId }, { additionalProperties: false });
const ShiftBody = Type.Object(
  { institutionId: InstitutionId, username: Username, startsAt: Type.String({ format: 'date-time' }), endsAt: Type.String({ format: 'date-time' }), types: Type.Optional(Type.Array(ConsultationType, { maxItems: 3 })) },
  { additionalProperties: false },
);
const ShiftQuery = Type.Object(
  { institutionId: Type.Optional(InstitutionId), from: Type.Optional(Type.String({ format: 'date-time' })), to: Type.Optional(Type.String({ format: 'date-time' })) },
  { additionalProperties: false },
);
const PeriodQuery = Type.Object({ from: Type.Optional(Type.String({ format: 'date-time' })), to: Type.Optional(Type.String({ format: 'date-time' })) }, { additionalProperties: false });

export interface ConsultationRouteOptions {
  consultations: ConsultationService;
  agreements: ConsultationAgreements;
  documents: ConsultationDocuments;
  statistics: (caller: Caller, period: { from?: string; to?: string }) => Promise<ConsultationStatistics>;
  resolveCaller: HttpCallerResolver;
}

/**
 * Consultation routes (docs/consultation.md). Each route's permission is checked before any
 * lookup (the route permission hook); the services check who in the consultation may act.
 */
export async function registerConsultationRoutes(app: FastifyInstance, options: ConsultationRouteOptions): Promise<void> {
  const { consultations, agreements, documents, statistics, resolveCaller } = options;
  const tags = ['consultation'];
  const id = (request: { params: unknown }) => (request.params as Static<typeof ConsultationParams>).id;

  app.post('/api/v1/consultations', { config: { permission: 'consult:request' }, schema: { tags, body: CreateBody } }, async (request, reply) =>
    reply.status(201).send(await consultations.create(await resolveCaller(request), request.body as Static<typeof CreateBody>)),
  );
  app.get('/api/v1/consultations', { config: { permission: 'consult:read' }, schema: { tags, querystring: ListQuery } }, async (request) => {
    const query = request.query as Static<typeof ListQuery>;
    return consultations.list(await resolveCaller(request), { box: query.box ?? 'outgoing', ...(query.status ? { status: query.status } : {}) });
  });
  app.get('/api/v1/consultations/:id', { config: { permission: 'consult:read' }, schema: { tags, params: ConsultationParams } }, async (request) => consultations.view(await resolveCaller(request), id(request)));
  app.post('/api/v1/consultations/:id/accept', { config: { permission: 'consult:answer' }, schema: { tags, params: ConsultationParams, body: Type.Optional(EmptyBody) } }, async (request) => consultations.accept(await resolveCaller(request), id(request)));
  app.post('/api/v1/consultations/:id/decline', { config: { permission: 'consult:answer' }, schema: { tags, params: ConsultationParams, body: ReasonBody } }, async (request) =>
    consultations.decline(await resolveCaller(request), id(request), (request.body as Static<typeof ReasonBody>).reason),
  );
  app.post('/api/v1/consultations/:id/experts', { config: { permission: 'consult:request' }, schema: { tags, params: ConsultationParams, body: ExpertBody } }, async (request) =>
    consultations.addExpert(await resolveCaller(request), id(request), request.body as Static<typeof ExpertBody>),
  );
  app.post('/api/v1/consultations/:id/opinions', { config: { permission: 'consult:answer' }, schema: { tags, params: ConsultationParams, body: OpinionBody } }, async (request) =>
    consultations.opinion(await resolveCaller(request), id(request), request.body as Static<typeof OpinionBody>),
  );
  app.post('/api/v1/consultations/:id/conclusion', { config: { permission: 'consult:answer' }, schema: { tags, params: ConsultationParams, body: ConclusionBody } }, async (request) =>
    consultations.conclude(await resolveCaller(request), id(request), request.body as Static<typeof ConclusionBody>),
  );
  app.post('/api/v1/consultations/:id/close', { config: { permission: 'consult:request' }, schema: { tags, params: ConsultationParams, body: Type.Optional(CloseBody) } }, async (request) =>
    consultations.close(await resolveCaller(request), id(request), (request.body as Static<typeof CloseBody> | undefined)?.followUpNote),
  );
  app.post('/api/v1/consultations/:id/cancel', { config: { permission: 'consult:request' }, schema: { tags, params: ConsultationParams, body: ReasonBody } }, async (request) =>
    consultations.cancel(await resolveCaller(request), id(request), (request.body as Static<typeof ReasonBody>).reason),
  );
  app.get('/api/v1/consultations/:id/pdf', { config: { permission: 'consult:read' }, schema: { tags, params: ConsultationParams } }, async (request, reply) => {
    const pdf = await documents.pdf(await resolveCaller(request), id(request));
    if (!pdf) throw notFound(`the conclusion of consultation ${id(request)} (not signed yet)`);
    return reply.header('content-type', 'application/pdf').header('content-disposition', `inline; filename="${pdf.filename}"`).header('cache-control', 'no-store').send(pdf.bytes);
  });

  app.post('/api/v1/consultation-agreements', { config: { permission: 'consult:agreements' }, schema: { tags, body: AgreementBody } }, async (request, reply) =>
    reply.status(201).send(await agreements.create(await resolveCaller(request), request.body as Static<typeof AgreementBody>)),
  );
  app.get('/api/v1/consultation-agreements', { config: { permission: 'consult:read' }, schema: { tags } }, async (request) => agreements.list(await resolveCaller(request)));
  app.delete('/api/v1/consultation-agreements/:id', { config: { permission: 'consult:agreements' }, schema: { tags, params: AgreementParams } }, async (request, reply) => {
    await agreements.end(await resolveCaller(request), (request.params as Static<typeof AgreementParams>).id);
    return reply.status(204).send();
  });
  app.post('/api/v1/duty-roster', { config: { permission: 'consult:agreements' }, schema: { tags, body: ShiftBody } }, async (request, reply) =>
    reply.status(201).send(await agreements.addShift(await resolveCaller(request), request.body as Static<typeof ShiftBody>)),
  );
  app.get('/api/v1/duty-roster', { config: { permission: 'consult:read' }, schema: { tags, querystring: ShiftQuery } }, async (request) => agreements.shifts(await resolveCaller(request), request.query as Static<typeof ShiftQuery>));
  app.delete('/api/v1/duty-roster/:id', { config: { permission: 'consult:agreements' }, schema: { tags, params: ShiftParams } }, async (request, reply) => {
    await agreements.removeShift(await resolveCaller(request), (request.params as Static<typeof ShiftParams>).id);
    return reply.status(204).send();
  });
  app.get('/api/v1/statistics/consultations', { config: { permission: 'consult:statistics' }, schema: { tags, querystring: PeriodQuery } }, async (request) => {
    return statistics(await resolveCaller(request), request.query as Static<typeof PeriodQuery>);
  });
}

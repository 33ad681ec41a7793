import type { FastifyInstance } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import type { HttpCallerResolver } from '../access/http-caller.ts';
import { CATEGORY_CODE_PATTERN, INFORMED_VIA } from './categories.ts';
import type { CriticalFindingService } from './critical-finding-service.ts';

const Id = Type.Object({ id: Type.String({ pattern: '^[0-9a-f-]{36}$' }) });
const InstitutionParams = Type.Object({ institutionId: Type.String({ minLength: 1, maxLength: 64 }) });
const FlagBody = Type.Object(
  {
    /** a code of GET /api/v1/critical-findings/categories */
    category: Type.String({ pattern: CATEGORY_CODE_PATTERN }),
    note: Type.Optional(Type.String({ maxLength: 2000 })),
  },
  { additionalProperties: false },
);
const AcknowledgeBody = Type.Object(
  {
    /** who at the requesting institution received the alert (接收人) */
    receivedBy: Type.String({ minLength: 1, maxLength: 64, pattern: '\\S' }),
    /** how the clinician was informed: 电话 phone, 当面 in-person, 短信 sms, 其他 other */
    informedVia: Type.Union(INFORMED_VIA.map((value) => Type.Literal(value))),
    /** the clinician who was told */
    clinicianName: Type.Optional(Type.String({ maxLength: 64 })),
    /** when the clinician was told [now] */
    informedAt: Type.Optional(Type.String({ format: 'date-time' })),
    note: Type.Optional(Type.String({ maxLength: 1000 })),
  },
  { additionalProperties: false },
);
const ListQuery = Type.Object(
  {
    status: Type.Optional(Type.Union([Type.Literal('open'), Type.Literal('acknowledged')])),
    from: Type.Optional(Type.String({ format: 'date-time' })),
    to: Type.Optional(Type.String({ format: 'date-time' })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
  },
  { additionalProperties: false },
);
const Category = Type.Object(
  { code: Type.String({ pattern: CATEGORY_CODE_PATTERN }), zh: Type.String({ minLength: 1, maxLength: 64 }), en: Type.String({ minLength: 1, maxLength: 100 }) },
  { additionalProperties: false },
);
const CategoriesBody = Type.Object({ categories: Type.Array(Category, { minItems: 1, maxItems: 100 }) }, { additionalProperties: false });
const ContactBody = Type.Object({ phone: Type.String({ minLength: 5, maxLength: 24 }) }, { additionalProperties: false });

/**
 * 危急值 routes. Flagging hangs under the reading request it is found on; the rest under
 * /api/v1/critical-findings. Each route's permission is checked before any lookup (the route
 * permission hook); the service applies the institution scope.
 */
export async function registerCriticalFindingRoutes(app: FastifyInstance, options: { service: CriticalFindingService; resolveCaller: HttpCallerResolver }): Promise<void> {
  const { service, resolveCaller } = options;
  const tags = ['critical findings'];
  app.post('/api/v1/reading-requests/:id/critical-findings', { config: { permission: 'critical:flag' }, schema: { tags, params: Id, body: FlagBody } }, async (request, reply) =>
    reply.status(201).send(await service.flag(await resolveCaller(request), (request.params as Static<typeof Id>).id, request.body as Static<typeof FlagBody>)),
  );
  app.get('/api/v1/reading-requests/:id/critical-findings', { config: { permission: 'critical:read' }, schema: { tags, params: Id } }, async (request) => service.ofRequest(await resolveCaller(request), (request.params as Static<typeof Id>).id));
  app.get('/api/v1/critical-findings', { config: { permission: 'critical:read' }, schema: { tags, querystring: ListQuery } }, async (request) => service.list(await resolveCaller(request), request.query as Static<typeof ListQuery>));
  app.post('/api/v1/critical-findings/:id/acknowledgement', { config: { permission: 'critical:acknowledge' }, schema: { tags, params: Id, body: AcknowledgeBody } }, async (request) =>
    service.acknowledge(await resolveCaller(request), (request.params as Static<typeof Id>).id, request.body as Static<typeof AcknowledgeBody>),
  );
  // The pick list: every role that sees critical findings reads it; administrators replace it.
  app.get('/api/v1/critical-findings/categories', { config: { permission: 'critical:read' }, schema: { tags } }, async () => service.categories());
  app.put('/api/v1/critical-findings/categories', { config: { permission: 'platform:manage' }, schema: { tags, body: CategoriesBody } }, async (request) => service.replaceCategories(await resolveCaller(request), (request.body as Static<typeof CategoriesBody>).categories));
  // The number each institution's alerts go to by SMS (危急值接收电话).
  app.get('/api/v1/critical-findings/contacts', { config: { permission: 'platform:manage' }, schema: { tags } }, async (request) => service.contacts(await resolveCaller(request)));
  app.put('/api/v1/critical-findings/contacts/:institutionId', { config: { permission: 'platform:manage' }, schema: { tags, params: InstitutionParams, body: ContactBody } }, async (request) =>
    service.setContact(await resolveCaller(request), (request.params as Static<typeof InstitutionParams>).institutionId, (request.body as Static<typeof ContactBody>).phone),
  );
  app.delete('/api/v1/critical-findings/contacts/:institutionId', { config: { permission: 'platform:manage' }, schema: { tags, params: InstitutionParams } }, async (request, reply) => {
    await service.removeContact(await resolveCaller(request), (request.params as Static<typeof InstitutionParams>).institutionId);
    return reply.status(204).send();
  });
}

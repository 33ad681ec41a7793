import type { FastifyInstance } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import type { HttpCallerResolver } from '../access/http-caller.ts';
import type { MdtService } from './mdt-service.ts';

const SessionParams = Type.Object({ id: Type.String({ pattern: '^mdt-[0-9a-f-]{36}$' }) });
const Text = (maxLength: number) => Type.String({ minLength: 1, maxLength, pattern: '\\S' });
const Uid = Type.String({ minLength: 1, maxLength: 64, pattern: '^[0-9.]+$' });

const ScheduleBody = Type.Object(
  {
    title: Text(200),
    scheduledAt: Type.String({ format: 'date-time' }),
    studyInstanceUids: Type.Array(Uid, { maxItems: 50 }),
    reportIds: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 64 }), { maxItems: 50 })),
    attachments: Type.Optional(Type.Array(Type.Object({ title: Text(200), text: Type.Optional(Type.String({ maxLength: 20_000 })) }, { additionalProperties: false }), { maxItems: 20 })),
    departments: Type.Array(Text(64), { minItems: 1, maxItems: 20 }),
    participants: Type.Array(Type.Object({ username: Type.String({ minLength: 1, maxLength: 64 }), department: Text(64) }, { additionalProperties: false }), { minItems: 1, maxItems: 50 }),
    consultationId: Type.Optional(Type.String({ pattern: '^con-[0-9a-f-]{36}$' })),
  },
  { additionalProperties: false },
);
const EmptyBody = Type.Object({}, { additionalProperties: false });
const MinutesBody = Type.Object(
  { minutes: Text(50_000), decisions: Type.Array(Text(2000), { maxItems: 50 }), followUpDate: Type.Optional(Type.String({ pattern: '^\\d{4}-\\d{2}-\\d{2}$' })) },
  { additionalProperties: false },
);
const ListQuery = Type.Object({ from: Type.Optional(Type.String({ format: 'date-time' })), to: Type.Optional(Type.String({ format: 'date-time' })) }, { additionalProperties: false });

/**
 * MDT session routes (docs/consultation.md "MDT sessions"). Each route's permission is checked
 * before any lookup (the route permission hook); the service applies scope and audit.
 */
export async function registerMdtRoutes(app: FastifyInstance, options: { sessions: MdtService; resolveCaller: HttpCallerResolver }): Promise<void> {
  const { sessions, resolveCaller } = options;
  const tags = ['MDT'];
  const id = (request: { params: unknown }) => (request.params as Static<typeof SessionParams>).id;

  app.post('/api/v1/mdt-sessions', { config: { permission: 'mdt:write' }, schema: { tags, body: ScheduleBody } }, async (request, reply) =>
    reply.status(201).send(await sessions.schedule(await resolveCaller(request), request.body as Static<typeof ScheduleBody>)),
  );
  app.get('/api/v1/mdt-sessions', { config: { permission: 'mdt:read' }, schema: { tags, querystring: ListQuery } }, async (request) => sessions.list(await resolveCaller(request), request.query as Static<typeof ListQuery>));
  app.get('/api/v1/mdt-sessions/:id', { config: { permission: 'mdt:read' }, schema: { tags, params: SessionParams } }, async (request) => sessions.get(await resolveCaller(request), id(request)));
  app.post('/api/v1/mdt-sessions/:id/attendance', { config: { permission: 'mdt:read' }, schema: { tags, params: SessionParams, body: EmptyBody } }, async (request) => sessions.attend(await resolveCaller(request), id(request)));
  app.post('/api/v1/mdt-sessions/:id/minutes', { config: { permission: 'mdt:write' }, schema: { tags, params: SessionParams, body: MinutesBody } }, async (request) =>
    sessions.recordMinutes(await resolveCaller(request), id(request), request.body as Static<typeof MinutesBody>),
  );
}

import type { ServerResponse } from 'node:http';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import { noAudit, type AuditRecorder } from '../access/audit-event.ts';
import { actsForEveryInstitution, type Caller } from '../access/caller.ts';
import { badRequest } from '../errors.ts';
import type { NotificationBus, NotificationEvent } from '../events/notification-bus.ts';

export interface EventRouteOptions {
  bus: NotificationBus;
  resolveCaller: (request: FastifyRequest) => Promise<Caller>;
  /** each subscription is recorded (issue 12): a stream of notifications is a view too */
  audit?: AuditRecorder;
  /** comment line sent when nothing else was [15 s]: keeps proxies from closing an idle stream */
  heartbeatMs?: number;
}

const EventsQuery = Type.Object(
  {
    /** for EventSource reconnects that cannot set the Last-Event-ID header themselves */
    lastEventId: Type.Optional(Type.Integer({ minimum: 0 })),
    /** EventSource cannot send an Authorization header: the bearer token from POST /api/v1/auth/login */
    access_token: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
  },
  { additionalProperties: false },
);

/** A client that stops reading is dropped once this much is queued for it. */
const MAX_BUFFERED_BYTES = 1024 * 1024;

/**
 * `GET /api/v1/events`: the caller's notifications as server-sent events (`id:` the
 * outbox seq, `event:` the type such as `report.signed`, `data:` the notification as
 * JSON). A user receives the notifications of their own institution, administrators all.
 * Reconnects resume after `Last-Event-ID` (header, or `?lastEventId=`); the stream works
 * on whichever server process the client reaches (events/notification-bus.ts).
 */
export async function registerEventRoutes(app: FastifyInstance, options: EventRouteOptions): Promise<void> {
  const { bus, resolveCaller } = options;
  const heartbeatMs = options.heartbeatMs ?? 15_000;
  const open = new Set<ServerResponse>();

  // Streams never end by themselves: end them when the server closes.
  app.addHook('preClose', async () => {
    for (const response of open) response.end();
    open.clear();
  });

  app.get(
    '/api/v1/events',
    {
      schema: {
        tags: ['events'],
        summary: 'Notifications for the caller as server-sent events',
        description: 'text/event-stream. Accepts `Authorization: Bearer <token>` or, for EventSource, `?access_token=<token>`; resumes after `Last-Event-ID`.',
        querystring: EventsQuery,
        security: [{ bearer: [] }],
      },
      // Notifications name patients and reports: only roles that may see them (issue 12, finding 2).
      config: { permission: 'patients:read' },
      // On this route only, the token may come in the query string; it is checked exactly
      // like the header (the same resolver), and the logger writes paths without queries.
      onRequest: async (request) => {
        const token = (request.query as { access_token?: unknown }).access_token;
        if (typeof token === 'string' && !request.headers.authorization) request.headers.authorization = `Bearer ${token}`;
      },
    },
    async (request, reply) => {
      const query = request.query as Static<typeof EventsQuery>;
      const caller = await resolveCaller(request);
      const fromSeq = lastEventIdOf(request.headers['last-event-id'], query.lastEventId);
      const institutionIds = actsForEveryInstitution(caller) ? ('all' as const) : [caller.institutionId];

      await (options.audit ?? noAudit).record({ action: 'events.subscribed', caller, details: { institutionIds, fromSeq: fromSeq ?? null } });
      reply.hijack();
      const response = reply.raw;
      response.writeHead(200, {
        'Content-Type': 'text/event-stream; charset=utf-8',
        'Cache-Control': 'no-store',
        'X-Accel-Buffering': 'no',
        Connection: 'keep-alive',
      });
      open.add(response);
      const write = (text: string): void => {
        if (response.destroyed || response.writableEnded) return;
        response.write(text);
        if (response.writableLength > MAX_BUFFERED_BYTES) response.destroy();
      };
      // `retry:` tells EventSource how soon to reconnect; the comment flushes the headers.
      write('retry: 3000\n: connected\n\n');

      const unsubscribe = bus.subscribe({ institutionIds }, (event) => write(formatEvent(event)), fromSeq);
      const heartbeat = setInterval(() => write(': heartbeat\n\n'), heartbeatMs);
      heartbeat.unref();
      const cleanUp = (): void => {
        clearInterval(heartbeat);
        unsubscribe();
        open.delete(response);
      };
      // A disconnecting client closes the response (and so does destroy() above).
      response.on('close', cleanUp);
    },
  );
}

function formatEvent(event: NotificationEvent): string {
  const data = JSON.stringify({ seq: event.seq, type: event.type, institutionId: event.institutionId, createdAt: event.createdAt, payload: event.payload });
  // JSON.stringify escapes line breaks inside strings, so `data` is one line; the type is
  // checked on publish (no line breaks).
  return `id: ${event.seq}\nevent: ${event.type}\ndata: ${data}\n\n`;
}

/** The Last-Event-ID header wins over the query parameter; both are outbox seqs. */
function lastEventIdOf(header: string | string[] | undefined, fromQuery: number | undefined): number | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  if (value === undefined || value.trim() === '') return fromQuery;
  if (!/^\d{1,15}$/.test(value.trim())) throw badRequest('INVALID_LAST_EVENT_ID', 'Last-Event-ID must be a notification sequence number');
  return Number(value.trim());
}

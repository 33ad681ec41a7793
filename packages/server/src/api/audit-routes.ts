import { Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import { parseChainHead, type AuditTrail } from '../access/audit-trail.ts';
import type { HttpCallerResolver } from '../access/http-caller.ts';
import type { AuditSearch } from '../store/audit-store.ts';
import { auditExportLines, publicAuditRow } from '../access/audit-export.ts';

export interface AuditRouteOptions {
  audit: AuditTrail;
  resolveCaller: HttpCallerResolver;
  /** the zone of the CSV export's times (config.timeZone) [UTC] */
  timeZone?: string;
}

const SearchQuery = Type.Object(
  {
    from: Type.Optional(Type.String({ format: 'date-time' })),
    to: Type.Optional(Type.String({ format: 'date-time' })),
    action: Type.Optional(Type.String({ maxLength: 64 })),
    actor: Type.Optional(Type.String({ maxLength: 64 })),
    institutionId: Type.Optional(Type.String({ maxLength: 64 })),
    objectId: Type.Optional(Type.String({ maxLength: 128 })),
    patientId: Type.Optional(Type.String({ maxLength: 64 })),
    via: Type.Optional(Type.String({ maxLength: 16 })),
    afterSeq: Type.Optional(Type.Integer({ minimum: 0 })),
    beforeSeq: Type.Optional(Type.Integer({ minimum: 1 })),
    order: Type.Optional(Type.Union([Type.Literal('asc'), Type.Literal('desc')])),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
  },
  { additionalProperties: false },
);
const { limit: _limit, order: _order, beforeSeq: _beforeSeq, ...filterProperties } = SearchQuery.properties;
const VerificationQuery = Type.Object({ expectHead: Type.Optional(Type.String({ pattern: '^[0-9]{1,15}:[0-9a-f]{64}$', description: 'a head recorded earlier (SEQ:HASH): the chain must still pass through it' })) }, { additionalProperties: false });
const ExportQuery = Type.Object({ ...filterProperties, format: Type.Optional(Type.Union([Type.Literal('csv'), Type.Literal('ndjson')])) }, { additionalProperties: false });

/** Auditors search, export and verify the trail; each of those acts is itself recorded. */
export async function registerAuditRoutes(app: FastifyInstance, options: AuditRouteOptions): Promise<void> {
  const { audit, resolveCaller } = options;

  app.get('/api/v1/audit-events', { config: { permission: 'audit:read' }, schema: { tags: ['audit'], querystring: SearchQuery } }, async (request) => {
    const caller = await resolveCaller(request);
    const query = request.query as Static<typeof SearchQuery>;
    const rows = await audit.search({ ...searchOf(query), beforeSeq: query.beforeSeq, newestFirst: query.order === 'desc', limit: query.limit ?? 100 });
    await audit.record({ action: 'audit.searched', caller, objectType: 'audit', details: { filter: query, results: rows.length } });
    return rows.map(publicAuditRow);
  });

  app.get('/api/v1/audit-events/export', { config: { permission: 'audit:read' }, schema: { tags: ['audit'], querystring: ExportQuery } }, async (request, reply) => {
    const caller = await resolveCaller(request);
    const query = request.query as Static<typeof ExportQuery>;
    const format = query.format ?? 'ndjson';
    await audit.record({ action: 'audit.exported', caller, objectType: 'audit', details: { filter: query } });
    reply.header('Content-Type', format === 'csv' ? 'text/csv; charset=utf-8' : 'application/x-ndjson');
    reply.header('Content-Disposition', `attachment; filename="audit-events.${format === 'csv' ? 'csv' : 'ndjson'}"`);
    reply.header('Cache-Control', 'no-store');
    return reply.send(Readable.from(auditExportLines(audit, { filter: searchOf(query), format, byteOrderMark: true, timeZone: options.timeZone })));
  });

  // The answer names the head (SEQ:HASH): keep it outside the server and pass it back as
  // expectHead later, so that a cut tail or a rewritten chain shows.
  app.get('/api/v1/audit-events/verification', { config: { permission: 'audit:read' }, schema: { tags: ['audit'], querystring: VerificationQuery } }, async (request) => {
    const caller = await resolveCaller(request);
    const { expectHead } = request.query as Static<typeof VerificationQuery>;
    const result = await audit.verify(expectHead === undefined ? undefined : parseChainHead(expectHead));
    await audit.record({ action: 'audit.verified', caller, objectType: 'audit', details: { ok: result.ok, count: result.count, head: result.head, expectHead: expectHead ?? null } });
    return result;
  });
}

function searchOf(query: Omit<Static<typeof SearchQuery>, 'limit'>): Omit<AuditSearch, 'limit'> {
  return { from: query.from, to: query.to, action: query.action, actorName: query.actor, actorInstitutionId: query.institutionId, objectId: query.objectId, patientId: query.patientId, via: query.via, afterSeq: query.afterSeq };
}

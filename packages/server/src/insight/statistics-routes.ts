import type { FastifyInstance } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import type { AuditRecorder } from '../access/audit-event.ts';
import { actsForEveryInstitution } from '../access/caller.ts';
import type { HttpCallerResolver } from '../access/http-caller.ts';
import type { AccessStore } from '../store/access-store.ts';
import type { StatisticsStore } from '../store/statistics-store.ts';

const StatisticsQuery = Type.Object(
  {
    groupBy: Type.Union([Type.Literal('institution'), Type.Literal('modality'), Type.Literal('month')]),
    from: Type.Optional(Type.String({ pattern: '^[0-9]{8}$' })),
    to: Type.Optional(Type.String({ pattern: '^[0-9]{8}$' })),
    /** with groupBy=institution: each row also carries the institution's name (for chart labels) */
    names: Type.Optional(Type.Literal('true')),
  },
  { additionalProperties: false },
);

/**
 * Study counts for commission analysts (卫健委): by institution, modality or month, over
 * the institutions of their region, never a patient or an image. The dashboards of the
 * oversight issue build on this.
 */
export async function registerStatisticsRoutes(app: FastifyInstance, options: { statistics: StatisticsStore; accessStore: AccessStore; audit: AuditRecorder; resolveCaller: HttpCallerResolver }): Promise<void> {
  app.get('/api/v1/statistics/studies', { config: { permission: 'statistics:read' }, schema: { tags: ['statistics'], querystring: StatisticsQuery } }, async (request) => {
    const caller = await options.resolveCaller(request);
    const query = request.query as Static<typeof StatisticsQuery>;
    // Analysts count their whole region, whatever their image scope (they have none).
    const institutions = actsForEveryInstitution(caller) ? undefined : await options.accessStore.institutionSubtree(caller.institutionId);
    const counts = await options.statistics.countStudies(query.groupBy, institutions, query.from, query.to);
    await options.audit.record({ action: 'statistics.viewed', caller, details: { report: 'studies', groupBy: query.groupBy, from: query.from ?? null, to: query.to ?? null, institutions: institutions?.length ?? 'all' } });
    if (query.groupBy !== 'institution' || query.names !== 'true') return counts;
    // the charts label a bar 周市镇卫生院, not ks-t1: each institution row carries its name
    return Promise.all(counts.map(async (row) => ({ ...row, name: row.key ? (await options.accessStore.findInstitution(row.key))?.name ?? null : null })));
  });
}

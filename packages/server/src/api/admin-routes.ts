import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type } from '@sinclair/typebox';
import type { Caller } from '../access/caller.ts';
import type { Archive } from '../archive/archive.ts';
import { notFound, YunyingError } from '../errors.ts';

export interface AdminRouteOptions {
  archive: Archive;
  resolveCaller(request: FastifyRequest): Promise<Caller>;
}

const DicomNodeBody = Type.Object({
  host: Type.String({ minLength: 1, maxLength: 255 }),
  port: Type.Integer({ minimum: 1, maximum: 65535 }),
  institutionId: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
});
const AeTitleParams = Type.Object({ aeTitle: Type.String({ pattern: '^[\\x20-\\x5b\\x5d-\\x7e]{1,16}$' }) });

/**
 * DICOM nodes: the peers a C-MOVE may send to (PUT /api/v1/dicom-nodes/{aeTitle}).
 * Administrators only; the full admin API (institutions, users) comes with access control.
 */
export async function registerAdminRoutes(app: FastifyInstance, options: AdminRouteOptions): Promise<void> {
  const requireAdministrator = async (request: FastifyRequest): Promise<Caller> => {
    const caller = await options.resolveCaller(request);
    if (caller.role !== 'administrator') throw new YunyingError('FORBIDDEN', 'administrators only', 403);
    return caller;
  };

  app.get('/api/v1/dicom-nodes', async (request) => {
    await requireAdministrator(request);
    const nodes = await options.archive.index.listNodes();
    return nodes.map((node) => ({ aeTitle: node.ae_title, host: node.host, port: node.port, institutionId: node.institution_id }));
  });

  app.put('/api/v1/dicom-nodes/:aeTitle', { schema: { params: AeTitleParams, body: DicomNodeBody } }, async (request) => {
    const caller = await requireAdministrator(request);
    const { aeTitle } = request.params as { aeTitle: string };
    const body = request.body as { host: string; port: number; institutionId?: string };
    const node = { aeTitle: aeTitle.trim(), host: body.host, port: body.port, institutionId: body.institutionId ?? caller.institutionId };
    await options.archive.registerNode(node);
    return node;
  });

  app.delete('/api/v1/dicom-nodes/:aeTitle', { schema: { params: AeTitleParams } }, async (request, reply) => {
    await requireAdministrator(request);
    const { aeTitle } = request.params as { aeTitle: string };
    if (!(await options.archive.index.deleteNode(aeTitle.trim()))) throw notFound(`DICOM node ${aeTitle}`);
    return reply.status(204).send();
  });
}

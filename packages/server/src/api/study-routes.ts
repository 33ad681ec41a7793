import type { FastifyInstance } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import type { HttpCallerResolver } from '../access/http-caller.ts';
import { correctStudyDemographics, deleteStudy, type MaintenanceDependencies } from '../archive/study-maintenance.ts';

const StudyParams = Type.Object({ study: Type.String({ pattern: '^[0-9.]{1,64}$' }) });
const CorrectionBody = Type.Object(
  {
    patientId: Type.Optional(Type.String({ maxLength: 64 })),
    patientName: Type.Optional(Type.String({ maxLength: 200 })),
    patientBirthDate: Type.Optional(Type.String({ pattern: '^([0-9]{8})?$' })),
    patientSex: Type.Optional(Type.Union([Type.Literal('M'), Type.Literal('F'), Type.Literal('O'), Type.Literal('')])),
    reason: Type.String({ minLength: 1, maxLength: 500 }),
  },
  { additionalProperties: false },
);
const DeleteQuery = Type.Object({ reason: Type.String({ minLength: 1, maxLength: 500 }) }, { additionalProperties: false });

/** Administrators correct demographics and delete studies; both are audited with the old values. */
export async function registerStudyRoutes(app: FastifyInstance, options: { deps: MaintenanceDependencies; resolveCaller: HttpCallerResolver }): Promise<void> {
  app.post('/api/v1/studies/:study/corrections', { config: { permission: 'studies:manage' }, schema: { tags: ['studies'], params: StudyParams, body: CorrectionBody } }, async (request) => {
    const { reason, ...correction } = request.body as Static<typeof CorrectionBody>;
    return correctStudyDemographics(options.deps, await options.resolveCaller(request), (request.params as Static<typeof StudyParams>).study, correction, reason);
  });
  app.delete('/api/v1/studies/:study', { config: { permission: 'studies:manage' }, schema: { tags: ['studies'], params: StudyParams, querystring: DeleteQuery } }, async (request) =>
    deleteStudy(options.deps, await options.resolveCaller(request), (request.params as Static<typeof StudyParams>).study, (request.query as Static<typeof DeleteQuery>).reason),
  );
}

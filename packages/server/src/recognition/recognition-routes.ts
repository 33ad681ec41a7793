import type { FastifyInstance } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import type { HttpCallerResolver } from '../access/http-caller.ts';
import type { PatientIndex } from './patient-index.ts';
import type { PatientLookup } from './patient-lookup.ts';
import { DEFAULT_REGION, type RecognitionRecords } from './recognition-records.ts';

const PersonParams = Type.Object({ id: Type.String({ pattern: '^psn-[0-9a-f-]{36}$' }) });
const CandidateParams = Type.Object({ id: PersonParams.properties.id, candidateId: Type.String({ pattern: '^cand-[0-9a-f-]{36}$' }) });
const CodeParams = Type.Object({ code: Type.String({ minLength: 1, maxLength: 64 }) });
const Reason = Type.String({ minLength: 1, maxLength: 500, pattern: '\\S' });
const Uid = Type.String({ minLength: 1, maxLength: 64, pattern: '^[0-9.]+$' });
const DicomDate = Type.String({ pattern: '^\\d{4}-?\\d{2}-?\\d{2}$' });
const BodyPart = Type.String({ minLength: 1, maxLength: 64 });

const SearchQuery = Type.Object(
  { nationalId: Type.Optional(Type.String({ minLength: 1, maxLength: 32 })), name: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })), birthDate: Type.Optional(DicomDate) },
  { additionalProperties: false },
);
const DecisionBody = Type.Object({ reason: Type.Optional(Type.String({ maxLength: 500 })) }, { additionalProperties: false });
const PersonBody = Type.Object({ personId: PersonParams.properties.id, reason: Reason }, { additionalProperties: false });
const UnlinkBody = Type.Object({ identityId: Type.String({ pattern: '^pid-[0-9a-f-]{36}$' }), reason: Reason }, { additionalProperties: false });
const AccessBody = Type.Object({ studyInstanceUid: Uid, reason: Reason, emergency: Type.Optional(Type.Boolean()) }, { additionalProperties: false });
const DuplicateBody = Type.Object(
  {
    patient: Type.Object(
      {
        nationalId: Type.Optional(Type.String({ minLength: 1, maxLength: 32 })),
        patientId: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
        issuerOfPatientId: Type.Optional(Type.String({ maxLength: 64 })),
        institutionId: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
      },
      { additionalProperties: false },
    ),
    modality: Type.String({ pattern: '^[A-Za-z]{2}$' }),
    bodyPart: Type.Optional(BodyPart),
    examItem: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
    withinDays: Type.Optional(Type.Integer({ minimum: 1, maximum: 3650 })),
  },
  { additionalProperties: false },
);
const RecognitionBody = Type.Object(
  {
    studyInstanceUid: Uid,
    decision: Type.Union([Type.Literal('recognised'), Type.Literal('not-recognised')]),
    reason: Reason,
    avoidedExamItem: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
    avoidedBodyParts: Type.Optional(Type.Array(BodyPart, { maxItems: 20 })),
  },
  { additionalProperties: false },
);
const RecognitionQuery = Type.Object({ patientId: Type.Optional(PersonParams.properties.id), studyInstanceUid: Type.Optional(Uid) }, { additionalProperties: false });
const StatisticsQuery = Type.Object(
  { groupBy: Type.Union([Type.Literal('institution'), Type.Literal('month')]), from: Type.Optional(Type.String({ format: 'date-time' })), to: Type.Optional(Type.String({ format: 'date-time' })) },
  { additionalProperties: false },
);
const RegionQuery = Type.Object({ region: Type.Optional(Type.String({ minLength: 1, maxLength: 32 })) }, { additionalProperties: false });
const ItemBody = Type.Object(
  {
    region: Type.Optional(Type.String({ minLength: 1, maxLength: 32 })),
    name: Type.String({ minLength: 1, maxLength: 128 }),
    modality: Type.String({ pattern: '^[A-Za-z]{2}$' }),
    bodyPart: Type.Optional(Type.Union([BodyPart, Type.Null()])),
    windowDays: Type.Integer({ minimum: 1, maximum: 3650 }),
    minInstitutionGrade: Type.Optional(Type.Union([Type.Integer({ minimum: 1, maximum: 3 }), Type.Null()])),
    requireSignedReport: Type.Boolean(),
    referencePriceYuan: Type.Optional(Type.Union([Type.Number({ minimum: 0 }), Type.Null()])),
  },
  { additionalProperties: false },
);

/**
 * Mutual recognition routes (docs/recognition.md). Each route's permission is checked before
 * any lookup (the route permission hook); the services apply scope and audit.
 */
export async function registerRecognitionRoutes(app: FastifyInstance, options: { index: PatientIndex; lookup: PatientLookup; records: RecognitionRecords; resolveCaller: HttpCallerResolver }): Promise<void> {
  const { index, lookup, records, resolveCaller } = options;
  const tags = ['mutual recognition'];
  const person = (request: { params: unknown }) => (request.params as Static<typeof PersonParams>).id;

  app.get('/api/v1/patients', { config: { permission: 'recognition:search' }, schema: { tags, querystring: SearchQuery } }, async (request) => lookup.search(await resolveCaller(request), request.query as Static<typeof SearchQuery>));
  app.get('/api/v1/patients/:id', { config: { permission: 'recognition:search' }, schema: { tags, params: PersonParams } }, async (request) => lookup.person(await resolveCaller(request), person(request)));
  app.get('/api/v1/patients/:id/timeline', { config: { permission: 'recognition:search' }, schema: { tags, params: PersonParams } }, async (request) => lookup.timeline(await resolveCaller(request), person(request)));
  app.post('/api/v1/patients/:id/access-requests', { config: { permission: 'recognition:access' }, schema: { tags, params: PersonParams, body: AccessBody } }, async (request, reply) =>
    reply.status(201).send(await lookup.requestAccess(await resolveCaller(request), person(request), request.body as Static<typeof AccessBody>)),
  );
  app.post('/api/v1/patients/:id/candidates/:candidateId/confirm', { config: { permission: 'recognition:link' }, schema: { tags, params: CandidateParams, body: DecisionBody } }, async (request) => {
    const caller = await resolveCaller(request);
    const { id, candidateId } = request.params as Static<typeof CandidateParams>;
    const survivor = await index.confirmCandidate(caller, id, candidateId, (request.body as Static<typeof DecisionBody>).reason);
    return lookup.person(caller, survivor);
  });
  app.post('/api/v1/patients/:id/candidates/:candidateId/reject', { config: { permission: 'recognition:link' }, schema: { tags, params: CandidateParams, body: DecisionBody } }, async (request) => {
    const caller = await resolveCaller(request);
    const { id, candidateId } = request.params as Static<typeof CandidateParams>;
    await index.rejectCandidate(caller, id, candidateId, (request.body as Static<typeof DecisionBody>).reason);
    return lookup.person(caller, id);
  });
  app.post('/api/v1/patients/:id/merge', { config: { permission: 'recognition:merge' }, schema: { tags, params: PersonParams, body: PersonBody } }, async (request) => {
    const caller = await resolveCaller(request);
    const { personId, reason } = request.body as Static<typeof PersonBody>;
    await index.merge(caller, person(request), personId, reason);
    return lookup.person(caller, person(request));
  });
  app.post('/api/v1/patients/:id/unmerge', { config: { permission: 'recognition:merge' }, schema: { tags, params: PersonParams, body: PersonBody } }, async (request) => {
    const caller = await resolveCaller(request);
    const { personId, reason } = request.body as Static<typeof PersonBody>;
    await index.unmerge(caller, person(request), personId, reason);
    return lookup.person(caller, person(request));
  });
  app.post('/api/v1/patients/:id/unlink', { config: { permission: 'recognition:merge' }, schema: { tags, params: PersonParams, body: UnlinkBody } }, async (request) => {
    const caller = await resolveCaller(request);
    const { identityId, reason } = request.body as Static<typeof UnlinkBody>;
    await index.unlink(caller, person(request), identityId, reason);
    return lookup.person(caller, person(request));
  });

  app.post('/api/v1/duplicate-checks', { config: { permission: 'recognition:check' }, schema: { tags, body: DuplicateBody } }, async (request) => records.duplicateCheck(await resolveCaller(request), request.body as Static<typeof DuplicateBody>));
  app.post('/api/v1/recognitions', { config: { permission: 'recognition:record' }, schema: { tags, body: RecognitionBody } }, async (request, reply) =>
    reply.status(201).send(await records.record(await resolveCaller(request), request.body as Static<typeof RecognitionBody>)),
  );
  app.get('/api/v1/recognitions', { config: { permission: 'recognition:search' }, schema: { tags, querystring: RecognitionQuery } }, async (request) => {
    const query = request.query as Static<typeof RecognitionQuery>;
    return records.list(await resolveCaller(request), { ...(query.patientId ? { personId: query.patientId } : {}), ...(query.studyInstanceUid ? { studyInstanceUid: query.studyInstanceUid } : {}) });
  });
  app.get('/api/v1/statistics/recognitions', { config: { permission: 'recognition:statistics' }, schema: { tags, querystring: StatisticsQuery } }, async (request) => records.statistics(await resolveCaller(request), request.query as Static<typeof StatisticsQuery>));

  app.get('/api/v1/recognition-items', { config: { permission: 'recognition:items-read' }, schema: { tags, querystring: RegionQuery } }, async (request) => records.items(await resolveCaller(request), (request.query as Static<typeof RegionQuery>).region));
  app.put('/api/v1/recognition-items/:code', { config: { permission: 'recognition:items-write' }, schema: { tags, params: CodeParams, body: ItemBody } }, async (request) => {
    const body = request.body as Static<typeof ItemBody>;
    return records.putItem(await resolveCaller(request), (request.params as Static<typeof CodeParams>).code, {
      region: body.region ?? DEFAULT_REGION,
      name: body.name,
      modality: body.modality,
      bodyPart: body.bodyPart ?? null,
      windowDays: body.windowDays,
      minInstitutionGrade: body.minInstitutionGrade ?? null,
      requireSignedReport: body.requireSignedReport,
      referencePriceYuan: body.referencePriceYuan ?? null,
    });
  });
  app.delete('/api/v1/recognition-items/:code', { config: { permission: 'recognition:items-write' }, schema: { tags, params: CodeParams, querystring: RegionQuery } }, async (request, reply) => {
    await records.removeItem(await resolveCaller(request), (request.query as Static<typeof RegionQuery>).region ?? DEFAULT_REGION, (request.params as Static<typeof CodeParams>).code);
    return reply.status(204).send();
  });
}

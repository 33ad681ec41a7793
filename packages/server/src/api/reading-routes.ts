import type { FastifyInstance } from 'fastify';
import type { CreationHooks, ExamCreatedFacts } from '../modules/creation-hooks.ts';
import { Type, type Static } from '@sinclair/typebox';
import type { HttpCallerResolver } from '../access/http-caller.ts';
import { noAudit, type AuditRecorder } from '../access/audit-event.ts';
import type { ReadingServices } from '../reading/reading-services.ts';
import { PRIORITIES } from '../reading/sla.ts';

const Id = Type.Object({ id: Type.String({ pattern: '^[0-9a-f-]{36}$' }) });
const Uid = Type.String({ pattern: '^[0-9.]{1,64}$' });
const PriorParams = Type.Object({ id: Id.properties.id, studyInstanceUid: Uid });
const Priority = Type.Union(PRIORITIES.map((p) => Type.Literal(p)));
const Text = (max: number) => Type.String({ minLength: 1, maxLength: max });

const CreateBody = Type.Object(
  {
    studyInstanceUid: Uid,
    readingInstitutionId: Type.Optional(Type.String({ maxLength: 64 })),
    priority: Priority,
    clinicalHistory: Type.Optional(Type.String({ maxLength: 4000 })),
    examItems: Type.Optional(Type.Array(Text(100), { maxItems: 20 })),
    bodyParts: Type.Optional(Type.Array(Text(64), { maxItems: 20 })),
    imagesComplete: Type.Optional(Type.Boolean()),
    /** 居民身份证号 of the patient, for the regional patient index (recognition/): never stored with the request */
    nationalId: Type.Optional(Type.String({ minLength: 1, maxLength: 32 })),
  },
  { additionalProperties: false },
);
const WorklistQuery = Type.Object(
  {
    status: Type.Optional(Type.String({ maxLength: 200 })),
    priority: Type.Optional(Type.String({ maxLength: 100 })),
    modality: Type.Optional(Type.String({ maxLength: 16 })),
    requestingInstitutionId: Type.Optional(Type.String({ maxLength: 64 })),
    from: Type.Optional(Type.String({ format: 'date-time' })),
    to: Type.Optional(Type.String({ format: 'date-time' })),
    mine: Type.Optional(Type.Boolean()),
    /** patient name (hanzi or pinyin), Patient ID or accession number */
    q: Type.Optional(Type.String({ maxLength: 64 })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500 })),
    offset: Type.Optional(Type.Integer({ minimum: 0 })),
  },
  { additionalProperties: false },
);
const ReasonBody = Type.Object({ reason: Text(500) }, { additionalProperties: false });
const CommentsBody = Type.Object({ comments: Text(4000) }, { additionalProperties: false });
const AddendumBody = Type.Object({ text: Text(8000) }, { additionalProperties: false });
/** The electronic signature (password or signing PIN) and, when the reviewer edits before signing, their text. */
const SignBody = Type.Object(
  {
    password: Type.Optional(Type.String({ maxLength: 256 })),
    pin: Type.Optional(Type.String({ maxLength: 16 })),
    findings: Type.Optional(Type.String({ maxLength: 20000 })),
    impression: Type.Optional(Type.String({ maxLength: 8000 })),
    positive: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);
const ImageRef = {
  seriesInstanceUid: Uid,
  sopInstanceUid: Uid,
  frame: Type.Integer({ minimum: 1, maximum: 100000 }),
  seriesNumber: Type.Optional(Type.Union([Type.Integer(), Type.Null()])),
  instanceNumber: Type.Optional(Type.Union([Type.Integer(), Type.Null()])),
};
const MeasurementBody = Type.Object({ ...ImageRef, studyInstanceUid: Type.Optional(Uid), tool: Type.String({ minLength: 1, maxLength: 32 }), value: Type.Number(), unit: Type.String({ maxLength: 16 }), text: Text(300) }, { additionalProperties: false });
const KeyImageBody = Type.Object({ ...ImageRef, studyInstanceUid: Type.Optional(Uid), note: Type.Optional(Type.Union([Type.String({ maxLength: 300 }), Type.Null()])) }, { additionalProperties: false });
const DraftBody = Type.Object(
  {
    findings: Type.String({ maxLength: 20000 }),
    impression: Type.String({ maxLength: 8000 }),
    positive: Type.Optional(Type.Union([Type.Boolean(), Type.Null()])),
    templateId: Type.Optional(Type.String({ maxLength: 100 })),
    // reporting productivity (issue 14, item 7): given, they replace the report's
    measurements: Type.Optional(Type.Array(MeasurementBody, { maxItems: 100 })),
    keyImages: Type.Optional(Type.Array(KeyImageBody, { maxItems: 50 })),
  },
  { additionalProperties: false },
);
const RuleBody = Type.Object(
  {
    name: Text(100),
    position: Type.Optional(Type.Integer({ minimum: 0, maximum: 100000 })),
    sourceInstitutionId: Type.Optional(Type.String({ maxLength: 64 })),
    modality: Type.Optional(Type.String({ maxLength: 16 })),
    bodyPart: Type.Optional(Type.String({ maxLength: 64 })),
    timeFrom: Type.Optional(Type.String({ pattern: '^([01][0-9]|2[0-3]):[0-5][0-9]$' })),
    timeTo: Type.Optional(Type.String({ pattern: '^([01][0-9]|2[0-3]):[0-5][0-9]$' })),
    readingInstitutionId: Type.String({ maxLength: 64 }),
    priority: Type.Optional(Priority),
  },
  { additionalProperties: false },
);
const Cleared = (schema: ReturnType<typeof Type.String>) => Type.Optional(Type.Union([schema, Type.Null()]));
const RulePatch = Type.Object(
  {
    name: Type.Optional(Text(100)),
    position: Type.Optional(Type.Integer({ minimum: 0, maximum: 100000 })),
    enabled: Type.Optional(Type.Boolean()),
    sourceInstitutionId: Cleared(Type.String({ maxLength: 64 })),
    modality: Cleared(Type.String({ maxLength: 16 })),
    bodyPart: Cleared(Type.String({ maxLength: 64 })),
    timeFrom: Cleared(Type.String({ pattern: '^([01][0-9]|2[0-3]):[0-5][0-9]$' })),
    timeTo: Cleared(Type.String({ pattern: '^([01][0-9]|2[0-3]):[0-5][0-9]$' })),
    readingInstitutionId: Type.Optional(Type.String({ maxLength: 64 })),
    priority: Type.Optional(Priority),
  },
  { additionalProperties: false },
);
const TemplateQuery = Type.Object({ modality: Type.Optional(Type.String({ maxLength: 16 })), bodyPart: Type.Optional(Type.String({ maxLength: 64 })), institutionId: Type.Optional(Type.String({ maxLength: 64, description: 'an administrator lists that institution’s templates (others: their own)' })) }, { additionalProperties: false });
const PeriodQuery = Type.Object({ from: Type.String({ format: 'date-time' }), to: Type.String({ format: 'date-time' }) }, { additionalProperties: false });

const list = (value: string | undefined): string[] | undefined => value?.split(',').map((item) => item.trim()).filter(Boolean);

/** Remote diagnosis over REST: thin translation to the reading services, which check roles, scope and state. */
export async function registerReadingRoutes(app: FastifyInstance, options: { reading: ReadingServices; resolveCaller: HttpCallerResolver; audit?: AuditRecorder; created?: CreationHooks<ExamCreatedFacts> }): Promise<void> {
  const { reading, resolveCaller } = options;
  const audit = options.audit ?? noAudit;
  // Each route declares its permission (config.permission, checked before the handler by
  // access/route-permission.ts). Requests, priors and reports name the patient: a role without
  // patient access gets 403 before any lookup, so the refusal says nothing about which ids
  // exist (issue 12, finding 2); the services then check the reading centre, the claimer and
  // the requesting institution on the row. Templates carry no patient data.
  const tags = ['remote diagnosis'];
  const id = (params: unknown) => (params as Static<typeof Id>).id;

  app.post('/api/v1/reading-requests', { config: { permission: 'request:create' }, schema: { tags, body: CreateBody } }, async (request, reply) => {
    const caller = await resolveCaller(request);
    const { nationalId, ...input } = request.body as Static<typeof CreateBody>;
    const facts = { institutionId: caller.institutionId, studyInstanceUid: input.studyInstanceUid, ...(nationalId ? { nationalId } : {}), bodyParts: input.bodyParts ?? [], examItems: input.examItems ?? [] };
    options.created?.validate(facts);
    const created = await reading.requests.createRequest(caller, input);
    const added = (await options.created?.after(caller, { ...facts, institutionId: created.requestingInstitutionId, ...(created.modality ? { modality: created.modality } : {}) })) ?? {};
    return reply.status(201).send({ ...created, ...added });
  });
  app.get('/api/v1/reading-requests', { config: { permission: 'worklist:read' }, schema: { tags, querystring: WorklistQuery } }, async (request) => {
    const caller = await resolveCaller(request);
    const query = request.query as Static<typeof WorklistQuery>;
    return reading.worklist.worklist(caller, { statuses: list(query.status), priorities: list(query.priority), modality: query.modality, requestingInstitutionId: query.requestingInstitutionId, from: query.from, to: query.to, claimedBy: query.mine ? caller.name : undefined, search: query.q, limit: query.limit ?? 100, offset: query.offset ?? 0 });
  });
  app.post('/api/v1/reading-requests/claim-next', { config: { permission: 'request:claim' }, schema: { tags } }, async (request) => reading.worklist.claimNext(await resolveCaller(request)));
  app.get('/api/v1/reading-requests/:id', { config: { permission: 'patients:read' }, schema: { tags, params: Id } }, async (request) => reading.requests.getRequest(await resolveCaller(request), id(request.params)));
  app.post('/api/v1/reading-requests/:id/claim', { config: { permission: 'patients:read' }, schema: { tags, params: Id } }, async (request) => reading.worklist.claim(await resolveCaller(request), id(request.params)));
  app.post('/api/v1/reading-requests/:id/release', { config: { permission: 'patients:read' }, schema: { tags, params: Id } }, async (request) => reading.worklist.release(await resolveCaller(request), id(request.params)));
  app.post('/api/v1/reading-requests/:id/images-complete', { config: { permission: 'patients:read' }, schema: { tags, params: Id } }, async (request) => reading.requests.confirmImagesComplete(await resolveCaller(request), id(request.params)));
  app.post('/api/v1/reading-requests/:id/retake', { config: { permission: 'patients:read' }, schema: { tags, params: Id, body: ReasonBody } }, async (request) => reading.requests.requestRetake(await resolveCaller(request), id(request.params), (request.body as Static<typeof ReasonBody>).reason));
  app.post('/api/v1/reading-requests/:id/resubmit', { config: { permission: 'patients:read' }, schema: { tags, params: Id } }, async (request) => reading.requests.resubmit(await resolveCaller(request), id(request.params)));
  app.post('/api/v1/reading-requests/:id/cancel', { config: { permission: 'patients:read' }, schema: { tags, params: Id, body: ReasonBody } }, async (request) => reading.requests.cancelRequest(await resolveCaller(request), id(request.params), (request.body as Static<typeof ReasonBody>).reason));
  app.get('/api/v1/reading-requests/:id/priors', { config: { permission: 'priors:read' }, schema: { tags, params: Id } }, async (request) => reading.requests.priors(await resolveCaller(request), id(request.params)));
  // Opening a prior the reading centre may not see yet: an explicit act with a reason, audited (issue 12, finding 1).
  app.post('/api/v1/reading-requests/:id/priors/:studyInstanceUid/access', { config: { permission: 'patients:read' }, schema: { tags, params: PriorParams, body: ReasonBody } }, async (request) => {
    const params = request.params as Static<typeof PriorParams>;
    return reading.requests.openPrior(await resolveCaller(request), params.id, params.studyInstanceUid, (request.body as Static<typeof ReasonBody>).reason);
  });
  app.put('/api/v1/reading-requests/:id/report', { config: { permission: 'patients:read' }, schema: { tags, params: Id, body: DraftBody } }, async (request) => reading.reports.saveDraft(await resolveCaller(request), id(request.params), request.body as Static<typeof DraftBody>));

  app.get('/api/v1/reports/:id', { config: { permission: 'patients:read' }, schema: { tags, params: Id } }, async (request) => reading.reports.getReport(await resolveCaller(request), id(request.params)));
  app.post('/api/v1/reports/:id/submit', { config: { permission: 'patients:read' }, schema: { tags, params: Id } }, async (request) => reading.reports.submit(await resolveCaller(request), id(request.params)));
  app.post('/api/v1/reports/:id/sign', { config: { permission: 'patients:read' }, schema: { tags, params: Id, body: SignBody } }, async (request) => reading.reports.sign(await resolveCaller(request), id(request.params), (request.body as Static<typeof SignBody> | undefined) ?? {}));
  app.post('/api/v1/reports/:id/return', { config: { permission: 'patients:read' }, schema: { tags, params: Id, body: CommentsBody } }, async (request) => reading.reports.returnForRevision(await resolveCaller(request), id(request.params), (request.body as Static<typeof CommentsBody>).comments));
  app.post('/api/v1/reports/:id/addenda', { config: { permission: 'patients:read' }, schema: { tags, params: Id, body: AddendumBody } }, async (request) => reading.reports.addAddendum(await resolveCaller(request), id(request.params), (request.body as Static<typeof AddendumBody>).text));

  app.get('/api/v1/report-templates', { schema: { tags, querystring: TemplateQuery } }, async (request) => reading.reports.templates(await resolveCaller(request), request.query as Static<typeof TemplateQuery>));
  app.get('/api/v1/routing-rules', { config: { permission: 'routing:manage' }, schema: { tags } }, async (request) => reading.routing.listRules(await resolveCaller(request)));
  app.post('/api/v1/routing-rules', { config: { permission: 'routing:manage' }, schema: { tags, body: RuleBody } }, async (request, reply) => reply.status(201).send(await reading.routing.createRule(await resolveCaller(request), request.body as Static<typeof RuleBody>)));
  app.patch('/api/v1/routing-rules/:id', { config: { permission: 'routing:manage' }, schema: { tags, params: Id, body: RulePatch } }, async (request) => reading.routing.updateRule(await resolveCaller(request), id(request.params), request.body as Static<typeof RulePatch>));
  app.delete('/api/v1/routing-rules/:id', { config: { permission: 'routing:manage' }, schema: { tags, params: Id } }, async (request, reply) => {
    await reading.routing.deleteRule(await resolveCaller(request), id(request.params));
    return reply.status(204).send();
  });
  app.get('/api/v1/reading-statistics/radiologists', { config: { permission: 'workload:read' }, schema: { tags, querystring: PeriodQuery } }, async (request) => {
    const { from, to } = request.query as Static<typeof PeriodQuery>;
    const caller = await resolveCaller(request);
    const workload = await reading.worklist.radiologistWorkload(caller, from, to);
    await audit.record({ action: 'statistics.viewed', caller, details: { report: 'radiologist-workload', from, to, radiologists: workload.length } });
    return workload;
  });
}

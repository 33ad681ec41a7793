import type { FastifyInstance } from 'fastify';
import type { CreationHooks, ExamCreatedFacts } from '../modules/creation-hooks.ts';
import { Type, type Static } from '@sinclair/typebox';
import type { HttpCallerResolver } from '../access/http-caller.ts';
import { PRIORITIES } from '../reading/sla.ts';
import type { CreateOrderInput, OrderFilter, OrderService, OrderView } from './order-model.ts';
import { ORDER_STATUSES } from './order-model.ts';

const Id = Type.Object({ id: Type.String({ pattern: '^[0-9a-f-]{36}$' }) });
const Text = (maxLength: number) => Type.String({ minLength: 1, maxLength });
const Code = Type.Object({ value: Text(16), scheme: Type.Optional(Text(16)), meaning: Type.Optional(Text(64)) }, { additionalProperties: false });
const CreateBody = Type.Object(
  {
    /** administrators only: the ordering institution; others order for their own */
    institutionId: Type.Optional(Text(64)),
    patient: Type.Object(
      {
        patientId: Text(64),
        issuerOfPatientId: Type.Optional(Text(64)),
        /** '张三', 'Zhang^San' or 'Zhang^San=张^三' */
        name: Text(192),
        sex: Type.Optional(Type.Union([Type.Literal('M'), Type.Literal('F'), Type.Literal('O')])),
        /** YYYYMMDD or YYYY-MM-DD */
        birthDate: Type.Optional(Type.String({ pattern: '^\\d{4}-?\\d{2}-?\\d{2}$' })),
        /** 身份证号 */
        nationalId: Type.Optional(Type.String({ pattern: '^\\d{17}[\\dXx]$' })),
      },
      { additionalProperties: false },
    ),
    accessionNumber: Type.Optional(Text(16)),
    placerOrderNumber: Type.Optional(Text(64)),
    requestedProcedure: Type.Object(
      { id: Type.Optional(Text(16)), description: Text(64), code: Type.Optional(Code), modality: Type.String({ pattern: '^[A-Za-z0-9]{1,16}$' }), bodyPart: Type.Optional(Text(16)) },
      { additionalProperties: false },
    ),
    steps: Type.Optional(
      Type.Array(
        Type.Object(
          {
            id: Type.Optional(Text(16)),
            stationAeTitle: Type.Optional(Text(16)),
            modality: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9]{1,16}$' })),
            /** ISO 8601; without an offset, the platform's local time (YUNYING_TIME_ZONE) */
            startDateTime: Type.Optional(Type.String({ pattern: '^\\d{4}-\\d{2}-\\d{2}(T\\d{2}:\\d{2}(:\\d{2}(\\.\\d+)?)?(Z|[+-]\\d{2}:?\\d{2})?)?$' })),
            performingPhysician: Type.Optional(Text(192)),
            description: Type.Optional(Text(64)),
          },
          { additionalProperties: false },
        ),
        { minItems: 1, maxItems: 20 },
      ),
    ),
    referringPhysician: Type.Optional(Text(192)),
    priority: Type.Optional(Type.Union(PRIORITIES.map((priority) => Type.Literal(priority)))),
    reason: Type.Optional(Type.String({ maxLength: 1024 })),
    readingInstitutionId: Type.Optional(Text(64)),
  },
  { additionalProperties: false },
);
const ListQuery = Type.Object(
  {
    status: Type.Optional(Type.Union(ORDER_STATUSES.map((status) => Type.Literal(status)))),
    patientId: Type.Optional(Text(64)),
    accessionNumber: Type.Optional(Text(16)),
    placerOrderNumber: Type.Optional(Text(64)),
    modality: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9]{1,16}$' })),
    /** a step scheduled to start in [from, to] */
    from: Type.Optional(Type.String({ format: 'date-time' })),
    to: Type.Optional(Type.String({ format: 'date-time' })),
    /** administrators: one institution's */
    institutionId: Type.Optional(Text(64)),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
  },
  { additionalProperties: false },
);
const CancelBody = Type.Object({ reason: Type.Optional(Type.String({ maxLength: 256 })) }, { additionalProperties: false });

/**
 * Orders (检查申请/预约) over REST. Each route's permission is checked before any lookup
 * (the route permission hook); the service applies the institution scope.
 */
export async function registerOrderRoutes(app: FastifyInstance, options: { orders: OrderService; resolveCaller: HttpCallerResolver; created?: CreationHooks<ExamCreatedFacts> }): Promise<void> {
  const { orders, resolveCaller } = options;
  const tags = ['orders'];
  app.post('/api/v1/orders', { config: { permission: 'orders:create' }, schema: { tags, body: CreateBody } }, async (request, reply) => {
    const caller = await resolveCaller(request);
    const input = { ...(request.body as Static<typeof CreateBody>), source: 'rest' } as CreateOrderInput;
    const facts = (order?: OrderView): ExamCreatedFacts => ({
      institutionId: order?.institutionId ?? input.institutionId ?? caller.institutionId,
      studyInstanceUid: order?.studyInstanceUid ?? '',
      patient: { patientId: input.patient.patientId, ...(input.patient.issuerOfPatientId ? { issuerOfPatientId: input.patient.issuerOfPatientId } : {}), name: input.patient.name, ...(input.patient.sex ? { sex: input.patient.sex } : {}), ...(order?.patient.birthDate ? { birthDate: order.patient.birthDate } : {}) },
      ...(input.patient.nationalId ? { nationalId: input.patient.nationalId } : {}),
      modality: input.requestedProcedure.modality,
      bodyParts: input.requestedProcedure.bodyPart ? [input.requestedProcedure.bodyPart] : [],
      examItems: input.requestedProcedure.code ? [input.requestedProcedure.code.value] : [],
    });
    options.created?.validate(facts());
    const order = await orders.createOrder(caller, input);
    return reply.status(201).send({ ...order, ...((await options.created?.after(caller, facts(order))) ?? {}) });
  });
  app.get('/api/v1/orders', { config: { permission: 'orders:read' }, schema: { tags, querystring: ListQuery } }, async (request) => orders.listOrders(await resolveCaller(request), request.query as OrderFilter));
  app.get('/api/v1/orders/:id', { config: { permission: 'orders:read' }, schema: { tags, params: Id } }, async (request) => orders.getOrder(await resolveCaller(request), (request.params as Static<typeof Id>).id));
  // cancelled before acquisition, discontinued once begun
  app.post('/api/v1/orders/:id/cancel', { config: { permission: 'orders:cancel' }, schema: { tags, params: Id, body: Type.Optional(CancelBody) } }, async (request) =>
    orders.cancelOrder(await resolveCaller(request), (request.params as Static<typeof Id>).id, (request.body as Static<typeof CancelBody> | undefined)?.reason),
  );
}

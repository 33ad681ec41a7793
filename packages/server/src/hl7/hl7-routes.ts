import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import type { Caller } from '../access/caller.ts';
import type { HttpCallerResolver } from '../access/http-caller.ts';
import { notFound } from '../errors.ts';
import type { UnitOfWork } from '../store/unit-of-work.ts';
import { hl7Store, type Hl7DestinationTable, type Hl7FacilityTable, type Hl7InboundTable, type Hl7OutboundTable, type Hl7Store } from './hl7-store.ts';

const FACILITY_PATTERN = '^[A-Za-z0-9_.\\-\\u4e00-\\u9fff]{1,64}$';
const FacilityParams = Type.Object({ facility: Type.String({ pattern: FACILITY_PATTERN }) });
const FacilityBody = Type.Object({ institutionId: Type.String({ minLength: 1, maxLength: 64 }) }, { additionalProperties: false });
const InstitutionParams = Type.Object({ institutionId: Type.String({ minLength: 1, maxLength: 64 }) });
const Destination = Type.Object(
  {
    host: Type.String({ minLength: 1, maxLength: 255, pattern: '^[A-Za-z0-9.:\\-]+$' }),
    port: Type.Integer({ minimum: 1, maximum: 65535 }),
    /** MSH-5 of what is sent [HIS] */
    receivingApplication: Type.Optional(Type.String({ maxLength: 64 })),
    /** MSH-6 [the facility mapped to the institution] */
    receivingFacility: Type.Optional(Type.String({ maxLength: 64 })),
  },
  { additionalProperties: false },
);
const DestinationsBody = Type.Object({ destinations: Type.Array(Destination, { maxItems: 16 }) }, { additionalProperties: false });
const MessagesQuery = Type.Object(
  {
    status: Type.Optional(Type.Union([Type.Literal('pending'), Type.Literal('acknowledged')])),
    reportId: Type.Optional(Type.String({ maxLength: 64 })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
  },
  { additionalProperties: false },
);

/** The administrators' side of HL7: facility mappings, ORU destinations, and the messages' state. */
export class Hl7Settings {
  private readonly deps: { store: Hl7Store; unitOfWork: UnitOfWork; institutionExists(id: string): Promise<boolean> };

  constructor(deps: { store: Hl7Store; unitOfWork: UnitOfWork; institutionExists(id: string): Promise<boolean> }) {
    this.deps = deps;
  }

  facilities = async () => (await this.deps.store.facilities()).map(facilityView);

  async mapFacility(caller: Caller, facility: string, institutionId: string) {
    if (!(await this.deps.institutionExists(institutionId))) throw notFound(`institution ${institutionId}`);
    const row: Hl7FacilityTable = { facility, institution_id: institutionId, updated_by: caller.name, updated_at: new Date().toISOString() };
    await this.deps.unitOfWork.run(async (tx) => {
      await tx.open(hl7Store).putFacility(row);
      tx.audit.record({ action: 'hl7.facility-mapped', caller, objectType: 'institution', objectId: institutionId, details: { facility } });
    });
    return facilityView(row);
  }

  async removeFacility(caller: Caller, facility: string): Promise<void> {
    const removed = await this.deps.unitOfWork.run(async (tx) => {
      const existing = await tx.open(hl7Store).facility(facility);
      if (!existing) return false;
      await tx.open(hl7Store).removeFacility(facility);
      tx.audit.record({ action: 'hl7.facility-removed', caller, objectType: 'institution', objectId: existing.institution_id, details: { facility } });
      return true;
    });
    if (!removed) throw notFound(`HL7 facility ${facility}`);
  }

  destinations = async () => (await this.deps.store.destinations()).map(destinationView);

  async setDestinations(caller: Caller, institutionId: string, destinations: Static<typeof Destination>[]) {
    if (!(await this.deps.institutionExists(institutionId))) throw notFound(`institution ${institutionId}`);
    const now = new Date().toISOString();
    const rows: Hl7DestinationTable[] = destinations.map((destination) => ({ id: randomUUID(), institution_id: institutionId, host: destination.host, port: destination.port, receiving_application: destination.receivingApplication ?? 'HIS', receiving_facility: destination.receivingFacility ?? '', updated_by: caller.name, updated_at: now }));
    await this.deps.unitOfWork.run(async (tx) => {
      await tx.open(hl7Store).replaceDestinations(institutionId, rows);
      tx.audit.record({ action: 'hl7.destinations-set', caller, objectType: 'institution', objectId: institutionId, details: { destinations: rows.map((row) => `${row.host}:${row.port}`) } });
    });
    return rows.map(destinationView);
  }

  async outbound(filter: Static<typeof MessagesQuery>) {
    return (await this.deps.store.listOutbound({ ...filter, limit: filter.limit ?? 100 })).map(outboundView);
  }

  async inbound(limit = 100) {
    return (await this.deps.store.listInbound(limit)).map(inboundView);
  }
}

function facilityView(row: Hl7FacilityTable) {
  return { facility: row.facility, institutionId: row.institution_id, updatedBy: row.updated_by, updatedAt: row.updated_at };
}

function destinationView(row: Hl7DestinationTable) {
  return { id: row.id, institutionId: row.institution_id, host: row.host, port: row.port, receivingApplication: row.receiving_application, receivingFacility: row.receiving_facility || null, updatedBy: row.updated_by, updatedAt: row.updated_at };
}

function outboundView(row: Hl7OutboundTable) {
  return {
    id: row.id,
    reportId: row.report_id,
    reportVersion: row.report_version,
    institutionId: row.institution_id,
    destination: row.destination,
    studyInstanceUid: row.study_instance_uid,
    messageControlId: row.message_control_id,
    resultStatus: row.result_status,
    status: row.status,
    attempts: row.attempts,
    lastAckCode: row.last_ack_code,
    lastError: row.last_error,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    acknowledgedAt: row.acknowledged_at,
  };
}

function inboundView(row: Hl7InboundTable) {
  return { id: row.id, facility: row.facility, institutionId: row.institution_id, messageControlId: row.message_control_id, messageType: row.message_type, ackCode: row.ack_code, ackText: row.ack_text, orderIds: JSON.parse(row.order_ids) as string[], remoteAddress: row.remote_address, receivedAt: row.received_at };
}

/**
 * /api/v1/hl7: platform administrators map each HIS facility (MSH-4) to its institution, set
 * where an institution's signed reports go as ORU^R01, and see the messages' state.
 */
export async function registerHl7Routes(app: FastifyInstance, options: { settings: Hl7Settings; resolveCaller: HttpCallerResolver }): Promise<void> {
  const { settings, resolveCaller } = options;
  const tags = ['hl7'];
  const config = { permission: 'platform:manage' } as const;
  app.get('/api/v1/hl7/facilities', { config, schema: { tags } }, async () => settings.facilities());
  app.put('/api/v1/hl7/facilities/:facility', { config, schema: { tags, params: FacilityParams, body: FacilityBody } }, async (request) =>
    settings.mapFacility(await resolveCaller(request), (request.params as Static<typeof FacilityParams>).facility, (request.body as Static<typeof FacilityBody>).institutionId),
  );
  app.delete('/api/v1/hl7/facilities/:facility', { config, schema: { tags, params: FacilityParams } }, async (request, reply) => {
    await settings.removeFacility(await resolveCaller(request), (request.params as Static<typeof FacilityParams>).facility);
    return reply.status(204).send();
  });
  app.get('/api/v1/hl7/destinations', { config, schema: { tags } }, async () => settings.destinations());
  app.put('/api/v1/hl7/destinations/:institutionId', { config, schema: { tags, params: InstitutionParams, body: DestinationsBody } }, async (request) =>
    settings.setDestinations(await resolveCaller(request), (request.params as Static<typeof InstitutionParams>).institutionId, (request.body as Static<typeof DestinationsBody>).destinations),
  );
  app.get('/api/v1/hl7/outbound', { config, schema: { tags, querystring: MessagesQuery } }, async (request) => settings.outbound(request.query as Static<typeof MessagesQuery>));
  app.get('/api/v1/hl7/inbound', { config, schema: { tags, querystring: Type.Object({ limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })) }, { additionalProperties: false }) } }, async (request) =>
    settings.inbound((request.query as { limit?: number }).limit),
  );
}

/**
 * FHIR R4 ServiceRequest (issue 15 items 6 and 7) for orders and for reading requests:
 * read, search by patient / identifier / status, and create (→ an order). Registered into
 * the fhir module's resource registry (fhir/resource-registry.ts), so it runs behind the
 * FHIR scope's caller resolver (Bearer or Basic), permission check and OperationOutcomes,
 * and the CapabilityStatement lists it.
 *
 * Ids: `o-{order id}` for an order, `r-{request id}` for a reading request that no order
 * became (one an order became is shown as that order). Scope: an order, or a request, is
 * its institution's (requesting or reading), and the platform administrator's.
 */
import type { FastifyRequest } from 'fastify';
import { actsForEveryInstitution, type Caller } from '../access/caller.ts';
import { badRequest, notFound } from '../errors.ts';
import { searchsetBundle, type Resource } from '../fhir/bundle.ts';
import { accessionSystem, DCM_SYSTEM, DICOM_UID_SYSTEM, institutionOfAccessionSystem } from '../fhir/imaging-study.ts';
import { decodePatientId, encodePatientId, identifierSystem, type PatientIdentity } from '../fhir/patient-id.ts';
import { fhirResources, type FhirResourceDefinition } from '../fhir/resource-registry.ts';
import { alternatives, parseSearch, parseToken, type QueryParams } from '../fhir/search-params.ts';
import type { ServiceRegistry } from '../modules/module.ts';
import type { Priority } from '../reading/sla.ts';
import type { ReadingStore, WorklistRow } from '../store/reading-store.ts';
import type { CreateOrderInput, OrderView } from './order-model.ts';
import type { OrderDomainService } from './order-service.ts';

const V2_0203 = 'http://terminology.hl7.org/CodeSystem/v2-0203';
const PLACER_SYSTEM = 'urn:yunying:institution:{institution}:placer-order';
const PLACER_SYSTEM_PATTERN = /^urn:yunying:institution:([A-Za-z0-9._-]+):placer-order$/;
const SEARCH_PARAMS = ['patient', 'subject', 'identifier', 'status', '_id'] as const;
const CANDIDATES = 1000;

type ServiceRequestStatus = 'active' | 'completed' | 'revoked' | 'draft' | 'on-hold' | 'entered-in-error' | 'unknown';

function placerSystem(institutionId: string): string {
  return PLACER_SYSTEM.replace('{institution}', institutionId);
}

const FHIR_PRIORITY: Record<Priority, string> = { routine: 'routine', urgent: 'urgent', emergency: 'stat' };

function orderStatus(status: OrderView['status']): ServiceRequestStatus {
  if (status === 'completed') return 'completed';
  if (status === 'cancelled' || status === 'discontinued') return 'revoked';
  return 'active';
}

function requestStatus(status: string): ServiceRequestStatus {
  if (status === 'signed') return 'completed';
  if (status === 'cancelled') return 'revoked';
  if (status === 'deleted') return 'entered-in-error';
  return 'active';
}

/** A PN ('ZHANG^SAN=张^三') as FHIR's display: the ideographic group when there is one, without carets. */
function displayOf(pn: string | null): string | undefined {
  if (!pn) return undefined;
  const [alphabetic, ideographic] = pn.split('=');
  const shown = ideographic || alphabetic || '';
  return shown.replace(/\^+$/, '').replace(/\^/g, ideographic ? '' : ' ') || undefined;
}

function subjectOf(identity: PatientIdentity | undefined, name: string | null) {
  if (!identity) return { display: displayOf(name) ?? 'unknown' };
  return { reference: `Patient/${encodePatientId(identity)}`, identifier: { system: identifierSystem(identity), value: identity.patientId }, ...(displayOf(name) ? { display: displayOf(name) } : {}) };
}

interface ServiceRequestResource extends Resource {
  resourceType: 'ServiceRequest';
  status: ServiceRequestStatus;
  identifier: Array<{ system: string; value: string; type?: { coding: Array<{ system: string; code: string }> } }>;
  subject: ReturnType<typeof subjectOf>;
  [key: string]: unknown;
}

export function orderServiceRequest(order: OrderView): ServiceRequestResource {
  const identity: PatientIdentity = { patientId: order.patient.patientId, institutionId: order.institutionId, ...(order.patient.issuerOfPatientId ? { issuerOfPatientId: order.patient.issuerOfPatientId } : {}) };
  const code = order.requestedProcedure.code;
  const start = order.steps.map((step) => step.startDateTime).sort()[0];
  return {
    resourceType: 'ServiceRequest',
    id: `o-${order.id}`,
    identifier: [
      { type: { coding: [{ system: V2_0203, code: 'ACSN' }] }, system: accessionSystem(order.institutionId), value: order.accessionNumber },
      ...(order.placerOrderNumber ? [{ type: { coding: [{ system: V2_0203, code: 'PLAC' }] }, system: placerSystem(order.institutionId), value: order.placerOrderNumber }] : []),
      // the pre-assigned Study Instance UID the images will carry
      { system: DICOM_UID_SYSTEM, value: `urn:oid:${order.studyInstanceUid}` },
    ],
    status: orderStatus(order.status),
    intent: 'order',
    priority: FHIR_PRIORITY[order.priority] ?? 'routine',
    code: { ...(code ? { coding: [{ system: code.scheme === 'DCM' ? DCM_SYSTEM : `urn:yunying:coding-scheme:${code.scheme ?? '99YUNYING'}`, code: code.value, display: code.meaning ?? order.requestedProcedure.description }] } : {}), text: order.requestedProcedure.description },
    orderDetail: [{ coding: [{ system: DCM_SYSTEM, code: order.requestedProcedure.modality }] }],
    subject: subjectOf(identity, order.patient.name),
    ...(start ? { occurrenceDateTime: start } : {}),
    authoredOn: order.createdAt,
    requester: { display: order.referringPhysician ? displayOf(order.referringPhysician) : order.createdBy },
    ...(order.readingInstitutionId ? { performer: [{ identifier: { system: 'urn:yunying:institution', value: order.readingInstitutionId } }] } : {}),
    ...(order.reason ? { reasonCode: [{ text: order.reason }] } : {}),
    ...(order.requestedProcedure.bodyPart ? { bodySite: [{ text: order.requestedProcedure.bodyPart }] } : {}),
    ...(order.cancelReason ? { note: [{ text: order.cancelReason }] } : {}),
    ...(order.readingRequestId ? { supportingInfo: [{ reference: `ServiceRequest/r-${order.readingRequestId}`, display: 'reading request' }] } : {}),
  };
}

/** A reading request; its patient reference names the identity without the issuer (the worklist row does not carry IssuerOfPatientID). */
export function readingServiceRequest(row: WorklistRow): ServiceRequestResource {
  const identity: PatientIdentity | undefined = row.patient_id ? { patientId: row.patient_id, institutionId: row.requesting_institution_id } : undefined;
  const examItems = (() => {
    try {
      return (JSON.parse(row.exam_items) as string[]).filter((item) => typeof item === 'string');
    } catch {
      return [];
    }
  })();
  return {
    resourceType: 'ServiceRequest',
    id: `r-${row.id}`,
    identifier: [
      ...(row.accession_number ? [{ type: { coding: [{ system: V2_0203, code: 'ACSN' }] }, system: accessionSystem(row.requesting_institution_id), value: row.accession_number }] : []),
      { system: DICOM_UID_SYSTEM, value: `urn:oid:${row.study_instance_uid}` },
    ],
    status: requestStatus(row.status),
    intent: 'order',
    category: [{ text: '远程诊断 remote reading' }],
    priority: FHIR_PRIORITY[row.priority as Priority] ?? 'routine',
    code: { text: examItems.length > 0 ? examItems.join('、') : '远程诊断' },
    ...(row.modality ? { orderDetail: [{ coding: [{ system: DCM_SYSTEM, code: row.modality }] }] } : {}),
    subject: subjectOf(identity, row.patient_name),
    authoredOn: row.created_at,
    requester: { display: row.requested_by, identifier: { system: 'urn:yunying:institution', value: row.requesting_institution_id } },
    performer: [{ identifier: { system: 'urn:yunying:institution', value: row.reading_institution_id } }],
    ...(row.clinical_history ? { reasonCode: [{ text: row.clinical_history }] } : {}),
  };
}

// ------------------------------------------------------------------ create

type Json = Record<string, unknown>;

function objectOf(value: unknown): Json | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Json) : undefined;
}

function arrayOf(value: unknown): Json[] {
  return Array.isArray(value) ? value.map(objectOf).filter((item): item is Json => item !== undefined) : [];
}

function text(value: unknown): string | undefined {
  return typeof value === 'string' && value.trim() ? value.trim() : undefined;
}

function invalid(message: string): never {
  throw badRequest('INVALID_RESOURCE', message);
}

/** A FHIR HumanName as DICOM PN: its text, or family^given. */
function personNameOf(name: Json | undefined): string | undefined {
  if (!name) return undefined;
  const family = text(name.family);
  const given = Array.isArray(name.given) ? name.given.filter((g): g is string => typeof g === 'string').join(' ') : undefined;
  if (family || given) {
    const joined = `${family ?? ''}${given ? `^${given}` : ''}`;
    // a hanzi name in family/given is the ideographic group (the order adds pinyin)
    return /\p{Script=Han}/u.test(joined) ? `${family ?? ''}${given ?? ''}` : joined;
  }
  return text(name.text);
}

const GENDER: Record<string, 'M' | 'F' | 'O'> = { male: 'M', female: 'F', other: 'O' };
const PRIORITY_IN: Record<string, Priority> = { routine: 'routine', urgent: 'urgent', asap: 'urgent', stat: 'emergency' };

/**
 * A ServiceRequest as an order. The patient comes from a contained Patient the subject
 * refers to ('#p': identifier, name, gender, birthDate), or from subject.identifier and
 * subject.display; the modality from orderDetail (DICOM DCM system) or code.coding there.
 */
export function orderInputOf(resource: Json): CreateOrderInput {
  if (resource.resourceType !== 'ServiceRequest') invalid('the body is not a ServiceRequest');
  if (resource.intent !== undefined && resource.intent !== 'order') invalid('only intent "order" is accepted');
  const subject = objectOf(resource.subject) ?? invalid('subject is required');
  const reference = text(subject.reference);
  const contained = arrayOf(resource.contained).find((item) => item.resourceType === 'Patient' && reference === `#${String(item.id)}`);
  const patientIdentifier = objectOf(arrayOf(contained?.identifier)[0]) ?? objectOf(subject.identifier);
  const patientId = text(patientIdentifier?.value) ?? invalid('the patient needs an identifier (a contained Patient or subject.identifier) with its Patient ID');
  const name = personNameOf(arrayOf(contained?.name)[0]) ?? text(subject.display) ?? invalid('the patient needs a name (a contained Patient\'s name or subject.display)');
  const gender = text(contained?.gender);
  const identifiers = arrayOf(resource.identifier);
  const typed = (code: string, pattern: RegExp | undefined) => identifiers.find((identifier) => arrayOf(objectOf(identifier.type)?.coding).some((coding) => coding.code === code) || (pattern && pattern.test(String(identifier.system ?? ''))));
  const accession = text(typed('ACSN', /:accession$/)?.value);
  const placer = text(typed('PLAC', PLACER_SYSTEM_PATTERN)?.value);
  const code = objectOf(resource.code) ?? invalid('code (the requested procedure) is required');
  const codings = arrayOf(code.coding);
  const procedureCoding = codings.find((coding) => coding.system !== DCM_SYSTEM);
  const modalityCoding = arrayOf(resource.orderDetail).flatMap((detail) => arrayOf(detail.coding)).find((coding) => coding.system === DCM_SYSTEM) ?? codings.find((coding) => coding.system === DCM_SYSTEM);
  const modality = text(modalityCoding?.code) ?? invalid(`the modality is required: orderDetail.coding with system ${DCM_SYSTEM} (CT, DX, US, …)`);
  const description = text(code.text) ?? text(procedureCoding?.display) ?? invalid('code.text or a code.coding display (the procedure description) is required');
  const occurrence = text(resource.occurrenceDateTime);
  const priority = text(resource.priority);
  return {
    patient: {
      patientId,
      name,
      ...(gender && GENDER[gender] ? { sex: GENDER[gender] } : {}),
      ...(text(contained?.birthDate) ? { birthDate: text(contained?.birthDate) } : {}),
    },
    ...(accession ? { accessionNumber: accession } : {}),
    ...(placer ? { placerOrderNumber: placer } : {}),
    requestedProcedure: {
      description,
      modality,
      ...(procedureCoding && text(procedureCoding.code) ? { code: { value: text(procedureCoding.code)!, scheme: String(procedureCoding.system ?? '').split(/[:/]/).filter(Boolean).pop()?.slice(0, 16), meaning: text(procedureCoding.display) } } : {}),
      ...(text(arrayOf(resource.bodySite)[0]?.text) ? { bodyPart: text(arrayOf(resource.bodySite)[0]?.text) } : {}),
    },
    ...(occurrence ? { steps: [{ startDateTime: occurrence }] } : {}),
    ...(text(objectOf(resource.requester)?.display) ? { referringPhysician: text(objectOf(resource.requester)?.display) } : {}),
    ...(priority ? { priority: PRIORITY_IN[priority] ?? invalid(`priority ${priority} is routine, urgent, asap or stat`) } : {}),
    ...(text(arrayOf(resource.reasonCode)[0]?.text) ? { reason: text(arrayOf(resource.reasonCode)[0]?.text) } : {}),
    source: 'fhir',
  };
}

// ------------------------------------------------------------------ search

interface Criteria {
  patient?: string[];
  identifiers?: Array<{ system?: string; code: string }>;
  statuses?: string[];
  ids?: string[];
}

function criteriaOf(params: Map<string, string[]>): Criteria {
  const criteria: Criteria = {};
  const patient = [...(params.get('patient') ?? []), ...(params.get('subject') ?? [])];
  if (patient.length > 1) throw badRequest('INVALID_SEARCH_PARAMETER', 'patient given more than once: give alternatives as one comma-separated value');
  if (patient[0]) criteria.patient = alternatives(patient[0]).map((value) => value.replace(/^Patient\//, ''));
  const identifier = params.get('identifier');
  if (identifier) criteria.identifiers = alternatives(identifier[0]!).map(parseToken);
  const status = params.get('status');
  if (status) criteria.statuses = alternatives(status[0]!);
  const id = params.get('_id');
  if (id) criteria.ids = alternatives(id[0]!);
  return criteria;
}

function matches(resource: ServiceRequestResource, criteria: Criteria): boolean {
  if (criteria.ids && !criteria.ids.includes(resource.id)) return false;
  if (criteria.statuses && !criteria.statuses.includes(resource.status)) return false;
  if (criteria.identifiers && !criteria.identifiers.some((token) => resource.identifier.some((identifier) => identifier.value === token.code && (token.system === undefined || token.system === identifier.system)))) return false;
  if (criteria.patient) {
    const reference = 'reference' in resource.subject ? resource.subject.reference.replace(/^Patient\//, '') : undefined;
    if (!reference || !criteria.patient.includes(reference)) return false;
  }
  return true;
}

/** The Patient ID a patient criterion names, to narrow the candidates in SQL. */
function patientIdOf(criteria: Criteria): string | undefined {
  if (criteria.patient?.length !== 1) return undefined;
  return decodePatientId(criteria.patient[0]!)?.patientId ?? '\u0000none';
}

function readingVisible(caller: Caller, row: { requesting_institution_id: string; reading_institution_id: string }): boolean {
  return actsForEveryInstitution(caller) || row.requesting_institution_id === caller.institutionId || row.reading_institution_id === caller.institutionId;
}

export interface ServiceRequestDependencies {
  orders: OrderDomainService;
  reading: Pick<ReadingStore, 'worklist' | 'findWorklistRow'>;
  timeZone: string;
}

export function serviceRequestResource(deps: ServiceRequestDependencies): FhirResourceDefinition {
  const { orders, reading } = deps;

  async function readingRequestsOf(caller: Caller, criteria: Criteria): Promise<ServiceRequestResource[]> {
    const institutionIds = actsForEveryInstitution(caller) ? undefined : [caller.institutionId];
    const patientId = patientIdOf(criteria);
    const rows = await reading.worklist({ requestingInstitutionIds: institutionIds, ...(patientId ? { search: patientId } : {}), limit: CANDIDATES, offset: 0 });
    const fromOrders = await orders.readingRequestIdsOfOrders(rows.map((row) => row.id));
    return rows.filter((row) => !fromOrders.has(row.id)).map(readingServiceRequest);
  }

  async function search(caller: Caller, criteria: Criteria): Promise<ServiceRequestResource[]> {
    const patientId = patientIdOf(criteria);
    const orderViews = await orders.listOrders(caller, { ...(patientId ? { patientId } : {}), limit: CANDIDATES });
    const all = [...orderViews.map(orderServiceRequest), ...(await readingRequestsOf(caller, criteria))];
    return all.filter((resource) => matches(resource, criteria)).sort((a, b) => String(b.authoredOn).localeCompare(String(a.authoredOn)));
  }

  async function read(caller: Caller, id: string): Promise<ServiceRequestResource> {
    if (id.startsWith('o-')) return orderServiceRequest(await orders.getOrder(caller, id.slice(2)));
    if (id.startsWith('r-') && /^[0-9a-f-]{36}$/.test(id.slice(2))) {
      const row = await reading.findWorklistRow(id.slice(2));
      if (row && row.status !== 'deleted' && readingVisible(caller, row)) return readingServiceRequest(row);
    }
    throw notFound(`ServiceRequest/${id}`);
  }

  return {
    type: 'ServiceRequest',
    interactions: ['create', 'read', 'search-type'],
    searchParams: [
      { name: 'patient', type: 'reference', documentation: 'Patient/{id} (the Patient ids this server issues)' },
      { name: 'subject', type: 'reference', documentation: 'the same as patient' },
      { name: 'identifier', type: 'token', documentation: `accession number (${accessionSystem('{institution}')}|value), placer order number (${placerSystem('{institution}')}|value) or the Study Instance UID (${DICOM_UID_SYSTEM}|urn:oid:…)` },
      { name: 'status', type: 'token', documentation: 'active, completed, revoked' },
      { name: '_id', type: 'token', documentation: 'o-{order id} or r-{reading request id}' },
    ],
    documentation: 'Orders (检查申请/预约, o-…) and reading requests (远程诊断申请, r-…) of the caller\'s institution; create makes an order, offered to the institution\'s modalities on the Modality Worklist',
    routes(scope, fhir) {
      scope.get<{ Params: { id: string } }>('/ServiceRequest/:id', { config: { permission: 'orders:read' } }, async (request, reply) => fhir.send(request, reply, 200, await read(fhir.callerOf(request), request.params.id)));
      scope.get('/ServiceRequest', { config: { permission: 'orders:read' } }, async (request: FastifyRequest, reply) => {
        const parsed = parseSearch(request.query as QueryParams, 'ServiceRequest', SEARCH_PARAMS);
        const found = await search(fhir.callerOf(request), criteriaOf(parsed.params));
        return fhir.send(request, reply, 200, searchsetBundle(fhir, request, found.slice(parsed.offset, parsed.offset + parsed.count), parsed, { total: found.length }));
      });
      scope.post('/ServiceRequest', { config: { permission: 'orders:create' } }, async (request, reply) => {
        const input = orderInputOf(fhir.jsonBody(request));
        // an identifier's system may name the institution: it must be the caller's (an administrator's is honoured)
        const named = (arrayOf(fhir.jsonBody(request).identifier).map((identifier) => String(identifier.system ?? '')).map((system) => institutionOfAccessionSystem(system) ?? PLACER_SYSTEM_PATTERN.exec(system)?.[1]).find(Boolean));
        const order = await orders.createOrder(fhir.callerOf(request), { ...input, ...(named ? { institutionId: named } : {}) });
        const resource = orderServiceRequest(order);
        reply.header('Location', `${fhir.fhirBase(request)}/ServiceRequest/${resource.id}`);
        return fhir.send(request, reply, 201, resource);
      });
    },
  };
}

/** Adds ServiceRequest to the server's FHIR resources (fhir/resource-registry.ts). */
export function registerServiceRequest(services: ServiceRegistry, deps: ServiceRequestDependencies): void {
  fhirResources(services).add(serviceRequestResource(deps));
}

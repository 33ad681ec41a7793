import { randomInt, randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { isValidUid } from '@yunying/dicom';
import { actsForEveryInstitution, requirePermission, type Caller } from '../access/caller.ts';
import { badRequest, conflict, notFound, YunyingError } from '../errors.ts';
import type { RequestService } from '../reading/request-service.ts';
import { isPriority, type Priority } from '../reading/sla.ts';
import type { AccessStore } from '../store/access-store.ts';
import type { IndexStore } from '../store/index-store.ts';
import type { ReadingStore, WorklistRow } from '../store/reading-store.ts';
import type { StoreOpener } from '../store/store-opener.ts';
import type { TransactionPorts, UnitOfWork } from '../store/unit-of-work.ts';
import { zonedParts } from '../zoned-time.ts';
import type { CodedConcept, CreateOrderInput, OrderFilter, OrderService, OrderSource, OrderStatus, OrderView, ProcedureStepView, StepStatus } from './order-model.ts';
import type { MppsRow, OrderRow, OrderStepRow, OrderStore, OrderTables } from './order-store.ts';
import { orderPatientName } from './patient-name.ts';

export interface OrderDependencies {
  store: OrderStore;
  opener: StoreOpener<OrderStore, OrderTables>;
  unitOfWork: UnitOfWork;
  access: Pick<AccessStore, 'findInstitution'>;
  index: Pick<IndexStore, 'studyRow'>;
  /** reading requests without images yet (retakes) are on the worklist too */
  readingStore: Pick<ReadingStore, 'worklist' | 'requestsOfStudy' | 'findRequest'>;
  /** an order becomes a reading request when its images arrive */
  requests: Pick<RequestService, 'createRequest' | 'confirmImagesComplete'>;
  /** the deployment's zone (YUNYING_TIME_ZONE): a start time without offset is local time there */
  timeZone: string;
  logger?: Pick<Logger, 'warn' | 'info'>;
}

/** One worklist entry before it is a DICOM data set: an order's step, or a reading request awaiting images. */
export interface WorklistEntry {
  kind: 'order' | 'reading-request';
  institutionId: string;
  patient: { patientId: string | null; issuerOfPatientId: string | null; name: string | null; sex: string | null; birthDate: string | null };
  accessionNumber: string | null;
  studyInstanceUid: string;
  referringPhysician: string | null;
  requestedProcedure: { id: string; description: string; code: CodedConcept | null };
  priority: Priority;
  reason: string | null;
  step: { id: string; stationAeTitle: string | null; modality: string | null; startAt: string; performingPhysician: string | null; description: string; status: StepStatus };
  orderId?: string;
  readingRequestId?: string;
}

/** What an MPPS N-CREATE names (its Scheduled Step Attributes Sequence items). */
export interface PerformedStepReference {
  studyInstanceUid?: string;
  accessionNumber?: string;
  scheduledProcedureStepId?: string;
  requestedProcedureId?: string;
}

export type MppsStatus = 'IN PROGRESS' | 'COMPLETED' | 'DISCONTINUED';

/** DIMSE SH/LO limits: an accession number is SH (16). */
const ACCESSION_MAX = 16;
const STEP_ID_MAX = 16;
const MAX_LIST = 1000;
const WORKLIST_CANDIDATES = 2000;
const ORDER_LIVE: readonly OrderStatus[] = ['scheduled', 'in-progress'];
/** reading requests whose images are (still, or again) to be acquired */
const REQUEST_STATUSES_ON_WORKLIST = ['awaiting-images', 'retake-requested'];

/** A DICOM 2.25 UID from a random UUID (PS3.5 B.2). */
export function newUid(): string {
  return `2.25.${BigInt(`0x${randomUUID().replace(/-/g, '')}`)}`;
}

/** the worklist step ID of a reading request (SH, 16 characters): RR and the first 14 hex digits of its id */
export function requestStepId(requestId: string): string {
  return `RR${requestId.replace(/-/g, '').slice(0, 14).toUpperCase()}`;
}

function plainText(value: string | undefined, max: number, what: string): string | null {
  if (value === undefined) return null;
  const text = value.trim();
  if (text.length === 0) return null;
  if (text.length > max) throw badRequest('ORDER_INVALID', `${what} has at most ${max} characters`);
  if (/[\\\r\n\t]/.test(text)) throw badRequest('ORDER_INVALID', `${what} must not contain a backslash or control characters`);
  return text;
}

function requiredText(value: string | undefined, max: number, what: string): string {
  const text = plainText(value, max, what);
  if (text === null) throw badRequest('ORDER_INVALID', `${what} is required`);
  return text;
}

function birthDateOf(value: string | undefined): string | null {
  if (!value) return null;
  const digits = value.replace(/-/g, '');
  const iso = `${digits.slice(0, 4)}-${digits.slice(4, 6)}-${digits.slice(6, 8)}`;
  // a calendar date (Date.parse takes 02-30 as 03-02), not in the future
  const valid = /^\d{8}$/.test(digits) && !Number.isNaN(Date.parse(`${iso}T00:00:00Z`)) && new Date(`${iso}T00:00:00Z`).toISOString().slice(0, 10) === iso && Date.parse(`${iso}T00:00:00Z`) <= Date.now();
  if (!valid) throw badRequest('ORDER_INVALID', 'patient.birthDate is YYYYMMDD or YYYY-MM-DD');
  return digits;
}

function nationalIdOf(value: string | undefined): string | null {
  if (!value) return null;
  const id = value.trim().toUpperCase();
  // GB 11643: 17 digits and a check character (a digit or X)
  if (!/^\d{17}[\dX]$/.test(id)) throw badRequest('ORDER_INVALID', 'patient.nationalId is an 18-character resident identity number');
  return id;
}

function modalityOf(value: string | undefined, what: string): string {
  const modality = (value ?? '').trim().toUpperCase();
  if (!/^[A-Z0-9]{1,16}$/.test(modality)) throw badRequest('ORDER_INVALID', `${what} is a DICOM modality such as CT, DX or US`);
  return modality;
}

function aeTitleOf(value: string | undefined): string | null {
  const ae = plainText(value, 16, 'stationAeTitle');
  return ae;
}

/**
 * An ISO date-time as an instant. Without an offset it is wall-clock time in the zone: the
 * zone's offset at that moment is subtracted (the ordering clerk means the clinic's clock).
 */
export function instantOf(value: string, timeZone: string): string {
  const hasOffset = /(?:Z|[+-]\d{2}:?\d{2})$/i.test(value);
  if (hasOffset) {
    const at = Date.parse(value);
    if (Number.isNaN(at)) throw badRequest('ORDER_INVALID', `startDateTime ${value} is not an ISO 8601 date-time`);
    return new Date(at).toISOString();
  }
  const asUtc = Date.parse(/T/.test(value) ? `${value}Z` : `${value}T00:00:00Z`);
  if (Number.isNaN(asUtc)) throw badRequest('ORDER_INVALID', `startDateTime ${value} is not an ISO 8601 date-time`);
  const offset = zonedParts(new Date(asUtc), timeZone)?.offset ?? '+00:00';
  const sign = offset.startsWith('-') ? -1 : 1;
  const [hours, minutes] = offset.slice(1).split(':').map(Number);
  return new Date(asUtc - sign * ((hours ?? 0) * 60 + (minutes ?? 0)) * 60_000).toISOString();
}

function generatedAccession(timeZone: string): string {
  // 20261204 + 6 random digits: 14 characters, readable on a film and in a phone call
  const date = (zonedParts(new Date(), timeZone)?.date ?? new Date().toISOString().slice(0, 10)).replace(/-/g, '');
  return `${date}${String(randomInt(0, 1_000_000)).padStart(6, '0')}`;
}

function generatedStepId(index: number, accession: string): string {
  const suffix = `-${index + 1}`;
  return `${accession.slice(0, STEP_ID_MAX - suffix.length)}${suffix}`;
}

/** An order's status from its steps (cancellation aside). */
function statusFromSteps(steps: readonly Pick<OrderStepRow, 'status'>[]): OrderStatus {
  if (steps.length > 0 && steps.every((step) => step.status === 'completed' || step.status === 'discontinued')) return steps.some((step) => step.status === 'completed') ? 'completed' : 'discontinued';
  if (steps.some((step) => step.status !== 'scheduled')) return 'in-progress';
  return 'scheduled';
}

function stepView(row: OrderStepRow): ProcedureStepView {
  return {
    id: row.step_id,
    stationAeTitle: row.station_ae_title,
    modality: row.modality,
    startDateTime: row.start_at,
    performingPhysician: row.performing_physician,
    description: row.description,
    status: row.status as StepStatus,
    mppsInstanceUid: row.mpps_instance_uid,
    updatedAt: row.updated_at,
  };
}

export function orderView(row: OrderRow, steps: readonly OrderStepRow[]): OrderView {
  return {
    id: row.id,
    institutionId: row.institution_id,
    status: row.status as OrderStatus,
    source: row.source as OrderSource,
    accessionNumber: row.accession_number,
    placerOrderNumber: row.placer_order_number,
    patient: { patientId: row.patient_id, issuerOfPatientId: row.issuer_of_patient_id, name: row.patient_name, sex: row.patient_sex, birthDate: row.patient_birth_date, nationalId: row.national_id },
    requestedProcedure: { id: row.procedure_id, description: row.procedure_description, code: row.procedure_code ? (JSON.parse(row.procedure_code) as CodedConcept) : null, modality: row.modality, bodyPart: row.body_part },
    studyInstanceUid: row.study_instance_uid,
    referringPhysician: row.referring_physician,
    priority: row.priority as Priority,
    reason: row.reason,
    readingInstitutionId: row.reading_institution_id,
    steps: steps.map(stepView),
    readingRequestId: row.reading_request_id,
    linkedStudyInstanceUid: row.linked_study_instance_uid,
    createdBy: row.created_by,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    cancelReason: row.cancel_reason,
  };
}

/**
 * Orders (检查申请/预约): made through REST, FHIR or HL7, read by the modality from the
 * worklist, reported on by MPPS, and linked to their study (and made a reading request)
 * when the images arrive. Each change commits with its audit record and its feed row in one
 * unit of work. Scope: an order belongs to one institution; its own staff (technologists,
 * clinicians) and platform administrators see and change it.
 */
export class OrderDomainService implements OrderService {
  private readonly deps: OrderDependencies;
  constructor(deps: OrderDependencies) {
    this.deps = deps;
  }

  // ------------------------------------------------------------------ create

  async createOrder(caller: Caller, input: CreateOrderInput): Promise<OrderView> {
    requirePermission(caller, 'orders:create');
    const institutionId = await this.orderingInstitution(caller, input.institutionId);
    const now = new Date().toISOString();
    const procedure = input.requestedProcedure;
    if (!procedure) throw badRequest('ORDER_INVALID', 'requestedProcedure is required');
    const modality = modalityOf(procedure.modality, 'requestedProcedure.modality');
    const priority = input.priority ?? 'routine';
    if (!isPriority(priority)) throw badRequest('INVALID_PRIORITY', 'priority is routine, urgent or emergency');
    if (input.readingInstitutionId && !(await this.deps.access.findInstitution(input.readingInstitutionId))) throw notFound(`institution ${input.readingInstitutionId}`);
    const patient = input.patient;
    if (!patient) throw badRequest('ORDER_INVALID', 'patient is required');
    const patientId = requiredText(patient.patientId, 64, 'patient.patientId');
    const name = orderPatientName(requiredText(patient.name, 64 * 3, 'patient.name'));
    if (patient.sex !== undefined && !['M', 'F', 'O'].includes(patient.sex)) throw badRequest('ORDER_INVALID', 'patient.sex is M, F or O');
    const givenAccession = plainText(input.accessionNumber, ACCESSION_MAX, 'accessionNumber');
    const placer = plainText(input.placerOrderNumber, 64, 'placerOrderNumber');
    const code = procedure.code ? { value: requiredText(procedure.code.value, 16, 'requestedProcedure.code.value'), scheme: plainText(procedure.code.scheme, 16, 'requestedProcedure.code.scheme') ?? '99YUNYING', meaning: plainText(procedure.code.meaning, 64, 'requestedProcedure.code.meaning') ?? procedure.description } : null;
    const description = requiredText(procedure.description, 64, 'requestedProcedure.description');
    const stepInputs = input.steps && input.steps.length > 0 ? input.steps : [{}];
    if (stepInputs.length > 20) throw badRequest('ORDER_INVALID', 'an order has at most 20 scheduled procedure steps');

    // A generated accession number may collide with one taken at the institution: try another.
    for (let attempt = 0; attempt < 5; attempt += 1) {
      const accession = givenAccession ?? generatedAccession(this.deps.timeZone);
      const id = randomUUID();
      const row: OrderRow = {
        id,
        institution_id: institutionId,
        status: 'scheduled',
        source: input.source ?? 'rest',
        accession_number: accession,
        placer_order_number: placer,
        patient_id: patientId,
        issuer_of_patient_id: plainText(patient.issuerOfPatientId, 64, 'patient.issuerOfPatientId'),
        patient_name: name,
        patient_sex: patient.sex ?? null,
        patient_birth_date: birthDateOf(patient.birthDate),
        national_id: nationalIdOf(patient.nationalId),
        procedure_id: plainText(procedure.id, 16, 'requestedProcedure.id') ?? accession,
        procedure_description: description,
        procedure_code: code ? JSON.stringify(code) : null,
        modality,
        body_part: plainText(procedure.bodyPart, 16, 'requestedProcedure.bodyPart')?.toUpperCase() ?? null,
        study_instance_uid: newUid(),
        referring_physician: plainText(input.referringPhysician, 64 * 3, 'referringPhysician'),
        priority,
        reason: plainText(input.reason?.replace(/[\r\n\t]+/g, ' '), 1024, 'reason'),
        reading_institution_id: input.readingInstitutionId ?? null,
        reading_request_id: null,
        linked_study_instance_uid: null,
        created_by: caller.name,
        created_at: now,
        updated_at: now,
        cancel_reason: null,
      };
      const stepIds = new Set<string>();
      const steps: OrderStepRow[] = stepInputs.map((step, position) => {
        const stepId = plainText(step.id, STEP_ID_MAX, 'steps[].id') ?? generatedStepId(position, accession);
        if (stepIds.has(stepId)) throw badRequest('ORDER_INVALID', `step id ${stepId} is given twice`);
        stepIds.add(stepId);
        return {
          order_id: id,
          step_id: stepId,
          position,
          station_ae_title: aeTitleOf(step.stationAeTitle),
          modality: step.modality ? modalityOf(step.modality, 'steps[].modality') : modality,
          start_at: step.startDateTime ? instantOf(step.startDateTime, this.deps.timeZone) : now,
          performing_physician: plainText(step.performingPhysician, 64 * 3, 'steps[].performingPhysician'),
          description: plainText(step.description, 64, 'steps[].description') ?? description,
          status: 'scheduled',
          mpps_instance_uid: null,
          updated_at: now,
        };
      });
      const inserted = await this.deps.unitOfWork.run(async (tx) => {
        if (!(await tx.open(this.deps.opener).insert(row, steps))) return false;
        tx.audit.record({ action: 'order.created', caller, objectType: 'order', objectId: id, patientId, details: { institutionId, accessionNumber: accession, placerOrderNumber: placer, modality, source: row.source, studyInstanceUid: row.study_instance_uid } });
        tx.feed.append({ type: 'order.created', resourceType: 'order', resourceId: id, institutionId, payload: { accessionNumber: accession, modality, studyInstanceUid: row.study_instance_uid, source: row.source } });
        return true;
      });
      if (inserted) return orderView(row, steps);
      if (givenAccession || placer) break;
    }
    throw conflict('ORDER_EXISTS', `institution ${institutionId} already has an order with accession number ${givenAccession ?? '(generated)'}${placer ? ` or placer order number ${placer}` : ''}`);
  }

  /** Own institution; an administrator (or HL7's system caller) names it. */
  private async orderingInstitution(caller: Caller, named: string | undefined): Promise<string> {
    if (named === undefined || named === caller.institutionId) return caller.institutionId;
    if (!actsForEveryInstitution(caller)) throw new YunyingError('FORBIDDEN', 'orders are placed for the own institution only');
    if (!(await this.deps.access.findInstitution(named))) throw notFound(`institution ${named}`);
    return named;
  }

  // ------------------------------------------------------------------ read

  private mayActOn(caller: Caller, row: OrderRow): boolean {
    return actsForEveryInstitution(caller) || row.institution_id === caller.institutionId;
  }

  private async visibleOrder(caller: Caller, id: string): Promise<OrderRow> {
    const row = await this.deps.store.find(id);
    if (!row || !this.mayActOn(caller, row)) throw notFound(`order ${id}`);
    return row;
  }

  async getOrder(caller: Caller, id: string): Promise<OrderView> {
    requirePermission(caller, 'orders:read');
    const row = await this.visibleOrder(caller, id);
    return orderView(row, await this.deps.store.stepsOfOrder(id));
  }

  async listOrders(caller: Caller, filter: OrderFilter): Promise<OrderView[]> {
    requirePermission(caller, 'orders:read');
    const institutionIds = actsForEveryInstitution(caller) ? (filter.institutionId ? [filter.institutionId] : 'all') : [caller.institutionId];
    const rows = await this.deps.store.list({
      institutionIds,
      statuses: filter.status ? [filter.status] : undefined,
      patientId: filter.patientId,
      accessionNumber: filter.accessionNumber,
      placerOrderNumber: filter.placerOrderNumber,
      modality: filter.modality?.toUpperCase(),
      limit: Math.min(filter.limit ?? 100, MAX_LIST),
    });
    const steps = await this.deps.store.stepsOf(rows.map((row) => row.id));
    const views = rows.map((row) => orderView(row, steps.filter((step) => step.order_id === row.id)));
    // a scheduled-start window: orders with a step starting in it
    if (!filter.from && !filter.to) return views;
    return views.filter((view) => view.steps.some((step) => (!filter.from || step.startDateTime >= filter.from) && (!filter.to || step.startDateTime <= filter.to)));
  }

  async findByPlacerOrderNumber(caller: Caller, institutionId: string, placerOrderNumber: string): Promise<OrderView | undefined> {
    requirePermission(caller, 'orders:read');
    if (!actsForEveryInstitution(caller) && institutionId !== caller.institutionId) return undefined;
    const row = await this.deps.store.findByPlacer(institutionId, placerOrderNumber);
    return row ? orderView(row, await this.deps.store.stepsOfOrder(row.id)) : undefined;
  }

  /** For FHIR ServiceRequest search: the orders of a patient / identifier visible to the caller. */
  async ordersOfStudy(caller: Caller, studyInstanceUid: string): Promise<OrderView[]> {
    requirePermission(caller, 'orders:read');
    const rows = (await this.deps.store.findByStudyUid(studyInstanceUid)).filter((row) => this.mayActOn(caller, row));
    const steps = await this.deps.store.stepsOf(rows.map((row) => row.id));
    return rows.map((row) => orderView(row, steps.filter((step) => step.order_id === row.id)));
  }

  /** Of these reading requests, those an order became (shown as the order, not twice). */
  async readingRequestIdsOfOrders(requestIds: readonly string[]): Promise<Set<string>> {
    return this.deps.store.readingRequestIds(requestIds);
  }

  // ------------------------------------------------------------------ cancel

  async cancelOrder(caller: Caller, id: string, reason?: string): Promise<OrderView> {
    requirePermission(caller, 'orders:cancel');
    const row = await this.visibleOrder(caller, id);
    const why = plainText(reason?.replace(/[\r\n\t]+/g, ' '), 256, 'reason');
    const now = new Date().toISOString();
    const changed = await this.deps.unitOfWork.run(async (tx) => {
      const store = tx.open(this.deps.opener);
      const steps = await store.stepsOfOrder(id);
      // nothing acquired yet: cancelled; acquisition begun: discontinued (DICOM's word for a step stopped part way)
      const to: OrderStatus = steps.some((step) => step.status !== 'scheduled') ? 'discontinued' : 'cancelled';
      if (!(await store.updateOrder(id, ORDER_LIVE, { status: to, cancel_reason: why, updated_at: now }))) return undefined;
      for (const step of steps) await store.updateStep(id, step.step_id, ['scheduled', 'in-progress'], { status: 'discontinued', updated_at: now });
      tx.audit.record({ action: 'order.cancelled', caller, objectType: 'order', objectId: id, patientId: row.patient_id, details: { status: to, reason: why, accessionNumber: row.accession_number } });
      tx.feed.append({ type: 'order.cancelled', resourceType: 'order', resourceId: id, institutionId: row.institution_id, payload: { status: to, accessionNumber: row.accession_number } });
      return to;
    });
    if (!changed) throw conflict('ORDER_NOT_CANCELLABLE', `order ${id} is ${row.status}`);
    return this.getOrder(caller, id);
  }

  // ------------------------------------------------------------------ the modality worklist

  /**
   * Every entry a worklist query of this caller may match: the steps still to do of its
   * institution's live orders (start within the bounds when given), and its reading requests
   * awaiting images or a retake. A caller acting for every institution (a local tool under
   * the loopback rule, an administrator) sees every institution's. Matching on the other keys
   * is the DIMSE adapter's (worklist-scp.ts).
   */
  async worklistEntries(caller: Caller, bounds: { from?: string; to?: string }): Promise<WorklistEntry[]> {
    requirePermission(caller, 'orders:worklist');
    const institutionIds = actsForEveryInstitution(caller) ? 'all' : [caller.institutionId];
    const steps = await this.deps.store.openSteps({ institutionIds, from: bounds.from, to: bounds.to, limit: WORKLIST_CANDIDATES });
    const entries: WorklistEntry[] = steps.map((step) => orderEntry(step.order, step));
    const requests = await this.deps.readingStore.worklist({ requestingInstitutionIds: institutionIds === 'all' ? undefined : institutionIds, statuses: REQUEST_STATUSES_ON_WORKLIST, limit: WORKLIST_CANDIDATES, offset: 0 });
    const fromOrders = await this.deps.store.readingRequestIds(requests.map((row) => row.id));
    // a request awaiting its images is due now: a "today" query finds it
    const now = new Date().toISOString();
    const inBounds = (!bounds.from || now >= bounds.from) && (!bounds.to || now <= bounds.to);
    if (inBounds) for (const request of requests) if (!fromOrders.has(request.id)) entries.push(requestEntry(request, now));
    return entries;
  }

  // ------------------------------------------------------------------ MPPS

  /**
   * MPPS N-CREATE (IN PROGRESS): the performed step is recorded, and the scheduled steps it
   * names (of the caller's institution) are marked in progress. An unscheduled one (naming no
   * step of ours) is recorded too. 'duplicate' when the SOP Instance UID exists.
   */
  async startPerformedStep(caller: Caller, input: { sopInstanceUid: string; references: PerformedStepReference[]; attributes: Record<string, unknown> }): Promise<'created' | 'duplicate'> {
    requirePermission(caller, 'orders:perform');
    const target = await this.performedTarget(caller, input.references);
    const now = new Date().toISOString();
    const row: MppsRow = {
      sop_instance_uid: input.sopInstanceUid,
      institution_id: target.order?.institution_id ?? target.request?.requesting_institution_id ?? caller.institutionId,
      status: 'IN PROGRESS',
      order_id: target.order?.id ?? null,
      step_id: target.stepId ?? null,
      reading_request_id: target.request?.id ?? null,
      study_instance_uid: target.studyInstanceUid ?? null,
      created_by: caller.name,
      created_at: now,
      updated_at: now,
      attributes_json: JSON.stringify(input.attributes),
    };
    return this.deps.unitOfWork.run(async (tx) => {
      const store = tx.open(this.deps.opener);
      if (!(await store.insertMpps(row))) return 'duplicate';
      if (target.order && target.stepId) await this.moveStep(tx, store, caller, target.order, target.stepId, ['scheduled'], 'in-progress', row.sop_instance_uid);
      tx.audit.record({ action: 'mpps.created', caller, objectType: target.order ? 'order' : 'study', objectId: target.order?.id ?? target.studyInstanceUid, patientId: target.order?.patient_id, details: { sopInstanceUid: row.sop_instance_uid, stepId: target.stepId, readingRequestId: row.reading_request_id, scheduled: Boolean(target.order || target.request) } });
      return 'created';
    });
  }

  /**
   * MPPS N-SET: attributes merged; COMPLETED or DISCONTINUED ends the step (and, when every
   * step of the order has ended, the order). 'no-such-instance' for an unknown UID or one of
   * another institution; 'final' once it was completed or discontinued (PS3.4 F.7.2.2: no
   * more changes).
   */
  async updatePerformedStep(caller: Caller, input: { sopInstanceUid: string; status?: MppsStatus; attributes: Record<string, unknown> }): Promise<'updated' | 'no-such-instance' | 'final'> {
    requirePermission(caller, 'orders:perform');
    const existing = await this.deps.store.findMpps(input.sopInstanceUid);
    if (!existing || !(actsForEveryInstitution(caller) || existing.institution_id === caller.institutionId)) return 'no-such-instance';
    if (existing.status !== 'IN PROGRESS') return 'final';
    const status = input.status ?? 'IN PROGRESS';
    const now = new Date().toISOString();
    const merged = { ...(JSON.parse(existing.attributes_json) as Record<string, unknown>), ...input.attributes };
    const order = existing.order_id ? await this.deps.store.find(existing.order_id) : undefined;
    const outcome = await this.deps.unitOfWork.run(async (tx) => {
      const store = tx.open(this.deps.opener);
      if (!(await store.updateMpps(input.sopInstanceUid, { status, attributes_json: JSON.stringify(merged), updated_at: now }))) return 'final' as const;
      if (order && existing.step_id && status !== 'IN PROGRESS') await this.moveStep(tx, store, caller, order, existing.step_id, ['scheduled', 'in-progress'], status === 'COMPLETED' ? 'completed' : 'discontinued', input.sopInstanceUid);
      if (status !== 'IN PROGRESS') tx.audit.record({ action: status === 'COMPLETED' ? 'mpps.completed' : 'mpps.discontinued', caller, objectType: order ? 'order' : 'study', objectId: order?.id ?? existing.study_instance_uid ?? undefined, patientId: order?.patient_id, details: { sopInstanceUid: input.sopInstanceUid, stepId: existing.step_id, readingRequestId: existing.reading_request_id } });
      return 'updated' as const;
    });
    // The modality says the acquisition is done: the reading request need not wait for the images to settle.
    const requestId = order?.reading_request_id ?? existing.reading_request_id;
    if (outcome === 'updated' && status === 'COMPLETED' && requestId) await this.confirmImages(requestId, order?.institution_id ?? existing.institution_id);
    return outcome;
  }

  private async confirmImages(requestId: string, institutionId: string): Promise<void> {
    const request = await this.deps.readingStore.findRequest(requestId);
    if (!request || request.status !== 'awaiting-images') return;
    await this.deps.requests.confirmImagesComplete(orderSystemCaller(institutionId, 'mpps'), requestId).catch((error: unknown) => this.deps.logger?.warn({ err: (error as Error).message, requestId }, 'MPPS completed: the reading request stays awaiting images'));
  }

  private async moveStep(tx: TransactionPorts, store: OrderStore, caller: Caller, order: OrderRow, stepId: string, from: readonly StepStatus[], to: StepStatus, mppsUid: string): Promise<void> {
    const now = new Date().toISOString();
    if (!(await store.updateStep(order.id, stepId, from, { status: to, mpps_instance_uid: mppsUid, updated_at: now }))) return;
    const steps = await store.stepsOfOrder(order.id);
    const status = statusFromSteps(steps);
    await store.updateOrder(order.id, ORDER_LIVE, { status, updated_at: now });
    tx.feed.append({ type: 'order.step-changed', resourceType: 'order', resourceId: order.id, institutionId: order.institution_id, payload: { stepId, status: to, orderStatus: status, mppsInstanceUid: mppsUid, by: caller.name } });
  }

  /** The order step (or reading request) an MPPS names, within the caller's reach. */
  private async performedTarget(caller: Caller, references: PerformedStepReference[]): Promise<{ order?: OrderRow; stepId?: string; request?: { id: string; requesting_institution_id: string }; studyInstanceUid?: string }> {
    for (const reference of references) {
      const studyUid = reference.studyInstanceUid && isValidUid(reference.studyInstanceUid) ? reference.studyInstanceUid : undefined;
      let candidates = studyUid ? await this.deps.store.findByStudyUid(studyUid) : [];
      if (candidates.length === 0 && reference.accessionNumber) {
        const institutions = actsForEveryInstitution(caller) ? undefined : [caller.institutionId];
        candidates = (await this.deps.store.list({ institutionIds: institutions ?? 'all', accessionNumber: reference.accessionNumber, limit: 2 }));
      }
      const order = candidates.find((row) => this.mayActOn(caller, row));
      if (order) {
        const steps = await this.deps.store.stepsOfOrder(order.id);
        const step = steps.find((row) => row.step_id === reference.scheduledProcedureStepId) ?? (steps.length === 1 ? steps[0] : undefined);
        return { order, stepId: step?.step_id, studyInstanceUid: order.study_instance_uid };
      }
      if (studyUid && reference.scheduledProcedureStepId?.startsWith('RR')) {
        const request = (await this.deps.readingStore.requestsOfStudy(studyUid)).find((row) => requestStepId(row.id) === reference.scheduledProcedureStepId && (actsForEveryInstitution(caller) || row.requesting_institution_id === caller.institutionId));
        if (request) return { request, studyInstanceUid: studyUid };
      }
      if (studyUid) return { studyInstanceUid: studyUid };
    }
    return {};
  }

  // ------------------------------------------------------------------ images arrive

  /**
   * A stored instance's study, if an order is waiting for it: the order whose pre-assigned
   * Study Instance UID it is, or the one with its accession number and Patient ID, in the
   * study's own institution (a Patient ID means nothing at another institution). The order
   * becomes a reading request (to its reading centre, or the one serving the institution), or
   * is linked to the one already made (a routing rule, a technologist), once. Idempotent: the
   * feed hands a change over again after a crash.
   */
  async linkStudy(studyInstanceUid: string): Promise<OrderView | undefined> {
    const study = await this.deps.index.studyRow(studyInstanceUid);
    if (!study) return undefined;
    const byUid = (await this.deps.store.findByStudyUid(studyInstanceUid)).find((row) => row.institution_id === study.institution_id);
    const byAccession = !byUid && study.accession_number ? await this.deps.store.findByAccession(study.institution_id, study.accession_number) : undefined;
    const samePatient = byAccession && byAccession.patient_id === study.patient_id && (!byAccession.issuer_of_patient_id || !study.issuer_of_patient_id || byAccession.issuer_of_patient_id === study.issuer_of_patient_id);
    const order = byUid ?? (samePatient ? byAccession : undefined);
    if (!order || order.linked_study_instance_uid || order.status === 'cancelled') return undefined;
    const requestId = await this.readingRequestFor(order, studyInstanceUid);
    const now = new Date().toISOString();
    const caller = orderSystemCaller(order.institution_id, `order:${order.id}`);
    const linked = await this.deps.unitOfWork.run(async (tx) => {
      const store = tx.open(this.deps.opener);
      if (!(await store.link(order.id, { linked_study_instance_uid: studyInstanceUid, reading_request_id: requestId ?? null, updated_at: now }))) return false;
      // images arriving without MPPS: acquisition has happened
      await store.updateOrder(order.id, ['scheduled'], { status: 'in-progress', updated_at: now });
      tx.audit.record({ action: 'order.linked', caller, objectType: 'order', objectId: order.id, patientId: order.patient_id, details: { studyInstanceUid, readingRequestId: requestId, by: byUid ? 'study-instance-uid' : 'accession-number' } });
      tx.feed.append({ type: 'order.linked', resourceType: 'order', resourceId: order.id, institutionId: order.institution_id, payload: { studyInstanceUid, readingRequestId: requestId ?? null } });
      return true;
    });
    if (!linked) return undefined;
    const row = await this.deps.store.find(order.id);
    return row ? orderView(row, await this.deps.store.stepsOfOrder(order.id)) : undefined;
  }

  /** The reading request the order becomes: a new one, or the study's open one; none when no centre serves the institution. */
  private async readingRequestFor(order: OrderRow, studyInstanceUid: string): Promise<string | undefined> {
    const open = (await this.deps.readingStore.requestsOfStudy(studyInstanceUid)).find((row) => row.status !== 'cancelled' && row.status !== 'deleted');
    if (open) return open.id;
    try {
      const created = await this.deps.requests.createRequest(orderSystemCaller(order.institution_id, `order:${order.id}`), {
        studyInstanceUid,
        readingInstitutionId: order.reading_institution_id ?? undefined,
        priority: order.priority,
        clinicalHistory: order.reason ?? undefined,
        examItems: [order.procedure_description],
        bodyParts: order.body_part ? [order.body_part] : undefined,
      });
      return created.id;
    } catch (error) {
      if (error instanceof YunyingError && error.code === 'REQUEST_EXISTS') {
        return (await this.deps.readingStore.requestsOfStudy(studyInstanceUid)).find((row) => row.status !== 'cancelled' && row.status !== 'deleted')?.id;
      }
      if (error instanceof YunyingError && (error.code === 'NO_DIAGNOSTIC_CENTRE' || error.code === 'READING_INSTITUTION_NOT_SERVING')) {
        this.deps.logger?.warn({ orderId: order.id, code: error.code }, 'order linked to its study without a reading request');
        return undefined;
      }
      throw error;
    }
  }
}

/**
 * The order acting for its institution when it becomes a reading request: a technologist of
 * the institution in scope and permissions, named after the order in the audit trail.
 */
function orderSystemCaller(institutionId: string, name: string): Caller {
  return { kind: 'system', name, institutionId, role: 'technologist', visibleInstitutionIds: [institutionId], via: 'system' };
}

function orderEntry(order: OrderRow, step: OrderStepRow): WorklistEntry {
  const code = order.procedure_code ? (JSON.parse(order.procedure_code) as CodedConcept) : null;
  return {
    kind: 'order',
    institutionId: order.institution_id,
    patient: { patientId: order.patient_id, issuerOfPatientId: order.issuer_of_patient_id ?? order.institution_id, name: order.patient_name, sex: order.patient_sex, birthDate: order.patient_birth_date },
    accessionNumber: order.accession_number,
    studyInstanceUid: order.study_instance_uid,
    referringPhysician: order.referring_physician,
    requestedProcedure: { id: order.procedure_id, description: order.procedure_description, code },
    priority: order.priority as Priority,
    reason: order.reason,
    step: { id: step.step_id, stationAeTitle: step.station_ae_title, modality: step.modality, startAt: step.start_at, performingPhysician: step.performing_physician, description: step.description, status: step.status as StepStatus },
    orderId: order.id,
  };
}

function requestEntry(request: WorklistRow, now: string): WorklistEntry {
  const examItems = safeList(request.exam_items);
  const description = (examItems.length > 0 ? examItems.join('、') : request.retake_reason ? `重拍：${request.retake_reason}` : '远程诊断补传图像').slice(0, 64);
  return {
    kind: 'reading-request',
    institutionId: request.requesting_institution_id,
    patient: { patientId: request.patient_id, issuerOfPatientId: request.requesting_institution_id, name: request.patient_name, sex: request.patient_sex, birthDate: request.patient_birth_date },
    accessionNumber: request.accession_number,
    studyInstanceUid: request.study_instance_uid,
    referringPhysician: null,
    requestedProcedure: { id: (request.accession_number ?? requestStepId(request.id)).slice(0, 16), description, code: null },
    priority: (isPriority(request.priority) ? request.priority : 'routine') as Priority,
    reason: request.clinical_history,
    step: { id: requestStepId(request.id), stationAeTitle: null, modality: request.modality, startAt: now, performingPhysician: null, description, status: 'scheduled' },
    readingRequestId: request.id,
  };
}

function safeList(json: string): string[] {
  try {
    const value = JSON.parse(json) as unknown;
    return Array.isArray(value) ? value.filter((item): item is string => typeof item === 'string') : [];
  } catch {
    return [];
  }
}

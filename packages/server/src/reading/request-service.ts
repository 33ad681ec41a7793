import { randomUUID } from 'node:crypto';
import { primaryImageModality } from '@yunying/dicom';
import type { AuditEventInput, AuditRecorder } from '../access/audit-event.ts';
import type { Caller } from '../access/caller.ts';
import { requirePermission, studyScopeOf } from '../access/caller.ts';
import { badRequest, conflict, notFound, YunyingError } from '../errors.ts';
import { notificationChanges } from '../events/notification-bus.ts';
import type { Notifier } from '../events/notifier.ts';
import type { NewChange } from '../feed/change.ts';
import { requireReaderAt } from '../reports/report-policy.ts';
import type { ReportService, ReportView } from '../reports/report-service.ts';
import type { AccessStore } from '../store/access-store.ts';
import type { IndexStore } from '../store/index-store.ts';
import type { PatientIdentity, ReadingRequestRow, ReadingStore, RoutingRuleRow, StudyFacts } from '../store/reading-store.ts';
import type { TransactionPorts, UnitOfWork } from '../store/unit-of-work.ts';
import { requestView, type PriorView, type ReadingRequestView } from './request-view.ts';
import { requireRequesterOf, RequestSteps } from './request-steps.ts';
import { dueAt, isPriority, type Priority, type SlaMinutes } from './sla.ts';


export interface RequestOptions {
  /** the SLA allowances, or where to read them at each use (the administrator's settings, settings/) */
  sla: SlaMinutes | (() => Promise<SlaMinutes>);
  /** a study whose last instance is this old counts as complete */
  stableSeconds: number;
}

export interface RequestDependencies {
  store: ReadingStore;
  access: AccessStore;
  index: IndexStore;
  audit: AuditRecorder;
  notifier: Notifier;
  /** a request, its event, its grant, its audit record and its feed row in one transaction */
  unitOfWork: UnitOfWork;
  /** the request's detail view shows its report */
  reports: Pick<ReportService, 'reportOfCase'>;
}

export interface CreateRequestInput {
  studyInstanceUid: string;
  readingInstitutionId?: string;
  priority: string;
  clinicalHistory?: string;
  examItems?: string[];
  bodyParts?: string[];
  /** the technologist says every image has been sent */
  imagesComplete?: boolean;
}

/**
 * Remote diagnosis (远程诊断) requests: opening one (by a technologist or a routing rule),
 * waiting for the images, cancelling, retakes, the request's detail and its priors. The
 * state machine lives here and in the conditional updates of ReadingStore: an illegal step is
 * refused with a clear error whatever the interface, and concurrent steps resolve to one winner.
 */
export class RequestService {
  private readonly deps: RequestDependencies;
  private readonly options: RequestOptions;
  private readonly steps: RequestSteps;

  constructor(deps: RequestDependencies, options: RequestOptions) {
    this.deps = deps;
    this.options = options;
    this.steps = new RequestSteps(deps.store);
  }

  async createRequest(caller: Caller, input: CreateRequestInput): Promise<ReadingRequestView> {
    requirePermission(caller, 'request:create');
    if (!isPriority(input.priority)) throw badRequest('INVALID_PRIORITY', 'priority is routine, urgent or emergency');
    // Only a study the requester may see now: a request for a UID not stored yet would show
    // its future owner's patient to the requester (issue 12, finding 10). Absent and hidden
    // answer alike. Routing rules still make requests before the images (routeStudy).
    const access = await this.deps.index.studyAccess(input.studyInstanceUid, studyScopeOf(caller));
    if (access !== 'visible') throw notFound(`study ${input.studyInstanceUid}`);
    const readingInstitutionId = input.readingInstitutionId ?? (await this.servingCentreOf(caller.institutionId));
    if (!readingInstitutionId) throw badRequest('NO_DIAGNOSTIC_CENTRE', 'no diagnostic centre serves this institution; name readingInstitutionId');
    if (!(await this.deps.access.findInstitution(readingInstitutionId))) throw notFound(`institution ${readingInstitutionId}`);
    await this.requireServing(caller, readingInstitutionId);
    await this.refuseIfOpen(input.studyInstanceUid, readingInstitutionId);
    const row = await this.newRequestRow({
      studyInstanceUid: input.studyInstanceUid,
      requestingInstitutionId: caller.institutionId,
      readingInstitutionId,
      requestedBy: caller.name,
      priority: input.priority,
      clinicalHistory: input.clinicalHistory,
      examItems: input.examItems ?? [],
      bodyParts: input.bodyParts ?? [],
      imagesComplete: input.imagesComplete === true,
    });
    // The check above answers the common case with the open request's id; the insert's unique
    // index decides between requests made at once (issue 13, item 10).
    if (!(await this.create(caller, row))) await this.refuseIfOpen(input.studyInstanceUid, readingInstitutionId, true);
    return requestView(row);
  }

  /**
   * The requests routing rules open for newly stored studies (routing-service.ts), before
   * their images are complete: all of them in one transaction, each with its event, its
   * grant, its audit record, its feed row and its notifications (one commit and one disk
   * flush for a batch of studies instead of one per study). A study that has a request
   * already is left alone: checked in the transaction, and where two processes (or a
   * technologist) make one at once the insert's unique index decides and routing leaves the
   * study to the one that won. Returns the requests opened.
   */
  async openRoutedRequests(routes: ReadonlyArray<{ rule: RoutingRuleRow & { priority: Priority }; facts: StudyFacts; studyInstanceUid: string }>): Promise<ReadingRequestRow[]> {
    if (routes.length === 0) return [];
    const rows = await Promise.all(
      routes.map(({ rule, facts, studyInstanceUid }) =>
        this.newRequestRow({ studyInstanceUid, requestingInstitutionId: facts.institution_id, readingInstitutionId: rule.reading_institution_id, requestedBy: `routing:${rule.id}`, routingRuleId: rule.id, priority: rule.priority, examItems: [], bodyParts: [], imagesComplete: false }, facts),
      ),
    );
    return this.deps.unitOfWork.run(async (tx) => {
      const taken = await tx.reading.studiesWithRequests(rows.map((row) => row.study_instance_uid));
      const fresh: ReadingRequestRow[] = [];
      for (const row of rows) {
        if (taken.has(row.study_instance_uid)) continue;
        taken.add(row.study_instance_uid);
        fresh.push(row);
      }
      // As createIn does for one request, in a few statements for all of them.
      const inserted = await tx.reading.insertRequests(fresh);
      const opened = fresh.filter((row) => inserted.has(row.id));
      await tx.access.grantStudies(opened.map((row) => ({ study_instance_uid: row.study_instance_uid, institution_id: row.reading_institution_id, reason: `reading request ${row.id}`, granted_by: row.requested_by })));
      for (const row of opened) {
        const router: Caller = { kind: 'system', name: row.requested_by, institutionId: row.requesting_institution_id, role: 'administrator', visibleInstitutionIds: 'all', via: 'system' };
        tx.audit.record(createdAudit(router, row));
        tx.feed.append(createdChange(row));
        // The screens hear of the request when it commits: its notifications are feed rows of this transaction.
        for (const change of notificationChanges([row.reading_institution_id, row.requesting_institution_id], 'reading-request.created', createdNotice(row))) tx.feed.append(change);
      }
      return opened;
    });
  }

  /** REQUEST_EXISTS when the study has an open request at the centre (or, `lost`, when an insert found one). */
  private async refuseIfOpen(studyInstanceUid: string, readingInstitutionId: string, lost = false): Promise<void> {
    const active = (await this.deps.store.requestsOfStudy(studyInstanceUid)).find((row) => row.reading_institution_id === readingInstitutionId && row.status !== 'cancelled' && row.status !== 'signed');
    if (active || lost) throw conflict('REQUEST_EXISTS', `the study already has an open reading request${active ? ` (${active.id})` : ''}`);
  }

  private async slaMinutes(): Promise<SlaMinutes> {
    const { sla } = this.options;
    return typeof sla === 'function' ? sla() : sla;
  }

  /** The new request's row; `facts` of its study when the caller has read them already. */
  private async newRequestRow(input: { studyInstanceUid: string; requestingInstitutionId: string; readingInstitutionId: string; requestedBy: string; routingRuleId?: string; priority: Priority; clinicalHistory?: string; examItems: string[]; bodyParts: string[]; imagesComplete: boolean }, knownFacts?: StudyFacts): Promise<ReadingRequestRow> {
    const now = new Date().toISOString();
    const facts = knownFacts ?? (await this.deps.store.studyFacts(input.studyInstanceUid));
    return {
      id: randomUUID(),
      study_instance_uid: input.studyInstanceUid,
      requesting_institution_id: input.requestingInstitutionId,
      reading_institution_id: input.readingInstitutionId,
      requested_by: input.requestedBy,
      routing_rule_id: input.routingRuleId ?? null,
      priority: input.priority,
      status: input.imagesComplete ? 'pending' : 'awaiting-images',
      clinical_history: input.clinicalHistory ?? null,
      exam_items: JSON.stringify(input.examItems),
      body_parts: JSON.stringify(input.bodyParts.length > 0 ? input.bodyParts : facts?.body_part_examined ? [facts.body_part_examined] : []),
      modality: primaryImageModality(facts?.modalities_in_study),
      claimed_by: null,
      claimed_at: null,
      retake_reason: null,
      created_at: now,
      images_complete_at: input.imagesComplete ? now : null,
      submitted_at: null,
      signed_at: null,
      due_at: input.imagesComplete ? dueAt(now, input.priority, await this.slaMinutes()) : null,
      updated_at: now,
    };
  }

  /**
   * Opens the request: the request and its event, the study's grant to the reading centre,
   * the audit record and the feed row commit together (they were four separate writes), then
   * the centre's screens hear of it. False, with nothing written, when the study has an open
   * request at the centre already (the unique index decided against this one).
   */
  private async create(caller: Caller, row: ReadingRequestRow): Promise<boolean> {
    const created = await this.deps.unitOfWork.run((tx) => this.createIn(tx, caller, row));
    if (created) await this.deps.notifier.publish([row.reading_institution_id, row.requesting_institution_id], 'reading-request.created', createdNotice(row));
    return created;
  }

  /** The writes of opening a request, in the caller's unit of work; false when the unique index decided against it. */
  private async createIn(tx: TransactionPorts, caller: Caller, row: ReadingRequestRow): Promise<boolean> {
    if (!(await tx.reading.insertRequest(row, caller.name))) return false;
    await tx.access.grantStudy({ study_instance_uid: row.study_instance_uid, institution_id: row.reading_institution_id, reason: `reading request ${row.id}`, granted_by: caller.name });
    tx.audit.record(createdAudit(caller, row));
    tx.feed.append(createdChange(row));
    return true;
  }

  /**
   * The request grants the study to the reading institution, so it must be one that serves
   * the requester (an alliance centre of it, or the requester itself). Platform
   * administrators route anywhere, as their routing rules do.
   */
  private async requireServing(caller: Caller, readingInstitutionId: string): Promise<void> {
    if (caller.visibleInstitutionIds === 'all' || readingInstitutionId === caller.institutionId) return;
    if (!(await this.deps.access.isAllianceMember(readingInstitutionId, caller.institutionId))) throw new YunyingError('READING_INSTITUTION_NOT_SERVING', `institution ${readingInstitutionId} does not serve institution ${caller.institutionId}: name a diagnostic centre of its alliance`);
  }

  private async servingCentreOf(institutionId: string): Promise<string | undefined> {
    return this.deps.access.firstServingCentre(institutionId);
  }

  /**
   * Requests waiting for images become readable once their study has stopped growing for
   * `stableSeconds`. Any process may run this: each promotion is a conditional update.
   */
  async promoteCompleteStudies(now = Date.now()): Promise<number> {
    let promoted = 0;
    for (const row of await this.deps.store.awaitingImages(500)) {
      if (row.instances === 0 || !row.last_instance_at) continue;
      if (now - Date.parse(row.last_instance_at) < this.options.stableSeconds * 1000) continue;
      if (await this.markImagesComplete(row, 'system', new Date(now).toISOString())) promoted += 1;
    }
    return promoted;
  }

  /** The technologist says every image has been sent. */
  async confirmImagesComplete(caller: Caller, requestId: string): Promise<ReadingRequestView> {
    const row = await this.steps.visibleRequest(caller, requestId);
    requireRequesterOf(caller, row);
    const facts = await this.deps.store.studyFacts(row.study_instance_uid);
    if (!facts || facts.instances === 0) throw conflict('NO_IMAGES', 'no image of the study has arrived yet');
    if (!(await this.markImagesComplete(row, caller.name, new Date().toISOString()))) throw await this.steps.illegal(row.id, 'confirm images complete');
    return this.getRequest(caller, requestId);
  }

  private async markImagesComplete(row: ReadingRequestRow, actor: string, at: string): Promise<boolean> {
    const priority = isPriority(row.priority) ? row.priority : 'routine';
    const facts = await this.deps.store.studyFacts(row.study_instance_uid);
    const sla = await this.slaMinutes();
    const moved = await this.deps.store.transition(
      {
        id: row.id,
        from: ['awaiting-images'],
        to: 'pending',
        set: { images_complete_at: at, due_at: dueAt(at, priority, sla), modality: row.modality ?? primaryImageModality(facts?.modalities_in_study) },
        actor,
      },
      at,
    );
    if (moved) await this.deps.notifier.publish([row.reading_institution_id, row.requesting_institution_id], 'reading-request.ready', { requestId: row.id, priority: row.priority });
    return moved;
  }

  async cancelRequest(caller: Caller, requestId: string, reason: string): Promise<ReadingRequestView> {
    const row = await this.steps.visibleRequest(caller, requestId);
    requireRequesterOf(caller, row);
    await this.steps.move(caller, row, ['awaiting-images', 'pending', 'retake-requested'], 'cancelled', {}, { reason }, 'cancel');
    return this.getRequest(caller, requestId);
  }

  async requestRetake(caller: Caller, requestId: string, reason: string): Promise<ReadingRequestView> {
    const row = await this.steps.visibleRequest(caller, requestId);
    requireReaderAt(caller, row, 'request:claim');
    if (row.status === 'claimed' && row.claimed_by !== caller.name) throw conflict('CLAIMED_BY_OTHER', `the request is being read by ${row.claimed_by}`);
    const moved = await this.deps.unitOfWork.run(async (tx) => {
      const transition = { id: row.id, from: ['pending', 'claimed'], to: 'retake-requested', set: { retake_reason: reason, claimed_by: null, claimed_at: null }, actor: caller.name, details: { reason } };
      if (!(await tx.reading.transition(transition, new Date().toISOString()))) return false;
      tx.audit.record({ action: 'reading-request.retake-requested', caller, objectType: 'study', objectId: row.study_instance_uid, details: { requestId: row.id, reason } });
      tx.feed.append({ type: 'request.retake-requested', resourceType: 'request', resourceId: row.id, institutionId: row.requesting_institution_id, payload: { studyInstanceUid: row.study_instance_uid, readingInstitutionId: row.reading_institution_id, reason } });
      return true;
    });
    if (!moved) throw await this.steps.illegal(row.id, 'request a retake');
    await this.deps.notifier.publish([row.requesting_institution_id, row.reading_institution_id], 'retake.requested', { requestId: row.id, studyInstanceUid: row.study_instance_uid, reason });
    return this.getRequest(caller, requestId);
  }

  /** After a retake the township sends the new images; the request waits for them again. */
  async resubmit(caller: Caller, requestId: string): Promise<ReadingRequestView> {
    const row = await this.steps.visibleRequest(caller, requestId);
    requireRequesterOf(caller, row);
    await this.steps.move(caller, row, ['retake-requested'], 'awaiting-images', { images_complete_at: null, due_at: null }, {}, 'resubmit');
    return this.getRequest(caller, requestId);
  }

  async getRequest(caller: Caller, requestId: string): Promise<ReadingRequestView & { events: Array<{ at: string; actor: string; from: string | null; to: string; details: unknown }>; report?: ReportView }> {
    const row = await this.steps.visibleRequest(caller, requestId);
    await this.deps.audit.record({ action: 'study.viewed', caller, objectType: 'study', objectId: row.study_instance_uid, details: { requestId: row.id } });
    const events = (await this.deps.store.events(row.id)).map((event) => ({ at: event.at, actor: event.actor, from: event.from_status, to: event.to_status, details: JSON.parse(event.details) as unknown }));
    const report = await this.deps.reports.reportOfCase(row.id);
    const detailed = (await this.deps.store.findWorklistRow(row.id)) ?? row;
    return { ...requestView(detailed), events, ...(report ? { report } : {}) };
  }

  /**
   * The patient's other studies for comparison: those of the same patient identity (Patient
   * ID, issuer, issuing institution) that the reading centre may see already, and those of
   * the requesting institution it may not see yet, marked not accessible. Listing grants
   * nothing; openPrior does, one study at a time, with a reason (issue 12, finding 1).
   */
  async priors(caller: Caller, requestId: string): Promise<PriorView[]> {
    const row = await this.steps.visibleRequest(caller, requestId);
    requireReaderAt(caller, row, 'priors:read');
    const { identity, priors } = await this.priorsOf(caller, row);
    if (identity) await this.deps.audit.record({ action: 'study.queried', caller, objectType: 'patient', patientId: identity.patientId, details: { priors: true, requestId: row.id, results: priors.length, studies: priors.map((prior) => prior.studyInstanceUid) } });
    return priors;
  }

  /**
   * Opens one listed prior that the reading centre may not see yet: grants it to the centre
   * and records who, why and for which request. A study not in the request's priors answers
   * exactly like one that does not exist.
   */
  async openPrior(caller: Caller, requestId: string, studyInstanceUid: string, reason: string): Promise<PriorView> {
    const row = await this.steps.visibleRequest(caller, requestId);
    requireReaderAt(caller, row, 'priors:read');
    const { identity, priors } = await this.priorsOf(caller, row);
    const prior = priors.find((candidate) => candidate.studyInstanceUid === studyInstanceUid);
    if (!identity || !prior) throw notFound(`study ${studyInstanceUid}`);
    if (prior.accessible) return prior;
    // The grant, its audit record and its feed row: one transaction.
    await this.deps.unitOfWork.run(async (tx) => {
      await tx.access.grantStudy({ study_instance_uid: studyInstanceUid, institution_id: row.reading_institution_id, reason: `prior for reading request ${row.id}: ${reason}`, granted_by: caller.name });
      tx.audit.record({ action: 'prior.opened', caller, objectType: 'study', objectId: studyInstanceUid, patientId: identity.patientId, details: { reason, requestId: row.id, institutionId: row.reading_institution_id, owningInstitutionId: prior.institutionId } });
      tx.feed.append({ type: 'grant.created', resourceType: 'study', resourceId: studyInstanceUid, institutionId: row.reading_institution_id, payload: { requestId: row.id, prior: true } });
    });
    return { ...prior, accessible: true };
  }

  private async priorsOf(caller: Caller, row: ReadingRequestRow): Promise<{ identity?: PatientIdentity; priors: PriorView[] }> {
    const facts = await this.deps.store.studyFacts(row.study_instance_uid);
    if (!facts?.patient_id) return { priors: [] };
    const identity: PatientIdentity = { patientId: facts.patient_id, issuerOfPatientId: facts.issuer_of_patient_id, institutionId: facts.institution_id };
    // The caller is a reader of the reading centre (requireReaderAt): their scope is the centre's.
    const rows = await this.deps.store.priorStudies(identity, row.study_instance_uid, studyScopeOf(caller));
    // What the centre may not see is offered only from the institution that asked for the read.
    const offered = rows.filter((prior) => prior.accessible === 1 || prior.institution_id === row.requesting_institution_id);
    return {
      identity,
      priors: offered.map((prior) => ({ studyInstanceUid: prior.study_instance_uid, studyDate: prior.study_date, description: prior.study_description, modalities: (prior.modalities_in_study ?? '').split('\\').filter(Boolean), institutionId: prior.institution_id, hasSignedReport: prior.signed_reports > 0, accessible: prior.accessible === 1 })),
    };
  }
}

/** The `reading-request.created` notification's body. */
function createdNotice(row: ReadingRequestRow): Record<string, unknown> {
  return { requestId: row.id, studyInstanceUid: row.study_instance_uid, priority: row.priority, status: row.status };
}

/** The audit record of a request's creation. */
function createdAudit(caller: Caller, row: ReadingRequestRow): AuditEventInput {
  return { action: 'reading-request.created', caller, objectType: 'study', objectId: row.study_instance_uid, details: { requestId: row.id, readingInstitutionId: row.reading_institution_id, priority: row.priority, routingRuleId: row.routing_rule_id } };
}

/** The feed row of a request's creation. */
function createdChange(row: ReadingRequestRow): NewChange {
  return { type: 'request.created', resourceType: 'request', resourceId: row.id, institutionId: row.reading_institution_id, payload: { studyInstanceUid: row.study_instance_uid, requestingInstitutionId: row.requesting_institution_id, priority: row.priority, status: row.status, routingRuleId: row.routing_rule_id } };
}

import { randomUUID } from 'node:crypto';
import { primaryImageModality } from '@yunying/dicom';
import type { AuditRecorder } from '../access/audit-event.ts';
import type { Caller } from '../access/caller.ts';
import { studyScopeOf } from '../access/caller.ts';
import type { Role } from '../access/roles.ts';
import { badRequest, conflict, DIMSE_STATUS, forbidden, notFound, YunyingError } from '../errors.ts';
import type { AccessStore } from '../store/access-store.ts';
import type { IndexStore } from '../store/index-store.ts';
import type { PatientIdentity, ReadingRequestRow, ReadingStore, ReportRow, RoutingRuleRow, WorklistFilter, WorklistRow } from '../store/reading-store.ts';
import { dueAt, isPriority, remainingSeconds, type Priority, type SlaMinutes } from './sla.ts';
import { STARTER_TEMPLATES } from './starter-templates.ts';

export const REQUEST_STATUSES = ['awaiting-images', 'pending', 'claimed', 'submitted', 'signed', 'retake-requested', 'cancelled'] as const;
export type RequestStatus = (typeof REQUEST_STATUSES)[number];

const READERS: readonly Role[] = ['radiologist', 'reviewing-radiologist', 'expert'];
const REVIEWERS: readonly Role[] = ['reviewing-radiologist'];
const REQUESTERS: readonly Role[] = ['technologist', 'administrator'];

/** Live notifications to an institution's screens (the notification bus implements it). */
export interface Notifier {
  publish(institutionIds: string[], type: string, payload: Record<string, unknown>): Promise<void>;
}

/** What happens when a report is signed or amended: the SR with the study, the PDF, … */
export interface SignedReportDelivery {
  /** stores the report as DICOM SR with the study; resolves to its SOP Instance UID */
  storeStructuredReport(request: ReadingRequestRow, report: ReportRow): Promise<string | undefined>;
}

export interface ReadingOptions {
  sla: SlaMinutes;
  /** a study whose last instance is this old counts as complete */
  stableSeconds: number;
  /** IANA time zone of routing rules' time windows */
  timeZone: string;
}

export interface ReadingDependencies {
  store: ReadingStore;
  access: AccessStore;
  index: IndexStore;
  audit: AuditRecorder;
  notifier: Notifier;
  delivery?: SignedReportDelivery;
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

export interface DraftInput {
  findings: string;
  impression: string;
  positive?: boolean | null;
  templateId?: string;
}

export interface RoutingRuleInput {
  name: string;
  position?: number;
  sourceInstitutionId?: string;
  modality?: string;
  bodyPart?: string;
  timeFrom?: string;
  timeTo?: string;
  readingInstitutionId: string;
  priority?: string;
}

/**
 * Remote diagnosis (远程诊断): reading requests, routing, the worklist with SLA deadlines,
 * claims, reports with two-level sign-off, addenda, retakes. The state machine lives here
 * and in the conditional updates of ReadingStore: an illegal step is refused with a clear
 * error whatever the interface, and concurrent steps resolve to one winner.
 */
export class ReadingService {
  private readonly deps: ReadingDependencies;
  private readonly options: ReadingOptions;
  constructor(
    deps: ReadingDependencies,
    options: ReadingOptions,
  ) {
    this.deps = deps;
    this.options = options;
  }

  /** Seeds the starter templates (idempotent, safe from several processes). */
  async seedTemplates(): Promise<void> {
    const now = new Date().toISOString();
    await this.deps.store.insertTemplates(STARTER_TEMPLATES.map((template) => ({ ...template, institution_id: null, created_at: now })));
  }

  // Requests

  async createRequest(caller: Caller, input: CreateRequestInput): Promise<ReadingRequestView> {
    requireRole(caller, REQUESTERS, 'request a remote read');
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
    if (!(await this.deps.store.insertRequest(row, caller.name))) await this.refuseIfOpen(input.studyInstanceUid, readingInstitutionId, true);
    await this.afterCreate(caller, row);
    return this.view(row);
  }

  /** REQUEST_EXISTS when the study has an open request at the centre (or, `lost`, when an insert found one). */
  private async refuseIfOpen(studyInstanceUid: string, readingInstitutionId: string, lost = false): Promise<void> {
    const active = (await this.deps.store.requestsOfStudy(studyInstanceUid)).find((row) => row.reading_institution_id === readingInstitutionId && row.status !== 'cancelled' && row.status !== 'signed');
    if (active || lost) throw conflict('REQUEST_EXISTS', `the study already has an open reading request${active ? ` (${active.id})` : ''}`);
  }

  private async newRequestRow(input: { studyInstanceUid: string; requestingInstitutionId: string; readingInstitutionId: string; requestedBy: string; routingRuleId?: string; priority: Priority; clinicalHistory?: string; examItems: string[]; bodyParts: string[]; imagesComplete: boolean }): Promise<ReadingRequestRow> {
    const now = new Date().toISOString();
    const facts = await this.deps.store.studyFacts(input.studyInstanceUid);
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
      due_at: input.imagesComplete ? dueAt(now, input.priority, this.options.sla) : null,
      updated_at: now,
    };
  }

  /** The study becomes visible to the reading centre, the centre's screens hear of it, the trail records it. */
  private async afterCreate(caller: Caller, row: ReadingRequestRow): Promise<void> {
    await this.deps.access.grantStudy({ study_instance_uid: row.study_instance_uid, institution_id: row.reading_institution_id, reason: `reading request ${row.id}`, granted_by: caller.name });
    await this.deps.audit.record({ action: 'reading-request.created', caller, objectType: 'study', objectId: row.study_instance_uid, details: { requestId: row.id, readingInstitutionId: row.reading_institution_id, priority: row.priority, routingRuleId: row.routing_rule_id } });
    await this.deps.notifier.publish([row.reading_institution_id, row.requesting_institution_id], 'reading-request.created', { requestId: row.id, studyInstanceUid: row.study_instance_uid, priority: row.priority, status: row.status });
  }

  /**
   * The request grants the study to the reading institution, so it must be one that serves
   * the requester (an alliance centre of it, or the requester itself). Platform
   * administrators route anywhere, as their routing rules do.
   */
  private async requireServing(caller: Caller, readingInstitutionId: string): Promise<void> {
    if (caller.visibleInstitutionIds === 'all' || readingInstitutionId === caller.institutionId) return;
    const membership = await this.deps.store.db.selectFrom('alliance_members').select('centre_id').where('centre_id', '=', readingInstitutionId).where('member_id', '=', caller.institutionId).executeTakeFirst();
    if (!membership) throw new YunyingError('READING_INSTITUTION_NOT_SERVING', `institution ${readingInstitutionId} does not serve institution ${caller.institutionId}: name a diagnostic centre of its alliance`, 422, DIMSE_STATUS.PROCESSING_FAILURE);
  }

  private async servingCentreOf(institutionId: string): Promise<string | undefined> {
    const row = await this.deps.store.db.selectFrom('alliance_members').select('centre_id').where('member_id', '=', institutionId).orderBy('created_at').executeTakeFirst();
    return row?.centre_id;
  }

  /**
   * Routing (e.g. all DR from township X to county hospital Y): called after an instance of a
   * study is stored; the first enabled rule that matches creates the request. A study with
   * any request already is left alone.
   */
  async routeStudy(studyInstanceUid: string, at = new Date()): Promise<ReadingRequestRow | undefined> {
    if ((await this.deps.store.requestsOfStudy(studyInstanceUid)).length > 0) return undefined;
    const facts = await this.deps.store.studyFacts(studyInstanceUid);
    if (!facts) return undefined;
    const rule = (await this.deps.store.listRules()).find((candidate) => ruleMatches(candidate, facts, localTime(at, this.options.timeZone)));
    if (!rule || !isPriority(rule.priority)) return undefined;
    const row = await this.newRequestRow({ studyInstanceUid, requestingInstitutionId: facts.institution_id, readingInstitutionId: rule.reading_institution_id, requestedBy: `routing:${rule.id}`, routingRuleId: rule.id, priority: rule.priority, examItems: [], bodyParts: [], imagesComplete: false });
    // Two processes (or a technologist) may make a request for the new study at once: the
    // insert's unique index decides, and routing leaves the study to the one that won.
    if ((await this.deps.store.requestsOfStudy(studyInstanceUid)).length > 0) return undefined;
    if (!(await this.deps.store.insertRequest(row, row.requested_by))) return undefined;
    await this.afterCreate({ kind: 'system', name: row.requested_by, institutionId: facts.institution_id, role: 'administrator', visibleInstitutionIds: 'all', via: 'system' }, row);
    return row;
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
    const row = await this.visibleRequest(caller, requestId);
    requireRequesterOf(caller, row);
    const facts = await this.deps.store.studyFacts(row.study_instance_uid);
    if (!facts || facts.instances === 0) throw conflict('NO_IMAGES', 'no image of the study has arrived yet');
    if (!(await this.markImagesComplete(row, caller.name, new Date().toISOString()))) throw await this.illegal(row.id, 'confirm images complete');
    return this.getRequest(caller, requestId);
  }

  private async markImagesComplete(row: ReadingRequestRow, actor: string, at: string): Promise<boolean> {
    const priority = isPriority(row.priority) ? row.priority : 'routine';
    const facts = await this.deps.store.studyFacts(row.study_instance_uid);
    const moved = await this.deps.store.transition(
      {
        id: row.id,
        from: ['awaiting-images'],
        to: 'pending',
        set: { images_complete_at: at, due_at: dueAt(at, priority, this.options.sla), modality: row.modality ?? primaryImageModality(facts?.modalities_in_study) },
        actor,
      },
      at,
    );
    if (moved) await this.deps.notifier.publish([row.reading_institution_id, row.requesting_institution_id], 'reading-request.ready', { requestId: row.id, priority: row.priority });
    return moved;
  }

  async cancelRequest(caller: Caller, requestId: string, reason: string): Promise<ReadingRequestView> {
    const row = await this.visibleRequest(caller, requestId);
    requireRequesterOf(caller, row);
    await this.move(caller, row, ['awaiting-images', 'pending', 'retake-requested'], 'cancelled', {}, { reason }, 'cancel');
    return this.getRequest(caller, requestId);
  }

  // Worklist and claims

  async worklist(caller: Caller, filter: Omit<WorklistFilter, 'readingInstitutionId' | 'requestingInstitutionIds'> & { requestingInstitutionId?: string }): Promise<ReadingRequestView[]> {
    const scoped: WorklistFilter = { ...filter, requestingInstitutionIds: filter.requestingInstitutionId ? [filter.requestingInstitutionId] : undefined };
    if (caller.role === 'administrator') {
      // the whole platform
    } else if (READERS.includes(caller.role)) scoped.readingInstitutionId = caller.institutionId;
    else if (caller.role === 'technologist') scoped.requestingInstitutionIds = [caller.institutionId];
    else throw forbidden(`the role ${caller.role} has no worklist`);
    const rows = await this.deps.store.worklist(scoped);
    // The worklist shows patients' names: a view of patient data like a query.
    await this.deps.audit.record({ action: 'study.queried', caller, details: { worklist: true, statuses: filter.statuses, results: rows.length, studies: rows.slice(0, 100).map((row) => row.study_instance_uid) } });
    const now = Date.now();
    return rows.map((row) => this.view(row, now));
  }

  async claim(caller: Caller, requestId: string): Promise<ReadingRequestView> {
    const row = await this.visibleRequest(caller, requestId);
    requireReaderAt(caller, row);
    const at = new Date().toISOString();
    const won = await this.deps.store.transition({ id: row.id, from: ['pending'], to: 'claimed', set: { claimed_by: caller.name, claimed_at: at }, actor: caller.name }, at);
    if (!won) {
      const current = await this.deps.store.findRequest(row.id);
      if (current?.status === 'claimed') throw conflict('ALREADY_CLAIMED', `the request is being read by ${current.claimed_by}`);
      throw await this.illegal(row.id, 'claim');
    }
    return this.announceClaim(caller, row, { requestId: row.id });
  }

  /**
   * "Next case": claims the first pending request of the caller's centre in worklist order.
   * Radiologists pressing it together each get a different request instead of all racing for
   * the top row.
   */
  async claimNext(caller: Caller): Promise<ReadingRequestView> {
    requireRole(caller, READERS, 'claim requests');
    if (this.deps.store.supportsSkipLocked) {
      const id = await this.deps.store.claimFirstPending(caller.institutionId, caller.name, new Date().toISOString());
      if (!id) throw notFound('pending reading request');
      return this.announceClaim(caller, (await this.deps.store.findRequest(id))!, { requestId: id, next: true });
    }
    // SQLite has one writer: try the first rows in turn, each a conditional update.
    for (let round = 0; round < 5; round++) {
      const candidates = await this.deps.store.nextPending(caller.institutionId, 10);
      if (candidates.length === 0) break;
      // Spread simultaneous callers over the first rows rather than all trying the first.
      const start = Math.floor(Math.random() * Math.min(candidates.length, 3));
      for (const id of [...candidates.slice(start), ...candidates.slice(0, start)]) {
        const at = new Date().toISOString();
        if (await this.deps.store.transition({ id, from: ['pending'], to: 'claimed', set: { claimed_by: caller.name, claimed_at: at }, actor: caller.name, details: { next: true } }, at)) return this.announceClaim(caller, (await this.deps.store.findRequest(id))!, { requestId: id, next: true });
      }
    }
    throw notFound('pending reading request');
  }

  /** A won claim (by id or "next case"): in the trail, on both institutions' screens. */
  private async announceClaim(caller: Caller, row: ReadingRequestRow, details: Record<string, unknown>): Promise<ReadingRequestView> {
    await this.deps.audit.record({ action: 'reading-request.claimed', caller, objectType: 'study', objectId: row.study_instance_uid, details });
    await this.deps.notifier.publish([row.reading_institution_id, row.requesting_institution_id], 'reading-request.claimed', { requestId: row.id, claimedBy: caller.name });
    return this.getRequest(caller, row.id);
  }

  async release(caller: Caller, requestId: string): Promise<ReadingRequestView> {
    const row = await this.visibleRequest(caller, requestId);
    requireClaimer(caller, row);
    await this.move(caller, row, ['claimed'], 'pending', { claimed_by: null, claimed_at: null }, {}, 'release', { claimedBy: caller.name });
    await this.deps.notifier.publish([row.reading_institution_id], 'reading-request.released', { requestId: row.id });
    return this.getRequest(caller, requestId);
  }

  async requestRetake(caller: Caller, requestId: string, reason: string): Promise<ReadingRequestView> {
    const row = await this.visibleRequest(caller, requestId);
    requireReaderAt(caller, row);
    if (row.status === 'claimed' && row.claimed_by !== caller.name) throw conflict('CLAIMED_BY_OTHER', `the request is being read by ${row.claimed_by}`);
    await this.move(caller, row, ['pending', 'claimed'], 'retake-requested', { retake_reason: reason, claimed_by: null, claimed_at: null }, { reason }, 'request a retake');
    await this.deps.audit.record({ action: 'reading-request.retake-requested', caller, objectType: 'study', objectId: row.study_instance_uid, details: { requestId: row.id, reason } });
    await this.deps.notifier.publish([row.requesting_institution_id, row.reading_institution_id], 'retake.requested', { requestId: row.id, studyInstanceUid: row.study_instance_uid, reason });
    return this.getRequest(caller, requestId);
  }

  /** After a retake the township sends the new images; the request waits for them again. */
  async resubmit(caller: Caller, requestId: string): Promise<ReadingRequestView> {
    const row = await this.visibleRequest(caller, requestId);
    requireRequesterOf(caller, row);
    await this.move(caller, row, ['retake-requested'], 'awaiting-images', { images_complete_at: null, due_at: null }, {}, 'resubmit');
    return this.getRequest(caller, requestId);
  }

  private async move(caller: Caller, row: ReadingRequestRow, from: readonly RequestStatus[], to: RequestStatus, set: Partial<ReadingRequestRow>, details: Record<string, unknown>, what: string, guard?: { claimedBy: string }): Promise<void> {
    if (guard && row.claimed_by !== guard.claimedBy) throw forbidden('only the radiologist who claimed the request may do this');
    const moved = await this.deps.store.transition({ id: row.id, from, to, set, actor: caller.name, details }, new Date().toISOString());
    if (!moved) throw await this.illegal(row.id, what);
  }

  private async illegal(requestId: string, what: string): Promise<YunyingError> {
    const current = await this.deps.store.findRequest(requestId);
    return conflict('ILLEGAL_TRANSITION', `cannot ${what}: the request is ${current?.status ?? 'gone'}`);
  }

  async getRequest(caller: Caller, requestId: string): Promise<ReadingRequestView & { events: Array<{ at: string; actor: string; from: string | null; to: string; details: unknown }>; report?: ReportView }> {
    const row = await this.visibleRequest(caller, requestId);
    await this.deps.audit.record({ action: 'study.viewed', caller, objectType: 'study', objectId: row.study_instance_uid, details: { requestId: row.id } });
    const events = (await this.deps.store.events(row.id)).map((event) => ({ at: event.at, actor: event.actor, from: event.from_status, to: event.to_status, details: JSON.parse(event.details) as unknown }));
    const report = await this.deps.store.findReportOfRequest(row.id);
    const detailed = (await this.deps.store.findWorklistRow(row.id)) ?? row;
    return { ...this.view(detailed), events, ...(report ? { report: await this.reportView(report) } : {}) };
  }

  /**
   * The patient's other studies for comparison: those of the same patient identity (Patient
   * ID, issuer, issuing institution) that the reading centre may see already, and those of
   * the requesting institution it may not see yet, marked not accessible. Listing grants
   * nothing; openPrior does, one study at a time, with a reason (issue 12, finding 1).
   */
  async priors(caller: Caller, requestId: string): Promise<PriorView[]> {
    const row = await this.visibleRequest(caller, requestId);
    requireReaderAt(caller, row);
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
    const row = await this.visibleRequest(caller, requestId);
    requireReaderAt(caller, row);
    const { identity, priors } = await this.priorsOf(caller, row);
    const prior = priors.find((candidate) => candidate.studyInstanceUid === studyInstanceUid);
    if (!identity || !prior) throw notFound(`study ${studyInstanceUid}`);
    if (prior.accessible) return prior;
    await this.deps.access.grantStudy({ study_instance_uid: studyInstanceUid, institution_id: row.reading_institution_id, reason: `prior for reading request ${row.id}: ${reason}`, granted_by: caller.name });
    await this.deps.audit.record({ action: 'prior.opened', caller, objectType: 'study', objectId: studyInstanceUid, patientId: identity.patientId, details: { reason, requestId: row.id, institutionId: row.reading_institution_id, owningInstitutionId: prior.institutionId } });
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

  // Reports

  async saveDraft(caller: Caller, requestId: string, draft: DraftInput): Promise<ReportView> {
    const row = await this.visibleRequest(caller, requestId);
    requireClaimer(caller, row);
    if (row.status !== 'claimed') throw await this.illegal(row.id, 'edit the report');
    if (draft.templateId && !(await this.deps.store.findTemplate(draft.templateId))) throw notFound(`template ${draft.templateId}`);
    const now = new Date().toISOString();
    const changes = { findings: draft.findings, impression: draft.impression, positive: draft.positive === undefined || draft.positive === null ? null : draft.positive ? 1 : 0, template_id: draft.templateId ?? null, updated_at: now };
    // Two first autosaves may race (two tabs, a retry): the loser updates what the winner inserted.
    const inserted = await this.deps.store.insertReport({ id: randomUUID(), request_id: row.id, study_instance_uid: row.study_instance_uid, status: 'draft', version: 0, ...changes, author: caller.name, reviewer: null, review_comments: null, created_at: now, submitted_at: null, signed_at: null, sr_sop_instance_uid: null });
    if (!inserted) {
      const existing = (await this.deps.store.findReportOfRequest(row.id))!;
      if (!(await this.deps.store.updateReport(existing.id, ['draft', 'returned'], { ...changes, author: caller.name }))) {
        throw conflict('REPORT_NOT_EDITABLE', `the report is ${existing.status}; a signed report takes an addendum`);
      }
    }
    return this.reportView((await this.deps.store.findReportOfRequest(row.id))!);
  }

  async submit(caller: Caller, reportId: string): Promise<ReportView> {
    const { report, request } = await this.visibleReport(caller, reportId);
    requireClaimer(caller, request);
    if (!report.findings.trim() || !report.impression.trim()) throw badRequest('REPORT_INCOMPLETE', 'findings and impression are both needed');
    if (report.positive === null) throw badRequest('REPORT_INCOMPLETE', 'mark the report positive or negative');
    const now = new Date().toISOString();
    const version = report.version + 1;
    const ok = await this.deps.store.changeReportAndRequest(
      { id: report.id, fromStatuses: ['draft', 'returned'], changes: { status: 'submitted', submitted_at: now, updated_at: now, version }, version: { report_id: report.id, version, kind: 'submitted', findings: report.findings, impression: report.impression, positive: report.positive, addendum: null, saved_by: caller.name, saved_at: now } },
      { id: request.id, from: ['claimed'], to: 'submitted', set: { submitted_at: now }, actor: caller.name },
      now,
    );
    if (!ok) throw conflict('ILLEGAL_TRANSITION', `cannot submit: the report is ${report.status}`);
    await this.deps.notifier.publish([request.reading_institution_id], 'report.submitted', { requestId: request.id, reportId: report.id });
    return this.reportView((await this.deps.store.findReport(report.id))!);
  }

  async sign(caller: Caller, reportId: string): Promise<ReportView> {
    const { report, request } = await this.visibleReport(caller, reportId);
    requireReviewerAt(caller, request);
    if (report.author === caller.name) throw forbidden('two-level sign-off: the author cannot sign their own report');
    const now = new Date().toISOString();
    const version = report.version + 1;
    const ok = await this.deps.store.changeReportAndRequest(
      { id: report.id, fromStatuses: ['submitted'], changes: { status: 'signed', signed_at: now, reviewer: caller.name, updated_at: now, version }, version: { report_id: report.id, version, kind: 'signed', findings: report.findings, impression: report.impression, positive: report.positive, addendum: null, saved_by: caller.name, saved_at: now } },
      { id: request.id, from: ['submitted'], to: 'signed', set: { signed_at: now }, actor: caller.name },
      now,
    );
    if (!ok) throw conflict('ILLEGAL_TRANSITION', `cannot sign: the report is ${report.status}`);
    const signed = (await this.deps.store.findReport(report.id))!;
    await this.deliver(caller, request, signed, 'report.signed');
    return this.reportView((await this.deps.store.findReport(report.id))!);
  }

  async returnForRevision(caller: Caller, reportId: string, comments: string): Promise<ReportView> {
    const { report, request } = await this.visibleReport(caller, reportId);
    requireReviewerAt(caller, request);
    const now = new Date().toISOString();
    const version = report.version + 1;
    const ok = await this.deps.store.changeReportAndRequest(
      { id: report.id, fromStatuses: ['submitted'], changes: { status: 'returned', review_comments: comments, updated_at: now, version }, version: { report_id: report.id, version, kind: 'returned', findings: report.findings, impression: report.impression, positive: report.positive, addendum: comments, saved_by: caller.name, saved_at: now } },
      { id: request.id, from: ['submitted'], to: 'claimed', set: { submitted_at: null }, actor: caller.name, details: { returned: comments } },
      now,
    );
    if (!ok) throw conflict('ILLEGAL_TRANSITION', `cannot return: the report is ${report.status}`);
    await this.deps.notifier.publish([request.reading_institution_id], 'report.returned', { requestId: request.id, reportId: report.id, author: report.author });
    return this.reportView((await this.deps.store.findReport(report.id))!);
  }

  /** A signed report is never edited; an addendum makes a new version, and every version is kept. */
  async addAddendum(caller: Caller, reportId: string, text: string): Promise<ReportView> {
    const { report, request } = await this.visibleReport(caller, reportId);
    requireReaderAt(caller, request);
    if (report.status !== 'signed') throw conflict('REPORT_NOT_SIGNED', 'an addendum is for a signed report; edit the draft instead');
    const now = new Date().toISOString();
    const ok = await this.deps.store.addVersion(report.id, report.version, { report_id: report.id, version: report.version + 1, kind: 'addendum', findings: report.findings, impression: report.impression, positive: report.positive, addendum: text, saved_by: caller.name, saved_at: now }, { updated_at: now });
    if (!ok) throw conflict('CONCURRENT_CHANGE', 'the report changed meanwhile; reload and try again');
    const amended = (await this.deps.store.findReport(report.id))!;
    await this.deliver(caller, request, amended, 'report.amended');
    return this.reportView((await this.deps.store.findReport(report.id))!);
  }

  /** Signed or amended: the SR goes with the study, the township's screens hear of it at once. */
  private async deliver(caller: Caller, request: ReadingRequestRow, report: ReportRow, type: 'report.signed' | 'report.amended'): Promise<void> {
    await this.deps.audit.record({ action: type, caller, objectType: 'study', objectId: request.study_instance_uid, details: { requestId: request.id, reportId: report.id, version: report.version } });
    // The report is signed whatever happens to its SR: a failed store is recorded, and the
    // background retry (retryUndeliveredReports) stores it later.
    await this.storeStructuredReport(caller, request, report, report.sr_sop_instance_uid);
    await this.deps.notifier.publish([request.requesting_institution_id, request.reading_institution_id], type, { requestId: request.id, reportId: report.id, studyInstanceUid: request.study_instance_uid, version: report.version, positive: report.positive === 1 });
  }

  private async storeStructuredReport(caller: Caller, request: ReadingRequestRow, report: ReportRow, seen: string | null): Promise<boolean> {
    if (!this.deps.delivery) return true;
    const marker = `delivering:${new Date().toISOString()}`;
    // Only one process stores an SR for this version: the conditional marker decides.
    if (!(await this.deps.store.claimDelivery(report.id, seen, marker))) return false;
    try {
      const sopInstanceUid = await this.deps.delivery.storeStructuredReport(request, { ...report, sr_sop_instance_uid: seen });
      // '' records "nothing to store" (the study is gone), so the retry leaves it alone.
      await this.deps.store.claimDelivery(report.id, marker, sopInstanceUid ?? '');
      return true;
    } catch (error) {
      // Back to "not delivered", so that the retry picks it up (an addendum's SR then goes without its predecessor link).
      await this.deps.store.claimDelivery(report.id, marker, null).catch(() => undefined);
      await this.deps.audit.record({ action: 'report.delivery-failed', outcome: 'failure', caller, objectType: 'study', objectId: request.study_instance_uid, details: { reportId: report.id, version: report.version, error: (error as Error).message } });
      return false;
    }
  }

  /** Stores the SRs that a failed or interrupted delivery left out; any process may run it. */
  async retryUndeliveredReports(now = Date.now()): Promise<number> {
    let delivered = 0;
    const rows = await this.deps.store.undeliveredSignedReports(new Date(now - 30_000).toISOString(), new Date(now - 5 * 60_000).toISOString(), 20);
    for (const report of rows) {
      const request = await this.deps.store.findRequest(report.request_id);
      if (!request) continue;
      const system: Caller = { kind: 'system', name: 'delivery-retry', institutionId: request.reading_institution_id, role: 'administrator', visibleInstitutionIds: 'all', via: 'system' };
      if (await this.storeStructuredReport(system, request, report, report.sr_sop_instance_uid)) delivered += 1;
    }
    return delivered;
  }

  async getReport(caller: Caller, reportId: string): Promise<ReportView & { versions: Array<{ version: number; kind: string; findings: string; impression: string; positive: boolean | null; addendum: string | null; savedBy: string; savedAt: string }> }> {
    const { report } = await this.visibleReport(caller, reportId);
    await this.deps.audit.record({ action: 'study.viewed', caller, objectType: 'study', objectId: report.study_instance_uid, details: { reportId: report.id, version: report.version } });
    const versions = (await this.deps.store.versions(report.id)).map((v) => ({ version: v.version, kind: v.kind, findings: v.findings, impression: v.impression, positive: v.positive === null ? null : v.positive === 1, addendum: v.addendum, savedBy: v.saved_by, savedAt: v.saved_at }));
    return { ...(await this.reportView(report)), versions };
  }

  /** For delivery formats: the report and its request, visibility checked. */
  async reportForDelivery(caller: Caller, reportId: string): Promise<{ report: ReportRow; request: ReadingRequestRow }> {
    return this.visibleReport(caller, reportId);
  }

  async signedReportsOfStudy(caller: Caller, studyInstanceUid: string): Promise<Array<{ report: ReportRow; request: ReadingRequestRow }>> {
    const out: Array<{ report: ReportRow; request: ReadingRequestRow }> = [];
    for (const report of await this.deps.store.reportsOfStudy(studyInstanceUid)) {
      if (report.status !== 'signed') continue;
      const request = await this.deps.store.findRequest(report.request_id);
      if (request && mayView(caller, request)) out.push({ report, request });
    }
    return out;
  }

  // Turnaround and workload

  async radiologistWorkload(caller: Caller, from: string, to: string): Promise<Array<{ radiologist: string; signed: number; positive: number; medianTurnaroundMinutes: number | null; meanTurnaroundMinutes: number | null }>> {
    if (caller.role !== 'administrator' && !READERS.includes(caller.role) && caller.role !== 'commission-analyst') throw forbidden(`the role ${caller.role} cannot see workload`);
    const rows = await this.deps.store.signedInPeriod(caller.role === 'administrator' ? undefined : caller.institutionId, from, to);
    const byAuthor = new Map<string, { minutes: number[]; positive: number; signed: number }>();
    for (const row of rows) {
      const entry = byAuthor.get(row.author) ?? { minutes: [], positive: 0, signed: 0 };
      entry.signed += 1;
      if (row.positive === 1) entry.positive += 1;
      if (row.images_complete_at) entry.minutes.push((Date.parse(row.signed_at) - Date.parse(row.images_complete_at)) / 60_000);
      byAuthor.set(row.author, entry);
    }
    return [...byAuthor].map(([radiologist, entry]) => ({ radiologist, signed: entry.signed, positive: entry.positive, medianTurnaroundMinutes: median(entry.minutes), meanTurnaroundMinutes: entry.minutes.length ? round1(entry.minutes.reduce((a, b) => a + b, 0) / entry.minutes.length) : null })).sort((a, b) => b.signed - a.signed);
  }

  // Routing rules and templates

  async listRules(caller: Caller): Promise<RoutingRuleRow[]> {
    requireRole(caller, ['administrator'], 'see routing rules');
    return this.deps.store.listRules();
  }

  async createRule(caller: Caller, input: RoutingRuleInput): Promise<RoutingRuleRow> {
    requireRole(caller, ['administrator'], 'manage routing rules');
    const priority = input.priority ?? 'routine';
    if (!isPriority(priority)) throw badRequest('INVALID_PRIORITY', 'priority is routine, urgent or emergency');
    for (const institutionId of [input.readingInstitutionId, input.sourceInstitutionId]) if (institutionId && !(await this.deps.access.findInstitution(institutionId))) throw notFound(`institution ${institutionId}`);
    const row: RoutingRuleRow = { id: randomUUID(), name: input.name, position: input.position ?? 100, enabled: 1, source_institution_id: input.sourceInstitutionId ?? null, modality: input.modality?.toUpperCase() ?? null, body_part: input.bodyPart?.toUpperCase() ?? null, time_from: input.timeFrom ?? null, time_to: input.timeTo ?? null, reading_institution_id: input.readingInstitutionId, priority, created_at: new Date().toISOString() };
    await this.deps.store.insertRule(row);
    await this.deps.audit.record({ action: 'routing-rule.created', caller, objectType: 'institution', objectId: input.readingInstitutionId, details: { ...row } });
    return row;
  }

  async deleteRule(caller: Caller, id: string): Promise<void> {
    requireRole(caller, ['administrator'], 'manage routing rules');
    if (!(await this.deps.store.deleteRule(id))) throw notFound(`routing rule ${id}`);
    await this.deps.audit.record({ action: 'routing-rule.deleted', caller, details: { id } });
  }

  async templates(caller: Caller, filter: { modality?: string; bodyPart?: string }) {
    return (await this.deps.store.listTemplates({ ...filter, institutionId: caller.institutionId })).map((t) => ({ id: t.id, modality: t.modality, bodyPart: t.body_part, name: t.name, findings: t.findings, impression: t.impression }));
  }

  // Views and visibility

  private async visibleRequest(caller: Caller, requestId: string): Promise<ReadingRequestRow> {
    const row = await this.deps.store.findRequest(requestId);
    // Another institution's request answers like one that does not exist.
    if (!row || !mayView(caller, row)) throw notFound(`reading request ${requestId}`);
    return row;
  }

  private async visibleReport(caller: Caller, reportId: string): Promise<{ report: ReportRow; request: ReadingRequestRow }> {
    const report = await this.deps.store.findReport(reportId);
    const request = report && (await this.deps.store.findRequest(report.request_id));
    if (!report || !request || !mayView(caller, request)) throw notFound(`report ${reportId}`);
    return { report, request };
  }

  private view(row: ReadingRequestRow | WorklistRow, now = Date.now()): ReadingRequestView {
    const remaining = remainingSeconds(row.due_at, now);
    const open = row.status !== 'signed' && row.status !== 'cancelled';
    const patient = 'patient_id' in row ? { id: row.patient_id, name: row.patient_name, sex: row.patient_sex, birthDate: row.patient_birth_date } : undefined;
    return {
      id: row.id,
      studyInstanceUid: row.study_instance_uid,
      requestingInstitutionId: row.requesting_institution_id,
      readingInstitutionId: row.reading_institution_id,
      requestedBy: row.requested_by,
      priority: row.priority,
      status: row.status,
      clinicalHistory: row.clinical_history,
      examItems: JSON.parse(row.exam_items) as string[],
      bodyParts: JSON.parse(row.body_parts) as string[],
      modality: row.modality,
      claimedBy: row.claimed_by,
      retakeReason: row.retake_reason,
      createdAt: row.created_at,
      imagesCompleteAt: row.images_complete_at,
      submittedAt: row.submitted_at,
      signedAt: row.signed_at,
      dueAt: row.due_at,
      remainingSeconds: open ? remaining ?? null : null,
      overdue: open && remaining !== undefined && remaining < 0,
      turnaroundSeconds: row.signed_at && row.images_complete_at ? Math.round((Date.parse(row.signed_at) - Date.parse(row.images_complete_at)) / 1000) : null,
      ...(patient
        ? {
            patient,
            studyDate: (row as WorklistRow).study_date,
            accessionNumber: (row as WorklistRow).accession_number,
            instances: (row as WorklistRow).instances,
            requestingInstitutionName: (row as WorklistRow).requesting_institution_name,
            readingInstitutionName: (row as WorklistRow).reading_institution_name,
          }
        : {}),
    };
  }

  private async reportView(report: ReportRow): Promise<ReportView> {
    return {
      id: report.id,
      requestId: report.request_id,
      studyInstanceUid: report.study_instance_uid,
      status: report.status,
      version: report.version,
      findings: report.findings,
      impression: report.impression,
      positive: report.positive === null ? null : report.positive === 1,
      templateId: report.template_id,
      author: report.author,
      reviewer: report.reviewer,
      reviewComments: report.review_comments,
      createdAt: report.created_at,
      updatedAt: report.updated_at,
      submittedAt: report.submitted_at,
      signedAt: report.signed_at,
      structuredReportSopInstanceUid: report.sr_sop_instance_uid && !report.sr_sop_instance_uid.startsWith('delivering:') ? report.sr_sop_instance_uid : null,
    };
  }
}

export interface ReadingRequestView {
  id: string;
  studyInstanceUid: string;
  requestingInstitutionId: string;
  readingInstitutionId: string;
  requestedBy: string;
  priority: string;
  status: string;
  clinicalHistory: string | null;
  examItems: string[];
  bodyParts: string[];
  modality: string | null;
  claimedBy: string | null;
  retakeReason: string | null;
  createdAt: string;
  imagesCompleteAt: string | null;
  submittedAt: string | null;
  signedAt: string | null;
  dueAt: string | null;
  remainingSeconds: number | null;
  overdue: boolean;
  /** images complete → signed */
  turnaroundSeconds: number | null;
  patient?: { id: string | null; name: string | null; sex: string | null; birthDate: string | null };
  studyDate?: string | null;
  accessionNumber?: string | null;
  instances?: number;
  requestingInstitutionName?: string | null;
  readingInstitutionName?: string | null;
}

/** A study of the same patient offered for comparison; not accessible until opened with a reason. */
export interface PriorView {
  studyInstanceUid: string;
  studyDate: string | null;
  description: string | null;
  modalities: string[];
  institutionId: string;
  hasSignedReport: boolean;
  accessible: boolean;
}

export interface ReportView {
  id: string;
  requestId: string;
  studyInstanceUid: string;
  status: string;
  version: number;
  findings: string;
  impression: string;
  positive: boolean | null;
  templateId: string | null;
  author: string;
  reviewer: string | null;
  reviewComments: string | null;
  createdAt: string;
  updatedAt: string;
  submittedAt: string | null;
  signedAt: string | null;
  structuredReportSopInstanceUid: string | null;
}

function mayView(caller: Caller, row: ReadingRequestRow): boolean {
  return caller.role === 'administrator' || caller.institutionId === row.reading_institution_id || caller.institutionId === row.requesting_institution_id;
}

function requireRole(caller: Caller, roles: readonly Role[], what: string): void {
  if (!roles.includes(caller.role)) throw forbidden(`the role ${caller.role} may not ${what}`);
}

function requireReaderAt(caller: Caller, row: ReadingRequestRow): void {
  if (!READERS.includes(caller.role) || caller.institutionId !== row.reading_institution_id) throw forbidden('only radiologists of the reading centre may do this');
}

function requireReviewerAt(caller: Caller, row: ReadingRequestRow): void {
  if (!REVIEWERS.includes(caller.role) || caller.institutionId !== row.reading_institution_id) throw forbidden('only reviewing radiologists of the reading centre may sign or return a report');
}

function requireClaimer(caller: Caller, row: ReadingRequestRow): void {
  requireReaderAt(caller, row);
  if (row.claimed_by !== caller.name) throw forbidden(row.claimed_by ? `the request is claimed by ${row.claimed_by}` : 'claim the request first');
}

function requireRequesterOf(caller: Caller, row: ReadingRequestRow): void {
  if (caller.role !== 'administrator' && (caller.role !== 'technologist' || caller.institutionId !== row.requesting_institution_id)) throw forbidden('only the requesting institution may do this');
}

function ruleMatches(rule: RoutingRuleRow, facts: { institution_id: string; modalities_in_study: string | null; body_part_examined: string | null }, hhmm: string): boolean {
  if (rule.enabled !== 1) return false;
  if (rule.source_institution_id && rule.source_institution_id !== facts.institution_id) return false;
  if (rule.modality && !(facts.modalities_in_study ?? '').split('\\').includes(rule.modality)) return false;
  if (rule.body_part && (facts.body_part_examined ?? '').toUpperCase() !== rule.body_part) return false;
  if (rule.time_from && rule.time_to) {
    const inside = rule.time_from <= rule.time_to ? hhmm >= rule.time_from && hhmm < rule.time_to : hhmm >= rule.time_from || hhmm < rule.time_to;
    if (!inside) return false;
  }
  return true;
}

/** "HH:MM" of an instant in a time zone (routing windows are local: night shifts). */
export function localTime(at: Date, timeZone: string): string {
  return new Intl.DateTimeFormat('en-GB', { timeZone, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).format(at);
}

function median(values: number[]): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return round1(sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2);
}

const round1 = (value: number): number => Math.round(value * 10) / 10;

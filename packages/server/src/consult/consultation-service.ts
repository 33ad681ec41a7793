import { randomUUID } from 'node:crypto';
import { actsForEveryInstitution, type Caller } from '../access/caller.ts';
import type { ArchiveService } from '../archive/archive-service.ts';
import { badRequest, conflict, notFound, YunyingError } from '../errors.ts';
import type { ChangeType } from '../feed/change.ts';
import type { SigningCredential, SigningMethod } from '../reports/e-signature.ts';
import type { AccessStore } from '../store/access-store.ts';
import type { StoreOpener } from '../store/store-opener.ts';
import type { TransactionPorts, UnitOfWork } from '../store/unit-of-work.ts';
import { consultationStore, type ConsultationExpertRow, type ConsultationRow, type ConsultationStore, type ConsultationTables } from './consultation-store.ts';

export const CONSULTATION_TYPES = ['routine', 'difficult', 'emergency'] as const;
export type ConsultationType = (typeof CONSULTATION_TYPES)[number];
export type ConsultationStatus = 'requested' | 'accepted' | 'in-progress' | 'answered' | 'closed' | 'cancelled' | 'declined';

/** the states in which experts still work on the case */
const OPEN: readonly ConsultationStatus[] = ['requested', 'accepted', 'in-progress'];
/** a case grant runs until the consultation ends it (close, cancel, decline), not to a date */
const UNTIL_ENDED = '9999-12-31T23:59:59.999Z';

export interface ConsultationInput {
  type: ConsultationType;
  studyInstanceUids: string[];
  question: string;
  clinicalSummary: string;
  attachments?: Array<{ title: string; reportId?: string }>;
  invitedExperts?: string[];
  invitedInstitutionId?: string;
}

export interface ExpertView {
  username: string;
  displayName: string | null;
  status: string;
  lead: boolean;
  viaRoster: boolean;
  invitedAt: string;
  respondedAt: string | null;
  declineReason: string | null;
  opinion: { text: string; signed: boolean; savedAt: string | null; signedAt: string | null } | null;
}

export interface ConsultationView {
  id: string;
  type: ConsultationType;
  status: ConsultationStatus;
  requestingInstitutionId: string;
  requestingInstitutionName: string | null;
  expertInstitutionId: string;
  expertInstitutionName: string | null;
  requestedBy: string;
  requestedByName: string | null;
  studyInstanceUids: string[];
  question: string;
  clinicalSummary: string;
  attachments: Array<{ title: string; reportId?: string }>;
  experts: ExpertView[];
  lead: string | null;
  conclusion: { text: string; signedBy: string; signedByName: string | null; signedAt: string } | null;
  followUpNote: string | null;
  cancelReason: string | null;
  slaMinutes: number;
  dueAt: string;
  overdue: boolean;
  createdAt: string;
  acceptedAt: string | null;
  firstOpinionAt: string | null;
  answeredAt: string | null;
  closedAt: string | null;
}

export interface ConsultationSignatures {
  verify(caller: Caller, credential: SigningCredential, context: Record<string, unknown>): Promise<SigningMethod>;
}

export interface ConsultationDependencies {
  stores: { open<T>(opener: StoreOpener<T, ConsultationTables>): T };
  access: Pick<AccessStore, 'findUserByName' | 'findInstitution' | 'listUsers'>;
  archive: Pick<ArchiveService, 'query'>;
  unitOfWork: UnitOfWork;
  signatures: ConsultationSignatures;
  slaMinutes: Record<ConsultationType, number>;
  now?: () => Date;
}

/**
 * Consultations (普通/疑难/急会诊, docs/consultation.md): a requesting hospital asks an expert
 * institution it has an agreement with; the invited experts (the requester's choice, or who is
 * on duty) accept or decline, each writes and signs an opinion, the lead signs the conclusion,
 * the requester closes. Every transition is one conditional update with its audit record and
 * feed row; the experts see the shared studies through case grants that end with the case.
 */
export class ConsultationService {
  private readonly deps: ConsultationDependencies;

  constructor(deps: ConsultationDependencies) {
    this.deps = deps;
  }

  private get store(): ConsultationStore {
    return this.deps.stores.open(consultationStore);
  }

  private now(): Date {
    return this.deps.now?.() ?? new Date();
  }

  async create(caller: Caller, input: ConsultationInput): Promise<ConsultationView> {
    const studies = [...new Set(input.studyInstanceUids)];
    await this.requireVisibleStudies(caller, studies);
    const requestingInstitutionId = caller.institutionId;
    const experts = await this.chooseExperts(input);
    const expertInstitutionId = experts.institutionId;
    if (expertInstitutionId === requestingInstitutionId) throw badRequest('CONSULTATION_SAME_INSTITUTION', 'a consultation goes to another institution');
    if (!(await this.store.activeAgreement(requestingInstitutionId, expertInstitutionId))) {
      throw new YunyingError('CONSULTATION_NO_AGREEMENT', `no consultation agreement between ${requestingInstitutionId} and ${expertInstitutionId}: an administrator records one first (远程医疗服务管理规范)`);
    }
    for (const attachment of input.attachments ?? []) {
      if (attachment.title.trim() === '') throw badRequest('CONSULTATION_INVALID', 'an attachment needs a title');
    }
    const now = this.now();
    const at = now.toISOString();
    const slaMinutes = this.deps.slaMinutes[input.type];
    const row: ConsultationRow = {
      id: `con-${randomUUID()}`,
      type: input.type,
      status: 'requested',
      requesting_institution_id: requestingInstitutionId,
      expert_institution_id: expertInstitutionId,
      requested_by: caller.name,
      study_instance_uids: JSON.stringify(studies),
      question: input.question,
      clinical_summary: input.clinicalSummary,
      attachments: JSON.stringify(input.attachments ?? []),
      lead: null,
      conclusion_text: null,
      conclusion_signed_at: null,
      conclusion_method: null,
      follow_up_note: null,
      cancel_reason: null,
      sla_minutes: slaMinutes,
      due_at: new Date(now.getTime() + slaMinutes * 60_000).toISOString(),
      created_at: at,
      accepted_at: null,
      first_opinion_at: null,
      answered_at: null,
      closed_at: null,
      updated_at: at,
    };
    const expertRows = experts.usernames.map((username) => invitedExpert(row.id, username, experts.viaRoster, at));
    await this.deps.unitOfWork.run(async (tx) => {
      await tx.open(consultationStore).insert(row, expertRows);
      for (const expert of expertRows) await this.grantTo(tx, row, expert.username, caller);
      this.record(tx, caller, row, 'consultation.requested', 'consultation.requested', { type: row.type, expertInstitutionId, experts: experts.usernames, viaRoster: experts.viaRoster, studies: studies.length });
    });
    return this.view(caller, row.id);
  }

  /**
   * The experts a new consultation goes to: those the requester names (all of one
   * institution), else who is on the institution's duty roster now for this type, else
   * every enabled expert of the institution.
   */
  private async chooseExperts(input: ConsultationInput): Promise<{ institutionId: string; usernames: string[]; viaRoster: boolean }> {
    if (input.invitedExperts && input.invitedExperts.length > 0) {
      const usernames = [...new Set(input.invitedExperts)];
      const users = await Promise.all(usernames.map((username) => this.expertUser(username)));
      const institutions = new Set(users.map((user) => user.institution_id));
      if (institutions.size > 1) throw badRequest('CONSULTATION_INVALID', 'the invited experts belong to one institution');
      const institutionId = users[0]!.institution_id;
      if (input.invitedInstitutionId && input.invitedInstitutionId !== institutionId) throw badRequest('CONSULTATION_INVALID', `the invited experts are not of ${input.invitedInstitutionId}`);
      return { institutionId, usernames, viaRoster: false };
    }
    if (!input.invitedInstitutionId) throw badRequest('CONSULTATION_INVALID', 'name the invited experts or the invited institution');
    const institutionId = input.invitedInstitutionId;
    if (!(await this.deps.access.findInstitution(institutionId))) throw notFound(`institution ${institutionId}`);
    const onDuty = await this.onDuty(institutionId, input.type);
    if (onDuty.length > 0) return { institutionId, usernames: onDuty, viaRoster: true };
    const experts = (await this.deps.access.listUsers(institutionId)).filter((user) => user.role === 'expert' && user.enabled === 1).map((user) => user.username);
    if (experts.length === 0) throw conflict('CONSULTATION_NO_EXPERT', `${institutionId} has no expert to invite`);
    return { institutionId, usernames: experts, viaRoster: false };
  }

  /** The experts on duty at the institution now whose shift takes this type. */
  private async onDuty(institutionId: string, type: ConsultationType): Promise<string[]> {
    const at = this.now().toISOString();
    const shifts = await this.store.shifts(institutionId, at, at);
    const usernames: string[] = [];
    for (const shift of shifts.filter((candidate) => candidate.starts_at <= at && candidate.ends_at > at)) {
      const types = shift.types ? (JSON.parse(shift.types) as string[]) : undefined;
      if (types && !types.includes(type)) continue;
      const user = await this.deps.access.findUserByName(shift.username);
      if (user?.enabled === 1 && user.role === 'expert' && !usernames.includes(user.username)) usernames.push(user.username);
    }
    return usernames;
  }

  private async expertUser(username: string) {
    const user = await this.deps.access.findUserByName(username);
    if (!user || user.enabled !== 1) throw notFound(`user ${username}`);
    if (user.role !== 'expert') throw badRequest('CONSULTATION_INVALID', `${username} is not an expert (会诊专家)`);
    return user;
  }

  /** Every study must be visible to the requester: a consultation shares only what they may share. */
  private async requireVisibleStudies(caller: Caller, studies: readonly string[]): Promise<void> {
    for (const uid of studies) {
      const found = await this.deps.archive.query(caller, { level: 'STUDY', keys: { '0020000D': { vr: 'UI', Value: [uid] } } });
      if (found.length === 0) throw notFound(`study ${uid}`);
    }
  }

  async list(caller: Caller, filter: { box: 'outgoing' | 'incoming'; status?: string }): Promise<ConsultationView[]> {
    const limit = 200;
    const status = filter.status;
    let rows: ConsultationRow[];
    if (filter.box === 'incoming') rows = actsForEveryInstitution(caller) ? await this.store.list({ status, limit }) : await this.store.list({ expert: caller.name, status, limit });
    else rows = await this.store.list({ ...(actsForEveryInstitution(caller) ? {} : { requestingInstitutionId: caller.institutionId }), status, limit });
    return Promise.all(rows.map((row) => this.viewOf(caller, row)));
  }

  async view(caller: Caller, id: string): Promise<ConsultationView> {
    const { row } = await this.visible(caller, id);
    return this.viewOf(caller, row);
  }

  /** The consultation and its experts when the caller may see it: the requesting institution, an invited expert, an administrator; 404 otherwise. */
  async visible(caller: Caller, id: string): Promise<{ row: ConsultationRow; experts: ConsultationExpertRow[] }> {
    const row = await this.store.find(id);
    if (!row) throw notFound(`consultation ${id}`);
    const experts = await this.store.experts(id);
    const invited = experts.some((expert) => expert.username === caller.name && expert.status !== 'replaced');
    if (!actsForEveryInstitution(caller) && row.requesting_institution_id !== caller.institutionId && !invited) throw notFound(`consultation ${id}`);
    return { row, experts };
  }

  async accept(caller: Caller, id: string): Promise<ConsultationView> {
    const { row } = await this.asInvitedExpert(caller, id, ['invited']);
    const at = this.now().toISOString();
    await this.deps.unitOfWork.run(async (tx) => {
      const store = tx.open(consultationStore);
      if (!(await store.changeExpert(id, caller.name, ['invited'], { status: 'accepted', responded_at: at }))) throw conflict('ILLEGAL_TRANSITION', 'the invitation was answered already');
      // the first to accept leads; the consultation is accepted once (later acceptances keep its state)
      const first = await store.transition(id, ['requested', 'declined'], { status: 'accepted', lead: caller.name, accepted_at: row.accepted_at ?? at, updated_at: at });
      if (!first && !OPEN.includes(row.status as ConsultationStatus)) throw conflict('ILLEGAL_TRANSITION', `the consultation is ${row.status}`);
      if (!first && row.lead === null) await store.update(id, { lead: caller.name });
      this.record(tx, caller, row, first ? 'consultation.accepted' : undefined, 'consultation.accepted', { expert: caller.name, lead: first || row.lead === null });
    });
    return this.view(caller, id);
  }

  async decline(caller: Caller, id: string, reason: string): Promise<ConsultationView> {
    const { row } = await this.asInvitedExpert(caller, id, ['invited', 'accepted']);
    if (!OPEN.includes(row.status as ConsultationStatus)) throw conflict('ILLEGAL_TRANSITION', `the consultation is ${row.status}`);
    const at = this.now().toISOString();
    await this.deps.unitOfWork.run(async (tx) => {
      const store = tx.open(consultationStore);
      if (!(await store.changeExpert(id, caller.name, ['invited', 'accepted'], { status: 'declined', responded_at: at, decline_reason: reason }))) throw conflict('ILLEGAL_TRANSITION', 'the invitation was answered already');
      await this.endExpertGrants(tx, row, caller.name);
      const remaining = (await store.experts(id)).filter((expert) => expert.status === 'invited' || expert.status === 'accepted');
      const lead = row.lead === caller.name ? (remaining.find((expert) => expert.status === 'accepted')?.username ?? null) : row.lead;
      const noneLeft = remaining.length === 0;
      await store.update(id, { lead, updated_at: at, ...(noneLeft ? { status: 'declined' } : {}) });
      this.record(tx, caller, row, noneLeft ? 'consultation.declined' : undefined, 'consultation.declined', { expert: caller.name, reason, noneLeft });
    });
    return this.view(caller, id);
  }

  /** The requester invites another expert of the expert institution, replacing a declined one when named. */
  async addExpert(caller: Caller, id: string, input: { username: string; replaces?: string }): Promise<ConsultationView> {
    const { row, experts } = await this.asRequester(caller, id);
    if (!OPEN.includes(row.status as ConsultationStatus) && row.status !== 'declined') throw conflict('ILLEGAL_TRANSITION', `the consultation is ${row.status}`);
    const user = await this.expertUser(input.username);
    if (user.institution_id !== row.expert_institution_id) throw badRequest('CONSULTATION_INVALID', `${input.username} is not of ${row.expert_institution_id}`);
    if (input.replaces && !experts.some((expert) => expert.username === input.replaces && expert.status === 'declined')) throw badRequest('CONSULTATION_INVALID', `${input.replaces} has not declined this consultation`);
    const at = this.now().toISOString();
    await this.deps.unitOfWork.run(async (tx) => {
      const store = tx.open(consultationStore);
      if (!(await store.insertExpert(invitedExpert(id, user.username, false, at)))) {
        if (!(await store.changeExpert(id, user.username, ['declined', 'replaced'], { status: 'invited', invited_at: at, responded_at: null, decline_reason: null }))) throw conflict('CONSULTATION_EXPERT_INVITED', `${user.username} is invited already`);
      }
      if (input.replaces) await store.changeExpert(id, input.replaces, ['declined'], { status: 'replaced' });
      await this.grantTo(tx, row, user.username, caller);
      const reopened = await store.transition(id, ['declined'], { status: 'requested', updated_at: at });
      this.record(tx, caller, row, reopened ? 'consultation.requested' : undefined, 'consultation.expert-invited', { expert: user.username, replaces: input.replaces ?? null });
    });
    return this.view(caller, id);
  }

  /** An accepted expert's opinion: saved as a draft, or signed (then it is final). */
  async opinion(caller: Caller, id: string, input: { text: string; sign: boolean } & SigningCredential): Promise<ConsultationView> {
    const { row } = await this.asInvitedExpert(caller, id, ['accepted']);
    if (!OPEN.includes(row.status as ConsultationStatus)) throw conflict('ILLEGAL_TRANSITION', `the consultation is ${row.status}`);
    if (input.text.trim() === '') throw badRequest('CONSULTATION_INVALID', 'an opinion needs text');
    const method = input.sign ? await this.deps.signatures.verify(caller, input, { consultationId: id, part: 'opinion' }) : undefined;
    const at = this.now().toISOString();
    await this.deps.unitOfWork.run(async (tx) => {
      const store = tx.open(consultationStore);
      const changes = { opinion_text: input.text, opinion_saved_at: at, ...(method ? { opinion_signed_at: at, opinion_method: method } : {}) };
      // a signed opinion is final: only an unsigned one changes
      if (!(await store.saveOpinion(id, caller.name, changes))) throw conflict('OPINION_SIGNED', 'the opinion is signed already; nothing was changed');
      const started = await store.transition(id, ['accepted', 'requested'], { status: 'in-progress', updated_at: at });
      if (method && row.first_opinion_at === null) await store.update(id, { first_opinion_at: at });
      this.record(tx, caller, row, started ? 'consultation.in-progress' : undefined, method ? 'consultation.opinion-signed' : 'consultation.opinion-saved', { expert: caller.name, ...(method ? { method } : {}) });
    });
    return this.view(caller, id);
  }

  /** The lead's conclusion (会诊意见), signed: the consultation is answered. */
  async conclude(caller: Caller, id: string, input: { text: string } & SigningCredential): Promise<ConsultationView> {
    const { row, experts } = await this.asInvitedExpert(caller, id, ['accepted']);
    if (row.lead !== caller.name) throw new YunyingError('CONSULTATION_NOT_LEAD', 'only the lead expert signs the conclusion');
    if (!OPEN.includes(row.status as ConsultationStatus)) throw conflict('ILLEGAL_TRANSITION', `the consultation is ${row.status}`);
    if (!experts.some((expert) => expert.opinion_signed_at !== null)) throw conflict('CONSULTATION_NO_OPINION', 'the conclusion follows at least one signed opinion');
    if (input.text.trim() === '') throw badRequest('CONSULTATION_INVALID', 'the conclusion needs text');
    const method = await this.deps.signatures.verify(caller, input, { consultationId: id, part: 'conclusion' });
    const at = this.now().toISOString();
    await this.deps.unitOfWork.run(async (tx) => {
      if (!(await tx.open(consultationStore).transition(id, OPEN, { status: 'answered', conclusion_text: input.text, conclusion_signed_at: at, conclusion_method: method, answered_at: at, updated_at: at }))) throw conflict('ILLEGAL_TRANSITION', 'the consultation has moved on');
      this.record(tx, caller, row, 'consultation.answered', 'consultation.answered', { lead: caller.name, method });
    });
    return this.view(caller, id);
  }

  /** The requester closes an answered consultation with a follow-up note; every grant of it ends. */
  async close(caller: Caller, id: string, followUpNote: string | undefined): Promise<ConsultationView> {
    const { row } = await this.asRequester(caller, id);
    const at = this.now().toISOString();
    await this.deps.unitOfWork.run(async (tx) => {
      if (!(await tx.open(consultationStore).transition(id, ['answered'], { status: 'closed', follow_up_note: followUpNote ?? null, closed_at: at, updated_at: at }))) throw conflict('ILLEGAL_TRANSITION', `only an answered consultation is closed; this one is ${row.status}`);
      const ended = await tx.access.endCaseUserGrants(grantKey(id));
      this.record(tx, caller, row, 'consultation.closed', 'consultation.closed', { grantsEnded: ended });
    });
    return this.view(caller, id);
  }

  async cancel(caller: Caller, id: string, reason: string): Promise<ConsultationView> {
    const { row } = await this.asRequester(caller, id);
    const at = this.now().toISOString();
    await this.deps.unitOfWork.run(async (tx) => {
      if (!(await tx.open(consultationStore).transition(id, [...OPEN, 'declined'], { status: 'cancelled', cancel_reason: reason, closed_at: at, updated_at: at }))) throw conflict('ILLEGAL_TRANSITION', `the consultation is ${row.status}`);
      const ended = await tx.access.endCaseUserGrants(grantKey(id));
      this.record(tx, caller, row, 'consultation.cancelled', 'consultation.cancelled', { reason, grantsEnded: ended });
    });
    return this.view(caller, id);
  }

  private async asRequester(caller: Caller, id: string) {
    const found = await this.visible(caller, id);
    if (found.row.requesting_institution_id !== caller.institutionId && !actsForEveryInstitution(caller)) throw new YunyingError('CONSULTATION_NOT_REQUESTER', 'only the requesting institution does this');
    return found;
  }

  private async asInvitedExpert(caller: Caller, id: string, statuses: readonly string[]) {
    const found = await this.visible(caller, id);
    const mine = found.experts.find((expert) => expert.username === caller.name);
    if (!mine) throw new YunyingError('CONSULTATION_NOT_INVITED', 'not an expert invited to this consultation');
    if (!statuses.includes(mine.status)) throw conflict('ILLEGAL_TRANSITION', `your invitation is ${mine.status}`);
    return found;
  }

  /** The expert sees the consultation's studies until the consultation (or their part in it) ends. */
  private async grantTo(tx: TransactionPorts, row: ConsultationRow, username: string, caller: Caller): Promise<void> {
    const user = await tx.access.findUserByName(username);
    if (!user) return;
    for (const study of JSON.parse(row.study_instance_uids) as string[]) {
      await tx.access.grantStudyToUser({ study_instance_uid: study, user_id: user.id, reason: `consultation ${row.id} (${caller.name})`, emergency: 0, expires_at: UNTIL_ENDED, granted_for: grantKey(row.id) });
    }
  }

  private async endExpertGrants(tx: TransactionPorts, row: ConsultationRow, username: string): Promise<void> {
    const user = await tx.access.findUserByName(username);
    if (user) await tx.access.endCaseUserGrants(grantKey(row.id), user.id);
  }

  /** The transition's audit record, and its feed row when the consultation entered a state. */
  private record(tx: TransactionPorts, caller: Caller, row: ConsultationRow, change: ChangeType | undefined, action: string, details: Record<string, unknown>): void {
    tx.audit.record({ action, caller, objectType: 'consultation', objectId: row.id, details: { requestingInstitutionId: row.requesting_institution_id, expertInstitutionId: row.expert_institution_id, ...details } });
    if (change) tx.feed.append({ type: change, resourceType: 'consultation', resourceId: row.id, institutionId: row.requesting_institution_id, payload: { type: row.type, expertInstitutionId: row.expert_institution_id } });
  }

  private async viewOf(caller: Caller, row: ConsultationRow): Promise<ConsultationView> {
    const experts = await this.store.experts(row.id);
    const names = new Map<string, string | null>();
    const nameOf = async (username: string) => {
      if (!names.has(username)) names.set(username, (await this.deps.access.findUserByName(username))?.display_name ?? null);
      return names.get(username) ?? null;
    };
    const institutionName = async (id: string) => (await this.deps.access.findInstitution(id))?.name ?? null;
    const now = this.now().toISOString();
    const ended = !OPEN.includes(row.status as ConsultationStatus);
    return {
      id: row.id,
      type: row.type as ConsultationType,
      status: row.status as ConsultationStatus,
      requestingInstitutionId: row.requesting_institution_id,
      requestingInstitutionName: await institutionName(row.requesting_institution_id),
      expertInstitutionId: row.expert_institution_id,
      expertInstitutionName: await institutionName(row.expert_institution_id),
      requestedBy: row.requested_by,
      requestedByName: await nameOf(row.requested_by),
      studyInstanceUids: JSON.parse(row.study_instance_uids) as string[],
      question: row.question,
      clinicalSummary: row.clinical_summary,
      attachments: JSON.parse(row.attachments) as ConsultationView['attachments'],
      experts: await Promise.all(experts.map(async (expert) => expertView(expert, row, caller, await nameOf(expert.username)))),
      lead: row.lead,
      conclusion: row.conclusion_text !== null && row.conclusion_signed_at !== null && row.lead ? { text: row.conclusion_text, signedBy: row.lead, signedByName: await nameOf(row.lead), signedAt: row.conclusion_signed_at } : null,
      followUpNote: row.follow_up_note,
      cancelReason: row.cancel_reason,
      slaMinutes: row.sla_minutes,
      dueAt: row.due_at,
      overdue: (row.answered_at ?? (ended ? row.closed_at : null) ?? now) > row.due_at,
      createdAt: row.created_at,
      acceptedAt: row.accepted_at,
      firstOpinionAt: row.first_opinion_at,
      answeredAt: row.answered_at,
      closedAt: row.closed_at,
    };
  }
}

function invitedExpert(consultationId: string, username: string, viaRoster: boolean, at: string): ConsultationExpertRow {
  return { consultation_id: consultationId, username, status: 'invited', via_roster: viaRoster ? 1 : 0, invited_at: at, responded_at: null, decline_reason: null, opinion_text: null, opinion_saved_at: null, opinion_signed_at: null, opinion_method: null };
}

/** An opinion's text is its author's while a draft; everybody else sees it once signed. */
function expertView(expert: ConsultationExpertRow, row: ConsultationRow, caller: Caller, displayName: string | null): ExpertView {
  const signed = expert.opinion_signed_at !== null;
  const shown = expert.opinion_text !== null && (signed || expert.username === caller.name);
  return {
    username: expert.username,
    displayName,
    status: expert.status,
    lead: row.lead === expert.username,
    viaRoster: expert.via_roster === 1,
    invitedAt: expert.invited_at,
    respondedAt: expert.responded_at,
    declineReason: expert.decline_reason,
    opinion: shown ? { text: expert.opinion_text!, signed, savedAt: expert.opinion_saved_at, signedAt: expert.opinion_signed_at } : null,
  };
}

/** granted_for of a consultation's case grants (migration 0028) */
export const grantKey = (consultationId: string): string => `consultation:${consultationId}`;


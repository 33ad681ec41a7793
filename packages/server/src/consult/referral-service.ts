import { randomUUID } from 'node:crypto';
import { actsForEveryInstitution, requirePermission, studyScopeOf, type Caller } from '../access/caller.ts';
import { badRequest, conflict, forbidden, notFound } from '../errors.ts';
import type { IndexStore } from '../store/index-store.ts';
import type { TransactionPorts, UnitOfWork } from '../store/unit-of-work.ts';
import { referralStore, type InstitutionFacts, type ReferralRow, type ReferralStore } from './referral-store.ts';

export type ReferralDirection = 'up' | 'down';
export type ReferralStatus = 'requested' | 'accepted' | 'refused' | 'completed' | 'cancelled';

export interface ReferralPatient {
  patientId: string;
  issuerOfPatientId: string | null;
  name: string | null;
  sex: string | null;
  birthDate: string | null;
}

export interface ReferralView {
  id: string;
  direction: ReferralDirection;
  status: ReferralStatus;
  patient: ReferralPatient;
  fromInstitutionId: string;
  fromInstitutionName: string;
  toInstitutionId: string;
  toInstitutionName: string;
  reason: string;
  studyInstanceUids: string[];
  reportIds: string[];
  dischargeSummary: string | null;
  followUpPlan: string | null;
  requestedBy: string;
  requestedByName: string | null;
  respondedBy: string | null;
  responseNote: string | null;
  outcome: string | null;
  createdAt: string;
  respondedAt: string | null;
  completedAt: string | null;
}

export interface ReferralInput {
  direction: ReferralDirection;
  patient: { patientId: string; issuerOfPatientId?: string; name?: string; sex?: string; birthDate?: string };
  fromInstitutionId: string;
  toInstitutionId: string;
  reason: string;
  studyInstanceUids: string[];
  reportIds: string[];
  dischargeSummary?: string;
  followUpPlan?: string;
}

export type SuggestionBasis = 'alliance' | 'regional-centre' | 'provincial-centre' | 'child';

export interface ReferralSuggestion {
  institutionId: string;
  name: string;
  tier: string | null;
  basis: SuggestionBasis;
}

export interface ReferralPairCount {
  fromInstitutionId: string;
  fromName: string;
  toInstitutionId: string;
  toName: string;
  direction: 'up' | 'down';
  count: number;
}

const LIST_LIMIT = 200;
type ReferralChange = 'referral.created' | 'referral.accepted' | 'referral.refused' | 'referral.completed' | 'referral.cancelled';
const grantedFor = (id: string) => `referral:${id}`;
const text = (value: string | undefined): string | null => (value && value.trim() ? value.trim() : null);

/**
 * Two-way referral (双向转诊, docs/consultation.md "Referrals"): the originating institution
 * refers a patient with the imaging up to a regional centre or back down; the receiving
 * institution sees the studies (institution grants for the referral) until it refuses or
 * completes the referral, or the originating side cancels it. Each transition commits with its
 * audit record and its change-feed row.
 */
export class ReferralService {
  private readonly deps: { store: ReferralStore; studies: IndexStore; unitOfWork: UnitOfWork };

  constructor(deps: { store: ReferralStore; studies: IndexStore; unitOfWork: UnitOfWork }) {
    this.deps = deps;
  }

  async create(caller: Caller, input: ReferralInput): Promise<ReferralView> {
    requirePermission(caller, 'referral:write');
    if (!actsForEveryInstitution(caller) && caller.institutionId !== input.fromInstitutionId) throw forbidden('a referral is made by a member of its originating institution');
    if (input.fromInstitutionId === input.toInstitutionId) throw badRequest('REFERRAL_INVALID', 'a referral goes to another institution');
    const [from, to] = [await this.deps.store.institution(input.fromInstitutionId), await this.deps.store.institution(input.toInstitutionId)];
    if (!from) throw badRequest('REFERRAL_INVALID', `no institution ${input.fromInstitutionId}`);
    if (!to) throw badRequest('REFERRAL_INVALID', `no institution ${input.toInstitutionId}`);
    const dischargeSummary = text(input.dischargeSummary);
    const followUpPlan = text(input.followUpPlan);
    if (input.direction === 'down' && (!dischargeSummary || !followUpPlan)) throw badRequest('REFERRAL_DISCHARGE_REQUIRED', 'a down-referral needs the discharge summary and the follow-up plan');
    if (!input.reason.trim()) throw badRequest('REFERRAL_INVALID', 'a reason is required');
    const uids = [...new Set(input.studyInstanceUids)];
    for (const uid of uids) {
      if ((await this.deps.studies.studyAccess(uid, studyScopeOf(caller))) !== 'visible') throw notFound(`study ${uid}`);
    }
    const id = `ref-${randomUUID()}`;
    const row: ReferralRow = {
      id,
      direction: input.direction,
      status: 'requested',
      patient_id: input.patient.patientId,
      issuer_of_patient_id: text(input.patient.issuerOfPatientId),
      patient_name: text(input.patient.name),
      patient_sex: text(input.patient.sex),
      patient_birth_date: text(input.patient.birthDate),
      from_institution_id: from.id,
      to_institution_id: to.id,
      reason: input.reason.trim(),
      study_instance_uids: JSON.stringify(uids),
      report_ids: JSON.stringify([...new Set(input.reportIds)]),
      discharge_summary: dischargeSummary,
      follow_up_plan: followUpPlan,
      requested_by: caller.name,
      requested_by_name: await this.deps.store.displayName(caller.name),
      responded_by: null,
      response_note: null,
      outcome: null,
      created_at: new Date().toISOString(),
      responded_at: null,
      completed_at: null,
    };
    await this.deps.unitOfWork.run(async (tx) => {
      await tx.open(referralStore).insertReferral(row);
      await tx.access.grantStudies(uids.map((uid) => ({ study_instance_uid: uid, institution_id: to.id, reason: `referral ${id}`, granted_by: caller.name, granted_for: grantedFor(id) })));
      this.record(tx, caller, row, 'created', { direction: row.direction, studyCount: uids.length });
    });
    return this.viewOf(row);
  }

  async list(caller: Caller, filter: { box?: 'in' | 'out'; status?: string }): Promise<ReferralView[]> {
    requirePermission(caller, 'referral:read');
    const rows = await this.deps.store.listReferrals({
      ...(filter.box ? { box: filter.box } : {}),
      ...(actsForEveryInstitution(caller) ? {} : { institutionIds: [caller.institutionId] }),
      ...(filter.status ? { status: filter.status } : {}),
      limit: LIST_LIMIT,
    });
    return this.viewsOf(rows);
  }

  async get(caller: Caller, id: string): Promise<ReferralView> {
    requirePermission(caller, 'referral:read');
    return this.viewOf(await this.visible(caller, id));
  }

  async accept(caller: Caller, id: string, note: string | undefined): Promise<ReferralView> {
    return this.respond(caller, id, 'to', ['requested'], 'accepted', (at) => ({ responded_by: caller.name, response_note: text(note), responded_at: at }), false);
  }

  async refuse(caller: Caller, id: string, reason: string): Promise<ReferralView> {
    if (!reason.trim()) throw badRequest('REFERRAL_INVALID', 'a reason is required');
    return this.respond(caller, id, 'to', ['requested'], 'refused', (at) => ({ responded_by: caller.name, response_note: reason.trim(), responded_at: at }), true);
  }

  async complete(caller: Caller, id: string, outcome: string): Promise<ReferralView> {
    if (!outcome.trim()) throw badRequest('REFERRAL_INVALID', 'the outcome is required');
    return this.respond(caller, id, 'to', ['accepted'], 'completed', (at) => ({ outcome: outcome.trim(), completed_at: at }), true);
  }

  async cancel(caller: Caller, id: string, reason: string): Promise<ReferralView> {
    if (!reason.trim()) throw badRequest('REFERRAL_INVALID', 'a reason is required');
    return this.respond(caller, id, 'from', ['requested'], 'cancelled', (at) => ({ response_note: reason.trim(), completed_at: at }), true);
  }

  /**
   * The receiving institution's candidates in the Sichuan order (四川省双向转诊): up, the
   * alliance centre(s) of the institution, then the city-tier institution of its region, then
   * the province-tier one; down, the alliance members, then the child institutions.
   */
  async suggestions(caller: Caller, fromInstitutionId: string | undefined, direction: ReferralDirection): Promise<ReferralSuggestion[]> {
    requirePermission(caller, 'referral:read');
    const fromId = fromInstitutionId ?? caller.institutionId;
    const from = await this.deps.store.institution(fromId);
    if (!from) throw notFound(`institution ${fromId}`);
    const all = await this.deps.store.institutions();
    const byId = new Map(all.map((institution) => [institution.id, institution]));
    const out: ReferralSuggestion[] = [];
    const add = (institution: InstitutionFacts | undefined, basis: SuggestionBasis) => {
      if (!institution || institution.id === from.id || out.some((entry) => entry.institutionId === institution.id)) return;
      out.push({ institutionId: institution.id, name: institution.name, tier: institution.tier, basis });
    };
    if (direction === 'up') {
      for (const centre of await this.deps.store.allianceCentresOf(from.id)) add(byId.get(centre), 'alliance');
      const ancestors: InstitutionFacts[] = [];
      for (let parent = from.parent_id ? byId.get(from.parent_id) : undefined; parent && !ancestors.includes(parent); parent = parent.parent_id ? byId.get(parent.parent_id) : undefined) ancestors.push(parent);
      const region = from.region_code ?? '';
      const sameRegion = (institution: InstitutionFacts, digits: number) => region.length >= digits && (institution.region_code ?? '').slice(0, digits) === region.slice(0, digits);
      for (const [tier, digits, basis] of [['city', 4, 'regional-centre'], ['province', 2, 'provincial-centre']] as const) {
        for (const institution of ancestors.filter((candidate) => candidate.tier === tier)) add(institution, basis);
        for (const institution of all.filter((candidate) => candidate.tier === tier && sameRegion(candidate, digits))) add(institution, basis);
      }
    } else {
      for (const member of await this.deps.store.allianceMembersOf(from.id)) add(byId.get(member), 'alliance');
      for (const child of all.filter((candidate) => candidate.parent_id === from.id)) add(child, 'child');
    }
    return out;
  }

  async referralPairs(period: { from?: string; to?: string }): Promise<ReferralPairCount[]> {
    const rows = await this.deps.store.referralPairs(period);
    const names = await this.deps.store.institutionNames([...new Set(rows.flatMap((row) => [row.from_institution_id, row.to_institution_id]))]);
    return rows.map((row) => ({
      fromInstitutionId: row.from_institution_id,
      fromName: names.get(row.from_institution_id) ?? row.from_institution_id,
      toInstitutionId: row.to_institution_id,
      toName: names.get(row.to_institution_id) ?? row.to_institution_id,
      direction: row.direction === 'down' ? 'down' : 'up',
      count: row.count,
    }));
  }

  private async respond(
    caller: Caller,
    id: string,
    side: 'from' | 'to',
    allowed: readonly ReferralStatus[],
    status: ReferralStatus,
    changes: (at: string) => Partial<ReferralRow>,
    endGrants: boolean,
  ): Promise<ReferralView> {
    requirePermission(caller, 'referral:write');
    const row = await this.visible(caller, id);
    const institutionId = side === 'to' ? row.to_institution_id : row.from_institution_id;
    if (caller.institutionId !== institutionId) throw forbidden(side === 'to' ? 'only the receiving institution may do this' : 'only the originating institution may do this');
    if (!allowed.includes(row.status as ReferralStatus)) throw conflict('REFERRAL_STATE_CONFLICT', `the referral is ${row.status}`);
    const update = { ...changes(new Date().toISOString()), status };
    const updated = await this.deps.unitOfWork.run(async (tx) => {
      if (!(await tx.open(referralStore).updateReferral(row.id, row.status, update))) return undefined;
      const ended = endGrants ? await tx.access.endCaseGrants(grantedFor(row.id)) : 0;
      const next = { ...row, ...update };
      this.record(tx, caller, next, status, { from: row.status, ...(endGrants ? { grantsEnded: ended } : {}) });
      return next;
    });
    if (!updated) throw conflict('REFERRAL_STATE_CONFLICT', 'the referral changed meanwhile');
    return this.viewOf(updated);
  }

  /** The referral when the caller's institution is either side of it (an administrator: any); else 404. */
  private async visible(caller: Caller, id: string): Promise<ReferralRow> {
    const row = await this.deps.store.referral(id);
    if (!row || !(actsForEveryInstitution(caller) || caller.institutionId === row.from_institution_id || caller.institutionId === row.to_institution_id)) throw notFound(`referral ${id}`);
    return row;
  }

  private record(tx: TransactionPorts, caller: Caller, row: ReferralRow, action: string, details: Record<string, unknown>): void {
    tx.audit.record({ action: `referral.${action}`, caller, objectType: 'referral', objectId: row.id, patientId: row.patient_id, details: { fromInstitutionId: row.from_institution_id, toInstitutionId: row.to_institution_id, ...details } });
    // the feed row belongs to the other side: the receiver hears of a new or cancelled referral, the originator of the answer
    const institutionId = action === 'created' || action === 'cancelled' ? row.to_institution_id : row.from_institution_id;
    tx.feed.append({ type: `referral.${action}` as ReferralChange, resourceType: 'referral', resourceId: row.id, institutionId, payload: { status: row.status, direction: row.direction, fromInstitutionId: row.from_institution_id, toInstitutionId: row.to_institution_id } });
  }

  private async viewOf(row: ReferralRow): Promise<ReferralView> {
    return (await this.viewsOf([row]))[0]!;
  }

  private async viewsOf(rows: readonly ReferralRow[]): Promise<ReferralView[]> {
    const names = await this.deps.store.institutionNames([...new Set(rows.flatMap((row) => [row.from_institution_id, row.to_institution_id]))]);
    return rows.map((row) => ({
      id: row.id,
      direction: row.direction as ReferralDirection,
      status: row.status as ReferralStatus,
      patient: { patientId: row.patient_id, issuerOfPatientId: row.issuer_of_patient_id, name: row.patient_name, sex: row.patient_sex, birthDate: row.patient_birth_date },
      fromInstitutionId: row.from_institution_id,
      fromInstitutionName: names.get(row.from_institution_id) ?? row.from_institution_id,
      toInstitutionId: row.to_institution_id,
      toInstitutionName: names.get(row.to_institution_id) ?? row.to_institution_id,
      reason: row.reason,
      studyInstanceUids: JSON.parse(row.study_instance_uids) as string[],
      reportIds: JSON.parse(row.report_ids) as string[],
      dischargeSummary: row.discharge_summary,
      followUpPlan: row.follow_up_plan,
      requestedBy: row.requested_by,
      requestedByName: row.requested_by_name,
      respondedBy: row.responded_by,
      responseNote: row.response_note,
      outcome: row.outcome,
      createdAt: row.created_at,
      respondedAt: row.responded_at,
      completedAt: row.completed_at,
    }));
  }
}

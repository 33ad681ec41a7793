import { randomUUID } from 'node:crypto';
import { actsForEveryInstitution, type Caller } from '../access/caller.ts';
import { badRequest, notFound } from '../errors.ts';
import type { AccessStore } from '../store/access-store.ts';
import type { StoreOpener } from '../store/store-opener.ts';
import type { UnitOfWork } from '../store/unit-of-work.ts';
import { CONSULTATION_TYPES, type ConsultationType } from './consultation-service.ts';
import { consultationStore, type AgreementRow, type ConsultationTables, type DutyRosterRow } from './consultation-store.ts';

export interface AgreementView {
  id: string;
  requestingInstitutionId: string;
  expertInstitutionId: string;
  createdBy: string;
  createdAt: string;
  endedAt: string | null;
}

export interface ShiftView {
  id: string;
  institutionId: string;
  username: string;
  displayName: string | null;
  startsAt: string;
  endsAt: string;
  types: ConsultationType[];
}

export interface AgreementDependencies {
  stores: { open<T>(opener: StoreOpener<T, ConsultationTables>): T };
  access: Pick<AccessStore, 'findUserByName' | 'findInstitution'>;
  unitOfWork: UnitOfWork;
}

/**
 * Consultation agreements (《远程医疗服务管理规范（试行）》: a partnership before a
 * consultation) and the expert institutions' duty rosters (排班), kept by administrators.
 */
export class ConsultationAgreements {
  private readonly deps: AgreementDependencies;

  constructor(deps: AgreementDependencies) {
    this.deps = deps;
  }

  async create(caller: Caller, input: { requestingInstitutionId: string; expertInstitutionId: string }): Promise<AgreementView> {
    if (input.requestingInstitutionId === input.expertInstitutionId) throw badRequest('CONSULTATION_INVALID', 'an agreement is between two institutions');
    for (const id of [input.requestingInstitutionId, input.expertInstitutionId]) {
      if (!(await this.deps.access.findInstitution(id))) throw notFound(`institution ${id}`);
    }
    const store = this.deps.stores.open(consultationStore);
    const existing = await store.activeAgreement(input.requestingInstitutionId, input.expertInstitutionId);
    if (existing) return agreementView(existing);
    const row: AgreementRow = { id: `agr-${randomUUID()}`, requesting_institution_id: input.requestingInstitutionId, expert_institution_id: input.expertInstitutionId, created_by: caller.name, created_at: new Date().toISOString(), ended_at: null, ended_by: null };
    await this.deps.unitOfWork.run(async (tx) => {
      await tx.open(consultationStore).insertAgreement(row);
      tx.audit.record({ action: 'consultation.agreement-created', caller, objectType: 'institution', objectId: row.requesting_institution_id, details: { agreementId: row.id, expertInstitutionId: row.expert_institution_id } });
    });
    return agreementView(row);
  }

  /** The active agreements: all for an administrator, those of the caller's institution otherwise. */
  async list(caller: Caller): Promise<AgreementView[]> {
    const rows = await this.deps.stores.open(consultationStore).activeAgreements(actsForEveryInstitution(caller) ? undefined : caller.institutionId);
    return rows.map(agreementView);
  }

  async end(caller: Caller, id: string): Promise<void> {
    await this.deps.unitOfWork.run(async (tx) => {
      if (!(await tx.open(consultationStore).endAgreement(id, caller.name, new Date().toISOString()))) throw notFound(`agreement ${id}`);
      tx.audit.record({ action: 'consultation.agreement-ended', caller, objectType: 'institution', details: { agreementId: id } });
    });
  }

  async addShift(caller: Caller, input: { institutionId: string; username: string; startsAt: string; endsAt: string; types?: ConsultationType[] }): Promise<ShiftView> {
    const user = await this.deps.access.findUserByName(input.username);
    if (!user) throw notFound(`user ${input.username}`);
    if (user.institution_id !== input.institutionId || user.role !== 'expert') throw badRequest('CONSULTATION_INVALID', `${input.username} is not an expert of ${input.institutionId}`);
    const startsAt = new Date(input.startsAt).toISOString();
    const endsAt = new Date(input.endsAt).toISOString();
    if (endsAt <= startsAt) throw badRequest('CONSULTATION_INVALID', 'a shift ends after it starts');
    const types = input.types && input.types.length > 0 ? [...new Set(input.types)] : null;
    const row: DutyRosterRow = { id: `duty-${randomUUID()}`, institution_id: input.institutionId, username: input.username, starts_at: startsAt, ends_at: endsAt, types: types ? JSON.stringify(types) : null, created_by: caller.name, created_at: new Date().toISOString() };
    await this.deps.unitOfWork.run(async (tx) => {
      await tx.open(consultationStore).insertShift(row);
      tx.audit.record({ action: 'consultation.shift-added', caller, objectType: 'user', objectId: input.username, details: { shiftId: row.id, institutionId: row.institution_id, startsAt, endsAt, types } });
    });
    return this.shiftView(row);
  }

  async shifts(caller: Caller, query: { institutionId?: string; from?: string; to?: string }): Promise<ShiftView[]> {
    // a roster names staff and shifts, no patient: the requester's form reads the expert institution's
    const institutionId = query.institutionId ?? caller.institutionId;
    const from = query.from ? new Date(query.from).toISOString() : new Date().toISOString();
    const to = query.to ? new Date(query.to).toISOString() : new Date(Date.parse(from) + 7 * 86_400_000).toISOString();
    const rows = await this.deps.stores.open(consultationStore).shifts(institutionId, from, to);
    return Promise.all(rows.map((row) => this.shiftView(row)));
  }

  async removeShift(caller: Caller, id: string): Promise<void> {
    await this.deps.unitOfWork.run(async (tx) => {
      const removed = await tx.open(consultationStore).deleteShift(id);
      if (!removed) throw notFound(`shift ${id}`);
      tx.audit.record({ action: 'consultation.shift-removed', caller, objectType: 'user', objectId: removed.username, details: { shiftId: id } });
    });
  }

  private async shiftView(row: DutyRosterRow): Promise<ShiftView> {
    const types = row.types ? (JSON.parse(row.types) as ConsultationType[]) : [...CONSULTATION_TYPES];
    return { id: row.id, institutionId: row.institution_id, username: row.username, displayName: (await this.deps.access.findUserByName(row.username))?.display_name ?? null, startsAt: row.starts_at, endsAt: row.ends_at, types };
  }
}

function agreementView(row: AgreementRow): AgreementView {
  return { id: row.id, requestingInstitutionId: row.requesting_institution_id, expertInstitutionId: row.expert_institution_id, createdBy: row.created_by, createdAt: row.created_at, endedAt: row.ended_at };
}

import { randomUUID } from 'node:crypto';
import { actsForEveryInstitution, requirePermission, studyScopeOf, type Caller } from '../access/caller.ts';
import { badRequest, conflict, forbidden, notFound } from '../errors.ts';
import type { IndexStore } from '../store/index-store.ts';
import type { TransactionPorts, UnitOfWork } from '../store/unit-of-work.ts';
import { mdtStore, type MdtParticipantRow, type MdtSessionRow, type MdtStore } from './mdt-store.ts';

export type MdtStatus = 'scheduled' | 'held' | 'cancelled';

export interface MdtSessionView {
  id: string;
  title: string;
  status: MdtStatus;
  institutionId: string;
  organizer: string;
  organizerName: string | null;
  scheduledAt: string;
  consultationId: string | null;
  patient: { patientId: string; issuerOfPatientId: string | null; name: string | null } | null;
  studyInstanceUids: string[];
  reportIds: string[];
  attachments: Array<{ title: string; text?: string }>;
  departments: string[];
  participants: Array<{ username: string; displayName: string | null; department: string; attendedAt: string | null }>;
  minutes: string | null;
  decisions: string[];
  followUpDate: string | null;
  roomUrl: string | null;
  createdAt: string;
  recordedAt: string | null;
}

export interface MdtInput {
  title: string;
  scheduledAt: string;
  studyInstanceUids: string[];
  reportIds?: string[];
  attachments?: Array<{ title: string; text?: string }>;
  departments: string[];
  participants: Array<{ username: string; department: string }>;
  consultationId?: string;
}

export interface MinutesInput {
  minutes: string;
  decisions: string[];
  followUpDate?: string;
}

type MdtChange = 'mdt.scheduled' | 'mdt.attended' | 'mdt.recorded';

const LIST_LIMIT = 200;
/** participants see the session's studies until 30 days after it (its recording, when later) */
const GRANT_DAYS = 30;
const grantedFor = (id: string) => `mdt:${id}`;
const plusDays = (iso: string, days: number) => new Date(Date.parse(iso) + days * 86_400_000).toISOString();

/**
 * MDT sessions (多学科会诊, docs/consultation.md "MDT sessions"): an organizer schedules a
 * session on a case with the participants of several departments, who see its studies
 * (user grants for the session); participants sign in (签到); the organizer records the
 * minutes and decisions, and the session is held.
 */
export class MdtService {
  private readonly deps: { store: MdtStore; studies: IndexStore; unitOfWork: UnitOfWork };

  constructor(deps: { store: MdtStore; studies: IndexStore; unitOfWork: UnitOfWork }) {
    this.deps = deps;
  }

  async schedule(caller: Caller, input: MdtInput): Promise<MdtSessionView> {
    requirePermission(caller, 'mdt:write');
    const scheduledAt = new Date(input.scheduledAt);
    if (Number.isNaN(scheduledAt.getTime())) throw badRequest('MDT_SESSION_INVALID', 'scheduledAt is not a time');
    if (!input.title.trim()) throw badRequest('MDT_SESSION_INVALID', 'a title is required');
    const uids = [...new Set(input.studyInstanceUids)];
    for (const uid of uids) {
      if ((await this.deps.studies.studyAccess(uid, studyScopeOf(caller))) !== 'visible') throw notFound(`study ${uid}`);
    }
    const usernames = [...new Set(input.participants.map((participant) => participant.username))];
    if (usernames.length !== input.participants.length) throw badRequest('MDT_SESSION_INVALID', 'a participant is listed twice');
    const users = new Map((await this.deps.store.usersByName(usernames)).map((user) => [user.username, user]));
    for (const username of usernames) {
      const user = users.get(username);
      if (!user || user.enabled !== 1) throw badRequest('MDT_SESSION_INVALID', `no enabled user ${username}`);
    }
    const first = uids[0] ? await this.deps.store.studyPatient(uids[0]) : undefined;
    const id = `mdt-${randomUUID()}`;
    const row: MdtSessionRow = {
      id,
      title: input.title.trim(),
      status: 'scheduled',
      institution_id: caller.institutionId,
      organizer: caller.name,
      organizer_name: await this.deps.store.displayName(caller.name),
      scheduled_at: scheduledAt.toISOString(),
      consultation_id: input.consultationId ?? null,
      // the patient as the first study carries it (PatientID with its issuer), never matched elsewhere
      patient_id: first?.patient_id ?? null,
      issuer_of_patient_id: first?.issuer_of_patient_id ?? null,
      patient_name: first?.patient_name ?? null,
      study_instance_uids: JSON.stringify(uids),
      report_ids: JSON.stringify([...new Set(input.reportIds ?? [])]),
      attachments: JSON.stringify(input.attachments ?? []),
      departments: JSON.stringify(input.departments),
      minutes: null,
      decisions: '[]',
      follow_up_date: null,
      room_url: null,
      created_at: new Date().toISOString(),
      recorded_at: null,
    };
    const participants: MdtParticipantRow[] = input.participants.map((participant) => {
      const user = users.get(participant.username)!;
      return { session_id: id, username: user.username, user_id: user.id, display_name: user.display_name, department: participant.department, attended_at: null };
    });
    await this.deps.unitOfWork.run(async (tx) => {
      await tx.open(mdtStore).insertSession(row, participants);
      await this.grant(tx, row, participants, plusDays(row.scheduled_at, GRANT_DAYS));
      this.record(tx, caller, row, 'scheduled', { participants: usernames, studyCount: uids.length });
    });
    return this.viewOf(row);
  }

  async list(caller: Caller, filter: { from?: string; to?: string }): Promise<MdtSessionView[]> {
    requirePermission(caller, 'mdt:read');
    const rows = await this.deps.store.listSessions({
      ...(actsForEveryInstitution(caller) ? {} : { institutionIds: [caller.institutionId], participant: caller.name }),
      ...(filter.from ? { from: filter.from } : {}),
      ...(filter.to ? { to: filter.to } : {}),
      limit: LIST_LIMIT,
    });
    return this.viewsOf(rows);
  }

  async get(caller: Caller, id: string): Promise<MdtSessionView> {
    requirePermission(caller, 'mdt:read');
    const { row, participants } = await this.visible(caller, id);
    return this.viewOf(row, participants);
  }

  /** Signs the calling participant in (签到); again: the first sign-in stays. */
  async attend(caller: Caller, id: string): Promise<MdtSessionView> {
    requirePermission(caller, 'mdt:read');
    const { row, participants } = await this.visible(caller, id);
    const me = participants.find((participant) => participant.username === caller.name);
    if (!me) throw forbidden('only a participant of the session signs in to it');
    if (row.status === 'cancelled') throw conflict('MDT_SESSION_STATE_CONFLICT', 'the session was cancelled');
    if (!me.attended_at) {
      const at = new Date().toISOString();
      await this.deps.unitOfWork.run(async (tx) => {
        if (await tx.open(mdtStore).markAttended(row.id, me.username, at)) this.record(tx, caller, row, 'attended', { department: me.department });
      });
    }
    return this.get(caller, id);
  }

  /** The organizer records the minutes and decisions: the session is held; participants keep the studies 30 days after. */
  async recordMinutes(caller: Caller, id: string, input: MinutesInput): Promise<MdtSessionView> {
    requirePermission(caller, 'mdt:write');
    const { row, participants } = await this.visible(caller, id);
    if (row.organizer !== caller.name) throw forbidden('only the organizer records the minutes');
    if (row.status !== 'scheduled') throw conflict('MDT_SESSION_STATE_CONFLICT', `the session is ${row.status}`);
    if (!input.minutes.trim()) throw badRequest('MDT_SESSION_INVALID', 'the minutes are required');
    const recordedAt = new Date().toISOString();
    const update = { status: 'held', minutes: input.minutes.trim(), decisions: JSON.stringify(input.decisions.map((decision) => decision.trim()).filter(Boolean)), follow_up_date: input.followUpDate ?? null, recorded_at: recordedAt };
    const updated = await this.deps.unitOfWork.run(async (tx) => {
      if (!(await tx.open(mdtStore).updateSession(row.id, 'scheduled', update))) return undefined;
      const next = { ...row, ...update };
      const until = plusDays(recordedAt, GRANT_DAYS);
      if (until > plusDays(row.scheduled_at, GRANT_DAYS)) await this.grant(tx, next, participants, until);
      this.record(tx, caller, next, 'recorded', { decisionCount: JSON.parse(update.decisions).length, followUpDate: update.follow_up_date });
      return next;
    });
    if (!updated) throw conflict('MDT_SESSION_STATE_CONFLICT', 'the session changed meanwhile');
    return this.viewOf(updated, participants);
  }

  private async grant(tx: TransactionPorts, row: MdtSessionRow, participants: readonly MdtParticipantRow[], expiresAt: string): Promise<void> {
    for (const participant of participants) {
      for (const uid of JSON.parse(row.study_instance_uids) as string[]) {
        await tx.access.grantStudyToUser({ study_instance_uid: uid, user_id: participant.user_id, reason: `MDT ${row.id}`, emergency: 0, expires_at: expiresAt, granted_for: grantedFor(row.id) });
      }
    }
  }

  /** The session when the caller is of the organizer's institution, a participant or an administrator; else 404. */
  private async visible(caller: Caller, id: string): Promise<{ row: MdtSessionRow; participants: MdtParticipantRow[] }> {
    const row = await this.deps.store.session(id);
    if (!row) throw notFound(`MDT session ${id}`);
    const participants = await this.deps.store.participants([row.id]);
    const sees = actsForEveryInstitution(caller) || caller.institutionId === row.institution_id || participants.some((participant) => participant.username === caller.name);
    if (!sees) throw notFound(`MDT session ${id}`);
    return { row, participants };
  }

  private record(tx: TransactionPorts, caller: Caller, row: MdtSessionRow, action: 'scheduled' | 'attended' | 'recorded', details: Record<string, unknown>): void {
    tx.audit.record({ action: `mdt.${action}`, caller, objectType: 'mdt-session', objectId: row.id, ...(row.patient_id ? { patientId: row.patient_id } : {}), details });
    tx.feed.append({ type: `mdt.${action}` as MdtChange, resourceType: 'mdt-session', resourceId: row.id, institutionId: row.institution_id, payload: { status: row.status, scheduledAt: row.scheduled_at } });
  }

  private async viewOf(row: MdtSessionRow, participants?: readonly MdtParticipantRow[]): Promise<MdtSessionView> {
    return (await this.viewsOf([row], participants))[0]!;
  }

  private async viewsOf(rows: readonly MdtSessionRow[], known?: readonly MdtParticipantRow[]): Promise<MdtSessionView[]> {
    const participants = known ?? (await this.deps.store.participants(rows.map((row) => row.id)));
    return rows.map((row) => ({
      id: row.id,
      title: row.title,
      status: row.status as MdtStatus,
      institutionId: row.institution_id,
      organizer: row.organizer,
      organizerName: row.organizer_name,
      scheduledAt: row.scheduled_at,
      consultationId: row.consultation_id,
      patient: row.patient_id ? { patientId: row.patient_id, issuerOfPatientId: row.issuer_of_patient_id, name: row.patient_name } : null,
      studyInstanceUids: JSON.parse(row.study_instance_uids) as string[],
      reportIds: JSON.parse(row.report_ids) as string[],
      attachments: JSON.parse(row.attachments) as MdtSessionView['attachments'],
      departments: JSON.parse(row.departments) as string[],
      participants: participants
        .filter((participant) => participant.session_id === row.id)
        .map((participant) => ({ username: participant.username, displayName: participant.display_name, department: participant.department, attendedAt: participant.attended_at })),
      minutes: row.minutes,
      decisions: JSON.parse(row.decisions) as string[],
      followUpDate: row.follow_up_date,
      roomUrl: row.room_url,
      createdAt: row.created_at,
      recordedAt: row.recorded_at,
    }));
  }
}

import type { Kysely } from 'kysely';
import type { Database } from '../store/schema.ts';
import type { StoreOpener } from '../store/store-opener.ts';

/**
 * The MDT tables (migration 0030-referrals-mdt, referral-mdt.ts): a session and its
 * participants. Opened as a module store: `archive.stores.open(mdtStore)` for reads,
 * `tx.open(mdtStore)` in a unit of work for writes.
 */
export interface MdtSessionTable {
  id: string;
  title: string;
  /** 'scheduled' | 'held' | 'cancelled' */
  status: string;
  institution_id: string;
  organizer: string;
  organizer_name: string | null;
  scheduled_at: string;
  consultation_id: string | null;
  patient_id: string | null;
  issuer_of_patient_id: string | null;
  patient_name: string | null;
  /** JSON arrays */
  study_instance_uids: string;
  report_ids: string;
  attachments: string;
  departments: string;
  minutes: string | null;
  decisions: string;
  follow_up_date: string | null;
  room_url: string | null;
  created_at: string;
  recorded_at: string | null;
}

export interface MdtParticipantTable {
  session_id: string;
  username: string;
  user_id: string;
  display_name: string | null;
  department: string;
  attended_at: string | null;
}

export interface MdtTables {
  mdt_sessions: MdtSessionTable;
  mdt_participants: MdtParticipantTable;
}

type Tables = MdtTables & Database;

export type MdtSessionRow = MdtSessionTable;
export type MdtParticipantRow = MdtParticipantTable;

export class MdtStore {
  private readonly handle: Kysely<Tables>;
  constructor(handle: Kysely<Tables>) {
    this.handle = handle;
  }


  async usersByName(usernames: readonly string[]): Promise<Array<{ id: string; username: string; display_name: string | null; institution_id: string; role: string; enabled: number }>> {
    if (usernames.length === 0) return [];
    return this.handle.selectFrom('users').select(['id', 'username', 'display_name', 'institution_id', 'role', 'enabled']).where('username', 'in', [...usernames]).execute();
  }

  async displayName(username: string): Promise<string | null> {
    const row = await this.handle.selectFrom('users').select('display_name').where('username', '=', username).executeTakeFirst();
    return row?.display_name ?? null;
  }

  /** The patient of a study (for an MDT session's patient block): as the study carries it. */
  async studyPatient(studyInstanceUid: string): Promise<{ institution_id: string; patient_id: string | null; issuer_of_patient_id: string | null; patient_name: string | null } | undefined> {
    return this.handle.selectFrom('studies').select(['institution_id', 'patient_id', 'issuer_of_patient_id', 'patient_name']).where('study_instance_uid', '=', studyInstanceUid).executeTakeFirst();
  }

  async insertSession(row: MdtSessionRow, participants: readonly MdtParticipantRow[]): Promise<void> {
    await this.handle.insertInto('mdt_sessions').values(row).execute();
    if (participants.length > 0) await this.handle.insertInto('mdt_participants').values([...participants]).execute();
  }

  async session(id: string): Promise<MdtSessionRow | undefined> {
    return this.handle.selectFrom('mdt_sessions').selectAll().where('id', '=', id).executeTakeFirst();
  }

  async participants(sessionIds: readonly string[]): Promise<MdtParticipantRow[]> {
    if (sessionIds.length === 0) return [];
    return this.handle.selectFrom('mdt_participants').selectAll().where('session_id', 'in', [...sessionIds]).orderBy('session_id').orderBy('username').execute();
  }

  async updateSession(id: string, from: string, changes: Partial<Omit<MdtSessionRow, 'id'>>): Promise<boolean> {
    const result = await this.handle.updateTable('mdt_sessions').set(changes).where('id', '=', id).where('status', '=', from).executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  async markAttended(sessionId: string, username: string, at: string): Promise<boolean> {
    const result = await this.handle.updateTable('mdt_participants').set({ attended_at: at }).where('session_id', '=', sessionId).where('username', '=', username).where('attended_at', 'is', null).executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  /** Sessions scheduled within [from, to): of these institutions or with this participant (undefined institutions: all). */
  async listSessions(filter: { institutionIds?: readonly string[]; participant?: string; from?: string; to?: string; limit: number }): Promise<MdtSessionRow[]> {
    let query = this.handle.selectFrom('mdt_sessions').selectAll();
    if (filter.institutionIds) {
      const ids = [...filter.institutionIds];
      const participant = filter.participant;
      query = query.where((eb) => {
        const ors = [];
        if (ids.length > 0) ors.push(eb('institution_id', 'in', ids));
        if (participant) ors.push(eb('id', 'in', eb.selectFrom('mdt_participants').select('session_id').where('username', '=', participant)));
        return ors.length > 0 ? eb.or(ors) : eb.lit(false);
      });
    }
    if (filter.from) query = query.where('scheduled_at', '>=', filter.from);
    if (filter.to) query = query.where('scheduled_at', '<', filter.to);
    return query.orderBy('scheduled_at', 'desc').orderBy('id').limit(filter.limit).execute();
  }
}

export const mdtStore: StoreOpener<MdtStore, MdtTables> = (handle) => new MdtStore(handle as unknown as Kysely<Tables>);

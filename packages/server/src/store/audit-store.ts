import { createHash } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import type { SqlDialectName } from './database.ts';
import type { AuditEventTable, Database } from './schema.ts';

export type AuditRow = Omit<AuditEventTable, 'seq'> & { seq: number };
export type NewAuditRow = Omit<AuditRow, 'seq' | 'prev_hash' | 'hash'>;

export const GENESIS_HASH = '0'.repeat(64);

/** Any constant: every server process takes this lock to append to the one chain. */
const AUDIT_CHAIN_LOCK = 0x59_59_41_55; // "YYAU"

/** The hash of a record: its sequence number, its fields and the previous record's hash. */
export function auditHash(row: Omit<AuditRow, 'hash'>): string {
  const canonical = JSON.stringify([
    row.seq,
    row.occurred_at,
    row.action,
    row.outcome,
    row.actor_kind,
    row.actor_name,
    row.actor_role,
    row.actor_institution_id,
    row.remote_address,
    row.via,
    row.object_type,
    row.object_id,
    row.patient_id,
    row.details,
    row.prev_hash,
  ]);
  return createHash('sha256').update(canonical).digest('hex');
}

export interface AuditSearch {
  from?: string;
  to?: string;
  action?: string;
  actorName?: string;
  actorInstitutionId?: string;
  objectId?: string;
  patientId?: string;
  via?: string;
  afterSeq?: number;
  beforeSeq?: number;
  /** newest first (an auditor's screen); oldest first is the default (export, paging by afterSeq) */
  newestFirst?: boolean;
  limit: number;
}

/**
 * The audit trail table: appends extend the hash chain under one lock (a PostgreSQL
 * advisory lock across processes; SQLite has a single writer), reads are by filter or in
 * sequence for verification. Nothing here updates or deletes a record.
 */
export class AuditStore {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly dialect: SqlDialectName,
  ) {}

  /** Appends the rows in order, chained to the current head, in one transaction. */
  async append(rows: readonly NewAuditRow[]): Promise<AuditRow[]> {
    if (rows.length === 0) return [];
    return this.db.transaction().execute(async (trx) => {
      if (this.dialect === 'postgres') {
        // The audit commit does not wait for its own WAL flush: the next synchronous commit
        // (the instance an ingest stores, any other write) flushes it, so only a PostgreSQL
        // crash within that moment could lose a record — never an application crash — and an
        // ingest no longer pays a second disk flush per instance for its audit record.
        await sql`set local synchronous_commit = off`.execute(trx);
        // Its own statement, so the head below is read with a snapshot taken after the lock.
        await sql`select pg_advisory_xact_lock(${AUDIT_CHAIN_LOCK})`.execute(trx);
      }
      const head = await trx.selectFrom('audit_events').select(['seq', 'hash']).orderBy('seq', 'desc').limit(1).executeTakeFirst();
      let seq = head ? Number(head.seq) : 0;
      let prevHash = head?.hash ?? GENESIS_HASH;
      const chained: AuditRow[] = rows.map((row) => {
        seq += 1;
        const unhashed = { ...row, seq, prev_hash: prevHash };
        const hash = auditHash(unhashed);
        prevHash = hash;
        return { ...unhashed, hash };
      });
      // Explicit sequence numbers: they are part of the hash, and a gap shows a deletion.
      await trx.insertInto('audit_events').values(chained).execute();
      return chained;
    });
  }

  /** Records in sequence order after `afterSeq`, for verification and export. */
  async readAfter(afterSeq: number, limit: number): Promise<AuditRow[]> {
    const rows = await this.db.selectFrom('audit_events').selectAll().where('seq', '>', afterSeq).orderBy('seq').limit(limit).execute();
    return rows.map(normalise);
  }

  async search(filter: AuditSearch): Promise<AuditRow[]> {
    let query = this.db.selectFrom('audit_events').selectAll();
    if (filter.from) query = query.where('occurred_at', '>=', filter.from);
    if (filter.to) query = query.where('occurred_at', '<=', filter.to);
    if (filter.action) query = query.where('action', '=', filter.action);
    if (filter.actorName) query = query.where('actor_name', '=', filter.actorName);
    if (filter.actorInstitutionId) query = query.where('actor_institution_id', '=', filter.actorInstitutionId);
    if (filter.objectId) query = query.where('object_id', '=', filter.objectId);
    if (filter.patientId) query = query.where('patient_id', '=', filter.patientId);
    if (filter.via) query = query.where('via', '=', filter.via);
    if (filter.afterSeq !== undefined) query = query.where('seq', '>', filter.afterSeq);
    if (filter.beforeSeq !== undefined) query = query.where('seq', '<', filter.beforeSeq);
    const rows = await query.orderBy('seq', filter.newestFirst ? 'desc' : 'asc').limit(filter.limit).execute();
    return rows.map(normalise);
  }
}

function normalise(row: Omit<AuditEventTable, 'seq'> & { seq: unknown }): AuditRow {
  return { ...row, seq: Number(row.seq) };
}

import { createHash, createHmac } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import type { AuditEventInput } from '../access/audit-event.ts';
import type { AuditKey } from '../access/audit-key.ts';
import type { NewChange } from '../feed/change.ts';
import { announceAppended, appendChanges, changeRowsOf } from './change-feed-store.ts';
import { YunyingError } from '../errors.ts';
import type { SqlDialectName } from './database.ts';
import type { AuditEventTable, Database } from './schema.ts';

export type AuditRow = Omit<AuditEventTable, 'seq'> & { seq: number };
export type NewAuditRow = Omit<AuditRow, 'seq' | 'prev_hash' | 'hash'>;

export const GENESIS_HASH = '0'.repeat(64);

/** The staged changes one chaining transaction takes (PostgreSQL, appendIn). */
const STAGED_BATCH = 200;

/** How long after a change's commit its staged records are chained (PostgreSQL, afterCommit). */
const CHAIN_DELAY_MS = 100;

/** Any constant: every server process takes this lock to append to the one chain. */
const AUDIT_CHAIN_LOCK = 0x59_59_41_55; // "YYAU"

/**
 * The record that keys the chain: every record from it on is hashed with HMAC-SHA256 under
 * the audit key (keyedAuditHash), every record before it (written before the upgrade) with
 * plain SHA-256 (auditHash). Found by its object id, which is indexed.
 */
export const CHAIN_KEYED_ACTION = 'audit.chain-keyed';
export const CHAIN_OBJECT_ID = 'audit-chain';

/** The unkeyed hash of a record (records before the chain was keyed): its sequence number, its fields and the previous record's hash. */
export function auditHash(row: Omit<AuditRow, 'hash'>): string {
  return createHash('sha256').update(canonicalRecord(row)).digest('hex');
}

/** The keyed hash: without the key, an edited record cannot be given a hash that verifies. */
export function keyedAuditHash(row: Omit<AuditRow, 'hash'>, key: Buffer): string {
  return createHmac('sha256', key).update(canonicalRecord(row)).digest('hex');
}

function canonicalRecord(row: Omit<AuditRow, 'hash'>): string {
  return JSON.stringify([
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
  /** set once this process has seen (or written) the keying record: appends skip the lookup */
  private keyed = false;

  private readonly db: Kysely<Database>;
  private readonly dialect: SqlDialectName;
  readonly key: AuditKey;
  constructor(
    db: Kysely<Database>,
    dialect: SqlDialectName,
    key: AuditKey,
  ) {
    this.db = db;
    this.dialect = dialect;
    this.key = key;
  }

  /**
   * Writes the keying record if the chain has none yet (at start; appends do it too), and on
   * PostgreSQL chains the records a crash left staged (appendIn).
   */
  async ensureKeyed(): Promise<void> {
    if (!this.keyed) await this.append([]);
    if (this.dialect === 'postgres') await this.chainStaged();
  }

  /**
   * Appends the rows in order, chained to the current head, in a transaction of their own
   * (reads and refusals: records of no change). On PostgreSQL the commit does not wait for
   * its own WAL flush (migration 0012's audit_chain_head): the next synchronous commit (any
   * write) flushes it, so only a PostgreSQL crash within that moment could lose a record —
   * never an application crash.
   */
  async append(rows: readonly NewAuditRow[]): Promise<AuditRow[]> {
    if (rows.length === 0 && this.keyed) return [];
    const chained = await this.db.transaction().execute((trx) => this.chainIn(trx, rows));
    this.markKeyed();
    return chained;
  }

  /**
   * The records of a change, inside the change's transaction (store/unit-of-work.ts): they
   * commit with it, or not at all; then the change's feed rows (`changes`, appended after the
   * records: in one statement with them on PostgreSQL). Call afterCommit once the transaction
   * has committed.
   *
   * SQLite (one writer) chains them at once. PostgreSQL stages them in audit_pending
   * (migration 0013), taking no lock: with the chain lock held from the head read to the
   * commit, every change of every process would wait for the one before it, and ingest lost
   * a third of its throughput at eight senders. afterCommit then chains what is staged in
   * the background, many changes per transaction, in the order they are chained; every
   * reader of the trail (settle) chains what is staged first, in whichever process it runs,
   * so the trail it reads holds every committed change's records. Should the process die in
   * between, the records are staged durably with their change, and the next start (or read)
   * chains them.
   */
  async appendIn(trx: Kysely<Database>, rows: readonly NewAuditRow[], changes: readonly NewChange[] = []): Promise<void> {
    if (rows.length === 0) {
      await appendChanges(trx, changes);
      return;
    }
    if (this.dialect !== 'postgres') {
      await this.chainIn(trx, rows);
      await appendChanges(trx, changes);
      return;
    }
    const staged = { records: JSON.stringify(rows), created_at: new Date().toISOString() };
    if (changes.length === 0) {
      await trx.insertInto('audit_pending').values(staged).execute();
      return;
    }
    // With the change's feed rows, in one statement (a data-modifying WITH): a round trip less.
    const appended = await trx
      .with('staged', (db) => db.insertInto('audit_pending').values(staged).returning('id'))
      .insertInto('changes')
      .values(changeRowsOf(changes))
      .returning('seq')
      .execute();
    announceAppended(appended);
  }

  /**
   * After the commit of a transaction that called appendIn: SQLite's chain is keyed now;
   * PostgreSQL's staged records are chained in the background (the change's client does not
   * wait for it; a reader of the trail does, settle). A failure loses nothing: the records
   * stay staged for the next pass, read or start.
   */
  async afterCommit(): Promise<void> {
    if (this.dialect !== 'postgres') {
      this.markKeyed();
      return;
    }
    // A moment later, so that one pass chains the records of many changes: one instance
    // after another from one sender otherwise costs a chaining transaction each (six
    // statements for one record). Nothing waits for it: the records are committed with
    // their change, and a reader of the trail chains what is staged first (settle).
    this.chainTimer ??= setTimeout(() => {
      this.chainTimer = undefined;
      void this.chainStaged().catch(() => undefined);
    }, CHAIN_DELAY_MS);
  }

  private chainTimer: ReturnType<typeof setTimeout> | undefined;

  /**
   * Before the trail is read (search, head, verify): the records staged so far, by any
   * process, are chained (PostgreSQL; SQLite stages nothing). One indexed probe when there
   * are none. A failure to chain does not stop the read: it shows what is chained.
   */
  async settle(): Promise<void> {
    if (this.dialect !== 'postgres') return;
    const staged = await this.db.selectFrom('audit_pending').select('id').limit(1).executeTakeFirst();
    if (staged) await this.chainStaged().catch(() => undefined);
  }

  /** Waits for the chaining under way (shutdown: the database is closed next). */
  async drain(): Promise<void> {
    if (this.chainTimer) {
      clearTimeout(this.chainTimer);
      this.chainTimer = undefined;
      await this.chainStaged().catch(() => undefined);
    }
    while (this.chaining) await this.chaining;
  }

  private stagedWaiters: Array<{ resolve: () => void; reject: (error: unknown) => void }> = [];
  private chaining: Promise<void> | undefined;

  /**
   * Chains every staged record (PostgreSQL). Resolves once a pass that began after the call
   * has run: while one pass runs, the callers that arrive meanwhile share the next, so a busy
   * server chains many changes' records per transaction.
   */
  chainStaged(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.stagedWaiters.push({ resolve, reject });
      this.chaining ??= this.runChainPasses();
    });
  }

  private async runChainPasses(): Promise<void> {
    try {
      while (this.stagedWaiters.length > 0) {
        const waiters = this.stagedWaiters.splice(0);
        try {
          while ((await this.chainStagedBatch()) === STAGED_BATCH) {
            // more staged than one transaction takes: go on
          }
          for (const waiter of waiters) waiter.resolve();
        } catch (error) {
          for (const waiter of waiters) waiter.reject(error);
        }
      }
    } finally {
      this.chaining = undefined;
    }
  }

  /**
   * One transaction: under the chain lock, the oldest staged changes' records are chained
   * and their staging rows deleted. Another process's pass waits for the lock and then sees
   * neither. Committed without waiting for the flush (audit_chain_head): were it lost in a
   * PostgreSQL crash, the staging rows it deleted come back with it, and are chained again.
   */
  private async chainStagedBatch(): Promise<number> {
    const staged = await this.db.transaction().execute(async (trx) => {
      const head = await this.lockedHead(trx);
      // Taken and deleted in one statement (a round trip less); in id order, as staged.
      const taken = await trx
        .deleteFrom('audit_pending')
        .where('id', 'in', (eb) => eb.selectFrom('audit_pending').select('id').orderBy('id').limit(STAGED_BATCH))
        .returning(['id', 'records'])
        .execute();
      if (taken.length === 0) return 0;
      const rows = taken.sort((a, b) => Number(a.id) - Number(b.id));
      await this.insertChained(trx, head, rows.flatMap((row) => JSON.parse(row.records) as NewAuditRow[]));
      return rows.length;
    });
    if (staged > 0) this.markKeyed();
    return staged;
  }

  /** Chains the rows to the current head, under the chain lock (held to the end of `trx`). */
  private async chainIn(trx: Kysely<Database>, rows: readonly NewAuditRow[]): Promise<AuditRow[]> {
    return this.insertChained(trx, await this.lockedHead(trx), rows);
  }

  private async insertChained(trx: Kysely<Database>, head: { seq: number; hash: string } | undefined, rows: readonly NewAuditRow[]): Promise<AuditRow[]> {
    let seq = head ? Number(head.seq) : 0;
    let prevHash = head?.hash ?? GENESIS_HASH;
    const toChain = this.keyed ? rows : [...(await this.keyingRecord(trx, seq)), ...rows];
    if (toChain.length === 0) return [];
    const chained: AuditRow[] = toChain.map((row) => {
      seq += 1;
      const unhashed = { ...row, seq, prev_hash: prevHash };
      const hash = keyedAuditHash(unhashed, this.key.key);
      prevHash = hash;
      return { ...unhashed, hash };
    });
    // Explicit sequence numbers: they are part of the hash, and a gap shows a deletion.
    // In slices: PostgreSQL takes at most 65,535 parameters per statement.
    for (let start = 0; start < chained.length; start += 1000) await trx.insertInto('audit_events').values(chained.slice(start, start + 1000)).execute();
    return chained.filter((row) => row.action !== CHAIN_KEYED_ACTION);
  }

  /**
   * The chain's last record, read under the chain lock (held to the end of the transaction).
   * PostgreSQL: migration 0012's audit_chain_head takes the lock and then reads the head with
   * a snapshot taken after it, in one round trip, and lets the commit skip its WAL flush.
   */
  private async lockedHead(trx: Kysely<Database>): Promise<{ seq: number; hash: string } | undefined> {
    if (this.dialect === 'postgres') {
      const result = await sql<{ head_seq: number | null; head_hash: string | null }>`select head_seq, head_hash from audit_chain_head(${AUDIT_CHAIN_LOCK})`.execute(trx);
      const row = result.rows[0];
      return row && row.head_seq !== null && row.head_hash !== null ? { seq: Number(row.head_seq), hash: row.head_hash } : undefined;
    }
    const head = await trx.selectFrom('audit_events').select(['seq', 'hash']).orderBy('seq', 'desc').limit(1).executeTakeFirst();
    return head && { seq: Number(head.seq), hash: head.hash };
  }

  /**
   * The chain is keyed (a transaction that chained records under the lock has committed):
   * later appends skip the lookup. Not before the commit: a transaction that wrote the keying
   * record and rolled back leaves the chain unkeyed.
   */
  markKeyed(): void {
    this.keyed = true;
  }

  /**
   * Under the chain lock: nothing if the chain is keyed with this process's key; the keying
   * record to write first if the chain has none; an error if it was keyed with another key
   * (a process with another key file would write records that never verify) or lost its
   * keying record while the key file was there (the chain was rewritten).
   */
  private async keyingRecord(trx: Kysely<Database>, headSeq: number): Promise<NewAuditRow[]> {
    const marker = await trx.selectFrom('audit_events').selectAll().where('object_id', '=', CHAIN_OBJECT_ID).where('action', '=', CHAIN_KEYED_ACTION).orderBy('seq').limit(1).executeTakeFirst();
    if (marker) {
      const row = normalise(marker);
      if (keyedAuditHash(row, this.key.key) !== row.hash) {
        throw new YunyingError('AUDIT_KEY_MISMATCH', `the audit trail was keyed with another audit key (key id ${keyIdOf(row) ?? 'unknown'}; this process has ${this.key.id}): give every server process the same YUNYING_AUDIT_KEY or key file`);
      }
      return [];
    }
    if (headSeq > 0 && !this.key.mayKeyExistingChain) {
      throw new YunyingError('AUDIT_CHAIN_UNKEYED', `the audit trail holds ${headSeq} records and none keys it, although the audit key existed before: the chain may have been rewritten; check it with \`yunying audit verify --expect-head\``);
    }
    return [
      {
        occurred_at: new Date().toISOString(),
        action: CHAIN_KEYED_ACTION,
        outcome: 'success',
        actor_kind: 'system',
        actor_name: 'audit-trail',
        actor_role: 'administrator',
        actor_institution_id: 'default',
        remote_address: null,
        via: 'system',
        object_type: 'audit',
        object_id: CHAIN_OBJECT_ID,
        patient_id: null,
        details: JSON.stringify({ scheme: 'hmac-sha256', keyId: this.key.id, unkeyedRecords: headSeq }),
      },
    ];
  }

  /** The last record's sequence number and hash (0 and the genesis hash for an empty trail). */
  async head(): Promise<{ seq: number; hash: string }> {
    const head = await this.db.selectFrom('audit_events').select(['seq', 'hash']).orderBy('seq', 'desc').limit(1).executeTakeFirst();
    return head ? { seq: Number(head.seq), hash: head.hash } : { seq: 0, hash: GENESIS_HASH };
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

/** An event as the row it becomes (its time is now), before the chain gives it a sequence number and hash. */
export function auditRowOf(event: AuditEventInput): NewAuditRow {
  const { caller } = event;
  return {
    occurred_at: new Date().toISOString(),
    action: event.action,
    outcome: event.outcome ?? 'success',
    actor_kind: caller.kind,
    actor_name: caller.name,
    actor_role: caller.role,
    actor_institution_id: caller.institutionId,
    remote_address: caller.remoteAddress ?? null,
    via: caller.via,
    object_type: event.objectType ?? null,
    object_id: event.objectId ?? null,
    patient_id: event.patientId ?? null,
    details: JSON.stringify(event.details ?? {}),
  };
}

function normalise(row: Omit<AuditEventTable, 'seq'> & { seq: unknown }): AuditRow {
  return { ...row, seq: Number(row.seq) };
}

/** The key id a keying record names. */
export function keyIdOf(row: AuditRow): string | undefined {
  try {
    const id = (JSON.parse(row.details) as { keyId?: unknown }).keyId;
    return typeof id === 'string' ? id : undefined;
  } catch {
    return undefined;
  }
}

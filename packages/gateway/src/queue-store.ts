/**
 * The durable forwarding queue: gateway-owned tables in the cache's own SQLite database
 * (the cache's index, cache.ts), created here with `create table if not exists`. One row per cached
 * instance says whether the cloud has acknowledged that exact object (blob key = content
 * hash). See ../DESIGN.md for what is durable when.
 */
import { sql, type Kysely } from 'kysely';

export type QueueState = 'pending' | 'sent' | 'failed';

export interface QueueRow {
  seq: number;
  sop_instance_uid: string;
  study_instance_uid: string;
  series_instance_uid: string;
  blob_key: string;
  size: number;
  state: QueueState;
  attempts: number;
  enqueued_at: number;
  sent_at: number | null;
  last_error: string | null;
}

export interface QueueStats {
  queued: number;
  queuedBytes: number;
  failed: number;
  sent: number;
  studiesWaiting: number;
  oldestWaiting?: { sopInstanceUid: string; studyInstanceUid: string; enqueuedAt: string; waitingSeconds: number; attempts: number; lastError: string | null; nextAttemptAt: string | null };
}

export interface StudyBackoff {
  study_instance_uid: string;
  attempts: number;
  next_attempt_at: number;
  last_error: string;
  /** 1 when the cloud could not be reached (cleared as soon as it answers again) */
  transport: number;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyDb = Kysely<any>;

const MIGRATIONS: readonly string[] = [
  `create table if not exists gateway_queue (
     seq integer primary key autoincrement,
     sop_instance_uid text not null unique,
     study_instance_uid text not null,
     series_instance_uid text not null,
     blob_key text not null,
     size integer not null,
     state text not null default 'pending',
     attempts integer not null default 0,
     enqueued_at integer not null,
     sent_at integer,
     last_error text
   )`,
  `create index if not exists gateway_queue_pending on gateway_queue (state, study_instance_uid, seq)`,
  `create index if not exists gateway_queue_study on gateway_queue (study_instance_uid)`,
  `create table if not exists gateway_backoff (
     study_instance_uid text primary key,
     attempts integer not null,
     next_attempt_at integer not null,
     last_error text not null,
     transport integer not null default 0
   )`,
];

/** Upsert from the cache's index: new instances get a row, a replaced object (other blob) goes back to pending. */
const UPSERT_FROM_INSTANCES = (filter: ReturnType<typeof sql>, now: number) => sql`
  insert into gateway_queue (sop_instance_uid, study_instance_uid, series_instance_uid, blob_key, size, state, attempts, enqueued_at)
  select i.sop_instance_uid, i.study_instance_uid, i.series_instance_uid, i.blob_key, i.size, 'pending', 0, ${now}
  from instances i where ${filter}
  order by i.study_instance_uid, i.series_instance_uid, i.instance_number, i.sop_instance_uid
  on conflict (sop_instance_uid) do update set
    study_instance_uid = excluded.study_instance_uid, series_instance_uid = excluded.series_instance_uid,
    blob_key = excluded.blob_key, size = excluded.size, state = 'pending', attempts = 0,
    enqueued_at = excluded.enqueued_at, sent_at = null, last_error = null
  where gateway_queue.blob_key <> excluded.blob_key`;

export class GatewayQueue {
  private readonly db: AnyDb;
  constructor(db: AnyDb) {
    this.db = db;
  }

  /** The gateway's own migration step (never the server's migration set). */
  async migrate(): Promise<void> {
    for (const statement of MIGRATIONS) await sql.raw(statement).execute(this.db);
  }

  /** Called from the cache's onStored hook, after the instance's index commit. */
  async enqueueStored(sopInstanceUid: string, now = Date.now()): Promise<void> {
    await UPSERT_FROM_INSTANCES(sql`i.sop_instance_uid = ${sopInstanceUid}`, now).execute(this.db);
  }

  /**
   * Every cached instance without a queue row (a crash between the index commit and the
   * queue insert) or whose row names another object gets queued. Returns the rows touched.
   */
  async reconcile(now = Date.now()): Promise<number> {
    const result = await UPSERT_FROM_INSTANCES(sql`true`, now).execute(this.db);
    return Number(result.numAffectedRows ?? 0);
  }

  /** Studies with pending rows, not in backoff and not excluded, oldest first row first. */
  async readyStudies(exclude: readonly string[], limit: number, now = Date.now()): Promise<string[]> {
    const excluded = exclude.length > 0 ? sql`and q.study_instance_uid not in (${sql.join(exclude)})` : sql``;
    const rows = await sql<{ study_instance_uid: string }>`
      select q.study_instance_uid, min(q.seq) as first_seq from gateway_queue q
      left join gateway_backoff b on b.study_instance_uid = q.study_instance_uid
      where q.state = 'pending' and (b.next_attempt_at is null or b.next_attempt_at <= ${now}) ${excluded}
      group by q.study_instance_uid order by first_seq limit ${limit}`.execute(this.db);
    return rows.rows.map((r) => r.study_instance_uid);
  }

  /**
   * The next pending rows of a study in arrival order after `afterSeq` (the rows already in
   * flight), up to the byte and count limits (at least one).
   */
  async nextBatch(studyInstanceUid: string, maxBytes: number, maxInstances: number, afterSeq = 0): Promise<QueueRow[]> {
    const rows = await sql<QueueRow>`select * from gateway_queue where state = 'pending' and study_instance_uid = ${studyInstanceUid} and seq > ${afterSeq} order by seq limit ${maxInstances}`.execute(this.db);
    const batch: QueueRow[] = [];
    let bytes = 0;
    for (const row of rows.rows) {
      if (batch.length > 0 && bytes + Number(row.size) > maxBytes) break;
      batch.push(row);
      bytes += Number(row.size);
    }
    return batch;
  }

  /** The cloud acknowledged these objects (only if the row still names the same blob). */
  async markSent(rows: readonly Pick<QueueRow, 'seq' | 'blob_key'>[], now = Date.now()): Promise<void> {
    if (rows.length === 0) return;
    await this.db.transaction().execute(async (trx) => {
      for (const row of rows) await sql`update gateway_queue set state = 'sent', sent_at = ${now}, last_error = null where seq = ${row.seq} and blob_key = ${row.blob_key}`.execute(trx);
    });
  }

  /** The cloud refused this object for good (e.g. C111: another object under its UID). */
  async markFailed(row: Pick<QueueRow, 'seq' | 'blob_key'>, error: string): Promise<void> {
    await sql`update gateway_queue set state = 'failed', attempts = attempts + 1, last_error = ${error} where seq = ${row.seq} and blob_key = ${row.blob_key}`.execute(this.db);
  }

  async countAttempt(rows: readonly Pick<QueueRow, 'seq'>[], error: string): Promise<void> {
    if (rows.length === 0) return;
    await sql`update gateway_queue set attempts = attempts + 1, last_error = ${error} where seq in (${sql.join(rows.map((r) => r.seq))})`.execute(this.db);
  }

  /** Exponential backoff with full jitter for one study; returns the delay chosen. */
  async backOff(studyInstanceUid: string, error: string, transport: boolean, bounds: { minMs: number; maxMs: number }, now = Date.now(), random = Math.random): Promise<number> {
    const current = await sql<StudyBackoff>`select * from gateway_backoff where study_instance_uid = ${studyInstanceUid}`.execute(this.db);
    const attempts = (current.rows[0]?.attempts ?? 0) + 1;
    const delay = backoffDelay(attempts, bounds, random);
    await sql`insert into gateway_backoff (study_instance_uid, attempts, next_attempt_at, last_error, transport) values (${studyInstanceUid}, ${attempts}, ${now + delay}, ${error}, ${transport ? 1 : 0})
      on conflict (study_instance_uid) do update set attempts = excluded.attempts, next_attempt_at = excluded.next_attempt_at, last_error = excluded.last_error, transport = excluded.transport`.execute(this.db);
    return delay;
  }

  async clearBackoff(studyInstanceUid: string): Promise<void> {
    await sql`delete from gateway_backoff where study_instance_uid = ${studyInstanceUid}`.execute(this.db);
  }

  /** The cloud answers again: studies that waited only because it was unreachable go now. */
  async clearTransportBackoffs(): Promise<number> {
    const result = await sql`delete from gateway_backoff where transport = 1`.execute(this.db);
    return Number(result.numAffectedRows ?? 0);
  }

  /** When the earliest backed-off study with pending rows becomes ready. */
  async earliestRetryAt(): Promise<number | undefined> {
    const rows = await sql<{ at: number | null }>`select min(b.next_attempt_at) as at from gateway_backoff b where exists (select 1 from gateway_queue q where q.study_instance_uid = b.study_instance_uid and q.state = 'pending')`.execute(this.db);
    const at = rows.rows[0]?.at;
    return at === null || at === undefined ? undefined : Number(at);
  }

  /** Failed rows back to pending (an operator fixed the cause). */
  async retryFailed(): Promise<number> {
    const result = await sql`update gateway_queue set state = 'pending', attempts = 0, last_error = null where state = 'failed'`.execute(this.db);
    return Number(result.numAffectedRows ?? 0);
  }

  async stats(now = Date.now()): Promise<QueueStats> {
    const counts = await sql<{ state: QueueState; n: number; bytes: number }>`select state, count(*) as n, coalesce(sum(size), 0) as bytes from gateway_queue group by state`.execute(this.db);
    const by = (state: QueueState) => counts.rows.find((r) => r.state === state);
    const studies = await sql<{ n: number }>`select count(distinct study_instance_uid) as n from gateway_queue where state = 'pending'`.execute(this.db);
    const oldest = await sql<QueueRow & { next_attempt_at: number | null; backoff_error: string | null }>`
      select q.*, b.next_attempt_at, b.last_error as backoff_error from gateway_queue q left join gateway_backoff b on b.study_instance_uid = q.study_instance_uid
      where q.state = 'pending' order by q.seq limit 1`.execute(this.db);
    const o = oldest.rows[0];
    return {
      queued: Number(by('pending')?.n ?? 0),
      queuedBytes: Number(by('pending')?.bytes ?? 0),
      failed: Number(by('failed')?.n ?? 0),
      sent: Number(by('sent')?.n ?? 0),
      studiesWaiting: Number(studies.rows[0]?.n ?? 0),
      oldestWaiting: o
        ? {
            sopInstanceUid: o.sop_instance_uid,
            studyInstanceUid: o.study_instance_uid,
            enqueuedAt: new Date(Number(o.enqueued_at)).toISOString(),
            waitingSeconds: Math.max(0, Math.round((now - Number(o.enqueued_at)) / 1000)),
            attempts: Number(o.attempts),
            lastError: o.last_error ?? o.backoff_error,
            nextAttemptAt: o.next_attempt_at ? new Date(Number(o.next_attempt_at)).toISOString() : null,
          }
        : undefined,
    };
  }

  async failedRows(limit = 20): Promise<QueueRow[]> {
    return (await sql<QueueRow>`select * from gateway_queue where state = 'failed' order by seq limit ${limit}`.execute(this.db)).rows;
  }

  /** Per study: instances cached and instances the cloud acknowledged (for import progress). */
  async studyProgress(studyInstanceUids: readonly string[]): Promise<Map<string, { cached: number; sent: number; failed: number }>> {
    const out = new Map<string, { cached: number; sent: number; failed: number }>();
    if (studyInstanceUids.length === 0) return out;
    const rows = await sql<{ study_instance_uid: string; cached: number; sent: number; failed: number }>`
      select study_instance_uid, count(*) as cached, sum(case when state = 'sent' then 1 else 0 end) as sent, sum(case when state = 'failed' then 1 else 0 end) as failed
      from gateway_queue where study_instance_uid in (${sql.join(studyInstanceUids)}) group by study_instance_uid`.execute(this.db);
    for (const r of rows.rows) out.set(r.study_instance_uid, { cached: Number(r.cached), sent: Number(r.sent), failed: Number(r.failed) });
    return out;
  }
}

/** Full jitter: a uniform delay in [min, min(max, min·2^(attempts-1))]. */
export function backoffDelay(attempts: number, bounds: { minMs: number; maxMs: number }, random: () => number = Math.random): number {
  const ceiling = Math.min(bounds.maxMs, bounds.minMs * 2 ** Math.min(30, Math.max(0, attempts - 1)));
  return Math.round(bounds.minMs + random() * (ceiling - bounds.minMs));
}

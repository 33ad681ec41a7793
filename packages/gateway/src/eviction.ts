/**
 * Cache eviction: whole studies, and only studies whose every cached object the cloud has
 * acknowledged (a queue row in state 'sent' naming the same blob). First by age (the
 * study's last acknowledgement older than the limit), then oldest first while the cache
 * holds more bytes than allowed. The check and the index deletion are one transaction on
 * the cache's single SQLite connection, so an instance stored meanwhile either keeps its
 * study or arrives after it is gone (and is queued as new).
 */
import { sql, type Kysely } from 'kysely';
import type { Logger } from 'pino';

export interface EvictionLimits {
  /** 0 = not by age */
  maxAgeSeconds: number;
  /** 0 = not by size */
  maxBytes: number;
}

export interface EvictionResult {
  studies: number;
  instances: number;
  bytes: number;
}

interface StudyUsage {
  study_instance_uid: string;
  bytes: number;
  instances: number;
  last_sent: number | null;
  all_sent: number;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyDb = Kysely<any>;

const ALL_SENT = sql`min(case when q.state = 'sent' and q.blob_key = i.blob_key then 1 else 0 end)`;

export async function cacheUsage(db: AnyDb): Promise<{ studies: number; instances: number; bytes: number }> {
  const rows = await sql<{ studies: number; instances: number; bytes: number }>`select count(distinct study_instance_uid) as studies, count(*) as instances, coalesce(sum(size), 0) as bytes from instances`.execute(db);
  const r = rows.rows[0];
  return { studies: Number(r?.studies ?? 0), instances: Number(r?.instances ?? 0), bytes: Number(r?.bytes ?? 0) };
}

export async function evictForwardedStudies(deps: { db: AnyDb; deleteBlob(key: string): Promise<void>; logger: Logger }, limits: EvictionLimits, now = Date.now()): Promise<EvictionResult> {
  const result: EvictionResult = { studies: 0, instances: 0, bytes: 0 };
  if (limits.maxAgeSeconds <= 0 && limits.maxBytes <= 0) return result;
  const usage = await sql<StudyUsage>`
    select i.study_instance_uid, sum(i.size) as bytes, count(*) as instances, max(q.sent_at) as last_sent, ${ALL_SENT} as all_sent
    from instances i left join gateway_queue q on q.sop_instance_uid = i.sop_instance_uid
    group by i.study_instance_uid order by last_sent`.execute(deps.db);
  let total = usage.rows.reduce((n, r) => n + Number(r.bytes), 0);
  const cutoff = limits.maxAgeSeconds > 0 ? now - limits.maxAgeSeconds * 1000 : undefined;
  for (const study of usage.rows) {
    if (Number(study.all_sent) !== 1 || study.last_sent === null) continue;
    const tooOld = cutoff !== undefined && Number(study.last_sent) < cutoff;
    const tooBig = limits.maxBytes > 0 && total > limits.maxBytes;
    if (!tooOld && !tooBig) continue;
    const evicted = await evictStudy(deps, study.study_instance_uid);
    if (!evicted) continue;
    total -= evicted.bytes;
    result.studies += 1;
    result.instances += evicted.instances;
    result.bytes += evicted.bytes;
    deps.logger.info({ studyInstanceUid: study.study_instance_uid, instances: evicted.instances, bytes: evicted.bytes, reason: tooOld ? 'age' : 'disk' }, 'evicted a forwarded study from the cache');
  }
  return result;
}

/** Deletes one study from the cache if, inside the transaction, all of it is still acknowledged. */
async function evictStudy(deps: { db: AnyDb; deleteBlob(key: string): Promise<void> }, studyInstanceUid: string): Promise<{ instances: number; bytes: number } | undefined> {
  const blobs = await deps.db.transaction().execute(async (trx) => {
    const check = await sql<{ all_sent: number; n: number }>`
      select ${ALL_SENT} as all_sent, count(*) as n from instances i left join gateway_queue q on q.sop_instance_uid = i.sop_instance_uid
      where i.study_instance_uid = ${studyInstanceUid}`.execute(trx);
    if (Number(check.rows[0]?.all_sent ?? 0) !== 1 || Number(check.rows[0]?.n ?? 0) === 0) return undefined;
    const rows = await sql<{ blob_key: string; size: number }>`select blob_key, size from instances where study_instance_uid = ${studyInstanceUid}`.execute(trx);
    await sql`delete from gateway_queue where sop_instance_uid in (select sop_instance_uid from instances where study_instance_uid = ${studyInstanceUid})`.execute(trx);
    await sql`delete from instances where study_instance_uid = ${studyInstanceUid}`.execute(trx);
    await sql`delete from series where study_instance_uid = ${studyInstanceUid}`.execute(trx);
    await sql`delete from studies where study_instance_uid = ${studyInstanceUid}`.execute(trx);
    await sql`delete from gateway_backoff where study_instance_uid = ${studyInstanceUid}`.execute(trx);
    return rows.rows;
  });
  if (!blobs) return undefined;
  for (const blob of blobs) {
    // A resend of the same bytes in the meantime would be stored under the same key: keep it then.
    const again = await sql`select 1 from instances where blob_key = ${blob.blob_key}`.execute(deps.db);
    if (again.rows.length === 0) await deps.deleteBlob(blob.blob_key).catch(() => undefined);
  }
  return { instances: blobs.length, bytes: blobs.reduce((n, b) => n + Number(b.size), 0) };
}

import { auditHash, GENESIS_HASH, type AuditRow, type AuditSearch, type AuditStore, type NewAuditRow } from '../store/audit-store.ts';
import type { AuditEventInput, AuditRecorder } from './audit-event.ts';

export interface ChainVerification {
  ok: boolean;
  /** records checked */
  count: number;
  /** sequence number and hash of the last record: keep it elsewhere to detect a cut tail later */
  headSeq: number;
  headHash: string;
  /** the first record that does not fit the chain */
  brokenAt?: { seq: number; reason: string };
}

/**
 * The audit trail. Events are appended in batches: while one batch is being committed,
 * new events queue and go in the next, so a busy viewer costs one transaction per batch
 * rather than one per event. `record` resolves once its event is committed: whatever was
 * served was also recorded.
 */
export class AuditTrail implements AuditRecorder {
  private pending: Array<{ row: NewAuditRow; resolve: () => void; reject: (error: unknown) => void }> = [];
  private flushing: Promise<void> | undefined;

  constructor(private readonly store: AuditStore) {}

  record(event: AuditEventInput): Promise<void> {
    const row = toRow(event);
    return new Promise<void>((resolve, reject) => {
      this.pending.push({ row, resolve, reject });
      this.flushing ??= this.flush();
    });
  }

  /** Waits for every recorded event to be committed (shutdown). */
  async drain(): Promise<void> {
    while (this.flushing) await this.flushing;
  }

  search(filter: AuditSearch): Promise<AuditRow[]> {
    return this.store.search(filter);
  }

  /**
   * Walks the whole chain: every hash recomputed, every link and sequence number checked.
   * A chain is only as good as the place its head is kept: anyone who can write the database
   * can rewrite every later hash or cut the tail. So keep the printed head elsewhere (the
   * insurance bureau, a WORM store) and pass it back as `anchor`: the chain must still pass
   * through that record with that hash.
   */
  async verify(anchor?: { seq: number; hash: string }): Promise<ChainVerification> {
    let prevHash = GENESIS_HASH;
    let expectedSeq = 1;
    let count = 0;
    for (;;) {
      const rows = await this.store.readAfter(expectedSeq - 1, 1000);
      if (rows.length === 0) break;
      for (const row of rows) {
        const reason = row.seq !== expectedSeq ? `record ${expectedSeq} is missing` : row.prev_hash !== prevHash ? 'does not link to the record before it' : auditHash(row) !== row.hash ? 'its content does not match its hash' : undefined;
        if (reason) return { ok: false, count, headSeq: expectedSeq - 1, headHash: prevHash, brokenAt: { seq: row.seq, reason } };
        if (anchor && row.seq === anchor.seq && row.hash !== anchor.hash) return { ok: false, count, headSeq: expectedSeq - 1, headHash: prevHash, brokenAt: { seq: row.seq, reason: 'differs from the head recorded earlier' } };
        prevHash = row.hash;
        expectedSeq += 1;
        count += 1;
      }
    }
    if (anchor && anchor.seq > count) return { ok: false, count, headSeq: expectedSeq - 1, headHash: prevHash, brokenAt: { seq: anchor.seq, reason: 'the chain ends before the head recorded earlier: records were cut' } };
    return { ok: true, count, headSeq: expectedSeq - 1, headHash: prevHash };
  }

  private async flush(): Promise<void> {
    try {
      while (this.pending.length > 0) {
        const batch = this.pending.splice(0, 500);
        try {
          await this.store.append(batch.map((item) => item.row));
          for (const item of batch) item.resolve();
        } catch (error) {
          for (const item of batch) item.reject(error);
        }
      }
    } finally {
      this.flushing = undefined;
    }
  }
}

function toRow(event: AuditEventInput): NewAuditRow {
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

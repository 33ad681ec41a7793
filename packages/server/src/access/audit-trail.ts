import { auditHash, auditRowOf, CHAIN_KEYED_ACTION, GENESIS_HASH, keyedAuditHash, keyIdOf, type AuditRow, type AuditSearch, type AuditStore, type NewAuditRow } from '../store/audit-store.ts';
import type { AuditEventInput, AuditRecorder } from './audit-event.ts';

export interface ChainVerification {
  ok: boolean;
  /** events checked (the chain's own keying record is not one) */
  count: number;
  /** sequence number and hash of the last record: keep it elsewhere to detect a cut tail later */
  headSeq: number;
  headHash: string;
  /** `SEQ:HASH`, as `yunying audit verify` prints it and `--expect-head` takes it */
  head: string;
  /** the record that keys the chain (HMAC from it on); records before it are the unkeyed ones of before the upgrade */
  keyedFromSeq: number | null;
  /** the fingerprint of this process's audit key */
  keyId: string;
  /** the first record that does not fit the chain */
  brokenAt?: { seq: number; reason: string };
}

/** A head recorded earlier, to check that the chain still passes through it. */
export interface ChainAnchor {
  seq: number;
  hash: string;
}

/** `SEQ:HASH` → anchor; undefined if it is not one. */
export function parseChainHead(text: string): ChainAnchor | undefined {
  const match = /^(\d{1,15}):([0-9a-f]{64})$/.exec(text.trim());
  return match ? { seq: Number(match[1]), hash: match[2]! } : undefined;
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

  private readonly store: AuditStore;
  constructor(store: AuditStore) {
    this.store = store;
  }

  record(event: AuditEventInput): Promise<void> {
    const row = auditRowOf(event);
    return new Promise<void>((resolve, reject) => {
      this.pending.push({ row, resolve, reject });
      this.flushing ??= this.flush();
    });
  }

  /** Waits for every recorded event to be committed (shutdown). */
  async drain(): Promise<void> {
    while (this.flushing) await this.flushing;
    await this.store.drain();
  }

  /** Reads of the trail see every committed change's records: what is staged is chained first (AuditStore.settle). */
  async search(filter: AuditSearch): Promise<AuditRow[]> {
    await this.store.settle();
    return this.store.search(filter);
  }

  /** Keys the chain now if it is not yet (server start), so that a key mismatch stops the start rather than a request. */
  ensureKeyed(): Promise<void> {
    return this.store.ensureKeyed();
  }

  /** The last record as `SEQ:HASH`: cheap, for the daily log line. */
  async head(): Promise<string> {
    await this.store.settle();
    const head = await this.store.head();
    return `${head.seq}:${head.hash}`;
  }

  /**
   * Walks the whole chain: every hash recomputed, every link and sequence number checked.
   * A chain is only as good as the place its head is kept: anyone who can write the database
   * can rewrite every later hash or cut the tail. So keep the printed head elsewhere (the
   * insurance bureau, a WORM store) and pass it back as `anchor`: the chain must still pass
   * through that record with that hash.
   */
  async verify(anchor?: ChainAnchor): Promise<ChainVerification> {
    await this.store.settle();
    const { key, id: keyId } = this.store.key;
    let prevHash = GENESIS_HASH;
    let expectedSeq = 1;
    let count = 0;
    let keyedFromSeq: number | null = null;
    const result = (brokenAt?: { seq: number; reason: string }): ChainVerification => ({ ok: !brokenAt, count, headSeq: expectedSeq - 1, headHash: prevHash, head: `${expectedSeq - 1}:${prevHash}`, keyedFromSeq, keyId, ...(brokenAt ? { brokenAt } : {}) });
    for (;;) {
      const rows = await this.store.readAfter(expectedSeq - 1, 1000);
      if (rows.length === 0) break;
      for (const row of rows) {
        const keying = keyedFromSeq === null && row.action === CHAIN_KEYED_ACTION;
        // From the keying record on, only the keyed hash counts: a record edited and
        // re-hashed with plain SHA-256 (by someone without the key) does not verify.
        const keyed = keyedFromSeq !== null || keying;
        const reason =
          row.seq !== expectedSeq
            ? `record ${expectedSeq} is missing`
            : row.prev_hash !== prevHash
              ? 'does not link to the record before it'
              : (keyed ? keyedAuditHash(row, key) : auditHash(row)) !== row.hash
                ? keying && keyIdOf(row) !== keyId
                  ? `the chain was keyed with another audit key (key id ${keyIdOf(row) ?? 'unknown'}; this process has ${keyId})`
                  : 'its content does not match its hash'
                : undefined;
        if (reason) return result({ seq: row.seq, reason });
        if (anchor && row.seq === anchor.seq && row.hash !== anchor.hash) return result({ seq: row.seq, reason: 'differs from the head recorded earlier' });
        if (keying) keyedFromSeq = row.seq;
        prevHash = row.hash;
        expectedSeq += 1;
        if (!keying) count += 1;
      }
    }
    const lastSeq = expectedSeq - 1;
    if (anchor && anchor.seq > lastSeq) return result({ seq: anchor.seq, reason: `the chain ends at record ${lastSeq}, before the head recorded earlier: records were cut` });
    if (lastSeq > 0 && keyedFromSeq === null) return result({ seq: lastSeq, reason: 'no record keys the chain: it was written before the upgrade and never keyed, or rewritten by someone without the audit key' });
    return result();
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

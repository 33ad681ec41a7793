/**
 * How many DIMSE associations the SCP holds at once, and for whom (issue 12, finding 9):
 * 1,000 idle associations from one peer used to lock every modality out. A connection is
 * counted per remote address from accept to close; an association, once accepted, also per
 * calling AE title. An A-ASSOCIATE-RQ beyond a limit gets an A-ASSOCIATE-RJ "local limit
 * exceeded" (transient: try again later), so the modality's log says why.
 */

export interface AssociationLimits {
  /** connections to the DICOM port at once, all peers together */
  total: number;
  /** accepted associations of one calling AE title at once */
  perCallingAe: number;
  /** connections from one remote address at once (every unknown tool on a loopback port is 127.0.0.1) */
  perAddress: number;
}

/**
 * A modality opens one to a few associations at a time, a busy workstation a handful: 16 per
 * AE and 32 per address leave room for that and for the test suites' parallel tools, while
 * one peer can no longer take more than a small share of the total.
 */
export const DEFAULT_ASSOCIATION_LIMITS: AssociationLimits = { total: 512, perCallingAe: 16, perAddress: 32 };

export type LimitExceeded = 'total-limit' | 'address-limit' | 'calling-ae-limit';

export class AssociationCounter {
  private connections = 0;
  private readonly byAddress = new Map<string, number>();
  private readonly byCallingAe = new Map<string, number>();

  readonly limits: AssociationLimits;

  constructor(limits: AssociationLimits) {
    this.limits = limits;
  }

  /**
   * A new TCP connection. Up to twice a limit, connections are counted and wait for their
   * A-ASSOCIATE-RQ (which is then rejected, with a reason the peer can log); beyond that
   * the answer is false: drop the connection at once, without holding a socket for the
   * ARTIM period on behalf of a flood.
   */
  connectionOpened(address: string): boolean {
    const fromAddress = this.byAddress.get(address) ?? 0;
    if (fromAddress >= 2 * this.limits.perAddress || this.connections >= 2 * this.limits.total) return false;
    this.byAddress.set(address, fromAddress + 1);
    this.connections += 1;
    return true;
  }

  /** Only for a connection connectionOpened counted. */
  connectionClosed(address: string): void {
    this.connections -= 1;
    decrement(this.byAddress, address);
  }

  /**
   * An A-ASSOCIATE-RQ on a counted connection: which limit it exceeds, or undefined, and
   * then the calling AE holds one more association until associationEnded.
   */
  admit(callingAeTitle: string, address: string): LimitExceeded | undefined {
    if (this.connections > this.limits.total) return 'total-limit';
    if ((this.byAddress.get(address) ?? 0) > this.limits.perAddress) return 'address-limit';
    const ofAe = this.byCallingAe.get(callingAeTitle) ?? 0;
    if (ofAe >= this.limits.perCallingAe) return 'calling-ae-limit';
    this.byCallingAe.set(callingAeTitle, ofAe + 1);
    return undefined;
  }

  /** Only for an association admit let in. */
  associationEnded(callingAeTitle: string): void {
    decrement(this.byCallingAe, callingAeTitle);
  }
}

function decrement(counts: Map<string, number>, key: string): void {
  const n = (counts.get(key) ?? 0) - 1;
  if (n > 0) counts.set(key, n);
  else counts.delete(key);
}

/**
 * Refusals are audited, but a flood of them must not become a flood of audit transactions:
 * per key (reason, calling AE, address) one record a minute at most, the next one saying
 * how many went unrecorded in between; and all keys together at most maxPerInterval a
 * minute, since a flood can vary its AE title.
 */
export class RefusalAuditGate {
  private readonly seen = new Map<string, { lastRecordedAt: number; suppressed: number }>();
  private windowStartedAt = 0;
  private recordedInWindow = 0;

  private readonly intervalMs: number;
  private readonly maxPerInterval: number;
  private readonly maxKeys: number;

  constructor(intervalMs = 60_000, maxPerInterval = 600, maxKeys = 10_000) {
    this.intervalMs = intervalMs;
    this.maxPerInterval = maxPerInterval;
    this.maxKeys = maxKeys;
  }

  /** undefined: do not record this one; otherwise record it, with this many of its key suppressed before it. */
  pass(key: string, now = Date.now()): { suppressed: number } | undefined {
    const entry = this.seen.get(key);
    if (entry && now - entry.lastRecordedAt < this.intervalMs) {
      entry.suppressed += 1;
      return undefined;
    }
    if (now - this.windowStartedAt >= this.intervalMs) {
      this.windowStartedAt = now;
      this.recordedInWindow = 0;
    }
    if (this.recordedInWindow >= this.maxPerInterval) {
      if (entry) entry.suppressed += 1;
      return undefined;
    }
    this.recordedInWindow += 1;
    // a bounded memory: forgetting only lets a few more records through
    if (!entry && this.seen.size >= this.maxKeys) this.seen.clear();
    this.seen.set(key, { lastRecordedAt: now, suppressed: 0 });
    return { suppressed: entry?.suppressed ?? 0 };
  }
}

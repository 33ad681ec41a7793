/**
 * Views of a study recorded once per viewer, study and period (issue 16).
 *
 * A viewer opening a CT asks for hundreds of frames, rendered images and metadata of one
 * study in a minute; each was an audit record, i.e. a transaction and a durable WAL flush
 * before its answer (the frame's latency was mostly that flush). The cloud film already
 * records its image views once per link, series and fidelity every 10 minutes; this does
 * the same for `study.viewed` of the archive:
 *
 * - The first view of a study by a viewer (the same caller — kind, name, user, role,
 *   institution, interface, address) in a period is recorded, and committed, before it is
 *   answered, exactly as before. Views arriving while that record commits wait for it.
 * - Later views in the period are answered at once and counted. The count goes into the
 *   trail with the viewer's next record of that study (`details.viewsSincePreviousRecord`),
 *   or, at the latest, when the entry is evicted or the trail is drained at shutdown, as a
 *   record of its own (`details.coalescedViews`, with the first and last time).
 *
 * What this keeps: nothing is served to a viewer that the hash-chained trail does not already
 * show viewing that study within the period; the chain itself is unchanged (every record is
 * still chained and keyed). What it gives up: the individual instant and resource of the
 * covered views, and, if the process is killed (not stopped), the counts not yet written
 * (never the fact of the view). Retrievals and exports (the DICOM objects themselves) are
 * still one record per request.
 */
import type { AuditEventInput, AuditRecorder } from './audit-event.ts';
import type { Caller } from './caller.ts';

/** as the cloud film's image views (share/film-media.ts) */
export const VIEW_AUDIT_PERIOD_MS = 10 * 60_000;
const MAX_ENTRIES = 5000;

interface Entry {
  /** when the period's record was written */
  since: number;
  /** the record's commit; views of the period wait for it */
  committed: Promise<void>;
  /** views answered under that record, not recorded one by one */
  covered: number;
  firstCovered?: number;
  lastCovered?: number;
  /** what a record of the tally needs (set once the period's record is built) */
  event?: AuditEventInput;
}

/** The viewer and the study: every field of the caller the record keeps. */
function keyOf(caller: Caller, study: string): string {
  return JSON.stringify([caller.kind, caller.name, caller.userId ?? '', caller.role, caller.institutionId, caller.via, caller.remoteAddress ?? '', study]);
}

export class ViewAudit {
  private readonly entries = new Map<string, Entry>();
  private readonly audit: AuditRecorder;
  private readonly periodMs: number;
  private readonly now: () => number;

  constructor(audit: AuditRecorder, options: { periodMs?: number; now?: () => number } = {}) {
    this.audit = audit;
    this.periodMs = options.periodMs ?? VIEW_AUDIT_PERIOD_MS;
    this.now = options.now ?? Date.now;
  }

  /**
   * Records (or counts) a view of `study`; resolves once a committed record covers it.
   * `event` is built only when a record is written (it may need a look-up, e.g. the patient).
   */
  async view(caller: Caller, study: string, event: () => Promise<AuditEventInput>): Promise<void> {
    const key = keyOf(caller, study);
    const now = this.now();
    const open = this.entries.get(key);
    if (open && now - open.since < this.periodMs) {
      open.covered += 1;
      open.firstCovered ??= now;
      open.lastCovered = now;
      return open.committed;
    }
    const earlier = open?.covered ?? 0;
    this.entries.delete(key);
    this.sweep(now);
    const entry: Entry = { since: now, committed: Promise.resolve(), covered: 0 };
    // in the map before the record is built, so that views arriving meanwhile wait for this record
    entry.committed = (async () => {
      const base = await event();
      entry.event = base;
      await this.audit.record(earlier > 0 ? { ...base, details: { ...base.details, viewsSincePreviousRecord: earlier } } : base);
    })();
    this.entries.set(key, entry);
    try {
      await entry.committed;
    } catch (error) {
      // not recorded: nothing may be answered under it; the next view tries again
      if (this.entries.get(key) === entry) this.entries.delete(key);
      throw error;
    }
  }

  /** Entries are in the order their periods began: those whose period is over (or beyond the bound) leave, their counts written. */
  private sweep(now: number): void {
    for (const [key, entry] of this.entries) {
      if (this.entries.size <= MAX_ENTRIES && now - entry.since < this.periodMs) break;
      this.entries.delete(key);
      // the count must not be lost with the entry; nobody waits for it (a failure loses the count, never the fact of the views)
      this.recordTally(entry).catch(() => undefined);
    }
  }

  /** Writes the counts not yet in the trail (shutdown). */
  async drain(): Promise<void> {
    const open = [...this.entries.values()];
    this.entries.clear();
    await Promise.all(open.map((entry) => this.recordTally(entry)));
  }

  private async recordTally(entry: Entry): Promise<void> {
    await entry.committed.catch(() => undefined);
    const { event } = entry;
    if (entry.covered === 0 || !event) return;
    await this.audit.record({ ...event, details: { ...event.details, coalescedViews: entry.covered, from: new Date(entry.firstCovered!).toISOString(), to: new Date(entry.lastCovered!).toISOString() } });
  }
}

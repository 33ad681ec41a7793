import type { AuditRecorder } from '../access/audit-event.ts';
import { actsForEveryInstitution, hasPermission, requirePermission, type Caller } from '../access/caller.ts';
import { conflict, forbidden, notFound } from '../errors.ts';
import type { Notifier } from '../events/notifier.ts';
import { requireClaimer, requireReaderAt } from '../reports/report-policy.ts';
import type { ReadingRequestRow, ReadingStore, WorklistFilter } from '../store/reading-store.ts';
import type { TransactionPorts, UnitOfWork } from '../store/unit-of-work.ts';
import type { RequestService } from './request-service.ts';
import { requestView, type ReadingRequestView } from './request-view.ts';
import { RequestSteps } from './request-steps.ts';

export interface WorklistDependencies {
  store: ReadingStore;
  audit: AuditRecorder;
  notifier: Notifier;
  /** a claim, its event, its audit record and its feed row in one transaction */
  unitOfWork: UnitOfWork;
  /** a claim answers with the request's detail view */
  requests: Pick<RequestService, 'getRequest'>;
}

/**
 * The reading centre's worklist in SLA order, claims (by id or "next case"), releases, and
 * the radiologists' workload and turnaround. A claim is a conditional update: of readers
 * racing for one request exactly one wins.
 */
export class WorklistService {
  private readonly deps: WorklistDependencies;
  private readonly steps: RequestSteps;

  constructor(deps: WorklistDependencies) {
    this.deps = deps;
    this.steps = new RequestSteps(deps.store);
  }

  async worklist(caller: Caller, filter: Omit<WorklistFilter, 'readingInstitutionId' | 'requestingInstitutionIds'> & { requestingInstitutionId?: string }): Promise<ReadingRequestView[]> {
    const scoped: WorklistFilter = { ...filter, requestingInstitutionIds: filter.requestingInstitutionId ? [filter.requestingInstitutionId] : undefined };
    if (actsForEveryInstitution(caller)) {
      // the whole platform
    } else if (hasPermission(caller, 'request:claim')) scoped.readingInstitutionId = caller.institutionId;
    else if (hasPermission(caller, 'request:create')) scoped.requestingInstitutionIds = [caller.institutionId];
    else throw forbidden(`the role ${caller.role} has no worklist`);
    const rows = await this.deps.store.worklist(scoped);
    // The worklist shows patients' names: a view of patient data like a query. A search is
    // recorded as one, never its text (a patient's name or ID is not for the audit details).
    await this.deps.audit.record({ action: 'study.queried', caller, details: { worklist: true, statuses: filter.statuses, ...(filter.search?.trim() ? { search: true } : {}), results: rows.length, studies: rows.slice(0, 100).map((row) => row.study_instance_uid) } });
    const now = Date.now();
    return rows.map((row) => requestView(row, now));
  }

  async claim(caller: Caller, requestId: string): Promise<ReadingRequestView> {
    const row = await this.steps.visibleRequest(caller, requestId);
    requireReaderAt(caller, row, 'request:claim');
    const at = new Date().toISOString();
    const won = await this.deps.unitOfWork.run(async (tx) => {
      if (!(await tx.reading.transition({ id: row.id, from: ['pending'], to: 'claimed', set: { claimed_by: caller.name, claimed_at: at }, actor: caller.name }, at))) return false;
      recordClaim(tx, caller, row, { requestId: row.id });
      return true;
    });
    if (!won) {
      const current = await this.deps.store.findRequest(row.id);
      if (current?.status === 'claimed') throw conflict('ALREADY_CLAIMED', `the request is being read by ${current.claimed_by}`);
      throw await this.steps.illegal(row.id, 'claim');
    }
    return this.announceClaim(caller, row);
  }

  /**
   * "Next case": claims the first pending request of the caller's centre in worklist order.
   * Radiologists pressing it together each get a different request instead of all racing for
   * the top row.
   */
  async claimNext(caller: Caller): Promise<ReadingRequestView> {
    requirePermission(caller, 'request:claim');
    if (this.deps.store.supportsSkipLocked) {
      const claimed = await this.deps.unitOfWork.run(async (tx) => {
        const id = await tx.reading.claimFirstPending(caller.institutionId, caller.name, new Date().toISOString());
        const row = id === undefined ? undefined : await tx.reading.findRequest(id);
        if (row) recordClaim(tx, caller, row, { requestId: row.id, next: true });
        return row;
      });
      if (!claimed) throw notFound('pending reading request');
      return this.announceClaim(caller, claimed);
    }
    // SQLite has one writer: try the first rows in turn, each a conditional update.
    for (let round = 0; round < 5; round++) {
      const candidates = await this.deps.store.nextPending(caller.institutionId, 10);
      if (candidates.length === 0) break;
      // Spread simultaneous callers over the first rows rather than all trying the first.
      const start = Math.floor(Math.random() * Math.min(candidates.length, 3));
      for (const id of [...candidates.slice(start), ...candidates.slice(0, start)]) {
        const at = new Date().toISOString();
        const claimed = await this.deps.unitOfWork.run(async (tx) => {
          if (!(await tx.reading.transition({ id, from: ['pending'], to: 'claimed', set: { claimed_by: caller.name, claimed_at: at }, actor: caller.name, details: { next: true } }, at))) return undefined;
          const row = (await tx.reading.findRequest(id))!;
          recordClaim(tx, caller, row, { requestId: id, next: true });
          return row;
        });
        if (claimed) return this.announceClaim(caller, claimed);
      }
    }
    throw notFound('pending reading request');
  }

  /** A won claim (by id or "next case"), committed with its record: on both institutions' screens. */
  private async announceClaim(caller: Caller, row: ReadingRequestRow): Promise<ReadingRequestView> {
    await this.deps.notifier.publish([row.reading_institution_id, row.requesting_institution_id], 'reading-request.claimed', { requestId: row.id, claimedBy: caller.name });
    return this.deps.requests.getRequest(caller, row.id);
  }

  async release(caller: Caller, requestId: string): Promise<ReadingRequestView> {
    const row = await this.steps.visibleRequest(caller, requestId);
    requireClaimer(caller, row, 'request:claim');
    await this.steps.move(caller, row, ['claimed'], 'pending', { claimed_by: null, claimed_at: null }, {}, 'release', { claimedBy: caller.name });
    await this.deps.notifier.publish([row.reading_institution_id], 'reading-request.released', { requestId: row.id });
    return this.deps.requests.getRequest(caller, requestId);
  }

  // Turnaround and workload

  async radiologistWorkload(caller: Caller, from: string, to: string): Promise<Array<{ radiologist: string; signed: number; positive: number; medianTurnaroundMinutes: number | null; meanTurnaroundMinutes: number | null }>> {
    requirePermission(caller, 'workload:read');
    const rows = await this.deps.store.signedInPeriod(actsForEveryInstitution(caller) ? undefined : caller.institutionId, from, to);
    const byAuthor = new Map<string, { minutes: number[]; positive: number; signed: number }>();
    for (const row of rows) {
      const entry = byAuthor.get(row.author) ?? { minutes: [], positive: 0, signed: 0 };
      entry.signed += 1;
      if (row.positive === 1) entry.positive += 1;
      if (row.images_complete_at) entry.minutes.push((Date.parse(row.signed_at) - Date.parse(row.images_complete_at)) / 60_000);
      byAuthor.set(row.author, entry);
    }
    return [...byAuthor].map(([radiologist, entry]) => ({ radiologist, signed: entry.signed, positive: entry.positive, medianTurnaroundMinutes: median(entry.minutes), meanTurnaroundMinutes: entry.minutes.length ? round1(entry.minutes.reduce((a, b) => a + b, 0) / entry.minutes.length) : null })).sort((a, b) => b.signed - a.signed);
  }
}

/** A won claim's audit record and feed row, in the claim's transaction. */
function recordClaim(tx: TransactionPorts, caller: Caller, row: ReadingRequestRow, details: Record<string, unknown>): void {
  tx.audit.record({ action: 'reading-request.claimed', caller, objectType: 'study', objectId: row.study_instance_uid, details });
  tx.feed.append({ type: 'request.claimed', resourceType: 'request', resourceId: row.id, institutionId: row.reading_institution_id, payload: { studyInstanceUid: row.study_instance_uid, claimedBy: caller.name, ...(details.next ? { next: true } : {}) } });
}

function median(values: number[]): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return round1(sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2);
}

const round1 = (value: number): number => Math.round(value * 10) / 10;

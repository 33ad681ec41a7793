import { actsForEveryInstitution, hasPermission, type Caller } from '../access/caller.ts';
import { conflict, forbidden, notFound, type YunyingError } from '../errors.ts';
import { mayView } from '../reports/report-policy.ts';
import type { ReadingRequestRow, ReadingStore } from '../store/reading-store.ts';

export const REQUEST_STATUSES = ['awaiting-images', 'pending', 'claimed', 'submitted', 'signed', 'retake-requested', 'cancelled'] as const;
export type RequestStatus = (typeof REQUEST_STATUSES)[number];

/**
 * The steps the request and worklist services share: finding a request the caller may see,
 * and moving it by a conditional update that refuses an illegal step with a clear error.
 */
export class RequestSteps {
  private readonly store: Pick<ReadingStore, 'findRequest' | 'transition'>;

  constructor(store: Pick<ReadingStore, 'findRequest' | 'transition'>) {
    this.store = store;
  }

  async visibleRequest(caller: Caller, requestId: string): Promise<ReadingRequestRow> {
    const row = await this.store.findRequest(requestId);
    // Another institution's request answers like one that does not exist.
    if (!row || !mayView(caller, row)) throw notFound(`reading request ${requestId}`);
    return row;
  }

  async move(caller: Caller, row: ReadingRequestRow, from: readonly RequestStatus[], to: RequestStatus, set: Partial<ReadingRequestRow>, details: Record<string, unknown>, what: string, guard?: { claimedBy: string }): Promise<void> {
    if (guard && row.claimed_by !== guard.claimedBy) throw forbidden('only the radiologist who claimed the request may do this');
    const moved = await this.store.transition({ id: row.id, from, to, set, actor: caller.name, details }, new Date().toISOString());
    if (!moved) throw await this.illegal(row.id, what);
  }

  async illegal(requestId: string, what: string): Promise<YunyingError> {
    const current = await this.store.findRequest(requestId);
    return conflict('ILLEGAL_TRANSITION', `cannot ${what}: the request is ${current?.status ?? 'gone'}`);
  }
}

export function requireRequesterOf(caller: Caller, row: ReadingRequestRow): void {
  if (!hasPermission(caller, 'request:create') || (!actsForEveryInstitution(caller) && caller.institutionId !== row.requesting_institution_id)) throw forbidden('only the requesting institution may do this');
}

/**
 * The durable change feed's vocabulary (issue 13, item 3; Orthanc's Changes table is the
 * model). A change is a fact that committed: it is appended in the same transaction as the
 * write it describes (store/change-feed-store.ts appendChange), and consumers
 * (feed/change-feed.ts) read the table from their own cursor, at least once.
 */

/**
 * Every kind of change. A consumer names the types it handles; a new type is added here
 * (a string union, not an enum: Node's type stripping runs these files as they are).
 */
export type ChangeType =
  // archive
  | 'instance.stored'
  | 'study.deleted'
  | 'study.corrected'
  // reading requests
  | 'request.created'
  | 'request.claimed'
  | 'request.released'
  | 'request.submitted'
  | 'request.cancelled'
  | 'request.retake-requested'
  // reports
  | 'report.signed'
  | 'report.returned'
  | 'report.addendum'
  | 'report.delivered'
  // cloud film
  | 'share.issued'
  | 'share.revoked'
  // access
  | 'grant.created'
  | 'grant.revoked'
  // critical findings (危急值, critical-findings/)
  | 'critical-finding.flagged'
  | 'critical-finding.acknowledged'
  | 'critical-finding.escalated'
  // orders and the modality worklist (orders/)
  | 'order.created'
  | 'order.cancelled'
  | 'order.step-changed'
  | 'order.linked'
  // consultations (consult/): every state a consultation enters
  | 'consultation.requested'
  | 'consultation.accepted'
  | 'consultation.in-progress'
  | 'consultation.answered'
  | 'consultation.closed'
  | 'consultation.cancelled'
  | 'consultation.declined'
  // two-way referral and MDT sessions (consult/)
  | 'referral.created'
  | 'referral.accepted'
  | 'referral.refused'
  | 'referral.completed'
  | 'referral.cancelled'
  | 'mdt.scheduled'
  | 'mdt.attended'
  | 'mdt.recorded'
  /**
   * A live notification for the screens of one institution (events/notification-bus.ts):
   * payload `{ type, payload }`, the notification's own type (e.g. `report.signed`) and body.
   */
  | 'notification.published';

export const CHANGE_TYPES: readonly ChangeType[] = [
  'instance.stored',
  'study.deleted',
  'study.corrected',
  'request.created',
  'request.claimed',
  'request.released',
  'request.submitted',
  'request.cancelled',
  'request.retake-requested',
  'report.signed',
  'report.returned',
  'report.addendum',
  'report.delivered',
  'share.issued',
  'share.revoked',
  'grant.created',
  'grant.revoked',
  'critical-finding.flagged',
  'critical-finding.acknowledged',
  'critical-finding.escalated',
  'order.created',
  'order.cancelled',
  'order.step-changed',
  'order.linked',
  'consultation.requested',
  'consultation.accepted',
  'consultation.in-progress',
  'consultation.answered',
  'consultation.closed',
  'consultation.cancelled',
  'consultation.declined',
  'referral.created',
  'referral.accepted',
  'referral.refused',
  'referral.completed',
  'referral.cancelled',
  'mdt.scheduled',
  'mdt.attended',
  'mdt.recorded',
  'notification.published',
];

/** A change as its writer appends it. */
export interface NewChange {
  type: ChangeType;
  /** what changed, e.g. 'study', 'instance', 'request', 'report', 'share-link' */
  resourceType: string;
  /** its identifier (a UID, a request id, …) */
  resourceId: string;
  /** the institution the change belongs to, null for platform-wide ones */
  institutionId?: string | null;
  /** what a consumer needs beyond the resource (JSON; no secrets: consumers log it) */
  payload?: Record<string, unknown>;
}

/** A change as read back from the feed. */
export interface FeedChange extends Required<NewChange> {
  /** position in the feed: strictly increasing in append order (not always in commit order, see change-feed.ts) */
  seq: number;
  /** ISO 8601, the appending process's clock */
  createdAt: string;
}

/**
 * One consumer group. The feed runner hands the group's changes to `handle` one at a time,
 * in seq order, in one server process at a time (a lease), at least once: a change whose
 * handling threw is retried with backoff, and after the last attempt set aside as a dead
 * letter (shown on /metrics), so the group goes on. Handlers must therefore be idempotent.
 */
export interface FeedConsumer {
  /** the cursor's name, stable across releases ('routing', 'report-delivery', …) */
  group: string;
  /** the types to receive; all when absent */
  types?: readonly ChangeType[];
  handle(change: FeedChange): Promise<void>;
  /**
   * Optional: the changes of one read at once (several, in seq order), so that a consumer can
   * write what they cause in one transaction instead of one per change (routing: one commit
   * and one disk flush for the studies of a read, not per study). Handled means all of them;
   * a throw hands each to `handle` alone afterwards, so retries and dead letters stay per change.
   */
  handleBatch?(changes: readonly FeedChange[]): Promise<void>;
  /** this group's retry policy instead of the runner's (attempts before a dead letter, pause after n failed) */
  retry?: { maxAttempts?: number; delayMs?: (failedAttempts: number) => number };
}

/**
 * Thrown by a handler for "not yet" (e.g. another process is still on it): the change is
 * handed over again after `delayMs`, without counting as a failed attempt or being logged.
 */
export class RetryLater extends Error {
  readonly delayMs: number;

  constructor(delayMs: number, reason = 'not yet') {
    super(reason);
    this.name = 'RetryLater';
    this.delayMs = Math.max(0, delayMs);
  }
}

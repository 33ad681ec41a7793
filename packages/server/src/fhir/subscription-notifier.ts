/**
 * The rest-hook notifications of Subscriptions (subscription.ts) as a change-feed consumer:
 * for each report.signed, every listening subscription whose account may see the report gets
 * a notification Bundle POSTed to its endpoint with its headers. Delivery is at least once:
 * a failed POST marks the subscription `error` (with the reason) and makes the change fail,
 * so the feed hands it over again with its backoff; endpoints that already took it are not
 * sent it again (the delivery rows), and the next success puts the subscription back to
 * `active`. After the last attempt the change is a dead letter on /metrics.
 */
import type { AuditRecorder } from '../access/audit-event.ts';
import type { Caller } from '../access/caller.ts';
import type { FeedChange, FeedConsumer } from '../feed/change.ts';
import { toDiagnosticReport } from './diagnostic-report.ts';
import type { DiagnosticReportSource } from './report-source.ts';
import { endpointOrigin } from './subscription-routes.ts';
import { headerRecord, NOTIFICATION_TIMEOUT_SECONDS, notificationBundle, REPORT_SIGNED_TOPIC } from './subscription.ts';
import type { FhirSubscriptionStore, SubscriptionRow } from './subscription-store.ts';
import { FHIR_JSON } from './fhir-context.ts';
import { randomUUID } from 'node:crypto';

export interface SubscriptionNotifierOptions {
  store: FhirSubscriptionStore;
  reports: DiagnosticReportSource;
  /** the subscription's owner as a caller now (undefined: the account is gone or disabled) */
  callerOf(username: string): Promise<Caller | undefined>;
  audit: AuditRecorder;
  /** the server's external origin: the notification's references are absolute */
  publicBaseUrl: string;
  timeZoneOffset?: string;
  /** attempts before the change is a dead letter [8: about 1 s, 4 s, 16 s, 1 min, 4 min, then 10 min apart] */
  maxAttempts?: number;
  fetch?: typeof fetch;
}

export const SUBSCRIPTION_GROUP = 'fhir-subscriptions';

export function subscriptionNotifier(options: SubscriptionNotifierOptions): FeedConsumer & { startAt: 'latest' } {
  const base = options.publicBaseUrl.replace(/\/+$/, '');
  const post = options.fetch ?? fetch;

  async function notify(row: SubscriptionRow, change: FeedChange): Promise<string | undefined> {
    if (await options.store.isDelivered(row.id, change.seq)) return undefined; // a change handed over again
    const owner = await options.callerOf(row.owner);
    if (!owner) {
      await options.store.setStatus(row.id, 'off', `the account ${row.owner} no longer exists or is disabled`, new Date().toISOString());
      return undefined;
    }
    // What the owner's institution may see, now: another institution's report is never told of.
    // Reading it records the disclosure (study.viewed through fhir) under the owner's name.
    const document = await options.reports.read({ ...owner, via: 'fhir' }, change.resourceId);
    if (!document) return undefined;
    const now = new Date().toISOString();
    const delivery = await options.store.delivery(row.id, change.seq, now);
    if (!delivery || delivery.status === 'delivered') return undefined;
    const resource = toDiagnosticReport(document, base, { timeZoneOffset: options.timeZoneOffset });
    const bundle = notificationBundle(row, `${base}/fhir/r4/Subscription/${row.id}`, {
      eventNumber: delivery.event_number,
      timestamp: change.createdAt,
      focusUrl: `${base}/fhir/r4/DiagnosticReport/${document.reportId}`,
      resource,
    }, randomUUID());
    const error = await send(row, bundle);
    await options.store.recordAttempt(row.id, change.seq, { delivered: !error, error }, new Date().toISOString());
    await options.store.setStatus(row.id, error ? 'error' : 'active', error ?? null, new Date().toISOString());
    await options.audit.record({
      action: 'subscription.notified', outcome: error ? 'failure' : 'success', caller: { ...owner, via: 'fhir' }, objectType: 'study', objectId: document.studyInstanceUid, patientId: document.patient.id,
      details: { subscriptionId: row.id, reportId: document.reportId, event: delivery.event_number, payload: row.payload_content, endpoint: endpointOrigin(row.endpoint), ...(error ? { error } : {}) },
    });
    return error;
  }

  /** POSTs the Bundle; the error text, or undefined on a 2xx. */
  async function send(row: SubscriptionRow, bundle: unknown): Promise<string | undefined> {
    try {
      const response = await post(row.endpoint, {
        method: 'POST',
        headers: { ...headerRecord(JSON.parse(row.headers) as string[]), 'content-type': `${FHIR_JSON}; charset=utf-8` },
        body: JSON.stringify(bundle),
        signal: AbortSignal.timeout(NOTIFICATION_TIMEOUT_SECONDS * 1000),
        redirect: 'error',
      });
      await response.arrayBuffer().catch(() => undefined);
      return response.ok ? undefined : `the endpoint answered ${response.status}`;
    } catch (error) {
      return `the endpoint could not be reached: ${(error as Error).message}`;
    }
  }

  return {
    group: SUBSCRIPTION_GROUP,
    types: ['report.signed'],
    // a platform that adds the module later does not notify its history
    startAt: 'latest',
    retry: { maxAttempts: options.maxAttempts ?? 8 },
    async handle(change) {
      const signedAt = Date.parse(change.createdAt);
      const listening = (await options.store.listening(REPORT_SIGNED_TOPIC))
        // a subscription hears of what happened after it was made, and until its end
        .filter((row) => Date.parse(row.created_at) <= signedAt && (!row.end_at || Date.parse(row.end_at) > signedAt));
      const failures: string[] = [];
      for (const row of listening) {
        const error = await notify(row, change);
        if (error) failures.push(`Subscription/${row.id}: ${error}`);
      }
      if (failures.length > 0) throw new Error(`notification not delivered: ${failures.join('; ')}`);
    },
  };
}

/**
 * Subscription in the R4 Subscriptions Backport style (HL7 FHIR IG
 * hl7.fhir.uv.subscriptions-backport, R4): topic-based (Subscription.criteria is the topic's
 * canonical), channel rest-hook, payload content (empty, id-only or full-resource) in the
 * backport-payload-content extension of channel.payload. One topic is served: a report was
 * signed (REPORT_SIGNED_TOPIC), focus DiagnosticReport, so a hospital's HIS is told when a
 * report for its patient is ready. Notifications are history Bundles whose first entry is the
 * subscription status (Parameters, backport-subscription-status-r4).
 */
import { badRequest, YunyingError } from '../errors.ts';
import type { Resource } from './bundle.ts';
import type { SubscriptionRow } from './subscription-store.ts';

export const BACKPORT = 'http://hl7.org/fhir/uv/subscriptions-backport';
export const BACKPORT_SUBSCRIPTION_PROFILE = `${BACKPORT}/StructureDefinition/backport-subscription`;
export const PAYLOAD_CONTENT_EXTENSION = `${BACKPORT}/StructureDefinition/backport-payload-content`;
const FILTER_CRITERIA_EXTENSION = `${BACKPORT}/StructureDefinition/backport-filter-criteria`;
const TIMEOUT_EXTENSION = `${BACKPORT}/StructureDefinition/backport-timeout`;
const STATUS_PROFILE = `${BACKPORT}/StructureDefinition/backport-subscription-status-r4`;
export const TOPIC_CANONICAL_EXTENSION = `${BACKPORT}/StructureDefinition/capabilitystatement-subscriptiontopic-canonical`;

/** The topic: a radiology report was signed (报告签发). */
export const REPORT_SIGNED_TOPIC = 'urn:yunying:fhir:SubscriptionTopic:report-signed';
export const TOPICS = [REPORT_SIGNED_TOPIC] as const;

export type PayloadContent = 'empty' | 'id-only' | 'full-resource';
const PAYLOAD_CONTENTS: readonly PayloadContent[] = ['empty', 'id-only', 'full-resource'];

/** Headers a client may not set: they belong to the HTTP exchange itself. */
const RESERVED_HEADERS = new Set(['host', 'content-length', 'content-type', 'transfer-encoding', 'connection', 'expect', 'upgrade', 'te', 'trailer', 'keep-alive']);
const MAX_HEADERS = 10;

export interface SubscriptionInput {
  topic: string;
  reason: string;
  endpoint: string;
  payloadContent: PayloadContent;
  headers: string[];
  end?: string;
}

interface Extension {
  url?: unknown;
  valueCode?: unknown;
  valueString?: unknown;
}

const invalid = (message: string) => badRequest('INVALID_RESOURCE', `Subscription: ${message}`);

function extensionsOf(element: unknown): Extension[] {
  const list = (element as { extension?: unknown } | undefined)?.extension;
  return Array.isArray(list) ? (list as Extension[]) : [];
}

/** A Subscription as a client POSTs it → what is stored; 400 naming what is wrong. */
export function parseSubscription(body: Record<string, unknown>): SubscriptionInput {
  if (body.resourceType !== 'Subscription') throw invalid(`resourceType is ${JSON.stringify(body.resourceType)}, not "Subscription"`);
  const topic = body.criteria;
  if (typeof topic !== 'string' || !(TOPICS as readonly string[]).includes(topic)) throw invalid(`criteria must be a topic this server has: ${TOPICS.join(', ')}`);
  if (extensionsOf(body._criteria).some((e) => e.url === FILTER_CRITERIA_EXTENSION)) {
    throw invalid('filter criteria are not supported: a subscription is told of every report its institution may see');
  }
  const channel = body.channel as Record<string, unknown> | undefined;
  if (!channel || typeof channel !== 'object') throw invalid('channel is required');
  const type = (channel.type as { code?: unknown } | string | undefined);
  const typeCode = typeof type === 'string' ? type : type?.code;
  if (typeCode !== 'rest-hook') throw invalid('channel.type must be rest-hook');
  const endpoint = parseEndpoint(channel.endpoint);
  if (channel.payload !== undefined && channel.payload !== 'application/fhir+json' && channel.payload !== 'application/json') {
    throw invalid('channel.payload must be application/fhir+json');
  }
  const content = extensionsOf(channel._payload).find((e) => e.url === PAYLOAD_CONTENT_EXTENSION)?.valueCode ?? 'id-only';
  if (!PAYLOAD_CONTENTS.includes(content as PayloadContent)) throw invalid(`payload content must be one of ${PAYLOAD_CONTENTS.join(', ')}`);
  const headers = parseHeaders(channel.header);
  const reason = typeof body.reason === 'string' ? body.reason.slice(0, 500) : '';
  if (!reason) throw invalid('reason is required');
  let end: string | undefined;
  if (body.end !== undefined) {
    if (typeof body.end !== 'string' || Number.isNaN(Date.parse(body.end))) throw invalid('end must be an instant');
    end = new Date(body.end).toISOString();
  }
  return { topic, reason, endpoint, payloadContent: content as PayloadContent, headers, ...(end ? { end } : {}) };
}

function parseEndpoint(value: unknown): string {
  if (typeof value !== 'string') throw invalid('channel.endpoint is required');
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new YunyingError('SUBSCRIPTION_ENDPOINT_REFUSED', 'channel.endpoint is not a URL');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new YunyingError('SUBSCRIPTION_ENDPOINT_REFUSED', 'channel.endpoint must be an http or https URL');
  if (url.username || url.password) throw new YunyingError('SUBSCRIPTION_ENDPOINT_REFUSED', 'credentials go in channel.header, not in the endpoint URL');
  return url.toString();
}

function parseHeaders(value: unknown): string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value) || value.length > MAX_HEADERS) throw invalid(`channel.header must be a list of at most ${MAX_HEADERS} "Name: value" lines`);
  return value.map((line) => {
    const match = typeof line === 'string' ? /^([!#$%&'*+.^_`|~0-9A-Za-z-]{1,64}):[ \t]*([^\r\n]{0,4096})$/.exec(line) : null;
    if (!match) throw invalid('each channel.header entry must be one "Name: value" line');
    if (RESERVED_HEADERS.has(match[1]!.toLowerCase())) throw invalid(`channel.header may not set ${match[1]}`);
    return `${match[1]}: ${match[2]}`;
  });
}

/** The header lines as name → value for fetch. */
export function headerRecord(lines: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of lines) {
    const at = line.indexOf(':');
    out[line.slice(0, at).trim()] = line.slice(at + 1).trim();
  }
  return out;
}

/**
 * The stored subscription as a resource. Header values are not given back (they usually are
 * the HIS's credential, and whoever reads the subscription later needs only to know they are set).
 */
export function toSubscription(row: SubscriptionRow): Resource & Record<string, unknown> {
  const headers = (JSON.parse(row.headers) as string[]).map((line) => `${line.slice(0, line.indexOf(':'))}: [redacted]`);
  return {
    resourceType: 'Subscription',
    id: row.id,
    meta: { lastUpdated: row.updated_at, profile: [BACKPORT_SUBSCRIPTION_PROFILE] },
    status: row.status,
    ...(row.end_at ? { end: row.end_at } : {}),
    reason: row.reason,
    criteria: row.topic,
    ...(row.last_error ? { error: row.last_error } : {}),
    channel: {
      extension: [{ url: TIMEOUT_EXTENSION, valueUnsignedInt: NOTIFICATION_TIMEOUT_SECONDS }],
      type: 'rest-hook',
      endpoint: row.endpoint,
      payload: 'application/fhir+json',
      _payload: { extension: [{ url: PAYLOAD_CONTENT_EXTENSION, valueCode: row.payload_content }] },
      ...(headers.length ? { header: headers } : {}),
    },
  };
}

/** How long the endpoint has to answer a notification. */
export const NOTIFICATION_TIMEOUT_SECONDS = 10;

export interface NotificationEvent {
  eventNumber: number;
  timestamp: string;
  /** absolute URL of the DiagnosticReport */
  focusUrl: string;
  /** the DiagnosticReport, for full-resource */
  resource?: Resource;
}

/** The event-notification Bundle (backport, R4: history Bundle, status Parameters first). */
export function notificationBundle(row: SubscriptionRow, subscriptionUrl: string, event: NotificationEvent, bundleId: string): Record<string, unknown> {
  const content = row.payload_content as PayloadContent;
  const notificationEvent = {
    name: 'notification-event',
    part: [
      { name: 'event-number', valueString: String(event.eventNumber) },
      { name: 'timestamp', valueInstant: event.timestamp },
      ...(content === 'empty' ? [] : [{ name: 'focus', valueReference: { reference: event.focusUrl } }]),
    ],
  };
  const status = {
    resourceType: 'Parameters',
    id: `${bundleId}-status`,
    meta: { profile: [STATUS_PROFILE] },
    parameter: [
      { name: 'subscription', valueReference: { reference: subscriptionUrl } },
      { name: 'topic', valueCanonical: row.topic },
      { name: 'status', valueCode: 'active' },
      { name: 'type', valueCode: 'event-notification' },
      { name: 'events-since-subscription-start', valueString: String(event.eventNumber) },
      notificationEvent,
    ],
  };
  const entry: Array<Record<string, unknown>> = [{
    fullUrl: `urn:uuid:${bundleId}`,
    resource: status,
    request: { method: 'GET', url: `${subscriptionUrl}/$status` },
    response: { status: '200' },
  }];
  // id-only: the focus entry without its resource (the HIS reads it with its own credentials)
  if (content !== 'empty') {
    entry.push({ fullUrl: event.focusUrl, ...(content === 'full-resource' && event.resource ? { resource: event.resource } : {}), request: { method: 'POST', url: 'DiagnosticReport' }, response: { status: '201' } });
  }
  return { resourceType: 'Bundle', id: bundleId, type: 'history', timestamp: event.timestamp, entry };
}

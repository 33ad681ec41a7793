/**
 * GET /api/v1/events over a real socket: a Fastify app with the platform's real access
 * service (users, tokens, scope) and these routes alone, read with fetch like a browser's
 * EventSource. Notifications are published through a second bus on the same database,
 * standing for another server process.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter, once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { AccessService } from '../access/access-service.ts';
import { systemCaller } from '../access/caller.ts';
import { createHttpCallerResolver } from '../access/http-caller.ts';
import { openArchive, type Archive } from '../archive/archive.ts';
import { YunyingError } from '../errors.ts';
import { NotificationBus } from '../events/notification-bus.ts';
import { NotificationStore } from '../store/notification-store.ts';
import { registerEventRoutes } from './event-routes.ts';

const PASSWORD = 'Correct-Horse-9';
const DEADLINE_MS = 10_000;

interface SseMessage {
  id?: string;
  event?: string;
  data?: string;
  comments: string[];
}

/** An open event stream: `next()` resolves with the next message that carries an event. */
interface EventStream {
  status: number;
  headers: Headers;
  next(): Promise<SseMessage & { id: string; event: string; data: string }>;
  /** resolves when a comment line matching `pattern` has arrived */
  comment(pattern: RegExp): Promise<void>;
  close(): void;
}

let dataDir: string;
let archive: Archive;
let app: FastifyInstance;
let baseUrl: string;
let receiver: NotificationBus;
let publisher: NotificationBus;
const tokens: Record<string, string> = {};

/** Waits for `name`, with a ref'd deadline timer (the bus's timers are unref'd). */
async function nextEvent(emitter: EventEmitter, name: string, what: string): Promise<void> {
  const controller = new AbortController();
  const deadline = setTimeout(() => controller.abort(), DEADLINE_MS);
  try {
    await once(emitter, name, { signal: controller.signal });
  } catch {
    assert.fail(`timed out waiting for ${what}`);
  } finally {
    clearTimeout(deadline);
  }
}

async function openStream(query = '', headers: Record<string, string> = {}): Promise<EventStream> {
  const controller = new AbortController();
  const response = await fetch(`${baseUrl}/api/v1/events${query}`, { headers, signal: controller.signal });
  const messages: SseMessage[] = [];
  const comments: string[] = [];
  const arrivals = new EventEmitter();
  if (response.body) {
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    void (async () => {
      let text = '';
      try {
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          text += value;
          let end: number;
          while ((end = text.indexOf('\n\n')) >= 0) {
            const message: SseMessage = { comments: [] };
            for (const line of text.slice(0, end).split('\n')) {
              if (line.startsWith(':')) message.comments.push(line.slice(1).trim());
              else {
                const colon = line.indexOf(':');
                const field = line.slice(0, colon);
                const fieldValue = line.slice(colon + 1).replace(/^ /, '');
                if (field === 'id' || field === 'event' || field === 'data') message[field] = fieldValue;
              }
            }
            text = text.slice(end + 2);
            comments.push(...message.comments);
            if (message.event) messages.push(message);
            arrivals.emit('message');
          }
        }
      } catch {
        // aborted by close()
      }
    })();
  }
  return {
    status: response.status,
    headers: response.headers,
    async next() {
      while (messages.length === 0) await nextEvent(arrivals, 'message', 'an event');
      return messages.shift() as SseMessage & { id: string; event: string; data: string };
    },
    async comment(pattern) {
      while (!comments.some((comment) => pattern.test(comment))) await nextEvent(arrivals, 'message', `a comment ${pattern}`);
    },
    close: () => controller.abort(),
  };
}

/** The latest seq, i.e. the seq of the notification just published (tests publish one at a time). */
async function latestSeq(): Promise<number> {
  return new NotificationStore(archive.database.db).latestSeq();
}

/** Waits for the receiving bus to hold `count` subscriptions (it says when), with a ref'd deadline timer. */
async function subscriptions(count: number, what: string): Promise<void> {
  let deadline: NodeJS.Timeout | undefined;
  const timedOut = new Promise<never>((_resolve, reject) => (deadline = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), DEADLINE_MS)));
  try {
    await Promise.race([receiver.whenSubscriberCount(count), timedOut]);
  } finally {
    clearTimeout(deadline);
  }
}

before(async () => {
  dataDir = await mkdtemp(path.join(tmpdir(), 'yunying-events-'));
  archive = await openArchive({ dataDir, fsync: false });
  const access = new AccessService(archive.accessStore, archive.audit, { tokenTtlSeconds: 600, unitOfWork: archive.unitOfWork });
  const system = systemCaller('event-routes-test');
  await access.createInstitution(system, { id: 'ev-county', name: '县医院', tier: 'county' });
  await access.createInstitution(system, { id: 'ev-t1', name: '周市镇卫生院', tier: 'township', parentId: 'ev-county' });
  await access.createInstitution(system, { id: 'ev-t2', name: '陆家镇卫生院', tier: 'township', parentId: 'ev-county' });
  for (const [username, role, institutionId] of [
    ['tech1', 'technologist', 'ev-t1'],
    ['tech2', 'technologist', 'ev-t2'],
    ['admin', 'administrator', 'ev-county'],
  ] as const) {
    await access.createUser(system, { username, password: PASSWORD, role, institutionId });
    tokens[username] = (await access.login(username, PASSWORD, { via: 'rest' })).token;
  }

  receiver = new NotificationBus(new NotificationStore(archive.database.db), { intervalMs: 20 });
  publisher = new NotificationBus(new NotificationStore(archive.database.db), { intervalMs: 20 });
  app = Fastify();
  // As app.ts: the one error type answers its HTTP status.
  app.setErrorHandler((error, _request, reply) => {
    if (error instanceof YunyingError) return reply.status(error.httpStatus).send({ code: error.code, message: error.message });
    const status = (error as { statusCode?: number }).statusCode ?? 500;
    return reply.status(status).send({ code: 'BAD_REQUEST', message: String(error) });
  });
  await registerEventRoutes(app, { bus: receiver, resolveCaller: createHttpCallerResolver(access, 'rest', { allowBasic: false }), heartbeatMs: 50 });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  baseUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  await receiver.start();
});

after(async () => {
  await publisher.close();
  await app.close();
  await receiver.close();
  await archive.close();
  await rm(dataDir, { recursive: true, force: true });
});

describe('GET /api/v1/events', () => {
  test('401 without credentials or with a bad token', async () => {
    for (const [query, headers] of [
      ['', {}],
      ['?access_token=not-a-valid-token-at-all-000', {}],
      ['', { authorization: 'Bearer not-a-valid-token-at-all-000' }],
    ] as const) {
      const response = await fetch(`${baseUrl}/api/v1/events${query}`, { headers });
      assert.equal(response.status, 401, query);
      assert.equal(((await response.json()) as { code: string }).code, 'UNAUTHORIZED');
    }
    assert.equal((await fetch(`${baseUrl}/api/v1/events?lastEventId=x`, { headers: { authorization: `Bearer ${tokens.tech1}` } })).status, 400);
    assert.equal((await fetch(`${baseUrl}/api/v1/events`, { headers: { authorization: `Bearer ${tokens.tech1}`, 'last-event-id': 'abc' } })).status, 400);
  });

  test('the requesting institution gets its event at once, another institution does not, administrators get all; resume after Last-Event-ID', async () => {
    const tech1 = await openStream(`?access_token=${tokens.tech1}`); // as EventSource would
    const tech2 = await openStream('', { authorization: `Bearer ${tokens.tech2}` });
    const admin = await openStream('', { authorization: `Bearer ${tokens.admin}` });
    assert.equal(tech1.status, 200);
    assert.match(tech1.headers.get('content-type') ?? '', /^text\/event-stream/);
    assert.equal(tech1.headers.get('cache-control'), 'no-store');
    assert.equal(tech1.headers.get('x-accel-buffering'), 'no');
    await subscriptions(3, 'three subscriptions');

    await publisher.publish(['ev-t1'], 'report.signed', { reportId: 'r-1', requestId: 'q-1' });
    const s1 = await latestSeq();
    await publisher.publish(['ev-t2'], 'report.signed', { reportId: 'r-2' });
    const s2 = await latestSeq();

    const first = await tech1.next();
    assert.equal(first.id, String(s1));
    assert.equal(first.event, 'report.signed');
    const data = JSON.parse(first.data) as Record<string, unknown>;
    assert.deepEqual(data.payload, { reportId: 'r-1', requestId: 'q-1' });
    assert.equal(data.institutionId, 'ev-t1');
    assert.equal(data.seq, s1);
    // Delivered in seq order: tech2's first event would be ev-t1's had it leaked.
    const other = await tech2.next();
    assert.equal(other.id, String(s2));
    assert.deepEqual((JSON.parse(other.data) as { payload: unknown }).payload, { reportId: 'r-2' });
    assert.deepEqual([(await admin.next()).id, (await admin.next()).id], [String(s1), String(s2)]);
    await tech1.comment(/^heartbeat$/);

    // Disconnect: the subscription goes away with the connection.
    tech1.close();
    await subscriptions(2, 'the subscription to be removed');

    // Missed while disconnected; the reconnect with Last-Event-ID gets exactly those, then live ones.
    await publisher.publish(['ev-t1'], 'report.signed', { n: 3 });
    const s3 = await latestSeq();
    await publisher.publish(['ev-t1'], 'retake.requested', { n: 4 });
    const s4 = await latestSeq();
    const resumed = await openStream('', { authorization: `Bearer ${tokens.tech1}`, 'last-event-id': String(s1) });
    assert.deepEqual([(await resumed.next()).id, (await resumed.next()).id], [String(s3), String(s4)]);
    await publisher.publish(['ev-t1'], 'report.signed', { n: 5 });
    const s5 = await latestSeq();
    const live = await resumed.next();
    assert.deepEqual([live.id, live.event], [String(s5), 'report.signed']);
    resumed.close();

    // EventSource reconnects that cannot set the header: ?lastEventId=.
    const byQuery = await openStream(`?access_token=${tokens.tech1}&lastEventId=${s4}`);
    assert.equal((await byQuery.next()).id, String(s5));
    byQuery.close();

    // tech2 never saw any of ev-t1's events: its next is the next ev-t2 one.
    await publisher.publish(['ev-t2'], 'report.signed', { n: 6 });
    assert.equal((await tech2.next()).id, String(await latestSeq()));
    tech2.close();
    admin.close();
    await subscriptions(0, 'every subscription to be removed');
  });
});

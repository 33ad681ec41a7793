/**
 * New studies on GET /api/v1/events (issue 14, item 3), the whole platform over real
 * sockets: a study stored by STOW-RS is announced once (`study.stored`) and once more when
 * it stops growing (`study.settled`), however many instances it has, to the institution
 * holding it and administrators, never to another institution.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter, once } from 'node:events';
import { startListeningServer, type ListeningServer } from '../test-support/listening-server.ts';
import { TEST_ADMIN_PASSWORD } from '../test-support/admin-auth.ts';
import { callHttp, loginForToken, stowOptions } from '../test-support/http-client.ts';
import { makeSyntheticInstance, newUid } from '../test-support/synthetic-dicom.ts';
import { stowBody } from '../dicomweb/test-support.ts';
import { NOTIFICATIONS } from '../events/module.ts';

const PASSWORD = 'Correct-Horse-9';
const DEADLINE_MS = 20_000;

interface StudyEvent {
  event: string;
  studyInstanceUid: string;
  institutionId: string;
}

/** An open event stream that keeps every study event it received, in order. */
interface StudyEventStream {
  received: StudyEvent[];
  /** resolves with the first event (already received or to come) matching */
  waitFor(event: string, studyInstanceUid: string): Promise<StudyEvent>;
  close(): void;
}

let server: ListeningServer;
const tokens: Record<string, string> = {};
const streams: StudyEventStream[] = [];

async function openStream(token: string): Promise<StudyEventStream> {
  const controller = new AbortController();
  const response = await fetch(`${server.baseUrl}/api/v1/events`, { headers: { authorization: `Bearer ${token}` }, signal: controller.signal });
  assert.equal(response.status, 200);
  const received: StudyEvent[] = [];
  const arrivals = new EventEmitter();
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
  void (async () => {
    let text = '';
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        text += value;
        let end: number;
        while ((end = text.indexOf('\n\n')) >= 0) {
          const lines = text.slice(0, end).split('\n');
          text = text.slice(end + 2);
          const event = lines.find((line) => line.startsWith('event: '))?.slice(7);
          const data = lines.find((line) => line.startsWith('data: '))?.slice(6);
          if (!event?.startsWith('study.') || !data) continue;
          const parsed = JSON.parse(data) as { institutionId: string; payload: { studyInstanceUid: string } };
          received.push({ event, studyInstanceUid: parsed.payload.studyInstanceUid, institutionId: parsed.institutionId });
          arrivals.emit('event');
        }
      }
    } catch {
      // aborted by close()
    }
  })();
  const stream: StudyEventStream = {
    received,
    async waitFor(event, studyInstanceUid) {
      const deadline = setTimeout(() => arrivals.emit('error', new Error(`timed out waiting for ${event} of ${studyInstanceUid}`)), DEADLINE_MS);
      try {
        for (;;) {
          const found = received.find((candidate) => candidate.event === event && candidate.studyInstanceUid === studyInstanceUid);
          if (found) return found;
          await once(arrivals, 'event');
        }
      } finally {
        clearTimeout(deadline);
      }
    },
    close: () => controller.abort(),
  };
  streams.push(stream);
  return stream;
}

/** Stores a study of `count` instances in one STOW-RS request as `username`. */
async function stowStudy(username: string, count: number): Promise<string> {
  const studyInstanceUid = newUid();
  const seriesInstanceUid = newUid();
  const files = Array.from({ length: count }, (_, index) => makeSyntheticInstance({ studyInstanceUid, seriesInstanceUid, instanceNumber: index + 1, patientId: `LIVE-${username}` }).bytes);
  const answer = await callHttp(server.baseUrl, 'POST', '/dicom-web/studies', stowOptions(stowBody(files), tokens[username]));
  assert.equal(answer.status, 200, answer.text);
  return studyInstanceUid;
}

before(async () => {
  server = await startListeningServer();
  tokens.admin = await loginForToken(server.baseUrl, 'admin', TEST_ADMIN_PASSWORD);
  const admin = async (url: string, body: unknown): Promise<void> => {
    const answer = await callHttp(server.baseUrl, 'POST', url, { token: tokens.admin, body });
    assert.ok(answer.status < 300, `${url}: ${answer.status} ${answer.text}`);
  };
  await admin('/api/v1/institutions', { id: 'ks-county', name: '昆山市第一人民医院', tier: 'county' });
  await admin('/api/v1/institutions', { id: 'ks-t1', name: '周市镇卫生院', tier: 'township', parentId: 'ks-county' });
  await admin('/api/v1/institutions', { id: 'ks-t2', name: '陆家镇卫生院', tier: 'township', parentId: 'ks-county' });
  await admin('/api/v1/users', { username: 'tech1', password: PASSWORD, role: 'technologist', institutionId: 'ks-t1' });
  await admin('/api/v1/users', { username: 'tech2', password: PASSWORD, role: 'technologist', institutionId: 'ks-t2' });
  tokens.tech1 = await loginForToken(server.baseUrl, 'tech1', PASSWORD);
  tokens.tech2 = await loginForToken(server.baseUrl, 'tech2', PASSWORD);
});

after(async () => {
  for (const stream of streams) stream.close();
  await server?.close();
});

describe('new studies on the event stream', { timeout: 90_000 }, () => {
  test('the holding institution and administrators are told of a new study once, and once when it stops growing; another institution is not', async () => {
    const bus = server.server.services.get(NOTIFICATIONS);
    const [tech1, tech2, admin] = [await openStream(tokens.tech1), await openStream(tokens.tech2), await openStream(tokens.admin)];
    await bus.whenSubscriberCount(3);

    const first = await stowStudy('tech1', 6);
    assert.deepEqual(await tech1.waitFor('study.stored', first), { event: 'study.stored', studyInstanceUid: first, institutionId: 'ks-t1' });
    await admin.waitFor('study.stored', first);
    await tech1.waitFor('study.settled', first);
    await admin.waitFor('study.settled', first);
    // Six instances, two notifications.
    assert.deepEqual(tech1.received.filter((event) => event.studyInstanceUid === first).map((event) => event.event), ['study.stored', 'study.settled']);

    // Streams deliver in seq order: once tech2 has its own (later) study's event, it would
    // have had the first study's before it.
    const second = await stowStudy('tech2', 1);
    await tech2.waitFor('study.stored', second);
    assert.deepEqual(tech2.received.filter((event) => event.studyInstanceUid === first), [], 'another institution was told of the study');
    await admin.waitFor('study.stored', second);
    const third = await stowStudy('tech1', 1);
    await tech1.waitFor('study.stored', third);
    assert.deepEqual(tech1.received.filter((event) => event.studyInstanceUid === second), [], 'another institution was told of the study');
  });
});

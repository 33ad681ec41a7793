/**
 * Concurrent claims resolve to exactly one winner (issue 5, item 6): many radiologists claim
 * the same requests at once, spread over two real server processes on one PostgreSQL, and a
 * sign races with a second sign by another reviewer on the other process. The same scenario
 * runs on one embedded (SQLite) server, where the race is between parallel requests.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { TEST_ADMIN_PASSWORD } from '../test-support/admin-auth.ts';
import { startListeningServer, type ListeningServer } from '../test-support/listening-server.ts';
import { createTestDatabase, type TestDatabase } from '../test-support/postgres.ts';
import { startServerProcess, type ServerProcess } from '../test-support/server-process.ts';
import { makeSyntheticInstance } from '../test-support/synthetic-dicom.ts';
import { stowBody } from '../dicomweb/test-support.ts';

const PASSWORD = 'Correct-Horse-9';
const REQUESTS = 20;
const CLAIMS_PER_REQUEST = 10;
const SIGN_RACES = 6;
const RADIOLOGISTS = ['rad1', 'rad2', 'rad3', 'rad4', 'rad5'] as const;
const REVIEWERS = ['rev1', 'rev2'] as const;

interface Answer<T> {
  status: number;
  body: T;
  text: string;
}

type RequestView = { id: string; status: string; claimedBy: string | null; events: Array<{ to: string; actor: string }>; report?: { id: string; status: string; reviewer: string | null } };
type ReportView = { id: string; status: string; reviewer: string | null; versions?: Array<{ kind: string; savedBy: string }> };
type ErrorBody = { code?: string; message?: string };

/** One platform reached through one or more base URLs (processes) sharing one index. */
class Platform {
  readonly tokens = new Map<string, string>();

  readonly baseUrls: readonly string[];
  constructor(baseUrls: readonly string[]) {
    this.baseUrls = baseUrls;
  }

  async call<T>(baseUrl: string, who: string, method: string, url: string, body?: unknown, headers: Record<string, string> = {}): Promise<Answer<T>> {
    const response = await fetch(`${baseUrl}${url}`, {
      method,
      headers: { authorization: `Bearer ${this.tokens.get(who)}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
      body: body === undefined ? undefined : typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body),
    });
    const text = await response.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // not JSON
    }
    return { status: response.status, body: parsed as T, text };
  }

  async login(username: string, password: string): Promise<void> {
    const response = await fetch(`${this.baseUrls[0]}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username, password }) });
    assert.equal(response.status, 200, `login ${username}`);
    this.tokens.set(username, ((await response.json()) as { token: string }).token);
  }

  /** Hierarchy, alliance, users and `count` pending requests, all through the first process's REST API. */
  async seed(count: number): Promise<string[]> {
    const first = this.baseUrls[0]!;
    await this.login('admin', TEST_ADMIN_PASSWORD);
    for (const institution of [
      { id: 'race-county', name: '县人民医院', tier: 'county', grade: 2 },
      { id: 'race-t1', name: '镇卫生院', tier: 'township', grade: 1, parentId: 'race-county' },
    ]) {
      const created = await this.call(first, 'admin', 'POST', '/api/v1/institutions', institution);
      assert.equal(created.status, 201, created.text);
    }
    assert.equal((await this.call(first, 'admin', 'PUT', '/api/v1/institutions/race-county/members/race-t1')).status, 204);
    const users: Array<[string, string, string]> = [['tech', 'technologist', 'race-t1'], ...RADIOLOGISTS.map((name): [string, string, string] => [name, 'radiologist', 'race-county']), ...REVIEWERS.map((name): [string, string, string] => [name, 'reviewing-radiologist', 'race-county'])];
    for (const [username, role, institutionId] of users) {
      const created = await this.call(first, 'admin', 'POST', '/api/v1/users', { username, password: PASSWORD, role, institutionId });
      assert.equal(created.status, 201, created.text);
      await this.login(username, PASSWORD);
    }
    // One STOW-RS request carries one small CT image of every study.
    const studies = Array.from({ length: count }, (_, n) => makeSyntheticInstance({ patientId: `RACE${n}`, accessionNumber: `RACE${n}` }));
    const { payload, contentType } = stowBody(studies.map((study) => study.bytes));
    const stored = await this.call(first, 'tech', 'POST', '/dicom-web/studies', payload, { 'content-type': contentType, accept: 'application/dicom+json' });
    assert.equal(stored.status, 200, stored.text);
    const ids: string[] = [];
    for (const study of studies) {
      const created = await this.call<{ id: string; status: string }>(first, 'tech', 'POST', '/api/v1/reading-requests', { studyInstanceUid: study.studyInstanceUid, priority: 'urgent', imagesComplete: true });
      assert.equal(created.status, 201, created.text);
      assert.equal(created.body.status, 'pending');
      ids.push(created.body.id);
    }
    return ids;
  }

  /** The n-th of many callers: radiologists and processes interleaved so that every request sees both. */
  via(n: number): string {
    return this.baseUrls[n % this.baseUrls.length]!;
  }
}

/** Fires CLAIMS_PER_REQUEST claims at every request at once and checks each has one winner. */
async function claimRace(platform: Platform, ids: readonly string[]): Promise<Map<string, string>> {
  const attempts = ids.flatMap((id) =>
    Array.from({ length: CLAIMS_PER_REQUEST }, (_, n) => {
      const who = RADIOLOGISTS[n % RADIOLOGISTS.length]!;
      // each radiologist claims through both processes
      const baseUrl = platform.via(Math.floor(n / RADIOLOGISTS.length) + (n % RADIOLOGISTS.length));
      return { id, who, baseUrl };
    }),
  );
  const answers = await Promise.all(attempts.map(async (attempt) => ({ ...attempt, answer: await platform.call<RequestView & ErrorBody>(attempt.baseUrl, attempt.who, 'POST', `/api/v1/reading-requests/${attempt.id}/claim`) })));
  const winners = new Map<string, string>();
  for (const id of ids) {
    const mine = answers.filter((a) => a.id === id);
    // every request was raced from both processes and by several radiologists
    assert.equal(new Set(mine.map((a) => a.baseUrl)).size, platform.baseUrls.length);
    assert.ok(new Set(mine.map((a) => a.who)).size > 1);
    const won = mine.filter((a) => a.answer.status === 200);
    assert.equal(won.length, 1, `request ${id}: ${mine.map((a) => `${a.answer.status} ${a.answer.body.code ?? ''}`).join(', ')}`);
    const winner = won[0]!;
    assert.equal(winner.answer.body.status, 'claimed');
    assert.equal(winner.answer.body.claimedBy, winner.who);
    for (const lost of mine.filter((a) => a !== winner)) {
      assert.equal(lost.answer.status, 409, lost.answer.text);
      assert.equal(lost.answer.body.code, 'ALREADY_CLAIMED', lost.answer.text);
    }
    winners.set(id, winner.who);
  }
  // The state as every process reads it: claimed by the winner, one 'claimed' event.
  await Promise.all(
    ids.map(async (id, n) => {
      const viewed = await platform.call<RequestView>(platform.via(n + 1), 'admin', 'GET', `/api/v1/reading-requests/${id}`);
      assert.equal(viewed.status, 200, viewed.text);
      assert.equal(viewed.body.status, 'claimed');
      assert.equal(viewed.body.claimedBy, winners.get(id));
      const claimed = viewed.body.events.filter((event) => event.to === 'claimed');
      assert.equal(claimed.length, 1, viewed.body.events.map((event) => event.to).join(' → '));
      assert.equal(claimed[0]!.actor, winners.get(id));
    }),
  );
  return winners;
}

/** The claimer drafts and submits; two reviewers sign at once (on different processes): one signs. */
async function signRace(platform: Platform, ids: readonly string[], winners: ReadonlyMap<string, string>): Promise<void> {
  const reports = await Promise.all(
    ids.map(async (id, n) => {
      const author = winners.get(id)!;
      const draft = await platform.call<ReportView>(platform.via(n), author, 'PUT', `/api/v1/reading-requests/${id}/report`, { findings: '双肺纹理清晰，未见实质性病变。', impression: '胸部CT平扫未见明显异常。', positive: false });
      assert.equal(draft.status, 200, draft.text);
      const submitted = await platform.call<ReportView>(platform.via(n + 1), author, 'POST', `/api/v1/reports/${draft.body.id}/submit`);
      assert.equal(submitted.status, 200, submitted.text);
      return draft.body.id;
    }),
  );
  await Promise.all(
    reports.map(async (reportId, n) => {
      const attempts = REVIEWERS.map((who, k) => ({ who, baseUrl: platform.via(n + k) }));
      const answers = await Promise.all(attempts.map(async (attempt) => ({ ...attempt, answer: await platform.call<ReportView & ErrorBody>(attempt.baseUrl, attempt.who, 'POST', `/api/v1/reports/${reportId}/sign`, { password: PASSWORD }) })));
      const won = answers.filter((a) => a.answer.status === 200);
      assert.equal(won.length, 1, answers.map((a) => `${a.answer.status} ${a.answer.text}`).join(' | '));
      const lost = answers.find((a) => a.answer.status !== 200)!;
      assert.equal(lost.answer.status, 409, lost.answer.text);
      assert.equal(lost.answer.body.code, 'ILLEGAL_TRANSITION', lost.answer.text);
      const winner = won[0]!.who;
      assert.equal(won[0]!.answer.body.reviewer, winner);

      const report = await platform.call<ReportView>(lost.baseUrl, 'admin', 'GET', `/api/v1/reports/${reportId}`);
      assert.equal(report.body.status, 'signed');
      assert.equal(report.body.reviewer, winner);
      assert.deepEqual(report.body.versions!.map((v) => v.kind), ['submitted', 'signed']);
      assert.equal(report.body.versions![1]!.savedBy, winner);
      const request = await platform.call<RequestView>(lost.baseUrl, 'admin', 'GET', `/api/v1/reading-requests/${ids[n]}`);
      assert.equal(request.body.status, 'signed');
      assert.deepEqual(request.body.events.map((event) => event.to), ['pending', 'claimed', 'submitted', 'signed']);
      assert.equal(request.body.events.at(-1)!.actor, winner);
    }),
  );
}

describe('claim races across two server processes on PostgreSQL', () => {
  let database: TestDatabase;
  const dataDirs: string[] = [];
  const processes: ServerProcess[] = [];
  let platform: Platform;
  let ids: string[];
  let winners: Map<string, string>;

  before(async () => {
    database = await createTestDatabase();
    // one audit chain, one key: every process on the database needs it (issue 12, finding 20)
    const env = { YUNYING_DATABASE_URL: database.url, YUNYING_AUDIT_KEY: 'claim-race-test-audit-key-of-32-characters', YUNYING_FSYNC: 'false', YUNYING_LOG_LEVEL: 'info' };
    for (const name of ['a', 'b']) dataDirs.push(await mkdtemp(path.join(tmpdir(), `yunying-race-${name}-`)));
    // one after the other: the first runs the migrations, the second finds them done
    for (const dataDir of dataDirs) processes.push(await startServerProcess(dataDir, env));
    platform = new Platform(processes.map((p) => p.baseUrl));
    ids = await platform.seed(REQUESTS);
  });

  after(async () => {
    await Promise.all(processes.map((p) => p.stop()));
    await database?.drop();
    await Promise.all(dataDirs.map((dir) => rm(dir, { recursive: true, force: true })));
  });

  test(`${REQUESTS} requests × ${CLAIMS_PER_REQUEST} parallel claims from ${RADIOLOGISTS.length} radiologists on both processes: one 200 each, 409 ALREADY_CLAIMED for the rest, one 'claimed' event`, async () => {
    winners = await claimRace(platform, ids);
  });

  test('two reviewers on different processes sign the same report at once: one signs, the other gets 409', async () => {
    await signRace(platform, ids.slice(0, SIGN_RACES), winners);
  });
});

describe('claim races on one embedded (SQLite) server', () => {
  let server: ListeningServer;
  let platform: Platform;
  let ids: string[];
  let winners: Map<string, string>;

  before(async () => {
    server = await startListeningServer();
    platform = new Platform([server.baseUrl]);
    ids = await platform.seed(REQUESTS);
  });

  after(async () => {
    await server?.close();
  });

  test('parallel claims: one winner per request', async () => {
    winners = await claimRace(platform, ids);
  });

  test('parallel signs: one signs', async () => {
    await signRace(platform, ids.slice(0, SIGN_RACES), winners);
  });
});

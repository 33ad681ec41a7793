/**
 * Throttles under parallel guessing (issue 12, findings 4 and 5): an attempt is reserved in
 * the database before anything is verified, so a hundred guesses sent at once test no more
 * passwords or access codes than the limit allows, in one server process or several; and a
 * flood of logins meets a bounded hashing queue that refuses early instead of piling up.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { AccessStore } from '../store/access-store.ts';
import { openIndexDatabase, type IndexDatabase } from '../store/database.ts';
import { createTestDatabase } from '../test-support/postgres.ts';
import { TEST_ADMIN_PASSWORD } from '../test-support/admin-auth.ts';
import { startListeningServer, type ListeningServer } from '../test-support/listening-server.ts';
import { createFixture, generateCt, PASSWORD, startShareServer, storeAs, type Fixture, type ShareTestServer } from '../share/share-test-support.ts';

const PARALLEL = 120;

/** A distinct client address per attempt (the server trusts the loopback proxy), so only the per-account or per-link limit can hold. */
const addressOf = (n: number) => `10.20.${(n >> 8) & 255}.${n & 255}`;

function tally(statuses: number[]): Record<number, number> {
  const counts: Record<number, number> = {};
  for (const status of statuses) counts[status] = (counts[status] ?? 0) + 1;
  return counts;
}

describe('parallel guesses against one account and one cloud-film link', () => {
  let app: ShareTestServer;
  let fixture: Fixture;
  let studyUid: string;
  before(async () => {
    app = await startShareServer({ env: { YUNYING_TRUST_PROXY: 'loopback' } });
    fixture = await createFixture(app.baseUrl);
    const study = await generateCt(1);
    await storeAs(app.server, fixture.client.tokens.tech!, study.files.values());
    studyUid = study.studyInstanceUid;
  });
  after(async () => {
    await app?.close();
  });

  const login = (username: string, password: string, address: string) =>
    fetch(`${app.baseUrl}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-forwarded-for': address }, body: JSON.stringify({ username, password }) });

  test(`bursts of ${PARALLEL} parallel wrong passwords test at most five in all; then the right one is refused`, async () => {
    const username = `target-${Date.now()}`;
    assert.equal((await fixture.client.call('admin', 'POST', '/api/v1/users', { username, password: PASSWORD, role: 'clinician', institutionId: fixture.township })).status, 201);
    const verified = async () => (await app.server.archive.audit.search({ action: 'user.login-failed', objectId: username, limit: 1000 })).length;
    // Until the limit is reached: the few guesses a burst gets verified count, the rest are refused at once.
    for (let burst = 0; burst < 10 && (await verified()) < 5; burst++) {
      const answers = await Promise.all(Array.from({ length: PARALLEL }, (_, n) => login(username, `Wrong-Guess-${burst}-${n}`, addressOf(burst * PARALLEL + n))));
      const counts = tally(answers.map((answer) => answer.status));
      assert.equal((counts[401] ?? 0) + (counts[429] ?? 0), PARALLEL, `every guess is 401 or 429: ${JSON.stringify(counts)}`);
      assert.ok((counts[429] ?? 0) >= PARALLEL - 5, `a burst is refused, not verified: ${JSON.stringify(counts)}`);
      for (const answer of answers) if (answer.status === 429) assert.ok(Number(answer.headers.get('retry-after')) > 0, 'a refusal says when to retry');
      assert.ok((await verified()) <= 5, `at most five passwords were verified in all, ${await verified()} were`);
    }
    assert.equal(await verified(), 5, 'the limit was reached');
    const right = await login(username, PASSWORD, addressOf(9999));
    assert.equal(right.status, 429, 'the right password waits for the window too');
  });

  test(`bursts of ${PARALLEL * 2} parallel codes never unlock a four-digit link and test at most five`, async () => {
    const created = await fixture.client.call<{ url: string; id: string; accessCode: string }>('tech', 'POST', '/api/v1/share-links', { studyInstanceUid: studyUid, codeLength: 4 });
    assert.equal(created.status, 201, created.text);
    const link = created.body;
    const unlockPath = `${new URL(link.url).pathname}/unlock`;
    const wrongCodes = Array.from({ length: 10_000 }, (_, n) => String(n).padStart(4, '0')).filter((code) => code !== link.accessCode);
    const attempt = (code: string, address: string) =>
      fetch(`${app.baseUrl}${unlockPath}`, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-forwarded-for': address }, body: `code=${code}` });
    const verified = async () => (await app.server.archive.audit.search({ action: 'share.code-failed', objectId: link.id, limit: 1000 })).length;
    for (let burst = 0; burst < 10 && (await verified()) < 5; burst++) {
      const codes = wrongCodes.slice(burst * PARALLEL * 2, (burst + 1) * PARALLEL * 2);
      const answers = await Promise.all(codes.map((code, n) => attempt(code, addressOf(burst * PARALLEL * 2 + n))));
      const counts = tally(answers.map((answer) => answer.status));
      assert.equal(counts[303], undefined, `no guess unlocked the link: ${JSON.stringify(counts)}`);
      assert.ok((counts[429] ?? 0) >= codes.length - 5, `a burst is refused, not verified: ${JSON.stringify(counts)}`);
      assert.ok((await verified()) <= 5, `at most five codes were verified in all, ${await verified()} were`);
    }
    assert.equal(await verified(), 5, 'the limit was reached');
    assert.equal((await attempt(link.accessCode, addressOf(9999))).status, 429, 'the right code waits for the window too');
  });
});

describe('the attempt reservation itself, across database connections', () => {
  async function raceOn(open: () => Promise<IndexDatabase>): Promise<number> {
    // Two handles on one database stand for two server processes.
    const [first, second] = [await open(), await open()];
    try {
      const stores = [new AccessStore(first.db), new AccessStore(second.db)];
      const key = `user:race-${Date.now()}`;
      const results = await Promise.all(Array.from({ length: 100 }, (_, n) => stores[n % 2]!.reserveAttempt(key, 5, 900_000)));
      return results.filter((result) => result.reserved).length;
    } finally {
      await first.close();
      await second.close();
    }
  }

  test('SQLite: 100 concurrent reservations against a limit of 5 grant exactly 5', async () => {
    const dataDir = await mkdtemp(path.join(tmpdir(), 'yunying-race-'));
    try {
      assert.equal(await raceOn(() => openIndexDatabase({ dataDir, fsync: false })), 5);
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  test('PostgreSQL: 100 concurrent reservations against a limit of 5 grant exactly 5', async () => {
    const database = await createTestDatabase();
    try {
      const dataDir = await mkdtemp(path.join(tmpdir(), 'yunying-race-pg-'));
      await openIndexDatabase({ dataDir, databaseUrl: database.url, fsync: false }).then((db) => db.close()); // migrate once
      assert.equal(await raceOn(() => openIndexDatabase({ dataDir, databaseUrl: database.url, fsync: false })), 5);
      await rm(dataDir, { recursive: true, force: true });
    } finally {
      await database.drop();
    }
  });
});

describe('a login flood meets a bounded hashing queue', () => {
  let server: ListeningServer;
  before(async () => {
    server = await startListeningServer({ YUNYING_TRUST_PROXY: 'loopback', YUNYING_PASSWORD_HASH_THREADS: '1', YUNYING_PASSWORD_HASH_QUEUE: '2' });
  });
  after(async () => {
    await server?.close();
  });

  test('logins beyond the queue are refused at once with 503 and Retry-After; the server keeps answering', async () => {
    const answers = await Promise.all(
      Array.from({ length: PARALLEL }, (_, n) =>
        fetch(`${server.baseUrl}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-forwarded-for': addressOf(n) }, body: JSON.stringify({ username: `nobody-${n}`, password: `Guess-${n}-password` }) }),
      ),
    );
    const counts = tally(answers.map((answer) => answer.status));
    assert.ok((counts[503] ?? 0) > 0, `some logins were refused as busy: ${JSON.stringify(counts)}`);
    assert.equal((counts[503] ?? 0) + (counts[401] ?? 0), PARALLEL, `every other login was verified and failed: ${JSON.stringify(counts)}`);
    const busy = answers.find((answer) => answer.status === 503)!;
    assert.ok(Number(busy.headers.get('retry-after')) > 0);
    assert.equal(((await busy.json()) as { code: string }).code, 'PASSWORD_HASHING_BUSY');
    const admin = await fetch(`${server.baseUrl}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'admin', password: TEST_ADMIN_PASSWORD }) });
    assert.equal(admin.status, 200, 'after the flood the right password logs in');
  });
});

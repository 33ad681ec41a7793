/**
 * The first start of a platform with several processes (issue 13, item 10): without
 * YUNYING_ADMIN_PASSWORD each process that found no users wrote a password of its own to
 * <data dir>/initial-admin-password before inserting admin, so the process whose insert lost
 * could leave its password in the file and the administrator could not log in. Now only the
 * process whose insert created admin puts its password there.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { callHttp } from '../test-support/http-client.ts';
import { createTestDatabase } from '../test-support/postgres.ts';
import { startServerProcess } from '../test-support/server-process.ts';

const ROUNDS = 3;

test(`two processes first started at once on one PostgreSQL and data directory: the initial password file logs in as admin (${ROUNDS} rounds)`, async () => {
  for (let round = 0; round < ROUNDS; round++) {
    const database = await createTestDatabase();
    const dataDir = await mkdtemp(path.join(tmpdir(), 'yunying-first-admin-'));
    // one audit chain, one key: every process on the database needs it (issue 12, finding 20)
    const env = { YUNYING_DATABASE_URL: database.url, YUNYING_AUDIT_KEY: randomBytes(32).toString('hex'), YUNYING_ADMIN_PASSWORD: '' };
    const servers = await Promise.allSettled([startServerProcess(dataDir, env), startServerProcess(dataDir, env)]);
    try {
      const started = servers.map((result) => (result.status === 'fulfilled' ? result.value : assert.fail(String(result.reason))));
      const password = (await readFile(path.join(dataDir, 'initial-admin-password'), 'utf8')).trim();
      for (const server of started) {
        const login = await callHttp(server.baseUrl, 'POST', '/api/v1/auth/login', { body: { username: 'admin', password } });
        assert.equal(login.status, 200, `round ${round}: the password in the file logs in through ${server.baseUrl}: ${login.text}`);
      }
      // exactly one process said it created admin, and no temporary file was left behind
      assert.equal(started.filter((server) => server.output().includes('created user admin')).length, 1, `round ${round}`);
      assert.deepEqual((await readdir(dataDir)).filter((name) => name.includes('initial-admin-password')), ['initial-admin-password']);
    } finally {
      await Promise.all(servers.map((result) => (result.status === 'fulfilled' ? result.value.stop() : undefined)));
      await database.drop();
      await rm(dataDir, { recursive: true, force: true });
    }
  }
});

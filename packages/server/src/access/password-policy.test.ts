/**
 * The password policy (issue 12, finding 16) over REST and the CLI: 等保三级 asks for a length,
 * three of four character classes, no user name inside and no common password; the answer
 * names the rule broken so the web app can say it in the user's language. Also: a hash made
 * at the old scrypt cost is upgraded on login, and a logout leaves an audit record.
 */
import { randomBytes, scryptSync } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { TEST_ADMIN_PASSWORD } from '../test-support/admin-auth.ts';
import { startListeningServer, type ListeningServer } from '../test-support/listening-server.ts';
import { runYunyingCli, type CliResult } from '../test-support/cli.ts';
import { generatePassword, passwordProblem } from './passwords.ts';

const GOOD = 'Correct-Horse-9';
const WEAK: Array<[string, string, string]> = [
  // [password, user name, rule]
  ['password', 'wang.li', 'classes'],
  ['12345678', 'wang.li', 'classes'],
  ['alllowercase', 'wang.li', 'classes'],
  ['Short-1', 'wang.li', 'length'],
  ['Passw0rd', 'wang.li', 'common'],
  ['Admin@123', 'wang.li', 'common'],
  ['Qwerty2024!', 'wang.li', 'common'],
  ['Wang.Li-2024', 'wang.li', 'username'],
];

let server: ListeningServer;
let adminToken: string;

async function call(method: string, url: string, body?: unknown, token = adminToken): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${server.baseUrl}${url}`, { method, headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) }, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await response.text();
  return { status: response.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

async function login(username: string, password: string): Promise<{ status: number; token?: string }> {
  const response = await fetch(`${server.baseUrl}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username, password }) });
  const body = (await response.json()) as { token?: string };
  return { status: response.status, token: body.token };
}

before(async () => {
  server = await startListeningServer();
  adminToken = (await login('admin', TEST_ADMIN_PASSWORD)).token!;
});

after(async () => {
  await server?.close();
});

describe('REST', () => {
  test('creating a user with a weak password is refused with WEAK_PASSWORD and the rule broken', async () => {
    for (const [password, username, rule] of WEAK) {
      const answer = await call('POST', '/api/v1/users', { username, password, role: 'clinician', institutionId: 'default' });
      assert.equal(answer.status, 400, `${password}: ${JSON.stringify(answer.body)}`);
      assert.equal(answer.body.code, 'WEAK_PASSWORD', password);
      assert.equal((answer.body.details as { rule?: string } | undefined)?.rule, rule, `${password} breaks ${rule}: ${JSON.stringify(answer.body)}`);
    }
    assert.equal((await call('POST', '/api/v1/users', { username: 'wang.li', password: GOOD, role: 'clinician', institutionId: 'default' })).status, 201);
  });

  test('an administrator reset and a user changing their own password meet the same policy', async () => {
    const reset = await call('PATCH', '/api/v1/users/wang.li', { password: 'Passw0rd' });
    assert.equal(reset.status, 400);
    assert.equal((reset.body.details as { rule: string }).rule, 'common');
    const token = (await login('wang.li', GOOD)).token!;
    const own = await call('POST', '/api/v1/auth/password', { currentPassword: GOOD, newPassword: '12345678' }, token);
    assert.equal(own.status, 400);
    assert.equal((own.body.details as { rule: string }).rule, 'classes');
    assert.equal((await login('wang.li', GOOD)).status, 200, 'the old password still works');
  });
});

describe('CLI', () => {
  let dataDir: string;
  before(async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), 'yunying-policy-cli-'));
  });
  after(async () => {
    await rm(dataDir, { recursive: true, force: true });
  });
  function yunying(args: string[], stdin: string): Promise<CliResult> {
    return runYunyingCli(dataDir, args, stdin, { YUNYING_PASSWORD_HASH_COST_LOG2: '14' });
  }

  test('user add and user passwd refuse a common password; a generated one passes the policy', async () => {
    const refused = await yunying(['user', 'add', 'zhou', '--role', 'clinician', '--institution', 'default', '--password-stdin'], 'Passw0rd\n');
    assert.equal(refused.code, 2, refused.stderr);
    assert.match(refused.stderr, /too common/);
    const generated = await yunying(['user', 'add', 'zhou', '--role', 'clinician', '--institution', 'default'], '');
    assert.equal(generated.code, 0, generated.stderr);
    const printed = /^password: (\S+)$/m.exec(generated.stdout)?.[1];
    assert.ok(printed && !passwordProblem(printed, 'zhou'), `the generated password ${printed} satisfies the policy`);
    const passwd = await yunying(['user', 'passwd', 'zhou', '--password-stdin'], 'zhou-Secret-1\n');
    assert.equal(passwd.code, 2, passwd.stderr);
    assert.match(passwd.stderr, /user name/);
    for (let n = 0; n < 200; n++) assert.equal(passwordProblem(generatePassword('ab'), 'ab'), undefined);
  });
});

describe('hashes and sessions', () => {
  test('a password hashed at the old cost still logs in and is re-hashed at the current one', async () => {
    assert.equal((await call('POST', '/api/v1/users', { username: 'old.hash', password: GOOD, role: 'clinician', institutionId: 'default' })).status, 201);
    const salt = randomBytes(16);
    const old = ['scrypt', 2 ** 14, 8, 1, salt.toString('base64'), scryptSync(GOOD, salt, 32, { N: 2 ** 14, r: 8, p: 1 }).toString('base64')].join('$');
    const { db } = server.server.archive.database;
    await db.updateTable('users').set({ password_hash: old }).where('username', '=', 'old.hash').execute();
    assert.equal((await login('old.hash', GOOD)).status, 200);
    const stored = await db.selectFrom('users').select('password_hash').where('username', '=', 'old.hash').executeTakeFirstOrThrow();
    assert.match(stored.password_hash, /^scrypt\$32768\$8\$1\$/, 'upgraded to the configured cost');
    assert.equal((await login('old.hash', GOOD)).status, 200, 'and the new hash verifies');
  });

  test('guessing the current password through a stolen session is throttled like a login', async () => {
    assert.equal((await call('POST', '/api/v1/users', { username: 'stolen.session', password: GOOD, role: 'clinician', institutionId: 'default' })).status, 201);
    const token = (await login('stolen.session', GOOD)).token!;
    const answers = [];
    for (let i = 0; i < 7; i++) answers.push((await call('POST', '/api/v1/auth/password', { currentPassword: `Wrong-Guess-${i}`, newPassword: 'Another-Horse-7' }, token)).status);
    assert.deepEqual(answers.slice(0, 5), [401, 401, 401, 401, 401]);
    assert.deepEqual(answers.slice(5), [429, 429], 'the account is throttled after five wrong current passwords');
    const right = await call('POST', '/api/v1/auth/password', { currentPassword: GOOD, newPassword: 'Another-Horse-7' }, token);
    assert.equal(right.status, 429, 'even the right current password waits for the window');
    const failures = await server.server.archive.audit.search({ action: 'user.login-failed', objectId: 'stolen.session', limit: 20 });
    assert.equal(failures.length, 5, 'each wrong current password is recorded as a failed check');
  });

  test('a logout is recorded in the audit trail', async () => {
    const token = (await login('wang.li', GOOD)).token!;
    const response = await fetch(`${server.baseUrl}/api/v1/auth/logout`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
    assert.equal(response.status, 204);
    const records = await server.server.archive.audit.search({ action: 'user.logged-out', objectId: 'wang.li', limit: 10 });
    assert.equal(records.length, 1);
    assert.equal(records[0]!.actor_name, 'wang.li');
    assert.equal(records[0]!.via, 'rest');
  });
});

/**
 * `npx yunying …` end to end (issue 4): the real CLI as a child process on a fresh data
 * directory builds an institution hierarchy, users and AE titles; the server then started
 * on that directory logs the CLI's user in over HTTP; `audit verify` finds the chain intact,
 * then names the record a direct edit of the database altered; `audit export` writes CSV.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { startServerProcess } from '../test-support/server-process.ts';
import { runYunyingCli, type CliResult } from '../test-support/cli.ts';
import { auditHash, type AuditRow } from '../store/audit-store.ts';
import { signaturePng } from '../test-support/signature-png.ts';

const PASSWORD = 'Cli-Created-Pass-4';

let dataDir: string;

/** Runs `yunying …` on the test's data directory; `stdin` is written and closed. */
function yunying(args: string[], stdin = ''): Promise<CliResult> {
  return runYunyingCli(dataDir, args, stdin);
}

/** One JSON object per line, as `… list` prints them. */
function jsonLines(stdout: string): Array<Record<string, unknown>> {
  return stdout.split('\n').filter((line) => line.trim()).map((line) => JSON.parse(line) as Record<string, unknown>);
}

function ok(result: CliResult, what: string): CliResult {
  assert.equal(result.code, 0, `${what}: exit ${result.code}\n${result.stderr}${result.stdout}`);
  return result;
}

before(async () => {
  dataDir = await mkdtemp(path.join(tmpdir(), 'yunying-cli-'));
});

after(async () => {
  await rm(dataDir, { recursive: true, force: true });
});

// a dozen CLI processes, each loading the whole server's modules (about 2 s apiece on a loaded 2-core machine)
describe('yunying CLI', { timeout: 240_000 }, () => {
  let generatedPassword = '';

  test('institution add builds a hierarchy and institution serve an alliance', async () => {
    ok(await yunying(['institution', 'add', 'js', '--name', '江苏省', '--tier', 'province', '--region', '32']), 'province');
    ok(await yunying(['institution', 'add', 'ks-county', '--name', '昆山市第一人民医院', '--tier', 'county', '--grade', '3', '--parent', 'js']), 'county');
    const township = ok(await yunying(['institution', 'add', 'ks-t1', '--name', '周市镇卫生院', '--tier', 'township', '--grade', '1', '--parent', 'ks-county']), 'township');
    assert.deepEqual(JSON.parse(township.stdout), { id: 'ks-t1', name: '周市镇卫生院', tier: 'township', grade: 1, regionCode: null, parentId: 'ks-county', serves: [] });
    const served = ok(await yunying(['institution', 'serve', 'ks-county', 'ks-t1']), 'serve');
    assert.equal(served.stdout, '');
    const institutions = jsonLines(ok(await yunying(['institution', 'list']), 'institution list').stdout);
    const county = institutions.find((row) => row.id === 'ks-county');
    assert.deepEqual(county?.serves, ['ks-t1']);
    assert.equal(county?.parentId, 'js');
    assert.equal(county?.grade, 3);
    assert.equal(institutions.find((row) => row.id === 'js')?.regionCode, '32');
  });

  test('user add takes the password from stdin, or generates and prints one', async () => {
    const fromStdin = ok(await yunying(['user', 'add', 'rad1', '--role', 'radiologist', '--institution', 'ks-county', '--name', '王医生', '--password-stdin'], `${PASSWORD}\n`), 'user add --password-stdin');
    const user = JSON.parse(fromStdin.stdout) as Record<string, unknown>;
    assert.equal(user.username, 'rad1');
    assert.equal(user.role, 'radiologist');
    assert.equal(user.institutionId, 'ks-county');
    assert.equal(user.displayName, '王医生');
    assert.equal(user.password_hash, undefined);
    assert.ok(!fromStdin.stdout.includes(PASSWORD), 'the given password is not echoed');

    const generated = ok(await yunying(['user', 'add', 'tech1', '--role', 'technologist', '--institution', 'ks-t1']), 'user add');
    const match = /^password: (\S+)$/m.exec(generated.stdout);
    assert.ok(match, generated.stdout);
    generatedPassword = match[1]!;
    assert.ok(generatedPassword.length >= 12, generatedPassword);

    const users = jsonLines(ok(await yunying(['user', 'list']), 'user list').stdout);
    assert.deepEqual(users.map((row) => row.username).sort(), ['rad1', 'tech1']);
    assert.ok(users.every((row) => row.enabled === true && row.password_hash === undefined));
  });

  test('ae add registers calling AE titles; ae list shows them', async () => {
    ok(await yunying(['ae', 'add', 'T1_CT', '--institution', 'ks-t1', '--description', 'CT at 周市']), 'ae add');
    const added = ok(await yunying(['ae', 'add', 'T1_VIEW', '--institution', 'ks-t1', '--host', '127.0.0.1', '--port', '11113']), 'ae add with address');
    assert.deepEqual(JSON.parse(added.stdout), { aeTitle: 'T1_VIEW', institutionId: 'ks-t1', host: '127.0.0.1', port: 11113 });
    const aes = jsonLines(ok(await yunying(['ae', 'list']), 'ae list').stdout);
    assert.deepEqual(aes.sort((a, b) => String(a.aeTitle).localeCompare(String(b.aeTitle))), [
      { aeTitle: 'T1_CT', institutionId: 'ks-t1', description: 'CT at 周市' },
      { aeTitle: 'T1_VIEW', institutionId: 'ks-t1', host: '127.0.0.1', port: 11113 },
    ]);
  });

  test('usage errors exit 2 with a clear message; an unknown user exits 3', async () => {
    const cases: Array<[string[], RegExp, string?]> = [
      [[], /usage: yunying/],
      [['frobnicate', 'now'], /unknown command: frobnicate now/],
      [['user', 'add', 'nobody-role', '--institution', 'ks-t1'], /--role is required/],
      [['user', 'add', 'x1', '--role', 'superuser', '--institution', 'ks-t1'], /role must be one of technologist/],
      [['user', 'add', 'weak', '--role', 'clinician', '--institution', 'ks-t1', '--password-stdin'], /at least 8 characters/, 'short\n'],
      [['user', 'passwd', 'rad1'], /--password-stdin/],
      [['institution', 'add', 'x2', '--name', 'x', '--tier', 'planet'], /--tier must be one of province, city, county, township/],
      [['ae', 'add', 'BAD_PORT', '--institution', 'ks-t1', '--host', '127.0.0.1', '--port', '70000'], /--port must be a TCP port/],
      [['audit', 'export', '--format', 'xml'], /--format is ndjson or csv/],
    ];
    // independent and refused before any write: run side by side
    const results = await Promise.all(cases.map(([args, , stdin]) => yunying(args, stdin)));
    for (const [index, [args, message]] of cases.entries()) {
      const result = results[index]!;
      assert.equal(result.code, 2, `${args.join(' ')}: exit ${result.code}\n${result.stderr}`);
      assert.match(`${result.stderr}${result.stdout}`, message, args.join(' '));
      assert.ok(!/at .*\.ts:\d+/.test(result.stderr), `${args.join(' ')}: no stack trace\n${result.stderr}`);
    }
    const [unknownUser, unknownInstitution] = await Promise.all([yunying(['user', 'disable', 'nobody']), yunying(['user', 'add', 'orphan', '--role', 'clinician', '--institution', 'nowhere'])]);
    assert.equal(unknownUser.code, 3, unknownUser.stderr);
    assert.match(unknownUser.stderr, /user nobody not found/);
    assert.equal(unknownInstitution.code, 3, unknownInstitution.stderr);
    assert.match(unknownInstitution.stderr, /institution nowhere not found/);
    // nothing half-made: the refused users do not exist
    const users = jsonLines(ok(await yunying(['user', 'list']), 'user list').stdout);
    assert.deepEqual(users.map((row) => row.username).sort(), ['rad1', 'tech1']);
  });

  test('an unknown option is a usage error too', async () => {
    const result = await yunying(['user', 'list', '--bogus']);
    assert.equal(result.code, 2, result.stderr);
    assert.match(result.stderr, /--bogus/);
  });

  test('user signature stores a validated PNG for the report PDF, audited; --remove takes it away', async () => {
    const png = signaturePng();
    const file = path.join(dataDir, 'signature.png');
    await writeFile(file, png);
    const set = JSON.parse(ok(await yunying(['user', 'signature', 'rad1', file]), 'user signature').stdout) as Record<string, unknown>;
    assert.deepEqual({ ...set, sha256: typeof set.sha256 }, { username: 'rad1', sha256: 'string', width: 120, height: 40, bytes: png.length });

    // not a PNG, a truncated one, too large, an unknown user, no file: refused, nothing stored
    const notPng = path.join(dataDir, 'signature.jpg');
    await writeFile(notPng, Buffer.from([0xff, 0xd8, 0xff, 0xe0, ...Buffer.alloc(64)]));
    const truncated = path.join(dataDir, 'truncated.png');
    await writeFile(truncated, png.subarray(0, 20));
    const huge = path.join(dataDir, 'huge.png');
    await writeFile(huge, Buffer.concat([png, Buffer.alloc(300 * 1024)]));
    for (const [bad, message] of [[notPng, /not a PNG/], [truncated, /not a PNG|IHDR/], [huge, /at most 262144/]] as const) {
      const refused = await yunying(['user', 'signature', 'tech1', bad]);
      assert.equal(refused.code, 2, refused.stderr);
      assert.match(refused.stderr, message);
    }
    const unknown = await yunying(['user', 'signature', 'nobody', file]);
    assert.equal(unknown.code, 3, unknown.stderr);
    assert.equal((await yunying(['user', 'signature', 'tech1', path.join(dataDir, 'missing.png')])).code, 2);

    const db = new Database(path.join(dataDir, 'index.sqlite'), { readonly: true });
    try {
      const rows = db.prepare('SELECT username, png_base64, sha256, updated_by FROM user_signatures').all() as Array<{ username: string; png_base64: string; sha256: string; updated_by: string }>;
      assert.deepEqual(rows.map((row) => row.username), ['rad1']);
      assert.ok(Buffer.from(rows[0]!.png_base64, 'base64').equals(png));
      assert.equal(rows[0]!.sha256, set.sha256);
      assert.match(rows[0]!.updated_by, /^cli:/);
      const audit = db.prepare("SELECT action, object_type, details FROM audit_events WHERE action LIKE 'user.signature.%'").all() as Array<{ action: string; object_type: string; details: string }>;
      assert.equal(audit.length, 1);
      assert.equal(audit[0]!.object_type, 'user');
      assert.deepEqual(JSON.parse(audit[0]!.details), { username: 'rad1', sha256: set.sha256, bytes: png.length, width: 120, height: 40 });
    } finally {
      db.close();
    }

    assert.match(ok(await yunying(['user', 'signature', 'rad1', '--remove']), 'remove').stdout, /signature removed: rad1/);
    assert.match(ok(await yunying(['user', 'signature', 'rad1', '--remove']), 'remove again').stdout, /no signature was set/);
    const after = new Database(path.join(dataDir, 'index.sqlite'), { readonly: true });
    try {
      assert.equal((after.prepare('SELECT count(*) AS n FROM user_signatures').get() as { n: number }).n, 0);
      assert.equal((after.prepare("SELECT count(*) AS n FROM audit_events WHERE action = 'user.signature.removed'").get() as { n: number }).n, 1);
    } finally {
      after.close();
    }
  });

  test('the server on the same data directory logs in the users the CLI created', async () => {
    // its default log level: startServerProcess waits for the "yunying started" line
    const server = await startServerProcess(dataDir);
    try {
      const login = async (username: string, password: string) => {
        const response = await fetch(`${server.baseUrl}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username, password }) });
        return { status: response.status, body: (await response.json()) as { token?: string; user?: { role: string; institutionId: string } } };
      };
      const rad = await login('rad1', PASSWORD);
      assert.equal(rad.status, 200, JSON.stringify(rad.body));
      assert.equal(rad.body.user?.role, 'radiologist');
      assert.equal(rad.body.user?.institutionId, 'ks-county');
      const me = await fetch(`${server.baseUrl}/api/v1/auth/me`, { headers: { authorization: `Bearer ${rad.body.token}` } });
      assert.equal(me.status, 200);
      assert.equal(((await me.json()) as { username: string }).username, 'rad1');
      assert.equal((await login('tech1', generatedPassword)).status, 200);
      assert.equal((await login('rad1', 'not-the-password')).status, 401);
      // users existed, so no admin was created from YUNYING_ADMIN_PASSWORD
      assert.equal((await login('admin', 'test-admin-Passw0rd')).status, 401);
    } finally {
      await server.stop();
    }
  });

  test('audit verify finds the chain intact, then names the record a database edit altered', async () => {
    const intact = await yunying(['audit', 'verify']);
    assert.equal(intact.code, 0, intact.stderr);
    const head = /intact: (\d+) records, head (\d+):([0-9a-f]{64})/.exec(intact.stdout);
    assert.ok(head, intact.stdout);
    assert.ok(Number(head[1]) >= 10, intact.stdout); // institutions, alliance, users, AEs, the server's logins
    // the head recorded elsewhere: a later check passes through it, a wrong one or a cut tail fails
    assert.equal((await yunying(['audit', 'verify', '--expect-head', `${head[2]}:${head[3]}`])).code, 0);
    assert.equal((await yunying(['audit', 'verify', '--expect-head', `${head[2]}:${'0'.repeat(64)}`])).code, 1);
    const beyond = await yunying(['audit', 'verify', '--expect-head', `${Number(head[2]) + 1000}:${head[3]}`]);
    assert.equal(beyond.code, 1);
    assert.match(beyond.stderr, /records were cut/);
    assert.equal((await yunying(['audit', 'verify', '--expect-head', 'nonsense'])).code, 2);

    const db = new Database(path.join(dataDir, 'index.sqlite'));
    let victim: { seq: number; actor_name: string };
    try {
      victim = db.prepare("SELECT seq, actor_name FROM audit_events WHERE action = 'user.created' ORDER BY seq LIMIT 1").get() as { seq: number; actor_name: string };
      assert.ok(victim, 'a user.created record');
      db.prepare('UPDATE audit_events SET actor_name = ? WHERE seq = ?').run('someone-else', victim.seq);
    } finally {
      db.close();
    }
    const broken = await yunying(['audit', 'verify']);
    assert.equal(broken.code, 1, `${broken.stdout}${broken.stderr}`);
    assert.match(broken.stderr, new RegExp(`BROKEN at record ${victim.seq}: its content does not match its hash \\(${victim.seq - 1} records verified before it\\)`));
    assert.ok(!broken.stdout.includes('intact'));
  });

  test('audit export --format csv writes a header and one row per record', async () => {
    const result = ok(await yunying(['audit', 'export', '--format', 'csv']), 'audit export');
    const lines = result.stdout.trimEnd().split('\n');
    assert.equal(lines[0], 'seq,occurred_at,action,outcome,actor_name,actor_role,actor_institution_id,remote_address,via,object_type,object_id,patient_id,details,hash');
    assert.ok(lines.length > 10, result.stdout);
    const rows = lines.slice(1);
    assert.ok(rows.every((line, index) => line.startsWith(`${index + 1},`)), 'rows in sequence from 1');
    assert.ok(rows.some((line) => /,user\.created,success,someone-else,/.test(line)), 'the altered record as it now stands');
    assert.ok(rows.some((line) => /,user\.logged-in,success,rad1,radiologist,ks-county,/.test(line) && line.includes(',rest,')), 'the server\'s login');
    assert.ok(rows.some((line) => line.includes(',user.login-failed,failure,rad1,')), 'the failed login');
    assert.ok(rows.some((line) => line.includes(',audit.verified,')), 'the verification itself is audited');
    assert.ok(!result.stdout.includes(PASSWORD) && !result.stdout.includes(generatedPassword) && !result.stdout.includes('not-the-password'), 'no passwords in the trail');
    // a details cell with commas and quotes is one CSV field
    assert.ok(rows.some((line) => line.includes('"{""id"":""js"",""name"":""江苏省""')), 'JSON details quoted');
  });
});

describe('audit verify: the head kept outside the database, and the keyed chain (issue 12, finding 20)', { timeout: 120_000 }, () => {
  let firstDataDir: string;
  before(async () => {
    firstDataDir = dataDir;
    dataDir = await mkdtemp(path.join(tmpdir(), 'yunying-cli-head-'));
    ok(await yunying(['institution', 'add', 'hz', '--name', '杭州市', '--tier', 'city']), 'institution');
    for (const name of ['a', 'b', 'c', 'd']) ok(await yunying(['user', 'add', `head-${name}`, '--role', 'radiologist', '--institution', 'hz']), 'user');
  });
  after(async () => {
    await rm(dataDir, { recursive: true, force: true });
    dataDir = firstDataDir;
  });

  test('the head is printed on every verify; with it in a file, cutting the last records is detected', async () => {
    const intact = ok(await yunying(['audit', 'verify']), 'verify');
    const head = /head (\d+):([0-9a-f]{64})/.exec(intact.stdout)!;
    assert.ok(head, intact.stdout);
    const headFile = path.join(dataDir, '..', `${path.basename(dataDir)}-head.txt`);
    // what an operator keeps: the whole output of a verify
    await writeFile(headFile, intact.stdout);
    try {
      const again = ok(await yunying(['audit', 'verify', '--expect-head', headFile]), 'verify against the file');
      assert.match(again.stdout, /head \d+:[0-9a-f]{64}/);
      const db = new Database(path.join(dataDir, 'index.sqlite'));
      try {
        db.prepare('DELETE FROM audit_events WHERE seq > ?').run(Number(head[1]) - 2);
      } finally {
        db.close();
      }
      const cut = await yunying(['audit', 'verify', '--expect-head', headFile]);
      assert.equal(cut.code, 1, `${cut.stdout}${cut.stderr}`);
      assert.match(cut.stderr, /records were cut/);
      assert.match(cut.stdout, new RegExp(`head of the part that verified: ${Number(head[1]) - 2}:[0-9a-f]{64}`));
      assert.equal((await yunying(['audit', 'verify', '--expect-head', path.join(dataDir, 'no-such-file')])).code, 2);
    } finally {
      await rm(headFile, { force: true });
    }
  });

  test('a record edited and re-hashed with plain SHA-256 (database access, no key) is detected', async () => {
    const db = new Database(path.join(dataDir, 'index.sqlite'));
    let victimSeq: number;
    try {
      const rows = db.prepare('SELECT * FROM audit_events ORDER BY seq').all() as AuditRow[];
      const victim = rows.find((row) => row.action === 'user.created')!;
      victimSeq = victim.seq;
      let prevHash = rows.find((row) => row.seq === victim.seq - 1)!.hash;
      for (const row of rows.filter((r) => r.seq >= victim.seq)) {
        const edited = { ...row, actor_name: row.seq === victim.seq ? 'someone-else' : row.actor_name, prev_hash: prevHash };
        prevHash = auditHash(edited);
        db.prepare('UPDATE audit_events SET actor_name = ?, prev_hash = ?, hash = ? WHERE seq = ?').run(edited.actor_name, edited.prev_hash, prevHash, row.seq);
      }
    } finally {
      db.close();
    }
    const broken = await yunying(['audit', 'verify']);
    assert.equal(broken.code, 1, `${broken.stdout}${broken.stderr}`);
    assert.match(broken.stderr, new RegExp(`BROKEN at record ${victimSeq}: its content does not match its hash`));
  });
});

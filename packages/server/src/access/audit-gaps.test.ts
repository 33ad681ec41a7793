/**
 * Audit gaps (issue 12, findings 12 and 17), over real HTTP on a county centre serving a
 * township: refusals (403) and lookups that found nothing the caller may see (404) are
 * recorded as `access.denied` while the caller sees the same answer as for an absent study;
 * statistics views, SSE subscriptions and staff views of cloud-film links and their QR codes
 * are recorded; none of those records carries a patient's name; and the CSV export
 * neutralises every cell a spreadsheet would run as a formula, also behind TAB, CR or spaces.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startListeningServer, type ListeningServer } from '../test-support/listening-server.ts';
import { TEST_ADMIN_PASSWORD } from '../test-support/admin-auth.ts';
import { makeSyntheticInstance, newUid, type SyntheticInstance } from '../test-support/synthetic-dicom.ts';
import { stowBody } from '../dicomweb/test-support.ts';
import { callHttp, type HttpAnswer, type HttpCallOptions } from '../test-support/http-client.ts';

const PASSWORD = 'Audit-Gaps-Pass-7319';
const PATIENT = { name: 'Gapname^Patient', ideographic: '缺^漏', id: 'PID-GAPS-1' };

type Http = HttpAnswer;

interface Row {
  seq: number;
  action: string;
  outcome: string;
  actor_name: string;
  object_type: string | null;
  object_id: string | null;
  details: Record<string, unknown>;
}

let server: ListeningServer;
const tokens: Record<string, string> = {};
let studyT1: SyntheticInstance;
let studyT2: SyntheticInstance;

async function http(method: string, url: string, options: HttpCallOptions = {}): Promise<Http> {
  return callHttp(server.baseUrl, method, url, options);
}

async function login(username: string, password = PASSWORD): Promise<string> {
  const response = await http('POST', '/api/v1/auth/login', { body: { username, password } });
  assert.equal(response.status, 200, response.text);
  return (response.body as { token: string }).token;
}

/** The trail as the auditor reads it, newest first, after `afterSeq`. */
async function trail(afterSeq: number, action?: string): Promise<Row[]> {
  const response = await http('GET', `/api/v1/audit-events?afterSeq=${afterSeq}&limit=1000${action ? `&action=${encodeURIComponent(action)}` : ''}`, { token: tokens.auditor });
  assert.equal(response.status, 200, response.text);
  return response.body as Row[];
}

async function headSeq(): Promise<number> {
  const rows = (await http('GET', '/api/v1/audit-events?order=desc&limit=1', { token: tokens.auditor })).body as Row[];
  return rows[0]!.seq;
}

function assertNoPatientName(rows: readonly Row[]): void {
  const text = JSON.stringify(rows);
  for (const part of ['Gapname', '缺', '漏']) assert.ok(!text.includes(part), `a patient name in the trail: ${text}`);
}

before(async () => {
  server = await startListeningServer();
  const admin = await login('admin', TEST_ADMIN_PASSWORD);
  tokens.admin = admin;
  for (const institution of [
    { id: 'gp-county', name: '县医院', tier: 'county' },
    { id: 'gp-t1', name: '一镇卫生院', tier: 'township', parentId: 'gp-county' },
    { id: 'gp-t2', name: '二镇卫生院', tier: 'township', parentId: 'gp-county' },
  ]) assert.equal((await http('POST', '/api/v1/institutions', { token: admin, body: institution })).status, 201);
  for (const [username, role, institutionId] of [
    ['gp-tech1', 'technologist', 'gp-t1'],
    ['gp-tech2', 'technologist', 'gp-t2'],
    ['gp-analyst', 'commission-analyst', 'gp-county'],
    ['gp-auditor', 'insurance-auditor', 'gp-county'],
  ] as const) {
    const created = await http('POST', '/api/v1/users', { token: admin, body: { username, password: PASSWORD, role, institutionId } });
    assert.equal(created.status, 201, created.text);
  }
  tokens.tech1 = await login('gp-tech1');
  tokens.tech2 = await login('gp-tech2');
  tokens.analyst = await login('gp-analyst');
  tokens.auditor = await login('gp-auditor');
  studyT1 = makeSyntheticInstance({ patientName: `${PATIENT.name}=${PATIENT.ideographic}`, patientId: PATIENT.id });
  studyT2 = makeSyntheticInstance({ patientName: `${PATIENT.name}=${PATIENT.ideographic}`, patientId: 'PID-GAPS-2' });
  for (const [token, instance] of [[tokens.tech1, studyT1], [tokens.tech2, studyT2]] as const) {
    const { payload, contentType } = stowBody([instance.bytes]);
    const stored = await http('POST', '/dicom-web/studies', { token, raw: payload, headers: { 'content-type': contentType, accept: 'application/dicom+json' } });
    assert.equal(stored.status, 200, stored.text);
  }
});

after(async () => {
  await server?.close();
});

describe('access.denied', () => {
  test('a 403 is recorded with the caller, the status and the path', async () => {
    const from = await headSeq();
    const refused = await http('GET', '/api/v1/users', { token: tokens.tech1 });
    assert.equal(refused.status, 403);
    const rows = await trail(from, 'access.denied');
    assert.equal(rows.length, 1, JSON.stringify(rows));
    assert.equal(rows[0]!.actor_name, 'gp-tech1');
    assert.equal(rows[0]!.outcome, 'failure');
    assert.deepEqual({ status: rows[0]!.details.status, method: rows[0]!.details.method, path: rows[0]!.details.path }, { status: 403, method: 'GET', path: '/api/v1/users' });
  });

  test('a study out of scope answers like an absent one, and both lookups are recorded with the UID', async () => {
    const from = await headSeq();
    const absentUid = newUid();
    const outOfScope = await http('GET', `/dicom-web/studies/${studyT2.studyInstanceUid}/metadata`, { token: tokens.tech1 });
    const absent = await http('GET', `/dicom-web/studies/${absentUid}/metadata`, { token: tokens.tech1 });
    assert.equal(outOfScope.status, 404);
    assert.equal(absent.status, 404);
    assert.equal(outOfScope.text.replace(studyT2.studyInstanceUid, 'UID'), absent.text.replace(absentUid, 'UID'), 'the same answer');
    const rows = await trail(from, 'access.denied');
    assert.deepEqual(rows.map((row) => [row.actor_name, row.object_type, row.object_id, row.details.status]), [
      ['gp-tech1', 'study', studyT2.studyInstanceUid, 404],
      ['gp-tech1', 'study', absentUid, 404],
    ]);
    assert.equal(rows[0]!.details.path, `/dicom-web/studies/${studyT2.studyInstanceUid}/metadata`);
    assertNoPatientName(rows);
  });

  test('a cloud-film link of another institution is a recorded 404', async () => {
    const created = await http('POST', '/api/v1/share-links', { token: tokens.tech2, body: { studyInstanceUid: studyT2.studyInstanceUid, accessCode: false } });
    assert.equal(created.status, 201, created.text);
    const from = await headSeq();
    assert.equal((await http('GET', `/api/v1/share-links/${(created.body as { id: string }).id}`, { token: tokens.tech1 })).status, 404);
    const rows = await trail(from, 'access.denied');
    assert.equal(rows.length, 1);
    assert.equal(rows[0]!.details.status, 404);
  });

  test('404s without a resolved caller are not recorded: unknown API paths, the web app, a wrong token', async () => {
    const from = await headSeq();
    assert.equal((await http('GET', '/api/v1/no-such-thing', { token: tokens.tech1 })).status, 404);
    assert.equal((await http('GET', '/dicom-web/studies/1.2.3/metadata', { headers: { authorization: `Bearer ${'x'.repeat(43)}` } })).status, 401);
    await http('GET', '/some/client/route', { token: tokens.tech1 });
    assert.deepEqual(await trail(from, 'access.denied'), []);
  });
});

describe('views that left no record', () => {
  test('study statistics and reading statistics are recorded as statistics.viewed', async () => {
    const from = await headSeq();
    assert.equal((await http('GET', '/api/v1/statistics/studies?groupBy=institution', { token: tokens.analyst })).status, 200);
    const reading = await http('GET', `/api/v1/reading-statistics/radiologists?from=${encodeURIComponent('2020-01-01T00:00:00Z')}&to=${encodeURIComponent('2030-01-01T00:00:00Z')}`, { token: tokens.admin });
    assert.equal(reading.status, 200, reading.text);
    const rows = await trail(from, 'statistics.viewed');
    assert.deepEqual(rows.map((row) => [row.actor_name, row.details.report]), [
      ['gp-analyst', 'studies'],
      ['admin', 'radiologist-workload'],
    ]);
    assert.equal(rows[0]!.details.groupBy, 'institution');
  });

  test('an SSE subscription is recorded as events.subscribed', async () => {
    const from = await headSeq();
    const abort = new AbortController();
    const response = await fetch(`${server.baseUrl}/api/v1/events`, { headers: { authorization: `Bearer ${tokens.tech1}` }, signal: abort.signal });
    assert.equal(response.status, 200);
    const reader = response.body!.getReader();
    await reader.read(); // the stream is open
    abort.abort();
    await reader.cancel().catch(() => undefined);
    const rows = await trail(from, 'events.subscribed');
    assert.equal(rows.length, 1);
    assert.equal(rows[0]!.actor_name, 'gp-tech1');
    assert.deepEqual(rows[0]!.details.institutionIds, ['gp-t1']);
  });

  test('staff views of cloud-film links and their QR codes are recorded as share.link-viewed', async () => {
    const created = await http('POST', '/api/v1/share-links', { token: tokens.tech1, body: { studyInstanceUid: studyT1.studyInstanceUid, accessCode: false } });
    assert.equal(created.status, 201, created.text);
    const id = (created.body as { id: string }).id;
    const from = await headSeq();
    for (const url of [`/api/v1/share-links?studyInstanceUid=${studyT1.studyInstanceUid}`, `/api/v1/share-links/${id}`, `/api/v1/share-links/${id}/qr.png`, `/api/v1/share-links/${id}/qr.svg`, `/api/v1/share-links/${id}/accesses`]) {
      assert.equal((await http('GET', url, { token: tokens.tech1 })).status, 200, url);
    }
    const rows = await trail(from, 'share.link-viewed');
    assert.deepEqual(rows.map((row) => row.details.view), ['list', 'link', 'qr-png', 'qr-svg', 'accesses']);
    assert.ok(rows.every((row) => row.actor_name === 'gp-tech1' && row.object_type === 'share'));
    assert.deepEqual(rows.map((row) => row.object_id), [studyT1.studyInstanceUid, id, id, id, id]);
    assertNoPatientName(rows);
    assert.ok(!JSON.stringify(rows).includes((created.body as { url: string }).url), 'the link itself (its token) is not in the trail');
  });
});

describe('chain verification over REST (finding 20)', () => {
  test('the answer names the head, and a head recorded earlier is checked', async () => {
    const first = await http('GET', '/api/v1/audit-events/verification', { token: tokens.auditor });
    assert.equal(first.status, 200, first.text);
    const result = first.body as { ok: boolean; head: string; headSeq: number; headHash: string; keyedFromSeq: number };
    assert.equal(result.ok, true);
    assert.equal(result.head, `${result.headSeq}:${result.headHash}`);
    assert.equal(result.keyedFromSeq, 1);
    const through = await http('GET', `/api/v1/audit-events/verification?expectHead=${result.head}`, { token: tokens.auditor });
    assert.equal((through.body as { ok: boolean }).ok, true, through.text);
    const beyond = await http('GET', `/api/v1/audit-events/verification?expectHead=${result.headSeq + 1000}:${result.headHash}`, { token: tokens.auditor });
    assert.equal((beyond.body as { ok: boolean }).ok, false);
    assert.match((beyond.body as { brokenAt: { reason: string } }).brokenAt.reason, /records were cut/);
    const other = await http('GET', `/api/v1/audit-events/verification?expectHead=${result.headSeq}:${'0'.repeat(64)}`, { token: tokens.auditor });
    assert.equal((other.body as { ok: boolean }).ok, false);
    assert.equal((await http('GET', '/api/v1/audit-events/verification?expectHead=nonsense', { token: tokens.auditor })).status, 400);
  });
});

describe('CSV export', () => {
  test('cells a spreadsheet would run as formulas are neutralised, also behind TAB, CR, spaces and full-width signs', async () => {
    const payloads = ['=1+2', '\t=1+2', '\r=1+2', '  @SUM(A1)', ' -3+4', '+5', '\t\t+6', '＝7+8'];
    for (const username of payloads) assert.equal((await http('POST', '/api/v1/auth/login', { body: { username, password: 'no-such-Password-1' } })).status, 401);
    const csv = await http('GET', '/api/v1/audit-events/export?format=csv&action=user.login-failed', { token: tokens.auditor });
    assert.equal(csv.status, 200);
    const cells = parseCsv(csv.text.replace(/^\uFEFF/, ''));
    const header = cells[0]!;
    const actor = header.indexOf('actor_name');
    const names = cells.slice(1).map((row) => row[actor]!);
    for (const payload of payloads) assert.ok(names.includes(`'${payload}`), `${JSON.stringify(payload)} exported as ${JSON.stringify(names)}`);
    for (const row of cells.slice(1)) for (const cell of row) assert.ok(!/^[\s]*[=+\-@＝＋－＠]/.test(cell), `a formula cell: ${JSON.stringify(cell)}`);
  });

  test('times are Asia/Shanghai wall-clock with the offset, the zone is named, the stored UTC instant is kept', async () => {
    const csv = await http('GET', '/api/v1/audit-events/export?format=csv&action=user.login-failed', { token: tokens.auditor });
    assert.equal(csv.status, 200);
    const [header, ...rows] = parseCsv(csv.text.replace(/^\uFEFF/, ''));
    const column = (name: string) => header!.indexOf(name);
    assert.ok(column('time_zone') > 0 && column('occurred_at_utc') > 0, header!.join(','));
    assert.ok(rows.length > 0);
    for (const row of rows) {
      const utc = row[column('occurred_at_utc')]!;
      // Shanghai is UTC+8 all year (no summer time): the wall clock is the instant plus 8 hours
      const wall = new Date(Date.parse(utc) + 8 * 3_600_000).toISOString();
      assert.equal(row[column('occurred_at')], `${wall.slice(0, 10)} ${wall.slice(11, 19)} +08:00`);
      assert.equal(row[column('time_zone')], 'Asia/Shanghai');
    }
    const json = await http('GET', '/api/v1/audit-events?action=user.login-failed&limit=1', { token: tokens.auditor });
    assert.match((json.body as Array<{ occurred_at: string }>)[0]!.occurred_at, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/, 'the JSON API keeps ISO 8601 UTC');
  });
});

/** RFC 4180: quoted fields may hold commas, quotes (doubled) and line breaks. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < text.length; i += 1) {
    const char = text[i]!;
    if (quoted) {
      if (char === '"' && text[i + 1] === '"') {
        cell += '"';
        i += 1;
      } else if (char === '"') quoted = false;
      else cell += char;
    } else if (char === '"') quoted = true;
    else if (char === ',') {
      row.push(cell);
      cell = '';
    } else if (char === '\n') {
      row.push(cell);
      rows.push(row);
      row = [];
      cell = '';
    } else cell += char;
  }
  if (cell || row.length) rows.push([...row, cell]);
  return rows;
}

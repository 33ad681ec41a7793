/**
 * The review stage (审核, issue 14 item 6) over real HTTP, on SQLite and PostgreSQL: signing
 * is an electronic signature (the reviewer's password or signing PIN; a wrong one is refused
 * with SIGNATURE_REJECTED and nothing is signed; failures are throttled like logins and share
 * the account's login limit), the reviewer may change the text before signing (a
 * 'review-edit' version between the author's submitted one and the signed one, the
 * signature row naming both), and a returned report is marked on the author's worklist with
 * the comments and announced on the author's event stream. The SLA clock runs until signing.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startListeningServer, type ListeningServer } from '../test-support/listening-server.ts';
import { TEST_ADMIN_PASSWORD } from '../test-support/admin-auth.ts';
import { makeSyntheticInstance } from '../test-support/synthetic-dicom.ts';
import { stowBody } from '../dicomweb/test-support.ts';
import { callHttp, type HttpAnswer } from '../test-support/http-client.ts';
import { createTestDatabase, type TestDatabase } from '../test-support/postgres.ts';

const PASSWORD = 'Correct-Horse-9';
const USERS = {
  tech: { role: 'technologist', institutionId: 'rv-town' },
  rad: { role: 'radiologist', institutionId: 'rv-centre' },
  rev: { role: 'reviewing-radiologist', institutionId: 'rv-centre' },
  rev2: { role: 'reviewing-radiologist', institutionId: 'rv-centre' },
  rev3: { role: 'reviewing-radiologist', institutionId: 'rv-centre' },
} as const;
type User = keyof typeof USERS | 'admin';

interface Version {
  version: number;
  kind: string;
  findings: string;
  impression: string;
  positive: boolean | null;
  addendum: string | null;
  savedBy: string;
}
interface Signature {
  version: number;
  signer: string;
  signedAt: string;
  method: string;
  submittedVersion: number;
  reviewEditVersion: number | null;
}
interface ReportBody {
  id: string;
  status: string;
  version: number;
  findings: string;
  impression: string;
  positive: boolean | null;
  reviewer: string | null;
  versions: Version[];
  signatures: Signature[];
}
interface Row {
  id: string;
  status: string;
  remainingSeconds: number | null;
  dueAt: string | null;
  reportStatus?: string | null;
  reviewComments?: string | null;
}
interface AuditRow {
  action: string;
  outcome: string;
  actor_name: string;
  details: Record<string, unknown>;
}

for (const backend of ['sqlite', 'postgres'] as const) {
  describe(`${backend}: the review stage over HTTP`, () => {
    let server: ListeningServer;
    let database: TestDatabase | undefined;
    const tokens = {} as Record<User, string>;
    const as = (user: User, method: string, url: string, body?: unknown): Promise<HttpAnswer> => callHttp(server.baseUrl, method, url, { token: tokens[user], body });
    const ok = (answer: HttpAnswer, status: number, what: string) => assert.equal(answer.status, status, `${what}: ${answer.text}`);
    const name = (user: User) => (user === 'admin' ? 'admin' : `rv-${user}`);
    const codeOf = (answer: HttpAnswer) => (answer.body as { code?: string }).code;

    /** A submitted report of a new study: request, claim, draft, submit. */
    async function submittedReport(text = { findings: '双肺纹理清晰，右肺下叶见小结节。', impression: '右肺下叶小结节，建议随访。' }): Promise<{ requestId: string; reportId: string }> {
      const instance = makeSyntheticInstance({ patientId: `RV${Math.random().toString().slice(2, 9)}`, patientName: 'Wang^Wu=王^五', studyDate: '20261201' });
      const { payload, contentType } = stowBody([instance.bytes]);
      const stored = await callHttp(server.baseUrl, 'POST', '/dicom-web/studies', { token: tokens.tech, raw: payload, headers: { 'content-type': contentType, accept: 'application/dicom+json' } });
      ok(stored, 200, 'stow');
      const created = await as('tech', 'POST', '/api/v1/reading-requests', { studyInstanceUid: instance.studyInstanceUid, readingInstitutionId: 'rv-centre', priority: 'urgent', imagesComplete: true });
      ok(created, 201, 'request');
      const requestId = (created.body as { id: string }).id;
      ok(await as('rad', 'POST', `/api/v1/reading-requests/${requestId}/claim`), 200, 'claim');
      const draft = await as('rad', 'PUT', `/api/v1/reading-requests/${requestId}/report`, { ...text, positive: true });
      ok(draft, 200, 'draft');
      const reportId = (draft.body as { id: string }).id;
      ok(await as('rad', 'POST', `/api/v1/reports/${reportId}/submit`), 200, 'submit');
      return { requestId, reportId };
    }

    async function audit(action: string): Promise<AuditRow[]> {
      const answer = await as('admin', 'GET', `/api/v1/audit-events?action=${action}&limit=200`);
      ok(answer, 200, 'audit');
      return answer.body as AuditRow[];
    }

    const report = async (user: User, reportId: string) => (await as(user, 'GET', `/api/v1/reports/${reportId}`)).body as ReportBody;

    before(async () => {
      database = backend === 'postgres' ? await createTestDatabase() : undefined;
      server = await startListeningServer(database ? { YUNYING_DATABASE_URL: database.url } : {});
      tokens.admin = ((await callHttp(server.baseUrl, 'POST', '/api/v1/auth/login', { body: { username: 'admin', password: TEST_ADMIN_PASSWORD } })).body as { token: string }).token;
      for (const institution of [
        { id: 'rv-centre', name: '县医院影像中心', tier: 'county' },
        { id: 'rv-town', name: '镇卫生院', tier: 'township', parentId: 'rv-centre' },
      ]) ok(await as('admin', 'POST', '/api/v1/institutions', institution), 201, institution.id);
      ok(await as('admin', 'PUT', '/api/v1/institutions/rv-centre/members/rv-town'), 204, 'member');
      for (const [user, { role, institutionId }] of Object.entries(USERS)) {
        ok(await as('admin', 'POST', '/api/v1/users', { username: name(user as User), password: PASSWORD, role, institutionId, displayName: `${user}医生` }), 201, user);
        const login = await callHttp(server.baseUrl, 'POST', '/api/v1/auth/login', { body: { username: name(user as User), password: PASSWORD } });
        ok(login, 200, `login ${user}`);
        tokens[user as User] = (login.body as { token: string }).token;
      }
    });
    after(async () => {
      await server?.close();
      await database?.drop();
    });

    test('signing needs the password: none or both is 400, a wrong one 403 with nothing signed and the session kept, the right one signs and is stored with the version', async () => {
      const { requestId, reportId } = await submittedReport();
      const none = await as('rev', 'POST', `/api/v1/reports/${reportId}/sign`, {});
      ok(none, 400, 'no credential');
      assert.equal(codeOf(none), 'SIGNATURE_REQUIRED');
      const both = await as('rev', 'POST', `/api/v1/reports/${reportId}/sign`, { password: PASSWORD, pin: '305917' });
      ok(both, 400, 'both');
      assert.equal(codeOf(both), 'SIGNATURE_REQUIRED');
      const wrong = await as('rev', 'POST', `/api/v1/reports/${reportId}/sign`, { password: 'Not-My-Password-1' });
      ok(wrong, 403, 'wrong password');
      assert.equal(codeOf(wrong), 'SIGNATURE_REJECTED');
      assert.equal((await report('rev', reportId)).status, 'submitted', 'nothing signed');
      ok(await as('rev', 'GET', '/api/v1/auth/me'), 200, 'the session survives a wrong signature');
      const failures = (await audit('report.signature-failed')).filter((row) => row.actor_name === 'rv-rev');
      assert.equal(failures.length, 1);
      assert.equal(failures[0]!.outcome, 'failure');
      assert.equal(failures[0]!.details.reason, 'wrong password');
      assert.equal(failures[0]!.details.reportId, reportId);
      assert.ok(!JSON.stringify(failures[0]).includes('Not-My-Password-1'), 'the password is never in the trail');

      // the worklist and the request keep the SLA clock through the review stage
      const waiting = ((await as('rev', 'GET', '/api/v1/reading-requests?status=submitted')).body as Row[]).find((row) => row.id === requestId)!;
      assert.equal(waiting.status, 'submitted');
      assert.ok(waiting.dueAt && typeof waiting.remainingSeconds === 'number' && waiting.remainingSeconds > 0, JSON.stringify(waiting));

      const signed = await as('rev', 'POST', `/api/v1/reports/${reportId}/sign`, { password: PASSWORD });
      ok(signed, 200, 'sign');
      const body = await report('rad', reportId);
      assert.equal(body.status, 'signed');
      assert.deepEqual(body.versions.map((v) => v.kind), ['submitted', 'signed']);
      assert.equal(body.signatures.length, 1);
      const signature = body.signatures[0]!;
      assert.deepEqual({ version: signature.version, signer: signature.signer, method: signature.method, submittedVersion: signature.submittedVersion, reviewEditVersion: signature.reviewEditVersion }, { version: body.versions[1]!.version, signer: 'rv-rev', method: 'password', submittedVersion: body.versions[0]!.version, reviewEditVersion: null });
      assert.ok(Date.parse(signature.signedAt) > 0);
      const record = (await audit('report.signed')).find((row) => row.details.reportId === reportId)!;
      assert.equal(record.actor_name, 'rv-rev');
      assert.equal(record.details.signatureMethod, 'password');
      // a signed report is not signed again (409 before any password is checked)
      const again = await as('rev', 'POST', `/api/v1/reports/${reportId}/sign`, { password: 'wrong-again' });
      ok(again, 409, 'signed already');
      const request = (await as('rev', 'GET', `/api/v1/reading-requests/${requestId}`)).body as Row;
      assert.equal(request.remainingSeconds, null, 'the clock stops at signing');
    });

    test('the reviewer edits and signs (修改后审核): a review-edit version keeps the change, the author sees both texts, and the edit is audited', async () => {
      const { reportId } = await submittedReport({ findings: '右肺下叶见一枚小结节。\n纵隔未见肿大淋巴结。', impression: '右肺下叶小结节。' });
      const edited = { findings: '右肺下叶见一枚实性小结节，直径约6mm。\n纵隔未见肿大淋巴结。', impression: '右肺下叶实性小结节，建议6个月后复查。' };
      const signed = await as('rev', 'POST', `/api/v1/reports/${reportId}/sign`, { password: PASSWORD, ...edited, positive: true });
      ok(signed, 200, 'edit and sign');
      assert.equal((signed.body as ReportBody).impression, edited.impression);
      const body = await report('rad', reportId);
      assert.deepEqual(body.versions.map((v) => v.kind), ['submitted', 'review-edit', 'signed']);
      const [submitted, reviewEdit, signedVersion] = body.versions as [Version, Version, Version];
      assert.equal(submitted.savedBy, 'rv-rad');
      assert.equal(submitted.impression, '右肺下叶小结节。', 'the author’s text is kept');
      assert.equal(reviewEdit.savedBy, 'rv-rev');
      assert.equal(reviewEdit.findings, edited.findings);
      assert.equal(signedVersion.impression, edited.impression);
      assert.equal(body.findings, edited.findings);
      assert.equal(body.reviewer, 'rv-rev');
      const signature = body.signatures[0]!;
      assert.equal(signature.submittedVersion, submitted.version);
      assert.equal(signature.reviewEditVersion, reviewEdit.version);
      assert.equal(signature.version, signedVersion.version);
      const record = (await audit('report.review-edited')).find((row) => row.details.reportId === reportId)!;
      assert.equal(record.actor_name, 'rv-rev');
      assert.deepEqual(record.details.changed, ['findings', 'impression']);
      assert.equal((await audit('report.signed')).find((row) => row.details.reportId === reportId)!.details.reviewEditVersion, reviewEdit.version);

      // the same text as submitted is no edit; an emptied impression is refused before the signature
      const plain = await submittedReport();
      const emptied = await as('rev', 'POST', `/api/v1/reports/${plain.reportId}/sign`, { password: PASSWORD, impression: '  ' });
      ok(emptied, 400, 'empty impression');
      assert.equal(codeOf(emptied), 'REPORT_INCOMPLETE');
      const current = await report('rev', plain.reportId);
      ok(await as('rev', 'POST', `/api/v1/reports/${plain.reportId}/sign`, { password: PASSWORD, findings: current.findings, impression: current.impression, positive: true }), 200, 'unchanged text');
      assert.deepEqual((await report('rev', plain.reportId)).versions.map((v) => v.kind), ['submitted', 'signed']);
    });

    test('a signing PIN: set by its user with the password (weak ones refused), signs with method pin; a wrong PIN signs nothing; a user without one is told so', async () => {
      const status = await as('rev2', 'GET', '/api/v1/auth/signing-pin');
      ok(status, 200, 'status');
      assert.deepEqual(status.body, { set: false, updatedAt: null });
      ok(await as('rad', 'GET', '/api/v1/auth/signing-pin'), 403, 'a radiologist does not sign');
      const weak = await as('rev2', 'PUT', '/api/v1/auth/signing-pin', { currentPassword: PASSWORD, pin: '123456' });
      ok(weak, 400, 'a run');
      assert.equal(codeOf(weak), 'WEAK_SIGNING_PIN');
      ok(await as('rev2', 'PUT', '/api/v1/auth/signing-pin', { currentPassword: PASSWORD, pin: '12345' }), 400, 'five digits');
      const noPassword = await as('rev2', 'PUT', '/api/v1/auth/signing-pin', { currentPassword: 'Guess-Password-7', pin: '305917' });
      ok(noPassword, 403, 'wrong password');
      assert.equal(codeOf(noPassword), 'SIGNATURE_REJECTED');
      assert.equal(((await as('rev2', 'GET', '/api/v1/auth/signing-pin')).body as { set: boolean }).set, false);
      const set = await as('rev2', 'PUT', '/api/v1/auth/signing-pin', { currentPassword: PASSWORD, pin: '305917' });
      ok(set, 200, 'set');
      assert.equal((set.body as { set: boolean }).set, true);
      assert.ok((await audit('user.signing-pin.set')).some((row) => row.actor_name === 'rv-rev2' && !JSON.stringify(row).includes('305917')));

      const { reportId } = await submittedReport();
      const wrongPin = await as('rev2', 'POST', `/api/v1/reports/${reportId}/sign`, { pin: '305918' });
      ok(wrongPin, 403, 'wrong PIN');
      assert.equal(codeOf(wrongPin), 'SIGNATURE_REJECTED');
      assert.equal((await report('rev2', reportId)).status, 'submitted');
      const unset = await as('rev', 'POST', `/api/v1/reports/${reportId}/sign`, { pin: '305917' });
      ok(unset, 409, 'no PIN of rev');
      assert.equal(codeOf(unset), 'SIGNING_PIN_NOT_SET');
      ok(await as('rev2', 'POST', `/api/v1/reports/${reportId}/sign`, { pin: '305917' }), 200, 'signed with the PIN');
      const body = await report('rev2', reportId);
      assert.equal(body.signatures[0]!.method, 'pin');
      assert.equal(body.signatures[0]!.signer, 'rv-rev2');
      assert.equal((await audit('report.signed')).find((row) => row.details.reportId === reportId)!.details.signatureMethod, 'pin');

      // removed with the password: the PIN no longer signs
      ok(await as('rev2', 'PUT', '/api/v1/auth/signing-pin', { currentPassword: PASSWORD, pin: null }), 200, 'remove');
      const next = await submittedReport();
      ok(await as('rev2', 'POST', `/api/v1/reports/${next.reportId}/sign`, { pin: '305917' }), 409, 'removed');
      assert.ok((await audit('user.signing-pin.removed')).some((row) => row.actor_name === 'rv-rev2'));
    });

    test('wrong signatures are throttled like logins: after five, even the right password is refused with 429 and the account’s login is throttled too', async () => {
      const { reportId } = await submittedReport();
      for (let n = 0; n < 5; n++) {
        const wrong = await as('rev3', 'POST', `/api/v1/reports/${reportId}/sign`, { password: `Wrong-Guess-${n}` });
        ok(wrong, 403, `guess ${n}`);
      }
      const throttled = await as('rev3', 'POST', `/api/v1/reports/${reportId}/sign`, { password: PASSWORD });
      ok(throttled, 429, 'throttled');
      assert.equal(codeOf(throttled), 'SIGNATURE_THROTTLED');
      assert.ok(Number(throttled.headers.get('retry-after')) > 0, 'Retry-After');
      assert.equal((await report('rev3', reportId)).status, 'submitted', 'nothing signed');
      const login = await callHttp(server.baseUrl, 'POST', '/api/v1/auth/login', { body: { username: 'rv-rev3', password: PASSWORD } });
      ok(login, 429, 'the login shares the account’s limit');
      assert.ok((await audit('report.signature-failed')).some((row) => row.actor_name === 'rv-rev3' && row.details.reason === 'throttled'));
      // another reviewer is not affected
      ok(await as('rev', 'POST', `/api/v1/reports/${reportId}/sign`, { password: PASSWORD }), 200, 'rev signs');
    });

    test('a returned report is 已退回 on the author’s worklist with the comments, announced on the author’s stream; resubmitting clears it', async () => {
      const { requestId, reportId } = await submittedReport();
      const stream = await openStream(server.baseUrl, tokens.rad);
      try {
        const comments = '请补充结节的大小与密度描述';
        const returned = await as('rev', 'POST', `/api/v1/reports/${reportId}/return`, { comments });
        ok(returned, 200, 'return');
        const event = await stream.next('report.returned');
        assert.equal(event.reportId, reportId);
        assert.equal(event.author, 'rv-rad');
        assert.equal(event.reviewer, 'rv-rev');
        const rows = (await as('rad', 'GET', '/api/v1/reading-requests?mine=true')).body as Row[];
        const row = rows.find((candidate) => candidate.id === requestId)!;
        assert.equal(row.status, 'claimed');
        assert.equal(row.reportStatus, 'returned');
        assert.equal(row.reviewComments, comments);
        assert.ok(typeof row.remainingSeconds === 'number', 'the clock runs on');
        const record = (await audit('report.returned')).find((row) => row.details.reportId === reportId)!;
        assert.equal(record.actor_name, 'rv-rev');
      } finally {
        stream.close();
      }
      ok(await as('rad', 'PUT', `/api/v1/reading-requests/${requestId}/report`, { findings: '右肺下叶见一枚实性小结节，直径约6mm。', impression: '右肺下叶实性小结节。', positive: true }), 200, 'revise');
      const stillReturned = ((await as('rad', 'GET', '/api/v1/reading-requests?mine=true')).body as Row[]).find((row) => row.id === requestId)!;
      assert.equal(stillReturned.reportStatus, 'returned', 'marked until resubmitted');
      ok(await as('rad', 'POST', `/api/v1/reports/${reportId}/submit`), 200, 'resubmit');
      const resubmitted = ((await as('rev', 'GET', '/api/v1/reading-requests?status=submitted')).body as Row[]).find((row) => row.id === requestId)!;
      assert.equal(resubmitted.reportStatus, 'submitted');
      assert.equal(resubmitted.reviewComments, null);
    });
  });
}

/** GET /api/v1/events as a screen reads it: the payload of the next notification of a type. */
async function openStream(baseUrl: string, token: string): Promise<{ next(type: string): Promise<Record<string, unknown>>; close(): void }> {
  const controller = new AbortController();
  const response = await fetch(`${baseUrl}/api/v1/events?access_token=${token}`, { signal: controller.signal });
  assert.equal(response.status, 200);
  const received: Array<{ event: string; payload: Record<string, unknown> }> = [];
  const waiters: Array<() => void> = [];
  void (async () => {
    const reader = response.body!.getReader();
    let buffer = '';
    for (;;) {
      const { value, done } = await reader.read().catch(() => ({ value: undefined, done: true }));
      if (done) return;
      buffer += Buffer.from(value!).toString('utf8');
      let end;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const fields = Object.fromEntries(block.split('\n').filter((line) => !line.startsWith(':') && line.includes(':')).map((line) => [line.slice(0, line.indexOf(':')), line.slice(line.indexOf(':') + 1).trim()]));
        if (fields.event) received.push({ event: fields.event, payload: (JSON.parse(fields.data ?? '{}') as { payload: Record<string, unknown> }).payload });
        for (const wake of waiters.splice(0)) wake();
      }
    }
  })();
  return {
    async next(type) {
      const deadline = Date.now() + 10_000;
      for (;;) {
        const index = received.findIndex((event) => event.event === type);
        if (index >= 0) return received.splice(index, 1)[0]!.payload;
        if (Date.now() > deadline) throw new Error(`no ${type} notification within 10 s`);
        await new Promise<void>((resolve) => {
          waiters.push(resolve);
          setTimeout(resolve, 500);
        });
      }
    },
    close: () => controller.abort(),
  };
}

/**
 * 危急值 end to end over real HTTP (issue 14, item 5), on SQLite and on PostgreSQL: a
 * radiologist of the reading centre flags a critical finding; the requesting township hears
 * of it on its event stream and by SMS to its configured number; nobody acknowledges, so the
 * sweep escalates (short YUNYING_CRITICAL_ESCALATE_MINUTES) to the township again and to the
 * reading centre; the township acknowledges with how the clinician was told; the list shows
 * the time to acknowledgement; the signed report's PDF prints both; everything is in the
 * audit trail. Scope: another township neither sees nor acknowledges it, a radiologist flags
 * only on requests of the centre that reads them.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startListeningServer, type ListeningServer } from '../test-support/listening-server.ts';
import { TEST_ADMIN_PASSWORD } from '../test-support/admin-auth.ts';
import { makeSyntheticInstance } from '../test-support/synthetic-dicom.ts';
import { stowBody } from '../dicomweb/test-support.ts';
import { callHttp, type HttpAnswer } from '../test-support/http-client.ts';
import { createTestDatabase, type TestDatabase } from '../test-support/postgres.ts';
import { SHARES } from '../share/module.ts';
import { loadConfig } from '../config.ts';
import type { LogSmsSender } from '../share/sms-sender.ts';
import { NOTIFICATIONS } from '../events/module.ts';
import { DEFAULT_CRITICAL_CATEGORIES } from './categories.ts';
import { CRITICAL_FINDINGS } from './module.ts';
import { CriticalFindingService } from './critical-finding-service.ts';
import { criticalFindingStore } from './critical-finding-store.ts';
import type { Caller } from '../access/caller.ts';

const PASSWORD = 'Correct-Horse-9';

interface Finding {
  id: string;
  status: string;
  category: string;
  categoryZh: string;
  escalations: number;
  smsStatus: string | null;
  secondsToAcknowledge: number | null;
  acknowledgement: null | { receivedBy: string; informedVia: string; clinicianName: string | null; informedAt: string };
  patient?: { name: string | null };
  requestingInstitutionName: string | null;
}

/** An SSE stream as a screen reads it: waits for the next event of a type. */
function openEvents(baseUrl: string, token: string): { next(type: string, timeoutMs?: number): Promise<Record<string, unknown>>; seen(type: string): number; close(): void } {
  const controller = new AbortController();
  const received: Array<{ event: string; data: Record<string, unknown> }> = [];
  const all: string[] = [];
  const waiters: Array<() => void> = [];
  void (async () => {
    const response = await fetch(`${baseUrl}/api/v1/events?access_token=${token}`, { signal: controller.signal }).catch(() => undefined);
    if (!response?.body) return;
    const reader = response.body.getReader();
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
        if (fields.event) {
          received.push({ event: fields.event, data: (JSON.parse(fields.data ?? '{}') as { payload: Record<string, unknown> }).payload });
          all.push(fields.event);
        }
        for (const wake of waiters.splice(0)) wake();
      }
    }
  })();
  return {
    async next(type, timeoutMs = 15_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const index = received.findIndex((event) => event.event === type);
        if (index >= 0) return received.splice(index, 1)[0]!.data;
        if (Date.now() > deadline) throw new Error(`no ${type} event within ${timeoutMs} ms (saw ${all.join(', ')})`);
        await new Promise<void>((resolve) => {
          waiters.push(resolve);
          setTimeout(resolve, 250).unref();
        });
      }
    },
    seen: (type) => all.filter((event) => event === type).length,
    close: () => controller.abort(),
  };
}

test('the escalation settings: minutes with fractions, a count; nonsense stops the start', () => {
  assert.deepEqual(loadConfig({}).critical, { escalateMinutes: 15, maxEscalations: 3 });
  assert.deepEqual(loadConfig({ YUNYING_CRITICAL_ESCALATE_MINUTES: '0.05', YUNYING_CRITICAL_ESCALATE_MAX: '5' }).critical, { escalateMinutes: 0.05, maxEscalations: 5 });
  for (const wrong of ['0', '-1', 'soon', '1,5']) assert.throws(() => loadConfig({ YUNYING_CRITICAL_ESCALATE_MINUTES: wrong }), /YUNYING_CRITICAL_ESCALATE_MINUTES/, wrong);
});

for (const dialect of ['sqlite', 'postgres'] as const) {
  describe(`critical findings (危急值) on ${dialect}`, () => {
    let server: ListeningServer;
    let database: TestDatabase | undefined;
    const tokens: Record<string, string> = {};
    let requestId = '';
    let otherRequestId = '';
    let findingId = '';
    let reportId = '';

    const as = (who: string, method: string, url: string, body?: unknown): Promise<HttpAnswer> => callHttp(server.baseUrl, method, url, { token: tokens[who], body });
    const ok = (answer: HttpAnswer, status: number, what: string) => assert.equal(answer.status, status, `${what}: ${answer.text}`);
    const login = async (username: string, password = PASSWORD) => {
      const answer = await callHttp(server.baseUrl, 'POST', '/api/v1/auth/login', { body: { username, password } });
      ok(answer, 200, `login ${username}`);
      return (answer.body as { token: string }).token;
    };
    const sms = () => server.server.services.get(SHARES).sms as LogSmsSender;

    before(async () => {
      database = dialect === 'postgres' ? await createTestDatabase() : undefined;
      // 0.02 min = 1.2 s: the sweep escalates within a couple of seconds; once only.
      server = await startListeningServer({ YUNYING_CRITICAL_ESCALATE_MINUTES: '0.02', YUNYING_CRITICAL_ESCALATE_MAX: '1', ...(database ? { YUNYING_DATABASE_URL: database.url } : {}) });
      tokens.admin = await login('admin', TEST_ADMIN_PASSWORD);
      for (const institution of [
        { id: 'ks-county', name: '昆山市第一人民医院', tier: 'county', grade: 3 },
        { id: 'tc-county', name: '太仓市第一人民医院', tier: 'county', grade: 3 },
        { id: 'ks-t1', name: '周市镇卫生院', tier: 'township', grade: 1, parentId: 'ks-county' },
        { id: 'ks-t2', name: '陆家镇卫生院', tier: 'township', grade: 1, parentId: 'ks-county' },
      ]) ok(await as('admin', 'POST', '/api/v1/institutions', institution), 201, institution.id);
      for (const member of ['ks-t1', 'ks-t2']) {
        ok(await as('admin', 'PUT', `/api/v1/institutions/ks-county/members/${member}`), 204, member);
        ok(await as('admin', 'PUT', `/api/v1/institutions/tc-county/members/${member}`), 204, member);
      }
      for (const [username, role, institutionId, displayName] of [
        ['tech1', 'technologist', 'ks-t1', '李技师'],
        ['tech2', 'technologist', 'ks-t2', '王技师'],
        ['rad1', 'radiologist', 'ks-county', '赵医生'],
        ['rev', 'reviewing-radiologist', 'ks-county', '孙主任'],
        ['rad-tc', 'radiologist', 'tc-county', '周医生'],
        ['rad-t1', 'radiologist', 'ks-t1', '吴医生'],
      ] as const) {
        ok(await as('admin', 'POST', '/api/v1/users', { username, password: PASSWORD, role, institutionId, displayName }), 201, username);
        tokens[username] = await login(username);
      }
      // The township's number for 危急值 SMS (the reading centre's too, for escalations).
      ok(await as('admin', 'PUT', '/api/v1/critical-findings/contacts/ks-t1', { phone: '138 0013 8000' }), 200, 'contact t1');
      ok(await as('admin', 'PUT', '/api/v1/critical-findings/contacts/ks-county', { phone: '13900139000' }), 200, 'contact county');
      const t2Contact = await as('admin', 'PUT', '/api/v1/critical-findings/contacts/ks-t2', { phone: '12345' });
      ok(t2Contact, 400, 'implausible phone');
      assert.equal((t2Contact.body as { code: string }).code, 'INVALID_PHONE');

      // Two studies of ks-t1: one read by ks-county, one by tc-county.
      const requestOf = async (readingInstitutionId: string) => {
        const instance = makeSyntheticInstance({ modality: 'CT', patientId: `P-CRIT-${readingInstitutionId}`, patientName: 'Zhang^San=张^三', accessionNumber: `A${Date.now()}` });
        const { payload, contentType } = stowBody([instance.bytes]);
        ok(await callHttp(server.baseUrl, 'POST', '/dicom-web/studies', { token: tokens.tech1, raw: payload, headers: { 'content-type': contentType, accept: 'application/dicom+json' } }), 200, 'stow');
        const created = await as('tech1', 'POST', '/api/v1/reading-requests', { studyInstanceUid: instance.studyInstanceUid, readingInstitutionId, priority: 'emergency', imagesComplete: true });
        ok(created, 201, 'request');
        return { id: (created.body as { id: string }).id, studyUid: instance.studyInstanceUid };
      };
      ({ id: requestId } = await requestOf('ks-county'));
      otherRequestId = (await requestOf('tc-county')).id;
    });

    after(async () => {
      await server?.close();
      await database?.drop();
    });

    test('the default categories are seeded and readable; an administrator replaces the list', async () => {
      const categories = await as('tech1', 'GET', '/api/v1/critical-findings/categories');
      ok(categories, 200, 'categories');
      const codes = (categories.body as Array<{ code: string; zh: string }>).map((category) => category.code);
      for (const code of ['intracranial-haemorrhage', 'pneumothorax', 'aortic-dissection', 'pulmonary-embolism']) assert.ok(codes.includes(code), code);
      assert.equal((categories.body as Array<{ zh: string }>)[0]!.zh, '急性脑出血');
      ok(await as('rad1', 'PUT', '/api/v1/critical-findings/categories', { categories: DEFAULT_CRITICAL_CATEGORIES }), 403, 'radiologist replacing categories');
      const replaced = await as('admin', 'PUT', '/api/v1/critical-findings/categories', { categories: [...DEFAULT_CRITICAL_CATEGORIES, { code: 'hospital-specific', zh: '本院自定义危急值', en: 'Hospital-specific' }] });
      ok(replaced, 200, 'replace');
      assert.equal((replaced.body as unknown[]).length, DEFAULT_CRITICAL_CATEGORIES.length + 1);
    });

    test('a radiologist flags only on requests their institution reads', async () => {
      // another diagnostic centre cannot see the request at all
      ok(await as('rad-tc', 'POST', `/api/v1/reading-requests/${requestId}/critical-findings`, { category: 'pneumothorax' }), 404, 'other centre');
      // a radiologist at the requesting township sees it, but does not read it
      ok(await as('rad-t1', 'POST', `/api/v1/reading-requests/${requestId}/critical-findings`, { category: 'pneumothorax' }), 403, 'requesting institution radiologist');
      // the technologist may not flag
      ok(await as('tech1', 'POST', `/api/v1/reading-requests/${requestId}/critical-findings`, { category: 'pneumothorax' }), 403, 'technologist');
      // rad1's centre does not read the other request
      ok(await as('rad1', 'POST', `/api/v1/reading-requests/${otherRequestId}/critical-findings`, { category: 'pneumothorax' }), 404, 'request of another centre');
      const unknown = await as('rad1', 'POST', `/api/v1/reading-requests/${requestId}/critical-findings`, { category: 'no-such-category' });
      ok(unknown, 400, 'unknown category');
      assert.equal((unknown.body as { code: string }).code, 'CRITICAL_CATEGORY_UNKNOWN');
    });

    test('flagged: the township hears of it live and by SMS; unacknowledged, it is escalated to both institutions', async () => {
      const townshipStream = openEvents(server.baseUrl, tokens.tech1!);
      const centreStream = openEvents(server.baseUrl, tokens.rad1!);
      const otherTownship = openEvents(server.baseUrl, tokens.tech2!);
      try {
        // wait until the three streams are subscribed (events after this are live)
        await server.server.services.get(NOTIFICATIONS).whenSubscriberCount(3);
        const sentBefore = sms().sent.length;
        const flagged = await as('rad1', 'POST', `/api/v1/reading-requests/${requestId}/critical-findings`, { category: 'intracranial-haemorrhage', note: '左侧基底节区急性出血，量约30ml' });
        ok(flagged, 201, 'flag');
        const finding = flagged.body as Finding;
        findingId = finding.id;
        assert.equal(finding.status, 'open');
        assert.equal(finding.categoryZh, '急性脑出血');
        assert.equal(finding.smsStatus, 'sent');
        const live = await townshipStream.next('critical-finding.flagged');
        assert.equal(live.criticalFindingId, findingId);
        assert.equal(live.categoryZh, '急性脑出血');
        assert.equal(sms().sent.length, sentBefore + 1);
        assert.equal(sms().sent.at(-1)!.maskedPhone, '138****8000');

        // nobody acknowledges: the sweep escalates once (YUNYING_CRITICAL_ESCALATE_MAX=1)
        const escalatedToTownship = await townshipStream.next('critical-finding.escalated');
        assert.equal(escalatedToTownship.escalations, 1);
        const escalatedToCentre = await centreStream.next('critical-finding.escalated');
        assert.equal(escalatedToCentre.criticalFindingId, findingId);
        // SMS again to the township and to the reading centre (sent after the escalation committed)
        for (let waited = 0; sms().sent.length < sentBefore + 3 && waited < 10_000; waited += 50) await new Promise((resolve) => setTimeout(resolve, 50));
        assert.equal(await server.server.services.get(CRITICAL_FINDINGS).escalateDue(Date.now() + 3_600_000), 0, 'at the maximum: no more escalations');
        const numbers = sms().sent.slice(sentBefore).map((entry) => entry.maskedPhone);
        assert.deepEqual(numbers, ['138****8000', '138****8000', '139****9000']);
        // the other township heard nothing
        assert.equal(otherTownship.seen('critical-finding.flagged') + otherTownship.seen('critical-finding.escalated'), 0);
      } finally {
        townshipStream.close();
        centreStream.close();
        otherTownship.close();
      }
    });

    test('a township sees and acknowledges only its own institution\'s alerts', async () => {
      const open = await as('tech1', 'GET', '/api/v1/critical-findings?status=open');
      assert.deepEqual((open.body as Finding[]).map((row) => row.id), [findingId]);
      assert.equal((open.body as Finding[])[0]!.patient?.name, 'Zhang^San=张^三');
      const theirs = await as('tech2', 'GET', '/api/v1/critical-findings');
      ok(theirs, 200, 'other township list');
      assert.deepEqual(theirs.body, []);
      ok(await as('tech2', 'GET', `/api/v1/reading-requests/${requestId}/critical-findings`), 404, 'other township, by request');
      ok(await as('tech2', 'POST', `/api/v1/critical-findings/${findingId}/acknowledgement`, { receivedBy: '王技师', informedVia: 'phone' }), 404, 'other township ack');
      ok(await as('rad1', 'POST', `/api/v1/critical-findings/${findingId}/acknowledgement`, { receivedBy: '赵医生', informedVia: 'phone' }), 403, 'radiologist ack');
      const future = await as('tech1', 'POST', `/api/v1/critical-findings/${findingId}/acknowledgement`, { receivedBy: '李技师', informedVia: 'phone', informedAt: new Date(Date.now() + 3_600_000).toISOString() });
      ok(future, 400, 'informed in the future');
      assert.equal((future.body as { code: string }).code, 'CRITICAL_INFORMED_AT_INVALID');
      ok(await as('tech1', 'POST', `/api/v1/critical-findings/${findingId}/acknowledgement`, { receivedBy: '李技师', informedVia: 'fax' }), 400, 'unknown channel');
    });

    test('the township acknowledges: name, time and how the clinician was told; once', async () => {
      const centreStream = openEvents(server.baseUrl, tokens.rad1!);
      try {
        await server.server.services.get(NOTIFICATIONS).whenSubscriberCount(1);
        const acked = await as('tech1', 'POST', `/api/v1/critical-findings/${findingId}/acknowledgement`, { receivedBy: '李技师', informedVia: 'phone', clinicianName: '陈医生' });
        ok(acked, 200, 'ack');
        const finding = acked.body as Finding;
        assert.equal(finding.status, 'acknowledged');
        assert.equal(finding.acknowledgement?.receivedBy, '李技师');
        assert.equal(finding.acknowledgement?.informedVia, 'phone');
        assert.equal(finding.acknowledgement?.clinicianName, '陈医生');
        assert.ok(finding.secondsToAcknowledge !== null && finding.secondsToAcknowledge >= 1, String(finding.secondsToAcknowledge));
        const live = await centreStream.next('critical-finding.acknowledged');
        assert.equal(live.criticalFindingId, findingId);
      } finally {
        centreStream.close();
      }
      const again = await as('tech1', 'POST', `/api/v1/critical-findings/${findingId}/acknowledgement`, { receivedBy: '李技师', informedVia: 'sms' });
      ok(again, 409, 'second ack');
      assert.equal((again.body as { code: string }).code, 'CRITICAL_FINDING_ACKNOWLEDGED');
      // no escalation after the acknowledgement
      assert.equal(await server.server.services.get(CRITICAL_FINDINGS).escalateDue(Date.now() + 3_600_000), 0);
    });

    test('the statistics list: time to acknowledgement, scoped by institution', async () => {
      for (const who of ['tech1', 'rad1', 'admin']) {
        const list = await as(who, 'GET', '/api/v1/critical-findings?status=acknowledged');
        ok(list, 200, who);
        const rows = list.body as Finding[];
        assert.deepEqual(rows.map((row) => row.id), [findingId], who);
        assert.equal(rows[0]!.escalations, 1);
        assert.equal(rows[0]!.requestingInstitutionName, '周市镇卫生院');
        assert.ok(typeof rows[0]!.secondsToAcknowledge === 'number');
      }
      ok(await as('rad-tc', 'GET', '/api/v1/critical-findings'), 200, 'other centre');
      assert.deepEqual((await as('rad-tc', 'GET', '/api/v1/critical-findings')).body, []);
    });

    test('the signed report\'s PDF prints the critical finding and its acknowledgement', async (t) => {
      ok(await as('rad1', 'POST', `/api/v1/reading-requests/${requestId}/claim`), 200, 'claim');
      const draft = await as('rad1', 'PUT', `/api/v1/reading-requests/${requestId}/report`, { findings: '左侧基底节区见高密度影。', impression: '左侧基底节区脑出血。', positive: true });
      ok(draft, 200, 'draft');
      reportId = (draft.body as { id: string }).id;
      ok(await as('rad1', 'POST', `/api/v1/reports/${reportId}/submit`), 200, 'submit');
      ok(await as('rev', 'POST', `/api/v1/reports/${reportId}/sign`, { password: PASSWORD }), 200, 'sign');
      const pdf = await fetch(`${server.baseUrl}/api/v1/reports/${reportId}/pdf`, { headers: { authorization: `Bearer ${tokens.tech1}` } });
      assert.equal(pdf.status, 200);
      const bytes = Buffer.from(await pdf.arrayBuffer());
      if (dialect !== 'sqlite') return; // the text once is enough
      const dir = await mkdtemp(path.join(tmpdir(), 'yunying-critical-'));
      try {
        const file = path.join(dir, 'report.pdf');
        await writeFile(file, bytes);
        let text: string;
        try {
          text = execFileSync('pdftotext', ['-enc', 'UTF-8', file, '-'], { encoding: 'utf8' }).replace(/\s+/g, '');
        } catch {
          t.skip('pdftotext (poppler-utils) is not installed');
          return;
        }
        for (const expected of ['危急值', '急性脑出血', '左侧基底节区急性出血', '上报医师：赵医生', '接收人：李技师', '告知方式：电话', '告知临床医生：陈医生']) assert.ok(text.includes(expected), `${expected} in ${text}`);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });

    test('an SMS the provider refuses is recorded as failed; the alert stands', async () => {
      const archive = server.server.archive;
      const refusing = new CriticalFindingService(
        { store: archive.stores.open(criticalFindingStore), opener: criticalFindingStore, unitOfWork: archive.unitOfWork, audit: archive.audit, requests: archive.stores.reading, index: archive.index, access: archive.accessStore, sms: { send: async () => Promise.reject(new Error('gateway down')) } },
        { escalateAfterMs: 3_600_000, maxEscalations: 1 },
      );
      const rad1: Caller = { kind: 'user', name: 'rad1', institutionId: 'ks-county', role: 'radiologist', visibleInstitutionIds: ['ks-county'], via: 'rest' };
      const finding = await refusing.flag(rad1, requestId, { category: 'pneumothorax' });
      assert.equal(finding.smsStatus, 'failed');
      assert.equal(finding.status, 'open');
      const failed = await as('admin', 'GET', `/api/v1/audit-events?action=critical-finding.sms-failed`);
      const rows = failed.body as Array<{ action: string; outcome: string; details: { criticalFindingId?: string; phone?: string } }>;
      const row = rows.find((event) => event.details.criticalFindingId === finding.id);
      assert.ok(row, JSON.stringify(rows));
      assert.equal(row.outcome, 'failure');
      assert.equal(row.details.phone, '138****8000');
      ok(await as('tech1', 'POST', `/api/v1/critical-findings/${finding.id}/acknowledgement`, { receivedBy: '李技师', informedVia: 'other', note: '值班护士转告' }), 200, 'ack the second');
    });

    test('every step is in the audit trail', async () => {
      const actions = new Set<string>();
      for (const action of ['critical-finding.flagged', 'critical-finding.alert-sent', 'critical-finding.sms-sent', 'critical-finding.escalated', 'critical-finding.acknowledged', 'critical-finding.listed', 'critical-finding.categories-changed', 'critical-finding.contact-set']) {
        const answer = await as('admin', 'GET', `/api/v1/audit-events?action=${action}`);
        ok(answer, 200, action);
        const rows = (answer.body as { events?: Array<{ action: string }> }).events ?? (answer.body as Array<{ action: string }>);
        if (rows.some((row) => row.action === action)) actions.add(action);
      }
      assert.deepEqual([...actions].sort(), ['critical-finding.acknowledged', 'critical-finding.alert-sent', 'critical-finding.categories-changed', 'critical-finding.contact-set', 'critical-finding.escalated', 'critical-finding.flagged', 'critical-finding.listed', 'critical-finding.sms-sent']);
    });
  });
}

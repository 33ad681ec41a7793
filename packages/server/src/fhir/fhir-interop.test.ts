/**
 * FHIR R4 through a real client (issue 15 item 6): fhir-kit-client against the whole server
 * on a real socket, on SQLite and PostgreSQL. The CapabilityStatement lists what is served
 * (DiagnosticReport, Subscription, both auth schemes); searches carry Bundle.total with
 * consistent paging links; ImagingStudy by modality (token with the DCM system) and by the
 * accession identifier's system|value; DiagnosticReport by 报告编号 and status; the
 * presentedForm PDF link with the FHIR Bearer and Basic credentials; and a Subscription
 * (Subscriptions Backport, rest-hook) whose notification a real HTTP listener receives after
 * a report is signed, retried until the endpoint takes it, only for the institution that may
 * see the report.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Client } from 'fhir-kit-client';
import { startListeningServer, type ListeningServer } from '../test-support/listening-server.ts';
import { createTestDatabase, type TestDatabase } from '../test-support/postgres.ts';
import { TEST_ADMIN_PASSWORD } from '../test-support/admin-auth.ts';
import { makeSyntheticInstance } from '../test-support/synthetic-dicom.ts';
import { stowBody } from '../dicomweb/test-support.ts';
import { callHttp, loginForToken, stowOptions } from '../test-support/http-client.ts';
import { DCM_SYSTEM } from './imaging-study.ts';
import { PAYLOAD_CONTENT_EXTENSION, REPORT_SIGNED_TOPIC } from './subscription.ts';

/* eslint-disable @typescript-eslint/no-explicit-any -- FHIR JSON is read loosely in assertions */
type Json = any;

const PASSWORD = 'Correct-Horse-9';
/** between two looks at a state the server reaches on its own (no timing is asserted) */
const pause = () => new Promise((resolve) => setTimeout(resolve, 20));

/** A HIS endpoint: records every notification; answers 500 while `failing`. */
class HisListener {
  readonly received: Array<{ path: string; headers: IncomingHttpHeaders; body: Json; answered: number }> = [];
  failing = new Set<string>();
  private readonly server: Server;
  private waiters: Array<() => void> = [];

  constructor() {
    this.server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        const path = request.url ?? '';
        const answered = this.failing.has(path) ? 500 : 200;
        this.received.push({ path, headers: request.headers, body: JSON.parse(Buffer.concat(chunks).toString('utf8')), answered });
        response.writeHead(answered).end();
        for (const wake of this.waiters.splice(0)) wake();
      });
    });
  }

  async listen(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** resolves once a notification to `path` got this answer */
  async until(path: string, answered: number): Promise<Json> {
    for (;;) {
      const hit = this.received.find((r) => r.path === path && r.answered === answered);
      if (hit) return hit;
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

for (const backend of ['sqlite', 'postgres'] as const) {
  describe(`${backend}: FHIR R4 through fhir-kit-client`, () => {
    let server: ListeningServer;
    let database: TestDatabase | undefined;
    let his: HisListener;
    let hisBase: string;
    const tokens: Record<string, string> = {};
    const ctStudy = makeSyntheticInstance({ patientId: 'FK-001', patientName: 'Wang^Fang=王^芳', modality: 'CT', accessionNumber: 'ACC-FK-1', studyDate: '20261201' });
    const mrStudy = makeSyntheticInstance({ patientId: 'FK-001', patientName: 'Wang^Fang=王^芳', modality: 'MR', accessionNumber: 'ACC-FK-2', studyDate: '20261202' });
    let reportId = '';

    const http = (who: string, method: string, url: string, body?: unknown) => callHttp(server.baseUrl, method, url, { token: tokens[who], body });
    const fhirClient = (who: string) => new Client({ baseUrl: `${server.baseUrl}/fhir/r4`, bearerToken: tokens[who] });
    const basicClient = (user: string) => new Client({ baseUrl: `${server.baseUrl}/fhir/r4`, customHeaders: { authorization: `Basic ${Buffer.from(`${user}:${PASSWORD}`).toString('base64')}` } });
    /** a validator for assert.rejects: fhir-kit-client's error carries the answer's status */
    const answered = (status: number) => (error: unknown) => (error as { response?: { status: number } }).response?.status === status;

    before(async () => {
      his = new HisListener();
      hisBase = await his.listen();
      database = backend === 'postgres' ? await createTestDatabase() : undefined;
      server = await startListeningServer(database ? { YUNYING_DATABASE_URL: database.url } : {});
      tokens.admin = await loginForToken(server.baseUrl, 'admin', TEST_ADMIN_PASSWORD);
      for (const institution of [
        { id: 'fk-county', name: '昆山市第一人民医院', tier: 'county' },
        { id: 'fk-t1', name: '周市镇卫生院', tier: 'township', parentId: 'fk-county' },
        { id: 'fk-t2', name: '陆家镇卫生院', tier: 'township', parentId: 'fk-county' },
      ]) assert.equal((await http('admin', 'POST', '/api/v1/institutions', institution)).status, 201);
      assert.equal((await http('admin', 'PUT', '/api/v1/institutions/fk-county/members/fk-t1')).status, 204);
      for (const [username, role, institutionId] of [
        ['fk-tech', 'technologist', 'fk-t1'],
        ['fk-rad', 'radiologist', 'fk-county'],
        ['fk-rev', 'reviewing-radiologist', 'fk-county'],
        ['his1', 'clinician', 'fk-t1'],
        ['his2', 'clinician', 'fk-t2'],
        ['analyst', 'commission-analyst', 'fk-county'],
      ] as const) {
        assert.equal((await http('admin', 'POST', '/api/v1/users', { username, password: PASSWORD, role, institutionId })).status, 201);
        tokens[username] = await loginForToken(server.baseUrl, username, PASSWORD);
      }
      for (const instance of [ctStudy, mrStudy]) {
        const stored = await callHttp(server.baseUrl, 'POST', '/dicom-web/studies', stowOptions(stowBody([instance.bytes]), tokens['fk-tech']));
        assert.equal(stored.status, 200, stored.text);
      }
    });

    after(async () => {
      await server?.close();
      await database?.drop();
      await his?.close();
    });

    test('CapabilityStatement: every resource served with its search parameters, both auth schemes, the subscription topic', async () => {
      const statement: Json = await new Client({ baseUrl: `${server.baseUrl}/fhir/r4` }).capabilityStatement();
      const rest = statement.rest[0];
      assert.deepEqual(rest.resource.map((r: Json) => r.type).filter((t: string) => t !== 'ServiceRequest'), ['DiagnosticReport', 'ImagingStudy', 'Patient', 'Subscription']);
      const byType = Object.fromEntries(rest.resource.map((r: Json) => [r.type, r]));
      const params = (type: string) => (byType[type].searchParam ?? []).map((p: Json) => p.name);
      for (const name of ['_id', 'identifier', 'study', 'patient', 'subject', 'status', '_count', '_offset']) assert.ok(params('DiagnosticReport').includes(name), `DiagnosticReport ${name}`);
      for (const name of ['identifier', 'modality', 'started', 'patient']) assert.ok(params('ImagingStudy').includes(name), `ImagingStudy ${name}`);
      assert.deepEqual(byType.Subscription.interaction.map((i: Json) => i.code).sort(), ['create', 'delete', 'read', 'search-type']);
      assert.equal(byType.Subscription.extension[0].valueCanonical, REPORT_SIGNED_TOPIC);
      const services = rest.security.service;
      assert.ok(services.some((s: Json) => s.coding?.[0]?.code === 'Basic'), 'Basic');
      assert.ok(services.some((s: Json) => /^Bearer/.test(s.text)), 'Bearer');
    });

    test('ImagingStudy: modality as code and as DCM token, accession by its identifier system, Bundle.total and paging links', async () => {
      const client = fhirClient('fk-tech');
      const byCode: Json = await client.search({ resourceType: 'ImagingStudy', searchParams: { modality: 'CT' } });
      assert.equal(byCode.total, 1);
      assert.deepEqual(byCode.entry.map((e: Json) => e.resource.id), [ctStudy.studyInstanceUid]);
      const byToken: Json = await client.search({ resourceType: 'ImagingStudy', searchParams: { modality: `${DCM_SYSTEM}|MR` } });
      assert.deepEqual(byToken.entry.map((e: Json) => e.resource.id), [mrStudy.studyInstanceUid]);
      const either: Json = await client.search({ resourceType: 'ImagingStudy', searchParams: { modality: 'CT,MR' } });
      assert.equal(either.total, 2);
      await assert.rejects(client.search({ resourceType: 'ImagingStudy', searchParams: { modality: 'http://loinc.org|CT' } }), answered(400));

      const ct: Json = await client.read({ resourceType: 'ImagingStudy', id: ctStudy.studyInstanceUid });
      const accession = ct.identifier.find((i: Json) => i.type?.coding?.[0]?.code === 'ACSN');
      assert.equal(accession.system, 'urn:yunying:institution:fk-t1:accession');
      assert.equal(accession.value, 'ACC-FK-1');
      const byAccession: Json = await client.search({ resourceType: 'ImagingStudy', searchParams: { identifier: `${accession.system}|${accession.value}` } });
      assert.deepEqual(byAccession.entry.map((e: Json) => e.resource.id), [ctStudy.studyInstanceUid]);
      assert.equal(byAccession.total, 1);
      // the same number issued by another institution is another examination
      const elsewhere: Json = await client.search({ resourceType: 'ImagingStudy', searchParams: { identifier: `urn:yunying:institution:fk-t2:accession|${accession.value}` } });
      assert.equal(elsewhere.total, 0);
      assert.deepEqual(elsewhere.entry ?? [], []);

      // two matches, one a page: total counts both, next leads to the second, and the last page has no next
      const first: Json = await client.search({ resourceType: 'ImagingStudy', searchParams: { subject: ct.subject.reference, _count: 1 } });
      assert.equal(first.total, 2);
      assert.equal(first.entry.length, 1);
      const relations = first.link.map((l: Json) => l.relation);
      assert.ok(relations.includes('next') && relations.includes('last') && !relations.includes('previous'), relations.join());
      const second: Json = await client.nextPage({ bundle: first });
      assert.equal(second.total, 2);
      assert.equal(second.entry.length, 1);
      assert.notEqual(second.entry[0].resource.id, first.entry[0].resource.id);
      assert.ok(!second.link.some((l: Json) => l.relation === 'next'));
      assert.ok(second.link.some((l: Json) => l.relation === 'previous'));
      const countOnly: Json = await client.search({ resourceType: 'ImagingStudy', searchParams: { subject: ct.subject.reference, _count: 0 } });
      assert.equal(countOnly.total, 2);
      assert.deepEqual(countOnly.entry ?? [], []);
      // Basic works as well as Bearer
      const basic: Json = await basicClient('fk-tech').search({ resourceType: 'Patient', searchParams: { identifier: 'FK-001' } });
      assert.equal(basic.total, 1);
    });

    test('Subscription: created by the HIS, scoped to its institution, notified after a report is signed, retried until the endpoint takes it', async () => {
      const subscription = (path: string, content: 'id-only' | 'full-resource', header: string[] = []) => ({
        resourceType: 'Subscription',
        status: 'requested',
        reason: 'HIS 接收报告签发通知',
        criteria: REPORT_SIGNED_TOPIC,
        channel: { type: 'rest-hook', endpoint: `${hisBase}${path}`, payload: 'application/fhir+json', _payload: { extension: [{ url: PAYLOAD_CONTENT_EXTENSION, valueCode: content }] }, header },
      });
      const his1 = fhirClient('his1');
      const idOnly: Json = await his1.create({ resourceType: 'Subscription', body: subscription('/id-only', 'id-only', ['Authorization: Bearer his-secret-1']) });
      assert.equal(idOnly.status, 'active');
      assert.deepEqual(idOnly.channel.header, ['Authorization: [redacted]'], 'the credential is not given back');
      const full: Json = await his1.create({ resourceType: 'Subscription', body: subscription('/full', 'full-resource') });
      const other: Json = await fhirClient('his2').create({ resourceType: 'Subscription', body: subscription('/his2', 'full-resource') });
      // another institution's subscription answers like none
      await assert.rejects(fhirClient('his2').read({ resourceType: 'Subscription', id: idOnly.id }), answered(404));
      await assert.rejects(fhirClient('his2').delete({ resourceType: 'Subscription', id: idOnly.id }), answered(404));
      const listed: Json = await his1.search({ resourceType: 'Subscription', searchParams: {} });
      assert.deepEqual(listed.entry.map((e: Json) => e.resource.id).sort(), [idOnly.id, full.id].sort());
      assert.equal(listed.total, 2);
      // no permission, no subscription; a bad one is a 400 OperationOutcome
      await assert.rejects(fhirClient('analyst').create({ resourceType: 'Subscription', body: subscription('/x', 'id-only') }), answered(403));
      await assert.rejects(his1.create({ resourceType: 'Subscription', body: { ...subscription('/x', 'id-only'), criteria: 'DiagnosticReport?status=final' } }), answered(400));
      await assert.rejects(his1.create({ resourceType: 'Subscription', body: { ...subscription('/x', 'id-only'), channel: { type: 'rest-hook', endpoint: 'file:///etc/passwd' } } }), answered(400));

      his.failing.add('/id-only');
      // the report: requested by the township, read and signed at the county
      const created = await http('fk-tech', 'POST', '/api/v1/reading-requests', { studyInstanceUid: ctStudy.studyInstanceUid, priority: 'routine', imagesComplete: true });
      assert.equal(created.status, 201, created.text);
      const requestId = (created.body as Json).id as string;
      assert.equal((await http('fk-rad', 'POST', `/api/v1/reading-requests/${requestId}/claim`)).status, 200);
      const draft = await http('fk-rad', 'PUT', `/api/v1/reading-requests/${requestId}/report`, { findings: '右肺上叶见磨玻璃结节。', impression: '右肺上叶结节，建议随访。', positive: true });
      assert.equal(draft.status, 200, draft.text);
      reportId = (draft.body as Json).id as string;
      assert.equal((await http('fk-rad', 'POST', `/api/v1/reports/${reportId}/submit`)).status, 200);
      const signed = await http('fk-rev', 'POST', `/api/v1/reports/${reportId}/sign`, { password: PASSWORD });
      assert.equal(signed.status, 200, signed.text);

      // full-resource: the DiagnosticReport itself, after the status Parameters
      const fullHit = await his.until('/full', 200);
      assert.equal(fullHit.body.resourceType, 'Bundle');
      assert.equal(fullHit.body.type, 'history');
      const [statusEntry, focusEntry] = fullHit.body.entry;
      assert.equal(statusEntry.resource.resourceType, 'Parameters');
      const param = (name: string) => statusEntry.resource.parameter.find((p: Json) => p.name === name);
      assert.equal(param('type').valueCode, 'event-notification');
      assert.equal(param('topic').valueCanonical, REPORT_SIGNED_TOPIC);
      assert.match(param('subscription').valueReference.reference, new RegExp(`/fhir/r4/Subscription/${full.id}$`));
      assert.equal(param('events-since-subscription-start').valueString, '1');
      assert.equal(focusEntry.resource.resourceType, 'DiagnosticReport');
      assert.equal(focusEntry.resource.id, reportId);
      assert.equal(focusEntry.resource.conclusion, '右肺上叶结节，建议随访。');
      assert.match(String(fullHit.headers['content-type']), /^application\/fhir\+json/);

      // id-only: the endpoint failed; the subscription shows the error until a retry gets through
      const failed = await his.until('/id-only', 500);
      assert.equal(failed.headers.authorization, 'Bearer his-secret-1', 'the configured header is sent');
      let seen: Json;
      do seen = await pause().then(() => his1.read({ resourceType: 'Subscription', id: idOnly.id }));
      while (seen.status !== 'error');
      assert.match(seen.error, /500/);
      his.failing.delete('/id-only');
      const delivered = await his.until('/id-only', 200);
      const focus = delivered.body.entry[1];
      assert.match(focus.fullUrl, new RegExp(`/fhir/r4/DiagnosticReport/${reportId}$`));
      assert.equal(focus.resource, undefined, 'id-only carries no resource');
      assert.equal(delivered.body.entry[0].resource.parameter.find((p: Json) => p.name === 'notification-event').part[0].valueString, '1', 'the retry is the same event');
      // the endpoint has it; the subscription is active again once the consumer recorded that
      do seen = await pause().then(() => his1.read({ resourceType: 'Subscription', id: idOnly.id }));
      while (seen.status === 'error');
      assert.equal(seen.status, 'active');
      assert.equal(seen.error, undefined);
      await server.feedHandled();
      assert.equal(his.received.filter((r) => r.path === '/full').length, 1, 'the endpoint that took it is not sent it again');
      // the other township may not see the report: its HIS hears nothing
      assert.deepEqual(his.received.filter((r) => r.path === '/his2'), []);
      // each notification is on the trail under the HIS's account: the failed one and the delivered ones
      const audit = await http('admin', 'GET', '/api/v1/audit-events?action=subscription.notified');
      assert.equal(audit.status, 200, audit.text);
      const notified = (audit.body as Json[]).filter((e) => e.details.reportId === reportId);
      assert.ok(notified.some((e) => e.outcome === 'failure' && e.details.subscriptionId === idOnly.id), 'the failed attempt');
      assert.deepEqual(notified.filter((e) => e.outcome === 'success').map((e) => e.details.subscriptionId).sort(), [idOnly.id, full.id].sort());
      assert.ok(notified.every((e) => e.actor_name === 'his1'));

      // removed: gone for its institution
      await his1.delete({ resourceType: 'Subscription', id: full.id });
      await assert.rejects(his1.read({ resourceType: 'Subscription', id: full.id }), answered(404));
      await fhirClient('his2').delete({ resourceType: 'Subscription', id: other.id });
    });

    test('DiagnosticReport: by 报告编号 identifier, by status, and its PDF with the FHIR Bearer and Basic credentials', async () => {
      assert.ok(reportId, 'signed in the previous test');
      const client = fhirClient('his1');
      const report: Json = await client.read({ resourceType: 'DiagnosticReport', id: reportId });
      const number = report.identifier.find((i: Json) => i.type?.text === '报告编号');
      assert.ok(number, JSON.stringify(report.identifier));
      const byNumber: Json = await client.search({ resourceType: 'DiagnosticReport', searchParams: { identifier: `${number.system}|${number.value}` } });
      assert.deepEqual(byNumber.entry.map((e: Json) => e.resource.id), [reportId]);
      assert.equal(byNumber.total, 1);
      const byValue: Json = await client.search({ resourceType: 'DiagnosticReport', searchParams: { identifier: number.value } });
      assert.equal(byValue.total, 1);
      // the same number is nothing to another township
      const hidden: Json = await fhirClient('his2').search({ resourceType: 'DiagnosticReport', searchParams: { identifier: `${number.system}|${number.value}` } });
      assert.equal(hidden.total, 0);
      const final: Json = await client.search({ resourceType: 'DiagnosticReport', searchParams: { study: `ImagingStudy/${ctStudy.studyInstanceUid}`, status: 'final' } });
      assert.deepEqual(final.entry.map((e: Json) => e.resource.id), [reportId]);
      const amended: Json = await client.search({ resourceType: 'DiagnosticReport', searchParams: { study: `ImagingStudy/${ctStudy.studyInstanceUid}`, status: 'amended' } });
      assert.equal(amended.total, 0);
      await assert.rejects(client.search({ resourceType: 'DiagnosticReport', searchParams: { identifier: `http://other.example|${number.value}` } }), answered(400));

      const url = report.presentedForm[0].url as string;
      assert.match(url, new RegExp(`/fhir/r4/DiagnosticReport/${reportId}/pdf$`));
      const path = new URL(url).pathname;
      const bearer = await fetch(`${server.baseUrl}${path}`, { headers: { authorization: `Bearer ${tokens.his1}` } });
      assert.equal(bearer.status, 200);
      assert.equal(bearer.headers.get('content-type'), 'application/pdf');
      assert.equal(Buffer.from(await bearer.arrayBuffer()).subarray(0, 5).toString('latin1'), '%PDF-');
      const basic = await fetch(`${server.baseUrl}${path}`, { headers: { authorization: `Basic ${Buffer.from(`his1:${PASSWORD}`).toString('base64')}` } });
      assert.equal(basic.status, 200);
      assert.equal(Buffer.from(await basic.arrayBuffer()).subarray(0, 5).toString('latin1'), '%PDF-');
      // scoped like the report, refused without credentials or patient access
      assert.equal((await fetch(`${server.baseUrl}${path}`, { headers: { authorization: `Bearer ${tokens.his2}` } })).status, 404);
      assert.equal((await fetch(`${server.baseUrl}${path}`)).status, 401);
      assert.equal((await fetch(`${server.baseUrl}${path}`, { headers: { authorization: `Bearer ${tokens.analyst}` } })).status, 403);
      // audited like the REST PDF: an export, through FHIR
      const audit = await http('admin', 'GET', `/api/v1/audit-events?action=study.exported&objectId=${ctStudy.studyInstanceUid}`);
      assert.equal(audit.status, 200, audit.text);
      const events = audit.body as Json[];
      assert.ok(events.some((e: Json) => e.via === 'fhir' && e.actor_name === 'his1' && e.details.format === 'pdf' && e.details.reportId === reportId), JSON.stringify(events).slice(0, 800));
    });
  });
}

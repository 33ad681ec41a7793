/**
 * Consultation (issue 18) end to end over real sockets, on SQLite and PostgreSQL: a county
 * hospital asks two experts of a provincial hospital for an emergency consultation; both
 * sign opinions, the lead signs the conclusion, which prints as PDF and reads as FHIR
 * DiagnosticReport; the experts see the studies only until it closes. Without an agreement a
 * request is refused; a declined expert is replaced; the duty roster routes an emergency to the
 * expert on duty.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startListeningServer, type ListeningServer } from '../test-support/listening-server.ts';
import { TEST_ADMIN_PASSWORD } from '../test-support/admin-auth.ts';
import { createTestDatabase, type TestDatabase } from '../test-support/postgres.ts';
import { callHttp, loginForToken, stowOptions, type HttpAnswer } from '../test-support/http-client.ts';
import { makeSyntheticInstance } from '../test-support/synthetic-dicom.ts';
import { stowBody } from '../dicomweb/test-support.ts';
import type { ConsultationView } from './consultation-service.ts';
import type { ConsultationStatistics } from './consultation-statistics.ts';

const PASSWORD = 'Correct-Horse-9';

for (const dialect of ['sqlite', 'postgres'] as const) {
  describe(`consultation (会诊) on ${dialect}`, () => {
    let server: ListeningServer;
    let database: TestDatabase | undefined;
    const tokens: Record<string, string> = {};
    let caseStudy: string;
    let priorStudy: string;

    const as = (who: string, method: string, url: string, body?: unknown): Promise<HttpAnswer> => callHttp(server.baseUrl, method, url, { token: tokens[who], body });
    const ok = (answer: HttpAnswer, status: number, what: string) => assert.equal(answer.status, status, `${what}: ${answer.text}`);
    const errorCode = (answer: HttpAnswer) => (answer.body as { code?: string }).code;
    const sees = async (who: string, studyInstanceUid: string) => {
      const answer = await as(who, 'GET', `/dicom-web/studies?StudyInstanceUID=${studyInstanceUid}`);
      return answer.status === 200 && (answer.body as unknown[]).length === 1;
    };
    const store = async (patientId: string): Promise<string> => {
      const instance = makeSyntheticInstance({ patientId, patientName: '陈^明', modality: 'CT', attributes: { '00080005': { vr: 'CS', Value: ['ISO_IR 192'] } } });
      ok(await callHttp(server.baseUrl, 'POST', '/dicom-web/studies', stowOptions(stowBody([instance.bytes]), tokens.tech)), 200, 'STOW');
      return instance.studyInstanceUid;
    };
    const request = async (body: Record<string, unknown>): Promise<ConsultationView> => {
      const answer = await as('rad', 'POST', '/api/v1/consultations', { question: '右肺上叶结节性质？', clinicalSummary: '男，56 岁，咳嗽两周，吸烟史 30 年', studyInstanceUids: [caseStudy], ...body });
      ok(answer, 201, 'consultation request');
      return answer.body as ConsultationView;
    };

    before(async () => {
      database = dialect === 'postgres' ? await createTestDatabase() : undefined;
      server = await startListeningServer({ ...(database ? { YUNYING_DATABASE_URL: database.url } : {}) });
      tokens.admin = await loginForToken(server.baseUrl, 'admin', TEST_ADMIN_PASSWORD);
      for (const institution of [
        { id: 'cs-prov', name: '江苏省人民医院', tier: 'province', grade: 3, regionCode: '320000' },
        { id: 'cs-other', name: '浙江省人民医院', tier: 'province', grade: 3, regionCode: '330000' },
        { id: 'cs-county', name: '昆山市第一人民医院', tier: 'county', grade: 2, regionCode: '320583' },
      ]) ok(await as('admin', 'POST', '/api/v1/institutions', institution), 201, institution.id);
      for (const [username, role, institutionId, displayName] of [
        ['tech', 'technologist', 'cs-county', '技师小周'],
        ['rad', 'radiologist', 'cs-county', '王医生'],
        ['exp1', 'expert', 'cs-prov', '李教授'],
        ['exp2', 'expert', 'cs-prov', '张教授'],
        ['exp3', 'expert', 'cs-prov', '赵教授'],
        ['duty', 'expert', 'cs-prov', '值班专家'],
        ['far', 'expert', 'cs-other', '钱教授'],
        ['analyst', 'commission-analyst', 'cs-county', '卫健委'],
      ] as const) {
        ok(await as('admin', 'POST', '/api/v1/users', { username, password: PASSWORD, role, institutionId, displayName }), 201, username);
        tokens[username] = await loginForToken(server.baseUrl, username, PASSWORD);
      }
      caseStudy = await store('CS-0001');
      priorStudy = await store('CS-0001');
    });
    after(async () => {
      await server?.close();
      await database?.drop();
    });

    test('refused without an agreement between the institutions, with the reason', async () => {
      const answer = await as('rad', 'POST', '/api/v1/consultations', { type: 'routine', studyInstanceUids: [caseStudy], question: '?', clinicalSummary: '病史', invitedExperts: ['far'] });
      assert.equal(answer.status, 403, answer.text);
      assert.equal(errorCode(answer), 'CONSULTATION_NO_AGREEMENT');
      assert.ok(!(await sees('far', caseStudy)), 'no grant for a refused request');
      ok(await as('admin', 'POST', '/api/v1/consultation-agreements', { requestingInstitutionId: 'cs-county', expertInstitutionId: 'cs-prov' }), 201, 'agreement');
      const agreements = (await as('rad', 'GET', '/api/v1/consultation-agreements')).body as Array<{ expertInstitutionId: string }>;
      assert.deepEqual(agreements.map((agreement) => agreement.expertInstitutionId), ['cs-prov']);
    });

    test('an emergency consultation to two experts: opinions, the conclusion, PDF, FHIR DiagnosticReport, the SLA, grants ending at close', async () => {
      const created = await request({ type: 'emergency', studyInstanceUids: [caseStudy, priorStudy], invitedExperts: ['exp1', 'exp2'], attachments: [{ title: '既往胸片报告' }] });
      assert.equal(created.status, 'requested');
      assert.equal(created.slaMinutes, 30);
      assert.equal(Date.parse(created.dueAt) - Date.parse(created.createdAt), 30 * 60_000);
      assert.equal(created.overdue, false);
      assert.deepEqual(created.experts.map((expert) => [expert.username, expert.status]), [['exp1', 'invited'], ['exp2', 'invited']]);
      // the experts see the studies the requester shared, nothing else; an expert not invited sees none
      assert.ok((await sees('exp1', caseStudy)) && (await sees('exp1', priorStudy)) && (await sees('exp2', caseStudy)));
      assert.ok(!(await sees('exp3', caseStudy)));
      const other = await store('CS-0002');
      assert.ok(!(await sees('exp1', other)), 'a study not shared stays hidden');
      const incoming = (await as('exp1', 'GET', '/api/v1/consultations?box=incoming')).body as ConsultationView[];
      assert.ok(incoming.some((consultation) => consultation.id === created.id));
      ok(await as('exp3', 'GET', `/api/v1/consultations/${created.id}`), 404, 'an expert not invited');

      ok(await as('exp1', 'POST', `/api/v1/consultations/${created.id}/accept`, {}), 200, 'exp1 accepts');
      const accepted = (await as('exp2', 'POST', `/api/v1/consultations/${created.id}/accept`, {})).body as ConsultationView;
      assert.equal(accepted.status, 'accepted');
      assert.equal(accepted.lead, 'exp1', 'the first to accept leads');

      // a draft is its author's; the requester sees an opinion once it is signed
      ok(await as('exp2', 'POST', `/api/v1/consultations/${created.id}/opinions`, { text: '考虑周围型肺癌可能', sign: false }), 200, 'draft');
      let seen = (await as('rad', 'GET', `/api/v1/consultations/${created.id}`)).body as ConsultationView;
      assert.equal(seen.status, 'in-progress');
      assert.equal(seen.experts.find((expert) => expert.username === 'exp2')!.opinion, null);
      const wrong = await as('exp2', 'POST', `/api/v1/consultations/${created.id}/opinions`, { text: '考虑周围型肺癌可能', sign: true, password: 'Wrong-Password-1' });
      assert.equal(errorCode(wrong), 'SIGNATURE_REJECTED', wrong.text);
      ok(await as('exp2', 'POST', `/api/v1/consultations/${created.id}/opinions`, { text: '考虑周围型肺癌可能，建议穿刺活检', sign: true, password: PASSWORD }), 200, 'exp2 signs');
      seen = (await as('rad', 'GET', `/api/v1/consultations/${created.id}`)).body as ConsultationView;
      assert.deepEqual(seen.experts.find((expert) => expert.username === 'exp2')!.opinion?.text, '考虑周围型肺癌可能，建议穿刺活检');
      assert.ok(seen.firstOpinionAt);
      const again = await as('exp2', 'POST', `/api/v1/consultations/${created.id}/opinions`, { text: '改', sign: false });
      assert.equal(errorCode(again), 'OPINION_SIGNED');

      const notLead = await as('exp2', 'POST', `/api/v1/consultations/${created.id}/conclusion`, { text: '结论', password: PASSWORD });
      assert.equal(errorCode(notLead), 'CONSULTATION_NOT_LEAD');
      ok(await as('exp1', 'POST', `/api/v1/consultations/${created.id}/opinions`, { text: '同意，结节边缘毛刺', sign: true, password: PASSWORD }), 200, 'exp1 signs');
      const answered = (await as('exp1', 'POST', `/api/v1/consultations/${created.id}/conclusion`, { text: '右肺上叶周围型肺癌可能大，建议 CT 引导下穿刺活检', password: PASSWORD })).body as ConsultationView;
      assert.equal(answered.status, 'answered');
      assert.equal(answered.conclusion?.signedByName, '李教授');
      assert.equal(answered.overdue, false);

      const pdf = await fetch(`${server.baseUrl}/api/v1/consultations/${created.id}/pdf`, { headers: { authorization: `Bearer ${tokens.rad}` } });
      assert.equal(pdf.status, 200);
      assert.equal(pdf.headers.get('content-type'), 'application/pdf');
      assert.equal(Buffer.from(await pdf.arrayBuffer()).subarray(0, 5).toString(), '%PDF-');
      const fhir = await as('rad', 'GET', `/fhir/r4/DiagnosticReport/${created.id}`);
      ok(fhir, 200, 'FHIR DiagnosticReport');
      const report = fhir.body as { resourceType: string; conclusion: string; code: { text: string }; status: string; text: { div: string } };
      assert.equal(report.resourceType, 'DiagnosticReport');
      assert.equal(report.conclusion, '右肺上叶周围型肺癌可能大，建议 CT 引导下穿刺活检');
      assert.equal(report.code.text, '远程会诊意见书');
      assert.ok(report.text.div.includes('考虑周围型肺癌可能，建议穿刺活检'), 'the opinions are in the narrative');
      ok(await as('exp3', 'GET', `/fhir/r4/DiagnosticReport/${created.id}`), 404, 'FHIR keeps the scope');

      const closed = (await as('rad', 'POST', `/api/v1/consultations/${created.id}/close`, { followUpNote: '已安排穿刺' })).body as ConsultationView;
      assert.equal(closed.status, 'closed');
      assert.equal(closed.followUpNote, '已安排穿刺');
      assert.ok(!(await sees('exp1', caseStudy)) && !(await sees('exp2', priorStudy)), 'the grants ended at close');
      ok(await as('exp1', 'GET', `/api/v1/consultations/${created.id}`), 200, 'the expert still sees the consultation record');

      // every transition in the change feed and the audit trail
      const feed = await server.server.archive.stores.changeFeed.readRange(0, Number.MAX_SAFE_INTEGER, 10_000);
      assert.deepEqual(feed.filter((change) => change.resourceId === created.id).map((change) => change.type), ['consultation.requested', 'consultation.accepted', 'consultation.in-progress', 'consultation.answered', 'consultation.closed']);
      const trail = (await as('admin', 'GET', `/api/v1/audit-events?objectId=${created.id}`)).body as Array<{ action: string }>;
      for (const action of ['consultation.requested', 'consultation.accepted', 'consultation.opinion-saved', 'consultation.opinion-signed', 'consultation.answered', 'consultation.closed']) {
        assert.ok(trail.some((event) => event.action === action), `${action} in ${JSON.stringify(trail.map((event) => event.action))}`);
      }
    });

    test('a declined expert is replaced; with every expert declined the consultation is declined until one is invited', async () => {
      const created = await request({ type: 'difficult', invitedExperts: ['exp3'] });
      assert.equal(created.slaMinutes, 1440);
      assert.ok(await sees('exp3', caseStudy));
      const declined = (await as('exp3', 'POST', `/api/v1/consultations/${created.id}/decline`, { reason: '出差中' })).body as ConsultationView;
      assert.equal(declined.status, 'declined');
      assert.ok(!(await sees('exp3', caseStudy)), 'a declining expert loses the grant');
      const replaced = (await as('rad', 'POST', `/api/v1/consultations/${created.id}/experts`, { username: 'exp2', replaces: 'exp3' })).body as ConsultationView;
      assert.equal(replaced.status, 'requested');
      assert.deepEqual(replaced.experts.map((expert) => [expert.username, expert.status]).sort(), [['exp2', 'invited'], ['exp3', 'replaced']]);
      assert.ok(await sees('exp2', caseStudy));
      ok(await as('exp3', 'GET', `/api/v1/consultations/${created.id}`), 404, 'a replaced expert no longer sees it');
      const notExpert = await as('rad', 'POST', `/api/v1/consultations/${created.id}/experts`, { username: 'far' });
      assert.equal(errorCode(notExpert), 'CONSULTATION_INVALID', 'an expert of another institution');
      ok(await as('exp2', 'POST', `/api/v1/consultations/${created.id}/accept`, {}), 200, 'the replacement accepts');
      const cancelled = (await as('rad', 'POST', `/api/v1/consultations/${created.id}/cancel`, { reason: '患者转院' })).body as ConsultationView;
      assert.equal(cancelled.status, 'cancelled');
      assert.ok(!(await sees('exp2', caseStudy)), 'grants end at cancel (the first consultation of the case closed already)');
    });

    test('the duty roster routes an emergency to the expert on duty; without a shift every expert of the institution is invited', async () => {
      const now = Date.now();
      const shift = await as('admin', 'POST', '/api/v1/duty-roster', { institutionId: 'cs-prov', username: 'duty', startsAt: new Date(now - 3_600_000).toISOString(), endsAt: new Date(now + 3_600_000).toISOString(), types: ['emergency'] });
      ok(shift, 201, 'shift');
      ok(await as('admin', 'POST', '/api/v1/duty-roster', { institutionId: 'cs-prov', username: 'exp3', startsAt: new Date(now + 3_600_000).toISOString(), endsAt: new Date(now + 7_200_000).toISOString() }), 201, 'a later shift');
      const emergency = await request({ type: 'emergency', invitedInstitutionId: 'cs-prov' });
      assert.deepEqual(emergency.experts.map((expert) => [expert.username, expert.viaRoster]), [['duty', true]]);
      assert.ok(await sees('duty', caseStudy));
      // the shift takes emergencies only: a routine request goes to every expert of the institution
      const routine = await request({ type: 'routine', invitedInstitutionId: 'cs-prov' });
      assert.deepEqual(routine.experts.map((expert) => expert.username).sort(), ['duty', 'exp1', 'exp2', 'exp3']);
      const roster = (await as('rad', 'GET', '/api/v1/duty-roster?institutionId=cs-prov')).body as Array<{ username: string }>;
      assert.deepEqual(roster.map((entry) => entry.username), ['duty', 'exp3']);
      const notExpert = await as('admin', 'POST', '/api/v1/duty-roster', { institutionId: 'cs-prov', username: 'rad', startsAt: new Date(now).toISOString(), endsAt: new Date(now + 60_000).toISOString() });
      assert.equal(errorCode(notExpert), 'CONSULTATION_INVALID');
    });

    test('statistics: by type, institution and month; time to first opinion and conclusion; the fastest case and institution mean apart', async () => {
      const answer = await as('analyst', 'GET', '/api/v1/statistics/consultations');
      ok(answer, 200, 'statistics');
      const statistics = answer.body as ConsultationStatistics;
      const byType = Object.fromEntries(statistics.byType.map((entry) => [entry.type, entry.count]));
      assert.deepEqual(byType, { emergency: 2, difficult: 1, routine: 1 });
      assert.deepEqual(statistics.byInstitution.map((entry) => [entry.institutionId, entry.count]), [['cs-county', 4]]);
      assert.equal(statistics.byMonth.reduce((sum, entry) => sum + entry.count, 0), 4);
      assert.equal(statistics.firstOpinion.count, 1);
      assert.equal(statistics.conclusion.count, 1);
      assert.equal(statistics.conclusion.slaMetRate, 1);
      assert.ok(statistics.fastestCase && statistics.fastestCase.minutes < 30);
      assert.equal(statistics.fastestInstitutionMean?.institutionId, 'cs-prov');
      ok(await as('rad', 'GET', '/api/v1/statistics/consultations'), 403, 'a radiologist has no statistics');
    });
  });
}

/**
 * Two-way referral (双向转诊, docs/consultation.md "Referrals") end to end over real sockets,
 * on SQLite and PostgreSQL: a township refers a patient up to the city hospital and the city
 * refers them back down; the receiving institution sees the images only while the referral
 * is open (a lasting grant survives its end); refusal; the suggestions in the Sichuan order.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startListeningServer, type ListeningServer } from '../test-support/listening-server.ts';
import { TEST_ADMIN_PASSWORD } from '../test-support/admin-auth.ts';
import { createTestDatabase, type TestDatabase } from '../test-support/postgres.ts';
import { callHttp, loginForToken, stowOptions, type HttpAnswer } from '../test-support/http-client.ts';
import { makeSyntheticInstance } from '../test-support/synthetic-dicom.ts';
import { stowBody } from '../dicomweb/test-support.ts';
import type { ReferralSuggestion, ReferralView } from './referral-service.ts';

const PASSWORD = 'Correct-Horse-9';
const text = (vr: string, value: string) => ({ vr, Value: [value] });

for (const dialect of ['sqlite', 'postgres'] as const) {
  describe(`two-way referral (双向转诊) on ${dialect}`, () => {
    let server: ListeningServer;
    let database: TestDatabase | undefined;
    const tokens: Record<string, string> = {};
    const studies: Record<string, string> = {};

    const as = (who: string, method: string, url: string, body?: unknown): Promise<HttpAnswer> => callHttp(server.baseUrl, method, url, { token: tokens[who], body });
    const ok = (answer: HttpAnswer, status: number, what: string) => assert.equal(answer.status, status, `${what}: ${answer.text}`);
    const store = async (who: string, patientId: string): Promise<string> => {
      const instance = makeSyntheticInstance({ patientId, patientName: '张^伟', patientBirthDate: '19700101', modality: 'CT', attributes: { '00080005': text('CS', 'ISO_IR 192'), '00100040': text('CS', 'M') } });
      ok(await callHttp(server.baseUrl, 'POST', '/dicom-web/studies', stowOptions(stowBody([instance.bytes]), tokens[who])), 200, `STOW by ${who}`);
      return instance.studyInstanceUid;
    };
    /** QIDO-RS as the user: does the study come back? */
    const sees = async (who: string, uid: string): Promise<boolean> => {
      const answer = await callHttp(server.baseUrl, 'GET', `/dicom-web/studies?StudyInstanceUID=${uid}`, { token: tokens[who], headers: { accept: 'application/dicom+json' } });
      assert.ok(answer.status === 200 || answer.status === 204, `QIDO by ${who}: ${answer.status} ${answer.text}`);
      return Array.isArray(answer.body) && answer.body.length > 0;
    };
    const refer = (who: string, body: Record<string, unknown>) => as(who, 'POST', '/api/v1/referrals', body);
    const upBody = (uids: string[]) => ({
      direction: 'up',
      patient: { patientId: 'T-0001', name: '张^伟', sex: 'M', birthDate: '19700101' },
      fromInstitutionId: 'sc-town',
      toInstitutionId: 'sc-city',
      reason: '疑似肺癌，需进一步诊治',
      studyInstanceUids: uids,
      reportIds: [],
    });

    before(async () => {
      database = dialect === 'postgres' ? await createTestDatabase() : undefined;
      server = await startListeningServer({ ...(database ? { YUNYING_DATABASE_URL: database.url } : {}) });
      tokens.admin = await loginForToken(server.baseUrl, 'admin', TEST_ADMIN_PASSWORD);
      for (const institution of [
        { id: 'sc-prov', name: '四川省人民医院', tier: 'province', grade: 3, regionCode: '510000' },
        { id: 'sc-city', name: '成都市第一人民医院', tier: 'city', grade: 3, regionCode: '510100', parentId: 'sc-prov' },
        { id: 'sc-county', name: '金堂县第一人民医院', tier: 'county', grade: 2, regionCode: '510121', parentId: 'sc-city' },
        { id: 'sc-town', name: '赵镇卫生院', tier: 'township', grade: 1, regionCode: '510121', parentId: 'sc-county' },
        { id: 'sc-town2', name: '淮口镇卫生院', tier: 'township', grade: 1, regionCode: '510121', parentId: 'sc-county' },
        { id: 'gd-prov', name: '广东省人民医院', tier: 'province', grade: 3, regionCode: '440000' },
      ]) ok(await as('admin', 'POST', '/api/v1/institutions', institution), 201, institution.id);
      for (const member of ['sc-town', 'sc-town2']) ok(await as('admin', 'PUT', `/api/v1/institutions/sc-county/members/${member}`), 204, member);
      for (const [username, role, institutionId] of [
        ['tech-town', 'technologist', 'sc-town'],
        ['doc-town', 'clinician', 'sc-town'],
        ['doc-town2', 'clinician', 'sc-town2'],
        ['doc-city', 'clinician', 'sc-city'],
        ['rad-city', 'radiologist', 'sc-city'],
        ['doc-prov', 'clinician', 'sc-prov'],
      ] as const) {
        ok(await as('admin', 'POST', '/api/v1/users', { username, password: PASSWORD, role, institutionId, displayName: username }), 201, username);
        tokens[username] = await loginForToken(server.baseUrl, username, PASSWORD);
      }
      studies.ct = await store('tech-town', 'T-0001');
      studies.prior = await store('tech-town', 'T-0001');
      studies.other = await store('tech-town', 'T-0002');
      // the prior was sent to the city hospital already (a lasting grant no referral ends)
      ok(await as('admin', 'POST', `/api/v1/studies/${studies.prior}/grants`, { institutionId: 'sc-city', reason: '远程阅片' }), 204, 'lasting grant');
    });
    after(async () => {
      await server?.close();
      await database?.drop();
    });

    test('up to the city hospital and back down: the receiver sees the images only while the referral is open', async () => {
      assert.equal(await sees('doc-city', studies.ct!), false, 'the city hospital does not see the township study before the referral');
      assert.equal(await sees('doc-city', studies.prior!), true, 'the prior is granted to the city hospital');

      const created = await refer('doc-town', upBody([studies.ct!, studies.prior!]));
      ok(created, 201, 'referral up');
      const up = created.body as ReferralView;
      assert.match(up.id, /^ref-[0-9a-f-]{36}$/);
      assert.equal(up.status, 'requested');
      assert.equal(up.direction, 'up');
      assert.deepEqual(up.patient, { patientId: 'T-0001', issuerOfPatientId: null, name: '张^伟', sex: 'M', birthDate: '19700101' });
      assert.equal(up.fromInstitutionName, '赵镇卫生院');
      assert.equal(up.toInstitutionName, '成都市第一人民医院');
      assert.equal(up.requestedBy, 'doc-town');

      assert.equal(await sees('doc-city', studies.ct!), true, 'the receiving institution sees the study at once');
      assert.equal(await sees('doc-prov', studies.ct!), false, 'nobody else does');

      // either side sees the referral; a third institution does not
      ok(await as('doc-city', 'GET', `/api/v1/referrals/${up.id}`), 200, 'receiver reads');
      ok(await as('doc-prov', 'GET', `/api/v1/referrals/${up.id}`), 404, 'third institution');
      ok(await as('admin', 'GET', `/api/v1/referrals/${up.id}`), 200, 'administrator');
      const incoming = await as('doc-city', 'GET', '/api/v1/referrals?box=in');
      ok(incoming, 200, 'incoming');
      assert.deepEqual((incoming.body as ReferralView[]).map((referral) => referral.id), [up.id]);
      const outgoing = await as('doc-city', 'GET', '/api/v1/referrals?box=out');
      assert.deepEqual(outgoing.body, []);

      // only the receiving institution answers; only after accepting it completes
      ok(await as('doc-town', 'POST', `/api/v1/referrals/${up.id}/accept`, {}), 403, 'the originator may not accept');
      ok(await as('doc-city', 'POST', `/api/v1/referrals/${up.id}/complete`, { outcome: '已手术' }), 409, 'complete before accept');
      const accepted = await as('doc-city', 'POST', `/api/v1/referrals/${up.id}/accept`, { note: '已安排床位' });
      ok(accepted, 200, 'accept');
      assert.equal((accepted.body as ReferralView).status, 'accepted');
      assert.equal((accepted.body as ReferralView).respondedBy, 'doc-city');
      assert.equal((accepted.body as ReferralView).responseNote, '已安排床位');
      ok(await as('doc-town', 'POST', `/api/v1/referrals/${up.id}/cancel`, { reason: '患者拒绝' }), 409, 'cancel after accept');
      assert.equal(await sees('rad-city', studies.ct!), true, 'accepted: the city hospital still sees it');

      const completed = await as('doc-city', 'POST', `/api/v1/referrals/${up.id}/complete`, { outcome: '胸腔镜下肺叶切除，病理：腺癌' });
      ok(completed, 200, 'complete');
      assert.equal((completed.body as ReferralView).status, 'completed');
      assert.equal(await sees('doc-city', studies.ct!), false, 'completed: the referral grant ended');
      assert.equal(await sees('doc-city', studies.prior!), true, 'the lasting grant survives the referral');

      // the originating side sees the outcome
      const seen = await as('doc-town', 'GET', `/api/v1/referrals/${up.id}`);
      ok(seen, 200, 'originator reads');
      assert.equal((seen.body as ReferralView).outcome, '胸腔镜下肺叶切除，病理：腺癌');
      assert.ok((seen.body as ReferralView).completedAt);
      const out = await as('doc-town', 'GET', '/api/v1/referrals?box=out&status=completed');
      assert.deepEqual((out.body as ReferralView[]).map((referral) => referral.id), [up.id]);

      // back down: the discharge summary and the follow-up plan are required
      const down = { direction: 'down', patient: { patientId: 'C-778', issuerOfPatientId: 'sc-city' }, fromInstitutionId: 'sc-city', toInstitutionId: 'sc-town', reason: '术后康复', studyInstanceUids: [studies.prior!], reportIds: [] };
      const refused = await refer('doc-city', { ...down, dischargeSummary: '术后恢复良好' });
      ok(refused, 400, 'down without a follow-up plan');
      assert.equal((refused.body as { code: string }).code, 'REFERRAL_DISCHARGE_REQUIRED');
      ok(await refer('doc-city', down), 400, 'down without either');
      const back = await refer('doc-city', { ...down, dischargeSummary: '术后恢复良好，切口愈合', followUpPlan: '术后1、3、6个月复查胸部CT' });
      ok(back, 201, 'referral down');
      const downView = back.body as ReferralView;
      assert.equal(downView.direction, 'down');
      assert.deepEqual(downView.patient, { patientId: 'C-778', issuerOfPatientId: 'sc-city', name: null, sex: null, birthDate: null });
      ok(await as('doc-town', 'POST', `/api/v1/referrals/${downView.id}/accept`, {}), 200, 'the township accepts');
      ok(await as('doc-town', 'POST', `/api/v1/referrals/${downView.id}/complete`, { outcome: '已按计划随访' }), 200, 'the township completes');

      const audit = await as('admin', 'GET', `/api/v1/audit-events?objectId=${up.id}`);
      ok(audit, 200, 'audit');
      const actions = JSON.stringify(audit.body);
      for (const action of ['referral.created', 'referral.accepted', 'referral.completed']) assert.ok(actions.includes(`"${action}"`), `audit ${action}: ${actions.slice(0, 300)}`);
    });

    test('the creator must be of the originating institution and see every study', async () => {
      ok(await refer('doc-city', upBody([studies.other!])), 403, 'another institution');
      ok(await refer('doc-town2', { ...upBody([studies.other!]), fromInstitutionId: 'sc-town2' }), 404, 'a study the caller does not see');
      ok(await refer('tech-town', upBody([studies.other!])), 403, 'a technologist may not refer');
      ok(await refer('doc-town', { ...upBody([studies.other!]), toInstitutionId: 'sc-town' }), 400, 'to itself');
      ok(await refer('doc-town', { ...upBody([studies.other!]), extra: 1 }), 400, 'unknown property');
    });

    test('a refused referral ends the grant; the originator sees the refusal; a cancelled one too', async () => {
      const created = await refer('doc-town', upBody([studies.other!]));
      ok(created, 201, 'referral');
      const { id } = created.body as ReferralView;
      assert.equal(await sees('doc-city', studies.other!), true);
      ok(await as('doc-city', 'POST', `/api/v1/referrals/${id}/refuse`, {}), 400, 'a reason is required');
      const refused = await as('doc-city', 'POST', `/api/v1/referrals/${id}/refuse`, { reason: '床位已满，建议转省医院' });
      ok(refused, 200, 'refuse');
      assert.equal((refused.body as ReferralView).status, 'refused');
      assert.equal(await sees('doc-city', studies.other!), false, 'refused: the grant ended');
      const seen = await as('doc-town', 'GET', `/api/v1/referrals/${id}`);
      assert.equal((seen.body as ReferralView).status, 'refused');
      assert.equal((seen.body as ReferralView).responseNote, '床位已满，建议转省医院');
      ok(await as('doc-city', 'POST', `/api/v1/referrals/${id}/accept`, {}), 409, 'accept after refusal');

      const again = await refer('doc-town', { ...upBody([studies.other!]), toInstitutionId: 'sc-prov' });
      ok(again, 201, 'to the province');
      const second = (again.body as ReferralView).id;
      assert.equal(await sees('doc-prov', studies.other!), true);
      ok(await as('doc-prov', 'POST', `/api/v1/referrals/${second}/cancel`, { reason: 'x' }), 403, 'only the originator cancels');
      ok(await as('doc-town', 'POST', `/api/v1/referrals/${second}/cancel`, { reason: '患者要求留在本地治疗' }), 200, 'cancel');
      assert.equal(await sees('doc-prov', studies.other!), false, 'cancelled: the grant ended');
    });

    test('suggestions in the Sichuan order: the alliance centre, the city, the province; down: members and children', async () => {
      const up = await as('doc-town', 'GET', '/api/v1/referral-suggestions?fromInstitutionId=sc-town&direction=up');
      ok(up, 200, 'up');
      assert.deepEqual((up.body as ReferralSuggestion[]).map((entry) => [entry.institutionId, entry.basis]), [
        ['sc-county', 'alliance'],
        ['sc-city', 'regional-centre'],
        ['sc-prov', 'provincial-centre'],
      ]);
      const down = await as('doc-town', 'GET', '/api/v1/referral-suggestions?fromInstitutionId=sc-county&direction=down');
      ok(down, 200, 'down');
      assert.deepEqual((down.body as ReferralSuggestion[]).map((entry) => entry.institutionId), ['sc-town', 'sc-town2']);
      const cityDown = await as('doc-city', 'GET', '/api/v1/referral-suggestions?fromInstitutionId=sc-city&direction=down');
      assert.deepEqual((cityDown.body as ReferralSuggestion[]).map((entry) => [entry.institutionId, entry.basis]), [['sc-county', 'child']]);
      ok(await as('doc-town', 'GET', '/api/v1/referral-suggestions?fromInstitutionId=nowhere'), 404, 'unknown institution');
    });
  });
}

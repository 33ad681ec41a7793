/**
 * MDT sessions (多学科会诊, docs/consultation.md "MDT sessions") end to end over real sockets,
 * on SQLite and PostgreSQL: the organizer schedules a session on a case, a participant of
 * another institution sees its study (a user grant for the session), participants sign in
 * (a non-participant may not), the organizer records the minutes and decisions.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startListeningServer, type ListeningServer } from '../test-support/listening-server.ts';
import { TEST_ADMIN_PASSWORD } from '../test-support/admin-auth.ts';
import { createTestDatabase, type TestDatabase } from '../test-support/postgres.ts';
import { callHttp, loginForToken, stowOptions, type HttpAnswer } from '../test-support/http-client.ts';
import { makeSyntheticInstance } from '../test-support/synthetic-dicom.ts';
import { stowBody } from '../dicomweb/test-support.ts';
import type { MdtSessionView } from './mdt-service.ts';

const PASSWORD = 'Correct-Horse-9';
const text = (vr: string, value: string) => ({ vr, Value: [value] });

for (const dialect of ['sqlite', 'postgres'] as const) {
  describe(`MDT sessions (多学科会诊) on ${dialect}`, () => {
    let server: ListeningServer;
    let database: TestDatabase | undefined;
    const tokens: Record<string, string> = {};
    let study = '';

    const as = (who: string, method: string, url: string, body?: unknown): Promise<HttpAnswer> => callHttp(server.baseUrl, method, url, { token: tokens[who], body });
    const ok = (answer: HttpAnswer, status: number, what: string) => assert.equal(answer.status, status, `${what}: ${answer.text}`);
    const sees = async (who: string, uid: string): Promise<boolean> => {
      const answer = await callHttp(server.baseUrl, 'GET', `/dicom-web/studies?StudyInstanceUID=${uid}`, { token: tokens[who], headers: { accept: 'application/dicom+json' } });
      assert.ok(answer.status === 200 || answer.status === 204, `QIDO by ${who}: ${answer.status} ${answer.text}`);
      return Array.isArray(answer.body) && answer.body.length > 0;
    };
    const scheduledAt = new Date(Date.now() + 86_400_000).toISOString();
    const sessionBody = () => ({
      title: '肺结节 MDT',
      scheduledAt,
      studyInstanceUids: [study],
      reportIds: [],
      attachments: [{ title: '病理报告', text: '穿刺活检：腺癌' }],
      departments: ['放射科', '胸外科', '肿瘤科'],
      participants: [
        { username: 'rad-city', department: '放射科' },
        { username: 'surgeon', department: '胸外科' },
      ],
    });

    before(async () => {
      database = dialect === 'postgres' ? await createTestDatabase() : undefined;
      server = await startListeningServer({ ...(database ? { YUNYING_DATABASE_URL: database.url } : {}) });
      tokens.admin = await loginForToken(server.baseUrl, 'admin', TEST_ADMIN_PASSWORD);
      for (const institution of [
        { id: 'md-city', name: '绵阳市中心医院', tier: 'city', grade: 3, regionCode: '510700' },
        { id: 'md-county', name: '三台县人民医院', tier: 'county', grade: 2, regionCode: '510722', parentId: 'md-city' },
        { id: 'md-other', name: '德阳市人民医院', tier: 'city', grade: 3, regionCode: '510600' },
      ]) ok(await as('admin', 'POST', '/api/v1/institutions', institution), 201, institution.id);
      for (const [username, role, institutionId, displayName] of [
        ['tech', 'technologist', 'md-county', '技师'],
        ['organizer', 'clinician', 'md-county', '周主任'],
        ['surgeon', 'clinician', 'md-county', '胸外科王医生'],
        ['bystander', 'clinician', 'md-county', '李医生'],
        ['rad-city', 'radiologist', 'md-city', '放射科陈医生'],
        ['outsider', 'clinician', 'md-other', '赵医生'],
        ['tech2', 'technologist', 'md-city', '技师'],
      ] as const) {
        ok(await as('admin', 'POST', '/api/v1/users', { username, password: PASSWORD, role, institutionId, displayName }), 201, username);
        tokens[username] = await loginForToken(server.baseUrl, username, PASSWORD);
      }
      const instance = makeSyntheticInstance({ patientId: 'ST-42', patientName: '张^伟', patientBirthDate: '19650303', modality: 'CT', attributes: { '00080005': text('CS', 'ISO_IR 192'), '00100040': text('CS', 'M') } });
      ok(await callHttp(server.baseUrl, 'POST', '/dicom-web/studies', stowOptions(stowBody([instance.bytes]), tokens.tech)), 200, 'STOW');
      study = instance.studyInstanceUid;
    });
    after(async () => {
      await server?.close();
      await database?.drop();
    });

    test('schedule, sign in, minutes: a participant of another institution sees the study', async () => {
      assert.equal(await sees('rad-city', study), false, 'the city radiologist does not see the county study before the session');
      ok(await as('tech', 'POST', '/api/v1/mdt-sessions', sessionBody()), 403, 'a technologist may not schedule');
      ok(await as('outsider', 'POST', '/api/v1/mdt-sessions', sessionBody()), 404, 'a study the organizer does not see');
      ok(await as('organizer', 'POST', '/api/v1/mdt-sessions', { ...sessionBody(), participants: [{ username: 'nobody', department: '胸外科' }] }), 400, 'an unknown participant');

      const created = await as('organizer', 'POST', '/api/v1/mdt-sessions', sessionBody());
      ok(created, 201, 'schedule');
      const session = created.body as MdtSessionView;
      assert.match(session.id, /^mdt-[0-9a-f-]{36}$/);
      assert.equal(session.status, 'scheduled');
      assert.equal(session.institutionId, 'md-county');
      assert.equal(session.organizer, 'organizer');
      assert.equal(session.organizerName, '周主任');
      assert.equal(session.scheduledAt, scheduledAt);
      assert.deepEqual(session.patient, { patientId: 'ST-42', issuerOfPatientId: null, name: '张^伟' });
      assert.deepEqual(session.departments, ['放射科', '胸外科', '肿瘤科']);
      assert.deepEqual(session.attachments, [{ title: '病理报告', text: '穿刺活检：腺癌' }]);
      assert.deepEqual(session.participants.map((participant) => [participant.username, participant.displayName, participant.department, participant.attendedAt]), [
        ['rad-city', '放射科陈医生', '放射科', null],
        ['surgeon', '胸外科王医生', '胸外科', null],
      ]);

      assert.equal(await sees('rad-city', study), true, 'the participant sees the study');
      assert.equal(await sees('outsider', study), false, 'a non-participant elsewhere does not');

      // who sees the session
      ok(await as('rad-city', 'GET', `/api/v1/mdt-sessions/${session.id}`), 200, 'participant');
      ok(await as('bystander', 'GET', `/api/v1/mdt-sessions/${session.id}`), 200, 'the organizer’s institution');
      ok(await as('outsider', 'GET', `/api/v1/mdt-sessions/${session.id}`), 404, 'another institution');
      const listed = await as('rad-city', 'GET', '/api/v1/mdt-sessions');
      ok(listed, 200, 'list');
      assert.deepEqual((listed.body as MdtSessionView[]).map((entry) => entry.id), [session.id]);
      assert.deepEqual((await as('outsider', 'GET', '/api/v1/mdt-sessions')).body, []);

      // sign-in (签到): participants only
      const attended = await as('rad-city', 'POST', `/api/v1/mdt-sessions/${session.id}/attendance`, {});
      ok(attended, 200, 'participant signs in');
      const me = (attended.body as MdtSessionView).participants.find((participant) => participant.username === 'rad-city')!;
      assert.ok(me.attendedAt);
      const again = await as('rad-city', 'POST', `/api/v1/mdt-sessions/${session.id}/attendance`, {});
      assert.equal((again.body as MdtSessionView).participants.find((participant) => participant.username === 'rad-city')!.attendedAt, me.attendedAt, 'the first sign-in stays');
      ok(await as('bystander', 'POST', `/api/v1/mdt-sessions/${session.id}/attendance`, {}), 403, 'a non-participant may not sign in');
      ok(await as('outsider', 'POST', `/api/v1/mdt-sessions/${session.id}/attendance`, {}), 404, 'nor one who does not see the session');

      // minutes: the organizer only
      const minutes = { minutes: '影像示右肺上叶结节 2.1cm，病理腺癌，无远处转移。', decisions: ['胸腔镜下右肺上叶切除', '术后辅助化疗评估'], followUpDate: '2027-01-15' };
      ok(await as('surgeon', 'POST', `/api/v1/mdt-sessions/${session.id}/minutes`, minutes), 403, 'a participant may not record the minutes');
      ok(await as('organizer', 'POST', `/api/v1/mdt-sessions/${session.id}/minutes`, { ...minutes, followUpDate: '15.01.2027' }), 400, 'a follow-up date that is not a date');
      const recorded = await as('organizer', 'POST', `/api/v1/mdt-sessions/${session.id}/minutes`, minutes);
      ok(recorded, 200, 'minutes');
      const held = recorded.body as MdtSessionView;
      assert.equal(held.status, 'held');
      assert.equal(held.minutes, minutes.minutes);
      assert.deepEqual(held.decisions, minutes.decisions);
      assert.equal(held.followUpDate, '2027-01-15');
      assert.ok(held.recordedAt);
      ok(await as('organizer', 'POST', `/api/v1/mdt-sessions/${session.id}/minutes`, minutes), 409, 'recorded already');

      // the participant still sees the session and the study (30 days after)
      const seen = await as('rad-city', 'GET', `/api/v1/mdt-sessions/${session.id}`);
      assert.deepEqual((seen.body as MdtSessionView).decisions, minutes.decisions);
      assert.equal(await sees('rad-city', study), true, 'the participant still sees the study after the session');
      assert.equal(await sees('tech2', study), false, 'a colleague of the participant does not');

      const audit = await as('admin', 'GET', `/api/v1/audit-events?objectId=${session.id}`);
      ok(audit, 200, 'audit');
      const actions = JSON.stringify(audit.body);
      for (const action of ['mdt.scheduled', 'mdt.attended', 'mdt.recorded']) assert.ok(actions.includes(`"${action}"`), `audit ${action}`);
    });
  });
}

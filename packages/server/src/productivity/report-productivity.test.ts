/**
 * Reporting productivity over real HTTP (issue 14, item 7), on SQLite and PostgreSQL:
 * templates and phrases in their scopes (the starter set read-only, an institution's seen by
 * its readers and kept by its lead, a personal one seen by its owner alone), and a report's
 * measurements and key images saved with the draft and read back by the reviewer.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startListeningServer, type ListeningServer } from '../test-support/listening-server.ts';
import { TEST_ADMIN_PASSWORD } from '../test-support/admin-auth.ts';
import { makeSyntheticInstance, newUid } from '../test-support/synthetic-dicom.ts';
import { stowBody } from '../dicomweb/test-support.ts';
import { callHttp, type HttpAnswer } from '../test-support/http-client.ts';
import { createTestDatabase, type TestDatabase } from '../test-support/postgres.ts';

const PASSWORD = 'Correct-Horse-9';

const USERS = {
  rad: { role: 'radiologist', institutionId: 'pc-centre' },
  rad2: { role: 'radiologist', institutionId: 'pc-centre' },
  lead: { role: 'reviewing-radiologist', institutionId: 'pc-centre' },
  otherRad: { role: 'radiologist', institutionId: 'pc-other' },
  tech: { role: 'technologist', institutionId: 'pc-town' },
  analyst: { role: 'commission-analyst', institutionId: 'pc-centre' },
} as const;
type User = keyof typeof USERS | 'admin';

interface TemplateView {
  id: string;
  scope: string;
  owner: string | null;
  institutionId: string | null;
  modality: string;
  bodyPart: string;
  name: string;
  findings: string;
}
interface PhraseView {
  id: string;
  scope: string;
  group: string;
  trigger: string | null;
  text: string;
}

for (const backend of ['sqlite', 'postgres'] as const) {
  describe(`${backend}: report library and attachments over HTTP`, () => {
    let server: ListeningServer;
    let database: TestDatabase | undefined;
    const tokens = {} as Record<User, string>;
    const as = async (user: User, method: string, url: string, body?: unknown): Promise<HttpAnswer> => callHttp(server.baseUrl, method, url, { token: tokens[user], body });
    const ok = (answer: HttpAnswer, status: number, what: string) => assert.equal(answer.status, status, `${what}: ${answer.text}`);
    const username = (user: User) => (user === 'admin' ? 'admin' : `pc-${user.toLowerCase()}`);

    before(async () => {
      database = backend === 'postgres' ? await createTestDatabase() : undefined;
      server = await startListeningServer(database ? { YUNYING_DATABASE_URL: database.url } : {});
      tokens.admin = ((await callHttp(server.baseUrl, 'POST', '/api/v1/auth/login', { body: { username: 'admin', password: TEST_ADMIN_PASSWORD } })).body as { token: string }).token;
      for (const institution of [
        { id: 'pc-centre', name: '县医院影像中心', tier: 'county' },
        { id: 'pc-other', name: '另一诊断中心', tier: 'county' },
        { id: 'pc-town', name: '镇卫生院', tier: 'township', parentId: 'pc-centre' },
      ]) ok(await as('admin', 'POST', '/api/v1/institutions', institution), 201, institution.id);
      ok(await as('admin', 'PUT', '/api/v1/institutions/pc-centre/members/pc-town'), 204, 'member');
      for (const [user, { role, institutionId }] of Object.entries(USERS)) {
        ok(await as('admin', 'POST', '/api/v1/users', { username: username(user as User), password: PASSWORD, role, institutionId }), 201, user);
        const login = await callHttp(server.baseUrl, 'POST', '/api/v1/auth/login', { body: { username: username(user as User), password: PASSWORD } });
        ok(login, 200, `login ${user}`);
        tokens[user as User] = (login.body as { token: string }).token;
      }
    });
    after(async () => {
      await server?.close();
      await database?.drop();
    });

    test('starter templates include ultrasound and MR, filtered by modality and body part, and cannot be changed', async () => {
      const thyroid = await as('rad', 'GET', '/api/v1/report-templates?modality=US&bodyPart=THYROID');
      ok(thyroid, 200, 'US thyroid');
      const list = thyroid.body as TemplateView[];
      assert.ok(list.length >= 2, 'two thyroid starters');
      assert.ok(list.every((t) => t.modality === 'US' && t.bodyPart === 'THYROID' && t.scope === 'system'));
      assert.ok(list.some((t) => t.name.includes('甲状腺')));
      for (const [modality, bodyPart] of [['US', 'ABDOMEN'], ['US', 'BREAST'], ['MR', 'HEAD'], ['MR', 'LSPINE'], ['CT', 'CHEST'], ['DX', 'CHEST']]) {
        const answer = await as('rad', 'GET', `/api/v1/report-templates?modality=${modality}&bodyPart=${bodyPart}`);
        assert.ok((answer.body as TemplateView[]).length > 0, `${modality} ${bodyPart}`);
      }
      const starter = list[0]!;
      const change = await as('lead', 'PUT', `/api/v1/report-templates/${starter.id}`, { modality: 'US', bodyPart: 'THYROID', name: '改', findings: 'x', impression: 'y' });
      ok(change, 409, 'a starter template');
      assert.equal((change.body as { code: string }).code, 'TEMPLATE_READ_ONLY');
      ok(await as('admin', 'DELETE', `/api/v1/report-templates/${starter.id}`), 409, 'the starter set stays');
    });

    test('a personal template is seen and kept by its owner only; an institution template by the centre, kept by its lead', async () => {
      const created = await as('rad', 'POST', '/api/v1/report-templates', { scope: 'personal', modality: 'us', bodyPart: 'thyroid', name: '我的甲状腺模板', findings: '甲状腺双侧叶大小正常。', impression: '甲状腺未见异常。' });
      ok(created, 201, 'personal template');
      const mine = created.body as TemplateView;
      assert.deepEqual([mine.scope, mine.owner, mine.institutionId, mine.modality, mine.bodyPart], ['personal', 'pc-rad', 'pc-centre', 'US', 'THYROID']);
      const seen = async (user: User) => ((await as(user, 'GET', '/api/v1/report-templates?modality=US&bodyPart=THYROID')).body as TemplateView[]).map((t) => t.id);
      assert.ok((await seen('rad')).includes(mine.id));
      for (const user of ['rad2', 'lead', 'otherRad', 'admin'] as const) assert.ok(!(await seen(user)).includes(mine.id), `${user} does not see it`);
      // to anyone else it does not exist
      for (const user of ['rad2', 'lead'] as const) {
        ok(await as(user, 'PUT', `/api/v1/report-templates/${mine.id}`, { modality: 'US', bodyPart: 'THYROID', name: '别人的', findings: '', impression: '' }), 404, `${user} edits`);
        ok(await as(user, 'DELETE', `/api/v1/report-templates/${mine.id}`), 404, `${user} deletes`);
      }
      const renamed = await as('rad', 'PUT', `/api/v1/report-templates/${mine.id}`, { modality: 'US', bodyPart: 'THYROID', name: '我的甲状腺模板（新）', findings: '甲状腺双侧叶大小正常，回声均匀。', impression: '甲状腺未见异常。' });
      ok(renamed, 200, 'owner edits');
      assert.equal((renamed.body as TemplateView).name, '我的甲状腺模板（新）');

      // institution scope: the lead keeps it; a radiologist may not create or change one
      ok(await as('rad', 'POST', '/api/v1/report-templates', { scope: 'institution', modality: 'US', bodyPart: 'THYROID', name: '科室模板', findings: 'a', impression: 'b' }), 403, 'a radiologist creates an institution template');
      const shared = await as('lead', 'POST', '/api/v1/report-templates', { scope: 'institution', modality: 'US', bodyPart: 'THYROID', name: '本科室甲状腺模板', findings: '甲状腺。', impression: '未见异常。' });
      ok(shared, 201, 'institution template');
      const sharedId = (shared.body as TemplateView).id;
      for (const user of ['rad', 'rad2', 'lead'] as const) assert.ok((await seen(user)).includes(sharedId), `${user} of the centre sees it`);
      assert.ok(!(await seen('otherRad')).includes(sharedId), 'another centre does not');
      ok(await as('rad', 'PUT', `/api/v1/report-templates/${sharedId}`, { modality: 'US', bodyPart: 'THYROID', name: 'x', findings: '', impression: '' }), 403, 'a radiologist changes it');
      ok(await as('otherRad', 'DELETE', `/api/v1/report-templates/${sharedId}`), 404, 'another centre deletes it');
      ok(await as('lead', 'POST', '/api/v1/report-templates', { scope: 'institution', institutionId: 'pc-other', modality: 'US', bodyPart: 'THYROID', name: 'x', findings: '', impression: '' }), 403, 'the lead writes for another centre');
      // an administrator keeps any institution's
      const adminMade = await as('admin', 'POST', '/api/v1/report-templates', { scope: 'institution', institutionId: 'pc-other', modality: 'MR', bodyPart: 'LSPINE', name: '他院腰椎模板', findings: '腰椎。', impression: '未见异常。' });
      ok(adminMade, 201, 'administrator for pc-other');
      assert.ok(((await as('otherRad', 'GET', '/api/v1/report-templates?modality=MR')).body as TemplateView[]).some((t) => t.id === (adminMade.body as TemplateView).id));
      // the administrator lists that institution's; a radiologist naming another institution still sees only their own
      assert.ok(((await as('admin', 'GET', '/api/v1/report-templates?modality=MR&institutionId=pc-other')).body as TemplateView[]).some((t) => t.id === (adminMade.body as TemplateView).id));
      assert.ok(!((await as('admin', 'GET', '/api/v1/report-templates?modality=MR')).body as TemplateView[]).some((t) => t.id === (adminMade.body as TemplateView).id));
      assert.ok(!((await as('rad', 'GET', '/api/v1/report-templates?modality=MR&institutionId=pc-other')).body as TemplateView[]).some((t) => t.id === (adminMade.body as TemplateView).id), 'the institutionId of a non-administrator is ignored');
      // roles without templates:write
      for (const user of ['tech', 'analyst'] as const) ok(await as(user, 'POST', '/api/v1/report-templates', { scope: 'personal', modality: 'US', bodyPart: 'THYROID', name: 'x', findings: '', impression: '' }), 403, user);
      ok(await as('lead', 'DELETE', `/api/v1/report-templates/${sharedId}`), 204, 'the lead deletes it');
      assert.ok(!(await seen('rad')).includes(sharedId));

      // the changes are in the audit trail
      const audit = await as('admin', 'GET', '/api/v1/audit-events?action=template.created&limit=50');
      ok(audit, 200, 'audit');
      const events = (audit.body as { events?: Array<{ objectId: string }> }).events ?? (audit.body as Array<{ objectId: string }>);
      assert.ok(JSON.stringify(events).includes(mine.id), 'template.created recorded');
    });

    test('phrases: starter, institution and personal ones by group, with triggers, each seen in its scope', async () => {
      const start = await as('rad', 'GET', '/api/v1/report-phrases');
      ok(start, 200, 'phrases');
      const starters = start.body as PhraseView[];
      assert.ok(starters.some((p) => p.scope === 'system' && p.trigger === 'wjyc' && p.text === '未见明显异常。'));
      const personal = await as('rad', 'POST', '/api/v1/report-phrases', { scope: 'personal', group: '我的', trigger: 'JZX', text: '甲状腺结节，建议随访。' });
      ok(personal, 201, 'personal phrase');
      assert.equal((personal.body as PhraseView).trigger, 'jzx');
      const institution = await as('lead', 'POST', '/api/v1/report-phrases', { scope: 'institution', group: '科室', trigger: 'ksjy', text: '建议上级医院进一步诊治。' });
      ok(institution, 201, 'institution phrase');
      ok(await as('rad', 'POST', '/api/v1/report-phrases', { scope: 'institution', group: '科室', text: 'x' }), 403, 'radiologist, institution scope');
      const texts = async (user: User) => ((await as(user, 'GET', '/api/v1/report-phrases')).body as PhraseView[]).map((p) => p.text);
      assert.ok((await texts('rad')).includes('甲状腺结节，建议随访。'));
      assert.ok((await texts('rad')).includes('建议上级医院进一步诊治。'));
      assert.ok(!(await texts('rad2')).includes('甲状腺结节，建议随访。'), 'personal: the owner only');
      assert.ok((await texts('rad2')).includes('建议上级医院进一步诊治。'));
      assert.ok(!(await texts('otherRad')).includes('建议上级医院进一步诊治。'), 'another centre');
      assert.ok(!((await as('otherRad', 'GET', '/api/v1/report-phrases?institutionId=pc-centre')).body as PhraseView[]).some((p) => p.text === '建议上级医院进一步诊治。'), 'naming another institution does not widen the scope');
      assert.ok(((await as('admin', 'GET', '/api/v1/report-phrases?institutionId=pc-centre')).body as PhraseView[]).some((p) => p.text === '建议上级医院进一步诊治。'), 'the administrator lists the centre’s');
      const id = (personal.body as PhraseView).id;
      ok(await as('rad2', 'PUT', `/api/v1/report-phrases/${id}`, { group: '我的', text: '改' }), 404, 'not the owner');
      ok(await as('rad', 'PUT', `/api/v1/report-phrases/${id}`, { group: '我的', trigger: 'jzx', text: '甲状腺结节，建议3-6个月复查。' }), 200, 'owner');
      ok(await as('rad', 'PUT', `/api/v1/report-phrases/starter-phrase-normal`, { group: '通用', text: '改' }), 409, 'starter phrase');
      ok(await as('tech', 'GET', '/api/v1/report-phrases'), 403, 'a technologist has no phrase library');
      ok(await as('rad', 'DELETE', `/api/v1/report-phrases/${id}`), 204, 'owner deletes');
      assert.ok(!(await texts('rad')).some((text) => text.startsWith('甲状腺结节')));
    });

    test('measurements and key images are saved with the draft, replaced on the next save, and read by the reviewer', async () => {
      const instance = makeSyntheticInstance({ patientId: 'P-PROD', patientName: 'Li^Lei=李^雷', modality: 'US' });
      const { payload, contentType } = stowBody([instance.bytes]);
      const stored = await fetch(`${server.baseUrl}/dicom-web/studies`, { method: 'POST', headers: { authorization: `Bearer ${tokens.tech}`, 'content-type': contentType, accept: 'application/dicom+json' }, body: payload });
      assert.equal(stored.status, 200, await stored.text());
      const created = await as('tech', 'POST', '/api/v1/reading-requests', { studyInstanceUid: instance.studyInstanceUid, readingInstitutionId: 'pc-centre', priority: 'routine', imagesComplete: true, bodyParts: ['THYROID'] });
      ok(created, 201, 'request');
      const requestId = (created.body as { id: string }).id;
      ok(await as('rad', 'POST', `/api/v1/reading-requests/${requestId}/claim`), 200, 'claim');
      const image = { seriesInstanceUid: instance.seriesInstanceUid, sopInstanceUid: instance.sopInstanceUid, frame: 1, seriesNumber: 2, instanceNumber: 45 };
      const measurement = { ...image, tool: 'length', value: 23.4, unit: 'mm', text: '长径 23.4 mm（序列 2，图像 45）' };
      const draft = await as('rad', 'PUT', `/api/v1/reading-requests/${requestId}/report`, { findings: `甲状腺右叶结节，${measurement.text}。`, impression: '甲状腺结节。', positive: true, measurements: [measurement, { ...measurement, value: 12.1, text: '长径 12.1 mm（序列 2，图像 45）' }], keyImages: [{ ...image, note: '结节最大层面' }, image] });
      ok(draft, 200, 'draft with attachments');
      const reportId = (draft.body as { id: string }).id;
      const read = async (user: User) => as(user, 'GET', `/api/v1/reports/${reportId}/attachments`);
      let attachments = (await read('rad')).body as { measurements: Array<typeof measurement & { studyInstanceUid: string }>; keyImages: Array<{ sopInstanceUid: string; studyInstanceUid: string; frame: number; note: string | null }> };
      assert.deepEqual(attachments.measurements.map((m) => [m.tool, m.value, m.unit, m.text, m.sopInstanceUid, m.frame, m.seriesNumber, m.instanceNumber, m.studyInstanceUid]), [
        ['length', 23.4, 'mm', '长径 23.4 mm（序列 2，图像 45）', instance.sopInstanceUid, 1, 2, 45, instance.studyInstanceUid],
        ['length', 12.1, 'mm', '长径 12.1 mm（序列 2，图像 45）', instance.sopInstanceUid, 1, 2, 45, instance.studyInstanceUid],
      ]);
      assert.equal(attachments.keyImages.length, 1, 'the same image marked twice is one key image');
      assert.equal(attachments.keyImages[0]!.note, '结节最大层面');
      assert.equal(attachments.keyImages[0]!.studyInstanceUid, instance.studyInstanceUid);

      // an autosave without them leaves them; a save with them replaces them
      ok(await as('rad', 'PUT', `/api/v1/reading-requests/${requestId}/report`, { findings: '甲状腺右叶结节。', impression: '甲状腺结节。', positive: true }), 200, 'autosave');
      assert.equal(((await read('rad')).body as typeof attachments).measurements.length, 2);
      ok(await as('rad', 'PUT', `/api/v1/reading-requests/${requestId}/report`, { findings: '甲状腺右叶结节。', impression: '甲状腺结节。', positive: true, measurements: [measurement] }), 200, 'replace measurements');
      attachments = (await read('rad')).body as typeof attachments;
      assert.equal(attachments.measurements.length, 1);
      assert.equal(attachments.keyImages.length, 1, 'key images untouched');
      // another study's image is refused
      const wrong = await as('rad', 'PUT', `/api/v1/reading-requests/${requestId}/report`, { findings: 'x', impression: 'y', positive: true, keyImages: [{ ...image, studyInstanceUid: newUid() }] });
      ok(wrong, 400, 'key image of another study');
      assert.equal((wrong.body as { code: string }).code, 'INVALID_ATTACHMENT');

      ok(await as('rad', 'POST', `/api/v1/reports/${reportId}/submit`), 200, 'submit');
      // the reviewer and the requesting township see them; another centre and roles without patient access do not
      const reviewer = await read('lead');
      ok(reviewer, 200, 'reviewer');
      assert.equal((reviewer.body as typeof attachments).measurements[0]!.text, '长径 23.4 mm（序列 2，图像 45）');
      assert.equal((reviewer.body as typeof attachments).keyImages[0]!.sopInstanceUid, instance.sopInstanceUid);
      ok(await read('tech'), 200, 'the requesting township');
      ok(await read('otherRad'), 404, 'another centre');
      ok(await read('analyst'), 403, 'no patient access');
      // the view is audited
      const audit = await as('admin', 'GET', `/api/v1/audit-events?action=study.viewed&limit=200`);
      assert.ok(audit.text.includes('"attachments"'), 'study.viewed with the attachments');
    });
  });
}

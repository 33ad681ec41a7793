/**
 * Administrator settings and the admin edits of issue 14 item 11, over real HTTP on SQLite
 * and PostgreSQL: pick lists (validation, scope, audit, the platform default and an
 * institution's own), the reading SLA (validation, audit, used for the next deadline),
 * routing-rule edits and the audited role change.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { systemCaller } from '../access/caller.ts';
import { TEST_ADMIN_PASSWORD } from '../test-support/admin-auth.ts';
import { callHttp, loginForToken, type HttpAnswer } from '../test-support/http-client.ts';
import { startListeningServer, type ListeningServer } from '../test-support/listening-server.ts';
import { createTestDatabase, type TestDatabase } from '../test-support/postgres.ts';
import { makeSyntheticInstance } from '../test-support/synthetic-dicom.ts';

const PASSWORD = 'Correct-Horse-9';

for (const backend of ['sqlite', 'postgres'] as const) {
  describe(`${backend}: administrator settings`, () => {
    let platform: ListeningServer;
    let database: TestDatabase | undefined;
    const tokens: Record<string, string> = {};
    const call = (who: string, method: string, url: string, body?: unknown): Promise<HttpAnswer> => callHttp(platform.baseUrl, method, url, { token: tokens[who], body });
    const code = (answer: HttpAnswer) => (answer.body as { code?: string }).code;
    const audit = (action: string) => platform.server.archive.audit.search({ action, limit: 50 });

    before(async () => {
      database = backend === 'postgres' ? await createTestDatabase() : undefined;
      platform = await startListeningServer(database ? { YUNYING_DATABASE_URL: database.url } : {});
      tokens.admin = await loginForToken(platform.baseUrl, 'admin', TEST_ADMIN_PASSWORD);
      for (const institution of [
        { id: 'ks-county', name: '昆山市第一人民医院', tier: 'county' },
        { id: 'ks-t1', name: '周市镇卫生院', tier: 'township', parentId: 'ks-county' },
        { id: 'ks-t2', name: '陆家镇卫生院', tier: 'township', parentId: 'ks-county' },
      ]) assert.equal((await call('admin', 'POST', '/api/v1/institutions', institution)).status, 201);
      for (const [username, role, institutionId] of [['tech1', 'technologist', 'ks-t1'], ['tech2', 'technologist', 'ks-t2'], ['rad1', 'radiologist', 'ks-county'], ['gw1', 'gateway', 'ks-t1']] as const) {
        assert.equal((await call('admin', 'POST', '/api/v1/users', { username, password: PASSWORD, role, institutionId })).status, 201);
        tokens[username] = await loginForToken(platform.baseUrl, username, PASSWORD);
      }
    });
    after(async () => {
      await platform?.close();
      await database?.drop();
    });

    test('pick lists: built-in defaults, the platform default, an institution’s own; validation, scope and audit', async () => {
      const initial = await call('tech1', 'GET', '/api/v1/settings/pick-lists');
      assert.equal(initial.status, 200, initial.text);
      const lists = initial.body as { institutionId: string; source: string; modalities: string[]; bodyParts: string[] };
      assert.equal(lists.institutionId, 'ks-t1');
      assert.equal(lists.source, 'default');
      assert.ok(lists.modalities.includes('DX') && lists.bodyParts.includes('CHEST') && lists.bodyParts.includes('LSPINE'));
      // a device account has no form; a technologist sees only the own institution's (404, like one that does not exist)
      assert.equal((await call('gw1', 'GET', '/api/v1/settings/pick-lists')).status, 403);
      assert.equal((await call('tech1', 'GET', '/api/v1/settings/pick-lists?institutionId=ks-t2')).status, 404);
      assert.equal((await call('tech1', 'GET', '/api/v1/settings/pick-lists?institutionId=nowhere')).status, 404);
      // only administrators write
      assert.equal((await call('tech1', 'PUT', '/api/v1/settings/pick-lists', { institutionId: 'ks-t1', modalities: ['DX'], bodyParts: ['CHEST'] })).status, 403);

      // validation: an empty list, a code that is not one, too many entries
      const empty = await call('admin', 'PUT', '/api/v1/settings/pick-lists', { modalities: [], bodyParts: ['CHEST'] });
      assert.equal(empty.status, 400);
      assert.equal(code(empty), 'INVALID_PICK_LIST');
      const notACode = await call('admin', 'PUT', '/api/v1/settings/pick-lists', { institutionId: 'ks-t1', modalities: ['DX'], bodyParts: ['胸部'] });
      assert.equal(notACode.status, 400);
      assert.deepEqual((notACode.body as { details: unknown }).details, { list: 'bodyParts', reason: 'code', value: '胸部' });
      assert.equal(code(await call('admin', 'PUT', '/api/v1/settings/pick-lists', { modalities: Array.from({ length: 101 }, (_, n) => `M${n}`), bodyParts: ['CHEST'] })), 'INVALID_PICK_LIST');
      assert.equal((await call('admin', 'PUT', '/api/v1/settings/pick-lists', { institutionId: 'nowhere', modalities: ['DX'], bodyParts: ['CHEST'] })).status, 404);
      assert.equal((await audit('settings.updated')).length, 0, 'a refused write records nothing');

      // the platform default, then ks-t1's own (normalised: trimmed, upper case, each once)
      const platformDefault = await call('admin', 'PUT', '/api/v1/settings/pick-lists', { modalities: ['DX', 'CT'], bodyParts: ['CHEST', 'HEAD'] });
      assert.equal(platformDefault.status, 200, platformDefault.text);
      assert.equal((platformDefault.body as { source: string }).source, 'platform');
      const own = await call('admin', 'PUT', '/api/v1/settings/pick-lists', { institutionId: 'ks-t1', modalities: [' dx ', 'US', 'DX'], bodyParts: ['chest', 'KNEE'] });
      assert.equal(own.status, 200, own.text);
      assert.deepEqual(own.body, { institutionId: 'ks-t1', source: 'institution', modalities: ['DX', 'US'], bodyParts: ['CHEST', 'KNEE'], updatedAt: (own.body as { updatedAt: string }).updatedAt, updatedBy: 'admin' });
      const t1 = (await call('tech1', 'GET', '/api/v1/settings/pick-lists')).body as { source: string; bodyParts: string[] };
      assert.deepEqual([t1.source, t1.bodyParts], ['institution', ['CHEST', 'KNEE']]);
      const t2 = (await call('tech2', 'GET', '/api/v1/settings/pick-lists')).body as { source: string; modalities: string[] };
      assert.deepEqual([t2.source, t2.modalities], ['platform', ['DX', 'CT']]);
      // a radiologist of the centre reads the townships it serves? only those in its scope: none without an alliance
      assert.equal((await call('rad1', 'GET', '/api/v1/settings/pick-lists?institutionId=ks-t1')).status, 404);
      assert.equal((await call('rad1', 'GET', '/api/v1/settings/pick-lists?institutionId=*')).status, 200);

      const records = await audit('settings.updated');
      assert.equal(records.length, 2);
      const t1Record = records.find((record) => record.object_id === 'ks-t1')!;
      assert.equal(t1Record.actor_name, 'admin');
      const details = JSON.parse(String(t1Record.details)) as { setting: string; before: unknown; after: { bodyParts: string[] } };
      assert.equal(details.setting, 'pick-lists');
      assert.equal(details.before, null);
      assert.deepEqual(details.after.bodyParts, ['CHEST', 'KNEE']);

      // back to the platform default
      const reset = await call('admin', 'DELETE', '/api/v1/settings/pick-lists/ks-t1');
      assert.equal(reset.status, 200, reset.text);
      assert.equal((reset.body as { source: string }).source, 'platform');
      assert.equal((await call('admin', 'DELETE', '/api/v1/settings/pick-lists/ks-t1')).status, 404);
      assert.equal((await call('tech1', 'DELETE', '/api/v1/settings/pick-lists/ks-t1')).status, 403);
      assert.equal((await audit('settings.reset')).length, 1);
    });

    test('reading SLA: the configuration’s until an administrator sets it; validated, audited, used for the next deadline', async () => {
      const initial = await call('rad1', 'GET', '/api/v1/settings/sla');
      assert.equal(initial.status, 200, initial.text);
      assert.deepEqual(initial.body, { emergency: 30, urgent: 60, routine: 120, source: 'config' });
      assert.equal((await call('tech1', 'PUT', '/api/v1/settings/sla', { emergency: 10, urgent: 20, routine: 30 })).status, 403);
      const order = await call('admin', 'PUT', '/api/v1/settings/sla', { emergency: 90, urgent: 60, routine: 120 });
      assert.equal(order.status, 400);
      assert.equal(code(order), 'INVALID_SLA');
      assert.deepEqual((order.body as { details: unknown }).details, { reason: 'order' });
      const range = await call('admin', 'PUT', '/api/v1/settings/sla', { emergency: 0, urgent: 60, routine: 120 });
      assert.equal(code(range), 'INVALID_SLA');
      assert.equal(code(await call('admin', 'PUT', '/api/v1/settings/sla', { emergency: 30, urgent: 60, routine: 20000 })), 'INVALID_SLA');
      assert.equal((await call('admin', 'PUT', '/api/v1/settings/sla', { emergency: 30, urgent: 60 })).status, 400);

      const set = await call('admin', 'PUT', '/api/v1/settings/sla', { emergency: 15, urgent: 45, routine: 600 });
      assert.equal(set.status, 200, set.text);
      assert.equal((set.body as { source: string }).source, 'settings');
      const [record] = await audit('settings.updated').then((rows) => rows.filter((row) => String(row.details).includes('reading-sla')));
      assert.ok(record, 'audited');
      const details = JSON.parse(String(record.details)) as { before: { routine: number; source: string }; after: { routine: number } };
      assert.deepEqual([details.before.routine, details.before.source, details.after.routine], [120, 'config', 600]);

      // the next request's deadline: images complete + 600 minutes (routine)
      const study = makeSyntheticInstance();
      await platform.server.archive.ingest(systemCaller(), { kind: 'part10', bytes: study.bytes });
      const created = await call('admin', 'POST', '/api/v1/reading-requests', { studyInstanceUid: study.studyInstanceUid, readingInstitutionId: 'ks-county', priority: 'routine', imagesComplete: true });
      assert.equal(created.status, 201, created.text);
      const view = created.body as { imagesCompleteAt: string; dueAt: string };
      assert.equal(Date.parse(view.dueAt) - Date.parse(view.imagesCompleteAt), 600 * 60_000);
    });

    test('routing rules are edited (a filter cleared, another set), audited; a role change is audited with the old role', async () => {
      const rule = await call('admin', 'POST', '/api/v1/routing-rules', { name: '周市 DR', sourceInstitutionId: 'ks-t1', modality: 'DX', readingInstitutionId: 'ks-county' });
      assert.equal(rule.status, 201, rule.text);
      const id = (rule.body as { id: string }).id;
      const patched = await call('admin', 'PATCH', `/api/v1/routing-rules/${id}`, { name: '周市 胸部', modality: null, bodyPart: 'chest', priority: 'urgent' });
      assert.equal(patched.status, 200, patched.text);
      const row = patched.body as { name: string; modality: string | null; body_part: string; priority: string; source_institution_id: string };
      assert.deepEqual([row.name, row.modality, row.body_part, row.priority, row.source_institution_id], ['周市 胸部', null, 'CHEST', 'urgent', 'ks-t1']);
      const listed = (await call('admin', 'GET', '/api/v1/routing-rules')).body as Array<{ id: string; body_part: string }>;
      assert.equal(listed.find((candidate) => candidate.id === id)?.body_part, 'CHEST');
      assert.equal((await call('admin', 'PATCH', `/api/v1/routing-rules/${id}`, { priority: 'whenever' })).status, 400);
      assert.equal((await call('admin', 'PATCH', `/api/v1/routing-rules/${id}`, { readingInstitutionId: 'nowhere' })).status, 404);
      assert.equal((await call('admin', 'PATCH', '/api/v1/routing-rules/00000000-0000-0000-0000-000000000000', { name: 'x' })).status, 404);
      assert.equal((await call('rad1', 'PATCH', `/api/v1/routing-rules/${id}`, { name: 'x' })).status, 403);
      const [updated] = await audit('routing-rule.updated');
      assert.equal(updated?.actor_name, 'admin');
      assert.match(String(updated?.details), /"before"/);

      const role = await call('admin', 'PATCH', '/api/v1/users/tech2', { role: 'clinician' });
      assert.equal(role.status, 200, role.text);
      const [changed] = await audit('user.updated');
      const roleDetails = JSON.parse(String(changed!.details)) as { before: { role: string }; changes: { role: string } };
      assert.deepEqual([changed!.object_id, roleDetails.before.role, roleDetails.changes.role], ['tech2', 'technologist', 'clinician']);
    });
  });
}

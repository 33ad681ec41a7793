import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { sql, type Kysely } from 'kysely';
import { systemCaller } from '../access/caller.ts';
import { permissionCatalog, roleHasPermission, type PermissionDeclaration } from '../access/permissions.ts';
import { buildServer, MODULES } from '../app.ts';
import { loadConfig } from '../config.ts';
import type { FeedChange } from '../feed/change.ts';
import type { StoreOpener } from '../store/store-opener.ts';
import { makeSyntheticInstance } from '../test-support/synthetic-dicom.ts';
import { webAppModule } from '../web-app/module.ts';
import type { YunyingModule } from './module.ts';

// A module names its permissions in the Permission type this way (access/permissions.ts).
declare module '../access/permissions.ts' {
  interface ModulePermissions {
    'qc:grade': true;
  }
}

const ADMIN_PASSWORD = 's3cret-Passw0rd';
const QC_PASSWORD = 'Qc-0fficer-Passw0rd';
const QC_GRADE: PermissionDeclaration = { name: 'qc:grade', zh: '影像质控评分', en: 'Grade the image quality of a study', roles: ['qc-officer'] };

/** The module's own table, and its store adapter (a module's `<name>-store.ts`). */
interface QualityTables {
  quality_fixture_grades: { study_instance_uid: string; grade: string };
}
interface GradeStore {
  grade(studyInstanceUid: string, grade: string): Promise<void>;
  grades(): Promise<Array<{ study_instance_uid: string; grade: string }>>;
}
const openGradeStore: StoreOpener<GradeStore, QualityTables> = (db) => ({
  grade: async (studyInstanceUid, grade) => void (await db.insertInto('quality_fixture_grades').values({ study_instance_uid: studyInstanceUid, grade }).execute()),
  grades: () => db.selectFrom('quality_fixture_grades').selectAll().orderBy('study_instance_uid').execute(),
});

/** What a new module (quality control, say) is: one folder with this registration. */
function qualityFixture(handled: (change: FeedChange) => void): YunyingModule {
  return {
    name: 'quality',
    permissions: [QC_GRADE],
    migrations: {
      '9990-quality-fixture-grades': {
        async up(db: Kysely<unknown>) {
          await db.schema.createTable('quality_fixture_grades').addColumn('study_instance_uid', 'text', (c) => c.primaryKey()).addColumn('grade', 'text', (c) => c.notNull()).execute();
        },
      },
    },
    register({ http, archive, callers }) {
      http.get('/api/v1/quality/grades', { config: { permission: 'qc:grade' }, schema: { tags: ['quality'] } }, async () => ({ grades: await archive.stores.open(openGradeStore).grades() }));
      // A grade commits with its audit record, in one unit of work with the core's writes.
      http.post('/api/v1/quality/grades', { config: { permission: 'qc:grade' }, schema: { tags: ['quality'] } }, async (request, reply) => {
        const caller = await callers.rest(request);
        const { studyInstanceUid, grade } = request.body as { studyInstanceUid: string; grade: string };
        await archive.unitOfWork.run(async (tx) => {
          await tx.open(openGradeStore).grade(studyInstanceUid, grade);
          tx.audit.record({ action: 'study.graded', caller, objectType: 'study', objectId: studyInstanceUid, details: { grade } });
        });
        return reply.status(201).send({ studyInstanceUid, grade });
      });
    },
    consumers: () => [{ group: 'quality-fixture', types: ['instance.stored'], handle: async (change) => handled(change) }],
  };
}

test('a module added to the list brings its route, its migration, its permission and its feed consumer', async () => {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'yunying-module-list-'));
  const changes: FeedChange[] = [];
  let delivered: () => void = () => undefined;
  const firstChange = new Promise<void>((resolve) => (delivered = resolve));
  const quality = qualityFixture((change) => {
    changes.push(change);
    delivered();
  });
  // The one line: the module in the list, before the web app's catch-all.
  const modules = MODULES.flatMap((module) => (module === webAppModule ? [quality, module] : [module]));
  const server = await buildServer(loadConfig({ YUNYING_DATA_DIR: dataDir, YUNYING_LOG_LEVEL: 'silent', YUNYING_ADMIN_PASSWORD: ADMIN_PASSWORD }), { modules });
  try {
    const login = async (username: string, password: string) => {
      const answer = await server.http.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { username, password } });
      assert.equal(answer.statusCode, 200, answer.body);
      return `Bearer ${answer.json<{ token: string }>().token}`;
    };
    const admin = await login('admin', ADMIN_PASSWORD);
    const created = await server.http.inject({ method: 'POST', url: '/api/v1/users', headers: { authorization: admin }, payload: { username: 'qc1', password: QC_PASSWORD, role: 'qc-officer', institutionId: 'default' } });
    assert.equal(created.statusCode, 201, created.body);
    const qcOfficer = await login('qc1', QC_PASSWORD);

    // its permission: in the catalog, held by the roles it names and by no other
    assert.ok(permissionCatalog().some((permission) => permission.name === 'qc:grade'));
    assert.ok(server.permissions.includes(QC_GRADE));
    assert.equal(roleHasPermission('qc-officer', 'qc:grade'), true);
    assert.equal(roleHasPermission('administrator', 'qc:grade'), false);

    // its route: signed in, checked against that permission, in the API description
    assert.equal((await server.http.inject({ method: 'GET', url: '/api/v1/quality/grades' })).statusCode, 401);
    assert.equal((await server.http.inject({ method: 'GET', url: '/api/v1/quality/grades', headers: { authorization: admin } })).statusCode, 403);
    const graded = await server.http.inject({ method: 'POST', url: '/api/v1/quality/grades', headers: { authorization: qcOfficer }, payload: { studyInstanceUid: '1.2.3', grade: '甲' } });
    assert.equal(graded.statusCode, 201, graded.body);
    const grades = await server.http.inject({ method: 'GET', url: '/api/v1/quality/grades', headers: { authorization: qcOfficer } });
    assert.equal(grades.statusCode, 200, grades.body);
    assert.deepEqual(grades.json(), { grades: [{ study_instance_uid: '1.2.3', grade: '甲' }] });
    const openapi = await server.http.inject({ method: 'GET', url: '/api/openapi.json', headers: { authorization: admin } });
    assert.ok('/api/v1/quality/grades' in openapi.json<{ paths: Record<string, unknown> }>().paths);

    // its migration, run with the core ones; its store's write committed with its audit record
    const { rows } = await sql<{ name: string }>`select name from kysely_migration where name like '%quality%'`.execute(server.archive.database.db);
    assert.deepEqual(rows, [{ name: '9990-quality-fixture-grades' }]);
    const [record] = await server.archive.audit.search({ action: 'study.graded', limit: 10 });
    assert.equal(record?.object_id, '1.2.3');
    // a write that fails rolls its audit record back with it (the grade exists: primary key)
    const again = await server.http.inject({ method: 'POST', url: '/api/v1/quality/grades', headers: { authorization: qcOfficer }, payload: { studyInstanceUid: '1.2.3', grade: '乙' } });
    assert.equal(again.statusCode, 500);
    assert.equal((await server.archive.audit.search({ action: 'study.graded', limit: 10 })).length, 1);

    // its consumer, subscribed to the change feed: a stored instance reaches it
    assert.ok(server.feedConsumers.some((consumer) => consumer.group === 'quality-fixture'));
    const instance = makeSyntheticInstance({ size: 8 });
    await server.archive.ingest(systemCaller(), { kind: 'part10', bytes: instance.bytes });
    await firstChange;
    assert.equal(changes[0]?.type, 'instance.stored');
    assert.equal(changes[0]?.payload.studyInstanceUid, instance.studyInstanceUid);
  } finally {
    await server.close();
    await rm(dataDir, { recursive: true, force: true });
  }
});

test('the web app comes last in the list: its catch-all shadows no module route', () => {
  assert.equal(MODULES.at(-1), webAppModule);
  assert.equal(new Set(MODULES.map((module) => module.name)).size, MODULES.length);
});

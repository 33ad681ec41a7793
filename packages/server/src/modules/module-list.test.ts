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
    register({ http, callers }) {
      http.get('/api/v1/quality/grades', { config: { permission: 'qc:grade' }, schema: { tags: ['quality'] } }, async (request) => ({ grades: [], caller: (await callers.rest(request)).name }));
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
    const grades = await server.http.inject({ method: 'GET', url: '/api/v1/quality/grades', headers: { authorization: qcOfficer } });
    assert.equal(grades.statusCode, 200, grades.body);
    assert.deepEqual(grades.json(), { grades: [], caller: 'qc1' });
    const openapi = await server.http.inject({ method: 'GET', url: '/api/openapi.json', headers: { authorization: admin } });
    assert.ok('/api/v1/quality/grades' in openapi.json<{ paths: Record<string, unknown> }>().paths);

    // its migration, run with the core ones
    const { rows } = await sql<{ name: string }>`select name from kysely_migration where name like '%quality%'`.execute(server.archive.database.db);
    assert.deepEqual(rows, [{ name: '9990-quality-fixture-grades' }]);
    await sql`insert into quality_fixture_grades (study_instance_uid, grade) values ('1.2.3', 'A')`.execute(server.archive.database.db);

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

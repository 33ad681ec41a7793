import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { sql, type Kysely } from 'kysely';
import { buildServer, MODULES } from '../app.ts';
import { loadConfig } from '../config.ts';
import type { FeedChange } from '../feed/change.ts';
import { webAppModule } from '../web-app/module.ts';
import type { YunyingModule } from './module.ts';

const ADMIN_PASSWORD = 's3cret-Passw0rd';

/** What a new module (quality control, say) is: one folder with this registration. */
function qualityFixture(handled: FeedChange[]): YunyingModule {
  return {
    name: 'quality',
    permissions: [{ name: 'qc:grade', zh: '影像质控评分', en: 'Grade the image quality of a study' }],
    migrations: {
      '9990-quality-fixture-grades': {
        async up(db: Kysely<unknown>) {
          await db.schema.createTable('quality_fixture_grades').addColumn('study_instance_uid', 'text', (c) => c.primaryKey()).addColumn('grade', 'text', (c) => c.notNull()).execute();
        },
      },
    },
    register({ http, callers }) {
      http.get('/api/v1/quality/grades', { schema: { tags: ['quality'] } }, async (request) => {
        const caller = await callers.rest(request);
        return { grades: [], caller: caller.name };
      });
    },
    consumers: () => [{ group: 'quality-fixture', types: ['instance.stored'], handle: async (change) => void handled.push(change) }],
  };
}

test('a module added to the list brings its route, its migration, its permission and its feed consumer', async () => {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'yunying-module-list-'));
  const handled: FeedChange[] = [];
  // The one line: the module in the list, before the web app's catch-all.
  const modules = MODULES.flatMap((module) => (module === webAppModule ? [qualityFixture(handled), module] : [module]));
  const server = await buildServer(loadConfig({ YUNYING_DATA_DIR: dataDir, YUNYING_LOG_LEVEL: 'silent', YUNYING_ADMIN_PASSWORD: ADMIN_PASSWORD }), { modules });
  try {
    const login = await server.http.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { username: 'admin', password: ADMIN_PASSWORD } });
    const authorization = `Bearer ${login.json<{ token: string }>().token}`;

    // its route, behind sign-in like every other, and in the API description
    assert.equal((await server.http.inject({ method: 'GET', url: '/api/v1/quality/grades' })).statusCode, 401);
    const grades = await server.http.inject({ method: 'GET', url: '/api/v1/quality/grades', headers: { authorization } });
    assert.equal(grades.statusCode, 200, grades.body);
    assert.deepEqual(grades.json(), { grades: [], caller: 'admin' });
    const openapi = await server.http.inject({ method: 'GET', url: '/api/openapi.json', headers: { authorization } });
    assert.ok('/api/v1/quality/grades' in openapi.json<{ paths: Record<string, unknown> }>().paths);

    // its migration, run with the core ones
    const { rows } = await sql<{ name: string }>`select name from kysely_migration where name like '%quality%'`.execute(server.archive.database.db);
    assert.deepEqual(rows, [{ name: '9990-quality-fixture-grades' }]);
    await sql`insert into quality_fixture_grades (study_instance_uid, grade) values ('1.2.3', 'A')`.execute(server.archive.database.db);

    // its permission, in the catalog
    assert.ok(server.permissions.some((permission) => permission.name === 'qc:grade'));

    // its consumer, registered with the change feed
    assert.ok(server.feedConsumers.some((consumer) => consumer.group === 'quality-fixture'));
  } finally {
    await server.close();
    await rm(dataDir, { recursive: true, force: true });
  }
});

test('the web app comes last in the list: its catch-all shadows no module route', () => {
  assert.equal(MODULES.at(-1), webAppModule);
  assert.equal(new Set(MODULES.map((module) => module.name)).size, MODULES.length);
});

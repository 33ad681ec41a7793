import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { sql, type Kysely } from 'kysely';
import { openIndexDatabase } from '../store/database.ts';
import { createTestDatabase } from '../test-support/postgres.ts';
import { serviceKey, type ModuleContext, type YunyingModule } from './module.ts';
import { createServiceRegistry, moduleMigrations, modulePermissions, registerModules } from './registry.ts';
import type { PermissionDeclaration } from '../access/permissions.ts';

declare module '../access/permissions.ts' {
  interface ModulePermissions {
    'qc:grade': true;
  }
}

/** A module with one table, whose SQL differs by dialect as a real one's may. */
const fixtureModule: YunyingModule = {
  name: 'fixture',
  migrations: (dialect) => ({
    '9990-fixture-grades': {
      async up(db: Kysely<unknown>) {
        await db.schema
          .createTable('fixture_grades')
          .addColumn('id', dialect === 'postgres' ? 'bigserial' : 'integer', (c) => c.primaryKey())
          .addColumn('grade', 'text', (c) => c.notNull())
          .execute();
      },
    },
  }),
};

for (const backend of ['sqlite', 'postgres'] as const) {
  test(`a module's migrations run with the core list, as one set sorted by name (${backend})`, async () => {
    const dataDir = await mkdtemp(path.join(tmpdir(), 'yunying-modules-'));
    const postgres = backend === 'postgres' ? await createTestDatabase() : undefined;
    try {
      const database = await openIndexDatabase({ dataDir, fsync: false, databaseUrl: postgres?.url, moduleMigrations: moduleMigrations([fixtureModule]) });
      try {
        const { rows } = await sql<{ name: string }>`select name from kysely_migration order by name`.execute(database.db);
        const names = rows.map((row) => row.name);
        assert.equal(names.at(-1), '9990-fixture-grades', 'after every core migration');
        assert.ok(names.includes('0001-archive-core'));
        await sql`insert into fixture_grades (grade) values ('甲')`.execute(database.db);
        const { rows: grades } = await sql<{ grade: string }>`select grade from fixture_grades`.execute(database.db);
        assert.deepEqual(grades, [{ grade: '甲' }]);
      } finally {
        await database.close();
      }
      // A second start runs nothing again.
      const again = await openIndexDatabase({ dataDir, fsync: false, databaseUrl: postgres?.url, moduleMigrations: moduleMigrations([fixtureModule]) });
      await again.close();
    } finally {
      await postgres?.drop();
      await rm(dataDir, { recursive: true, force: true });
    }
  });
}

test('a module migration may not take the name of a core migration', async () => {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'yunying-modules-'));
  try {
    const clash: YunyingModule = { name: 'clash', migrations: { '0001-archive-core': { up: async () => undefined } } };
    await assert.rejects(openIndexDatabase({ dataDir, fsync: false, moduleMigrations: moduleMigrations([clash]) }), /0001-archive-core has the name of a core migration/);
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
});

describe('the registry refuses what two modules would both own', () => {
  test('a migration name', () => {
    const a: YunyingModule = { name: 'a', migrations: { '9991-x': { up: async () => undefined } } };
    const b: YunyingModule = { name: 'b', migrations: { '9991-x': { up: async () => undefined } } };
    assert.throws(() => moduleMigrations([a, b])('sqlite'), /9991-x is declared by modules a and b/);
  });

  test('a permission', () => {
    const permission: PermissionDeclaration = { name: 'qc:grade', zh: '质控评分', en: 'grade image quality' };
    assert.deepEqual(modulePermissions([{ name: 'a', permissions: [permission] }]), [permission]);
    assert.throws(() => modulePermissions([{ name: 'a', permissions: [permission] }, { name: 'b', permissions: [permission] }]), /qc:grade is declared by modules a and b/);
  });

  test('a module name, a consumer group', async () => {
    const ctx = { services: createServiceRegistry() } as unknown as ModuleContext;
    await assert.rejects(registerModules([{ name: 'a' }, { name: 'a' }], ctx), /module a is listed twice/);
    const consumer = { group: 'grading', handle: async () => undefined };
    await assert.rejects(registerModules([{ name: 'a', consumers: () => [consumer] }, { name: 'b', consumers: () => [consumer] }], ctx), /group grading is registered twice/);
  });
});

test('a module uses the services of the modules listed before it, and is told when one is missing', async () => {
  const GREETING = serviceKey<{ hello(): string }>('greeting');
  const seen: string[] = [];
  const provider: YunyingModule = { name: 'provider', register: ({ services }) => services.provide(GREETING, { hello: () => '你好' }) };
  const user: YunyingModule = { name: 'user', register: ({ services }) => void seen.push(services.get(GREETING).hello()) };
  await registerModules([provider, user], { services: createServiceRegistry() } as unknown as ModuleContext);
  assert.deepEqual(seen, ['你好']);
  await assert.rejects(registerModules([user, provider], { services: createServiceRegistry() } as unknown as ModuleContext), /service greeting is not provided/);
});

test('consumers are asked for after every module registered, so they may use any module\'s service', async () => {
  const LATE = serviceKey<string>('late');
  const early: YunyingModule = { name: 'early', consumers: ({ services }) => [{ group: `early-${services.get(LATE)}`, handle: async () => undefined }] };
  const late: YunyingModule = { name: 'late', register: ({ services }) => services.provide(LATE, 'ok') };
  const consumers = await registerModules([early, late], { services: createServiceRegistry() } as unknown as ModuleContext);
  assert.deepEqual(consumers.map((consumer) => consumer.group), ['early-ok']);
});

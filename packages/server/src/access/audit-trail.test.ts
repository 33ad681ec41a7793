import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { openArchive } from '../archive/archive.ts';
import { createTestDatabase } from '../test-support/postgres.ts';
import { systemCaller } from './caller.ts';
import { AccessService } from './access-service.ts';

for (const backend of ['sqlite', 'postgres'] as const) {
  test(`${backend}: parallel appends from two archives keep one intact chain; scope queries and sessions work`, async () => {
    const dataDir = await mkdtemp(path.join(tmpdir(), 'yunying-audit-'));
    const postgres = backend === 'postgres' ? await createTestDatabase() : undefined;
    // Two archives on one PostgreSQL database stand for two server processes.
    const first = await openArchive({ dataDir, fsync: false, databaseUrl: postgres?.url });
    const second = backend === 'postgres' ? await openArchive({ dataDir, fsync: false, databaseUrl: postgres?.url }) : first;
    try {
      const caller = systemCaller('audit-test');
      const writes = Array.from({ length: 200 }, (_, n) => (n % 2 === 0 ? first : second).audit.record({ action: 'study.viewed', caller, objectType: 'study', objectId: `1.2.3.${n}` }));
      await Promise.all(writes);
      const result = await first.audit.verify();
      assert.equal(result.ok, true, JSON.stringify(result.brokenAt));
      assert.equal(result.count, 200);
      assert.equal((await first.audit.search({ objectId: '1.2.3.7', limit: 10 })).length, 1);

      const access = new AccessService(first.accessStore, first.audit, { tokenTtlSeconds: 60 });
      await access.createInstitution(caller, { id: 'county', name: '县医院', tier: 'county' });
      await access.createInstitution(caller, { id: 'town', name: '卫生院', tier: 'township', parentId: 'county' });
      await access.createUser(caller, { username: 'qc', password: 'Correct-Horse-9', role: 'qc-officer', institutionId: 'county' });
      const { token } = await access.login('qc', 'Correct-Horse-9', { via: 'rest' });
      const qc = await new AccessService(second.accessStore, second.audit, { tokenTtlSeconds: 60 }).authenticateToken(token, { via: 'dicomweb' });
      assert.deepEqual([...(qc.visibleInstitutionIds as string[])].sort(), ['county', 'town']);
      await access.logout(token);
      await assert.rejects(access.authenticateToken(token, { via: 'rest' }), /invalid, expired or revoked/);
      assert.equal((await first.audit.verify()).ok, true);
    } finally {
      if (second !== first) await second.close();
      await first.close();
      await postgres?.drop();
      await rm(dataDir, { recursive: true, force: true });
    }
  });
}

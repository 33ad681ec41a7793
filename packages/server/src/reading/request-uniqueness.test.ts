/**
 * One open reading request per study and reading centre (issue 13, item 10): the check
 * "is there an open request?" and the insert were two statements, so requests made at
 * once all passed the check. A partial unique index (migration 0010-one-open-request)
 * decides now; the requests that lose answer 409 REQUEST_EXISTS. On SQLite and PostgreSQL.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { sql, type Kysely } from 'kysely';
import { openArchive } from '../archive/archive.ts';
import { systemCaller } from '../access/caller.ts';
import { migrationProviderFor } from '../store/migrations.ts';
import { ReadingStore } from '../store/reading-store.ts';
import { createReadingServices } from './reading-services.ts';
import { DEFAULT_SLA_MINUTES } from './sla.ts';
import { TEST_ADMIN_PASSWORD } from '../test-support/admin-auth.ts';
import { callHttp, loginForToken, stowOptions } from '../test-support/http-client.ts';
import { startListeningServer } from '../test-support/listening-server.ts';
import { createTestDatabase } from '../test-support/postgres.ts';
import { makeSyntheticInstance } from '../test-support/synthetic-dicom.ts';
import { stowBody } from '../dicomweb/test-support.ts';

const PASSWORD = 'Correct-Horse-9';
const AT_ONCE = 20;

for (const backend of ['sqlite', 'postgres'] as const) {
  test(`${backend}: ${AT_ONCE} technologist requests for one study at once open exactly one reading request`, async () => {
    const database = backend === 'postgres' ? await createTestDatabase() : undefined;
    const server = await startListeningServer(database ? { YUNYING_DATABASE_URL: database.url } : {});
    try {
      const admin = await loginForToken(server.baseUrl, 'admin', TEST_ADMIN_PASSWORD);
      for (const institution of [
        { id: 'one-county', name: '县人民医院', tier: 'county', grade: 2 },
        { id: 'one-t1', name: '镇卫生院', tier: 'township', grade: 1, parentId: 'one-county' },
      ]) {
        const created = await callHttp(server.baseUrl, 'POST', '/api/v1/institutions', { token: admin, body: institution });
        assert.equal(created.status, 201, created.text);
      }
      assert.equal((await callHttp(server.baseUrl, 'PUT', '/api/v1/institutions/one-county/members/one-t1', { token: admin })).status, 204);
      const user = await callHttp(server.baseUrl, 'POST', '/api/v1/users', { token: admin, body: { username: 'tech', password: PASSWORD, role: 'technologist', institutionId: 'one-t1' } });
      assert.equal(user.status, 201, user.text);
      const tech = await loginForToken(server.baseUrl, 'tech', PASSWORD);
      const study = makeSyntheticInstance({ patientId: 'ONE1', accessionNumber: 'ONE1' });
      const stored = await callHttp(server.baseUrl, 'POST', '/dicom-web/studies', stowOptions(stowBody([study.bytes]), tech));
      assert.equal(stored.status, 200, stored.text);

      const answers = await Promise.all(
        Array.from({ length: AT_ONCE }, () => callHttp(server.baseUrl, 'POST', '/api/v1/reading-requests', { token: tech, body: { studyInstanceUid: study.studyInstanceUid, priority: 'urgent', imagesComplete: true } })),
      );
      const summary = answers.map((answer) => `${answer.status} ${(answer.body as { code?: string }).code ?? ''}`).join(', ');
      assert.equal(answers.filter((answer) => answer.status === 201).length, 1, summary);
      for (const lost of answers.filter((answer) => answer.status !== 201)) {
        assert.equal(lost.status, 409, lost.text);
        assert.equal((lost.body as { code?: string }).code, 'REQUEST_EXISTS', lost.text);
      }
      const worklist = await callHttp(server.baseUrl, 'GET', '/api/v1/reading-requests?limit=100', { token: admin });
      assert.equal(worklist.status, 200, worklist.text);
      const items = (worklist.body as { items?: Array<{ studyInstanceUid: string }> }).items ?? (worklist.body as Array<{ studyInstanceUid: string }>);
      assert.equal(items.filter((item) => item.studyInstanceUid === study.studyInstanceUid).length, 1, worklist.text);

      // Once that request is cancelled the study may be requested again.
      const created = answers.find((answer) => answer.status === 201)!.body as { id: string };
      const cancelled = await callHttp(server.baseUrl, 'POST', `/api/v1/reading-requests/${created.id}/cancel`, { token: tech, body: { reason: 'wrong centre' } });
      assert.equal(cancelled.status, 200, cancelled.text);
      const again = await callHttp(server.baseUrl, 'POST', '/api/v1/reading-requests', { token: tech, body: { studyInstanceUid: study.studyInstanceUid, priority: 'routine', imagesComplete: true } });
      assert.equal(again.status, 201, again.text);
    } finally {
      await server.close();
      await database?.drop();
    }
  });
}

for (const backend of ['sqlite', 'postgres'] as const) {
  test(`${backend}: the upgrade to one open request per study cancels the duplicates made before it, keeping the one furthest along`, async () => {
    const dataDir = await mkdtemp(path.join(tmpdir(), 'yunying-one-open-'));
    const database = backend === 'postgres' ? await createTestDatabase() : undefined;
    const archive = await openArchive({ dataDir, fsync: false, databaseUrl: database?.url });
    try {
      const admin = { ...systemCaller(), via: 'rest' as const };
      await archive.accessStore.insertInstitution({ id: 'centre', name: '县医院', tier: 'county', grade: 3, region_code: null, parent_id: null });
      const reading = createReadingServices({ store: new ReadingStore(archive.database.db, archive.database.dialect), access: archive.accessStore, index: archive.index, audit: archive.audit, notifier: { publish: async () => undefined }, unitOfWork: archive.unitOfWork }, { sla: DEFAULT_SLA_MINUTES, stableSeconds: 30, timeZone: 'Asia/Shanghai' });
      const study = makeSyntheticInstance();
      await archive.ingest(admin, { kind: 'part10', bytes: study.bytes });
      const first = await reading.requests.createRequest(admin, { studyInstanceUid: study.studyInstanceUid, readingInstitutionId: 'centre', priority: 'routine', imagesComplete: true });

      // A database from before the index: three open requests for the study at one centre, the youngest claimed.
      const db = archive.database.db;
      await sql`drop index reading_requests_one_open`.execute(db);
      const row = (await db.selectFrom('reading_requests').selectAll().where('id', '=', first.id).executeTakeFirstOrThrow());
      await db.insertInto('reading_requests').values({ ...row, id: 'dup-pending', created_at: '2999-01-01T00:00:00.000Z' }).execute();
      await db.insertInto('reading_requests').values({ ...row, id: 'dup-claimed', status: 'claimed', claimed_by: 'rad1', created_at: '2999-01-02T00:00:00.000Z' }).execute();

      // The upgrade: migration 0010's step over this database. (Deleting its row from
      // kysely_migration to have it run again no longer works once later migrations ran.)
      const migrations = await migrationProviderFor(archive.database.dialect).getMigrations();
      await migrations['0010-one-open-request']!.up(db as unknown as Kysely<unknown>);
      const statuses = Object.fromEntries((await archive.database.db.selectFrom('reading_requests').select(['id', 'status']).execute()).map((request) => [request.id, request.status]));
      assert.deepEqual(statuses, { [first.id]: 'cancelled', 'dup-pending': 'cancelled', 'dup-claimed': 'claimed' });
      const trail = await archive.database.db.selectFrom('reading_request_events').select(['request_id', 'actor', 'to_status']).where('actor', '=', 'migration:0010-one-open-request').orderBy('request_id').execute();
      assert.deepEqual(trail.map((event) => event.request_id).sort(), [first.id, 'dup-pending'].sort());
      assert.ok(trail.every((event) => event.to_status === 'cancelled'));
    } finally {
      await archive.close();
      await database?.drop();
      await rm(dataDir, { recursive: true, force: true });
    }
  });
}

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { openArchive, type Archive } from '../archive/archive.ts';
import { auditHash, GENESIS_HASH, type AuditRow } from '../store/audit-store.ts';
import { parseChainHead } from './audit-trail.ts';
import { startAuditHeadLog } from './audit-head-log.ts';
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

      const access = new AccessService(first.accessStore, first.audit, { tokenTtlSeconds: 60, unitOfWork: first.unitOfWork });
      await access.createInstitution(caller, { id: 'county', name: '县医院', tier: 'county' });
      await access.createInstitution(caller, { id: 'town', name: '卫生院', tier: 'township', parentId: 'county' });
      await access.createUser(caller, { username: 'qc', password: 'Correct-Horse-9', role: 'qc-officer', institutionId: 'county' });
      const { token } = await access.login('qc', 'Correct-Horse-9', { via: 'rest' });
      const qc = await new AccessService(second.accessStore, second.audit, { tokenTtlSeconds: 60, unitOfWork: second.unitOfWork }).authenticateToken(token, { via: 'dicomweb' });
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

/** An attacker with write access to the database but not the key: rewrites rows from `fromSeq` on, re-hashing each with plain SHA-256. */
async function rehashUnkeyed(archive: Archive, fromSeq: number, edit: (row: AuditRow) => AuditRow = (row) => row): Promise<void> {
  const rows = await archive.audit.search({ afterSeq: fromSeq - 1, limit: 100_000 });
  let prevHash = fromSeq === 1 ? GENESIS_HASH : (await archive.audit.search({ afterSeq: fromSeq - 2, limit: 1 }))[0]!.hash;
  for (const original of rows) {
    const row = { ...edit(original), prev_hash: prevHash };
    const hash = auditHash(row);
    await archive.database.db.updateTable('audit_events').set({ ...row, hash }).where('seq', '=', original.seq).execute();
    prevHash = hash;
  }
}

async function withArchives(backend: 'sqlite' | 'postgres', use: (open: (keyFile?: string) => Promise<Archive>, dataDir: string) => Promise<void>): Promise<void> {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'yunying-audit-key-'));
  const postgres = backend === 'postgres' ? await createTestDatabase() : undefined;
  const opened: Archive[] = [];
  try {
    await use(async (keyFile) => {
      const archive = await openArchive({ dataDir, fsync: false, databaseUrl: postgres?.url, auditKeyFile: keyFile });
      opened.push(archive);
      return archive;
    }, dataDir);
  } finally {
    for (const archive of opened.reverse()) await archive.close();
    await postgres?.drop();
    await rm(dataDir, { recursive: true, force: true });
  }
}

const caller = systemCaller('audit-key-test');
const recordMany = (archive: Archive, n: number) => Promise.all(Array.from({ length: n }, (_, i) => archive.audit.record({ action: 'study.viewed', caller, objectType: 'study', objectId: `1.2.840.${i}` })));

for (const backend of ['sqlite', 'postgres'] as const) {
  test(`${backend}: a record edited and re-hashed without the key (plain SHA-256) is detected`, async () => {
    await withArchives(backend, async (open) => {
      const archive = await open();
      await recordMany(archive, 20);
      const before = await archive.audit.verify();
      assert.equal(before.ok, true, JSON.stringify(before.brokenAt));
      assert.equal(before.keyedFromSeq, 1, 'a fresh trail is keyed from its first record');
      assert.equal(before.head, `${before.headSeq}:${before.headHash}`);
      const victim = (await archive.audit.search({ objectId: '1.2.840.7', limit: 1 }))[0]!;
      await rehashUnkeyed(archive, victim.seq, (row) => (row.seq === victim.seq ? { ...row, actor_name: 'someone-else' } : row));
      const after = await archive.audit.verify();
      assert.equal(after.ok, false);
      assert.deepEqual(after.brokenAt, { seq: victim.seq, reason: 'its content does not match its hash' });
      // and the whole chain re-hashed, the keying record included
      await rehashUnkeyed(archive, 1);
      assert.equal((await archive.audit.verify()).brokenAt?.seq, 1);
    });
  });

  test(`${backend}: cutting the last records is detected against the head recorded earlier`, async () => {
    await withArchives(backend, async (open) => {
      const archive = await open();
      await recordMany(archive, 10);
      const { head, headSeq } = await archive.audit.verify();
      await archive.database.db.deleteFrom('audit_events').where('seq', '>', headSeq - 3).execute();
      assert.equal((await archive.audit.verify()).ok, true, 'without a head kept elsewhere a cut tail looks whole');
      const cut = await archive.audit.verify(parseChainHead(head));
      assert.equal(cut.ok, false);
      assert.match(cut.brokenAt!.reason, /records were cut/);
      assert.equal(cut.head, `${headSeq - 3}:${(await archive.audit.search({ newestFirst: true, limit: 1 }))[0]!.hash}`);
    });
  });

  test(`${backend}: records of before the upgrade (unkeyed) still verify; the chain is keyed from the next one`, async () => {
    await withArchives(backend, async (open, dataDir) => {
      const archive = await open();
      await recordMany(archive, 5);
      // Stand-in for a database of before the upgrade: every record unkeyed, no keying record, no key file.
      await archive.database.db.deleteFrom('audit_events').execute();
      let prevHash = GENESIS_HASH;
      for (let seq = 1; seq <= 5; seq += 1) {
        const row = { seq, occurred_at: new Date().toISOString(), action: 'study.viewed', outcome: 'success', actor_kind: 'system', actor_name: 'old', actor_role: 'administrator', actor_institution_id: 'default', remote_address: null, via: 'system', object_type: 'study', object_id: `1.2.9.${seq}`, patient_id: null, details: '{}', prev_hash: prevHash };
        prevHash = auditHash(row);
        await archive.database.db.insertInto('audit_events').values({ ...row, hash: prevHash }).execute();
      }
      await archive.close();
      await rm(path.join(dataDir, 'audit-key'));
      const upgraded = await open();
      await upgraded.audit.ensureKeyed();
      await recordMany(upgraded, 3);
      const result = await upgraded.audit.verify();
      assert.equal(result.ok, true, JSON.stringify(result.brokenAt));
      assert.equal(result.keyedFromSeq, 6);
      assert.equal(result.count, 8);
      const keying = (await upgraded.audit.search({ action: 'audit.chain-keyed', limit: 2 }))[0]!;
      assert.deepEqual(JSON.parse(keying.details), { scheme: 'hmac-sha256', keyId: result.keyId, unkeyedRecords: 5 });
      // an old record edited and everything after it re-hashed: the old records pass the
      // unkeyed check, but the keying record's keyed hash covers the hash before it
      await rehashUnkeyed(upgraded, 3, (row) => (row.seq === 3 ? { ...row, actor_name: 'rewritten' } : row));
      assert.deepEqual((await upgraded.audit.verify()).brokenAt, { seq: 6, reason: 'its content does not match its hash' });
    });
  });

  test(`${backend}: a process with another key, or a chain that lost its keying record, is refused`, async () => {
    await withArchives(backend, async (open, dataDir) => {
      const archive = await open();
      await recordMany(archive, 4);
      const keyFile = path.join(dataDir, 'audit-key');
      assert.equal((await stat(keyFile)).mode & 0o777, 0o600);
      const other = await open(path.join(dataDir, 'other-key'));
      await assert.rejects(other.audit.ensureKeyed(), (error: Error & { code?: string }) => error.code === 'AUDIT_KEY_MISMATCH' && !error.message.includes((readFileSync(keyFile, 'utf8')).trim()));
      await assert.rejects(other.audit.record({ action: 'study.viewed', caller }), /another audit key/);
      assert.match((await other.audit.verify()).brokenAt!.reason, /keyed with another audit key/);
      // the keying record removed and everything re-hashed and renumbered as if never keyed
      await archive.database.db.deleteFrom('audit_events').where('action', '=', 'audit.chain-keyed').execute();
      for (let seq = 2; seq <= 5; seq += 1) await archive.database.db.updateTable('audit_events').set({ seq: seq - 1 }).where('seq', '=', seq).execute();
      await rehashUnkeyed(archive, 1);
      const again = await open();
      await assert.rejects(again.audit.ensureKeyed(), (error: Error & { code?: string }) => error.code === 'AUDIT_CHAIN_UNKEYED');
      assert.match((await again.audit.verify()).brokenAt!.reason, /no record keys the chain/);
    });
  });
}

test('the head goes to the log at start and on every tick of the daily timer', async () => {
  await withArchives('sqlite', async (open) => {
    const archive = await open();
    await recordMany(archive, 2);
    const lines: Array<{ auditHead: string }> = [];
    let tick: (() => void) | undefined;
    let everyMs = 0;
    let stopped = false;
    const log = startAuditHeadLog(archive.audit, { info: (fields: { auditHead: string }) => lines.push(fields), warn: () => undefined } as never, {
      schedule: (fn, ms) => {
        tick = fn;
        everyMs = ms;
        return { stop: () => (stopped = true) };
      },
    });
    await log.logNow();
    assert.equal(everyMs, 24 * 60 * 60 * 1000);
    assert.deepEqual(lines, [{ auditHead: (await archive.audit.verify()).head }]);
    await recordMany(archive, 1);
    tick!();
    await log.idle();
    assert.equal(lines.length, 2);
    assert.equal(lines[1]!.auditHead, (await archive.audit.verify()).head);
    assert.notEqual(lines[1]!.auditHead, lines[0]!.auditHead);
    log.stop();
    assert.equal(stopped, true);
  });
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Logger } from 'pino';
import { TEST_ADMIN_PASSWORD } from '@yunying/testing/admin-auth';
import { startServerProcess, type ServerProcess } from '@yunying/testing/server-process';
import { makeSyntheticInstance } from '@yunying/testing/synthetic-dicom';
import { AccessService } from '../access/access-service.ts';
import { systemCaller, type Caller } from '../access/caller.ts';
import { openArchive, type Archive } from '../archive/archive.ts';
// the server's whole migration set: module migrations (0015, 0016, 0018) sort between core ones, and a database
// migrated by the core list alone would refuse them later as out of order
import { MODULES } from '../app.ts';
import { moduleMigrations } from '../modules/registry.ts';
import { createReadingServices } from '../reading/reading-services.ts';
import { DEFAULT_SLA_MINUTES } from '../reading/sla.ts';
import { createTestDatabase } from '../test-support/postgres.ts';

/**
 * The unit of work's promise under a crash (issue 13, Done means): a real server process,
 * loaded with signatures and cloud-film link changes (issue, revoke; and the automatic link
 * and the SR each signature makes), is killed with SIGKILL in the middle. After a restart,
 * every change has its audit record and its feed row, no audit record or feed row lacks its
 * change, and the audit chain verifies.
 */

const BACKENDS = ['sqlite', 'postgres'] as const;
const REPORTS = 30;
const REVIEWER_PASSWORD = 'Signer-Passw0rd-Crash-2026';
const centreUser = (name: string, role: Caller['role']): Caller => ({ kind: 'user', name, institutionId: 'centre', role, visibleInstitutionIds: ['centre'], grantedToInstitutionId: 'centre', via: 'rest' });
const quietLogger = { info: () => undefined, warn: () => undefined } as unknown as Logger;

/** Studies, each with a submitted report waiting for the reviewer's signature; the users to sign and to issue links. */
async function prepare(archive: Archive, dataDir: string): Promise<{ reportIds: string[]; studies: string[] }> {
  const admin = systemCaller();
  const access = new AccessService(archive.accessStore, archive.audit, { tokenTtlSeconds: 3600, unitOfWork: archive.unitOfWork });
  await access.ensureFirstAdministrator(TEST_ADMIN_PASSWORD, dataDir, quietLogger);
  await access.createInstitution(admin, { id: 'centre', name: '县医院' });
  await access.createUser(admin, { username: 'rev', password: REVIEWER_PASSWORD, role: 'reviewing-radiologist', institutionId: 'centre' });
  const reading = createReadingServices({ store: archive.stores.reading, access: archive.accessStore, index: archive.index, audit: archive.audit, notifier: { publish: async () => undefined }, unitOfWork: archive.unitOfWork }, { sla: DEFAULT_SLA_MINUTES, stableSeconds: 30, timeZone: 'Asia/Shanghai' });
  const rad = centreUser('rad', 'radiologist');
  const reportIds: string[] = [];
  const studies: string[] = [];
  for (let n = 0; n < REPORTS; n++) {
    const study = makeSyntheticInstance({ patientId: `CRASH-${n}` });
    await archive.ingest(admin, { kind: 'part10', bytes: study.bytes });
    studies.push(study.studyInstanceUid);
    const request = await reading.requests.createRequest(admin, { studyInstanceUid: study.studyInstanceUid, readingInstitutionId: 'centre', priority: 'routine', imagesComplete: true });
    await reading.worklist.claim(rad, request.id);
    const draft = await reading.reports.saveDraft(rad, request.id, { findings: '双肺纹理清晰。', impression: '未见异常。', positive: n % 3 === 0 });
    await reading.reports.submit(rad, draft.id);
    reportIds.push(draft.id);
  }
  return { reportIds, studies };
}

async function login(server: ServerProcess, username: string, password: string): Promise<string> {
  const response = await fetch(`${server.baseUrl}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username, password }) });
  assert.equal(response.status, 200, await response.clone().text());
  return ((await response.json()) as { token: string }).token;
}

async function post(server: ServerProcess, token: string, url: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const response = await fetch(`${server.baseUrl}${url}`, { method: 'POST', headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) }, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await response.text();
  return { status: response.status, json: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

/**
 * Signs the reports (four at a time) while two clients issue and revoke links, and kills the
 * server once a third of the reports are signed: requests are in flight, some committed and
 * never answered.
 */
async function loadAndKill(server: ServerProcess, reportIds: readonly string[], studies: readonly string[]): Promise<{ answeredSigned: number }> {
  const reviewer = await login(server, 'rev', REVIEWER_PASSWORD);
  const admin = await login(server, 'admin', TEST_ADMIN_PASSWORD);
  let answeredSigned = 0;
  let killed = false;
  let kill: Promise<void> | undefined;
  const killOnce = () => (kill ??= ((killed = true), server.kill()));
  const signing = async (queue: string[]) => {
    for (let id = queue.shift(); id && !killed; id = queue.shift()) {
      try {
        if ((await post(server, reviewer, `/api/v1/reports/${id}/sign`, { password: REVIEWER_PASSWORD })).status === 200) answeredSigned += 1;
      } catch {
        return; // the connection died with the server
      }
      if (answeredSigned >= REPORTS / 3) void killOnce();
    }
  };
  const linking = async (offset: number) => {
    for (let n = offset; !killed; n += 2) {
      try {
        const created = await post(server, admin, '/api/v1/share-links', { studyInstanceUid: studies[n % studies.length], accessCode: false });
        if (created.status === 201 && n % 4 < 2) await post(server, admin, `/api/v1/share-links/${String(created.json.id)}/revoke`);
      } catch {
        return;
      }
    }
  };
  const queue = [...reportIds];
  await Promise.all([signing(queue), signing(queue), signing(queue), signing(queue), linking(0), linking(1)]);
  await killOnce();
  return { answeredSigned };
}

async function feedRows(archive: Archive, type: string): Promise<Map<string, number>> {
  const rows = await archive.database.db.selectFrom('changes').select('resource_id').where('type', '=', type).execute();
  const counts = new Map<string, number>();
  for (const row of rows) counts.set(row.resource_id, (counts.get(row.resource_id) ?? 0) + 1);
  return counts;
}

async function auditRows(archive: Archive, action: string, key: (details: Record<string, unknown>, objectId: string | null, objectType: string | null) => string | undefined): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for (const row of await archive.audit.search({ action, limit: 100_000 })) {
    const id = key(JSON.parse(row.details) as Record<string, unknown>, row.object_id, row.object_type);
    if (id !== undefined) counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  return counts;
}

/** Each change exactly once in the trail and in the feed, and nothing in either that did not happen. */
function assertMatches(what: string, happened: ReadonlySet<string>, audited: ReadonlyMap<string, number>, fed: ReadonlyMap<string, number>): void {
  for (const id of happened) {
    assert.equal(audited.get(id), 1, `${what} ${id}: one audit record`);
    assert.equal(fed.get(id), 1, `${what} ${id}: one feed row`);
  }
  for (const id of audited.keys()) assert.ok(happened.has(id), `${what} ${id}: an audit record without its change`);
  for (const id of fed.keys()) assert.ok(happened.has(id), `${what} ${id}: a feed row without its change`);
}

for (const backend of BACKENDS) {
  test(`SIGKILL during signatures and cloud-film link changes leaves no change without its audit record and feed row, nor the reverse (${backend})`, { timeout: 240_000 }, async () => {
    const dataDir = await mkdtemp(path.join(tmpdir(), 'yunying-uow-crash-'));
    const postgres = backend === 'postgres' ? await createTestDatabase() : undefined;
    const env: Record<string, string> = postgres ? { YUNYING_DATABASE_URL: postgres.url } : {};
    try {
      const before = await openArchive({ dataDir, fsync: false, databaseUrl: postgres?.url, moduleMigrations: moduleMigrations(MODULES) });
      const { reportIds, studies } = await prepare(before, dataDir).finally(() => before.close());

      const server = await startServerProcess(dataDir, env);
      const { answeredSigned } = await loadAndKill(server, reportIds, studies);
      assert.ok(answeredSigned > 0, 'signatures went through before the kill');

      // The restart must come up on what the kill left, and may finish what it left to do (SR retries).
      const restarted = await startServerProcess(dataDir, env);
      await restarted.stop();

      const archive = await openArchive({ dataDir, fsync: false, databaseUrl: postgres?.url, moduleMigrations: moduleMigrations(MODULES) });
      try {
        const signed = new Set<string>();
        for (const id of reportIds) if ((await archive.stores.reading.findReport(id))?.status === 'signed') signed.add(id);
        assert.ok(signed.size >= answeredSigned, 'every answered signature committed');
        assert.ok(signed.size < REPORTS, 'the kill came in the middle of the load');
        assertMatches('signed report', signed, await auditRows(archive, 'report.signed', (details) => String(details.reportId)), await feedRows(archive, 'report.signed'));

        const links = (await Promise.all(studies.map((study) => archive.stores.share.linksOfStudy(study)))).flat();
        assert.ok(links.length > 0, 'links were issued before the kill');
        const issued = new Set(links.map((link) => link.id));
        const revoked = new Set(links.filter((link) => link.revoked_at !== null).map((link) => link.id));
        assertMatches('issued link', issued, await auditRows(archive, 'study.shared', (_details, objectId, objectType) => (objectType === 'share' ? (objectId ?? undefined) : undefined)), await feedRows(archive, 'share.issued'));
        assertMatches('revoked link', revoked, await auditRows(archive, 'share.revoked', (_details, objectId, objectType) => (objectType === 'share' ? (objectId ?? undefined) : undefined)), await feedRows(archive, 'share.revoked'));

        const verification = await archive.audit.verify();
        assert.ok(verification.ok, JSON.stringify(verification.brokenAt));
      } finally {
        await archive.close();
      }
    } finally {
      await postgres?.drop();
      await rm(dataDir, { recursive: true, force: true });
    }
  });
}

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import { makeSyntheticInstance, newUid } from '@yunying/testing/synthetic-dicom';
import { systemCaller, type Caller } from '../access/caller.ts';
import { AccessService } from '../access/access-service.ts';
import { openArchive, type Archive } from '../archive/archive.ts';
import { correctStudyDemographics, deleteStudy } from '../archive/study-maintenance.ts';
import type { YunyingError } from '../errors.ts';
import { createReadingServices, type ReadingServices } from '../reading/reading-services.ts';
import { DEFAULT_SLA_MINUTES } from '../reading/sla.ts';
import { reportsPortOf } from '../reports/reports-port.ts';
import { DEFAULT_SHARE_OPTIONS } from '../share/share-model.ts';
import { createShareServices, type ShareServices } from '../share/share-services.ts';
import { LogSmsSender } from '../share/sms-sender.ts';
import { createTestDatabase } from '../test-support/postgres.ts';

const BACKENDS = ['sqlite', 'postgres'] as const;
type Backend = (typeof BACKENDS)[number];

async function withArchive(backend: Backend, run: (archive: Archive, dataDir: string) => Promise<void>): Promise<void> {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'yunying-uow-'));
  const postgres = backend === 'postgres' ? await createTestDatabase() : undefined;
  const archive = await openArchive({ dataDir, fsync: false, databaseUrl: postgres?.url });
  try {
    await archive.audit.ensureKeyed();
    await run(archive, dataDir);
  } finally {
    await archive.close();
    await postgres?.drop();
    await rm(dataDir, { recursive: true, force: true });
  }
}

async function blobCount(dataDir: string): Promise<number> {
  const entries = await readdir(path.join(dataDir, 'blobs'), { recursive: true, withFileTypes: true }).catch(() => []);
  return entries.filter((entry) => entry.isFile()).length;
}

async function auditRows(archive: Archive, action: string, objectId: string) {
  return archive.audit.search({ action, objectId, limit: 100 });
}

async function feedRows(archive: Archive, type: string, resourceId: string) {
  return archive.database.db.selectFrom('changes').selectAll().where('type', '=', type).where('resource_id', '=', resourceId).execute();
}

/** The audit append fails once (as a full disk or a lost connection would make it), then works again. */
function failNextAuditAppend(archive: Archive): void {
  const store = archive.stores.audit;
  const appendIn = store.appendIn.bind(store);
  store.appendIn = async () => {
    store.appendIn = appendIn;
    throw new Error('audit trail unavailable');
  };
}

/** Every insert into the feed fails until the returned function is called. */
async function failFeedAppends(archive: Archive, backend: Backend): Promise<() => Promise<void>> {
  const db = archive.database.db;
  if (backend === 'sqlite') {
    await sql`create trigger fail_feed before insert on changes begin select raise(abort, 'feed unavailable'); end`.execute(db);
    return async () => void (await sql`drop trigger fail_feed`.execute(db));
  }
  await sql`create function fail_feed() returns trigger language plpgsql as $$ begin raise exception 'feed unavailable'; end $$`.execute(db);
  await sql`create trigger fail_feed before insert on changes for each row execute function fail_feed()`.execute(db);
  return async () => {
    await sql`drop trigger fail_feed on changes`.execute(db);
    await sql`drop function fail_feed()`.execute(db);
  };
}

/**
 * A change made through the unit of work, tried three times: with the audit append failing,
 * with the feed append failing (nothing of it may remain either time: not the change, not
 * its audit record, not its feed row), and then for real (all three are there).
 */
async function assertOneTransaction(
  archive: Archive,
  backend: Backend,
  change: { act: () => Promise<unknown>; happened: () => Promise<boolean>; audit: { action: string; objectId?: string }; feed: { type: string } },
): Promise<void> {
  const audited = async () => (await archive.audit.search({ action: change.audit.action, objectId: change.audit.objectId, limit: 100 })).filter((row) => row.outcome === 'success').length;
  const fed = async () => (await archive.database.db.selectFrom('changes').select('seq').where('type', '=', change.feed.type).execute()).length;
  const before = { audited: await audited(), fed: await fed() };
  failNextAuditAppend(archive);
  await assert.rejects(change.act(), `${change.audit.action}: refused when its audit record cannot be written`);
  assert.equal(await change.happened(), false, `${change.audit.action}: no change without its audit record`);
  assert.equal(await fed(), before.fed, `${change.audit.action}: no feed row without its audit record`);
  const restore = await failFeedAppends(archive, backend);
  try {
    await assert.rejects(change.act(), `${change.audit.action}: refused when its feed row cannot be written`);
  } finally {
    await restore();
  }
  assert.equal(await change.happened(), false, `${change.audit.action}: no change without its feed row`);
  assert.equal(await audited(), before.audited, `${change.audit.action}: no audit record without its feed row`);
  await change.act();
  assert.equal(await change.happened(), true, change.audit.action);
  assert.equal(await audited(), before.audited + 1, `${change.audit.action}: one audit record`);
  assert.equal(await fed(), before.fed + 1, `${change.audit.action}: one feed row`);
}

const noNotifications = { publish: async () => undefined };
const person = (name: string, role: Caller['role']): Caller => ({ kind: 'user', name, institutionId: 'centre', role, visibleInstitutionIds: ['centre'], grantedToInstitutionId: 'centre', via: 'rest' });

function readingOf(archive: Archive): ReadingServices {
  return createReadingServices({ store: archive.stores.reading, access: archive.accessStore, index: archive.index, audit: archive.audit, notifier: noNotifications, unitOfWork: archive.unitOfWork }, { sla: DEFAULT_SLA_MINUTES, stableSeconds: 30, timeZone: 'Asia/Shanghai' });
}

function sharesOf(archive: Archive): ShareServices {
  return createShareServices(
    { store: archive.stores.share, index: archive.index, blobs: archive.blobs, accessStore: archive.accessStore, reports: reportsPortOf(archive.stores.reading), audit: archive.audit, unitOfWork: archive.unitOfWork, sms: new LogSmsSender() },
    { ...DEFAULT_SHARE_OPTIONS, publicBaseUrl: 'http://localhost' },
  );
}

for (const backend of BACKENDS) {
  test(`ingest: a failed audit append leaves nothing indexed, the sender is told, and its retry is stored and audited once (${backend})`, async () => {
    await withArchive(backend, async (archive, dataDir) => {
      const instance = makeSyntheticInstance();
      failNextAuditAppend(archive);
      await assert.rejects(archive.ingest(systemCaller(), { kind: 'part10', bytes: instance.bytes }), (error: YunyingError) => error.code === 'INDEX_WRITE_FAILED' && error.httpStatus === 503);
      assert.equal(await archive.index.countInstances(), 0, 'not indexed');
      assert.equal(await archive.index.studyExists(instance.studyInstanceUid), false);
      assert.equal(await blobCount(dataDir), 0, 'the blob was removed');
      assert.equal((await feedRows(archive, 'instance.stored', instance.sopInstanceUid)).length, 0);

      // The sender retries: a new instance to the index, so stored and audited.
      assert.equal((await archive.ingest(systemCaller(), { kind: 'part10', bytes: instance.bytes })).outcome, 'stored');
      // And a resend after that is a duplicate: nothing more is recorded.
      assert.equal((await archive.ingest(systemCaller(), { kind: 'part10', bytes: instance.bytes })).outcome, 'duplicate');
      const records = await auditRows(archive, 'instance.stored', instance.studyInstanceUid);
      assert.equal(records.length, 1, 'audited once');
      assert.equal((records[0]!.details && JSON.parse(records[0]!.details).sopInstanceUid), instance.sopInstanceUid);
      const changes = await feedRows(archive, 'instance.stored', instance.sopInstanceUid);
      assert.equal(changes.length, 1, 'one feed row');
      assert.deepEqual(JSON.parse(changes[0]!.payload), { studyInstanceUid: instance.studyInstanceUid, seriesInstanceUid: instance.seriesInstanceUid, sopClassUid: instance.sopClassUid, outcome: 'stored' });
      assert.ok((await archive.audit.verify()).ok, 'the chain verifies');
    });
  });

  test(`ingest: the instance, its audit record and its feed row commit together (a failed feed append rolls back both) (${backend})`, async () => {
    await withArchive(backend, async (archive) => {
      const instance = makeSyntheticInstance();
      const restore = await failFeedAppends(archive, backend);
      await assert.rejects(archive.ingest(systemCaller(), { kind: 'part10', bytes: instance.bytes }), (error: YunyingError) => error.code === 'INDEX_WRITE_FAILED');
      assert.equal(await archive.index.countInstances(), 0);
      assert.equal((await auditRows(archive, 'instance.stored', instance.studyInstanceUid)).length, 0, 'no audit record without its instance');
      await restore();
      // A replacement (different bytes, same UIDs) is recorded as one too.
      await archive.ingest(systemCaller(), { kind: 'part10', bytes: instance.bytes });
      const corrected = makeSyntheticInstance({ studyInstanceUid: instance.studyInstanceUid, seriesInstanceUid: instance.seriesInstanceUid, sopInstanceUid: instance.sopInstanceUid, instanceNumber: 7 });
      assert.equal((await archive.ingest(systemCaller(), { kind: 'part10', bytes: corrected.bytes })).outcome, 'replaced');
      assert.equal((await auditRows(archive, 'instance.replaced', instance.studyInstanceUid)).length, 1);
      assert.deepEqual((await feedRows(archive, 'instance.stored', instance.sopInstanceUid)).map((row) => JSON.parse(row.payload).outcome), ['stored', 'replaced']);
    });
  });

  test(`deletion: the study's removal, its audit record and its feed row commit together (${backend})`, async () => {
    await withArchive(backend, async (archive) => {
      const instance = makeSyntheticInstance();
      await archive.ingest(systemCaller(), { kind: 'part10', bytes: instance.bytes });
      const deps = { index: archive.index, blobs: archive.blobs, maintenance: archive.stores.maintenance, unitOfWork: archive.unitOfWork, audit: archive.audit };
      const study = instance.studyInstanceUid;

      failNextAuditAppend(archive);
      await assert.rejects(deleteStudy(deps, systemCaller(), study, 'wrong patient'), (error: YunyingError) => error.code === 'DELETION_FAILED');
      assert.equal(await archive.index.studyExists(study), true, 'not deleted without its record');
      assert.equal((await feedRows(archive, 'study.deleted', study)).length, 0);

      const restore = await failFeedAppends(archive, backend);
      await assert.rejects(deleteStudy(deps, systemCaller(), study, 'wrong patient'), (error: YunyingError) => error.code === 'DELETION_FAILED');
      await restore();
      assert.equal(await archive.index.studyExists(study), true, 'not deleted without its feed row');
      assert.deepEqual((await auditRows(archive, 'study.deleted', study)).map((row) => row.outcome), ['failure', 'failure'], 'only the failures are on record');

      const result = await deleteStudy(deps, systemCaller(), study, 'wrong patient');
      assert.equal(result.instances, 1);
      assert.equal(await archive.index.studyExists(study), false);
      assert.deepEqual((await auditRows(archive, 'study.deleted', study)).map((row) => row.outcome), ['failure', 'failure', 'success']);
      assert.equal((await feedRows(archive, 'study.deleted', study)).length, 1);
    });
  });

  test(`correction: the new demographics, the audit record and the feed row commit together (${backend})`, async () => {
    await withArchive(backend, async (archive, dataDir) => {
      const instance = makeSyntheticInstance({ patientId: 'P-1' });
      await archive.ingest(systemCaller(), { kind: 'part10', bytes: instance.bytes });
      const deps = { index: archive.index, blobs: archive.blobs, maintenance: archive.stores.maintenance, unitOfWork: archive.unitOfWork, audit: archive.audit };
      const study = instance.studyInstanceUid;

      failNextAuditAppend(archive);
      await assert.rejects(correctStudyDemographics(deps, systemCaller(), study, { patientId: 'P-2' }, 'typo'), (error: YunyingError) => error.code === 'CORRECTION_FAILED');
      assert.equal((await archive.stores.maintenance.findStudy(study))?.patient_id, 'P-1', 'not corrected without its record');
      assert.equal(await blobCount(dataDir), 1, 'the rewritten objects were removed, the original kept');
      const restore = await failFeedAppends(archive, backend);
      await assert.rejects(correctStudyDemographics(deps, systemCaller(), study, { patientId: 'P-2' }, 'typo'), (error: YunyingError) => error.code === 'CORRECTION_FAILED');
      await restore();
      assert.equal((await archive.stores.maintenance.findStudy(study))?.patient_id, 'P-1', 'not corrected without its feed row');
      assert.equal((await auditRows(archive, 'study.corrected', study)).length, 0);

      assert.equal((await correctStudyDemographics(deps, systemCaller(), study, { patientId: 'P-2' }, 'typo')).instances, 1);
      assert.equal((await archive.stores.maintenance.findStudy(study))?.patient_id, 'P-2');
      assert.equal((await auditRows(archive, 'study.corrected', study)).length, 1);
      assert.equal((await feedRows(archive, 'study.corrected', study)).length, 1);
    });
  });

  test(`grant: the study grant, its audit record and its feed row commit together (${backend})`, async () => {
    await withArchive(backend, async (archive) => {
      const access = new AccessService(archive.accessStore, archive.audit, { tokenTtlSeconds: 60, unitOfWork: archive.unitOfWork });
      await access.createInstitution(systemCaller(), { id: 'county', name: 'County hospital' });
      const study = newUid();

      failNextAuditAppend(archive);
      await assert.rejects(access.grantStudy(systemCaller(), study, 'county', 'consultation'));
      assert.deepEqual(await archive.accessStore.listStudyGrants(study), [], 'no grant without its record');
      const restore = await failFeedAppends(archive, backend);
      await assert.rejects(access.grantStudy(systemCaller(), study, 'county', 'consultation'));
      await restore();
      assert.deepEqual(await archive.accessStore.listStudyGrants(study), [], 'no grant without its feed row');
      assert.equal((await auditRows(archive, 'study.shared', study)).length, 0);

      await access.grantStudy(systemCaller(), study, 'county', 'consultation');
      assert.equal((await archive.accessStore.listStudyGrants(study)).length, 1);
      assert.equal((await auditRows(archive, 'study.shared', study)).length, 1);
      assert.deepEqual((await feedRows(archive, 'grant.created', study)).map((row) => row.institution_id), ['county']);
    });
  });

  test(`the chain stays whole when changes of several processes append at once (${backend})`, async () => {
    if (backend === 'sqlite') return; // one writer: nothing runs at once
    const postgres = await createTestDatabase();
    const dirs = await Promise.all([0, 1].map(() => mkdtemp(path.join(tmpdir(), 'yunying-uow-'))));
    // Two archives on one database stand for two server processes, with the same key.
    const auditKey = 'k'.repeat(40);
    const archives = await Promise.all(dirs.map((dataDir) => openArchive({ dataDir, fsync: false, databaseUrl: postgres.url, auditKey })));
    try {
      const study = newUid();
      const series = newUid();
      const sends = archives.flatMap((archive, a) => Array.from({ length: 15 }, (_, n) => archive.ingest(systemCaller(), { kind: 'part10', bytes: makeSyntheticInstance({ studyInstanceUid: study, seriesInstanceUid: series, instanceNumber: a * 100 + n }).bytes })));
      // and reads audited by the batching trail at the same time
      const reads = archives.map((archive) => archive.query(systemCaller(), { level: 'STUDY', keys: { '0020000D': { vr: 'UI', Value: [study] } } }));
      await Promise.all([...sends, ...reads]);
      const verification = await archives[0]!.audit.verify();
      assert.ok(verification.ok, JSON.stringify(verification.brokenAt));
      assert.equal((await auditRows(archives[0]!, 'instance.stored', study)).length, 30);
    } finally {
      for (const archive of archives) await archive.close();
      await postgres.drop();
      for (const dir of dirs) await rm(dir, { recursive: true, force: true });
    }
  });

  test(`reading: request creation, claim, sign, addendum, return, retake and a prior's grant each commit with their audit record and feed row (${backend})`, async () => {
    await withArchive(backend, async (archive) => {
      const admin = systemCaller();
      await archive.accessStore.insertInstitution({ id: 'centre', name: '县医院', tier: 'county', grade: 3, region_code: null, parent_id: null });
      const reading = readingOf(archive);
      const study = makeSyntheticInstance({ patientId: 'P-7' });
      const prior = makeSyntheticInstance({ patientId: 'P-7' });
      await archive.ingest(admin, { kind: 'part10', bytes: study.bytes });
      await archive.ingest(admin, { kind: 'part10', bytes: prior.bytes });
      const requests = () => archive.stores.reading.requestsOfStudy(study.studyInstanceUid);
      let requestId = '';
      await assertOneTransaction(archive, backend, {
        act: async () => (requestId = (await reading.requests.createRequest(admin, { studyInstanceUid: study.studyInstanceUid, readingInstitutionId: 'centre', priority: 'urgent', imagesComplete: true })).id),
        happened: async () => (await requests()).length === 1 && (await archive.accessStore.listStudyGrants(study.studyInstanceUid)).length === 1,
        audit: { action: 'reading-request.created', objectId: study.studyInstanceUid },
        feed: { type: 'request.created' },
      });
      const rad = person('rad', 'radiologist');
      await assertOneTransaction(archive, backend, {
        act: () => reading.worklist.claim(rad, requestId),
        happened: async () => (await archive.stores.reading.findRequest(requestId))?.status === 'claimed',
        audit: { action: 'reading-request.claimed', objectId: study.studyInstanceUid },
        feed: { type: 'request.claimed' },
      });
      await assertOneTransaction(archive, backend, {
        act: () => reading.requests.openPrior(rad, requestId, prior.studyInstanceUid, 'comparison'),
        happened: async () => (await archive.accessStore.listStudyGrants(prior.studyInstanceUid)).length === 1,
        audit: { action: 'prior.opened', objectId: prior.studyInstanceUid },
        feed: { type: 'grant.created' },
      });
      const draft = await reading.reports.saveDraft(rad, requestId, { findings: '双肺纹理清晰。', impression: '未见异常。', positive: false });
      await reading.reports.submit(rad, draft.id);
      const reviewer = person('rev', 'reviewing-radiologist');
      const status = async () => (await archive.stores.reading.findReport(draft.id))?.status;
      await assertOneTransaction(archive, backend, {
        act: () => reading.reports.returnForRevision(reviewer, draft.id, 'add the comparison'),
        happened: async () => (await status()) === 'returned',
        audit: { action: 'report.returned', objectId: study.studyInstanceUid },
        feed: { type: 'report.returned' },
      });
      await reading.reports.submit(rad, draft.id);
      await assertOneTransaction(archive, backend, {
        act: () => reading.reports.sign(reviewer, draft.id),
        happened: async () => (await status()) === 'signed' && (await archive.stores.reading.findRequest(requestId))?.status === 'signed',
        audit: { action: 'report.signed', objectId: study.studyInstanceUid },
        feed: { type: 'report.signed' },
      });
      await assertOneTransaction(archive, backend, {
        act: () => reading.reports.addAddendum(rad, draft.id, '补充：对比旧片无变化。'),
        happened: async () => (await archive.stores.reading.versions(draft.id)).some((version) => version.kind === 'addendum'),
        audit: { action: 'report.amended', objectId: study.studyInstanceUid },
        feed: { type: 'report.addendum' },
      });
      const [signed] = await archive.database.db.selectFrom('changes').select('payload').where('type', '=', 'report.signed').execute();
      assert.deepEqual(JSON.parse(signed!.payload), { reportId: draft.id, requestId, studyInstanceUid: study.studyInstanceUid, readingInstitutionId: 'centre', version: 4, positive: false });
      // A retake, on another study's request.
      const blurred = makeSyntheticInstance();
      await archive.ingest(admin, { kind: 'part10', bytes: blurred.bytes });
      const retaken = await reading.requests.createRequest(admin, { studyInstanceUid: blurred.studyInstanceUid, readingInstitutionId: 'centre', priority: 'routine', imagesComplete: true });
      await assertOneTransaction(archive, backend, {
        act: () => reading.requests.requestRetake(rad, retaken.id, 'motion blur'),
        happened: async () => (await archive.stores.reading.findRequest(retaken.id))?.status === 'retake-requested',
        audit: { action: 'reading-request.retake-requested', objectId: blurred.studyInstanceUid },
        feed: { type: 'request.retake-requested' },
      });
      assert.ok((await archive.audit.verify()).ok);
    });
  });

  test(`cloud film: a link's issue and revocation (staff and onward) each commit with their audit record and feed row (${backend})`, async () => {
    await withArchive(backend, async (archive) => {
      const admin = systemCaller();
      const shares = sharesOf(archive);
      const study = makeSyntheticInstance();
      await archive.ingest(admin, { kind: 'part10', bytes: study.bytes });
      const links = () => archive.stores.share.linksOfStudy(study.studyInstanceUid);
      let linkId = '';
      await assertOneTransaction(archive, backend, {
        act: async () => (linkId = (await shares.links.createLink(admin, { studyInstanceUid: study.studyInstanceUid, accessCode: false })).id),
        happened: async () => (await links()).length === 1,
        audit: { action: 'study.shared' },
        feed: { type: 'share.issued' },
      });
      const token = (await archive.stores.share.findById(linkId))!.token;
      const live = await shares.session.openLink(token);
      let onwardId = '';
      await assertOneTransaction(archive, backend, {
        act: async () => (onwardId = (await shares.links.createOnward(live, { recipient: '王医生', accessCode: false }, { remoteAddress: '127.0.0.1' })).id),
        happened: async () => (await links()).length === 2,
        audit: { action: 'study.shared' },
        feed: { type: 'share.issued' },
      });
      await assertOneTransaction(archive, backend, {
        act: () => shares.links.revokeOnward(live, onwardId, { remoteAddress: '127.0.0.1' }),
        happened: async () => (await archive.stores.share.findById(onwardId))?.revoked_at !== null,
        audit: { action: 'share.revoked', objectId: onwardId },
        feed: { type: 'share.revoked' },
      });
      await assertOneTransaction(archive, backend, {
        act: () => shares.links.revokeLink(admin, linkId),
        happened: async () => (await archive.stores.share.findById(linkId))?.revoked_at !== null,
        audit: { action: 'share.revoked', objectId: linkId },
        feed: { type: 'share.revoked' },
      });
    });
  });

  test(`a lost race inside a unit of work undoes only its own rows (the report's update when the request moved meanwhile) (${backend})`, async () => {
    await withArchive(backend, async (archive) => {
      const admin = systemCaller();
      await archive.accessStore.insertInstitution({ id: 'centre', name: '县医院', tier: 'county', grade: 3, region_code: null, parent_id: null });
      const reading = readingOf(archive);
      const study = makeSyntheticInstance();
      await archive.ingest(admin, { kind: 'part10', bytes: study.bytes });
      const request = await reading.requests.createRequest(admin, { studyInstanceUid: study.studyInstanceUid, readingInstitutionId: 'centre', priority: 'urgent', imagesComplete: true });
      const rad = person('rad', 'radiologist');
      await reading.worklist.claim(rad, request.id);
      const draft = await reading.reports.saveDraft(rad, request.id, { findings: 'x', impression: 'y', positive: false });
      await reading.reports.submit(rad, draft.id);
      // Another process moved the request on between the check and the signature.
      await archive.database.db.updateTable('reading_requests').set({ status: 'cancelled' }).where('id', '=', request.id).execute();
      await assert.rejects(reading.reports.sign(person('rev', 'reviewing-radiologist'), draft.id), (error: YunyingError) => error.code === 'ILLEGAL_TRANSITION');
      assert.equal((await archive.stores.reading.findReport(draft.id))?.status, 'submitted', 'the report update was undone');
      assert.equal((await auditRows(archive, 'report.signed', study.studyInstanceUid)).length, 0);
      assert.equal((await feedRows(archive, 'report.signed', draft.id)).length, 0);
    });
  });

  test(`records a process left staged when it died after the commit are chained at the next start, and every read of the trail chains what is staged first (${backend})`, async () => {
    if (backend === 'sqlite') return; // SQLite chains in the change's own transaction: nothing is ever staged
    const postgres = await createTestDatabase();
    const dataDir = await mkdtemp(path.join(tmpdir(), 'yunying-uow-'));
    const auditKey = 'k'.repeat(40);
    try {
      const instance = makeSyntheticInstance();
      const dying = await openArchive({ dataDir, fsync: false, databaseUrl: postgres.url, auditKey });
      await dying.audit.ensureKeyed();
      dying.stores.audit.afterCommit = async () => undefined; // the process dies between the commit and the chaining
      assert.equal((await dying.ingest(systemCaller(), { kind: 'part10', bytes: instance.bytes })).outcome, 'stored');
      assert.equal((await dying.database.db.selectFrom('audit_pending').select('id').execute()).length, 1, 'staged with the instance');
      assert.equal((await dying.database.db.selectFrom('audit_events').select('seq').where('action', '=', 'instance.stored').execute()).length, 0, 'not chained yet');
      await dying.close();
      const next = await openArchive({ dataDir, fsync: false, databaseUrl: postgres.url, auditKey });
      try {
        await next.audit.ensureKeyed(); // what every start does
        assert.equal((await auditRows(next, 'instance.stored', instance.studyInstanceUid)).length, 1);
        assert.ok((await next.audit.verify()).ok);
      } finally {
        await next.close();
      }
    } finally {
      await postgres.drop();
      await rm(dataDir, { recursive: true, force: true });
    }
  });
}

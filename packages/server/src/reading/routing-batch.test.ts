/**
 * Routing the new studies of one feed read together (issue 16): each matching study gets
 * exactly one request, with its event, its grant, its audit record, its feed row and its
 * notifications, all in one transaction; a study that has a request already, a study that
 * matches no rule and a UID named twice are left alone; routing the same batch again opens
 * nothing more.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { openArchive } from '../archive/archive.ts';
import { type Caller } from '../access/caller.ts';
import { createTestDatabase } from '../test-support/postgres.ts';
import { makeSyntheticInstance } from '../test-support/synthetic-dicom.ts';
import { createReadingServices } from './reading-services.ts';
import { DEFAULT_SLA_MINUTES } from './sla.ts';

for (const backend of ['sqlite', 'postgres'] as const) {
  test(`${backend}: a batch of new studies is routed in one go, once per study`, async () => {
    const dataDir = await mkdtemp(path.join(tmpdir(), 'yunying-routing-batch-'));
    const postgres = backend === 'postgres' ? await createTestDatabase() : undefined;
    const archive = await openArchive({ dataDir, fsync: false, databaseUrl: postgres?.url });
    try {
      await archive.accessStore.insertInstitution({ id: 'rb-county', name: '县医院', tier: 'county', grade: 2, region_code: null, parent_id: null });
      await archive.accessStore.insertInstitution({ id: 'rb-town', name: '乡镇卫生院', tier: 'township', grade: 1, region_code: null, parent_id: 'rb-county' });
      await archive.accessStore.insertInstitution({ id: 'rb-other', name: '别的卫生院', tier: 'township', grade: 1, region_code: null, parent_id: null });
      const reading = createReadingServices({ store: archive.stores.reading, access: archive.accessStore, index: archive.index, audit: archive.audit, notifier: { publish: async () => undefined }, unitOfWork: archive.unitOfWork }, { sla: DEFAULT_SLA_MINUTES, stableSeconds: 30, timeZone: 'Asia/Shanghai' });
      const admin: Caller = { kind: 'system', name: 'admin', institutionId: 'rb-county', role: 'administrator', visibleInstitutionIds: 'all', via: 'rest' };
      await reading.routing.createRule(admin, { name: '乡镇 → 县', sourceInstitutionId: 'rb-town', readingInstitutionId: 'rb-county', priority: 'urgent' });
      const modality = (institutionId: string): Caller => ({ kind: 'ae', name: `${institutionId}-DR`, institutionId, role: 'modality', visibleInstitutionIds: [institutionId], via: 'dimse' });
      const store = async (institutionId: string) => {
        const instance = makeSyntheticInstance({ modality: 'DX' });
        await archive.ingest(modality(institutionId), { kind: 'part10', bytes: instance.bytes });
        return instance.studyInstanceUid;
      };
      const township = [await store('rb-town'), await store('rb-town'), await store('rb-town')];
      const elsewhere = await store('rb-other');
      const requestedAlready = await store('rb-town');
      const technologist: Caller = { kind: 'user', name: 'tech', institutionId: 'rb-town', role: 'technologist', visibleInstitutionIds: ['rb-town'], via: 'rest' };
      await archive.accessStore.addAllianceMember('rb-county', 'rb-town');
      const byHand = await reading.requests.createRequest(technologist, { studyInstanceUid: requestedAlready, readingInstitutionId: 'rb-county', priority: 'routine' });

      const batch = [...township, township[0]!, elsewhere, requestedAlready, '2.25.404'];
      const opened = await reading.routing.routeStudies(batch);
      assert.deepEqual(opened.map((row) => row.study_instance_uid).sort(), [...township].sort(), 'one request per matching study, none for the others');
      assert.ok(opened.every((row) => row.priority === 'urgent' && row.status === 'awaiting-images' && row.reading_institution_id === 'rb-county' && row.requesting_institution_id === 'rb-town'));
      for (const uid of township) {
        const requests = await archive.stores.reading.requestsOfStudy(uid);
        assert.equal(requests.length, 1, uid);
        assert.equal((await archive.stores.reading.events(requests[0]!.id)).length, 1, 'its event');
        assert.ok((await archive.accessStore.listStudyGrants(uid)).some((grant) => grant.institution_id === 'rb-county'), 'its grant');
      }
      assert.deepEqual((await archive.stores.reading.requestsOfStudy(requestedAlready)).map((row) => row.id), [byHand.id], 'the technologist\u2019s request alone');
      assert.equal((await archive.stores.reading.requestsOfStudy(elsewhere)).length, 0);

      const audited = (await archive.audit.search({ action: 'reading-request.created', limit: 100 })).filter((event) => township.includes(event.object_id ?? ''));
      assert.equal(audited.length, 3, 'one audit record each');
      const feed = await archive.stores.changeFeed.readRange(0, Number.MAX_SAFE_INTEGER, 1000);
      const created = feed.filter((change) => change.type === 'request.created' && opened.some((row) => row.id === change.resourceId));
      assert.equal(created.length, 3, 'one feed row each');
      const notices = feed.filter((change) => change.type === 'notification.published' && opened.some((row) => (change.payload.payload as { requestId?: string }).requestId === row.id));
      assert.equal(notices.length, 6, 'the centre and the township told of each');

      assert.deepEqual(await reading.routing.routeStudies(batch), [], 'routed again: nothing more');
      assert.equal((await archive.stores.reading.requestsOfStudy(township[0]!)).length, 1);
    } finally {
      await archive.close();
      await postgres?.drop();
      await rm(dataDir, { recursive: true, force: true });
    }
  });
}

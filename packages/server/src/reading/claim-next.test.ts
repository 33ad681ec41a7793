import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { openArchive } from '../archive/archive.ts';
import { systemCaller, type Caller } from '../access/caller.ts';
import { ReadingStore } from '../store/reading-store.ts';
import { createTestDatabase } from '../test-support/postgres.ts';
import { makeSyntheticInstance } from '../test-support/synthetic-dicom.ts';
import { createReadingServices } from './reading-services.ts';
import { DEFAULT_SLA_MINUTES } from './sla.ts';

for (const backend of ['sqlite', 'postgres'] as const) {
  test(`${backend}: "next case" pressed by 12 radiologists at once hands out 12 different requests in worklist order`, async () => {
    const dataDir = await mkdtemp(path.join(tmpdir(), 'yunying-next-'));
    const postgres = backend === 'postgres' ? await createTestDatabase() : undefined;
    const archive = await openArchive({ dataDir, fsync: false, databaseUrl: postgres?.url });
    try {
      const admin = { ...systemCaller(), via: 'rest' as const };
      await archive.accessStore.insertInstitution({ id: 'centre', name: '县医院', tier: 'county', grade: 3, region_code: null, parent_id: null });
      const store = new ReadingStore(archive.database.db, archive.database.dialect);
      const reading = createReadingServices({ store, access: archive.accessStore, index: archive.index, audit: archive.audit, notifier: { publish: async () => undefined }, unitOfWork: archive.unitOfWork }, { sla: DEFAULT_SLA_MINUTES, stableSeconds: 30, timeZone: 'Asia/Shanghai' });
      const created: string[] = [];
      for (let n = 0; n < 15; n++) {
        const study = makeSyntheticInstance();
        await archive.ingest(admin, { kind: 'part10', bytes: study.bytes });
        created.push((await reading.requests.createRequest(admin, { studyInstanceUid: study.studyInstanceUid, readingInstitutionId: 'centre', priority: n < 3 ? 'emergency' : 'routine', imagesComplete: true })).id);
      }
      const radiologist = (n: number): Caller => ({ kind: 'user', name: `rad${n}`, institutionId: 'centre', role: 'radiologist', visibleInstitutionIds: ['centre'], grantedToInstitutionId: 'centre', via: 'rest' });
      const claimed = await Promise.all(Array.from({ length: 12 }, (_, n) => reading.worklist.claimNext(radiologist(n))));
      assert.equal(new Set(claimed.map((view) => view.id)).size, 12);
      assert.ok(claimed.every((view, n) => view.claimedBy === `rad${n}` && view.status === 'claimed'));
      // the three emergencies went first; three routine requests are left
      for (const emergency of created.slice(0, 3)) assert.ok(claimed.some((view) => view.id === emergency));
      const left = await reading.worklist.worklist(admin, { statuses: ['pending'], limit: 100, offset: 0 });
      assert.equal(left.length, 3);
      for (const id of created) {
        const events = (await store.events(id)).filter((event) => event.to_status === 'claimed');
        assert.ok(events.length <= 1, 'claimed at most once');
      }
    } finally {
      await archive.close();
      await postgres?.drop();
      await rm(dataDir, { recursive: true, force: true });
    }
  });
}

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { openArchive } from '../archive/archive.ts';
import { systemCaller, type Caller } from '../access/caller.ts';
import { ReadingStore } from '../store/reading-store.ts';
import { makeSyntheticInstance } from '../test-support/synthetic-dicom.ts';
import { createReadingServices } from '../reading/reading-services.ts';
import type { SignedReportDelivery } from './report-service.ts';
import { DEFAULT_SLA_MINUTES } from '../reading/sla.ts';

test('a report stays signed when storing its SR fails; the retry stores it once, whichever process runs it', async () => {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'yunying-delivery-'));
  const archive = await openArchive({ dataDir, fsync: false });
  try {
    const admin = systemCaller();
    await archive.accessStore.insertInstitution({ id: 'centre', name: '县医院', tier: 'county', grade: 3, region_code: null, parent_id: null });
    const study = makeSyntheticInstance();
    await archive.ingest(admin, { kind: 'part10', bytes: study.bytes });
    let failures = 1;
    const stored: string[] = [];
    // Failure injection: the SR store fails once, as an unreachable object store would.
    const delivery: SignedReportDelivery = {
      async storeStructuredReport(_request, report) {
        if (failures-- > 0) throw new Error('object store unreachable');
        stored.push(report.id);
        return `2.25.${stored.length}`;
      },
    };
    const notifications: string[] = [];
    const store = new ReadingStore(archive.database.db, archive.database.dialect);
    const deps = { store, access: archive.accessStore, index: archive.index, audit: archive.audit, notifier: { publish: async (_ids: string[], type: string) => void notifications.push(type) }, unitOfWork: archive.unitOfWork, delivery };
    const options = { sla: DEFAULT_SLA_MINUTES, stableSeconds: 30, timeZone: 'Asia/Shanghai' };
    const reading = createReadingServices(deps, options);
    const secondProcess = createReadingServices(deps, options);
    const person = (name: string, role: Caller['role']): Caller => ({ kind: 'user', name, institutionId: 'centre', role, visibleInstitutionIds: ['centre'], grantedToInstitutionId: 'centre', via: 'rest' });
    const request = await reading.requests.createRequest({ ...admin, via: 'rest' }, { studyInstanceUid: study.studyInstanceUid, readingInstitutionId: 'centre', priority: 'urgent', imagesComplete: true });
    await reading.worklist.claim(person('rad', 'radiologist'), request.id);
    const draft = await reading.reports.saveDraft(person('rad', 'radiologist'), request.id, { findings: '双肺纹理清晰。', impression: '未见异常。', positive: false });
    await reading.reports.submit(person('rad', 'radiologist'), draft.id);
    const signed = await reading.reports.sign(person('rev', 'reviewing-radiologist'), draft.id);
    assert.equal(signed.status, 'signed');
    assert.equal(signed.structuredReportSopInstanceUid, null);
    assert.ok(notifications.includes('report.signed'), 'the township hears of it all the same');
    const failed = await archive.audit.search({ action: 'report.delivery-failed', limit: 10 });
    assert.equal(failed.length, 1);

    // Too early for the retry (30 s grace), then both "processes" retry at once: one stores.
    assert.equal(await reading.reports.retryUndeliveredReports(), 0);
    const later = Date.now() + 60_000;
    const results = await Promise.all([reading.reports.retryUndeliveredReports(later), secondProcess.reports.retryUndeliveredReports(later)]);
    assert.equal(results[0] + results[1], 1);
    assert.deepEqual(stored, [draft.id]);
    assert.equal((await reading.reports.getReport(admin, draft.id)).structuredReportSopInstanceUid, '2.25.1');
    assert.equal(await reading.reports.retryUndeliveredReports(later), 0);
  } finally {
    await archive.close();
    await rm(dataDir, { recursive: true, force: true });
  }
});

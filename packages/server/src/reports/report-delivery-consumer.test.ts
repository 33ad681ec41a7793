import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { openArchive } from '../archive/archive.ts';
import { systemCaller, type Caller } from '../access/caller.ts';
import { ChangeFeed } from '../feed/change-feed.ts';
import { makeSyntheticInstance } from '../test-support/synthetic-dicom.ts';
import { createReadingServices } from '../reading/reading-services.ts';
import { DEFAULT_SLA_MINUTES } from '../reading/sla.ts';
import { reportDeliveryConsumer } from './report-delivery-consumer.ts';
import type { SignedReportDelivery } from './report-service.ts';

async function until(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

test('the change feed stores the SR a failed signing left out, once, after the signing request had its chance; an addendum delivered inline is left alone', async () => {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'yunying-delivery-feed-'));
  const archive = await openArchive({ dataDir, fsync: false });
  const feedErrors: unknown[] = [];
  const feed = new ChangeFeed(archive.stores.changeFeed, { pollIntervalMs: 20, leaseMs: 600, onError: (error) => feedErrors.push(error) });
  try {
    const admin = systemCaller();
    await archive.accessStore.insertInstitution({ id: 'centre', name: '县医院', tier: 'county', grade: 3, region_code: null, parent_id: null });
    const study = makeSyntheticInstance();
    await archive.ingest(admin, { kind: 'part10', bytes: study.bytes });
    let failures = 1;
    const stored: Array<{ reportId: string; by: string }> = [];
    let storing = 'the signing request';
    // Failure injection: the SR store fails once, as an unreachable object store would.
    const delivery: SignedReportDelivery = {
      async storeStructuredReport(_request, report) {
        if (failures-- > 0) throw new Error('object store unreachable');
        stored.push({ reportId: report.id, by: storing });
        return `2.25.${stored.length}`;
      },
    };
    const deps = { store: archive.stores.reading, access: archive.accessStore, index: archive.index, audit: archive.audit, notifier: { publish: async () => undefined }, unitOfWork: archive.unitOfWork, delivery };
    const reading = createReadingServices(deps, { sla: DEFAULT_SLA_MINUTES, stableSeconds: 30, timeZone: 'Asia/Shanghai' });
    const graceMs = 300;
    feed.subscribe(reportDeliveryConsumer(reading.reports, { graceMs }));
    await feed.start();

    const person = (name: string, role: Caller['role']): Caller => ({ kind: 'user', name, institutionId: 'centre', role, visibleInstitutionIds: ['centre'], grantedToInstitutionId: 'centre', via: 'rest' });
    const request = await reading.requests.createRequest({ ...admin, via: 'rest' }, { studyInstanceUid: study.studyInstanceUid, readingInstitutionId: 'centre', priority: 'urgent', imagesComplete: true });
    await reading.worklist.claim(person('rad', 'radiologist'), request.id);
    const draft = await reading.reports.saveDraft(person('rad', 'radiologist'), request.id, { findings: '双肺纹理清晰。', impression: '未见异常。', positive: false });
    await reading.reports.submit(person('rad', 'radiologist'), draft.id);
    const signedAt = Date.now();
    const signed = await reading.reports.sign(person('rev', 'reviewing-radiologist'), draft.id);
    storing = 'the feed';
    assert.equal(signed.structuredReportSopInstanceUid, null, 'the inline store failed');

    await until(() => stored.length === 1, 'the feed to store the SR');
    assert.deepEqual(stored, [{ reportId: draft.id, by: 'the feed' }]);
    assert.ok(Date.now() - signedAt >= graceMs, 'not before the grace period');
    assert.equal((await reading.reports.getReport(admin, draft.id)).structuredReportSopInstanceUid, '2.25.1');
    const failed = await archive.audit.search({ action: 'report.delivery-failed', limit: 10 });
    assert.equal(failed.length, 1);

    // The addendum's SR goes inline; the feed finds it stored and does nothing.
    storing = 'the addendum request';
    const amended = await reading.reports.addAddendum(person('rad', 'radiologist'), draft.id, '补充：左肺结节随访。');
    assert.equal(amended.structuredReportSopInstanceUid, '2.25.2');
    storing = 'the feed';
    const latest = await archive.stores.changeFeed.latestSeq();
    await feed.caughtUp(latest);
    await until(async () => (await archive.stores.changeFeed.failures('report-delivery')).length === 0, 'the deferred changes settled', graceMs * 10);
    assert.deepEqual(stored.map((one) => one.by), ['the feed', 'the addendum request'], 'each SR stored once');
    assert.deepEqual(feedErrors, []);
  } finally {
    await feed.close();
    await archive.close();
    await rm(dataDir, { recursive: true, force: true });
  }
});

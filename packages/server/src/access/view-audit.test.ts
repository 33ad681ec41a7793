import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { AuditEventInput, AuditRecorder } from './audit-event.ts';
import { localAeCaller, type Caller } from './caller.ts';
import { ViewAudit } from './view-audit.ts';

/** An audit recorder that keeps its events and commits when told to (or at once). */
function recorder(options: { manual?: boolean; fail?: boolean } = {}) {
  const events: AuditEventInput[] = [];
  const commits: Array<() => void> = [];
  const audit: AuditRecorder = {
    record(event) {
      events.push(event);
      if (options.fail) return Promise.reject(new Error('disk full'));
      if (!options.manual) return Promise.resolve();
      return new Promise<void>((resolve) => commits.push(resolve));
    },
  };
  return { audit, events, commits };
}

const rad: Caller = { kind: 'user', name: 'rad', userId: 'u1', institutionId: 'ks', role: 'radiologist', visibleInstitutionIds: ['ks'], via: 'dicomweb', remoteAddress: '10.0.0.5' };
const viewOf = (study: string) => async (): Promise<AuditEventInput> => ({ action: 'study.viewed', caller: rad, objectType: 'study', objectId: study, details: { resource: '/frames' } });

describe('view audit: one record per viewer, study and period', () => {
  test('the first view is recorded; later ones in the period are counted into the next record', async () => {
    let now = 1_000_000;
    const { audit, events } = recorder();
    const views = new ViewAudit(audit, { periodMs: 60_000, now: () => now });
    await views.view(rad, '1.2.3', viewOf('1.2.3'));
    for (let i = 0; i < 5; i++) {
      now += 1000;
      await views.view(rad, '1.2.3', viewOf('1.2.3'));
    }
    assert.equal(events.length, 1);
    now += 60_000;
    await views.view(rad, '1.2.3', viewOf('1.2.3'));
    assert.equal(events.length, 2);
    assert.equal(events[1]!.details!.viewsSincePreviousRecord, 5);
  });

  test('another study, another viewer or another address is its own record', async () => {
    const { audit, events } = recorder();
    const views = new ViewAudit(audit);
    await views.view(rad, '1.2.3', viewOf('1.2.3'));
    await views.view(rad, '1.2.4', viewOf('1.2.4'));
    await views.view({ ...rad, remoteAddress: '10.0.0.6' }, '1.2.3', viewOf('1.2.3'));
    await views.view(localAeCaller('VIEWER'), '1.2.3', viewOf('1.2.3'));
    await views.view(rad, '1.2.3', viewOf('1.2.3'));
    assert.equal(events.length, 4);
  });

  test('views arriving while the record commits wait for that commit, and are not answered before it', async () => {
    const { audit, events, commits } = recorder({ manual: true });
    const views = new ViewAudit(audit);
    const answered: number[] = [];
    const first = views.view(rad, '1.2.3', viewOf('1.2.3')).then(() => answered.push(1));
    await new Promise((resolve) => setImmediate(resolve));
    const second = views.view(rad, '1.2.3', viewOf('1.2.3')).then(() => answered.push(2));
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(answered, []);
    assert.equal(events.length, 1);
    commits[0]!();
    await Promise.all([first, second]);
    assert.deepEqual(answered.sort(), [1, 2]);
  });

  test('a record that fails to commit fails its views, and the next view records again', async () => {
    const failing = recorder({ fail: true });
    const views = new ViewAudit(failing.audit);
    await assert.rejects(views.view(rad, '1.2.3', viewOf('1.2.3')), /disk full/);
    await assert.rejects(views.view(rad, '1.2.3', viewOf('1.2.3')), /disk full/);
    assert.equal(failing.events.length, 2);
  });

  test('drain writes the counts not yet in the trail, with the first and last time', async () => {
    let now = Date.parse('2026-12-04T10:00:00Z');
    const { audit, events } = recorder();
    const views = new ViewAudit(audit, { now: () => now });
    await views.view(rad, '1.2.3', viewOf('1.2.3'));
    await views.view(rad, '1.2.9', viewOf('1.2.9'));
    now += 2000;
    await views.view(rad, '1.2.3', viewOf('1.2.3'));
    now += 3000;
    await views.view(rad, '1.2.3', viewOf('1.2.3'));
    await views.drain();
    assert.equal(events.length, 3, 'one tally: 1.2.9 had no covered views');
    assert.deepEqual(events[2]!.details, { resource: '/frames', coalescedViews: 2, from: '2026-12-04T10:00:02.000Z', to: '2026-12-04T10:00:05.000Z' });
    assert.equal(events[2]!.objectId, '1.2.3');
  });

  test('an entry whose period is over leaves with its count when another record is made', async () => {
    let now = 0;
    const { audit, events } = recorder();
    const views = new ViewAudit(audit, { periodMs: 1000, now: () => now });
    await views.view(rad, '1.2.3', viewOf('1.2.3'));
    await views.view(rad, '1.2.3', viewOf('1.2.3'));
    now = 5000;
    await views.view(rad, '1.2.4', viewOf('1.2.4'));
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(events.map((e) => [e.objectId, e.details!.coalescedViews]), [['1.2.3', undefined], ['1.2.4', undefined], ['1.2.3', 1]]);
  });
});

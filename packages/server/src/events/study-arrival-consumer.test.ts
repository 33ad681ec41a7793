import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once, EventEmitter } from 'node:events';
import type { FeedChange } from '../feed/change.ts';
import { studyArrivalConsumer } from './study-arrival-consumer.ts';

function storedChange(seq: number, studyInstanceUid: string, outcome = 'stored'): FeedChange {
  return { seq, type: 'instance.stored', resourceType: 'instance', resourceId: `1.2.${seq}`, institutionId: 'ks-t1', payload: { studyInstanceUid, outcome }, createdAt: new Date().toISOString() };
}

test('a CT of 300 slices is two notifications to the institution holding it: stored at the first slice, settled once it stops growing', async () => {
  const published: Array<{ institutionIds: readonly string[]; type: string; payload: object }> = [];
  const publishes = new EventEmitter();
  const consumer = studyArrivalConsumer({
    bus: {
      publish: async (institutionIds, type, payload) => {
        published.push({ institutionIds, type, payload });
        publishes.emit(type);
      },
    },
    // the study's row names its holder, not the storing caller's institution
    institutionOf: async (uid) => (uid === 'gone' ? undefined : 'ks-t2'),
    quietMs: 50,
  });
  try {
    const settled = once(publishes, 'study.settled');
    for (let seq = 1; seq <= 300; seq += 1) await consumer.handle(storedChange(seq, '1.2.3'));
    await consumer.handle(storedChange(301, '1.2.3', 'replaced'));
    await consumer.handle(storedChange(302, 'gone'));
    await settled;
    assert.deepEqual(published, [
      { institutionIds: ['ks-t2'], type: 'study.stored', payload: { studyInstanceUid: '1.2.3' } },
      { institutionIds: ['ks-t2'], type: 'study.settled', payload: { studyInstanceUid: '1.2.3', instancesSeen: 300 } },
    ]);
    assert.equal(consumer.group, 'study-arrival');
    assert.equal(consumer.startAt, 'latest');
  } finally {
    consumer.close();
  }
});

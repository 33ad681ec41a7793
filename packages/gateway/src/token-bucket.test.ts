import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TokenBucket, type BucketClock } from './token-bucket.ts';

/** A clock whose sleeps pass at once and move its time on: the pacing is measured, not waited for. */
function virtualClock(): BucketClock {
  let ms = 0;
  return {
    now: () => ms,
    sleep: async (wait) => {
      ms += wait;
    },
  };
}

test('the token bucket paces bytes at its rate after the burst', async () => {
  const clock = virtualClock();
  const bucket = new TokenBucket(2_000_000, 100_000, clock); // 2 MB/s, 100 kB burst
  const started = clock.now();
  for (let i = 0; i < 20; i++) await bucket.take(50_000); // 1 MB: 0.05 s burst, 0.45 s paced
  const seconds = (clock.now() - started) / 1000;
  assert.ok(seconds >= 0.44, `too fast: ${seconds}s`);
  assert.ok(seconds < 1.5, `too slow: ${seconds}s`);
});

test('concurrent takers share the rate', async () => {
  const clock = virtualClock();
  const bucket = new TokenBucket(4_000_000, 64_000, clock);
  const started = clock.now();
  await Promise.all([0, 1, 2, 3].map(async () => {
    for (let i = 0; i < 10; i++) await bucket.take(50_000);
  })); // 2 MB at 4 MB/s
  const seconds = (clock.now() - started) / 1000;
  assert.ok(seconds >= 0.47, `too fast: ${seconds}s`);
  assert.ok(seconds < 1.6, `too slow: ${seconds}s`);
});

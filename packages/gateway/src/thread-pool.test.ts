/**
 * Issue 13, item 10: the gateway's bin runs with the same 16-thread libuv pool as the server
 * (packages/server/src/thread-pool.ts): every received instance waits on a file creation and
 * an fdatasync in the pool, so with libuv's default of 4 threads four parallel modality
 * associations queue behind each other's disk flushes. The start log line reports the size.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { findFreePort } from '@yunying/testing/ports';
import { freeGatewayPorts, startGatewayProcess } from './test-support/gateway-process.ts';

test('the gateway process starts with a 16-thread libuv pool', async () => {
  assert.equal(process.env.UV_THREADPOOL_SIZE, undefined, 'the test runner must not pass its own UV_THREADPOOL_SIZE down');
  const dir = await mkdtemp(path.join(tmpdir(), 'yunying-gw-pool-'));
  // No cloud listens there: the gateway starts and queues regardless (store-and-forward).
  const gateway = await startGatewayProcess(path.join(dir, 'gateway'), `http://127.0.0.1:${await findFreePort()}`, await freeGatewayPorts());
  try {
    const started = gateway.output().split('\n').find((line) => line.includes('yunying-gateway started'));
    assert.ok(started, gateway.output());
    assert.equal((JSON.parse(started) as { threadPoolSize?: number }).threadPoolSize, 16);
    // What libuv really started, not only what the variable says: it starts all of the pool's
    // threads at once, so the process's thread count shows the pool's size (Linux: /proc/PID/task).
    const threads = (await readdir(`/proc/${gateway.child.pid}/task`)).length;
    assert.ok(threads >= 17, `the gateway runs ${threads} threads: its libuv pool has fewer than 16`);
  } finally {
    await gateway.stop();
    await rm(dir, { recursive: true, force: true });
  }
});

/**
 * Issue 13, item 10: the server runs with a 16-thread libuv pool. Every ingest waits on a file
 * creation and an fdatasync in the pool, so with libuv's default of 4 threads four parallel
 * associations queue behind each other's disk flushes; set from inside an ES module it came
 * too late, so `npm start` goes through bin/yunying-server.cjs. libuv starts all of its pool's
 * threads at once, so the process's thread count shows the pool's size (Linux: /proc/PID/task).
 */
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { startServerProcess } from './test-support/server-process.ts';

test('the server process started as npm start does runs with a 16-thread libuv pool', async () => {
  assert.equal(process.env.UV_THREADPOOL_SIZE, undefined, 'the test runner must not pass its own UV_THREADPOOL_SIZE down');
  const dataDir = await mkdtemp(path.join(tmpdir(), 'yunying-pool-'));
  const server = await startServerProcess(dataDir);
  try {
    // The server has done file I/O by now (its index, the audit key), so the pool is running.
    const threads = (await readdir(`/proc/${server.child.pid}/task`)).length;
    // 16 pool threads plus the main thread and V8's; with libuv's default pool it was 13 in all.
    assert.ok(threads >= 17, `the server runs ${threads} threads: its libuv pool has fewer than 16`);
  } finally {
    await server.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
});

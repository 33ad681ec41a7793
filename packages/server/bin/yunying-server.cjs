#!/usr/bin/env node
// `npm start`: the platform, run from the TypeScript sources through tsx.
//
// CommonJS on purpose (like the gateway's bin): libuv sizes its thread pool on the first task
// it runs, and Node's ES-module loader reads the entry file through that pool, so setting
// UV_THREADPOOL_SIZE inside an ES module (src/thread-pool.ts, imported first by main.ts) is
// too late: the server ran with libuv's default of 4. This file is read synchronously, so the
// 16 threads are set before the pool starts. Every ingest waits on a file creation and an
// fdatasync in the pool. An operator's own UV_THREADPOOL_SIZE wins.
'use strict';
process.env.UV_THREADPOOL_SIZE ??= '16';

void (async () => {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../src/main.ts');
})();

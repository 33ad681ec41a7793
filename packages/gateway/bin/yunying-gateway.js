#!/usr/bin/env node
// `npx yunying-gateway`: the edge gateway (前置机), run from the TypeScript sources through tsx.
//
// CommonJS on purpose (bin/package.json): libuv sizes its thread pool on the first task it
// runs, and Node's ES-module loader reads the entry file through that pool, so setting
// UV_THREADPOOL_SIZE inside an ES module is too late. This file is read synchronously, so the
// 16 threads are set before the pool starts. Every received instance waits on a file creation
// and an fdatasync in the pool: with libuv's default of 4, four modalities sending at once
// queue behind each other's disk flushes. An operator's own UV_THREADPOOL_SIZE wins.
'use strict';
process.env.UV_THREADPOOL_SIZE ??= '16';

void (async () => {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../src/main.ts');
})();

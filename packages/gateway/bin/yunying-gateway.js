#!/usr/bin/env node
// `npx yunying-gateway`: the edge gateway (前置机), run from the TypeScript sources by Node.js 24
// itself (type stripping), so it works after `npm ci --omit=dev`.
//
// CommonJS on purpose (bin/package.json): libuv sizes its thread pool on the first task it
// runs, and Node's ES-module loader reads the entry file through that pool, so setting
// UV_THREADPOOL_SIZE inside an ES module is too late. This file is read synchronously, so the
// 16 threads are set before the pool starts. Every received instance waits on a file creation
// and an fdatasync in the pool: with libuv's default of 4, four modalities sending at once
// queue behind each other's disk flushes. An operator's own UV_THREADPOOL_SIZE wins.
'use strict';
// Started by an older node (not through npm, whose scripts and npx put the project's Node 24
// from node_modules first on the PATH): one clear line instead of a syntax error.
if (Number(process.versions.node.split('.')[0]) < 24) {
  console.error(`yunying-gateway: Node.js ${process.versions.node} cannot run this; it needs Node.js 24, which \`npm ci\` installs: run it through npm (npx yunying-gateway) or with node_modules/.bin/node`);
  process.exit(1);
}
process.env.UV_THREADPOOL_SIZE ??= '16';

void import('../src/main.ts');

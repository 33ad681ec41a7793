#!/usr/bin/env node
// `npm start`: the platform, run from the TypeScript sources by Node.js 24 itself (type
// stripping: the sources use only erasable syntax, tsconfig.json erasableSyntaxOnly), so it
// runs after `npm ci --omit=dev` with no TypeScript tooling installed.
//
// CommonJS on purpose (like the gateway's bin): libuv sizes its thread pool on the first task
// it runs, and Node's ES-module loader reads the entry file through that pool, so setting
// UV_THREADPOOL_SIZE inside an ES module (src/thread-pool.ts, imported first by main.ts) is
// too late: the server ran with libuv's default of 4. This file is read synchronously, so the
// 16 threads are set before the pool starts. Every ingest waits on a file creation and an
// fdatasync in the pool. An operator's own UV_THREADPOOL_SIZE wins.
//
// `npm start` runs this with --max-semi-space-size=4 (issue 16): with V8's default young
// generation (up to 16 MiB a semi-space) the server's ~50 MB of long-lived heap sits so close
// to the old generation's limit that V8 starts incremental marking again right after each
// mark-compact; receiving 0.5 MB CT slices, the GC threads then took 2–4 ms of CPU per
// instance (a full mark every ~15 instances). 4 MiB semi-spaces leave the headroom above the
// young generation: no mark-compact during a 100-slice CT, GC threads ~0.5 ms per instance.
// Flags cannot be set from here (V8 sizes its heap before any script runs).
'use strict';
// Started by an older node (`node bin/…` where the system Node is 20, not through npm, whose
// scripts put the project's Node 24 from node_modules first on the PATH): one clear line
// instead of a syntax error at the first type annotation.
if (Number(process.versions.node.split('.')[0]) < 24) {
  console.error(`yunying: Node.js ${process.versions.node} cannot run this; it needs Node.js 24, which \`npm ci\` installs: run it through npm (npm start) or with node_modules/.bin/node`);
  process.exit(1);
}
process.env.UV_THREADPOOL_SIZE ??= '16';

void import('../src/main.ts');

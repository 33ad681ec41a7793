/**
 * Imported first by main.ts for runs that do not come through bin/yunying-server.cjs (which
 * `npm start` uses): there it is already set, since from inside an ES module it is too late
 * once the loader has read a file through the pool. libuv sizes its thread pool on first use. Every ingest waits on a file creation and an fdatasync in the pool, so
 * with libuv's default of 4 threads, four parallel associations queue behind each other's
 * disk flushes. An operator's own UV_THREADPOOL_SIZE wins.
 */
process.env.UV_THREADPOOL_SIZE ??= '16';

import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

/**
 * SQLite's WAL checkpoints on a worker thread (issue 16). By default the connection that
 * commits runs a checkpoint whenever the WAL passes 1,000 pages: on the event loop, with two
 * file syncs and a thousand page writes, a 10–25 ms stall every few dozen ingested instances
 * (an instance writes 20–40 pages). Here the main connection checkpoints only as a fallback,
 * far later (FALLBACK_PAGES, should the worker stop), and a connection of its own on a worker
 * thread runs a PASSIVE checkpoint (which never blocks the writer) whenever the WAL has
 * grown; the next commit after a complete one restarts the WAL from its beginning.
 */
export const FALLBACK_PAGES = 20_000;
const CHECK_EVERY_MS = 250;
/** below this many pages in the WAL the worker leaves it (a checkpoint costs two file syncs) */
const CHECKPOINT_PAGES = 1_000;

const WORKER_SOURCE = `
const { workerData, parentPort } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.file, { fileMustExist: true });
db.pragma('busy_timeout = 100');
let stopped = false;
const tick = () => {
  if (stopped) return;
  try {
    // The pages in the WAL not yet copied back; a PASSIVE checkpoint copies what no reader still needs.
    const [row] = db.pragma('wal_checkpoint(NOOP)');
    if (row && row.log - row.checkpointed >= workerData.minPages) {
      // Under a steady load the writer appends while this copies: go on until one pass
      // catches up with it, after which the writer's next commit restarts the WAL.
      for (let pass = 0; pass < 8; pass += 1) {
        const [done] = db.pragma('wal_checkpoint(PASSIVE)');
        if (!done || done.log - done.checkpointed === 0) break;
      }
    }
  } catch {
    // busy or gone for a moment: the next tick tries again, and the main connection's fallback stays
  }
  setTimeout(tick, workerData.everyMs);
};
setTimeout(tick, workerData.everyMs);
parentPort.on('message', () => {
  stopped = true;
  try { db.close(); } catch {}
  parentPort.postMessage('closed');
});
`;

export interface WalCheckpointer {
  close(): Promise<void>;
}

/** Starts the worker for the database file; undefined when a worker cannot be started (the main connection then checkpoints itself, as before). */
export function startWalCheckpointer(file: string): WalCheckpointer | undefined {
  let worker: Worker;
  try {
    const driver = createRequire(import.meta.url).resolve('better-sqlite3');
    worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { file, driver, minPages: CHECKPOINT_PAGES, everyMs: CHECK_EVERY_MS } });
  } catch {
    return undefined;
  }
  worker.unref();
  worker.on('error', () => undefined); // the fallback checkpoint of the main connection remains
  return {
    close: () =>
      new Promise<void>((resolve) => {
        const done = () => resolve();
        worker.once('exit', done);
        worker.once('message', () => void worker.terminate().then(done, done));
        worker.postMessage('close');
        setTimeout(() => void worker.terminate().then(done, done), 2_000).unref();
      }),
  };
}

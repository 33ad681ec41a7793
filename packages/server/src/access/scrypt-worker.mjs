// A password-hashing worker (scrypt-pool.ts). scryptSync on purpose: the asynchronous scrypt
// runs on libuv's thread pool, which file I/O shares, even when called from a worker; this
// thread is the only one a hash may occupy.
import { scryptSync } from 'node:crypto';
import { parentPort } from 'node:worker_threads';

const port = parentPort;
if (!port) throw new Error('scrypt-worker.mjs runs as a worker thread');
port.on('message', (job) => {
  try {
    const key = scryptSync(job.password, job.salt, job.keyLength, { N: job.N, r: job.r, p: job.p, maxmem: job.maxmem });
    port.postMessage({ id: job.id, key }, [key.buffer]);
  } catch (error) {
    port.postMessage({ id: job.id, error: error instanceof Error ? error.message : String(error) });
  }
});

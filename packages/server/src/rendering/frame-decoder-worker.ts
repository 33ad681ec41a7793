/** A decode worker (frame-decoder.ts): one request at a time, codec errors answered, never thrown. */
import { parentPort } from 'node:worker_threads';
import { codecMemoryBytes, decodeCompressed, type DecodeRequest } from './codecs.ts';

interface Job { id: number; request: DecodeRequest }

const port = parentPort;
if (!port) throw new Error('frame-decoder-worker.ts runs as a worker thread');
port.on('message', (job: Job) => {
  decodeCompressed(job.request).then(
    (frame) => port.postMessage({ id: job.id, frame, memory: codecMemoryBytes() }, [frame.data.buffer as ArrayBuffer]),
    (error: unknown) => port.postMessage({ id: job.id, error: error instanceof Error ? error.message : String(error), memory: codecMemoryBytes() }),
  );
});

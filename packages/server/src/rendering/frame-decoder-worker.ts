/** A decode worker (frame-decoder.ts): one request at a time, codec errors answered, never thrown. */
import { parentPort } from 'node:worker_threads';
import { codecMemoryBytes, decodeCompressed, encodeLossless, type DecodeRequest, type EncodeRequest } from './codecs.ts';

type Job = { id: number; request: DecodeRequest; encode?: undefined } | { id: number; encode: EncodeRequest; request?: undefined };

const port = parentPort;
if (!port) throw new Error('frame-decoder-worker.ts runs as a worker thread');
const failed = (id: number) => (error: unknown) => port.postMessage({ id, error: error instanceof Error ? error.message : String(error), memory: codecMemoryBytes() });
port.on('message', (job: Job) => {
  if (job.encode) {
    encodeLossless(job.encode).then(
      (encoded) => port.postMessage({ id: job.id, encoded, memory: codecMemoryBytes() }, [encoded.data.buffer as ArrayBuffer]),
      failed(job.id),
    );
    return;
  }
  decodeCompressed(job.request).then(
    (frame) => port.postMessage({ id: job.id, frame, memory: codecMemoryBytes() }, [frame.data.buffer as ArrayBuffer]),
    failed(job.id),
  );
});

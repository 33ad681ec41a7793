/**
 * Preloaded into a server process (`node --import ./bench/buffer-copy-counter.ts …`): counts the
 * large Buffer copies and allocations (Buffer.concat of several buffers, Buffer#copy,
 * Buffer.allocUnsafe; 16 KiB and more) by the first project function on the stack, and
 * prints them to stderr on SIGUSR2, then starts counting again. Used for the DIMSE receive
 * path (docs/benchmarks.md, "DIMSE receive copies"). Not part of the server: a measuring tool only.
 */
const MIN_BYTES = 16 * 1024;
const counts = new Map<string, { calls: number; bytes: number }>();

/** the calling function worth naming: the first frame in the project's packages */
function caller(): string {
  const frames = (new Error().stack ?? '').split('\n').slice(3, 9).map((line) => line.trim().replace(/^at /, '').replace(/\(.*\/packages\//, '(').replace(/:\d+\)$/, ')'));
  return frames.find((frame) => /dimse|archive|store|dicom/.test(frame)) ?? frames[0] ?? '?';
}

function note(kind: string, bytes: number): void {
  if (bytes < MIN_BYTES) return;
  const key = `${kind} ${caller()}`;
  const entry = counts.get(key) ?? { calls: 0, bytes: 0 };
  entry.calls += 1;
  entry.bytes += bytes;
  counts.set(key, entry);
}

const concat = Buffer.concat.bind(Buffer);
Buffer.concat = (list: readonly Uint8Array[], totalLength?: number): Buffer<ArrayBuffer> => {
  const out = concat(list, totalLength);
  if (list.length > 1) note('concat', out.length);
  return out;
};
const copy = Buffer.prototype.copy;
Buffer.prototype.copy = function (this: Buffer, target: Uint8Array, targetStart?: number, sourceStart?: number, sourceEnd?: number): number {
  const n = copy.call(this, target, targetStart, sourceStart, sourceEnd);
  note('copy', n);
  return n;
};
const allocUnsafe = Buffer.allocUnsafe.bind(Buffer);
Buffer.allocUnsafe = (size: number): Buffer<ArrayBuffer> => {
  note('allocUnsafe', size);
  return allocUnsafe(size);
};

process.on('SIGUSR2', () => {
  const rows = [...counts].sort((a, b) => b[1].bytes - a[1].bytes).map(([key, e]) => `${(e.bytes / 1048576).toFixed(1).padStart(8)} MB ${String(e.calls).padStart(6)}x  ${key}`);
  process.stderr.write(`--- large copies (>= 16 KiB)\n${rows.join('\n')}\n---\n`);
  counts.clear();
});

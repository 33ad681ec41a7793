/**
 * Writing stored files as multipart parts through a few reused buffers (WADO-RS as stored).
 *
 * Node.js has no sendfile. Reading each instance into a new Buffer (the way before) costs
 * more than the copying: a 100 MB CT study allocated ~100 MB of external memory per request,
 * and V8 answers external memory growth with full mark-compact collections of the whole heap
 * (perf: ~40 % of the server's CPU in ConcurrentMarking and the sweeper during a study
 * retrieval). Here every file is read, synchronously from the page cache, into one of a
 * process-wide set of 1 MiB chunks, each written to the socket and given back when the socket
 * has taken it; a part's header goes out corked with its first chunk (one writev). Memory per
 * response is bounded (IN_FLIGHT chunks), nothing is allocated per instance but the header.
 */
import type { ServerResponse } from 'node:http';
import type { BlobReader } from '../archive/archive-service.ts';

const CHUNK_BYTES = 1024 * 1024;
/** chunks one response may have handed to the socket and not had back: bounds its memory when the client reads slowly */
const IN_FLIGHT = 4;
/** chunks kept for reuse between responses (16 MiB at most) */
const MAX_FREE = 16;
const free: Buffer[] = [];

function takeChunk(): Buffer {
  return free.pop() ?? Buffer.allocUnsafeSlow(CHUNK_BYTES);
}

function giveBack(chunk: Buffer): void {
  if (free.length < MAX_FREE) free.push(chunk);
}

/** One part: its header bytes, then `size` bytes of an open stored file. */
export interface FilePart {
  header: Uint8Array;
  reader: BlobReader;
  size: number;
}

/**
 * Writes the parts in order to `response` (headers already set), then `trailer`. Resolves
 * when everything is handed to the socket; false when the client went away first. Closes every
 * reader it was given, also on failure. A file shorter than its part (changed under us)
 * throws: the caller cuts the connection, the only signal left once headers are sent.
 */
export async function pumpFileParts(response: ServerResponse, parts: AsyncIterable<FilePart> | Iterable<FilePart>, trailer: Uint8Array): Promise<boolean> {
  let inFlight = 0;
  let wake: (() => void) | undefined;
  let closed = response.destroyed;
  const onClose = () => {
    closed = true;
    wake?.();
  };
  response.once('close', onClose);
  const settled = (chunk: Buffer) => () => {
    inFlight -= 1;
    giveBack(chunk);
    wake?.();
  };
  /** waits until fewer than `limit` chunks are with the socket (or it closed) */
  const below = async (limit: number) => {
    while (inFlight >= limit && !closed) await new Promise<void>((resolve) => (wake = resolve));
    wake = undefined;
  };
  try {
    for await (const part of parts) {
      try {
        if (closed) return false;
        let position = 0;
        let header: Uint8Array | undefined = part.header;
        while (position < part.size || header) {
          await below(IN_FLIGHT);
          if (closed) return false;
          const chunk = takeChunk();
          const read = position < part.size ? part.reader.read(chunk, part.size - position, position) : 0;
          if (read === 0 && position < part.size) {
            giveBack(chunk);
            throw new Error(`stored file ended after ${position} of ${part.size} bytes`);
          }
          position += read;
          response.cork();
          if (header) response.write(header);
          header = undefined;
          inFlight += 1;
          response.write(chunk.subarray(0, read), settled(chunk));
          response.uncork();
        }
      } finally {
        part.reader.close();
      }
    }
    if (closed) return false;
    await new Promise<void>((resolve) => response.end(trailer, resolve));
    return true;
  } finally {
    response.off('close', onClose);
  }
}

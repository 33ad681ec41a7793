/**
 * The body of a STOW-RS request, read as a stream (issue 13, item 7): parts stay in memory
 * while the request's memory budget allows, and larger ones go to a staged file under the
 * blob store's staging directory as they arrive, hashed on the way, so a 1 GiB upload costs
 * its budget in memory, not 1 GiB (it peaked at 2.5 GB when the body was buffered whole).
 *
 * Every part is received before any is stored: a request over the part cap, or one whose
 * connection drops, stores nothing (the promise STOW-RS made when the body was buffered).
 * The size cap (YUNYING_MAX_UPLOAD_BYTES) is enforced from Content-Length before reading and
 * on the bytes as they arrive for a chunked body.
 */
import { createHash, type Hash } from 'node:crypto';
import { once } from 'node:events';
import { createWriteStream, type WriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { MultipartError, readMultipart, TooManyPartsError } from '@yunying/dicom';
import type { StagedFile } from '../archive/archive-service.ts';
import { newStagingPath } from '../archive/staging.ts';
import { badRequest, YunyingError } from '../errors.ts';

/**
 * Bytes of parts one request keeps in memory before it stages the rest in files: the
 * instances of a usual request (25 CT slices) stay in memory as before, a whole-slide image
 * or a request of a thousand slices goes to disk. With YUNYING_STOW_CONCURRENCY requests at
 * once, this times the concurrency bounds what STOW-RS bodies hold in memory.
 */
export const STOW_MEMORY_PER_REQUEST = 32 * 1024 * 1024;

/** One part as received: in memory, or staged in a file that ingest takes over. */
export type ReceivedPart = { type?: string; bytes: Buffer } | { type?: string; file: StagedFile };

export interface BodyLimits {
  maxParts: number;
  maxBytes: number;
  stagingDirectory: string;
  memoryBudget?: number;
}

/** The body's shape, from the Content-Type, before any byte is read. */
export type BodyKind = { kind: 'single' } | { kind: 'multipart'; boundary: string };

export function payloadTooLarge(maxBytes: number): YunyingError {
  return new YunyingError('PAYLOAD_TOO_LARGE', `a STOW-RS request body may be at most ${maxBytes} bytes (YUNYING_MAX_UPLOAD_BYTES); send the instances in several requests`);
}

/** The request's chunks, failing with 413 once more than maxBytes arrived. Not destroyed when left early (the 4xx answer still goes out). */
async function* limited(stream: Readable, maxBytes: number): AsyncGenerator<Uint8Array> {
  let received = 0;
  for await (const chunk of stream.iterator({ destroyOnReturn: false })) {
    received += (chunk as Buffer).length;
    if (received > maxBytes) throw payloadTooLarge(maxBytes);
    yield chunk as Buffer;
  }
}

/**
 * Reads the whole body into parts. On any failure (a malformed body, too many parts, too
 * many bytes, a dropped connection) the files staged so far are removed before it throws.
 */
export async function receiveParts(stream: Readable, body: BodyKind, limits: BodyLimits): Promise<ReceivedPart[]> {
  const budget = { left: limits.memoryBudget ?? STOW_MEMORY_PER_REQUEST };
  const parts: ReceivedPart[] = [];
  const source = limited(stream, limits.maxBytes);
  try {
    if (body.kind === 'single') {
      parts.push(await receivePart(source, undefined, budget, limits.stagingDirectory));
    } else {
      for await (const part of readMultipart(source, body.boundary, { maxParts: limits.maxParts })) {
        parts.push(await receivePart(part.body, part.headers['content-type'], budget, limits.stagingDirectory));
      }
    }
  } catch (error) {
    await removeStaged(parts);
    if (error instanceof TooManyPartsError) {
      throw new YunyingError('TOO_MANY_PARTS', `one STOW-RS request may carry at most ${limits.maxParts} parts; send the instances in several requests`);
    }
    if (error instanceof MultipartError) throw badRequest('INVALID_MULTIPART', error.message);
    if (isCutOff(error)) throw badRequest('BAD_REQUEST', 'the connection closed before the request body ended');
    throw error;
  }
  return parts;
}

/** The sender went away mid-body (Node's request stream fails with "aborted"): the sender's trouble, not the server's. */
function isCutOff(error: unknown): boolean {
  const { code, message } = (error ?? {}) as { code?: string; message?: string };
  return code === 'ECONNRESET' || code === 'ERR_STREAM_PREMATURE_CLOSE' || message === 'aborted';
}

/** Removes the staged files of parts that were not handed to ingest (ingest removes its own). */
export async function removeStaged(parts: readonly ReceivedPart[]): Promise<void> {
  await Promise.all(parts.map((part) => ('file' in part ? rm(part.file.path, { force: true }) : undefined)));
}

/** A part kept in memory while it fits the budget, else staged from its first byte on. */
async function receivePart(body: AsyncIterable<Uint8Array>, type: string | undefined, budget: { left: number }, stagingDirectory: string): Promise<ReceivedPart> {
  const held: Buffer[] = [];
  let size = 0;
  let staged: Staging | undefined;
  try {
    for await (const piece of body) {
      const chunk = Buffer.from(piece.buffer, piece.byteOffset, piece.byteLength);
      size += chunk.length;
      if (staged) {
        await staged.write(chunk);
        continue;
      }
      if (size <= budget.left) {
        held.push(chunk);
        continue;
      }
      staged = await Staging.open(stagingDirectory);
      for (const earlier of held) await staged.write(earlier);
      held.length = 0;
      await staged.write(chunk);
    }
    if (staged) return { type, file: await staged.close() };
  } catch (error) {
    await staged?.abandon();
    throw error;
  }
  budget.left -= size;
  return { type, bytes: held.length === 1 ? held[0]! : Buffer.concat(held, size) };
}

/** A staged file being written: hashed as it goes, written with the stream's backpressure. */
class Staging {
  private readonly path: string;
  private readonly out: WriteStream;
  private readonly hash: Hash = createHash('sha256');
  private size = 0;
  private failure: Error | undefined;

  private constructor(path: string) {
    this.path = path;
    this.out = createWriteStream(path, { flags: 'wx' });
    this.out.on('error', (error) => (this.failure = error));
  }

  static async open(stagingDirectory: string): Promise<Staging> {
    return new Staging(await newStagingPath(stagingDirectory, 'stow'));
  }

  async write(chunk: Buffer): Promise<void> {
    if (this.failure) throw this.failure;
    this.hash.update(chunk);
    this.size += chunk.length;
    if (!this.out.write(chunk)) await once(this.out, 'drain'); // rejects if the stream fails meanwhile
    if (this.failure) throw this.failure;
  }

  async close(): Promise<StagedFile> {
    if (this.failure) throw this.failure;
    this.out.end();
    await once(this.out, 'close'); // written and its descriptor closed: ingest may move it
    if (this.failure) throw this.failure;
    return { path: this.path, size: this.size, sha256: this.hash.digest('hex') };
  }

  async abandon(): Promise<void> {
    this.out.destroy();
    await rm(this.path, { force: true });
  }
}

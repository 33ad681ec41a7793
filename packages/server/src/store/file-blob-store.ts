import { close, closeSync, createReadStream, fdatasync, mkdirSync, openSync, renameSync, rmSync, writevSync } from 'node:fs';
import { open, readdir, readFile, rm, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import { assertSafeBlobKey, type BlobStore, type BlobWrite } from './blob-store.ts';

const TEMP_PREFIX = '.tmp-';
const SYNCHRONOUS_WRITE_LIMIT = 8 * 1024 * 1024;

function asBuffer(piece: Uint8Array): Buffer {
  return Buffer.isBuffer(piece) ? piece : Buffer.from(piece.buffer, piece.byteOffset, piece.byteLength);
}

function checkWritten(written: number, expected: number): void {
  if (written !== expected) throw new Error(`short write: ${written} of ${expected} bytes`);
}

/** Writes the file and returns its still-open descriptor (for the fsync that follows). */
function writeSynchronously(file: string, buffers: Buffer[], size: number): number {
  const descriptor = openSync(file, 'w');
  try {
    checkWritten(writevSync(descriptor, buffers), size);
    return descriptor;
  } catch (error) {
    closeSync(descriptor);
    rmSync(file, { force: true });
    throw error;
  }
}

async function writeThroughThreadPool(file: string, buffers: Buffer[], size: number): Promise<number> {
  const handle = await open(file, 'w');
  try {
    let written = 0;
    for (const buffer of buffers) written += (await handle.write(buffer)).bytesWritten;
    checkWritten(written, size);
    // Hand the descriptor over: the FileHandle must not close it when garbage-collected.
    return openSync(file, 'r+');
  } catch (error) {
    rmSync(file, { force: true });
    throw error;
  } finally {
    await handle.close();
  }
}

/**
 * Blobs as files under a root directory. A put writes a temporary file in the target
 * directory, optionally fsyncs it, and renames it into place, so a reader (or a crash)
 * never sees a half-written blob under its real name.
 */
export class FileBlobStore implements BlobStore {
  private readonly knownDirectories = new Set<string>();

  constructor(
    private readonly root: string,
    private readonly fsync: boolean,
  ) {}

  async put(key: string, bytes: Uint8Array | readonly Uint8Array[]): Promise<BlobWrite> {
    const target = this.pathOf(key);
    const directory = path.dirname(target);
    this.ensureDirectory(directory);
    const temporary = path.join(directory, `${TEMP_PREFIX}${randomBytes(6).toString('hex')}`);
    const buffers = (bytes instanceof Uint8Array ? [bytes] : bytes).map(asBuffer);
    const size = buffers.reduce((sum, buffer) => sum + buffer.length, 0);
    // Writing to the page cache takes well under a millisecond for an image; doing it
    // synchronously saves four thread-pool round trips per instance. Large objects (multi-frame
    // cine, whole-slide) go through the thread pool so the event loop stays responsive.
    const descriptor = size <= SYNCHRONOUS_WRITE_LIMIT ? writeSynchronously(temporary, buffers, size) : await writeThroughThreadPool(temporary, buffers, size);
    try {
      // No directory fsync: on a journaling file system (ext4, XFS) the rename is committed,
      // in order, by the next fsync of anything (the index's WAL sync that follows every
      // commit), so an index row never outlives its blob. That saves one fsync per instance.
      renameSync(temporary, target);
    } catch (error) {
      closeSync(descriptor);
      rmSync(temporary, { force: true });
      throw error;
    }
    return { durable: this.syncAndClose(descriptor) };
  }

  private syncAndClose(descriptor: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const finish = (error: NodeJS.ErrnoException | null) => close(descriptor, (closeError) => (error ?? closeError ? reject(error ?? closeError) : resolve()));
      if (this.fsync) fdatasync(descriptor, finish);
      else finish(null);
    });
  }

  get(key: string): Promise<Buffer> {
    return readFile(this.pathOf(key));
  }

  async createReadStream(key: string, range?: { start: number; end: number }): Promise<Readable> {
    const file = this.pathOf(key);
    await stat(file); // fail here with ENOENT rather than later inside the stream
    return createReadStream(file, range ? { start: range.start, end: range.end } : {});
  }

  async delete(key: string): Promise<void> {
    await rm(this.pathOf(key), { force: true });
  }

  async exists(key: string): Promise<boolean> {
    try {
      await stat(this.pathOf(key));
      return true;
    } catch {
      return false;
    }
  }

  async cleanUpInterruptedWrites(): Promise<void> {
    await removeTemporaryFiles(this.root);
  }

  private pathOf(key: string): string {
    assertSafeBlobKey(key);
    return path.join(this.root, key);
  }

  private ensureDirectory(directory: string): void {
    if (this.knownDirectories.has(directory)) return;
    mkdirSync(directory, { recursive: true });
    if (this.knownDirectories.size > 100_000) this.knownDirectories.clear();
    this.knownDirectories.add(directory);
  }
}

async function removeTemporaryFiles(directory: string): Promise<void> {
  let entries;
  try {
    entries = await readdir(directory, { withFileTypes: true });
  } catch {
    return;
  }
  for (const entry of entries) {
    const full = path.join(directory, entry.name);
    if (entry.isDirectory()) await removeTemporaryFiles(full);
    else if (entry.name.startsWith(TEMP_PREFIX)) await unlink(full).catch(() => undefined);
  }
}

import { close, closeSync, open as openCallback, createReadStream, fdatasync, fstatSync, mkdirSync, openSync, readSync, rmSync, writevSync } from 'node:fs';
import { createWriteStream } from 'node:fs';
import { open, readFile, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { assertSafeBlobKey, type BlobStore, type BlobWrite } from './blob-store.ts';

const SYNCHRONOUS_WRITE_LIMIT = 8 * 1024 * 1024;
const SYNCHRONOUS_READ_LIMIT = 8 * 1024 * 1024;

function asBuffer(piece: Uint8Array): Buffer {
  return Buffer.isBuffer(piece) ? piece : Buffer.from(piece.buffer, piece.byteOffset, piece.byteLength);
}

function checkWritten(written: number, expected: number): void {
  if (written !== expected) throw new Error(`short write: ${written} of ${expected} bytes`);
}

/**
 * Creating a file costs about half a millisecond on a virtual disk, so it runs on the thread
 * pool where several associations' creations overlap; the write itself, a copy into the page
 * cache, is done synchronously.
 */
async function writeSmall(file: string, buffers: Buffer[], size: number): Promise<number> {
  const descriptor = await new Promise<number>((resolve, reject) => openCallback(file, 'w', (error, fd) => (error ? reject(error) : resolve(fd))));
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

/** Blobs as files under a root directory, fdatasync'd before they count as durable. */
export class FileBlobStore implements BlobStore {
  private readonly knownDirectories = new Set<string>();

  private readonly root: string;
  private readonly fsync: boolean;
  constructor(
    root: string,
    fsync: boolean,
  ) {
    this.root = root;
    this.fsync = fsync;
    this.stagingDirectory = path.join(path.dirname(root), 'staging');
  }

  /** next to the root (DATA_DIR/staging beside DATA_DIR/blobs): the same file system, outside the blobs */
  readonly stagingDirectory: string;

  async putFile(key: string, file: { path: string; size: number }, prefix?: Uint8Array): Promise<BlobWrite> {
    const target = this.pathOf(key);
    this.ensureDirectory(path.dirname(target));
    if (!prefix) {
      try {
        // A rename is atomic: the blob appears whole under its name or not at all.
        await rename(file.path, target);
        return { durable: this.syncFileAndDirectory(target) };
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EXDEV') throw error; // another file system: copy
      }
    }
    // Copied in chunks (a data set after its Part 10 header, or across file systems): like
    // put, straight under the final name, which holds the content hash; a crash leaves at
    // most an unreferenced file that a resend overwrites.
    try {
      await pipeline(async function* () {
        if (prefix) yield prefix;
        yield* createReadStream(file.path);
      }, createWriteStream(target));
      checkWritten((await stat(target)).size, (prefix?.length ?? 0) + file.size);
    } catch (error) {
      await rm(target, { force: true });
      throw error;
    }
    return { durable: this.syncFileAndDirectory(target) };
  }

  /** fdatasync of the file, then fsync of its directory: the renamed entry is durable too. */
  private async syncFileAndDirectory(file: string): Promise<void> {
    if (!this.fsync) return;
    const handle = await open(file, 'r');
    try {
      await handle.datasync();
    } finally {
      await handle.close();
    }
    const directory = await open(path.dirname(file), 'r');
    try {
      await directory.sync();
    } finally {
      await directory.close();
    }
  }

  async put(key: string, bytes: Uint8Array | readonly Uint8Array[]): Promise<BlobWrite> {
    const target = this.pathOf(key);
    this.ensureDirectory(path.dirname(target));
    const buffers = (bytes instanceof Uint8Array ? [bytes] : bytes).map(asBuffer);
    const size = buffers.reduce((sum, buffer) => sum + buffer.length, 0);
    // Written straight under the final name, without a temporary file and rename: the archive
    // names every blob by its content and indexes it only after this resolves, so a reader
    // never sees a partial file, and a crash leaves at most an unreferenced one that a resend
    // overwrites. On a virtual disk this saves a file creation and a rename per instance.
    // The new directory entry is durable with the file: fdatasync of a grown file commits the
    // file system journal that holds the entry (ext4, XFS).
    //
    // Writing to the page cache takes well under a millisecond for an image; doing it
    // synchronously saves several thread-pool round trips. Large objects (multi-frame cine,
    // whole-slide) go through the thread pool so the event loop stays responsive.
    const descriptor = size <= SYNCHRONOUS_WRITE_LIMIT ? await writeSmall(target, buffers, size) : await writeThroughThreadPool(target, buffers, size);
    return { durable: this.syncAndClose(descriptor) };
  }

  private syncAndClose(descriptor: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const finish = (error: NodeJS.ErrnoException | null) => close(descriptor, (closeError) => (error ?? closeError ? reject(error ?? closeError) : resolve()));
      if (this.fsync) fdatasync(descriptor, finish);
      else finish(null);
    });
  }

  async get(key: string): Promise<Buffer> {
    const file = this.pathOf(key);
    // Like writes: an image read from the page cache costs ~0.1 ms synchronously but several
    // thread-pool round trips asynchronously, which halves WADO-RS throughput on small VMs.
    // Large objects are read through the thread pool.
    const descriptor = openSync(file, 'r');
    try {
      const size = fstatSync(descriptor).size;
      if (size > SYNCHRONOUS_READ_LIMIT) return await readFile(file);
      const bytes = Buffer.allocUnsafe(size);
      let offset = 0;
      while (offset < size) {
        const read = readSync(descriptor, bytes, offset, size - offset, offset);
        if (read === 0) throw new Error(`blob ${key} ended after ${offset} of ${size} bytes`);
        offset += read;
      }
      return bytes;
    } finally {
      closeSync(descriptor);
    }
  }

  async createReadStream(key: string, range?: { start: number; end: number }): Promise<Readable> {
    const file = this.pathOf(key);
    await stat(file); // fail here with ENOENT rather than later inside the stream
    return createReadStream(file, range ? { start: range.start, end: range.end } : {});
  }

  async delete(key: string): Promise<void> {
    await rm(this.pathOf(key), { force: true });
  }

  async sizeOf(key: string): Promise<number | undefined> {
    try {
      return (await stat(this.pathOf(key))).size;
    } catch {
      return undefined;
    }
  }

  async exists(key: string): Promise<boolean> {
    try {
      await stat(this.pathOf(key));
      return true;
    } catch {
      return false;
    }
  }

  async close(): Promise<void> {
    // nothing held open between calls
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

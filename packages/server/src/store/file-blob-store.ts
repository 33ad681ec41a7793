import { createReadStream } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, rm, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import { assertSafeBlobKey, type BlobStore } from './blob-store.ts';

const TEMP_PREFIX = '.tmp-';

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

  async put(key: string, bytes: Uint8Array): Promise<void> {
    const target = this.pathOf(key);
    const directory = path.dirname(target);
    await this.ensureDirectory(directory);
    const temporary = path.join(directory, `${TEMP_PREFIX}${randomBytes(6).toString('hex')}`);
    const handle = await open(temporary, 'w');
    try {
      await handle.writeFile(bytes);
      if (this.fsync) await handle.datasync();
    } finally {
      await handle.close();
    }
    try {
      await rename(temporary, target);
      if (this.fsync) await syncDirectory(directory);
    } catch (error) {
      await rm(temporary, { force: true });
      throw error;
    }
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

  private async ensureDirectory(directory: string): Promise<void> {
    if (this.knownDirectories.has(directory)) return;
    await mkdir(directory, { recursive: true });
    this.knownDirectories.add(directory);
  }
}

async function syncDirectory(directory: string): Promise<void> {
  const handle = await open(directory, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
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

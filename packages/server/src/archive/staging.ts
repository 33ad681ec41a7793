/**
 * Staged files: instances received into a temporary file instead of memory (large STOW-RS
 * parts, large DIMSE data sets), under the blob store's stagingDirectory, then handed to
 * ingest as `{ file: StagedFile }`, which moves them into the store and removes them.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, rm, stat } from 'node:fs/promises';
import path from 'node:path';

/** A fresh path in the staging directory (created if need be); nothing is written yet. */
export async function newStagingPath(stagingDirectory: string, label: string): Promise<string> {
  await mkdir(stagingDirectory, { recursive: true });
  return path.join(stagingDirectory, `${label}-${process.pid}-${randomBytes(8).toString('hex')}.part`);
}

/**
 * Removes staged files a crashed process left behind. Only old ones: other server processes
 * on the same data directory may be receiving into theirs right now.
 */
export async function removeStaleStagedFiles(stagingDirectory: string, olderThanMs = 6 * 60 * 60 * 1000, now = Date.now()): Promise<number> {
  let removed = 0;
  const names = await readdir(stagingDirectory).catch(() => [] as string[]);
  for (const name of names) {
    if (!name.endsWith('.part')) continue;
    const file = path.join(stagingDirectory, name);
    const info = await stat(file).catch(() => undefined);
    if (info && now - info.mtimeMs > olderThanMs) {
      await rm(file, { force: true });
      removed++;
    }
  }
  return removed;
}

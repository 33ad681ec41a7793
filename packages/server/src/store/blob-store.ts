import type { Readable } from 'node:stream';

/** Where instance bytes live. Keys are relative paths made by the archive (no "..", no leading "/"). */
export interface BlobStore {
  /** Stores the bytes durably; when it resolves the blob survives a crash. Overwrites an existing key. */
  put(key: string, bytes: Uint8Array): Promise<void>;
  get(key: string): Promise<Buffer>;
  /** Streams the blob, or the byte range [start, end] (inclusive, like HTTP Range). */
  createReadStream(key: string, range?: { start: number; end: number }): Promise<Readable>;
  delete(key: string): Promise<void>;
  exists(key: string): Promise<boolean>;
  /** Removes leftovers of interrupted writes (temporary files). Called at start. */
  cleanUpInterruptedWrites(): Promise<void>;
}

/** Throws unless the key is a safe relative path: the blob store never leaves its root. */
export function assertSafeBlobKey(key: string): void {
  if (!/^[A-Za-z0-9._\-/]+$/.test(key) || key.startsWith('/') || key.split('/').some((part) => part === '..' || part === '' || part === '.')) {
    throw new Error(`unsafe blob key: ${JSON.stringify(key)}`);
  }
}

import type { Readable } from 'node:stream';

/** Where instance bytes live. Keys are relative paths made by the archive (no "..", no leading "/"). */
export interface BlobStore {
  /**
   * Stores the bytes (one buffer, or consecutive pieces written without joining them),
   * overwriting an existing key. When it resolves the blob is readable under its key and
   * survives the process being killed; `durable` resolves once it also survives power loss
   * (the caller overlaps that wait with other work, e.g. the index commit).
   */
  put(key: string, bytes: Uint8Array | readonly Uint8Array[], options?: BlobPutOptions): Promise<BlobWrite>;
  /**
   * Stores the bytes of a file written under `stagingDirectory` (a streamed upload that was
   * never held in memory), preceded by `prefix` when given (a Part 10 header before a bare
   * data set). The file is moved where it can be (a rename: no copy) and copied otherwise;
   * the caller removes it afterwards in any case (a moved file is simply gone). Same
   * guarantees as put.
   */
  putFile(key: string, file: { path: string; size: number }, prefix?: Uint8Array, options?: BlobPutOptions): Promise<BlobWrite>;
  /** Where temporary files that may become blobs are written: on the blobs' file system, so that putFile can rename them. */
  readonly stagingDirectory: string;
  /**
   * True where a put over an existing key replaces it whole or not at all, never leaving a
   * torn object (S3): ingest may then start the upload before it knows whether the key is taken.
   */
  readonly atomicReplace?: boolean;
  get(key: string): Promise<Buffer>;
  /**
   * Opens the blob for positional reads into the caller's buffers (files: one descriptor),
   * so that a sender can stream it through a few reused buffers instead of allocating the
   * whole blob (WADO-RS: a 100 MB study allocated per request made V8 run a full garbage
   * collection for each). Absent where blobs are not local files.
   */
  openReader?(key: string): Promise<BlobReader>;
  /** Streams the blob, or the byte range [start, end] (inclusive, like HTTP Range). */
  createReadStream(key: string, range?: { start: number; end: number }): Promise<Readable>;
  delete(key: string): Promise<void>;
  exists(key: string): Promise<boolean>;
  /** The blob's size in bytes, or undefined when there is none. */
  sizeOf(key: string): Promise<number | undefined>;
  /** Releases connections; the store is not used afterwards. */
  close(): Promise<void>;
}

/** A blob open for reading (BlobStore.openReader); `close` must be called once done. */
export interface BlobReader {
  readonly size: number;
  /** Reads up to `length` bytes at `position` into `into` from offset 0; the bytes read (0 at the end). Synchronous: a read from the page cache costs less than a thread-pool round trip. */
  read(into: Uint8Array, length: number, position: number): number;
  close(): void;
}

export interface BlobPutOptions {
  /**
   * The SHA-256 of the whole blob (hex), when the caller has it already (ingest hashes every
   * instance): a store that hashes what it sends (S3's signed payload) takes it instead of
   * hashing the bytes again, and the server still checks the bytes against it.
   */
  sha256?: string;
}

export interface BlobWrite {
  durable: Promise<void>;
}

/** Throws unless the key is a safe relative path: the blob store never leaves its root. */
export function assertSafeBlobKey(key: string): void {
  if (!/^[A-Za-z0-9._\-/]+$/.test(key) || key.startsWith('/') || key.split('/').some((part) => part === '..' || part === '' || part === '.')) {
    throw new Error(`unsafe blob key: ${JSON.stringify(key)}`);
  }
}

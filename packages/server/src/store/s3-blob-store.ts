import { createReadStream } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import type { S3Client} from '@aws-sdk/client-s3';
import { DeleteObjectCommand, GetObjectCommand, HeadObjectCommand, NoSuchKey, NotFound, PutObjectCommand, type S3ClientConfig } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { assertSafeBlobKey, type BlobPutOptions, type BlobStore, type BlobWrite } from './blob-store.ts';

/** Objects up to this size go up in one PUT; larger ones as a multipart upload in parts of this size. */
const MULTIPART_THRESHOLD = 16 * 1024 * 1024;

export interface S3Location {
  bucket: string;
  /** key prefix without leading or trailing "/" ('' for the bucket root) */
  prefix: string;
}

/** "s3://bucket/some/prefix" → bucket and prefix. */
export function parseS3Url(url: string): S3Location {
  const match = /^s3:\/\/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?:\/(.*))?$/.exec(url);
  if (!match) throw new Error(`YUNYING_STORAGE_URL must look like s3://bucket/prefix, got "${url}"`);
  return { bucket: match[1], prefix: (match[2] ?? '').replace(/^\/+|\/+$/g, '') };
}

/**
 * Client settings from the standard AWS_* variables. The SDK reads the credentials and
 * region itself; a non-AWS endpoint (AWS_ENDPOINT_URL_S3: Ceph RGW, MinIO, a cloud
 * provider's OSS) gets path-style addressing, since such servers rarely have wildcard DNS.
 */
export function s3ClientConfigFromEnv(env: Record<string, string | undefined>): S3ClientConfig {
  const endpoint = env.AWS_ENDPOINT_URL_S3 ?? env.AWS_ENDPOINT_URL;
  return {
    region: env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? 'us-east-1',
    ...(endpoint ? { endpoint, forcePathStyle: true } : {}),
    // Checksums only where S3 demands them: some S3-compatible servers reject the newer defaults.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  };
}

/** Blobs as objects in an S3-compatible bucket. A PUT that returned is durable. */
export class S3BlobStore implements BlobStore {
  /** An object appears only when its PUT (or multipart upload) completes. */
  readonly atomicReplace = true;

  private readonly client: S3Client;
  private readonly location: S3Location;
  /** temporary files of uploads, before they go up [the system's temporary directory] */
  readonly stagingDirectory: string;

  constructor(
    client: S3Client,
    location: S3Location,
    stagingDirectory = path.join(tmpdir(), 'yunying-staging'),
  ) {
    this.client = client;
    this.location = location;
    this.stagingDirectory = stagingDirectory;
  }

  async putFile(key: string, file: { path: string; size: number }, prefix?: Uint8Array, options: BlobPutOptions = {}): Promise<BlobWrite> {
    const Key = this.objectKey(key);
    const size = (prefix?.length ?? 0) + file.size;
    const body = () =>
      Readable.from(
        (async function* () {
          if (prefix) yield prefix;
          yield* createReadStream(file.path);
        })(),
      );
    if (size <= MULTIPART_THRESHOLD) {
      // A stream is sent as an unsigned payload unless its hash is known: with it, signed and checked.
      await this.client.send(withPayloadHash(new PutObjectCommand({ Bucket: this.location.bucket, Key, Body: body(), ContentLength: size }), options.sha256));
    } else {
      // streamed from the file in parts: at most queueSize parts in memory, whatever the size
      await new Upload({ client: this.client, params: { Bucket: this.location.bucket, Key, Body: body() }, partSize: MULTIPART_THRESHOLD, queueSize: 4 }).done();
    }
    return { durable: Promise.resolve() };
  }

  async put(key: string, bytes: Uint8Array | readonly Uint8Array[], options: BlobPutOptions = {}): Promise<BlobWrite> {
    const pieces = bytes instanceof Uint8Array ? [bytes] : bytes;
    const size = pieces.reduce((sum, piece) => sum + piece.byteLength, 0);
    const Key = this.objectKey(key);
    if (size <= MULTIPART_THRESHOLD) {
      // One request with a known length, from one buffer: the SDK retries a buffer after a
      // dropped connection, not a stream. Joining the pieces costs one copy of an image;
      // hashing it to sign it cost more (about 1.5-2.5 ms per 0.5 MB slice here), and is
      // skipped when the hash is known.
      const Body = pieces.length === 1 ? pieces[0] : Buffer.concat(pieces, size);
      await this.client.send(withPayloadHash(new PutObjectCommand({ Bucket: this.location.bucket, Key, Body, ContentLength: size }), options.sha256));
    } else {
      // Large multi-frame objects stream up in parts without another whole copy.
      await new Upload({ client: this.client, params: { Bucket: this.location.bucket, Key, Body: Readable.from(pieces) }, partSize: MULTIPART_THRESHOLD, queueSize: 4 }).done();
    }
    return { durable: Promise.resolve() };
  }

  async get(key: string): Promise<Buffer> {
    const response = await this.client.send(new GetObjectCommand({ Bucket: this.location.bucket, Key: this.objectKey(key) }));
    if (!(response.Body instanceof Readable)) throw new Error(`blob ${key} did not arrive as a stream`);
    // The chunks joined once (the SDK's transformToByteArray joins them, and a Buffer of
    // that copies the object again).
    const chunks: Buffer[] = [];
    let length = 0;
    for await (const chunk of response.Body) {
      chunks.push(chunk as Buffer);
      length += (chunk as Buffer).length;
    }
    return chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, length);
  }

  async createReadStream(key: string, range?: { start: number; end: number }): Promise<Readable> {
    const response = await this.client.send(
      new GetObjectCommand({ Bucket: this.location.bucket, Key: this.objectKey(key), Range: range ? `bytes=${range.start}-${range.end}` : undefined }),
    );
    if (!(response.Body instanceof Readable)) throw new Error(`blob ${key} did not arrive as a stream`);
    return response.Body;
  }

  async delete(key: string): Promise<void> {
    await this.client.send(new DeleteObjectCommand({ Bucket: this.location.bucket, Key: this.objectKey(key) }));
  }

  async exists(key: string): Promise<boolean> {
    return (await this.sizeOf(key)) !== undefined;
  }

  async sizeOf(key: string): Promise<number | undefined> {
    try {
      const head = await this.client.send(new HeadObjectCommand({ Bucket: this.location.bucket, Key: this.objectKey(key) }));
      return head.ContentLength;
    } catch (error) {
      if (error instanceof NotFound || error instanceof NoSuchKey || (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404) return undefined;
      throw error;
    }
  }

  async close(): Promise<void> {
    this.client.destroy();
  }

  private objectKey(key: string): string {
    assertSafeBlobKey(key);
    return this.location.prefix ? `${this.location.prefix}/${key}` : key;
  }
}

const PAYLOAD_HASH_HEADER = 'x-amz-content-sha256';

/**
 * The PUT signed with a payload hash the caller already has: SigV4's signer takes an
 * x-amz-content-sha256 header that is set instead of hashing the body itself (or, for a
 * stream, sending it unsigned), and the server refuses a body that does not match it.
 */
function withPayloadHash(command: PutObjectCommand, sha256: string | undefined): PutObjectCommand {
  if (!sha256) return command;
  if (!/^[0-9a-f]{64}$/.test(sha256)) throw new Error('sha256 must be 64 lower-case hex digits');
  command.middlewareStack.add(
    (next) => async (args) => {
      // the HTTP request, built by now (the signer runs later, in the finalize step)
      const request = args.request as { headers?: Record<string, string> };
      if (request.headers) request.headers[PAYLOAD_HASH_HEADER] = sha256;
      return next(args);
    },
    { step: 'build', name: 'yunyingKnownPayloadHash' },
  );
  return command;
}

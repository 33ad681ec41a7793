import { createReadStream } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import type { S3Client} from '@aws-sdk/client-s3';
import { DeleteObjectCommand, GetObjectCommand, HeadObjectCommand, NoSuchKey, NotFound, PutObjectCommand, type S3ClientConfig } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { assertSafeBlobKey, type BlobStore, type BlobWrite } from './blob-store.ts';

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

  async putFile(key: string, file: { path: string; size: number }, prefix?: Uint8Array): Promise<BlobWrite> {
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
      await this.client.send(new PutObjectCommand({ Bucket: this.location.bucket, Key, Body: body(), ContentLength: size }));
    } else {
      // streamed from the file in parts: at most queueSize parts in memory, whatever the size
      await new Upload({ client: this.client, params: { Bucket: this.location.bucket, Key, Body: body() }, partSize: MULTIPART_THRESHOLD, queueSize: 4 }).done();
    }
    return { durable: Promise.resolve() };
  }

  async put(key: string, bytes: Uint8Array | readonly Uint8Array[]): Promise<BlobWrite> {
    const pieces = bytes instanceof Uint8Array ? [bytes] : bytes;
    const size = pieces.reduce((sum, piece) => sum + piece.byteLength, 0);
    const Key = this.objectKey(key);
    if (size <= MULTIPART_THRESHOLD) {
      // One request with a known length; joining the pieces costs one copy of an image.
      await this.client.send(new PutObjectCommand({ Bucket: this.location.bucket, Key, Body: pieces.length === 1 ? pieces[0] : Buffer.concat(pieces), ContentLength: size }));
    } else {
      // Large multi-frame objects stream up in parts without another whole copy.
      await new Upload({ client: this.client, params: { Bucket: this.location.bucket, Key, Body: Readable.from(pieces) }, partSize: MULTIPART_THRESHOLD, queueSize: 4 }).done();
    }
    return { durable: Promise.resolve() };
  }

  async get(key: string): Promise<Buffer> {
    const response = await this.client.send(new GetObjectCommand({ Bucket: this.location.bucket, Key: this.objectKey(key) }));
    if (!response.Body) throw new Error(`blob ${key} has no body`);
    return Buffer.from(await response.Body.transformToByteArray());
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

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createHash, randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import type { BlobStore } from './blob-store.ts';
import { FileBlobStore } from './file-blob-store.ts';
import { parseS3Url, S3BlobStore } from './s3-blob-store.ts';
import { s3SkipReason, testS3Client } from '../test-support/s3.ts';

async function collect(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** One contract, every adapter (design.md: "One contract test suite runs against every adapter"). */
function blobStoreContract(name: string, open: () => Promise<{ store: BlobStore; dispose(): Promise<void> }>, skip: string | false = false): void {
  describe(`${name} blob store`, { skip }, () => {
    test('put (in pieces) then get, ranges, size, delete', async () => {
      const { store, dispose } = await open();
      try {
        const key = `ab/${randomBytes(8).toString('hex')}.dcm`;
        const head = Buffer.from('DICM-header');
        const body = randomBytes(300_000);
        await (await store.put(key, [head, body])).durable;
        const whole = Buffer.concat([head, body]);
        assert.ok((await store.get(key)).equals(whole));
        assert.equal(await store.sizeOf(key), whole.length);
        assert.equal(await store.exists(key), true);
        assert.ok((await collect(await store.createReadStream(key, { start: 5, end: 104 }))).equals(whole.subarray(5, 105)));
        assert.ok((await collect(await store.createReadStream(key))).equals(whole));
        await (await store.put(key, Buffer.from('replaced'))).durable;
        assert.equal((await store.get(key)).toString(), 'replaced');
        await store.delete(key);
        assert.equal(await store.exists(key), false);
        assert.equal(await store.sizeOf(key), undefined);
        await assert.rejects(store.get(key));
      } finally {
        await dispose();
      }
    });

    test('a large object goes up whole', async () => {
      const { store, dispose } = await open();
      try {
        const key = `cd/${randomBytes(8).toString('hex')}.dcm`;
        const big = randomBytes(20 * 1024 * 1024 + 123);
        await (await store.put(key, [big.subarray(0, 1000), big.subarray(1000)])).durable;
        assert.equal(await store.sizeOf(key), big.length);
        assert.ok((await store.get(key)).equals(big));
        await store.delete(key);
      } finally {
        await dispose();
      }
    });

    test('putFile: a staged file is moved in (or copied up) byte-exact, with a prefix before it when given', async () => {
      const { store, dispose } = await open();
      try {
        await mkdir(store.stagingDirectory, { recursive: true });
        for (const size of [1000, 17 * 1024 * 1024]) {
          const bytes = randomBytes(size);
          const staged = path.join(store.stagingDirectory, `contract-${randomBytes(6).toString('hex')}.part`);
          await writeFile(staged, bytes);
          const key = `ef/${randomBytes(8).toString('hex')}.dcm`;
          await (await store.putFile(key, { path: staged, size })).durable;
          assert.ok((await store.get(key)).equals(bytes), `${size} bytes`);
          await rm(staged, { force: true }); // the caller's part: gone whether it was moved or copied
          await store.delete(key);

          const prefix = Buffer.from('DICM-header-before-a-data-set');
          await writeFile(staged, bytes);
          await (await store.putFile(key, { path: staged, size }, prefix)).durable;
          assert.ok((await store.get(key)).equals(Buffer.concat([prefix, bytes])), `${size} bytes after a prefix`);
          await rm(staged, { force: true });
          await store.delete(key);
        }
      } finally {
        await dispose();
      }
    });

    test('put and putFile with the content hash given (as ingest gives it) store the same bytes', async () => {
      const { store, dispose } = await open();
      try {
        const pieces = [Buffer.from('DICM-header'), randomBytes(200_000)];
        const whole = Buffer.concat(pieces);
        const sha256 = createHash('sha256').update(whole).digest('hex');
        const key = `gh/${randomBytes(8).toString('hex')}.dcm`;
        await (await store.put(key, pieces, { sha256 })).durable;
        assert.ok((await store.get(key)).equals(whole));
        await mkdir(store.stagingDirectory, { recursive: true });
        const staged = path.join(store.stagingDirectory, `contract-${randomBytes(6).toString('hex')}.part`);
        await writeFile(staged, pieces[1]);
        await (await store.putFile(key, { path: staged, size: pieces[1].length }, pieces[0], { sha256 })).durable;
        assert.ok((await store.get(key)).equals(whole));
        await rm(staged, { force: true });
        await store.delete(key);
      } finally {
        await dispose();
      }
    });

    test('keys cannot leave the store', async () => {
      const { store, dispose } = await open();
      try {
        for (const key of ['../escape.dcm', '/etc/passwd', 'a//b', 'a/./b', 'a\\b']) await assert.rejects(store.get(key), /unsafe blob key/);
      } finally {
        await dispose();
      }
    });
  });
}

blobStoreContract('file', async () => {
  const root = await mkdtemp(path.join(tmpdir(), 'yunying-blobs-'));
  return { store: new FileBlobStore(root, true), dispose: () => rm(root, { recursive: true, force: true }) };
});

blobStoreContract(
  'S3',
  async () => {
    const { client, bucket } = testS3Client();
    return { store: new S3BlobStore(client, { bucket, prefix: `contract-${randomBytes(4).toString('hex')}` }), dispose: async () => client.destroy() };
  },
  s3SkipReason(),
);

test('S3: a body that does not match the hash it was signed with is refused, and nothing is stored', { skip: s3SkipReason() }, async () => {
  const { client, bucket } = testS3Client();
  const store = new S3BlobStore(client, { bucket, prefix: `hash-${randomBytes(4).toString('hex')}` });
  try {
    const key = `ij/${randomBytes(8).toString('hex')}.dcm`;
    const bytes = randomBytes(10_000);
    const wrong = createHash('sha256').update('other bytes').digest('hex');
    await assert.rejects(store.put(key, [bytes], { sha256: wrong }));
    assert.equal(await store.exists(key), false);
  } finally {
    await store.close();
  }
});

test('s3:// URLs name a bucket and a prefix', () => {
  assert.deepEqual(parseS3Url('s3://dicom/region/a/'), { bucket: 'dicom', prefix: 'region/a' });
  assert.deepEqual(parseS3Url('s3://dicom'), { bucket: 'dicom', prefix: '' });
  assert.throws(() => parseS3Url('http://dicom/x'), /s3:\/\/bucket/);
});

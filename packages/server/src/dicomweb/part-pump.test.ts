import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, get, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { FileBlobStore } from '../store/file-blob-store.ts';
import { pumpFileParts, type FilePart } from './part-pump.ts';

/** A server whose one route pumps `parts()` of the store; the result of each pump is kept. */
async function serve(parts: () => Promise<FilePart[]>, results: Array<boolean | Error>): Promise<Server> {
  const server = createServer((_request, response) => {
    void parts().then(async (list) => {
      response.writeHead(200, { 'content-type': 'application/octet-stream' });
      try {
        results.push(await pumpFileParts(response, list, Buffer.from('END')));
      } catch (error) {
        results.push(error as Error);
        response.destroy();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}

function fetchAll(server: Server): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    get({ host: '127.0.0.1', port: (server.address() as AddressInfo).port, path: '/' }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => resolve(Buffer.concat(chunks)));
      response.on('error', reject);
    }).on('error', reject);
  });
}

describe('part pump: stored files streamed through reused buffers', () => {
  let dir: string;
  let store: FileBlobStore;
  const contents = new Map<string, Buffer>();
  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'yy-pump-'));
    store = new FileBlobStore(dir, false);
    // empty, small, just over one chunk, several chunks
    for (const [key, size] of [['a', 0], ['b', 10], ['c', 1024 * 1024 + 7], ['d', 3 * 1024 * 1024 + 11]] as const) {
      const bytes = randomBytes(size);
      writeFileSync(path.join(dir, key), bytes);
      contents.set(key, bytes);
    }
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const partsOf = async (keys: string[]) => Promise.all(keys.map(async (key) => {
    const reader = await store.openReader(key);
    return { header: Buffer.from(`<${key}>`), reader, size: reader.size };
  }));

  it('writes every header and every byte in order, then the trailer (twice: the buffers are reused)', async () => {
    const results: Array<boolean | Error> = [];
    const keys = ['a', 'b', 'c', 'd', 'c', 'b'];
    const server = await serve(() => partsOf(keys), results);
    try {
      const expected = Buffer.concat([...keys.flatMap((key) => [Buffer.from(`<${key}>`), contents.get(key)!]), Buffer.from('END')]);
      for (let round = 0; round < 2; round++) assert.ok((await fetchAll(server)).equals(expected));
      assert.deepEqual(results, [true, true]);
    } finally {
      server.close();
    }
  });

  it('a file shorter than its part throws (the caller cuts the connection), and the readers are closed', async () => {
    const results: Array<boolean | Error> = [];
    const closed: string[] = [];
    const server = await serve(async () => {
      const parts = await partsOf(['b', 'c']);
      return parts.map((part, i) => ({ ...part, size: i === 1 ? part.size + 100 : part.size, reader: { size: part.reader.size, read: part.reader.read, close: () => { closed.push(String(i)); part.reader.close(); } } }));
    }, results);
    try {
      await assert.rejects(fetchAll(server));
      assert.equal(results.length, 1);
      assert.match(String(results[0]), /ended after 1048583 of 1048683 bytes/);
      assert.deepEqual(closed, ['0', '1']);
    } finally {
      server.close();
    }
  });
});

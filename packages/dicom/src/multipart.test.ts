import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  encodeMultipart,
  multipartPieces,
  MultipartError,
  readAll,
  readMultipart,
  splitMultipart,
  TooManyPartsError,
  type ByteSource,
  type MultipartOptions,
} from './multipart.ts';

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);
const text = (data: Uint8Array): string => Buffer.from(data).toString('latin1');
const join = (...pieces: Uint8Array[]): Uint8Array => new Uint8Array(Buffer.concat(pieces));

async function* chunked(body: Uint8Array, sizes: (index: number) => number): AsyncGenerator<Uint8Array> {
  let at = 0;
  for (let i = 0; at < body.length; i++) {
    const size = Math.max(1, sizes(i));
    yield body.slice(at, at + size); // copies: each chunk is its own buffer, as from a socket
    at += size;
  }
}

interface Collected {
  headers: Record<string, string>;
  body: string;
  closed: boolean | undefined;
}

async function collect(source: ByteSource, boundary: string, options?: MultipartOptions): Promise<Collected[]> {
  const parts: Collected[] = [];
  for await (const part of readMultipart(source, boundary, options)) {
    const body = text(await readAll(part.body));
    parts.push({ headers: part.headers, body, closed: part.closed });
  }
  return parts;
}

/** A body whose parts hold CRLFs, dashes and most of a delimiter, so that chunk edges fall everywhere interesting. */
function trickyBody(): { body: Uint8Array; parts: string[] } {
  const parts = ['\x00\x01\r\n--\x02', 'second\r\n--not-the-boundary\r\n--xy', '', 'last\r\n-'];
  const body = join(
    bytes('preamble text\r\n--xyz\r\nContent-Type: application/dicom\r\n\r\n'), bytes(parts[0]!),
    bytes('\r\n--xyz  \r\ncontent-type: application/dicom\r\nX-Other:  two words \r\n\r\n'), bytes(parts[1]!),
    bytes('\r\n--xyz\r\n\r\n'), bytes(parts[2]!),
    bytes('\r\n--xyz\nbroken-padding-is-not-here\r\ncontent-type: a/b\n\n'), bytes(parts[3]!),
    bytes('\r\n--xyz--\r\nepilogue'),
  );
  return { body, parts };
}

test('splitMultipart: boundary at start, preamble CRLF, binary bodies containing CRLF and dashes', () => {
  const a = Buffer.from([0, 1, 13, 10, 45, 45, 2]);
  const b = Buffer.from('second\r\n--not-the-boundary');
  const body = Buffer.concat([
    Buffer.from('--xyz\r\nContent-Type: application/dicom\r\n\r\n'), a,
    Buffer.from('\r\n--xyz\r\ncontent-type: application/dicom\r\n\r\n'), b,
    Buffer.from('\r\n--xyz--\r\n'),
  ]);
  const parts = splitMultipart(body, 'xyz');
  assert.equal(parts.length, 2);
  assert.deepEqual(Buffer.from(parts[0]!.body), a);
  assert.deepEqual(Buffer.from(parts[1]!.body), b);
  assert.equal(parts[1]!.headers['content-type'], 'application/dicom');
  assert.equal(parts[0]!.body.buffer, body.buffer, 'a view into the body, not a copy');

  const withPreamble = Buffer.concat([Buffer.from('\r\n'), body]);
  assert.equal(splitMultipart(withPreamble, 'xyz').length, 2);
});

test('splitMultipart: missing close delimiter keeps the last part; no boundary is an error', () => {
  const body = Buffer.from('--b\r\nContent-Type: application/dicom\r\n\r\nhello\r\n');
  const parts = splitMultipart(body, 'b');
  assert.equal(parts.length, 1);
  assert.equal(text(parts[0]!.body), 'hello');
  assert.equal(parts[0]!.closed, false);
  assert.throws(() => splitMultipart(Buffer.from('no boundary here'), 'b'), MultipartError);
  assert.throws(() => splitMultipart(Buffer.from('x'), ''), MultipartError, 'an empty boundary');
});

test('readMultipart: every chunking of the body gives the same parts (boundary, headers and CRLF split across chunks)', async () => {
  const { body, parts } = trickyBody();
  const whole = splitMultipart(body, 'xyz').map((p) => text(p.body));
  assert.deepEqual(whole, parts);
  const expectedHeaders = [{ 'content-type': 'application/dicom' }, { 'content-type': 'application/dicom', 'x-other': 'two words' }, {}, { 'content-type': 'a/b' }];
  const chunkings: Array<[string, (i: number) => number]> = [
    ['one byte', () => 1],
    ['two bytes', () => 2],
    ['seven bytes', () => 7],
    ['growing', (i) => i + 1],
    ['whole', () => body.length],
  ];
  for (let offset = 1; offset < body.length; offset += 3) chunkings.push([`split at ${offset}`, (i) => (i === 0 ? offset : body.length)]);
  for (const [name, sizes] of chunkings) {
    const streamed = await collect(chunked(body, sizes), 'xyz');
    assert.deepEqual(streamed.map((p) => p.body), parts, name);
    assert.deepEqual(streamed.map((p) => p.headers), expectedHeaders, name);
    assert.deepEqual(streamed.map((p) => p.closed), [true, true, true, true], name);
  }
});

test('readMultipart: LF-only header blocks, a web ReadableStream source, and a missing close delimiter', async () => {
  const body = bytes('--b\r\nContent-Type: text/plain\n\nfirst\r\n--b\r\nContent-Type: text/plain\r\n\r\nsecond, unterminated\r\n');
  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      for (let i = 0; i < body.length; i += 5) controller.enqueue(body.slice(i, i + 5));
      controller.close();
    },
  });
  const parts = await collect(stream, 'b');
  assert.deepEqual(parts.map((p) => p.body), ['first', 'second, unterminated']);
  assert.deepEqual(parts.map((p) => p.closed), [true, false], 'the last part says it had no close delimiter');
  assert.equal(parts[0]!.headers['content-type'], 'text/plain');
});

test('readMultipart: malformed bodies are MultipartErrors, after the parts that came before', async () => {
  const cases: Array<[string, Uint8Array, number]> = [
    ['no boundary at all', bytes('garbage '.repeat(1000)), 0],
    ['headers that never end', join(bytes('--b\r\nContent-Type: a/b\r\n\r\nok\r\n--b\r\nContent-Type: a/b\r\nX: '), bytes('y'.repeat(40_000))), 1],
    ['garbage after a delimiter', join(bytes('--b\r\n\r\nok\r\n--b'), bytes('z'.repeat(5000))), 1],
    ['body ends inside the headers', bytes('--b\r\nContent-Type: a/b\r\n'), 0],
  ];
  for (const [name, body, before] of cases) {
    for (const size of [1, 100, body.length]) {
      const seen: string[] = [];
      await assert.rejects(
        (async () => {
          for await (const part of readMultipart(chunked(body, () => size), 'b')) seen.push(text(await readAll(part.body)));
        })(),
        MultipartError,
        `${name}, chunks of ${size}`,
      );
      assert.equal(seen.length, before, `${name}: parts before the error, chunks of ${size}`);
    }
    assert.throws(() => splitMultipart(body, 'b'), MultipartError, name);
  }
});

test('readMultipart: a part beyond maxParts fails as it starts; the parts before it were yielded', async () => {
  const body = encodeMultipart('m', Array.from({ length: 4 }, (_, i) => ({ contentType: 'a/b', body: bytes(`part ${i}`) })));
  const seen: string[] = [];
  await assert.rejects(
    (async () => {
      for await (const part of readMultipart(chunked(body, () => 9), 'm', { maxParts: 3 })) seen.push(text(await readAll(part.body)));
    })(),
    (error: unknown) => error instanceof TooManyPartsError && error.maxParts === 3,
  );
  assert.deepEqual(seen, ['part 0', 'part 1', 'part 2']);
  assert.throws(() => splitMultipart(body, 'm', { maxParts: 3 }), TooManyPartsError);
  assert.equal(splitMultipart(body, 'm', { maxParts: 4 }).length, 4);
});

test('readMultipart streams: a part is yielded before its body has arrived, and an unread body is skipped', async () => {
  const chunk = new Uint8Array(64 * 1024).fill(0x0d); // all CR: every byte is a delimiter candidate
  const chunksPerPart = 256; // 16 MiB a part
  let pulled = 0;
  async function* source(): AsyncGenerator<Uint8Array> {
    for (let part = 0; part < 3; part++) {
      yield bytes(`${part === 0 ? '' : '\r\n'}--big\r\nContent-Type: application/octet-stream\r\n\r\n`);
      for (let i = 0; i < chunksPerPart; i++) {
        pulled++;
        yield chunk;
      }
    }
    yield bytes('\r\n--big--\r\n');
  }
  const parts = readMultipart(source(), 'big');
  const first = (await parts.next()).value!;
  assert.ok(pulled <= 1, `headers of the first part after ${pulled} body chunks`);
  let length = 0;
  let most = 0;
  for await (const piece of first.body) {
    length += piece.length;
    most = Math.max(most, pulled);
    assert.ok(piece.length <= chunk.length, 'no piece larger than what arrived');
  }
  assert.equal(length, chunk.length * chunksPerPart);
  assert.equal(first.closed, true);
  // the second part's body is never read: asking for the third skips it
  const second = (await parts.next()).value!;
  assert.equal(second.headers['content-type'], 'application/octet-stream');
  const third = (await parts.next()).value!;
  assert.equal((await readAll(third.body)).length, chunk.length * chunksPerPart);
  assert.equal(await readAll(second.body).then((b) => b.length), 0, 'a skipped body reads as ended');
  assert.equal((await parts.next()).done, true);
  assert.ok(most <= chunksPerPart + 1);
});

test('readMultipart: an error of the source surfaces from the body read', async () => {
  async function* source(): AsyncGenerator<Uint8Array> {
    yield bytes('--b\r\n\r\nsome bytes');
    throw new Error('connection reset');
  }
  await assert.rejects(
    (async () => {
      for await (const part of readMultipart(source(), 'b')) await readAll(part.body);
    })(),
    /connection reset/,
  );
});

test('encodeMultipart and multipartPieces round-trip through both parsers', async () => {
  const parts = [
    { contentType: 'application/dicom', body: bytes('one') },
    { contentType: 'application/dicom', body: bytes('two\r\n--'), headers: { 'Content-Location': '/x' } },
  ];
  const whole = encodeMultipart('B', parts);
  assert.ok(text(whole).startsWith('--B\r\n'), 'first boundary at offset 0 (dicomweb-client expects it)');
  assert.match(text(whole), /Content-Length: 3\r\n/);
  assert.deepEqual(splitMultipart(whole, 'B').map((p) => text(p.body)), ['one', 'two\r\n--']);
  assert.equal(splitMultipart(whole, 'B')[1]!.headers['content-location'], '/x');
  const pieces = multipartPieces('B', parts, { contentLength: false });
  assert.equal(pieces[1], parts[0]!.body, 'the parts themselves, not copies');
  assert.doesNotMatch(text(join(...pieces)), /Content-Length/);
  assert.deepEqual((await collect(chunked(join(...pieces), () => 3), 'B')).map((p) => p.body), ['one', 'two\r\n--']);
  assert.deepEqual(splitMultipart(encodeMultipart('E', []), 'E'), []);
});

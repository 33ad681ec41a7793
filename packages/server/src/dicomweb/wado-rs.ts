/**
 * WADO-RS (PS3.18 10.4): instances, metadata, frames and bulk data.
 *
 * Transfer syntaxes follow PS3.18 8.7.3 (issue 15, item 1): application/dicom without a
 * transfer-syntax parameter is Explicit VR Little Endian, `transfer-syntax=*` is the stored
 * bytes exactly, a named syntax is produced when the transcoder can (406 when it cannot).
 * An instance already in the syntax asked for is sent as stored, never re-encoded. Our own
 * clients (the viewer, the cloud film, the tests of byte-exact storage) ask for `*`.
 *
 * Instances are streamed part by part, reading (and transcoding) the next instances while the
 * current one is written.
 */
import { Readable } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { closeDelimiter, encodeMultipart, getFrame, getPixelDataInfo, newBoundary, parseDicom, partHeader, toDicomJson, type DicomJsonDataset, type OutgoingPart, type ParsedDicom, type PixelDataInfo } from '@yunying/dicom';
import type { BlobReader, InstanceRecord } from '../archive/archive-service.ts';
import { pumpFileParts, type FilePart } from './part-pump.ts';
import { YunyingError, badRequest, notFound } from '../errors.ts';
import { sharedTranscoder, type Transcoder } from '../transcoding/index.ts';
import type { DicomWebContext, InstancePath, SeriesPath, StudyPath } from './context.ts';
import { DICOM_XML, negotiateJsonOrXml, sendDicomXml } from './dicom-xml-response.ts';
import {
  EXPLICIT_VR_LE,
  frameMediaType,
  instanceSyntax,
  negotiateFrames,
  negotiateInstances,
  negotiateSimple,
  normalizeNativeTransferSyntax,
  parseAccept,
  typeMatches,
  type FrameChoice,
  type FrameRepresentation,
  type InstanceTarget,
  type TranscodeCapability,
} from './media-types.ts';

const notAcceptable = (message: string): YunyingError => new YunyingError('NOT_ACCEPTABLE', message);

// ---------------------------------------------------------------- transcoding

/** The process's transcoder, or undefined while none is installed (then only "as stored" and identity are possible). */
function transcoder(): Transcoder | undefined {
  try {
    return sharedTranscoder();
  } catch {
    return undefined;
  }
}

function capabilityOf(t: Transcoder | undefined): TranscodeCapability {
  return (from, to) => from === to || (t?.canTranscode(from, to) ?? false);
}

// ---------------------------------------------------------------- instances

/** One instance as it goes out: its record, and the syntax it is sent in. */
interface OutgoingInstance {
  record: InstanceRecord;
  transferSyntaxUid: string;
}

function negotiateDicom(request: FastifyRequest, records: readonly InstanceRecord[], allowSinglePart: boolean, canTranscode: TranscodeCapability): InstanceTarget {
  const stored = [...new Set(records.map((r) => r.transferSyntaxUid))];
  const target = negotiateInstances(parseAccept(request.headers.accept), stored, canTranscode, allowSinglePart);
  if (target) return target;
  throw notAcceptable(
    `cannot produce the requested representation: the instances are stored in ${stored.join(', ')}; ask for multipart/related; type="application/dicom" with no transfer-syntax (Explicit VR Little Endian), transfer-syntax=* (as stored) or a syntax they can be converted to`,
  );
}

/** The instance's Part 10 bytes in the syntax it goes out in: the stored bytes when that is the stored syntax. */
async function readOutgoing(ctx: DicomWebContext, t: Transcoder | undefined, item: OutgoingInstance): Promise<Buffer> {
  const stored = await ctx.archive.readInstance(item.record);
  if (stored.length !== item.record.size) throw new Error(`instance ${item.record.sopInstanceUid} has ${stored.length} bytes, the index says ${item.record.size}`);
  if (item.transferSyntaxUid === item.record.transferSyntaxUid) return stored;
  if (!t) throw new YunyingError('TRANSCODE_FAILED', 'no transcoder is installed');
  return t.transcodePart10(stored, item.transferSyntaxUid);
}

/** Instances read (and transcoded, in the decode pool) ahead of the one being written: enough to keep the disk and thread pool busy, bounded in bytes. */
const READ_AHEAD_INSTANCES = 8;
const READ_AHEAD_BYTES = 32 * 1024 * 1024;

async function* readAhead(ctx: DicomWebContext, t: Transcoder | undefined, items: readonly OutgoingInstance[], first: Buffer): AsyncGenerator<OutgoingPart> {
  const window: Array<Promise<Buffer>> = [Promise.resolve(first)];
  let windowBytes = items[0]!.record.size;
  let nextToRead = 1;
  const fill = () => {
    while (nextToRead < items.length && window.length < READ_AHEAD_INSTANCES && windowBytes < READ_AHEAD_BYTES) {
      const read = readOutgoing(ctx, t, items[nextToRead]!);
      read.catch(() => undefined); // if the consumer stops early, a prefetch must not become an unhandled rejection
      window.push(read);
      windowBytes += items[nextToRead]!.record.size;
      nextToRead += 1;
    }
  };
  for (let i = 0; i < items.length; i++) {
    fill();
    const bytes = await window.shift()!;
    windowBytes -= items[i]!.record.size;
    yield { contentType: instanceContentType(items[i]!.transferSyntaxUid), body: bytes };
  }
}

/** The body's length when every instance goes as stored (the index knows their sizes), else undefined. */
function multipartLength(boundary: string, items: readonly OutgoingInstance[]): number | undefined {
  if (items.some((item) => item.transferSyntaxUid !== item.record.transferSyntaxUid)) return undefined;
  let length = closeDelimiter(boundary, items.length > 0).length;
  items.forEach((item, i) => {
    length += partHeader(boundary, { contentType: instanceContentType(item.transferSyntaxUid), length: item.record.size }, i === 0).length + item.record.size;
  });
  return length;
}

function instanceContentType(transferSyntaxUid: string): string {
  return `application/dicom; transfer-syntax=${transferSyntaxUid}`;
}

async function sendInstances(ctx: DicomWebContext, request: FastifyRequest, reply: FastifyReply, records: InstanceRecord[], allowSinglePart: boolean) {
  const t = transcoder();
  const canTranscode = capabilityOf(t);
  const target = negotiateDicom(request, records, allowSinglePart && records.length === 1, canTranscode);
  const items: OutgoingInstance[] = records.map((record) => ({ record, transferSyntaxUid: instanceSyntax(target, record.transferSyntaxUid, canTranscode) }));
  if (!target.singlePart && items.every(goesAsStored) && ctx.archive.openInstance) {
    const firstReader = await openStored(ctx, items[0]!.record);
    if (firstReader) return sendStoredFiles(ctx, request, reply, items, firstReader);
  }
  // read (and convert) the first instance before answering so a storage or decoding error gets a proper status
  const first = await readOutgoing(ctx, t, items[0]!);
  if (target.singlePart) return reply.type(instanceContentType(items[0]!.transferSyntaxUid)).send(first);
  const boundary = newBoundary();
  // As stored, the index knows every size, so the length is known before the first byte
  // (clients show progress, no chunked framing); a converted body's is not: it is chunked.
  // Written past Fastify (hijacked), so the no-store of app.ts's onSend hook is set here.
  const length = multipartLength(boundary, items);
  const headers: Record<string, string | number> = { 'content-type': `multipart/related; type="application/dicom"; boundary=${boundary}`, 'cache-control': 'no-store' };
  if (length !== undefined) headers['content-length'] = length;
  await writeParts(reply, headers, boundary, readAhead(ctx, t, items, first), request);
}

const goesAsStored = (item: OutgoingInstance): boolean => item.transferSyntaxUid === item.record.transferSyntaxUid;

/** The instance's stored file opened for streaming, its size checked against the index; undefined where blobs are not files. */
async function openStored(ctx: DicomWebContext, record: InstanceRecord): Promise<BlobReader | undefined> {
  const reader = await ctx.archive.openInstance?.(record);
  if (reader && reader.size !== record.size) {
    reader.close();
    throw new Error(`instance ${record.sopInstanceUid} has ${reader.size} bytes, the index says ${record.size}`);
  }
  return reader;
}

/**
 * Every instance as stored, from files: streamed from each file through reused buffers
 * (part-pump.ts), one file open at a time, with the length known from the index.
 */
async function sendStoredFiles(ctx: DicomWebContext, request: FastifyRequest, reply: FastifyReply, items: readonly OutgoingInstance[], firstReader: BlobReader): Promise<void> {
  const boundary = newBoundary();
  const headers = { 'content-type': `multipart/related; type="application/dicom"; boundary=${boundary}`, 'cache-control': 'no-store', 'content-length': multipartLength(boundary, items)! };
  async function* parts(): AsyncGenerator<FilePart> {
    for (const [i, item] of items.entries()) {
      const reader = i === 0 ? firstReader : await openStored(ctx, item.record);
      if (!reader) throw new Error(`instance ${item.record.sopInstanceUid} is no longer a local file`);
      yield { header: partHeader(boundary, { contentType: instanceContentType(item.transferSyntaxUid), length: item.record.size }, i === 0), reader, size: item.record.size };
    }
  }
  reply.hijack();
  const response = reply.raw;
  response.writeHead(200, headers);
  try {
    await pumpFileParts(response, parts(), closeDelimiter(boundary, items.length > 0));
  } catch (err) {
    firstReader.close();
    request.log.error({ err }, 'WADO-RS: stream failed');
    response.destroy(err as Error);
  }
}

/**
 * Writes the parts straight to the socket, waiting for it to drain, instead of piping a
 * Readable: one less buffering layer on the hottest path (a CT study is ~100 MB).
 */
async function writeParts(reply: FastifyReply, headers: Record<string, string | number>, boundary: string, parts: AsyncIterable<OutgoingPart>, request: FastifyRequest): Promise<void> {
  reply.hijack();
  const response = reply.raw;
  response.writeHead(200, headers);
  let closed = false;
  response.once('close', () => (closed = true));
  let first = true;
  try {
    for await (const part of parts) {
      if (closed) return;
      response.write(partHeader(boundary, { ...part, length: part.body.length }, first));
      first = false;
      if (!response.write(part.body) && !closed) await new Promise<void>((resolve) => {
        const done = () => {
          response.off('drain', done);
          response.off('close', done);
          resolve();
        };
        response.on('drain', done);
        response.on('close', done);
      });
    }
    response.end(closeDelimiter(boundary, !first));
  } catch (err) {
    // Headers are gone: the only honest signal left is to cut the connection.
    request.log.error({ err }, 'WADO-RS: stream failed');
    response.destroy(err as Error);
  }
}

// ---------------------------------------------------------------- metadata

/** An instance's metadata as JSON text, from the context's cache (keyed by blob and base URL) or read and parsed. */
async function metadataText(ctx: DicomWebContext, request: FastifyRequest, record: InstanceRecord): Promise<string> {
  const base = ctx.instanceUrl(request, record.studyInstanceUid, record.seriesInstanceUid, record.sopInstanceUid);
  const hit = ctx.cachedMetadata(record, base);
  if (hit !== undefined) return hit;
  const text = JSON.stringify(metadataFor(ctx, request, record, await ctx.archive.readInstance(record)));
  ctx.cacheMetadata(record, base, text);
  return text;
}

function metadataFor(ctx: DicomWebContext, request: FastifyRequest, record: InstanceRecord, bytes: Buffer): DicomJsonDataset {
  const base = ctx.instanceUrl(request, record.studyInstanceUid, record.seriesInstanceUid, record.sopInstanceUid);
  const bulkDataUri = (tagPath: string) => `${base}/bulkdata/${tagPath}`;
  const json = toDicomJson(parseDicom(bytes), { bulkDataUri, inlineBinaryMaxBytes: ctx.options.inlineBinaryMaxBytes ?? 1024 });
  // Pixel Data is always a BulkDataURI, however small
  for (const tag of ['7FE00010', '7FE00008', '7FE00009']) {
    const element = json[tag];
    if (element && element.BulkDataURI === undefined) {
      json[tag] = { vr: element.vr, BulkDataURI: bulkDataUri(tag) };
    }
  }
  return json;
}

const METADATA_CONCURRENCY = 4;

async function* metadataChunks(ctx: DicomWebContext, request: FastifyRequest, records: readonly InstanceRecord[], first: string): AsyncGenerator<string> {
  yield `[${first}`;
  const pending: Promise<string>[] = [];
  let started = 1;
  const start = () => {
    const record = records[started++]!;
    const p = metadataText(ctx, request, record);
    p.catch(() => undefined);
    pending.push(p);
  };
  try {
    while (started < records.length && pending.length < METADATA_CONCURRENCY) start();
    while (pending.length > 0) {
      const text = await pending.shift()!;
      if (started < records.length) start();
      yield `,${text}`;
    }
    yield ']';
  } finally {
    for (const p of pending) p.catch(() => undefined);
  }
}

async function sendMetadata(ctx: DicomWebContext, request: FastifyRequest, reply: FastifyReply, records: InstanceRecord[]) {
  // application/dicom+xml (PS3.18 8.7.3.3): the same metadata as Native DICOM Model parts (dicom-xml-response.ts).
  if (negotiateJsonOrXml(parseAccept(request.headers.accept), ['application/dicom+json', 'application/json']) === DICOM_XML) {
    return sendDicomXml(reply, (async function* () { for (const record of records) yield JSON.parse(await metadataText(ctx, request, record)) as DicomJsonDataset; })());
  }
  const type = negotiateSimple(parseAccept(request.headers.accept), ['application/dicom+json', 'application/json']);
  if (!type) throw notAcceptable('metadata is available as application/dicom+json or multipart/related; type="application/dicom+xml"');
  const firstRecord = records[0]!;
  const first = await metadataText(ctx, request, firstRecord);
  if (records.length === 1) return reply.type(type).send(`[${first}]`);
  const stream = Readable.from(metadataChunks(ctx, request, records, first), { objectMode: false });
  stream.on('error', (err) => request.log.error({ err }, 'WADO-RS: metadata stream failed'));
  return reply.type(type).send(stream);
}

// ---------------------------------------------------------------- frames

/** "1,3,5" → [1,3,5]; 400 on syntax, 404 when out of range */
export function parseFrameList(text: string, numberOfFrames: number): number[] {
  const frames = text.split(',').map((s) => s.trim());
  if (frames.length === 0 || frames.some((f) => !/^\d{1,9}$/.test(f))) throw badRequest('INVALID_FRAME_LIST', `frame list must be positive integers separated by commas, got "${text}"`);
  const numbers = frames.map(Number);
  for (const n of numbers) {
    if (n < 1) throw badRequest('INVALID_FRAME_LIST', 'frame numbers start at 1');
    if (n > numberOfFrames) throw notFound(`frame ${n} (the instance has ${numberOfFrames})`);
  }
  return numbers;
}

function pixelInfoOf(parsed: ParsedDicom): PixelDataInfo {
  const info = getPixelDataInfo(parsed);
  if (!info) throw notFound('pixel data (the instance has none)');
  return info;
}

/** The stored representation of frames/bulk data: their media type and the transfer syntax to label them with. */
function frameRepresentation(info: PixelDataInfo): FrameRepresentation {
  return { mediaType: frameMediaType(info.transferSyntaxUid, info.encapsulated), transferSyntax: info.encapsulated ? info.transferSyntaxUid : normalizeNativeTransferSyntax(info.transferSyntaxUid) };
}

/** The frames' representation the Accept header asks for, with the transcoder that decodes them when it is not the stored one. */
function chooseFrames(acceptHeader: string | string[] | undefined, info: PixelDataInfo, rep: FrameRepresentation): { choice: FrameChoice; transcoder?: Transcoder } {
  const t = transcoder();
  const canDecode = capabilityOf(t)(info.transferSyntaxUid, EXPLICIT_VR_LE);
  const choice = negotiateFrames(parseAccept(acceptHeader), rep, canDecode);
  if (!choice) {
    const decoded = canDecode ? ', or application/octet-stream (decoded, Explicit VR Little Endian)' : '';
    throw notAcceptable(`frames are available as multipart/related; type="${rep.mediaType}"; transfer-syntax=${rep.transferSyntax} (as stored; ask for that or transfer-syntax=*)${decoded}`);
  }
  return choice === 'native' ? { choice, transcoder: t } : { choice };
}

const NATIVE_CONTENT_TYPE = `application/octet-stream; transfer-syntax=${EXPLICIT_VR_LE}`;

/** One frame as chosen: the stored bytes, or native little endian (decoded in the pool). */
async function frameBody(parsed: ParsedDicom, n: number, chosen: { choice: FrameChoice; transcoder?: Transcoder }): Promise<Uint8Array> {
  if (chosen.choice === 'stored') return getFrame(parsed, n);
  return chosen.transcoder!.decodeFrameNative(parsed, n);
}

/**
 * The multipart message as a stream of its pieces with a known length: the frames are views
 * on the cached instance and are written as they are, not copied into one buffer (a CT frame
 * is 0.5 MB; a viewer opening a series asks for hundreds).
 */
function multipartChunks(boundary: string, parts: readonly OutgoingPart[]): Readable {
  const chunks: Uint8Array[] = [];
  parts.forEach((part, i) => chunks.push(partHeader(boundary, { ...part, length: part.body.length }, i === 0), part.body));
  chunks.push(closeDelimiter(boundary, parts.length > 0));
  return Readable.from(chunks, { objectMode: false });
}

// ---------------------------------------------------------------- bulk data

interface RawElement {
  length: number;
  dataOffset: number;
  items?: { dataSet?: RawDataSet }[];
  fragments?: unknown[];
  encapsulatedPixelData?: boolean;
}
interface RawDataSet {
  byteArray: Uint8Array;
  elements: Record<string, RawElement | undefined>;
}

function isRawDataSet(value: unknown): value is RawDataSet {
  return typeof value === 'object' && value !== null && 'elements' in value && 'byteArray' in value;
}

/** "00540016/0/00181072" → the element's value bytes as stored */
function bulkElement(parsed: ParsedDicom, tagPath: string): Uint8Array {
  const segments = tagPath.split('/');
  if (segments.length % 2 !== 1 || segments.some((s, i) => (i % 2 === 0 ? !/^[0-9A-Fa-f]{8}$/.test(s) : !/^\d{1,6}$/.test(s)))) {
    throw badRequest('INVALID_BULKDATA_PATH', `bulk data path must be tag[/item/tag...], got "${tagPath}"`);
  }
  if (!isRawDataSet(parsed.raw)) throw new YunyingError('BULKDATA_UNAVAILABLE', 'the parsed data set does not expose its elements');
  let dataSet: RawDataSet = parsed.raw;
  for (let i = 0; i < segments.length; i += 2) {
    const element = dataSet.elements[`x${segments[i]!.toLowerCase()}`];
    if (!element) throw notFound(`bulk data ${tagPath}`);
    if (i === segments.length - 1) {
      if (element.length < 0 || element.length === 0xffffffff) throw notFound(`bulk data ${tagPath} (undefined length)`);
      return dataSet.byteArray.subarray(element.dataOffset, element.dataOffset + element.length);
    }
    const item = element.items?.[Number(segments[i + 1])];
    if (!item?.dataSet) throw notFound(`bulk data ${tagPath}`);
    dataSet = item.dataSet;
  }
  throw notFound(`bulk data ${tagPath}`);
}

// ---------------------------------------------------------------- routes

export function registerWadoRs(app: FastifyInstance, ctx: DicomWebContext): void {
  app.get<{ Params: StudyPath }>('/studies/:study', async (request, reply) =>
    sendInstances(ctx, request, reply, await ctx.findInstances(request, request.params, 'study.retrieved'), false));
  app.get<{ Params: SeriesPath }>('/studies/:study/series/:series', async (request, reply) =>
    sendInstances(ctx, request, reply, await ctx.findInstances(request, request.params, 'study.retrieved'), false));
  app.get<{ Params: InstancePath }>('/studies/:study/series/:series/instances/:instance', async (request, reply) =>
    sendInstances(ctx, request, reply, await ctx.findInstances(request, request.params, 'study.retrieved'), true));

  app.get<{ Params: StudyPath }>('/studies/:study/metadata', async (request, reply) =>
    sendMetadata(ctx, request, reply, await ctx.findInstances(request, request.params)));
  app.get<{ Params: SeriesPath }>('/studies/:study/series/:series/metadata', async (request, reply) =>
    sendMetadata(ctx, request, reply, await ctx.findInstances(request, request.params)));
  app.get<{ Params: InstancePath }>('/studies/:study/series/:series/instances/:instance/metadata', async (request, reply) =>
    sendMetadata(ctx, request, reply, await ctx.findInstances(request, request.params)));

  app.get<{ Params: InstancePath & { frames: string } }>('/studies/:study/series/:series/instances/:instance/frames/:frames', async (request, reply) => {
    const record = await ctx.findInstance(request, request.params);
    const parsed = await ctx.readParsed(record);
    const info = pixelInfoOf(parsed);
    const numbers = parseFrameList(request.params.frames, Math.max(info.numberOfFrames, 1));
    const rep = frameRepresentation(info);
    const chosen = chooseFrames(request.headers.accept, info, rep);
    const mediaType = chosen.choice === 'native' ? 'application/octet-stream' : rep.mediaType;
    const contentType = chosen.choice === 'native' ? NATIVE_CONTENT_TYPE : `${rep.mediaType}; transfer-syntax=${rep.transferSyntax}`;
    const base = ctx.instanceUrl(request, record.studyInstanceUid, record.seriesInstanceUid, record.sopInstanceUid);
    // decoded frames are ready before the first byte goes: a frame that cannot be decoded is a proper 422
    const bodies = await Promise.all(numbers.map((n) => frameBody(parsed, n, chosen)));
    const parts: OutgoingPart[] = numbers.map((n, i) => ({ contentType, body: bodies[i]!, headers: { 'Content-Location': `${base}/frames/${n}` } }));
    const boundary = newBoundary();
    return reply.type(`multipart/related; type="${mediaType}"; boundary=${boundary}`).send(multipartChunks(boundary, parts));
  });

  app.get<{ Params: InstancePath & { '*': string } }>('/studies/:study/series/:series/instances/:instance/bulkdata/*', async (request, reply) => {
    const tagPath = request.params['*'].replace(/\/+$/, '');
    const accept = parseAccept(request.headers.accept);
    if (!accept.some((r) => typeMatches(r.type, 'multipart/related') || r.type === 'application/octet-stream')) {
      throw notAcceptable('bulk data is available as multipart/related; type="application/octet-stream"');
    }
    const record = await ctx.findInstance(request, request.params);
    const parsed = await ctx.readParsed(record);
    const boundary = newBoundary();
    const isPixelData = tagPath.toUpperCase() === '7FE00010';
    if (isPixelData) {
      const info = pixelInfoOf(parsed);
      const rep = frameRepresentation(info);
      const chosen = chooseFrames(request.headers.accept, info, rep);
      const count = Math.max(info.numberOfFrames, 1);
      if (chosen.choice === 'native' && (info.encapsulated || rep.transferSyntax !== EXPLICIT_VR_LE)) {
        // the value Pixel Data has in the Explicit VR Little Endian form of the instance: the decoded frames one after another
        const frames = await Promise.all(Array.from({ length: count }, (_, i) => frameBody(parsed, i + 1, chosen)));
        return reply
          .type(`multipart/related; type="application/octet-stream"; boundary=${boundary}`)
          .send(encodeMultipart(boundary, [{ contentType: NATIVE_CONTENT_TYPE, body: Buffer.concat(frames) }]));
      }
      if (info.encapsulated) {
        const contentType = `${rep.mediaType}; transfer-syntax=${rep.transferSyntax}`;
        const parts: OutgoingPart[] = Array.from({ length: count }, (_, i) => ({ contentType, body: getFrame(parsed, i + 1) }));
        return reply.type(`multipart/related; type="${rep.mediaType}"; boundary=${boundary}`).send(encodeMultipart(boundary, parts));
      }
    }
    const bytes = bulkElement(parsed, tagPath);
    const ts = normalizeNativeTransferSyntax(parsed.transferSyntaxUid);
    return reply
      .type(`multipart/related; type="application/octet-stream"; boundary=${boundary}`)
      .send(encodeMultipart(boundary, [{ contentType: `application/octet-stream; transfer-syntax=${ts}`, body: bytes }]));
  });
}

/**
 * WADO-RS (PS3.18 10.4): instances, metadata, frames and bulk data, as stored.
 *
 * Instances are streamed part by part, reading the next instance while the current one
 * is written. We do not transcode: the transfer syntax of every instance is the one it
 * was stored in. An Accept asking for another transfer syntax is 406; no transfer-syntax
 * parameter or `*` means "as stored" (PS3.18 would default to Explicit VR LE; returning
 * the original bytes is what viewers expect and is lossless).
 */
import { Readable } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { closeDelimiter, encodeMultipart, getFrame, getPixelDataInfo, newBoundary, parseDicom, partHeader, toDicomJson, type DicomJsonDataset, type OutgoingPart, type ParsedDicom, type PixelDataInfo } from '@yunying/dicom';
import type { InstanceRecord } from '../archive/archive-service.ts';
import { YunyingError, badRequest, notFound } from '../errors.ts';
import type { DicomWebContext, InstancePath, SeriesPath, StudyPath } from './context.ts';
import { frameMediaType, multipartRequests, negotiateSimple, normalizeNativeTransferSyntax, parseAccept, typeMatches } from './media-types.ts';

const notAcceptable = (message: string): YunyingError => new YunyingError('NOT_ACCEPTABLE', message);

// ---------------------------------------------------------------- instances

interface DicomChoice {
  /** single part application/dicom (instance level only, when asked for exactly that) */
  singlePart: boolean;
}

/** Accept negotiation for application/dicom against the stored transfer syntaxes. */
function negotiateDicom(acceptHeader: string | string[] | undefined, storedSyntaxes: ReadonlySet<string>, allowSinglePart: boolean): DicomChoice {
  const accept = parseAccept(acceptHeader);
  for (const range of accept) {
    const isMultipart = range.type === 'multipart/related' || range.type === 'multipart/*';
    const partType = isMultipart ? (range.params.type ?? 'application/dicom').toLowerCase() : range.type;
    if (!typeMatches(partType, 'application/dicom')) continue;
    const ts = range.params['transfer-syntax'];
    if (ts !== undefined && ts !== '*' && ![...storedSyntaxes].every((s) => s === ts)) continue;
    const singlePart = allowSinglePart && range.type === 'application/dicom';
    return { singlePart };
  }
  const stored = [...storedSyntaxes].join(', ');
  throw notAcceptable(
    `cannot produce the requested representation: instances are available only as multipart/related; type="application/dicom" in their stored transfer syntax (${stored}); transcoding is not supported`,
  );
}

/** Instances read ahead of the one being written: enough to keep the disk and thread pool busy, bounded in bytes. */
const READ_AHEAD_INSTANCES = 8;
const READ_AHEAD_BYTES = 32 * 1024 * 1024;

async function* readAhead(ctx: DicomWebContext, records: readonly InstanceRecord[], first: Buffer): AsyncGenerator<OutgoingPart> {
  const window: Array<Promise<Buffer>> = [Promise.resolve(first)];
  let windowBytes = records[0]!.size;
  let nextToRead = 1;
  const fill = () => {
    while (nextToRead < records.length && window.length < READ_AHEAD_INSTANCES && windowBytes < READ_AHEAD_BYTES) {
      const read = ctx.archive.readInstance(records[nextToRead]!);
      read.catch(() => undefined); // if the consumer stops early, a prefetch must not become an unhandled rejection
      window.push(read);
      windowBytes += records[nextToRead]!.size;
      nextToRead += 1;
    }
  };
  for (let i = 0; i < records.length; i++) {
    fill();
    const bytes = await window.shift()!;
    windowBytes -= records[i]!.size;
    if (bytes.length !== records[i]!.size) throw new Error(`instance ${records[i]!.sopInstanceUid} has ${bytes.length} bytes, the index says ${records[i]!.size}`);
    yield { contentType: instanceContentType(records[i]!), body: bytes };
  }
}

function multipartLength(boundary: string, records: readonly InstanceRecord[]): number {
  let length = closeDelimiter(boundary, records.length > 0).length;
  records.forEach((record, i) => {
    length += partHeader(boundary, { contentType: instanceContentType(record), length: record.size }, i === 0).length + record.size;
  });
  return length;
}

function instanceContentType(record: InstanceRecord): string {
  return `application/dicom; transfer-syntax=${record.transferSyntaxUid}`;
}

async function sendInstances(ctx: DicomWebContext, request: FastifyRequest, reply: FastifyReply, records: InstanceRecord[], allowSinglePart: boolean) {
  const syntaxes = new Set(records.map((r) => r.transferSyntaxUid));
  const choice = negotiateDicom(request.headers.accept, syntaxes, allowSinglePart && records.length === 1);
  // read the first instance before answering so a storage error gets a proper status
  const first = await ctx.archive.readInstance(records[0]!);
  if (choice.singlePart) {
    return reply.type(`application/dicom; transfer-syntax=${records[0]!.transferSyntaxUid}`).send(first);
  }
  const boundary = newBoundary();
  // The index knows every size, so the length is known before the first byte: clients can
  // show progress, and the response needs no chunked framing.
  // Written past Fastify (hijacked), so the no-store of app.ts's onSend hook is set here.
  const headers = { 'content-type': `multipart/related; type="application/dicom"; boundary=${boundary}`, 'content-length': multipartLength(boundary, records), 'cache-control': 'no-store' };
  await writeParts(reply, headers, boundary, readAhead(ctx, records, first), request);
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
  const type = negotiateSimple(parseAccept(request.headers.accept), ['application/dicom+json', 'application/json']);
  if (!type) throw notAcceptable('metadata is available as application/dicom+json');
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

/** The transfer syntax to label frames/bulk data with, and their media type. */
function frameRepresentation(info: PixelDataInfo): { mediaType: string; transferSyntax: string } {
  return { mediaType: frameMediaType(info.transferSyntaxUid, info.encapsulated), transferSyntax: info.encapsulated ? info.transferSyntaxUid : normalizeNativeTransferSyntax(info.transferSyntaxUid) };
}

function negotiateFrames(acceptHeader: string | string[] | undefined, rep: { mediaType: string; transferSyntax: string }): void {
  for (const req of multipartRequests(parseAccept(acceptHeader), rep.mediaType)) {
    const ts = req.transferSyntax;
    const tsOk = ts === undefined || ts === '*' || normalizeNativeTransferSyntax(ts) === rep.transferSyntax;
    if (!tsOk) continue;
    if (typeMatches(req.partType, rep.mediaType)) return;
    // application/octet-stream with an explicit transfer-syntax (* or the stored one): the stored bytes
    if (req.partType === 'application/octet-stream' && ts !== undefined) return;
  }
  throw notAcceptable(
    `frames are available as multipart/related; type="${rep.mediaType}"; transfer-syntax=${rep.transferSyntax} (no transcoding); ask for that, or transfer-syntax=*`,
  );
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
    negotiateFrames(request.headers.accept, rep);
    const contentType = `${rep.mediaType}; transfer-syntax=${rep.transferSyntax}`;
    const base = ctx.instanceUrl(request, record.studyInstanceUid, record.seriesInstanceUid, record.sopInstanceUid);
    const parts: OutgoingPart[] = numbers.map((n) => ({ contentType, body: getFrame(parsed, n), headers: { 'Content-Location': `${base}/frames/${n}` } }));
    const boundary = newBoundary();
    return reply.type(`multipart/related; type="${rep.mediaType}"; boundary=${boundary}`).send(multipartChunks(boundary, parts));
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
      if (info.encapsulated) {
        const rep = frameRepresentation(info);
        const contentType = `${rep.mediaType}; transfer-syntax=${rep.transferSyntax}`;
        const count = Math.max(info.numberOfFrames, 1);
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

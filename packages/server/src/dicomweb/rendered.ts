/**
 * Rendered and thumbnail resources (PS3.18 8.3.5, 10.4.1.1.3, 10.4.3.3): JPEG (default) or PNG.
 *
 * Instance and frame rendered resources answer one image. The Rendered Study and Rendered
 * Series resources (mandatory in PS3.18 Table 10.3-2) answer every image of the study or series
 * as a multipart/related payload of the selected rendered type, one part per frame (series in
 * the order they were stored, instances by Instance Number), each part with the
 * Content-Location of its frame's own rendered resource. Instances that cannot be rendered (a
 * structured report, a video) are left out and counted in a Warning header (PS3.18 8.4.4 style);
 * when none can be rendered the answer is 406.
 *
 * Thumbnails (10.4.3.3.4: "a meaningful representation", one image, no patient identity) of a
 * study or series show a representative image: the middle image of the first series that has
 * images, else the next candidates until one renders.
 */
import { Readable } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { closeDelimiter, getPixelDataInfo, newBoundary, partHeader } from '@yunying/dicom';
import type { InstanceRecord } from '../archive/archive-service.ts';
import { YunyingError, badRequest, notImplemented } from '../errors.ts';
import type { DicomWebContext, InstancePath, SeriesPath, StudyPath } from './context.ts';
import { multipartRequests, negotiateSimple, parseAccept, typeMatches } from './media-types.ts';
import { parseWindowParam, renderFrame, type RenderOptions } from '../rendering/render.ts';
import type { QueryParams } from './qido.ts';

const IMAGE_TYPES = ['image/jpeg', 'image/png'] as const;
/** accepted and ignored (PS3.18 8.3.5.1: annotations are optional, ICC profiles not applied) */
const IGNORED = new Set(['annotation', 'charset', 'iccprofile']);

function single(name: string, raw: string | string[] | undefined): string | undefined {
  if (raw === undefined) return undefined;
  if (Array.isArray(raw)) {
    if (raw.length > 1) throw badRequest('INVALID_PARAMETER', `${name} given more than once`);
    return raw[0];
  }
  return raw;
}

/** Query parameters and Accept → render options (frame filled in by the caller). */
export function parseRenderRequest(request: FastifyRequest, defaults: { maxSize?: number } = {}, negotiated?: (typeof IMAGE_TYPES)[number]): Omit<RenderOptions, 'frame'> {
  const type = negotiated ?? negotiateSimple(parseAccept(request.headers.accept), IMAGE_TYPES);
  if (!type) throw new YunyingError('NOT_ACCEPTABLE', 'rendered images are available as image/jpeg or image/png');
  const options: Omit<RenderOptions, 'frame'> = { format: type === 'image/png' ? 'png' : 'jpeg' };
  if (defaults.maxSize) options.fit = { width: defaults.maxSize, height: defaults.maxSize };
  for (const [name, raw] of Object.entries(request.query as QueryParams)) {
    const value = single(name, raw);
    if (value === undefined) continue;
    const lower = name.toLowerCase();
    if (lower === 'window') options.window = parseWindowParam(value);
    else if (lower === 'quality') {
      const q = Number(value);
      if (!Number.isInteger(q) || q < 1 || q > 100) throw badRequest('INVALID_PARAMETER', `quality must be an integer 1..100, got "${value}"`);
      options.quality = q;
    } else if (lower === 'viewport') {
      const parts = value.split(',').map((s) => s.trim());
      const [w, h, sx, sy, sw, sh] = parts.map(Number);
      if ((parts.length !== 2 && parts.length !== 6) || !Number.isInteger(w) || !Number.isInteger(h) || w! < 1 || h! < 1 || w! > 8192 || h! > 8192) {
        throw badRequest('INVALID_PARAMETER', `viewport must be vw,vh or vw,vh,sx,sy,sw,sh in pixels, got "${value}"`);
      }
      options.fit = { width: w, height: h };
      if (parts.length === 6) {
        // the source rectangle (PS3.18 8.3.5.1.3): top-left corner and size in image pixels, a negative size flips
        if ([sx, sy, sw, sh].some((n) => !Number.isFinite(n)) || sx! < 0 || sy! < 0 || sw === 0 || sh === 0) {
          throw badRequest('INVALID_PARAMETER', `the viewport's source rectangle must be sx,sy >= 0 and sw,sh non-zero, got "${value}"`);
        }
        options.sourceRectangle = { x: sx!, y: sy!, width: sw!, height: sh! };
      }
    } else if (!IGNORED.has(lower)) throw badRequest('INVALID_PARAMETER', `unknown parameter "${name}"`);
  }
  return options;
}

async function sendRendered(ctx: DicomWebContext, reply: FastifyReply, record: InstanceRecord, options: RenderOptions) {
  const parsed = await ctx.readParsed(record);
  const { body, contentType } = await renderFrame(parsed, { ...options, maxFrameBytes: ctx.options.maxRenderFrameBytes });
  // A rendered image is patient data like the instance it shows (issue 12, finding 19).
  return reply.type(contentType).header('Cache-Control', 'no-store').send(body);
}

function parseFrameNumber(text: string): number {
  if (!/^\d{1,9}$/.test(text) || Number(text) < 1) throw badRequest('INVALID_FRAME_LIST', `frame number must be a positive integer, got "${text}"`);
  return Number(text);
}

/** The middle image of the first series that has one. */
export function representativeInstance(records: readonly InstanceRecord[]): InstanceRecord {
  return thumbnailCandidates(records)[0]!;
}

/** Images before other objects; the first series' middle image first, then the rest of that series, then the other series. */
export function thumbnailCandidates(records: readonly InstanceRecord[]): InstanceRecord[] {
  const images = records.filter((r) => (r.rows ?? 0) > 0);
  const pool = images.length > 0 ? images : [...records];
  const series = pool[0]!.seriesInstanceUid;
  const ofSeries = inInstanceOrder(pool.filter((r) => r.seriesInstanceUid === series));
  const middle = ofSeries[Math.floor((ofSeries.length - 1) / 2)]!;
  const rest = [...ofSeries.filter((r) => r !== middle), ...pool.filter((r) => r.seriesInstanceUid !== series), ...records.filter((r) => !pool.includes(r))];
  return [middle, ...rest];
}

function inInstanceOrder(records: readonly InstanceRecord[]): InstanceRecord[] {
  return [...records].sort((a, b) => (a.instanceNumber ?? Number.MAX_SAFE_INTEGER) - (b.instanceNumber ?? Number.MAX_SAFE_INTEGER));
}

/** Series in the order the archive lists them (first stored first), each by Instance Number. */
function renderingOrder(records: readonly InstanceRecord[]): InstanceRecord[] {
  const bySeries = new Map<string, InstanceRecord[]>();
  for (const record of records) {
    const list = bySeries.get(record.seriesInstanceUid) ?? [];
    list.push(record);
    bySeries.set(record.seriesInstanceUid, list);
  }
  return [...bySeries.values()].flatMap(inInstanceOrder);
}

/** What a frame that cannot be rendered throws (the others, a storage failure, are real errors). */
const NOT_RENDERABLE = new Set(['RENDERING_NOT_SUPPORTED', 'FRAME_NOT_DECODABLE', 'FRAME_TOO_LARGE']);
const isNotRenderable = (error: unknown): boolean => error instanceof YunyingError && NOT_RENDERABLE.has(error.code);

/** The first candidate that renders; 406 with the last reason when none does (at most 16 are tried). */
async function sendThumbnail(ctx: DicomWebContext, reply: FastifyReply, records: readonly InstanceRecord[], options: Omit<RenderOptions, 'frame'>) {
  let lastError: unknown;
  for (const record of thumbnailCandidates(records).slice(0, 16)) {
    try {
      return await sendRendered(ctx, reply, record, { ...options, frame: 1 });
    } catch (error) {
      if (!isNotRenderable(error)) throw error;
      lastError = error;
    }
  }
  throw lastError;
}

/**
 * The media type of the parts of a Rendered Study/Series answer: `multipart/related;
 * type="image/png"`, or a bare image type, or a wildcard (JPEG, the default).
 */
function renderedPartType(request: FastifyRequest): 'image/jpeg' | 'image/png' {
  for (const asked of multipartRequests(parseAccept(request.headers.accept), 'image/jpeg')) {
    const hit = IMAGE_TYPES.find((type) => typeMatches(asked.partType, type));
    if (hit) return hit;
  }
  throw new YunyingError('NOT_ACCEPTABLE', 'rendered studies and series are available as multipart/related; type="image/jpeg" or type="image/png"');
}

interface RenderedPart { contentType: string; body: Buffer; location: string }

/** Every frame of every instance, rendered in order; instances that cannot be rendered are counted in `skipped`. */
async function* renderedParts(ctx: DicomWebContext, request: FastifyRequest, records: readonly InstanceRecord[], options: Omit<RenderOptions, 'frame'>, skipped: { count: number }): AsyncGenerator<RenderedPart> {
  for (const record of renderingOrder(records)) {
    const parsed = await ctx.readParsed(record);
    const info = getPixelDataInfo(parsed);
    if (!info) {
      skipped.count++;
      continue;
    }
    const base = ctx.instanceUrl(request, record.studyInstanceUid, record.seriesInstanceUid, record.sopInstanceUid);
    for (let frame = 1; frame <= Math.max(1, info.numberOfFrames); frame++) {
      let rendered: { body: Buffer; contentType: string };
      try {
        rendered = await renderFrame(parsed, { ...options, frame, maxFrameBytes: ctx.options.maxRenderFrameBytes });
      } catch (error) {
        if (!isNotRenderable(error)) throw error;
        skipped.count++;
        break; // one frame that cannot be rendered: the instance's others cannot either
      }
      yield { ...rendered, location: info.numberOfFrames > 1 ? `${base}/frames/${frame}/rendered` : `${base}/rendered` };
    }
  }
}

/**
 * Rendered Study / Series: the parts are rendered one after another while they are sent (a CT
 * series is hundreds of images), the first before the answer starts so that a study with
 * nothing to render answers 406 with a body instead of an empty multipart.
 */
async function sendRenderedCollection(ctx: DicomWebContext, request: FastifyRequest, reply: FastifyReply, records: readonly InstanceRecord[], what: string) {
  const partType = renderedPartType(request);
  const options = { ...parseRenderRequest(request, {}, partType), format: partType === 'image/png' ? 'png' as const : 'jpeg' as const };
  const skipped = { count: 0 };
  const parts = renderedParts(ctx, request, records, options, skipped);
  const first = await parts.next();
  if (first.done) throw new YunyingError('RENDERING_NOT_SUPPORTED', `none of the ${records.length} instances of the ${what} can be rendered; retrieve the instances instead`);
  const boundary = newBoundary();
  async function* body(): AsyncGenerator<Uint8Array> {
    let part: IteratorResult<RenderedPart> = first;
    let isFirst = true;
    while (!part.done) {
      yield partHeader(boundary, { contentType: part.value.contentType, length: part.value.body.length, headers: { 'Content-Location': part.value.location } }, isFirst);
      yield part.value.body;
      isFirst = false;
      part = await parts.next();
    }
    yield closeDelimiter(boundary, true);
  }
  if (skipped.count > 0) reply.header('Warning', `299 yunying "${skipped.count} of the ${records.length} instances before the first image cannot be rendered and are left out"`);
  return reply
    .type(`multipart/related; type="${partType}"; boundary=${boundary}`)
    .header('Cache-Control', 'no-store')
    .send(Readable.from(body(), { objectMode: false }));
}

export function registerRendered(app: FastifyInstance, ctx: DicomWebContext): void {
  const thumbnailSize = ctx.options.thumbnailSize ?? 128;

  app.get<{ Params: InstancePath }>('/studies/:study/series/:series/instances/:instance/rendered', async (request, reply) => {
    const options = parseRenderRequest(request);
    return sendRendered(ctx, reply, await ctx.findInstance(request, request.params), { ...options, frame: 1 });
  });
  app.get<{ Params: InstancePath & { frame: string } }>('/studies/:study/series/:series/instances/:instance/frames/:frame/rendered', async (request, reply) => {
    if (request.params.frame.includes(',')) throw notImplemented('rendering several frames at once');
    const frame = parseFrameNumber(request.params.frame);
    const options = parseRenderRequest(request);
    return sendRendered(ctx, reply, await ctx.findInstance(request, request.params), { ...options, frame });
  });

  app.get<{ Params: InstancePath }>('/studies/:study/series/:series/instances/:instance/thumbnail', async (request, reply) => {
    const options = parseRenderRequest(request, { maxSize: thumbnailSize });
    return sendRendered(ctx, reply, await ctx.findInstance(request, request.params), { ...options, frame: 1 });
  });
  app.get<{ Params: InstancePath & { frame: string } }>('/studies/:study/series/:series/instances/:instance/frames/:frame/thumbnail', async (request, reply) => {
    const frame = parseFrameNumber(request.params.frame);
    const options = parseRenderRequest(request, { maxSize: thumbnailSize });
    return sendRendered(ctx, reply, await ctx.findInstance(request, request.params), { ...options, frame });
  });
  app.get<{ Params: SeriesPath }>('/studies/:study/series/:series/thumbnail', async (request, reply) => {
    const options = parseRenderRequest(request, { maxSize: thumbnailSize });
    return sendThumbnail(ctx, reply, await ctx.findInstances(request, request.params), options);
  });
  app.get<{ Params: StudyPath }>('/studies/:study/thumbnail', async (request, reply) => {
    const options = parseRenderRequest(request, { maxSize: thumbnailSize });
    return sendThumbnail(ctx, reply, await ctx.findInstances(request, request.params), options);
  });

  app.get<{ Params: StudyPath }>('/studies/:study/rendered', async (request, reply) =>
    sendRenderedCollection(ctx, request, reply, await ctx.findInstances(request, request.params), 'study'));
  app.get<{ Params: SeriesPath }>('/studies/:study/series/:series/rendered', async (request, reply) =>
    sendRenderedCollection(ctx, request, reply, await ctx.findInstances(request, request.params), 'series'));
}

/**
 * Rendered and thumbnail resources (PS3.18 8.3.5, 10.4.1.1.3): JPEG (default) or PNG of
 * one frame. Study/series thumbnails show a representative instance (the middle image of
 * the first series that has images). Study/series "rendered" (a multipart of every image)
 * answers 501.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { InstanceRecord } from '../archive/archive-service.ts';
import { YunyingError, badRequest, notImplemented } from '../errors.ts';
import type { DicomWebContext, InstancePath, SeriesPath, StudyPath } from './context.ts';
import { negotiateSimple, parseAccept } from './media-types.ts';
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
export function parseRenderRequest(request: FastifyRequest, defaults: { maxSize?: number } = {}): Omit<RenderOptions, 'frame'> {
  const accept = parseAccept(request.headers.accept);
  const type = negotiateSimple(accept, IMAGE_TYPES);
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
      const [w, h] = parts.map(Number);
      if (parts.length < 2 || !Number.isInteger(w) || !Number.isInteger(h) || w! < 1 || h! < 1 || w! > 8192 || h! > 8192) {
        throw badRequest('INVALID_PARAMETER', `viewport must be width,height in pixels, got "${value}"`);
      }
      // the source-rectangle form (vw,vh,sx,sy,sw,sh) is accepted; the rectangle is not applied
      options.fit = { width: w, height: h };
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
  const images = records.filter((r) => (r.rows ?? 0) > 0);
  const pool = images.length > 0 ? images : records;
  const series = pool[0]!.seriesInstanceUid;
  const ofSeries = pool.filter((r) => r.seriesInstanceUid === series);
  return ofSeries[Math.floor((ofSeries.length - 1) / 2)]!;
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
    const record = representativeInstance(await ctx.findInstances(request, request.params));
    return sendRendered(ctx, reply, record, { ...options, frame: 1 });
  });
  app.get<{ Params: StudyPath }>('/studies/:study/thumbnail', async (request, reply) => {
    const options = parseRenderRequest(request, { maxSize: thumbnailSize });
    const record = representativeInstance(await ctx.findInstances(request, request.params));
    return sendRendered(ctx, reply, record, { ...options, frame: 1 });
  });

  const notYet = async () => {
    throw notImplemented('rendered studies and series (use the instance or frame rendered resources)');
  };
  app.get('/studies/:study/rendered', notYet);
  app.get('/studies/:study/series/:series/rendered', notYet);
}

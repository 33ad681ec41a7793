/**
 * WADO-URI (PS3.18 9): GET /wado?requestType=WADO&studyUID=&seriesUID=&objectUID=...
 *
 * contentType: application/dicom (the stored bytes; transferSyntax other than the stored
 * one → 406, we do not transcode), image/jpeg (default for images), image/png. A
 * comma-separated list takes the first supported type. Objects without pixel data default
 * to application/dicom. frameNumber, windowCenter+windowWidth, rows/columns (fit inside)
 * and imageQuality apply to rendered types; anonymize, annotation, charset, region and
 * presentation-state parameters are accepted and ignored. Missing required parameters → 400.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { getPixelDataInfo } from '@yunying/dicom';
import { YunyingError, badRequest } from '../errors.ts';
import type { DicomWebContext } from './context.ts';
import type { QueryParams } from './qido.ts';
import { renderFrame, type RenderOptions } from '../rendering/render.ts';

const SUPPORTED = ['application/dicom', 'image/jpeg', 'image/png'];

function param(query: QueryParams, name: string): string | undefined {
  const raw = query[name];
  const value = Array.isArray(raw) ? raw[0] : raw;
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}

function required(query: QueryParams, name: string): string {
  const value = param(query, name);
  if (value === undefined) throw badRequest('MISSING_PARAMETER', `WADO-URI requires ${name}`);
  return value;
}

function positiveInt(query: QueryParams, name: string, max = 1e9): number | undefined {
  const value = param(query, name);
  if (value === undefined) return undefined;
  if (!/^\d{1,9}$/.test(value) || Number(value) < 1 || Number(value) > max) throw badRequest('INVALID_PARAMETER', `${name} must be a positive integer, got "${value}"`);
  return Number(value);
}

function number(query: QueryParams, name: string): number | undefined {
  const value = param(query, name);
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isFinite(n)) throw badRequest('INVALID_PARAMETER', `${name} must be a number, got "${value}"`);
  return n;
}

export function registerWadoUri(app: FastifyInstance, ctx: DicomWebContext): void {
  app.get('/', async (request: FastifyRequest, reply) => {
    const query = request.query as QueryParams;
    const requestType = required(query, 'requestType');
    if (requestType !== 'WADO') throw badRequest('INVALID_PARAMETER', `requestType must be WADO, got "${requestType}"`);
    const study = required(query, 'studyUID');
    const series = required(query, 'seriesUID');
    const instance = required(query, 'objectUID');

    const askedTypes = param(query, 'contentType')?.split(',').map((t) => t.split(';')[0]!.trim().toLowerCase());
    let contentType: string | undefined;
    if (askedTypes) {
      contentType = askedTypes.map((t) => (t === 'image/*' || t === '*/*' ? 'image/jpeg' : t)).find((t) => SUPPORTED.includes(t));
      if (!contentType) throw new YunyingError('NOT_ACCEPTABLE', `contentType must be one of ${SUPPORTED.join(', ')}`);
    }
    const frame = positiveInt(query, 'frameNumber') ?? 1;
    const windowCenter = number(query, 'windowCenter');
    const windowWidth = number(query, 'windowWidth');
    if ((windowCenter === undefined) !== (windowWidth === undefined)) throw badRequest('INVALID_PARAMETER', 'windowCenter and windowWidth go together');
    if (windowWidth !== undefined && windowWidth < 1) throw badRequest('INVALID_PARAMETER', 'windowWidth must be >= 1');
    const rows = positiveInt(query, 'rows', 8192);
    const columns = positiveInt(query, 'columns', 8192);
    const quality = positiveInt(query, 'imageQuality', 100);
    const transferSyntax = param(query, 'transferSyntax');

    const record = await ctx.findInstance(request, { study, series, instance }, 'study.retrieved');

    if (contentType === undefined) {
      // images default to JPEG, other objects to application/dicom (PS3.18 9.1.2.2.1)
      const parsed = await ctx.readParsed(record);
      contentType = getPixelDataInfo(parsed) ? 'image/jpeg' : 'application/dicom';
    }

    if (contentType === 'application/dicom') {
      if (transferSyntax !== undefined && transferSyntax !== '*' && transferSyntax !== record.transferSyntaxUid) {
        throw new YunyingError('NOT_ACCEPTABLE', `the instance is stored in transfer syntax ${record.transferSyntaxUid}; transcoding is not supported`);
      }
      const bytes = await ctx.archive.readInstance(record);
      return reply.type('application/dicom').header('Content-Disposition', `attachment; filename="${instance}.dcm"`).send(bytes);
    }

    const options: RenderOptions = { frame, format: contentType === 'image/png' ? 'png' : 'jpeg', maxFrameBytes: ctx.options.maxRenderFrameBytes };
    if (quality !== undefined) options.quality = quality;
    if (windowCenter !== undefined && windowWidth !== undefined) options.window = { center: windowCenter, width: windowWidth, fn: 'linear' };
    if (rows !== undefined || columns !== undefined) options.fit = { width: columns, height: rows };
    const parsed = await ctx.readParsed(record);
    const rendered = await renderFrame(parsed, options);
    return reply.type(rendered.contentType).send(rendered.body);
  });
}

/**
 * WADO-URI (PS3.18 9): GET /wado?requestType=WADO&studyUID=&seriesUID=&objectUID=...
 *
 * contentType: application/dicom, image/jpeg (default for images), image/png. A comma-separated
 * list takes the first supported type. Objects without pixel data default to application/dicom.
 *
 * application/dicom: the stored bytes, or with `transferSyntax` the instance in that syntax
 * when the transcoder can produce it (406 when it cannot; `*` is as stored). `anonymize=yes`
 * answers a de-identified instance (PS3.15 Annex E Basic Profile, deidentify/) audited as an
 * export (study.exported); an instance the profile cannot clean (Burned In Annotation YES)
 * answers 422 DEIDENTIFICATION_REFUSED rather than identified data.
 *
 * Rendered types: frameNumber, windowCenter+windowWidth, region (x1,y1,x2,y2 as fractions of
 * the image, cut out first), rows/columns (fit inside, after the region) and imageQuality.
 * annotation, charset and the presentation-state parameters are accepted and not applied.
 *
 * PS3.18 9.1.2.5 ties parameters to media types; a combination it forbids answers 400 with the
 * reason instead of being ignored: anonymize, transferSyntax only with application/dicom;
 * region, rows, columns, window, frameNumber and imageQuality only with an image type.
 */
import { randomBytes } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { getPixelDataInfo } from '@yunying/dicom';
import type { InstanceRecord } from '../archive/archive-service.ts';
import { YunyingError, badRequest, notFound } from '../errors.ts';
import { DeidentificationError, deidentifyPart10 } from '../deidentify/deidentify.ts';
import { EXPLICIT_VR_LE, sharedTranscoder } from '../transcoding/index.ts';
import type { DicomWebContext } from './context.ts';
import type { QueryParams } from './qido.ts';
import { renderFrame, type RenderOptions } from '../rendering/render.ts';

const SUPPORTED = ['application/dicom', 'image/jpeg', 'image/png'];
const IMPLICIT_VR_LE = '1.2.840.10008.1.2';
/** rendered-only parameters (PS3.18 9.1.2.5: not with application/dicom) */
const IMAGE_ONLY = ['region', 'rows', 'columns', 'windowCenter', 'windowWidth', 'frameNumber', 'imageQuality'];
/**
 * The key of the replacement UIDs and patient pseudonyms: one per server process, so instances
 * exported from one study in one session still reference each other, and nobody (the server
 * after a restart included) can map them back.
 */
const DEIDENTIFICATION_KEY = randomBytes(32);

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

/** region=x1,y1,x2,y2: the top-left and bottom-right corners as fractions 0.0-1.0 of the image (PS3.18 WADO-URI) */
export function parseRegion(text: string): NonNullable<RenderOptions['region']> {
  const parts = text.split(',').map((s) => s.trim());
  const values = parts.map(Number);
  if (parts.length !== 4 || parts.some((p) => p === '') || values.some((v) => !Number.isFinite(v) || v < 0 || v > 1)) {
    throw badRequest('INVALID_PARAMETER', `region must be x1,y1,x2,y2 with each value from 0.0 to 1.0, got "${text}"`);
  }
  const [left, top, right, bottom] = values as [number, number, number, number];
  if (!(right > left) || !(bottom > top)) throw badRequest('INVALID_PARAMETER', `region must have x2 > x1 and y2 > y1, got "${text}"`);
  return { left, top, right, bottom };
}

function chosenContentType(query: QueryParams): string | undefined {
  const asked = param(query, 'contentType')?.split(',').map((t) => t.split(';')[0]!.trim().toLowerCase());
  if (!asked) return undefined;
  const type = asked.map((t) => (t === 'image/*' || t === '*/*' ? 'image/jpeg' : t)).find((t) => SUPPORTED.includes(t));
  if (!type) throw new YunyingError('NOT_ACCEPTABLE', `contentType must be one of ${SUPPORTED.join(', ')}`);
  return type;
}

/** anonymize: absent, or "yes" (the only value PS3.18 defines) */
function wantsAnonymized(query: QueryParams): boolean {
  const value = param(query, 'anonymize');
  if (value === undefined) return false;
  if (value.toLowerCase() !== 'yes') throw badRequest('INVALID_PARAMETER', `anonymize must be "yes" when present, got "${value}"`);
  return true;
}

/** PS3.18 9.1.2.5: parameters that only mean something for one kind of answer. */
function checkCombination(query: QueryParams, contentType: string | undefined, anonymize: boolean): void {
  const isDicom = contentType === 'application/dicom';
  if (anonymize && !isDicom) throw badRequest('INVALID_PARAMETER', 'anonymize=yes requires contentType=application/dicom (rendered images are not de-identified objects)');
  if (param(query, 'transferSyntax') !== undefined && !isDicom) throw badRequest('INVALID_PARAMETER', 'transferSyntax requires contentType=application/dicom');
  if (isDicom) {
    const given = IMAGE_ONLY.filter((name) => param(query, name) !== undefined);
    if (given.length > 0) throw badRequest('INVALID_PARAMETER', `${given.join(', ')} cannot be used with contentType=application/dicom; they apply to image/jpeg and image/png`);
  }
}

/** The instance in the transfer syntax asked for, or as stored; 406 when the transcoder cannot produce it. */
async function inTransferSyntax(bytes: Buffer, stored: string, asked: string | undefined): Promise<{ bytes: Buffer; transferSyntaxUid: string }> {
  if (asked === undefined || asked === '*' || asked === stored) return { bytes, transferSyntaxUid: stored };
  const transcoder = sharedTranscoder();
  if (!transcoder.canTranscode(stored, asked)) {
    throw new YunyingError('NOT_ACCEPTABLE', `the instance is stored in transfer syntax ${stored} and cannot be produced in ${asked}`);
  }
  return { bytes: await transcoder.transcodePart10(bytes, asked), transferSyntaxUid: asked };
}

/**
 * The de-identifier reads little endian (implicit, explicit, every encapsulated syntax):
 * big endian and deflated instances are converted to Explicit VR Little Endian first.
 */
async function deidentified(bytes: Buffer, transferSyntaxUid: string): Promise<Buffer> {
  let input = bytes;
  const littleEndian = transferSyntaxUid === IMPLICIT_VR_LE || transferSyntaxUid === EXPLICIT_VR_LE || transferSyntaxUid.startsWith('1.2.840.10008.1.2.4.') || transferSyntaxUid === '1.2.840.10008.1.2.5';
  if (!littleEndian) input = (await inTransferSyntax(bytes, transferSyntaxUid, EXPLICIT_VR_LE)).bytes;
  try {
    return deidentifyPart10(input, { key: DEIDENTIFICATION_KEY }).bytes;
  } catch (error) {
    if (error instanceof DeidentificationError) throw new YunyingError('DEIDENTIFICATION_REFUSED', error.message);
    throw error;
  }
}

async function sendDicom(ctx: DicomWebContext, reply: FastifyReply, record: InstanceRecord, query: QueryParams, anonymize: boolean) {
  const stored = await ctx.archive.readInstance(record);
  const converted = await inTransferSyntax(stored, record.transferSyntaxUid, param(query, 'transferSyntax'));
  if (!anonymize) {
    return reply.type('application/dicom').header('Content-Disposition', `attachment; filename="${record.sopInstanceUid}.dcm"`).send(converted.bytes);
  }
  const bytes = await deidentified(converted.bytes, converted.transferSyntaxUid);
  // the original UIDs identify the study: the file is named without them
  return reply.type('application/dicom').header('Content-Disposition', 'attachment; filename="deidentified.dcm"').send(bytes);
}

/** The one instance the request names, in the caller's scope, audited as `action`. */
async function findRecord(ctx: DicomWebContext, request: FastifyRequest, path: { study: string; series: string; instance: string }, anonymize: boolean): Promise<InstanceRecord> {
  if (!anonymize) return ctx.findInstance(request, path, 'study.retrieved');
  // a de-identified copy leaves the archive for another use (research, teaching): an export
  const records = await ctx.archive.findInstances(ctx.callerOf(request), { studyInstanceUids: [path.study], seriesInstanceUids: [path.series], sopInstanceUids: [path.instance] }, 'study.exported', { resource: request.routeOptions.url, deidentified: 'PS3.15 E.1 basic profile' });
  if (records.length === 0) throw notFound(`instance ${path.instance}`);
  return records[0]!;
}

export function registerWadoUri(app: FastifyInstance, ctx: DicomWebContext): void {
  app.get('/', async (request: FastifyRequest, reply) => {
    const query = request.query as QueryParams;
    const requestType = required(query, 'requestType');
    if (requestType !== 'WADO') throw badRequest('INVALID_PARAMETER', `requestType must be WADO, got "${requestType}"`);
    const path = { study: required(query, 'studyUID'), series: required(query, 'seriesUID'), instance: required(query, 'objectUID') };

    const anonymize = wantsAnonymized(query);
    // anonymize only applies to application/dicom: without a contentType it is the one asked for
    let contentType = chosenContentType(query) ?? (anonymize ? 'application/dicom' : undefined);
    checkCombination(query, contentType, anonymize);
    const frame = positiveInt(query, 'frameNumber') ?? 1;
    const windowCenter = number(query, 'windowCenter');
    const windowWidth = number(query, 'windowWidth');
    if ((windowCenter === undefined) !== (windowWidth === undefined)) throw badRequest('INVALID_PARAMETER', 'windowCenter and windowWidth go together');
    if (windowWidth !== undefined && windowWidth < 1) throw badRequest('INVALID_PARAMETER', 'windowWidth must be >= 1');
    const rows = positiveInt(query, 'rows', 8192);
    const columns = positiveInt(query, 'columns', 8192);
    const quality = positiveInt(query, 'imageQuality', 100);
    const regionText = param(query, 'region');
    const region = regionText === undefined ? undefined : parseRegion(regionText);

    const record = await findRecord(ctx, request, path, anonymize);

    if (contentType === undefined) {
      // images default to JPEG, other objects to application/dicom (PS3.18 9.1.2.2.1)
      const parsed = await ctx.readParsed(record);
      contentType = getPixelDataInfo(parsed) ? 'image/jpeg' : 'application/dicom';
      if (contentType === 'application/dicom') checkCombination(query, contentType, anonymize);
    }
    if (contentType === 'application/dicom') return sendDicom(ctx, reply, record, query, anonymize);

    const options: RenderOptions = { frame, format: contentType === 'image/png' ? 'png' : 'jpeg', maxFrameBytes: ctx.options.maxRenderFrameBytes };
    if (quality !== undefined) options.quality = quality;
    if (windowCenter !== undefined && windowWidth !== undefined) options.window = { center: windowCenter, width: windowWidth, fn: 'linear' };
    if (rows !== undefined || columns !== undefined) options.fit = { width: columns, height: rows };
    if (region) options.region = region;
    const parsed = await ctx.readParsed(record);
    const rendered = await renderFrame(parsed, options);
    return reply.type(rendered.contentType).send(rendered.body);
  });
}

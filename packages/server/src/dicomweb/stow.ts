/**
 * STOW-RS (PS3.18 10.5): POST /studies and /studies/{study}.
 *
 * Status: 200 every instance stored without warning; 202 some failed or some stored with
 * a warning; 409 every instance failed; 400 unparsable multipart or no parts; 415 a
 * content type other than multipart/related; type="application/dicom" or application/dicom.
 *
 * Failure reasons (0008,1197), from PS3.4 B.2.3 / PS3.18 10.5.3:
 *  - 0xC000 Cannot understand: not a readable Part 10 object (garbage, truncated, no meta)
 *  - 0xA901 Data Set does not match: the instance belongs to another study than the
 *    request's /studies/{study} (checked by the archive's ingest, which reads the header anyway)
 *  - 0xA700 Out of resources; 0x0124 Not authorised; 0x0110 Processing failure (others);
 *    an archive YunyingError's own DIMSE status when it is a failure status.
 * A human-readable reason goes in Error Comment (0000,0902) of the FailedSOPSequence item
 * (the C-STORE response carries the same attribute); a warning's text likewise in the
 * ReferencedSOPSequence item next to Warning Reason (0008,1196) 0xB000.
 *
 * Bounded per request: at most `maxStowParts` parts (413 TOO_MANY_PARTS before any part is
 * stored), the event loop is yielded between parts (a part that fails to parse costs no I/O,
 * so 10,000 of them would otherwise run back to back without a turn for anyone else), and
 * the request logs one summary line at info; per-part rejections are debug.
 *
 * Streaming and bounded (issue 13, item 7): the body is read as a stream (stow-body.ts:
 * parts over the request's memory budget are staged in files, the size cap applies while
 * reading), at most YUNYING_STOW_CONCURRENCY requests read and store at once, up to
 * YUNYING_STOW_QUEUE more wait unread, and beyond that 503 UPLOADS_BUSY with Retry-After
 * (upload-slots.ts).
 */
import { open } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { DicomParseError, splitPart10, type DicomJsonDataset } from '@yunying/dicom';
import type { IngestResult } from '../archive/archive-service.ts';
import { requirePermission } from '../access/caller.ts';
import { YunyingError, badRequest } from '../errors.ts';
import type { DicomWebContext } from './context.ts';
import { parseAccept, parseMediaType, negotiateSimple } from './media-types.ts';
import { payloadTooLarge, receiveParts, removeStaged, type BodyKind, type ReceivedPart } from './stow-body.ts';
import { DEFAULT_STOW_CONCURRENCY, DEFAULT_STOW_QUEUE, UploadSlots } from './upload-slots.ts';

export const FAILURE_REASON = {
  PROCESSING_FAILURE: 0x0110,
  NOT_AUTHORIZED: 0x0124,
  OUT_OF_RESOURCES: 0xa700,
  CANNOT_UNDERSTAND: 0xc000,
} as const;

export const WARNING_REASON_COERCION = 0xb000;

const INGEST_CONCURRENCY = 4;

/** Default of YUNYING_STOW_MAX_PARTS: a CT of several thousand slices fits, a flood of tiny parts does not. */
export const DEFAULT_MAX_STOW_PARTS = 10_000;

interface Stored {
  kind: 'stored';
  result: IngestResult;
}
interface Failed {
  kind: 'failed';
  reason: number;
  comment: string;
  sopClassUid?: string;
  sopInstanceUid?: string;
}
type PartOutcome = Stored | Failed;

/** Enough of a staged part's beginning to name its SOP Instance in a failure. */
const IDENTIFY_BYTES = 64 * 1024;

async function identifyPart(part: ReceivedPart): Promise<{ sopClassUid?: string; sopInstanceUid?: string }> {
  if ('bytes' in part) return identify(part.bytes);
  const handle = await open(part.file.path, 'r').catch(() => undefined);
  if (!handle) return {};
  try {
    const head = Buffer.alloc(Math.min(IDENTIFY_BYTES, part.file.size));
    const { bytesRead } = await handle.read(head, 0, head.length, 0);
    return identify(head.subarray(0, bytesRead));
  } finally {
    await handle.close();
  }
}

function identify(bytes: Buffer): { sopClassUid?: string; sopInstanceUid?: string } {
  try {
    const header = splitPart10(bytes);
    return { sopClassUid: header.sopClassUid || undefined, sopInstanceUid: header.sopInstanceUid || undefined };
  } catch {
    return {};
  }
}

function failureReasonOf(error: unknown): { reason: number; comment: string } {
  if (error instanceof DicomParseError) return { reason: FAILURE_REASON.CANNOT_UNDERSTAND, comment: error.message };
  if (error instanceof YunyingError) {
    const s = error.dimseStatus;
    const isFailureStatus = (s & 0xf000) === 0xa000 || (s & 0xf000) === 0xc000 || s === 0x0110 || s === 0x0122 || s === 0x0124;
    if (error.httpStatus === 401 || error.httpStatus === 403) return { reason: FAILURE_REASON.NOT_AUTHORIZED, comment: error.message };
    if (error.httpStatus === 507) return { reason: FAILURE_REASON.OUT_OF_RESOURCES, comment: error.message };
    return { reason: isFailureStatus ? s : FAILURE_REASON.PROCESSING_FAILURE, comment: error.message };
  }
  return { reason: FAILURE_REASON.PROCESSING_FAILURE, comment: 'the instance could not be stored' };
}

/** What the request's summary line says; unexpected errors are logged once each request, not once each part. */
interface StowTally {
  unexpectedErrors: number;
}

async function storePart(ctx: DicomWebContext, request: FastifyRequest, tally: StowTally, part: ReceivedPart, study: string | undefined): Promise<PartOutcome> {
  const partType = part.type === undefined ? undefined : parseMediaType(part.type).type;
  if (partType !== undefined && partType !== 'application/dicom') {
    return { kind: 'failed', reason: FAILURE_REASON.CANNOT_UNDERSTAND, comment: `part of type ${partType} is not supported; send application/dicom`, ...(await identifyPart(part)) };
  }
  if (('bytes' in part ? part.bytes.length : part.file.size) === 0) return { kind: 'failed', reason: FAILURE_REASON.CANNOT_UNDERSTAND, comment: 'empty part' };
  // Named before ingest, which takes a staged file over (and removes it).
  const identity = 'file' in part ? await identifyPart(part) : undefined;
  try {
    // The archive checks the target study while it reads the header anyway.
    const bytes = 'bytes' in part ? { bytes: part.bytes } : { file: part.file };
    const result = await ctx.archive.ingest(ctx.callerOf(request), { kind: 'part10', ...bytes, studyInstanceUid: study });
    return { kind: 'stored', result };
  } catch (error) {
    if (!(error instanceof DicomParseError) && !(error instanceof YunyingError)) {
      if (tally.unexpectedErrors++ === 0) request.log.error({ err: error }, 'STOW-RS: ingest failed');
    } else request.log.debug({ reason: (error as Error).message }, 'STOW-RS: instance rejected');
    return { kind: 'failed', ...failureReasonOf(error), ...(identity ?? (await identifyPart(part))) };
  }
}

async function mapLimited<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
      // a turn of the event loop for other requests between parts
      await nextTurn();
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

function buildResponse(ctx: DicomWebContext, request: FastifyRequest, outcomes: PartOutcome[], study: string | undefined): { status: number; body: DicomJsonDataset } {
  const body: DicomJsonDataset = {};
  const failed: DicomJsonDataset[] = [];
  const referenced: DicomJsonDataset[] = [];
  let warnings = 0;
  const studies = new Set<string>();
  for (const o of outcomes) {
    if (o.kind === 'failed') {
      const item: DicomJsonDataset = {};
      if (o.sopClassUid) item['00081150'] = { vr: 'UI', Value: [o.sopClassUid] };
      if (o.sopInstanceUid) item['00081155'] = { vr: 'UI', Value: [o.sopInstanceUid] };
      item['00081197'] = { vr: 'US', Value: [o.reason] };
      item['00000902'] = { vr: 'LO', Value: [o.comment.slice(0, 1024)] };
      failed.push(item);
    } else {
      const r = o.result;
      studies.add(r.studyInstanceUid);
      const item: DicomJsonDataset = {
        '00081150': { vr: 'UI', Value: [r.sopClassUid] },
        '00081155': { vr: 'UI', Value: [r.sopInstanceUid] },
        '00081190': { vr: 'UR', Value: [ctx.instanceUrl(request, r.studyInstanceUid, r.seriesInstanceUid, r.sopInstanceUid)] },
      };
      if (r.warning) {
        warnings++;
        item['00081196'] = { vr: 'US', Value: [WARNING_REASON_COERCION] };
        item['00000902'] = { vr: 'LO', Value: [r.warning.slice(0, 1024)] };
      }
      referenced.push(item);
    }
  }
  const retrieveStudy = study ?? (studies.size === 1 ? [...studies][0] : undefined);
  if (retrieveStudy !== undefined && referenced.length > 0) body['00081190'] = { vr: 'UR', Value: [ctx.studyUrl(request, retrieveStudy)] };
  if (failed.length > 0) body['00081198'] = { vr: 'SQ', Value: failed };
  if (referenced.length > 0) body['00081199'] = { vr: 'SQ', Value: referenced };
  const status = referenced.length === 0 ? 409 : failed.length > 0 || warnings > 0 ? 202 : 200;
  return { status, body };
}

/** What the Content-Type says the body is, before any of it is read. Throws 400/415. */
function bodyKindOf(request: FastifyRequest): BodyKind {
  const header = request.headers['content-type'];
  if (!header) throw new YunyingError('UNSUPPORTED_MEDIA_TYPE', 'Content-Type is required: multipart/related; type="application/dicom"');
  const media = parseMediaType(header);
  if (media.type === 'application/dicom') return { kind: 'single' };
  if (media.type !== 'multipart/related') {
    throw new YunyingError('UNSUPPORTED_MEDIA_TYPE', `Content-Type ${media.type} is not supported: send multipart/related; type="application/dicom"`);
  }
  const rootType = media.params.type?.toLowerCase();
  if (rootType !== undefined && rootType !== 'application/dicom') {
    throw new YunyingError('UNSUPPORTED_MEDIA_TYPE', `multipart/related; type="${rootType}" is not supported (metadata + bulk data STOW is not implemented): send type="application/dicom"`);
  }
  const boundary = media.params.boundary;
  if (!boundary) throw badRequest('INVALID_MULTIPART', 'multipart/related without a boundary parameter');
  return { kind: 'multipart', boundary };
}

function isStream(body: unknown): body is Readable {
  return typeof (body as Readable | undefined)?.iterator === 'function';
}

/** The one info line of a STOW-RS request: counts, never UIDs or patient data. */
function logSummary(request: FastifyRequest, outcomes: readonly PartOutcome[], status: number, started: number, tally: StowTally): void {
  const counts = { stored: 0, replaced: 0, duplicate: 0, warnings: 0, failed: 0 };
  for (const o of outcomes) {
    if (o.kind === 'failed') counts.failed++;
    else {
      counts[o.result.outcome]++;
      if (o.result.warning) counts.warnings++;
    }
  }
  request.log.info({ parts: outcomes.length, ...counts, unexpectedErrors: tally.unexpectedErrors, status, durationMs: Date.now() - started }, 'STOW-RS request');
}

export interface StowOptions {
  /** largest request body, bytes (YUNYING_MAX_UPLOAD_BYTES) */
  maxBytes: number;
  /** where parts over the memory budget are staged (the blob store's staging directory) */
  stagingDirectory: string;
}

/** Reads and stores one request's body; the parts are received whole before any is stored. */
async function stowBody(ctx: DicomWebContext, request: FastifyRequest<{ Params: { study?: string } }>, reply: FastifyReply, kind: BodyKind, options: StowOptions & { maxParts: number }): Promise<{ outcomes: PartOutcome[]; tally: StowTally }> {
  if (!isStream(request.body)) throw badRequest('INVALID_MULTIPART', 'the request has no body');
  let parts: ReceivedPart[];
  try {
    parts = await receiveParts(request.body, kind, { maxParts: options.maxParts, maxBytes: options.maxBytes, stagingDirectory: options.stagingDirectory });
  } catch (error) {
    // The rest of the body is not read: the connection closes after the answer.
    reply.header('connection', 'close');
    throw error;
  }
  try {
    if (parts.length === 0) throw badRequest('INVALID_MULTIPART', 'the multipart body has no parts');
    const tally: StowTally = { unexpectedErrors: 0 };
    const outcomes = await mapLimited(parts, INGEST_CONCURRENCY, (part) => storePart(ctx, request, tally, part, request.params.study));
    return { outcomes, tally };
  } finally {
    await removeStaged(parts); // those ingest did not take over (refused before ingest)
  }
}

export function registerStow(app: FastifyInstance, ctx: DicomWebContext, options: StowOptions): void {
  const maxParts = ctx.options.maxStowParts ?? DEFAULT_MAX_STOW_PARTS;
  const slots = new UploadSlots(ctx.options.stowConcurrency ?? DEFAULT_STOW_CONCURRENCY, ctx.options.stowQueue ?? DEFAULT_STOW_QUEUE);
  const handler = async (request: FastifyRequest<{ Params: { study?: string } }>, reply: FastifyReply) => {
    const accepted = negotiateSimple(parseAccept(request.headers.accept), ['application/dicom+json', 'application/json']);
    if (!accepted) throw new YunyingError('NOT_ACCEPTABLE', 'STOW-RS responses are application/dicom+json');
    const started = Date.now();
    const kind = bodyKindOf(request);
    const declared = Number(request.headers['content-length'] ?? 0);
    if (declared > options.maxBytes) {
      reply.header('connection', 'close');
      throw payloadTooLarge(options.maxBytes);
    }
    const release = await slots.acquire().catch((error: unknown) => {
      reply.header('connection', 'close'); // the body waits unread
      throw error;
    });
    try {
      const { outcomes, tally } = await stowBody(ctx, request, reply, kind, { ...options, maxParts });
      const { status, body } = buildResponse(ctx, request, outcomes, request.params.study);
      logSummary(request, outcomes, status, started, tally);
      return reply.code(status).type(accepted).send(JSON.stringify(body));
    } finally {
      release();
    }
  };
  // A caller who may not store is refused before the body is read (403, not 409 per part).
  const preParsing = async (request: FastifyRequest) => requirePermission(ctx.callerOf(request), 'images:write');
  // The body reaches the handler as the request stream, unread: stow-body.ts reads it.
  void app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', (_request, payload, done) => done(null, payload));
    scope.post<{ Params: { study?: string } }>('/studies', { preParsing }, handler);
    scope.post<{ Params: { study?: string } }>('/studies/:study', { preParsing }, handler);
  });
}

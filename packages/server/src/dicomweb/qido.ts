/**
 * QIDO-RS (PS3.18 10.6): query parameters → QueryRequest for the archive.
 *
 * Attributes by keyword or tag (any case), sequence attributes as Keyword.Keyword,
 * includefield (repeatable, comma separated, `all`), limit, offset. fuzzymatching=true
 * makes PN keys match in pinyin as well ("zhang*" finds 张^三, "张三" finds "Zhang^San"):
 * the fuzziness that helps in a Chinese archive. Unknown parameters → 400; so is a matching key the archive cannot
 * match (a sequence attribute, an attribute it does not index, one of a lower level): 400
 * UNSUPPORTED_MATCHING_KEY from the query service rather than an answer widened by ignoring
 * it. As a return key (includefield, empty value) any attribute is fine. An empty result is 200 with `[]`
 * (PS3.18 allows 204; dicomweb-client resolves both to an empty array, and [] is easier
 * for every other client).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { DicomJsonDataset, DicomJsonElement } from '@yunying/dicom';
import type { QueryLevel, QueryRequest } from '../archive/archive-service.ts';
import { INDEXED_BY_TAG, QIDO_DEFAULT_TAGS } from '../archive/attribute-catalog.ts';
import { YunyingError, badRequest } from '../errors.ts';
import type { DicomWebContext } from './context.ts';
import { lookupAttribute } from './keywords.ts';
import { parseAccept } from './media-types.ts';
import { DICOM_XML, negotiateJsonOrXml, sendDicomXml } from './dicom-xml-response.ts';

export type QueryParams = Record<string, string | string[] | undefined>;

export interface ParsedQuery {
  request: QueryRequest;
  /** fuzzymatching=true was asked for: PN keys also match in pinyin (request.fuzzyMatching) */
  fuzzyMatchingRequested: boolean;
}

const MODALITIES_IN_STUDY = '00080061';
const NUMERIC_VRS = new Set(['IS', 'DS', 'US', 'SS', 'UL', 'SL', 'FL', 'FD', 'UV', 'SV']);
/** parameters PS3.18 defines that we accept and ignore */
const IGNORED_PARAMS = new Set(['charset', 'accept', 'emptyvaluematching', 'multiplevaluematching']);

function values(raw: string | string[] | undefined): string[] {
  if (raw === undefined) return [];
  return Array.isArray(raw) ? raw : [raw];
}

function parseNonNegativeInt(name: string, raw: string | string[] | undefined): number | undefined {
  const list = values(raw);
  if (list.length === 0) return undefined;
  if (list.length > 1) throw badRequest('INVALID_QUERY', `${name} given more than once`);
  const text = list[0]!.trim();
  if (!/^\d{1,9}$/.test(text)) throw badRequest('INVALID_QUERY', `${name} must be a non-negative integer, got "${text}"`);
  return Number(text);
}

function elementFor(vr: string, text: string, name: string): DicomJsonElement {
  if (text === '') return { vr };
  if (vr === 'PN') return { vr, Value: [{ Alphabetic: text }] };
  if (vr === 'UI') {
    // list of UID matching: comma or backslash separated
    const uids = text.split(/[,\\]/).map((u) => u.trim()).filter((u) => u.length > 0);
    for (const uid of uids) {
      if (!/^[0-9.]{1,64}$/.test(uid)) throw badRequest('INVALID_QUERY', `${name}: "${uid}" is not a UID`);
    }
    return { vr, Value: uids };
  }
  if (NUMERIC_VRS.has(vr)) {
    const n = Number(text);
    if (!Number.isFinite(n) || text.trim() === '') throw badRequest('INVALID_QUERY', `${name} must be a number, got "${text}"`);
    return { vr, Value: [n] };
  }
  if (vr === 'SQ') throw badRequest('INVALID_QUERY', `${name} is a sequence: match one of its attributes with ${name}.Keyword=value`);
  return { vr, Value: [text] };
}

/** `ReferencedStudySequence.ReferencedSOPInstanceUID` or `0020000D` → chain of dictionary entries. */
function resolvePath(name: string) {
  const segments = name.split('.');
  return segments.map((segment, i) => {
    const entry = lookupAttribute(segment);
    if (!entry) throw badRequest('INVALID_QUERY', `unknown query parameter or attribute "${name}"`);
    if (i < segments.length - 1 && entry.vr !== 'SQ' && entry.vr !== 'UN') {
      throw badRequest('INVALID_QUERY', `"${segment}" in "${name}" is not a sequence`);
    }
    return entry;
  });
}

function setKey(keys: DicomJsonDataset, name: string, text: string | undefined): void {
  const path = resolvePath(name);
  let target = keys;
  for (let i = 0; i < path.length - 1; i++) {
    const seq = path[i]!;
    let element = target[seq.tag];
    if (!element || !Array.isArray(element.Value) || element.Value.length === 0) {
      element = { vr: 'SQ', Value: [{}] };
      target[seq.tag] = element;
    }
    target = element.Value![0] as DicomJsonDataset;
  }
  const leaf = path[path.length - 1]!;
  const existing = target[leaf.tag];
  if (text === undefined) {
    // return key: do not clobber a matching key given for the same attribute
    if (!existing) target[leaf.tag] = { vr: leaf.vr === 'SQ' ? 'SQ' : leaf.vr };
    return;
  }
  if (existing?.Value !== undefined && existing.vr !== 'SQ') {
    throw badRequest('INVALID_QUERY', `${name} given more than once`);
  }
  target[leaf.tag] = elementFor(leaf.vr, text, name);
}

/**
 * Builds the archive query for a QIDO-RS request. `pathUids` are the UIDs of the
 * resource path (study, series) and become matching keys.
 */
export function buildQuery(level: QueryLevel, query: QueryParams, pathUids: { studyInstanceUid?: string; seriesInstanceUid?: string }): ParsedQuery {
  const keys: DicomJsonDataset = {};
  const request: QueryRequest = { level, keys };
  let fuzzyMatchingRequested = false;

  for (const [rawName, raw] of Object.entries(query)) {
    const name = rawName.trim();
    const lower = name.toLowerCase();
    if (lower === 'limit') request.limit = parseNonNegativeInt('limit', raw);
    else if (lower === 'offset') request.offset = parseNonNegativeInt('offset', raw);
    else if (lower === 'fuzzymatching') {
      for (const v of values(raw)) {
        const t = v.trim().toLowerCase();
        if (t !== 'true' && t !== 'false') throw badRequest('INVALID_QUERY', `fuzzymatching must be true or false, got "${v}"`);
        if (t === 'true') fuzzyMatchingRequested = true;
      }
    } else if (lower === 'includefield') {
      for (const v of values(raw)) {
        for (const field of v.split(',').map((f) => f.trim()).filter((f) => f.length > 0)) {
          if (field.toLowerCase() === 'all') request.includeAllFields = true;
          else setKey(keys, field, undefined);
        }
      }
    } else if (IGNORED_PARAMS.has(lower)) {
      continue;
    } else {
      const list = values(raw);
      const entry = resolvePath(name).at(-1)!;
      // Repeating a parameter lists values: UIDs, and modalities (ModalitiesInStudy=MG&ModalitiesInStudy=SEG).
      const listed = entry.vr === 'UI' || entry.tag === MODALITIES_IN_STUDY;
      if (list.length > 1 && !listed) throw badRequest('INVALID_QUERY', `${name} given more than once`);
      const text = listed ? list.join(entry.vr === 'UI' ? ',' : '\\') : (list[0] ?? '');
      setKey(keys, name, text);
    }
  }

  const pin = (tag: string, uid: string | undefined, label: string) => {
    if (uid === undefined) return;
    const existing = keys[tag];
    if (existing?.Value && !existing.Value.includes(uid)) {
      throw badRequest('INVALID_QUERY', `${label} in the query contradicts the resource path`);
    }
    keys[tag] = { vr: 'UI', Value: [uid] };
  };
  pin('0020000D', pathUids.studyInstanceUid, 'StudyInstanceUID');
  pin('0020000E', pathUids.seriesInstanceUid, 'SeriesInstanceUID');
  for (const tag of defaultReturnTags(level, pathUids)) keys[tag] ??= { vr: INDEXED_BY_TAG.get(tag)?.vr ?? 'UN' };
  if (fuzzyMatchingRequested) request.fuzzyMatching = true;
  return { request, fuzzyMatchingRequested };
}

/**
 * PS3.18 10.6.3.3: the attributes a response carries without includefield; a query that is
 * not below a study also carries the study's (and series') attributes.
 */
function defaultReturnTags(level: QueryLevel, pathUids: { studyInstanceUid?: string; seriesInstanceUid?: string }): string[] {
  const tags = [...QIDO_DEFAULT_TAGS[level]];
  if (level === 'SERIES' && !pathUids.studyInstanceUid) tags.push(...QIDO_DEFAULT_TAGS.STUDY);
  if (level === 'IMAGE' && !pathUids.seriesInstanceUid) tags.push(...QIDO_DEFAULT_TAGS.SERIES);
  if (level === 'IMAGE' && !pathUids.studyInstanceUid) tags.push(...QIDO_DEFAULT_TAGS.STUDY);
  return tags;
}

const QUERY_TYPES = ['application/dicom+json', 'application/json'];
async function answerQuery(ctx: DicomWebContext, request: FastifyRequest, reply: FastifyReply, level: QueryLevel, path: { studyInstanceUid?: string; seriesInstanceUid?: string }) {
  const type = negotiateJsonOrXml(parseAccept(request.headers.accept), QUERY_TYPES);
  if (!type) throw new YunyingError('NOT_ACCEPTABLE', 'QIDO-RS answers application/dicom+json or multipart/related; type="application/dicom+xml"');
  const { request: query } = buildQuery(level, request.query as QueryParams, path);
  const { results, total } = await ctx.archive.queryPage(ctx.callerOf(request), query);
  signalTotal(reply, request, query, results.length, total);
  for (const result of results) {
    omitEmptyModalities(result);
    addRetrieveUrl(ctx, request, level, result);
  }
  if (type === DICOM_XML) return sendDicomXml(reply, results);
  return reply.type(type).send(JSON.stringify(results));
}

/**
 * X-Total-Count: how many match in all (the convention FHIR's Bundle.total and many REST
 * APIs follow; viewers page with it). When a limit cut the answer short, also PS3.18's
 * Warning 299 that more results can be requested (PS3.18 8.3.4.4).
 */
function signalTotal(reply: FastifyReply, request: FastifyRequest, query: QueryRequest, returned: number, total: number): void {
  reply.header('X-Total-Count', String(total));
  if (total > (query.offset ?? 0) + returned) {
    reply.header('Warning', `299 ${request.host}: "The number of results exceeded the maximum supported by the server. Additional results can be requested."`);
  }
}

/**
 * Modality lists without a value (a study whose series carry no Modality) are left out
 * rather than sent as value-less elements: OHIF's study list iterates
 * `ModalitiesInStudy.Value` (and the series' `Modality.Value` beside it) and crashes on an
 * element without one. PS3.18 asks for these only when the study has them. C-FIND keeps
 * them: there a requested return key is always answered, zero-length if need be.
 */
const OMITTED_WHEN_EMPTY = ['00080061', '00080062', '00080060'];

function omitEmptyModalities(result: DicomJsonDataset): void {
  for (const tag of OMITTED_WHEN_EMPTY) {
    const element = result[tag];
    if (element && (!element.Value || element.Value.length === 0 || element.Value.every((v) => v === null || v === ''))) delete result[tag];
  }
}

function addRetrieveUrl(ctx: DicomWebContext, request: FastifyRequest, level: QueryLevel, result: DicomJsonDataset): void {
  const uid = (tag: string) => result[tag]?.Value?.[0] as string | undefined;
  const study = uid('0020000D');
  if (!study || level === 'PATIENT') return;
  let url = ctx.studyUrl(request, study);
  if (level !== 'STUDY') url += `/series/${uid('0020000E') ?? ''}`;
  if (level === 'IMAGE') url += `/instances/${uid('00080018') ?? ''}`;
  result['00081190'] = { vr: 'UR', Value: [url] };
}

export function registerQido(app: FastifyInstance, ctx: DicomWebContext): void {
  app.get('/studies', (request, reply) => answerQuery(ctx, request, reply, 'STUDY', {}));
  app.get('/series', (request, reply) => answerQuery(ctx, request, reply, 'SERIES', {}));
  app.get('/instances', (request, reply) => answerQuery(ctx, request, reply, 'IMAGE', {}));
  app.get<{ Params: { study: string } }>('/studies/:study/series', (request, reply) =>
    answerQuery(ctx, request, reply, 'SERIES', { studyInstanceUid: request.params.study }));
  app.get<{ Params: { study: string } }>('/studies/:study/instances', (request, reply) =>
    answerQuery(ctx, request, reply, 'IMAGE', { studyInstanceUid: request.params.study }));
  app.get<{ Params: { study: string; series: string } }>('/studies/:study/series/:series/instances', (request, reply) =>
    answerQuery(ctx, request, reply, 'IMAGE', { studyInstanceUid: request.params.study, seriesInstanceUid: request.params.series }));
}

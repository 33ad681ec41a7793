/**
 * PS3.18 8.9 Retrieve Capabilities: `OPTIONS /dicom-web` answers a Capabilities Description
 * (Annex H): a WADL document with one application, one resources element whose base is the
 * service's base URL, and the resource tree with its methods. `OPTIONS` on a resource path
 * (`/dicom-web/studies/{uid}/series`) answers that resource with its methods and children.
 *
 * What it lists is what is served: the resources and methods come from the routes this
 * scope actually registered (collected by an onRoute hook), so a route added or removed
 * shows here without anyone editing a list. What a route cannot say about itself (its PS3.18
 * transaction name, query parameters and media types) is in TRANSACTIONS below, one entry per
 * route; capabilities.test.ts fails when a served route has no entry or an entry no route.
 *
 * Media types: application/vnd.sun.wadl+xml is the default (and what Accept: application/xml,
 * text/xml or * / * get); application/json gives the same tree as JSON (the JSON form PS3.18
 * 2017's RS Capabilities Service named). Anything else: 406.
 *
 * Authentication: like every other DICOMweb resource (Bearer or Basic, images:read). PS3.18
 * does not ask for anonymous access, and security by default keeps the description of the
 * service (which interfaces and parameters exist) to those who may use it. A browser's CORS
 * preflight is also an OPTIONS but carries Access-Control-Request-Method; it is answered
 * before authentication by access/cors.ts and never reaches this route.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { YunyingError, notFound } from '../errors.ts';
import type { DicomWebContext } from './context.ts';
import { negotiateSimple, parseAccept } from './media-types.ts';

export const WADL_MEDIA_TYPE = 'application/vnd.sun.wadl+xml';
const OFFERED = [WADL_MEDIA_TYPE, 'application/xml', 'text/xml', 'application/json'] as const;

/** Fastify's route parameters as PS3.18 names them in its URI templates. */
const TEMPLATE_NAMES: Readonly<Record<string, string>> = {
  study: 'StudyInstanceUID',
  series: 'SeriesInstanceUID',
  instance: 'SOPInstanceUID',
  frame: 'FrameList',
  frames: 'FrameList',
  '*': 'BulkDataPath',
};

interface Param {
  name: string;
  style: 'query' | 'header';
  /** PS3.18's name for the parameter's type (xsd) */
  type?: string;
  repeating?: boolean;
  options?: readonly string[];
  default?: string;
}

interface Transaction {
  /** PS3.18's transaction name (Table H-1), the WADL method id */
  id: string;
  params?: readonly Param[];
  /** the media types of the request body (STOW-RS) */
  requestTypes?: readonly string[];
  /** the media types of a 200 answer */
  responseTypes: readonly string[];
}

const JSON_TYPES = ['application/dicom+json', 'application/json'] as const;
/** QIDO-RS results and WADO-RS metadata also as Native DICOM Model parts (dicom-xml-response.ts) */
const SEARCH_TYPES = [...JSON_TYPES, 'multipart/related; type="application/dicom+xml"'] as const;
const acceptParam = (types: readonly string[]): Param => ({ name: 'Accept', style: 'header', options: types, default: types[0] });
const QIDO_PARAMS: readonly Param[] = [
  acceptParam(SEARCH_TYPES),
  { name: '{attributeID}', style: 'query', type: 'xsd:string', repeating: true },
  { name: 'includefield', style: 'query', type: 'xsd:string', repeating: true },
  { name: 'fuzzymatching', style: 'query', type: 'xsd:boolean' },
  { name: 'limit', style: 'query', type: 'xsd:unsignedInt' },
  { name: 'offset', style: 'query', type: 'xsd:unsignedInt' },
];
const DICOM_TYPES = ['multipart/related; type="application/dicom"', 'multipart/related; type="application/dicom"; transfer-syntax=*', 'multipart/related; type="application/dicom"; transfer-syntax=1.2.840.10008.1.2.1'] as const;
const RETRIEVE: readonly Param[] = [acceptParam(DICOM_TYPES)];
const FRAME_TYPES = ['multipart/related; type="application/octet-stream"', 'multipart/related; type="application/octet-stream"; transfer-syntax=*', 'multipart/related; type="image/jpeg"', 'multipart/related; type="image/jls"', 'multipart/related; type="image/jp2"', 'multipart/related; type="image/jphc"', 'multipart/related; type="image/dicom-rle"'] as const;
const IMAGE_TYPES = ['image/jpeg', 'image/png'] as const;
const RENDERED: readonly Param[] = [
  acceptParam(IMAGE_TYPES),
  { name: 'window', style: 'query', type: 'xsd:string' },
  { name: 'viewport', style: 'query', type: 'xsd:string' },
  { name: 'quality', style: 'query', type: 'xsd:unsignedInt' },
  { name: 'annotation', style: 'query', type: 'xsd:string' },
];
const THUMBNAIL: readonly Param[] = [acceptParam(IMAGE_TYPES), { name: 'viewport', style: 'query', type: 'xsd:string' }];
const STOW: Omit<Transaction, 'id'> = { params: [acceptParam(JSON_TYPES)], requestTypes: ['multipart/related; type="application/dicom"'], responseTypes: JSON_TYPES };

/** `METHOD path` (Fastify's form, under /dicom-web) → its transaction. */
export const TRANSACTIONS: Readonly<Record<string, Transaction>> = {
  'GET /studies': { id: 'SearchForStudies', params: QIDO_PARAMS, responseTypes: SEARCH_TYPES },
  'POST /studies': { id: 'StoreInstances', ...STOW },
  'GET /series': { id: 'SearchForSeries', params: QIDO_PARAMS, responseTypes: SEARCH_TYPES },
  'GET /instances': { id: 'SearchForInstances', params: QIDO_PARAMS, responseTypes: SEARCH_TYPES },
  'GET /studies/:study': { id: 'RetrieveStudy', params: RETRIEVE, responseTypes: DICOM_TYPES },
  'POST /studies/:study': { id: 'StoreStudyInstances', ...STOW },
  'GET /studies/:study/metadata': { id: 'RetrieveStudyMetadata', params: [acceptParam(SEARCH_TYPES)], responseTypes: SEARCH_TYPES },
  'GET /studies/:study/rendered': { id: 'RetrieveRenderedStudy', params: RENDERED, responseTypes: IMAGE_TYPES },
  'GET /studies/:study/thumbnail': { id: 'RetrieveStudyThumbnail', params: THUMBNAIL, responseTypes: IMAGE_TYPES },
  'GET /studies/:study/series': { id: 'SearchForStudySeries', params: QIDO_PARAMS, responseTypes: SEARCH_TYPES },
  'GET /studies/:study/instances': { id: 'SearchForStudyInstances', params: QIDO_PARAMS, responseTypes: SEARCH_TYPES },
  'GET /studies/:study/series/:series': { id: 'RetrieveSeries', params: RETRIEVE, responseTypes: DICOM_TYPES },
  'GET /studies/:study/series/:series/metadata': { id: 'RetrieveSeriesMetadata', params: [acceptParam(SEARCH_TYPES)], responseTypes: SEARCH_TYPES },
  'GET /studies/:study/series/:series/rendered': { id: 'RetrieveRenderedSeries', params: RENDERED, responseTypes: IMAGE_TYPES },
  'GET /studies/:study/series/:series/thumbnail': { id: 'RetrieveSeriesThumbnail', params: THUMBNAIL, responseTypes: IMAGE_TYPES },
  'GET /studies/:study/series/:series/instances': { id: 'SearchForStudySeriesInstances', params: QIDO_PARAMS, responseTypes: SEARCH_TYPES },
  'GET /studies/:study/series/:series/instances/:instance': { id: 'RetrieveInstance', params: [acceptParam([...DICOM_TYPES, 'application/dicom'])], responseTypes: [...DICOM_TYPES, 'application/dicom'] },
  'GET /studies/:study/series/:series/instances/:instance/metadata': { id: 'RetrieveInstanceMetadata', params: [acceptParam(SEARCH_TYPES)], responseTypes: SEARCH_TYPES },
  'GET /studies/:study/series/:series/instances/:instance/rendered': { id: 'RetrieveRenderedInstance', params: RENDERED, responseTypes: IMAGE_TYPES },
  'GET /studies/:study/series/:series/instances/:instance/thumbnail': { id: 'RetrieveInstanceThumbnail', params: THUMBNAIL, responseTypes: IMAGE_TYPES },
  'GET /studies/:study/series/:series/instances/:instance/frames/:frames': { id: 'RetrieveFrames', params: [acceptParam(FRAME_TYPES)], responseTypes: FRAME_TYPES },
  'GET /studies/:study/series/:series/instances/:instance/frames/:frame/rendered': { id: 'RetrieveRenderedFrames', params: RENDERED, responseTypes: IMAGE_TYPES },
  'GET /studies/:study/series/:series/instances/:instance/frames/:frame/thumbnail': { id: 'RetrieveFrameThumbnail', params: THUMBNAIL, responseTypes: IMAGE_TYPES },
  'GET /studies/:study/series/:series/instances/:instance/bulkdata/*': {
    id: 'RetrieveBulkdata',
    params: [acceptParam(['multipart/related; type="application/octet-stream"', 'application/octet-stream'])],
    responseTypes: ['multipart/related; type="application/octet-stream"', 'application/octet-stream'],
  },
};

interface ResourceNode {
  /** the path segment, literal or a {Template} */
  segment: string;
  /** Fastify's own segment (':study'), for matching a request path */
  pattern: string;
  methods: Array<{ method: string; route: string; transaction?: Transaction }>;
  children: ResourceNode[];
}

/** The served routes as PS3.18's resource tree. */
export function resourceTree(routes: ReadonlyArray<{ method: string; url: string }>): ResourceNode {
  const root: ResourceNode = { segment: '', pattern: '', methods: [], children: [] };
  for (const { method, url } of routes) {
    if (method === 'HEAD' || method === 'OPTIONS' || url === '' || url === '/') continue;
    let node = root;
    for (const pattern of url.split('/').filter(Boolean)) {
      let child = node.children.find((candidate) => candidate.pattern === pattern);
      if (!child) {
        const name = pattern.startsWith(':') ? pattern.slice(1) : pattern;
        const segment = pattern.startsWith(':') || pattern === '*' ? `{${TEMPLATE_NAMES[name] ?? name}}` : pattern;
        child = { segment, pattern, methods: [], children: [] };
        node.children.push(child);
      }
      node = child;
    }
    const route = `${method} ${url}`;
    node.methods.push({ method, route, transaction: TRANSACTIONS[route] });
  }
  return root;
}

/** The node a request path names (literal segments match themselves, templates any value), with its template path. */
function findResource(root: ResourceNode, segments: readonly string[]): { node: ResourceNode; path: string[] } | undefined {
  let node = root;
  const path: string[] = [];
  for (let index = 0; index < segments.length; index++) {
    const segment = segments[index]!;
    const literal = node.children.find((child) => !child.pattern.startsWith(':') && child.pattern !== '*' && child.pattern === segment);
    const wildcard = node.children.find((child) => child.pattern === '*');
    const template = node.children.find((child) => child.pattern.startsWith(':'));
    if (literal) node = literal;
    else if (wildcard) return { node: wildcard, path: [...path, wildcard.segment] }; // the rest of the path is the bulk data's
    else if (template) node = template;
    else return undefined;
    path.push(node.segment);
  }
  return { node, path };
}

// ------------------------------------------------------------------ WADL (XML)

const escapeXml = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

function paramXml(param: Param, indent: string): string {
  const attributes = [`name="${escapeXml(param.name)}"`, `style="${param.style}"`];
  if (param.type) attributes.push(`type="${param.type}"`);
  if (param.repeating) attributes.push('repeating="true"');
  if (param.default) attributes.push(`default="${escapeXml(param.default)}"`);
  if (!param.options?.length) return `${indent}<param ${attributes.join(' ')}/>`;
  return [`${indent}<param ${attributes.join(' ')}>`, ...param.options.map((option) => `${indent}  <option value="${escapeXml(option)}"/>`), `${indent}</param>`].join('\n');
}

function methodXml(entry: ResourceNode['methods'][number], indent: string): string {
  const transaction = entry.transaction;
  const lines = [`${indent}<method name="${entry.method}"${transaction ? ` id="${transaction.id}"` : ''}>`];
  if (transaction?.params?.length || transaction?.requestTypes?.length) {
    lines.push(`${indent}  <request>`);
    for (const param of transaction.params ?? []) lines.push(paramXml(param, `${indent}    `));
    for (const type of transaction.requestTypes ?? []) lines.push(`${indent}    <representation mediaType="${escapeXml(type)}"/>`);
    lines.push(`${indent}  </request>`);
  }
  lines.push(`${indent}  <response status="200">`);
  for (const type of transaction?.responseTypes ?? []) lines.push(`${indent}    <representation mediaType="${escapeXml(type)}"/>`);
  lines.push(`${indent}  </response>`, `${indent}</method>`);
  return lines.join('\n');
}

function resourceXml(node: ResourceNode, path: string, indent: string): string {
  const lines = [`${indent}<resource path="${escapeXml(path)}">`];
  for (const template of path.matchAll(/\{([^}]+)\}/g)) lines.push(`${indent}  <param name="${escapeXml(template[1]!)}" style="template" type="xsd:string" required="true"/>`);
  for (const method of node.methods) lines.push(methodXml(method, `${indent}  `));
  for (const child of node.children) lines.push(resourceXml(child, child.segment, `${indent}  `));
  lines.push(`${indent}</resource>`);
  return lines.join('\n');
}

export function wadlDocument(base: string, target: { node: ResourceNode; path: string[] }): string {
  const resources = target.path.length === 0 ? target.node.children.map((child) => resourceXml(child, child.segment, '    ')) : [resourceXml(target.node, target.path.join('/'), '    ')];
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    '<application xmlns="http://wadl.dev.java.net/2009/02" xmlns:xsd="http://www.w3.org/2001/XMLSchema">',
    '  <doc title="Yunying 云影 DICOMweb (PS3.18)">The resources and methods this server serves; see docs/conformance.md.</doc>',
    `  <resources base="${escapeXml(`${base}/`)}">`,
    ...resources,
    '  </resources>',
    '</application>',
    '',
  ].join('\n');
}

// ------------------------------------------------------------------ the same tree as JSON

interface JsonResource {
  path: string;
  methods: Array<{ name: string; id?: string; request?: { params?: readonly Param[]; representations?: readonly string[] }; response: { status: 200; representations: readonly string[] } }>;
  resources: JsonResource[];
}

function resourceJson(node: ResourceNode, path: string): JsonResource {
  return {
    path,
    methods: node.methods.map(({ method, transaction }) => ({
      name: method,
      ...(transaction ? { id: transaction.id } : {}),
      ...(transaction?.params || transaction?.requestTypes ? { request: { ...(transaction.params ? { params: transaction.params } : {}), ...(transaction.requestTypes ? { representations: transaction.requestTypes } : {}) } } : {}),
      response: { status: 200 as const, representations: transaction?.responseTypes ?? [] },
    })),
    resources: node.children.map((child) => resourceJson(child, child.segment)),
  };
}

export function capabilitiesJson(base: string, target: { node: ResourceNode; path: string[] }): unknown {
  const resources = target.path.length === 0 ? target.node.children.map((child) => resourceJson(child, child.segment)) : [resourceJson(target.node, target.path.join('/'))];
  return { application: { resources: { base: `${base}/`, resources } } };
}

// ------------------------------------------------------------------ the routes

/**
 * Call on the /dicom-web scope BEFORE the other DICOMweb routes are registered: the hook
 * sees each route as it is added.
 */
export function registerCapabilities(scope: FastifyInstance, ctx: DicomWebContext): void {
  const routes: Array<{ method: string; url: string }> = [];
  const prefix = scope.prefix;
  scope.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) routes.push({ method, url: route.url.startsWith(prefix) ? route.url.slice(prefix.length) : route.url });
  });
  let tree: ResourceNode | undefined;
  const answer = async (request: FastifyRequest, reply: FastifyReply) => {
    tree ??= resourceTree(routes); // every route is registered by the first request
    const relative = request.url.split('?')[0]!.slice(prefix.length);
    const target = findResource(tree, relative.split('/').filter(Boolean).map(decodeURIComponent));
    if (!target) throw notFound(`DICOMweb resource ${relative || '/'}`);
    const accept = parseAccept(request.headers.accept);
    const type = accept.length === 0 ? WADL_MEDIA_TYPE : negotiateSimple(accept, OFFERED);
    if (!type) throw new YunyingError('NOT_ACCEPTABLE', `the capabilities description is ${WADL_MEDIA_TYPE} (or application/json)`);
    const base = ctx.dicomWebBase(request);
    reply.header('Allow', [...new Set(['OPTIONS', ...target.node.methods.map((entry) => entry.method), ...(target.node.methods.some((entry) => entry.method === 'GET') ? ['HEAD'] : [])])].join(', '));
    if (type === 'application/json') return reply.type('application/json; charset=utf-8').send(capabilitiesJson(base, target));
    return reply.type(`${type === 'text/xml' || type === 'application/xml' ? type : WADL_MEDIA_TYPE}; charset=utf-8`).send(wadlDocument(base, target));
  };
  scope.options('/', answer);
  scope.options('/*', answer);
}

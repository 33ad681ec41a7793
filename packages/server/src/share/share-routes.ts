/**
 * Cloud-film HTTP: the staff REST API under /api/v1/share-links (bearer tokens, like the
 * rest of /api/v1) and the patient's side under /s/{token} (the token, plus an unlock
 * cookie when the link has an access code). Every answer under /s/ is a page or an image
 * with no-store, no-referrer, noindex, nosniff and a strict CSP; refusals are friendly
 * pages (410 expired or withdrawn, 401 no code, 429 too many wrong codes), not JSON errors.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import QRCode from 'qrcode';
import { noAudit, type AuditRecorder } from '../access/audit-event.ts';
import type { Caller } from '../access/caller.ts';
import type { Permission } from '../access/permissions.ts';
import type { HttpCallerResolver } from '../access/http-caller.ts';
import { parseWindowParam } from '../rendering/render.ts';
import { badRequest, YunyingError, type ErrorCode } from '../errors.ts';
import { createErrorHandler, errorBody, type HttpErrorAnswer } from '../errors/http-errors.ts';
import { filmAssets, filmPage, messagePage, unlockPage } from './patient-page.ts';
import { SHARE_COOKIE, ShareRefusal, type LiveLink, type ShareOrigin } from './share-model.ts';
import type { ShareServices } from './share-services.ts';

export interface ShareRouteOptions {
  shares: ShareServices;
  /** the REST resolver (bearer tokens) for the staff API */
  resolveCaller: HttpCallerResolver;
  /** staff views of links and QR codes are recorded (issue 12): a link opens the patient's images */
  audit?: AuditRecorder;
}

const Id = Type.Object({ id: Type.String({ pattern: '^[0-9a-f-]{36}$' }) });
const Uid = Type.String({ pattern: '^[0-9.]{1,64}$' });
const Phone = Type.String({ pattern: '^\\+?[0-9]{6,16}$' });
const CreateBody = Type.Object(
  {
    studyInstanceUid: Uid,
    reportId: Type.Optional(Type.String({ pattern: '^[0-9a-f-]{36}$' })),
    expiresInDays: Type.Optional(Type.Integer({ minimum: 1, maximum: 3650 })),
    accessCode: Type.Optional(Type.Boolean()),
    codeLength: Type.Optional(Type.Integer({ minimum: 4, maximum: 6 })),
    phone: Type.Optional(Phone),
  },
  { additionalProperties: false },
);
const CodeBody = Type.Object({ codeLength: Type.Optional(Type.Integer({ minimum: 4, maximum: 6 })), phone: Type.Optional(Phone) }, { additionalProperties: false });
const ListQuery = Type.Object({ studyInstanceUid: Uid }, { additionalProperties: false });
const QrQuery = Type.Object({ size: Type.Optional(Type.Integer({ minimum: 128, maximum: 2048 })) }, { additionalProperties: false });

export async function registerShareRoutes(app: FastifyInstance, options: ShareRouteOptions): Promise<void> {
  if (!filmAssets().built) app.log.warn('the cloud-film page has no viewer script: the web app is not built (npm run build:web)');
  registerStaffRoutes(app, options);
  await app.register(async (scope) => registerPatientRoutes(scope, options.shares), { prefix: '/s' });
}

type StaffView = 'list' | 'link' | 'qr-png' | 'qr-svg' | 'accesses';

function registerStaffRoutes(app: FastifyInstance, { shares, resolveCaller: resolveAnyCaller, audit = noAudit }: ShareRouteOptions): void {
  const tags = ['cloud film'];
  // A link opens the patient's images and report: each route declares a permission that only
  // roles with patient access hold, checked before any lookup (issue 12, finding 2; a modality
  // account reads images but not this).
  const resolveCaller = resolveAnyCaller;
  const may = (permission: Permission) => ({ permission });
  // The record names the link (or the study, for a list), never the token it carries.
  const recordView = (caller: Caller, view: StaffView, objectId: string, details: Record<string, unknown> = {}) => audit.record({ action: 'share.link-viewed', caller, objectType: 'share', objectId, details: { view, ...details } });
  app.post('/api/v1/share-links', { config: may('share:issue'), schema: { tags, body: CreateBody } }, async (request, reply) => {
    const caller = await resolveCaller(request);
    const link = await shares.links.createLink(caller, request.body as Static<typeof CreateBody>);
    return reply.status(201).header('Cache-Control', 'no-store').send(link);
  });
  app.get('/api/v1/share-links', { config: may('patients:read'), schema: { tags, querystring: ListQuery } }, async (request, reply) => {
    const caller = await resolveCaller(request);
    const { studyInstanceUid } = request.query as Static<typeof ListQuery>;
    const links = await shares.links.listLinks(caller, studyInstanceUid);
    await recordView(caller, 'list', studyInstanceUid, { studyInstanceUid, links: links.length });
    return reply.header('Cache-Control', 'no-store').send(links);
  });
  app.get('/api/v1/share-links/:id', { config: may('patients:read'), schema: { tags, params: Id } }, async (request, reply) => {
    const caller = await resolveCaller(request);
    const link = await shares.links.getLink(caller, (request.params as Static<typeof Id>).id);
    await recordView(caller, 'link', link.id, { studyInstanceUid: link.studyInstanceUid });
    return reply.header('Cache-Control', 'no-store').send(link);
  });
  app.post('/api/v1/share-links/:id/revoke', { config: may('share:revoke'), schema: { tags, params: Id } }, async (request) => {
    const caller = await resolveCaller(request);
    return shares.links.revokeLink(caller, (request.params as Static<typeof Id>).id);
  });
  // The body is optional ({} or none): checked here, as a route schema would demand one.
  app.post('/api/v1/share-links/:id/access-code', { config: may('share:issue'), schema: { tags, params: Id } }, async (request, reply) => {
    const caller = await resolveCaller(request);
    const body = request.body ?? {};
    if (!Value.Check(CodeBody, body)) throw badRequest('INVALID_BODY', 'the body is {"codeLength"?: 4..6, "phone"?: "…"}');
    const link = await shares.links.issueAccessCode(caller, (request.params as Static<typeof Id>).id, body);
    return reply.header('Cache-Control', 'no-store').send(link);
  });
  app.get('/api/v1/share-links/:id/accesses', { config: may('patients:read'), schema: { tags, params: Id } }, async (request, reply) => {
    const caller = await resolveCaller(request);
    const { id } = request.params as Static<typeof Id>;
    const accesses = await shares.links.accessesForStaff(caller, id);
    await recordView(caller, 'accesses', id);
    return reply.header('Cache-Control', 'no-store').send(accesses);
  });
  app.get('/api/v1/share-links/:id/qr.png', { config: may('patients:read'), schema: { tags, params: Id, querystring: QrQuery } }, async (request, reply) => {
    const caller = await resolveCaller(request);
    const { id } = request.params as Static<typeof Id>;
    const png = await shares.links.qrPng(caller, id, (request.query as Static<typeof QrQuery>).size);
    await recordView(caller, 'qr-png', id);
    return reply.type('image/png').header('Cache-Control', 'private, no-store').send(png);
  });
  app.get('/api/v1/share-links/:id/qr.svg', { config: may('patients:read'), schema: { tags, params: Id } }, async (request, reply) => {
    const caller = await resolveCaller(request);
    const { id } = request.params as Static<typeof Id>;
    const svg = await shares.links.qrSvg(caller, id);
    await recordView(caller, 'qr-svg', id);
    return reply.type('image/svg+xml').header('Cache-Control', 'private, no-store').send(svg);
  });
}

type TokenParams = { token: string };

function registerPatientRoutes(scope: FastifyInstance, shares: ShareServices): void {
  scope.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: 4096 }, (_request, body, done) => {
    done(null, Object.fromEntries(new URLSearchParams(String(body))));
  });

  // Set first, so refusals and errors carry them too.
  scope.addHook('onRequest', async (_request, reply) => {
    reply.header('Cache-Control', 'no-store, private');
    reply.header('Pragma', 'no-cache');
    reply.header('Referrer-Policy', 'no-referrer');
    reply.header('X-Robots-Tag', 'noindex, nofollow, noarchive');
    reply.header('X-Content-Type-Options', 'nosniff');
    reply.header('X-Frame-Options', 'DENY');
    reply.header('Cross-Origin-Resource-Policy', 'same-origin');
    reply.header('Cross-Origin-Opener-Policy', 'same-origin');
    reply.header('Content-Security-Policy', filmAssets().csp);
    reply.header('Permissions-Policy', 'camera=(), microphone=(), geolocation=()');
  });

  // The one error handler (errors/http-errors.ts); the patient's browser gets the answer as a page.
  scope.setErrorHandler(
    createErrorHandler({
      send: (request, reply, answer) => {
        if (wantsJson(request)) return reply.status(answer.status).send(errorBody({ code: answer.code, message: answer.message }));
        return reply.status(answer.status).type('text/html; charset=utf-8').send(messagePage(refusalPageOf(answer), answer.retryAfterSeconds));
      },
    }),
  );

  const originOf = (request: FastifyRequest): ShareOrigin => ({ remoteAddress: request.ip, userAgent: typeof request.headers['user-agent'] === 'string' ? request.headers['user-agent'] : undefined });

  /** The link, usable and unlocked, or a refusal. */
  const access = async (request: FastifyRequest<{ Params: TokenParams }>): Promise<LiveLink> => {
    const live = await shares.session.openLink(request.params.token);
    if (!shares.session.hasAccess(live, cookieOf(request, SHARE_COOKIE))) throw new ShareRefusal('SHARE_CODE_REQUIRED', 'enter the access code first');
    return live;
  };

  scope.get<{ Params: TokenParams }>('/:token', async (request, reply) => {
    const live = await shares.session.openLink(request.params.token);
    if (!shares.session.hasAccess(live, cookieOf(request, SHARE_COOKIE))) return reply.type('text/html; charset=utf-8').send(unlockPage(request.params.token, false));
    const data = await shares.media.pageData(live, originOf(request));
    return reply.type('text/html; charset=utf-8').send(filmPage(request.params.token, data));
  });

  scope.post<{ Params: TokenParams }>('/:token/unlock', async (request, reply) => {
    const { token } = request.params;
    const live = await shares.session.openLink(token);
    const body = (request.body ?? {}) as Record<string, unknown>;
    const code = typeof body.code === 'string' ? body.code.trim() : '';
    if (!shares.session.needsCode(live)) return reply.status(303).header('Location', `/s/${token}`).send();
    let session: { cookie: string; maxAgeSeconds: number };
    try {
      session = await shares.session.unlock(live, code, originOf(request));
    } catch (error) {
      if (error instanceof ShareRefusal && error.code === 'SHARE_CODE_WRONG' && !wantsJson(request)) return reply.status(401).type('text/html; charset=utf-8').send(unlockPage(token, true));
      throw error;
    }
    const secure = shares.options.publicBaseUrl.startsWith('https:') || request.protocol === 'https';
    reply.header('Set-Cookie', `${SHARE_COOKIE}=${session.cookie}; Path=/s/${token}; Max-Age=${session.maxAgeSeconds}; HttpOnly; SameSite=Strict${secure ? '; Secure' : ''}`);
    if (wantsJson(request)) return reply.send({ unlocked: true, expiresInSeconds: session.maxAgeSeconds });
    return reply.status(303).header('Location', `/s/${token}`).send();
  });

  scope.get<{ Params: TokenParams }>('/:token/data.json', async (request, reply) => {
    const live = await access(request);
    return reply.send(await shares.media.pageData(live, originOf(request)));
  });

  scope.get<{ Params: TokenParams & { series: string } }>('/:token/series/:series/thumbnail.jpg', async (request, reply) => {
    const live = await access(request);
    const row = await shares.media.representativeImage(live, request.params.series);
    return reply.type('image/jpeg').send(await shares.media.renderImage(live, row, { frame: 1, fidelity: 'thumbnail' }, originOf(request)));
  });

  scope.get<{ Params: TokenParams & { series: string; image: string }; Querystring: Record<string, string | undefined> }>('/:token/images/:series/:image', async (request, reply) => {
    const live = await access(request);
    const match = /^([0-9.]{1,64})\.jpg$/.exec(request.params.image);
    if (!match) throw new YunyingError('NOT_FOUND', 'image not found');
    const row = await shares.media.findImage(live, request.params.series, match[1]!);
    const query = request.query;
    const frame = query.frame === undefined ? 1 : Number(query.frame);
    if (!Number.isInteger(frame) || frame < 1 || frame > Math.max(1, row.number_of_frames ?? 1)) throw new YunyingError('NOT_FOUND', 'frame not found');
    const fidelity = query.fidelity ?? 'small';
    if (fidelity !== 'small' && fidelity !== 'full') throw badRequest('INVALID_PARAMETER', 'fidelity is small or full');
    const window = query.window ? parseWindowParam(query.window) : undefined;
    const origin = originOf(request);
    const body = await shares.media.renderImage(live, row, { frame, fidelity, window }, origin);
    if (query.download === '1') {
      await shares.media.recordDownload(live, 'jpeg', origin, { sopInstanceUid: row.sop_instance_uid, frame });
      reply.header('Content-Disposition', `attachment; filename="image-${frame}.jpg"`);
    }
    return reply.type('image/jpeg').send(body);
  });

  scope.get<{ Params: TokenParams }>('/:token/download/dicom.zip', async (request, reply) => {
    const live = await access(request);
    await shares.media.recordDownload(live, 'dicom', originOf(request));
    return sendZip(reply, await shares.media.dicomZip(live), 'cloud-film-dicom.zip');
  });

  scope.get<{ Params: TokenParams }>('/:token/download/jpeg.zip', async (request, reply) => {
    const live = await access(request);
    await shares.media.recordDownload(live, 'jpeg', originOf(request), { all: true });
    return sendZip(reply, await shares.media.jpegZip(live), 'cloud-film-jpeg.zip');
  });

  const OnwardBody = Type.Object(
    { recipient: Type.String({ minLength: 1, maxLength: 60 }), days: Type.Optional(Type.Integer({ minimum: 1, maximum: 90 })), accessCode: Type.Optional(Type.Boolean()) },
    { additionalProperties: false },
  );
  scope.post<{ Params: TokenParams }>('/:token/onward', { schema: { hide: true, body: OnwardBody } }, async (request, reply) => {
    const live = await access(request);
    const link = await shares.links.createOnward(live, request.body as Static<typeof OnwardBody>, originOf(request));
    const qrSvg = await QRCode.toString(link.url, { type: 'svg', errorCorrectionLevel: 'M', margin: 2 });
    return reply.status(201).send({ ...link, qrSvg });
  });

  scope.get<{ Params: TokenParams }>('/:token/accesses', async (request, reply) => {
    const live = await access(request);
    return reply.send(await shares.links.patientAccessList(live));
  });

  scope.post<{ Params: TokenParams & { id: string } }>('/:token/onward/:id/revoke', async (request, reply) => {
    const live = await access(request);
    await shares.links.revokeOnward(live, request.params.id, originOf(request));
    return reply.status(204).send();
  });

  // Anything else under /s/ is a friendly 404 page too (the web app's catch-all leaves /s/ alone).
  scope.all('/*', async () => {
    throw new ShareRefusal('SHARE_NOT_FOUND', 'no such page');
  });
}

function sendZip(reply: FastifyReply, stream: NodeJS.ReadableStream, filename: string) {
  return reply.type('application/zip').header('Content-Disposition', `attachment; filename="${filename}"`).send(stream);
}

function cookieOf(request: FastifyRequest, name: string): string | undefined {
  const header = request.headers.cookie;
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

function wantsJson(request: FastifyRequest): boolean {
  const url = request.url.split('?')[0]!;
  if (url.endsWith('.json') || url.endsWith('/accesses') || url.endsWith('/onward') || url.endsWith('/revoke')) return true;
  const accept = request.headers.accept ?? '';
  const type = request.headers['content-type'] ?? '';
  return (accept.includes('application/json') && !accept.includes('text/html')) || type.includes('application/json');
}

type PageKind = Parameters<typeof messagePage>[0];

/** The page a refusal shows the patient. */
const REFUSAL_PAGES: Partial<Record<ErrorCode, PageKind>> = {
  SHARE_NOT_FOUND: 'not-found',
  SHARE_STUDY_GONE: 'not-found',
  SHARE_EXPIRED: 'expired',
  SHARE_REVOKED: 'revoked',
  SHARE_LOCKED: 'locked',
  SHARE_CODE_REQUIRED: 'unauthorized',
  SHARE_CODE_WRONG: 'unauthorized',
  SHARE_THROTTLED: 'throttled',
};

function refusalPageOf(answer: HttpErrorAnswer): PageKind {
  return REFUSAL_PAGES[answer.code] ?? (answer.status === 404 ? 'not-found' : 'error');
}

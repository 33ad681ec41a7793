import { existsSync } from 'node:fs';
import path from 'node:path';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance } from 'fastify';
import { badRequest } from '../errors.ts';

/** Where `npm run build -w packages/web` writes the web app. */
export const DEFAULT_WEB_DIST = path.resolve(import.meta.dirname, '../../../web/dist');

/** Paths that belong to the protocols and the API, never to the single-page app. */
const SERVER_PREFIXES = ['/api/', '/dicom-web', '/wado', '/fhir/', '/s/', '/healthz', '/metrics'];

/**
 * Serves the web app at / (design.md): hashed assets with long caching, index.html for any
 * other path so that client-side routes survive a reload. Without a build, / says how to
 * make one rather than a bare 404.
 */
export async function registerWebApp(app: FastifyInstance, options: { distDir?: string } = {}): Promise<void> {
  const root = options.distDir ?? DEFAULT_WEB_DIST;
  const built = existsSync(path.join(root, 'index.html'));
  if (!built) {
    app.get('/', async (_request, reply) =>
      reply.type('text/html; charset=utf-8').send('<!doctype html><meta charset="utf-8"><title>云影 Yunying</title><p>网页应用尚未构建。Web app not built: run <code>npm run build -w packages/web</code>.</p>'),
    );
    return;
  }
  await app.register(fastifyStatic, {
    root,
    wildcard: false,
    index: false,
    // the web build writes .br and .gz copies beside its files (packages/web/precompress.ts):
    // sent to browsers that accept them, the plain file otherwise or where there is no copy
    preCompressed: true,
    setHeaders: (response, file) => {
      // Vite names assets by content hash: they never change under one name.
      if (file.includes(`${path.sep}assets${path.sep}`)) response.header('Cache-Control', 'public, max-age=31536000, immutable');
      else response.header('Cache-Control', 'no-cache');
    },
  });
  const sendIndex = async (_request: unknown, reply: { header(name: string, value: string): unknown; sendFile(file: string): unknown }) => {
    reply.header('Cache-Control', 'no-cache');
    reply.header('Content-Security-Policy', "default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; script-src 'self' 'wasm-unsafe-eval'; worker-src 'self' blob:; connect-src 'self'; frame-ancestors 'none'");
    reply.header('Referrer-Policy', 'no-referrer');
    reply.header('X-Content-Type-Options', 'nosniff');
    return reply.sendFile('index.html');
  };
  app.get('/', sendIndex);
  app.get('/*', async (request, reply) => {
    const url = request.url.split('?')[0]!;
    if (SERVER_PREFIXES.some((prefix) => url.startsWith(prefix))) return reply.callNotFound();
    let relative: string;
    try {
      relative = decodeURIComponent(url).replace(/^\/+/, '');
    } catch {
      throw badRequest('BAD_REQUEST', 'malformed percent-encoding in the path');
    }
    // A real file (assets, icons) is served as is; anything else is a client-side route.
    if (relative && !relative.includes('..') && existsSync(path.join(root, relative))) return reply.sendFile(relative);
    return sendIndex(request, reply);
  });
}

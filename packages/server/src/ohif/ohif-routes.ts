/**
 * OHIF's built viewer at /ohif/ (issue 15, item 5). The dist of @ohif/app is built for the
 * site root: index.html names /app.bundle….js, and each webpack runtime (the app's and its
 * workers') loads its chunks from the public path "/". Served under /ohif/, those are
 * rebased here as they go out: the index's src/href and window.PUBLIC_URL, the
 * `__webpack_require__.p = "/"` of the bundles that carry it, the stylesheets' url(/…)
 * of OHIF's fonts and the manifest's icons (each read once, kept in memory).
 * Every other file goes out as it is on disk. The dist is left untouched, so any stock
 * build of that version can be pointed at (YUNYING_OHIF_DIST).
 *
 * These are static files with no patient data and no credentials in them, like the web
 * app's at / (a browser's navigation carries no bearer token to check): every image and
 * query goes to /dicom-web with the user's token, where the permissions apply.
 */
import { existsSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { badRequest } from '../errors.ts';
import { ohifAppConfigScript } from './app-config.ts';

const PUBLIC_PATH_MARKER = '__webpack_require__.p = "/";';

/**
 * For the page that holds the user's token: scripts only from here (OHIF's own index has
 * one inline script; its codecs compile WebAssembly; its workers start from blob: URLs),
 * and connections only to this origin, so a script cannot carry the token elsewhere.
 */
const OHIF_CSP = [
  "default-src 'self'",
  "script-src 'self' 'unsafe-inline' 'unsafe-eval' 'wasm-unsafe-eval' blob:",
  "worker-src 'self' blob:",
  "img-src 'self' data: blob:",
  "media-src 'self' blob:",
  "style-src 'self' 'unsafe-inline'",
  "font-src 'self' data:",
  "connect-src 'self' data: blob:",
  "frame-ancestors 'none'",
].join('; ');

/** OHIF's own files named by content hash (`2424.bundle.c1e2….js`, `17dd….wasm`): they never change under one name */
const HASHED = /(?:\.bundle\.[0-9a-f]{16,}\.js|^[0-9a-f]{16,}\.(?:wasm|woff2?|ttf|svg|png))$/;

/** a request for a file (an extension), as against a client-side route such as /ohif/viewer */
const LOOKS_LIKE_FILE = /\.[A-Za-z0-9]{1,8}$/;

export interface OhifRouteOptions {
  distDir: string;
  /** e.g. /ohif/ */
  basePath: string;
  /** the web app's sign-in page */
  loginPath: string;
}

export async function registerOhif(app: FastifyInstance, options: OhifRouteOptions): Promise<void> {
  const base = `/${options.basePath.replace(/^\/+|\/+$/g, '')}/`;
  const root = path.resolve(options.distDir);
  const index = rebaseIndex(await readFile(path.join(root, 'index.html'), 'utf8'), base);
  const appConfig = ohifAppConfigScript({ basePath: base, loginPath: options.loginPath });
  const rebased = new Map<string, Promise<Buffer | undefined>>();
  const rebasedFile = (relative: string) => {
    let known = rebased.get(relative);
    if (!known) {
      known = readFile(path.join(root, relative)).then((bytes) => {
        const text = bytes.toString('utf8');
        const out = relative.endsWith('.css')
          ? rebaseStylesheet(text, base)
          : relative.endsWith('.json')
            ? rebaseManifest(text, base)
            : text.replace(PUBLIC_PATH_MARKER, `__webpack_require__.p = ${JSON.stringify(base)};`);
        return out === text ? undefined : Buffer.from(out);
      });
      rebased.set(relative, known);
    }
    return known;
  };

  // In a scope of its own: sendFile rooted at the dist, beside the web app's own @fastify/static.
  await app.register(async (scope) => {
    await scope.register(fastifyStatic, { root, serve: false, cacheControl: false }); // ours, per file (below)
    const sendIndex = (reply: FastifyReply) => pageHeaders(reply).type('text/html; charset=utf-8').header('Cache-Control', 'no-cache').send(index);
    scope.get(base.slice(0, -1), async (_request, reply) => reply.redirect(base));
    scope.get(base, async (_request, reply) => sendIndex(reply));
    scope.get(`${base}app-config.js`, async (_request, reply) => reply.type('text/javascript; charset=utf-8').header('Cache-Control', 'no-cache').header('X-Content-Type-Options', 'nosniff').send(appConfig));
    scope.get(`${base}*`, async (request, reply) => {
      const relative = relativePath((request.params as { '*': string })['*']);
      if (relative === 'index.html') return sendIndex(reply);
      const file = path.join(root, relative);
      if (!isFile(file)) {
        // OHIF's client-side routes (/ohif/viewer?StudyInstanceUIDs=…) get the page; a missing file is a 404
        if (LOOKS_LIKE_FILE.test(relative)) return reply.callNotFound();
        return sendIndex(reply);
      }
      const cacheControl = HASHED.test(path.basename(relative)) ? 'public, max-age=31536000, immutable' : 'no-cache';
      reply.header('X-Content-Type-Options', 'nosniff');
      const type = relative.endsWith('.js') ? 'text/javascript; charset=utf-8' : relative.endsWith('.css') ? 'text/css; charset=utf-8' : relative === 'manifest.json' ? 'application/manifest+json; charset=utf-8' : undefined;
      const changed = type ? await rebasedFile(relative) : undefined;
      if (type && changed) return reply.type(type).header('Cache-Control', cacheControl).send(changed);
      return reply.header('Cache-Control', cacheControl).sendFile(relative);
    });
  });
}

/** The index's absolute references (src="/…", href="/…", window.PUBLIC_URL) under `base`. */
export function rebaseIndex(html: string, base: string): string {
  return html
    .replace(/window\.PUBLIC_URL\s*=\s*['"]\/['"]/, `window.PUBLIC_URL = ${JSON.stringify(base)}`)
    .replace(/\b(src|href)="\/(?!\/)/g, `$1="${base}`);
}

/** A stylesheet's root-relative url(/…) (OHIF's fonts) under `base`. */
export function rebaseStylesheet(css: string, base: string): string {
  return css.replace(/url\(\s*(['"]?)\/(?!\/)/g, `url($1${base}`);
}

/** The web app manifest's icon paths ("src": "/assets/…") under `base`. */
export function rebaseManifest(json: string, base: string): string {
  return json.replace(/("(?:src|start_url|scope)"\s*:\s*")\/(?!\/)/g, `$1${base}`);
}

function pageHeaders(reply: FastifyReply): FastifyReply {
  return reply.header('Content-Security-Policy', OHIF_CSP).header('Referrer-Policy', 'no-referrer').header('X-Content-Type-Options', 'nosniff');
}

function relativePath(raw: string): string {
  let relative: string;
  try {
    relative = decodeURIComponent(raw.split('?')[0]!);
  } catch {
    throw badRequest('BAD_REQUEST', 'malformed percent-encoding in the path');
  }
  relative = relative.replace(/^\/+/, '');
  if (relative === '') return 'index.html';
  if (relative.split(/[\\/]/).includes('..') || relative.includes('\0')) throw badRequest('BAD_REQUEST', 'no such path');
  return relative;
}

function isFile(file: string): boolean {
  return existsSync(file) && statSync(file).isFile();
}

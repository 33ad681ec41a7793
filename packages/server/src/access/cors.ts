/**
 * CORS for viewers on another origin (issue 15, item 5): OHIF or a hospital's own web
 * viewer served from https://viewer.example.org calling our DICOMweb, WADO-URI, FHIR and
 * REST API. The origins come from YUNYING_CORS_ORIGINS; by default there are none and no
 * answer carries a CORS header, so a browser keeps every other origin out.
 *
 * A small hook rather than @fastify/cors: that plugin is not installed here (and may not be
 * added for this change), and what we need is narrow: four path prefixes, an exact origin
 * list, a preflight answered before authentication and the permission hook (a preflight
 * never carries the Authorization header, so it would otherwise get 401 and the browser
 * would never send the real request), and headers that also reach the answers written past
 * Fastify (WADO-RS streams and the event stream hijack the reply), hence on the raw response.
 *
 * No Access-Control-Allow-Credentials, ever: callers send their token in Authorization,
 * which a page on another origin cannot read from us, so no ambient credential (cookie,
 * cached Basic login) can be used by a page the user merely visits.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';

/** The interfaces a viewer on another origin uses; not the cloud film (/s/), the web app or /ohif/. */
const CORS_PATHS = /^\/(?:dicom-web|wado|fhir\/r4)(?=[/?]|$)|^\/api\//;

export const CORS_ALLOWED_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;

/** What a DICOMweb or FHIR client sends beyond the CORS-safelisted headers. */
export const CORS_ALLOWED_HEADERS = ['Authorization', 'Accept', 'Accept-Charset', 'Accept-Language', 'Content-Type', 'If-Match', 'If-None-Match', 'If-Modified-Since', 'Prefer', 'Last-Event-ID', 'X-Requested-With'] as const;

/**
 * What the clients read from an answer (a script sees only the safelisted headers unless
 * they are listed): the media type and length of each retrieval, Warning (PS3.18 8.6.2, e.g.
 * a truncated QIDO result), X-Total-Count, Location and Content-Location (STOW-RS, FHIR
 * create), WWW-Authenticate (which scheme a 401 wants), Retry-After (503 UPLOADS_BUSY),
 * ETag/Last-Modified (FHIR versions) and Content-Disposition (report PDFs, exports).
 */
export const CORS_EXPOSED_HEADERS = ['Content-Type', 'Content-Length', 'Content-Location', 'Content-Disposition', 'Location', 'Warning', 'X-Total-Count', 'WWW-Authenticate', 'Retry-After', 'ETag', 'Last-Modified', 'Link'] as const;

/** How long a browser may reuse a preflight's answer, seconds. */
const PREFLIGHT_MAX_AGE = 600;

export interface CorsPolicy {
  /** exact origins as browsers send them (https://host[:port]), or ['*'] for any */
  origins: readonly string[];
}

/** A CORS preflight (Fetch standard): OPTIONS with Access-Control-Request-Method. A plain OPTIONS is PS3.18's capabilities request. */
export function isPreflight(request: FastifyRequest): boolean {
  return request.method === 'OPTIONS' && typeof request.headers['access-control-request-method'] === 'string';
}

function allowedOrigin(policy: CorsPolicy, origin: string | undefined): string | undefined {
  if (!origin) return undefined;
  if (policy.origins.includes('*')) return '*';
  return policy.origins.includes(origin) ? origin : undefined;
}

/**
 * On the root instance, before any route or module: its onRequest hook runs before every
 * scope's (DICOMweb's and FHIR's authentication, the permission hook's preHandler).
 */
export function registerCors(app: FastifyInstance, policy: CorsPolicy): void {
  if (policy.origins.length === 0) return; // none configured: not a header, not a preflight answer
  app.addHook('onRequest', async (request, reply) => {
    if (!CORS_PATHS.test(request.url)) return;
    const raw = reply.raw;
    // the answer differs by origin: a shared cache must not hand one origin's answer to another
    raw.setHeader('Vary', 'Origin');
    const origin = allowedOrigin(policy, request.headers.origin);
    if (isPreflight(request)) {
      if (origin) {
        raw.setHeader('Access-Control-Allow-Origin', origin);
        raw.setHeader('Access-Control-Allow-Methods', CORS_ALLOWED_METHODS.join(', '));
        raw.setHeader('Access-Control-Allow-Headers', CORS_ALLOWED_HEADERS.join(', '));
        raw.setHeader('Access-Control-Max-Age', String(PREFLIGHT_MAX_AGE));
      }
      // Answered here, before authentication; a disallowed origin gets the same 204 without
      // the headers, which the browser reads as a refusal (and learns nothing else).
      return reply.code(204).header('Cache-Control', 'no-store').send();
    }
    if (!origin) return;
    raw.setHeader('Access-Control-Allow-Origin', origin);
    raw.setHeader('Access-Control-Expose-Headers', CORS_EXPOSED_HEADERS.join(', '));
  });
}

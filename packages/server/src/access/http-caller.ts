import type { FastifyRequest } from 'fastify';
import { unauthorized } from '../errors.ts';
import type { AccessService } from './access-service.ts';
import type { AuditRecorder } from './audit-event.ts';
import type { AccessInterface, Caller } from './caller.ts';

export type HttpCallerResolver = (request: FastifyRequest) => Promise<Caller>;

/**
 * The caller of an HTTP request: `Authorization: Bearer <token>` from POST
 * /api/v1/auth/login, or HTTP Basic with a user's credentials (DICOM tools on DICOMweb
 * and WADO-URI). Nothing else is accepted: no anonymous access, loopback or not.
 */
export function createHttpCallerResolver(access: AccessService, via: AccessInterface, options: { allowBasic: boolean }): HttpCallerResolver {
  return async (request) => {
    // once per request: the permission hook (route-permission.ts) and the handler ask both
    const known = resolvedCallers.get(request);
    if (known) return known;
    const origin = { via, remoteAddress: request.ip };
    const header = request.headers.authorization;
    if (!header) throw unauthorized();
    const token = bearerTokenOf(request);
    if (token) return remember(request, await access.authenticateToken(token, origin));
    const basic = /^Basic\s+([A-Za-z0-9+/=]{1,1400})$/i.exec(header);
    if (basic && options.allowBasic) {
      const decoded = Buffer.from(basic[1]!, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon > 0) return remember(request, await access.authenticateBasic(decoded.slice(0, colon), decoded.slice(colon + 1), origin));
    }
    throw unauthorized('unsupported or malformed Authorization header');
  };
}

/** The caller each request authenticated as, for the record of its refusal (auditDenial). */
const resolvedCallers = new WeakMap<FastifyRequest, Caller>();

function remember(request: FastifyRequest, caller: Caller): Caller {
  resolvedCallers.set(request, caller);
  return caller;
}

/** The caller a request authenticated as, if it got that far. */
export function resolvedCallerOf(request: FastifyRequest): Caller | undefined {
  return resolvedCallers.get(request);
}

const UID = /^[0-9]+(\.[0-9]+)*$/;

/**
 * Records a 403, or a 404 that an authenticated caller's lookup produced, as `access.denied`
 * (issue 12). A study out of the caller's scope answers exactly like an absent one, so the
 * caller cannot tell them apart; the auditor can, from the UID recorded here. Requests that
 * never resolved a caller (unknown paths, the web app's catch-all, the patient's cloud-film
 * pages, bad credentials — those are user.login-failed already) are not recorded. The path
 * goes without its query string, which may hold a patient's name as a matching key.
 */
export async function auditDenial(audit: AuditRecorder, request: FastifyRequest, status: number): Promise<void> {
  if (status !== 403 && status !== 404) return;
  const caller = resolvedCallers.get(request);
  if (!caller) return;
  const params = (request.params ?? {}) as Record<string, unknown>;
  const query = (request.query ?? {}) as Record<string, unknown>;
  const studyUid = [params.study, query.studyUID, query.studyInstanceUid].find((value): value is string => typeof value === 'string' && value.length <= 64 && UID.test(value));
  const shareId = request.url.startsWith('/api/v1/share-links/') && typeof params.id === 'string' ? params.id : undefined;
  await audit.record({
    action: 'access.denied',
    outcome: 'failure',
    caller,
    ...(studyUid ? { objectType: 'study' as const, objectId: studyUid } : shareId ? { objectType: 'share' as const, objectId: shareId } : {}),
    details: { status, method: request.method, path: request.url.split('?')[0]!.slice(0, 300), route: request.routeOptions.url ?? null },
  });
}

/** The bearer token of a request, for logout. */
export function bearerTokenOf(request: FastifyRequest): string | undefined {
  return /^Bearer\s+([A-Za-z0-9_-]{20,200})$/i.exec(request.headers.authorization ?? '')?.[1];
}

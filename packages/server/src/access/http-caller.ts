import type { FastifyRequest } from 'fastify';
import { unauthorized } from '../errors.ts';
import type { AccessService } from './access-service.ts';
import type { AccessInterface, Caller } from './caller.ts';

export type HttpCallerResolver = (request: FastifyRequest) => Promise<Caller>;

/**
 * The caller of an HTTP request: `Authorization: Bearer <token>` from POST
 * /api/v1/auth/login, or HTTP Basic with a user's credentials (DICOM tools on DICOMweb
 * and WADO-URI). Nothing else is accepted: no anonymous access, loopback or not.
 */
export function createHttpCallerResolver(access: AccessService, via: AccessInterface, options: { allowBasic: boolean }): HttpCallerResolver {
  return async (request) => {
    const origin = { via, remoteAddress: request.ip };
    const header = request.headers.authorization;
    if (!header) throw unauthorized();
    const token = bearerTokenOf(request);
    if (token) return access.authenticateToken(token, origin);
    const basic = /^Basic\s+([A-Za-z0-9+/=]{1,1400})$/i.exec(header);
    if (basic && options.allowBasic) {
      const decoded = Buffer.from(basic[1]!, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon > 0) return access.authenticateBasic(decoded.slice(0, colon), decoded.slice(colon + 1), origin);
    }
    throw unauthorized('unsupported or malformed Authorization header');
  };
}

/** The bearer token of a request, for logout. */
export function bearerTokenOf(request: FastifyRequest): string | undefined {
  return /^Bearer\s+([A-Za-z0-9_-]{20,200})$/i.exec(request.headers.authorization ?? '')?.[1];
}

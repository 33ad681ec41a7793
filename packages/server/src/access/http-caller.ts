import { timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { isLoopback } from '../config.ts';
import { YunyingError } from '../errors.ts';
import { DEFAULT_INSTITUTION_ID, type Caller } from './caller.ts';

export interface HttpCallerOptions {
  /** the address the HTTP server listens on */
  httpHost: string;
  adminPassword?: string;
}

/**
 * Interim authentication until users and roles exist (the access issue replaces this):
 * HTTP Basic `admin:<YUNYING_ADMIN_PASSWORD>` is the administrator; without credentials,
 * a request is accepted as the default institution's administrator only while the server
 * listens on loopback and the request comes from loopback — the same rule design.md sets
 * for unknown calling AEs on a loopback DICOM port. Anything else is 401.
 */
export function createHttpCallerResolver(options: HttpCallerOptions): (request: FastifyRequest) => Promise<Caller> {
  const localOnly = isLoopback(options.httpHost);
  return async (request) => {
    const header = request.headers.authorization;
    if (header) {
      if (options.adminPassword && isAdminBasic(header, options.adminPassword)) return administrator('admin', request.ip);
      throw unauthorized();
    }
    if (localOnly && isLoopback(request.ip.replace(/^::ffff:/, ''))) return administrator('local', request.ip);
    throw unauthorized();
  };
}

function administrator(name: string, remoteAddress: string): Caller {
  return { kind: 'user', name, institutionId: DEFAULT_INSTITUTION_ID, role: 'administrator', visibleInstitutionIds: 'all', remoteAddress };
}

function isAdminBasic(header: string, adminPassword: string): boolean {
  const match = /^Basic\s+(.+)$/i.exec(header);
  if (!match) return false;
  const decoded = Buffer.from(match[1], 'base64').toString('utf8');
  const expected = Buffer.from(`admin:${adminPassword}`);
  const given = Buffer.from(decoded);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

function unauthorized(): YunyingError {
  return new YunyingError('UNAUTHORIZED', 'authentication required', 401);
}

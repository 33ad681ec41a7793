/**
 * Routes declare the permission they need in their options, `config: { permission: 'report:sign' }`,
 * and this one hook checks it before the handler runs: 401 without a caller, 403 for a role
 * that does not hold it (before any lookup, so the refusal says nothing about which ids
 * exist). Services still check what depends on the row (the reading centre, the claimer).
 */
import type { FastifyInstance, FastifyRequest, RouteOptions } from 'fastify';
import { requirePermission } from './caller.ts';
import { resolvedCallerOf, type HttpCallerResolver } from './http-caller.ts';
import type { Permission } from './permissions.ts';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** what the route's caller must be allowed (access/permissions.ts) */
    permission?: Permission;
  }
}

/**
 * On `app` (the root, before any route): every route registered after it, in any scope, gets
 * its declared permission checked. The caller is the one the scope already resolved (DICOMweb
 * and FHIR authenticate on request), else `resolveCaller`'s (the REST API's Bearer token).
 */
const declaredRoutes = new WeakMap<FastifyInstance, RouteOptions[]>();

/** Requests already checked: an interface that also stands alone (tests) installs the hook on its own scope too. */
const checked = new WeakSet<FastifyRequest>();

export function enforceRoutePermissions(app: FastifyInstance, resolveCaller: HttpCallerResolver): void {
  const routes: RouteOptions[] = [];
  declaredRoutes.set(app, routes);
  // read when asked: a scope's own onRoute hook (DICOMweb's default) may still set the permission
  app.addHook('onRoute', (route) => void routes.push(route));
  app.addHook('preHandler', async (request) => {
    const permission = request.routeOptions.config.permission;
    if (permission === undefined || checked.has(request)) return;
    checked.add(request);
    requirePermission(resolvedCallerOf(request) ?? (await resolveCaller(request)), permission);
  });
}

/** `METHOD url` → the permission it declares (undefined: none), for every route registered after enforceRoutePermissions(app). */
export function routePermissions(app: FastifyInstance): Map<string, Permission | undefined> {
  const declared = new Map<string, Permission | undefined>();
  for (const route of declaredRoutes.get(app) ?? []) {
    for (const method of [route.method].flat()) declared.set(`${method} ${route.url}`, (route.config as { permission?: Permission } | undefined)?.permission);
  }
  return declared;
}

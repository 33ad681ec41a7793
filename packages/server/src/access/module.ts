import { registerAdminRoutes } from '../api/admin-routes.ts';
import { registerAuditRoutes } from '../api/audit-routes.ts';
import { registerAuthRoutes } from '../api/auth-routes.ts';
import type { YunyingModule } from '../modules/module.ts';

/**
 * The REST face of access control: login and sessions, institutions, users, AE titles and
 * grants (administration), and the audit trail's search and export. The AccessService
 * itself is platform core (app.ts): every module resolves its callers through it.
 */
export const accessModule: YunyingModule = {
  name: 'access',
  async register({ http, access, archive, callers, config }) {
    await registerAuthRoutes(http, { access, resolveCaller: callers.rest });
    await registerAdminRoutes(http, { access, resolveCaller: callers.rest });
    await registerAuditRoutes(http, { audit: archive.audit, resolveCaller: callers.rest, timeZone: config.timeZone });
  },
};

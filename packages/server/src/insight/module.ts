import type { YunyingModule } from '../modules/module.ts';
import { registerStatisticsRoutes } from './statistics-routes.ts';

/** Statistics of the region's examinations, for commission analysts and administrators. */
export const insightModule: YunyingModule = {
  name: 'insight',
  async register({ http, archive, callers }) {
    const { statistics } = archive.stores;
    await registerStatisticsRoutes(http, { statistics, accessStore: archive.accessStore, audit: archive.audit, resolveCaller: callers.rest });
  },
};

import { registerStudyRoutes } from '../api/study-routes.ts';
import type { YunyingModule } from '../modules/module.ts';

/**
 * The archive's REST routes: demographic corrections and deletion of a study. The archive
 * itself (index, blobs, ingest, query) is platform core, opened by app.ts for every module.
 */
export const archiveModule: YunyingModule = {
  name: 'archive',
  async register({ http, archive, callers }) {
    const deps = { index: archive.index, blobs: archive.blobs, maintenance: archive.stores.maintenance, unitOfWork: archive.unitOfWork, audit: archive.audit };
    await registerStudyRoutes(http, { deps, resolveCaller: callers.rest });
  },
};

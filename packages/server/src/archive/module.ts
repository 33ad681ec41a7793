import { registerStudyRoutes } from '../api/study-routes.ts';
import type { YunyingModule } from '../modules/module.ts';
import { MaintenanceStore } from '../store/maintenance-store.ts';

/**
 * The archive's REST routes: demographic corrections and deletion of a study. The archive
 * itself (index, blobs, ingest, query) is platform core, opened by app.ts for every module.
 */
export const archiveModule: YunyingModule = {
  name: 'archive',
  async register({ http, archive, callers }) {
    const maintenance = new MaintenanceStore(archive.database.db, archive.database.dialect);
    await registerStudyRoutes(http, { deps: { index: archive.index, blobs: archive.blobs, maintenance, audit: archive.audit }, resolveCaller: callers.rest });
  },
};

import { existsSync } from 'node:fs';
import path from 'node:path';
import { ConfigError } from '../config.ts';
import type { YunyingModule } from '../modules/module.ts';
import { DEFAULT_OHIF_DIST, OHIF_FETCH_COMMAND, OHIF_VERSION } from './ohif-dist.ts';
import { registerOhif } from './ohif-routes.ts';

/**
 * OHIF (the built viewer of @ohif/app) at /ohif/, when YUNYING_OHIF=true: an optional viewer
 * for those who want OHIF's tools, on our DICOMweb with the signed-in user's token. Before
 * the web app, whose catch-all would otherwise answer /ohif/… with its own page.
 */
export const ohifModule: YunyingModule = {
  name: 'ohif',
  async register({ http, config }) {
    if (!config.ohif.enabled) return;
    const distDir = config.ohif.distDir ?? DEFAULT_OHIF_DIST;
    if (!existsSync(path.join(distDir, 'index.html'))) {
      throw new ConfigError(
        config.ohif.distDir
          ? `YUNYING_OHIF=true, but YUNYING_OHIF_DIST=${distDir} holds no OHIF build (no index.html): point it at the dist/ folder of @ohif/app, or unset it and run ${OHIF_FETCH_COMMAND}`
          : `YUNYING_OHIF=true, but OHIF ${OHIF_VERSION} is not fetched (no ${distDir}/index.html): run ${OHIF_FETCH_COMMAND}, or set YUNYING_OHIF_DIST to an OHIF dist/ folder`,
      );
    }
    await registerOhif(http, { distDir, basePath: '/ohif/', loginPath: '/' });
  },
};

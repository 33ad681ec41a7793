import type { YunyingModule } from '../modules/module.ts';
import { registerWebApp } from './static-routes.ts';

/**
 * The web app's built files and its catch-all route. Last in the module list, so that the
 * catch-all shadows no route of another module.
 */
export const webAppModule: YunyingModule = {
  name: 'web-app',
  async register({ http, config }) {
    await registerWebApp(http, { distDir: config.webDistDir });
  },
};

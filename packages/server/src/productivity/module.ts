import type { YunyingModule } from '../modules/module.ts';
import { REPORTS } from '../reports/module.ts';
import { productivityStore } from '../store/productivity-store.ts';
import { registerLibraryRoutes } from './library-routes.ts';
import { ReportLibrary } from './report-library.ts';

declare module '../access/permissions.ts' {
  interface ModulePermissions {
    'templates:write': true;
    'templates:manage': true;
  }
}

/**
 * Reporting productivity (issue 14, item 7): the report library — templates by modality and
 * body part, and the phrase library (常用语) — in the starter, institution and personal
 * scopes, and the report's attachments (measurements, key images) route. Its tables come
 * with the core migration 0017-report-productivity (report_templates gains scope and owner).
 */
export const productivityModule: YunyingModule = {
  name: 'productivity',
  permissions: [
    { name: 'templates:write', zh: '使用常用语，维护个人报告模板与常用语', en: 'use the phrase library and keep personal report templates and phrases', roles: ['radiologist', 'reviewing-radiologist', 'expert', 'administrator'] },
    { name: 'templates:manage', zh: '维护本机构的报告模板与常用语', en: 'keep the institution’s report templates and phrases', roles: ['reviewing-radiologist', 'administrator'] },
  ],
  async register({ http, archive, callers, services }) {
    const library = new ReportLibrary({ store: archive.stores.open(productivityStore), unitOfWork: archive.unitOfWork });
    await library.seedPhrases();
    await registerLibraryRoutes(http, { library, reports: services.get(REPORTS), resolveCaller: callers.rest });
  },
};

import { registerShareRoutes } from './share-routes.ts';
import { useFilmDist } from './patient-page.ts';
import { serviceKey, type YunyingModule } from '../modules/module.ts';
import { reportsPortOf } from '../reports/reports-port.ts';
import { DEFAULT_SHARE_OPTIONS } from './share-model.ts';
import { createShareServices, type ShareServices } from './share-services.ts';
import { LogSmsSender } from './sms-sender.ts';

/** Cloud film: the patient links reports need (ensurePatientLink), and the tests' handle on them. */
export const SHARES = serviceKey<ShareServices>('shares');

/** Cloud film (云胶片): staff-issued and onward links, the patient's page under /s/{token}, its media. */
export const shareModule: YunyingModule = {
  name: 'share',
  async register({ http, archive, config, logger, callers, services }) {
    // the patient page inlines the script and style of the same build the web app serves
    useFilmDist(config.webDistDir);
    const shares = createShareServices(
      // signed reports and addenda through the reports port, never the reports tables
      { store: archive.stores.share, index: archive.index, blobs: archive.blobs, accessStore: archive.accessStore, reports: reportsPortOf(archive.stores.reading), audit: archive.audit, unitOfWork: archive.unitOfWork, sms: new LogSmsSender(logger), logger },
      { ...DEFAULT_SHARE_OPTIONS, publicBaseUrl: config.publicBaseUrl, defaultTtlDays: config.share.ttlDays, autoCreateOnSign: config.share.autoCreateOnSign, onwardMaxDays: config.share.onwardMaxDays, maxRenderFrameBytes: config.renderMaxFrameBytes, timeZone: config.timeZone },
    );
    services.provide(SHARES, shares);
    await registerShareRoutes(http, { shares, resolveCaller: callers.rest, audit: archive.audit });
  },
};

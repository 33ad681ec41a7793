import type { YunyingModule } from '../modules/module.ts';
import { registerDicomWeb } from './index.ts';

/** DICOMweb (QIDO-RS, WADO-RS, STOW-RS, rendered) and WADO-URI, under /dicom-web and /wado. */
export const dicomwebModule: YunyingModule = {
  name: 'dicomweb',
  async register({ http, archive, config, callers, configuredPublicBaseUrl }) {
    await registerDicomWeb(http, {
      archive,
      resolveCaller: callers.dicomweb,
      resolveWadoUriCaller: callers.wadoUri,
      maxStowBytes: config.maxUploadBytes,
      maxStowParts: config.stowMaxParts,
      stowConcurrency: config.stowConcurrency,
      stowQueue: config.stowQueue,
      stagingDirectory: archive.blobs.stagingDirectory,
      maxRenderFrameBytes: config.renderMaxFrameBytes,
      publicBaseUrl: configuredPublicBaseUrl,
    });
  },
};

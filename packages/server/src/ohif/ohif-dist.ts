/**
 * Where OHIF's built viewer lives on this machine. It is not an npm dependency of the server:
 * @ohif/app brings webpack and its whole build tool chain, and its own dependencies do not
 * resolve cleanly (3.12.10). scripts/fetch-ohif.ts downloads the published tarball of one
 * pinned version, checks its sha512 against the integrity pinned there, and extracts its
 * dist/ into this git-ignored folder.
 */
import path from 'node:path';

export const OHIF_VERSION = '3.12.0';

/** vendor/ohif/3.12.0/dist in the repository (vendor/ohif/ is in .gitignore) */
export const DEFAULT_OHIF_DIST = path.resolve(import.meta.dirname, '../../../../vendor/ohif', OHIF_VERSION, 'dist');

/** what a missing dist's error names */
export const OHIF_FETCH_COMMAND = 'node scripts/fetch-ohif.ts';

/**
 * Fetches OHIF's built viewer (the dist/ of the npm package @ohif/app) for /ohif/
 * (YUNYING_OHIF=true), without making it a dependency (packages/server/src/ohif/ohif-dist.ts
 * says why):
 *
 *   node scripts/fetch-ohif.ts [--force]
 *
 * `npm pack` downloads the published tarball through npm's own client and cache (registry,
 * proxy and credentials as npm is configured); the tarball's sha512 must equal the integrity
 * pinned below (`npm view @ohif/app@3.12.0 dist.integrity`), so a changed or corrupted
 * download never gets served; only package/dist is extracted, into a temporary folder that is
 * renamed into place at the end, so an interrupted run leaves nothing half-written.
 * A dist already there (with the marker this script writes) is kept unless --force.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { DEFAULT_OHIF_DIST, OHIF_VERSION } from '../packages/server/src/ohif/ohif-dist.ts';

const run = promisify(execFile);

const PACKAGE = `@ohif/app@${OHIF_VERSION}`;
/** `npm view @ohif/app@3.12.0 dist.integrity`: the registry's sha512 of the tarball */
export const OHIF_INTEGRITY = 'sha512-D+SyPEOhW7E+P+ZfzFO1C3n8qwTfKSXExNEt2DPB5QHoLjSnUVTqEE+xaWX2B9p53boJfKWEM4b4SIVmz0qmOA==';
/** written beside dist/ once it is verified and extracted */
const MARKER = 'fetched-from.json';

export class FetchOhifError extends Error {}

/** The dist folder, fetched and verified if it is not there yet. */
export async function ensureOhifDist(options: { force?: boolean; log?: (line: string) => void } = {}): Promise<string> {
  const log = options.log ?? (() => {});
  const versionDir = path.dirname(DEFAULT_OHIF_DIST);
  if (!options.force && existsSync(path.join(versionDir, MARKER)) && existsSync(path.join(DEFAULT_OHIF_DIST, 'index.html'))) return DEFAULT_OHIF_DIST;
  const cacheDir = path.dirname(versionDir);
  await mkdir(cacheDir, { recursive: true });
  const work = await mkdtemp(path.join(cacheDir, '.fetch-'));
  try {
    log(`npm pack ${PACKAGE}`);
    const packed = await npmPack(work);
    const tarball = path.join(work, packed);
    const integrity = `sha512-${createHash('sha512').update(await readFile(tarball)).digest('base64')}`;
    if (integrity !== OHIF_INTEGRITY) throw new FetchOhifError(`${PACKAGE}: the tarball's integrity ${integrity} is not the pinned ${OHIF_INTEGRITY}; refusing to use it`);
    log(`integrity ok (${integrity.slice(0, 22)}…); extracting package/dist`);
    const staged = path.join(work, 'version');
    await mkdir(staged);
    // GNU tar: only package/dist, without the "package/" prefix
    await run('tar', ['-xzf', tarball, '-C', staged, '--strip-components=1', 'package/dist']);
    if (!existsSync(path.join(staged, 'dist', 'index.html'))) throw new FetchOhifError(`${PACKAGE}: the tarball has no package/dist/index.html`);
    await writeFile(path.join(staged, MARKER), `${JSON.stringify({ package: PACKAGE, integrity, fetchedAt: new Date().toISOString() }, null, 2)}\n`);
    await rm(versionDir, { recursive: true, force: true });
    await rename(staged, versionDir);
    log(`OHIF ${OHIF_VERSION} in ${DEFAULT_OHIF_DIST}`);
    return DEFAULT_OHIF_DIST;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

async function npmPack(destination: string): Promise<string> {
  try {
    const { stdout } = await run('npm', ['pack', PACKAGE, '--pack-destination', destination, '--json', '--silent'], { maxBuffer: 64 * 1024 * 1024 });
    const [entry] = JSON.parse(stdout) as Array<{ filename: string }>;
    if (!entry?.filename) throw new FetchOhifError(`npm pack ${PACKAGE} named no file`);
    // npm names scoped tarballs ohif-app-3.12.0.tgz
    return path.basename(entry.filename.replace(/^@/, '').replace('/', '-'));
  } catch (error) {
    if (error instanceof FetchOhifError) throw error;
    throw new FetchOhifError(`npm pack ${PACKAGE} failed (is the npm registry reachable?): ${(error as Error).message}`);
  }
}

if (import.meta.main) {
  ensureOhifDist({ force: process.argv.includes('--force'), log: (line) => console.log(`fetch-ohif: ${line}`) }).then(
    (dist) => console.log(dist),
    (error: unknown) => {
      console.error(`fetch-ohif: ${(error as Error).message}`);
      process.exit(1);
    },
  );
}

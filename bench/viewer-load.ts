/**
 * Viewer load time on loopback: a synthetic CT (../shared/bench/gen.js, 512×512 16-bit
 * slices) is stored by STOW-RS into a server started in this process, then opened in
 * headless Chromium in the web app's viewer page (viewer-test.html), and two times are
 * taken in the page:
 *
 *   - first image: from the click that mounts the viewer (page and code already loaded, as
 *     when a radiologist clicks a study in the worklist) to the first image drawn;
 *   - all slices: from the same click until every slice of the series is decoded and cached.
 *
 * Also from navigation start (page, bundle and viewer all cold). Each run uses a fresh
 * browser profile (no HTTP cache). Prints the runs and their medians. Not a test.
 *
 *   npm run build -w packages/web
 *   node --import tsx bench/viewer-load.ts [--slices 300] [--runs 5] [--web-dist packages/web/dist]
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { chromium } from 'playwright-core';
import { startListeningServer } from '../packages/server/src/test-support/listening-server.ts';
import { TEST_ADMIN_PASSWORD } from '../packages/server/src/test-support/admin-auth.ts';

const { values: options } = parseArgs({
  options: {
    slices: { type: 'string', default: '300' },
    runs: { type: 'string', default: '5' },
    'web-dist': { type: 'string', default: path.resolve(import.meta.dirname, '../packages/web/dist') },
    seed: { type: 'string', default: '7' },
  },
});
const slices = Number(options.slices);
const runs = Number(options.runs);
const webDist = path.resolve(options['web-dist']!);
if (!existsSync(path.join(webDist, 'viewer-test.html'))) throw new Error(`no viewer-test.html in ${webDist}: npm run build -w packages/web`);

const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const GEN = path.resolve(import.meta.dirname, '../../shared/bench/gen.js');

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile() && e.name.endsWith('.dcm')).map((e) => path.join(e.parentPath, e.name)).sort();
}

/** What the page code below touches (this file is type-checked without the DOM library). */
interface PageGlobals {
  benchTimes: Record<string, number>;
  document: { querySelector(selector: string): { click(): void } | null };
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

const dataDir = await mkdtemp(path.join(tmpdir(), 'yunying-viewer-bench-'));
try {
  // ------------------------------------------------------------ the study
  const genDir = path.join(dataDir, 'ct');
  execFileSync(process.execPath, [GEN, '--studies', '1', '--profile', 'ct', '--ct-slices', String(slices), '--out', genDir, '--seed', options.seed!, '--tag', randomBytes(3).toString('hex')], {
    stdio: ['ignore', 'ignore', 'inherit'],
    // gen.js needs iconv-lite, which the workspace has
    env: { ...process.env, NODE_PATH: path.resolve(import.meta.dirname, '../node_modules') },
  });
  const files = await filesUnder(genDir);
  const manifest = JSON.parse(await readFile(path.join(genDir, 'manifest.json'), 'utf8')) as { studies: Array<{ studyInstanceUid?: string; studyUid?: string; StudyInstanceUID?: string }> };
  const first = manifest.studies[0]!;
  const study = first.studyInstanceUid ?? first.studyUid ?? first.StudyInstanceUID;
  if (!study) throw new Error('manifest.json: no study UID');

  // ------------------------------------------------------------ the server
  const server = await startListeningServer({ YUNYING_WEB_DIST: webDist });
  try {
    const login = await fetch(`${server.baseUrl}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'admin', password: TEST_ADMIN_PASSWORD }) });
    const { token } = (await login.json()) as { token: string };
    const storeStarted = performance.now();
    for (let i = 0; i < files.length; i += 25) {
      const boundary = `bench-${randomBytes(6).toString('hex')}`;
      const chunks: Buffer[] = [];
      for (const file of files.slice(i, i + 25)) chunks.push(Buffer.from(`\r\n--${boundary}\r\nContent-Type: application/dicom\r\n\r\n`), await readFile(file));
      chunks.push(Buffer.from(`\r\n--${boundary}--\r\n`));
      const response = await fetch(`${server.baseUrl}/dicom-web/studies`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': `multipart/related; type="application/dicom"; boundary=${boundary}` },
        body: Buffer.concat(chunks),
      });
      if (response.status !== 200) throw new Error(`STOW-RS: HTTP ${response.status} ${await response.text()}`);
    }
    const bytes = (await Promise.all(files.map((f) => readFile(f).then((b) => b.length)))).reduce((a, b) => a + b, 0);
    console.log(`stored ${files.length} CT slices (${(bytes / 1e6).toFixed(0)} MB) in ${((performance.now() - storeStarted) / 1000).toFixed(1)} s`);

    // ------------------------------------------------------------ the runs
    interface Run {
      firstImage: number;
      allLoaded: number;
      images: number;
      coldFirstImage: number;
      coldAllLoaded: number;
    }
    const results: Run[] = [];
    for (let run = 0; run < runs; run++) {
      for (const mode of ['click', 'cold'] as const) {
        const profile = await mkdtemp(path.join(tmpdir(), 'yunying-viewer-bench-chromium-'));
        const context = await chromium.launchPersistentContext(profile, { executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS, viewport: { width: 1280, height: 900 } });
        try {
          const page = context.pages()[0] ?? (await context.newPage());
          // page-side listeners as a string (this file is type-checked without the DOM library)
          await page.addInitScript(`
            window.benchTimes = {};
            window.addEventListener('yunying:first-image', () => (window.benchTimes.firstImage = performance.now()));
            window.addEventListener('yunying:all-loaded', (e) => {
              window.benchTimes.allLoaded = performance.now();
              window.benchTimes.images = e.detail.images;
            });
          `);
          const url = `${server.baseUrl}/viewer-test.html?study=${study}${mode === 'click' ? '&mount=click' : ''}#token=${encodeURIComponent(token)}`;
          await page.goto(url);
          if (mode === 'click') {
            await page.getByTestId('mount-viewer').waitFor();
            await page.evaluate(() => {
              const page = globalThis as unknown as PageGlobals;
              page.benchTimes.click = performance.now();
              page.document.querySelector('[data-testid="mount-viewer"]')!.click();
            });
          }
          await page.waitForFunction(() => (globalThis as unknown as PageGlobals).benchTimes.allLoaded !== undefined, undefined, { timeout: 120_000 });
          const times = await page.evaluate(() => (globalThis as unknown as PageGlobals).benchTimes);
          const state = await page.getByTestId('study-viewer').getAttribute('data-state');
          if (state !== 'loaded') throw new Error(`viewer state ${state}`);
          if (mode === 'click') {
            results.push({ firstImage: times.firstImage! - times.click!, allLoaded: times.allLoaded! - times.click!, images: times.images!, coldFirstImage: NaN, coldAllLoaded: NaN });
          } else {
            const last = results[results.length - 1]!;
            last.coldFirstImage = times.firstImage!;
            last.coldAllLoaded = times.allLoaded!;
          }
        } finally {
          await context.close();
          await rm(profile, { recursive: true, force: true });
        }
      }
      const r = results[results.length - 1]!;
      console.log(
        `run ${run + 1}: click → first image ${r.firstImage.toFixed(0)} ms, all ${r.images} slices ${r.allLoaded.toFixed(0)} ms; cold page → first image ${r.coldFirstImage.toFixed(0)} ms, all ${r.coldAllLoaded.toFixed(0)} ms`,
      );
    }
    const m = (key: keyof Run) => median(results.map((r) => r[key])).toFixed(0);
    console.log(`\nmedian of ${runs} runs, ${slices}-slice CT (512x512, 16-bit, uncompressed), loopback, headless Chromium:`);
    console.log(`  click → first image:     ${m('firstImage')} ms`);
    console.log(`  click → all slices:      ${m('allLoaded')} ms`);
    console.log(`  cold page → first image: ${m('coldFirstImage')} ms`);
    console.log(`  cold page → all slices:  ${m('coldAllLoaded')} ms`);
  } finally {
    await server.close();
  }
} finally {
  await rm(dataDir, { recursive: true, force: true });
}

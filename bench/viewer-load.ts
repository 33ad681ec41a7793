/**
 * Viewer load time on loopback: a synthetic CT (../shared/bench/gen.js, 512×512 16-bit
 * slices) is stored by STOW-RS by a township technologist into a server started in this
 * process, and opened in headless Chromium. Modes (--modes, all by default):
 *
 *   - claim (issue 14's figure): the technologist submits a reading request for the CT
 *     (REST, as the township screen does); a radiologist, logged in through the login screen
 *     with the worklist open in a fresh browser profile, clicks 领取 on the row; the time runs
 *     from that click (the claim POST, the navigation to the reading page, its lazy code,
 *     the request's detail, the viewer's start) to the viewer's `yunying:first-image` event
 *     in the reading page, and on to `yunying:all-loaded`. Then the claim is released (REST),
 *     the tab goes back to the worklist (no reload) and claims it again: "claim again" is the
 *     same with the code and the HTTP cache warm.
 *   - prefetch: as claim, but the reading page's code (its lazy chunk, which brings the
 *     4.3 MB viewer chunk) is imported in the worklist page before the click, as a prefetch on
 *     the worklist would do: what the first claim would cost with the code already loaded.
 *   - click: viewer-test.html with the page and code loaded; from the click that mounts the
 *     viewer to the first image / all slices (the viewer alone, issue 6's figure).
 *   - cold: viewer-test.html from navigation start (page, bundle and viewer all cold).
 *
 * Each run uses a fresh browser profile (no HTTP cache). Prints the runs and their medians.
 * Not a test.
 *
 *   cd packages/web && npx vite build --outDir /tmp/web-dist
 *   node bench/viewer-load.ts [--slices 300] [--runs 5] [--modes claim,prefetch,click,cold] [--claim-at-once] [--web-dist packages/web/dist]
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { chromium, type Page } from 'playwright-core';
import { startListeningServer } from '../packages/server/src/test-support/listening-server.ts';
import { TEST_ADMIN_PASSWORD } from '../packages/server/src/test-support/admin-auth.ts';

const { values: options } = parseArgs({
  options: {
    slices: { type: 'string', default: '300' },
    runs: { type: 'string', default: '5' },
    'web-dist': { type: 'string', default: path.resolve(import.meta.dirname, '../packages/web/dist') },
    seed: { type: 'string', default: '7' },
    modes: { type: 'string', default: 'claim,prefetch,click,cold' },
    /** click 领取 the moment the row shows, without waiting for the worklist's prefetch */
    'claim-at-once': { type: 'boolean', default: false },
  },
});
const waitForPrefetch = !options['claim-at-once'];
const MODES = ['claim', 'prefetch', 'click', 'cold'] as const;
type Mode = (typeof MODES)[number];
const modes = options.modes!.split(',').map((m) => m.trim()) as Mode[];
for (const mode of modes) if (!MODES.includes(mode)) throw new Error(`--modes: ${mode}? (${MODES.join(', ')})`);
const slices = Number(options.slices);
const runs = Number(options.runs);
const webDist = path.resolve(options['web-dist']!);
if (!existsSync(path.join(webDist, 'viewer-test.html'))) throw new Error(`no viewer-test.html in ${webDist}: npm run build -w packages/web`);
/** the reading page's lazy chunk in the build (for --modes prefetch) */
const readingChunk = (await readdir(path.join(webDist, 'assets'))).find((name) => /^ReadingPage-.*\.js$/.test(name));

const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const GEN = path.resolve(import.meta.dirname, '../../shared/bench/gen.js');

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile() && e.name.endsWith('.dcm')).map((e) => path.join(e.parentPath, e.name)).sort();
}

/** What the page code below touches (this file is type-checked without the DOM library). */
interface PageGlobals {
  benchTimes: Record<string, number | undefined>;
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
    const login = async (username: string, password: string): Promise<string> => {
      const response = await fetch(`${server.baseUrl}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username, password }) });
      if (response.status !== 200) throw new Error(`login ${username}: HTTP ${response.status}`);
      return ((await response.json()) as { token: string }).token;
    };
    const call = async <T>(token: string, method: string, url: string, body?: unknown): Promise<T> => {
      const response = await fetch(`${server.baseUrl}${url}`, { method, headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) }, body: body ? JSON.stringify(body) : undefined });
      const text = await response.text();
      if (!response.ok) throw new Error(`${method} ${url}: HTTP ${response.status} ${text}`);
      return (text ? JSON.parse(text) : undefined) as T;
    };
    const adminToken = await login('admin', TEST_ADMIN_PASSWORD);
    // A county reading centre and its township; a technologist there, a radiologist at the centre.
    await call(adminToken, 'POST', '/api/v1/institutions', { id: 'ks-county', name: '昆山市第一人民医院', tier: 'county', grade: 3 });
    await call(adminToken, 'POST', '/api/v1/institutions', { id: 'ks-t1', name: '周市镇卫生院', tier: 'township', grade: 1, parentId: 'ks-county' });
    await call(adminToken, 'PUT', '/api/v1/institutions/ks-county/members/ks-t1');
    const PASSWORD = 'Viewer-Bench-2026';
    await call(adminToken, 'POST', '/api/v1/users', { username: 'tech1', password: PASSWORD, role: 'technologist', institutionId: 'ks-t1', displayName: '李技师' });
    await call(adminToken, 'POST', '/api/v1/users', { username: 'rad1', password: PASSWORD, role: 'radiologist', institutionId: 'ks-county', displayName: '赵医生' });
    const techToken = await login('tech1', PASSWORD);
    const radToken = await login('rad1', PASSWORD);

    const storeStarted = performance.now();
    for (let i = 0; i < files.length; i += 25) {
      const boundary = `bench-${randomBytes(6).toString('hex')}`;
      const chunks: Buffer[] = [];
      for (const file of files.slice(i, i + 25)) chunks.push(Buffer.from(`\r\n--${boundary}\r\nContent-Type: application/dicom\r\n\r\n`), await readFile(file));
      chunks.push(Buffer.from(`\r\n--${boundary}--\r\n`));
      const response = await fetch(`${server.baseUrl}/dicom-web/studies`, {
        method: 'POST',
        headers: { authorization: `Bearer ${techToken}`, 'content-type': `multipart/related; type="application/dicom"; boundary=${boundary}` },
        body: Buffer.concat(chunks),
      });
      if (response.status !== 200) throw new Error(`STOW-RS: HTTP ${response.status} ${await response.text()}`);
    }
    const bytes = (await Promise.all(files.map((f) => readFile(f).then((b) => b.length)))).reduce((a, b) => a + b, 0);
    console.log(`stored ${files.length} CT slices (${(bytes / 1e6).toFixed(0)} MB) in ${((performance.now() - storeStarted) / 1000).toFixed(1)} s`);
    // The township asks for the read, as its screen's form does.
    const request = await call<{ id: string }>(techToken, 'POST', '/api/v1/reading-requests', { studyInstanceUid: study, priority: 'urgent', clinicalHistory: '咳嗽两周，胸痛', bodyParts: ['CHEST'], imagesComplete: true });

    // ------------------------------------------------------------ the runs
    type Times = Record<string, number | undefined>;
    const results: Array<Record<string, number>> = [];
    const withBrowser = async <T>(fn: (page: Page) => Promise<T>): Promise<T> => {
      const profile = await mkdtemp(path.join(tmpdir(), 'yunying-viewer-bench-chromium-'));
      const context = await chromium.launchPersistentContext(profile, { executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS, viewport: { width: 1920, height: 1080 }, locale: 'zh-CN' });
      try {
        const page = context.pages()[0] ?? (await context.newPage());
        page.setDefaultTimeout(120_000);
        // page-side listeners as a string (this file is type-checked without the DOM library)
        await page.addInitScript(`
          window.benchTimes = {};
          window.addEventListener('yunying:first-image', (e) => {
            window.benchTimes.firstImage = performance.now();
            // the viewer's own start (its controller's clock): first image minus the ms it reports
            window.benchTimes.viewerStart = window.benchTimes.firstImage - e.detail.ms;
          });
          window.addEventListener('yunying:all-loaded', (e) => {
            window.benchTimes.allLoaded = performance.now();
            window.benchTimes.images = e.detail.images;
          });
          // the claim button's click, at dispatch (before React's handler posts the claim)
          document.addEventListener('click', (e) => {
            if (e.target instanceof Element && e.target.closest('[data-testid="claim"]')) window.benchTimes.claim = performance.now();
          }, true);
        `);
        return await fn(page);
      } finally {
        await context.close();
        await rm(profile, { recursive: true, force: true });
      }
    };
    const times = (page: Page) => page.evaluate(() => (globalThis as unknown as PageGlobals).benchTimes as Times);
    const loaded = async (page: Page) => {
      await page.waitForFunction(() => (globalThis as unknown as PageGlobals).benchTimes.allLoaded !== undefined, undefined, { timeout: 120_000 });
      const state = await page.getByTestId('study-viewer').first().getAttribute('data-state');
      if (state !== 'loaded') throw new Error(`viewer state ${state}`);
      return times(page);
    };
    /** From the worklist (open, the row on it): click 领取, wait for the first image and all slices. */
    const claimOnce = async (page: Page) => {
      const row = page.locator(`[data-testid="worklist"] tr[data-request-id="${request.id}"]`);
      await row.getByTestId('claim').waitFor();
      // A radiologist looks at the list before claiming: the worklist's idle prefetch of the
      // reading page's code and Cornerstone's start (app/reading-page-chunk.ts) is done by then.
      if (waitForPrefetch) await page.locator('html[data-reading-page-prefetched="yes"]').waitFor({ state: 'attached', timeout: 15_000 });
      await page.evaluate(() => ((globalThis as unknown as PageGlobals).benchTimes = {}));
      await row.getByTestId('claim').click();
      await page.getByTestId('reading-page').waitFor();
      const t = await loaded(page);
      await call(radToken, 'POST', `/api/v1/reading-requests/${request.id}/release`);
      return { firstImage: t.firstImage! - t.claim!, viewerStart: t.viewerStart! - t.claim!, allLoaded: t.allLoaded! - t.claim!, images: t.images! };
    };

    for (let run = 0; run < runs; run++) {
      const r: Record<string, number> = {};
      /** Signs in through the login screen and waits for the worklist. */
      const signIn = async (page: Page) => {
        await page.goto(`${server.baseUrl}/`);
        await page.getByTestId('login-username').fill('rad1');
        await page.getByTestId('login-password').fill(PASSWORD);
        await page.getByTestId('login-submit').click();
        await page.getByTestId('worklist').waitFor();
      };
      if (modes.includes('claim')) {
        await withBrowser(async (page) => {
          await signIn(page);
          const first = await claimOnce(page);
          r.claimFirstImage = first.firstImage;
          r.claimViewerStart = first.viewerStart;
          r.claimAllLoaded = first.allLoaded;
          r.images = first.images;
          // back to the worklist in the same tab (the app's own navigation, no reload), claim again
          await page.goBack();
          await page.getByTestId('worklist').waitFor();
          const again = await claimOnce(page);
          r.againFirstImage = again.firstImage;
          r.againViewerStart = again.viewerStart;
          r.againAllLoaded = again.allLoaded;
        });
      }
      if (modes.includes('prefetch')) {
        if (!readingChunk) throw new Error(`no ReadingPage-*.js in ${webDist}/assets`);
        await withBrowser(async (page) => {
          await signIn(page);
          // the same module URL the app's lazy() imports, so that the app finds it loaded
          await page.evaluate(`import('/assets/${readingChunk}').then(() => true)`);
          const first = await claimOnce(page);
          r.prefetchFirstImage = first.firstImage;
          r.prefetchViewerStart = first.viewerStart;
          r.prefetchAllLoaded = first.allLoaded;
        });
      }
      for (const mode of ['click', 'cold'] as const) {
        if (!modes.includes(mode)) continue;
        await withBrowser(async (page) => {
          const url = `${server.baseUrl}/viewer-test.html?study=${study}${mode === 'click' ? '&mount=click' : ''}#token=${encodeURIComponent(adminToken)}`;
          await page.goto(url);
          if (mode === 'click') {
            await page.getByTestId('mount-viewer').waitFor();
            await page.evaluate(() => {
              const page = globalThis as unknown as PageGlobals;
              page.benchTimes.click = performance.now();
              page.document.querySelector('[data-testid="mount-viewer"]')!.click();
            });
          }
          const t = await loaded(page);
          r.images = t.images!;
          if (mode === 'click') {
            r.clickFirstImage = t.firstImage! - t.click!;
            r.clickAllLoaded = t.allLoaded! - t.click!;
          } else {
            r.coldFirstImage = t.firstImage!;
            r.coldAllLoaded = t.allLoaded!;
          }
        });
      }
      results.push(r);
      const f = (key: string) => `${r[key]!.toFixed(0)} ms`;
      const parts: string[] = [];
      if (r.claimFirstImage !== undefined) parts.push(`claim → first image ${f('claimFirstImage')} (viewer started at ${f('claimViewerStart')}), all ${f('claimAllLoaded')}`, `claim again → first image ${f('againFirstImage')} (viewer started at ${f('againViewerStart')})`);
      if (r.prefetchFirstImage !== undefined) parts.push(`code prefetched, claim → first image ${f('prefetchFirstImage')} (viewer started at ${f('prefetchViewerStart')}), all ${f('prefetchAllLoaded')}`);
      if (r.clickFirstImage !== undefined) parts.push(`click → first image ${f('clickFirstImage')}, all ${f('clickAllLoaded')}`);
      if (r.coldFirstImage !== undefined) parts.push(`cold page → first image ${f('coldFirstImage')}, all ${f('coldAllLoaded')}`);
      console.log(`run ${run + 1} (${r.images} slices): ${parts.join('; ')}`);
    }
    const line = (label: string, key: string) => {
      const values = results.map((r) => r[key]).filter((v): v is number => v !== undefined);
      if (values.length) console.log(`  ${label.padEnd(38)} ${median(values).toFixed(0).padStart(6)} ms  (${Math.min(...values).toFixed(0)}–${Math.max(...values).toFixed(0)})`);
    };
    console.log(`\nmedian of ${runs} runs (min–max), ${slices}-slice CT (512x512, 16-bit, uncompressed), loopback, headless Chromium:`);
    line('claim → first image:', 'claimFirstImage');
    line('  of which claim → viewer started:', 'claimViewerStart');
    line('claim → all slices:', 'claimAllLoaded');
    line('code prefetched, claim → first image:', 'prefetchFirstImage');
    line('  of which claim → viewer started:', 'prefetchViewerStart');
    line('code prefetched, claim → all slices:', 'prefetchAllLoaded');
    line('claim again (warm) → first image:', 'againFirstImage');
    line('  of which claim → viewer started:', 'againViewerStart');
    line('click → first image:', 'clickFirstImage');
    line('click → all slices:', 'clickAllLoaded');
    line('cold page → first image:', 'coldFirstImage');
    line('cold page → all slices:', 'coldAllLoaded');
  } finally {
    await server.close();
  }
} finally {
  await rm(dataDir, { recursive: true, force: true });
}

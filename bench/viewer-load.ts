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
 * --web-dist takes one build or several, comma-separated (e.g. before and after a change):
 * each is served by its own server (the CT stored in each), and every run does every mode on
 * each build in turn, so their figures come from the same run on the same machine load.
 * --down-mbit / --latency-ms throttle the browser's network through CDP
 * (Network.emulateNetworkConditions, --up-mbit up, the same as down unless given) from the
 * first navigation on: the login, the worklist, the code and the study all cross the
 * emulated link. Each mode also reports the bytes the page received (resource timing's
 * transferSize) from its start to the first image.
 *
 *   cd packages/web && npx vite build --outDir /tmp/web-dist
 *   node bench/viewer-load.ts [--slices 300] [--runs 5] [--modes claim,prefetch,click,cold] [--claim-at-once]
 *     [--web-dist packages/web/dist[,/tmp/other-dist…]] [--down-mbit 4 --latency-ms 100 [--up-mbit 4]]
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
    /** network emulation (CDP); none unless --down-mbit is given */
    'down-mbit': { type: 'string' },
    'up-mbit': { type: 'string' },
    'latency-ms': { type: 'string', default: '0' },
    /** stop each mode at the first image (a throttled link takes minutes for all 158 MB) */
    'first-image-only': { type: 'boolean', default: false },
    /** print the requests of each click-mode run up to the first image (start, end, bytes) */
    waterfall: { type: 'boolean', default: false },
  },
});
const firstImageOnly = options['first-image-only']!;
const throttle = options['down-mbit'] === undefined ? undefined : { downMbit: Number(options['down-mbit']), upMbit: Number(options['up-mbit'] ?? options['down-mbit']), latencyMs: Number(options['latency-ms']) };
const waitForPrefetch = !options['claim-at-once'];
const MODES = ['claim', 'prefetch', 'click', 'cold'] as const;
type Mode = (typeof MODES)[number];
const modes = options.modes!.split(',').map((m) => m.trim()) as Mode[];
for (const mode of modes) if (!MODES.includes(mode)) throw new Error(`--modes: ${mode}? (${MODES.join(', ')})`);
const slices = Number(options.slices);
const runs = Number(options.runs);
const webDists = options['web-dist']!.split(',').map((dist) => path.resolve(dist.trim()));
for (const webDist of webDists) if (!existsSync(path.join(webDist, 'viewer-test.html'))) throw new Error(`no viewer-test.html in ${webDist}: npm run build -w packages/web`);

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

  // ------------------------------------------------------------ the servers, one per build
  const PASSWORD = 'Viewer-Bench-2026';
  /** A server for one build, with the county centre, its township, the CT and its reading request. */
  const setUp = async (webDist: string) => {
    const server = await startListeningServer({ YUNYING_WEB_DIST: webDist });
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
    console.log(`${webDist}: stored ${files.length} CT slices (${(bytes / 1e6).toFixed(0)} MB) in ${((performance.now() - storeStarted) / 1000).toFixed(1)} s`);
    // The township asks for the read, as its screen's form does.
    const request = await call<{ id: string }>(techToken, 'POST', '/api/v1/reading-requests', { studyInstanceUid: study, priority: 'urgent', clinicalHistory: '咳嗽两周，胸痛', bodyParts: ['CHEST'], imagesComplete: true });
    /** the reading page's lazy chunk in the build (for --modes prefetch) */
    const readingChunk = (await readdir(path.join(webDist, 'assets'))).find((name) => /^ReadingPage-.*\.js$/.test(name));
    return { webDist, server, call, adminToken, radToken, request, readingChunk };
  };
  type Target = Awaited<ReturnType<typeof setUp>>;
  const targets: Target[] = [];
  try {
    for (const webDist of webDists) targets.push(await setUp(webDist));

    // ------------------------------------------------------------ the runs
    type Times = Record<string, number | undefined>;
    const results: Array<Array<Record<string, number | undefined>>> = targets.map(() => []);
    const withBrowser = async <T>(fn: (page: Page) => Promise<T>): Promise<T> => {
      const profile = await mkdtemp(path.join(tmpdir(), 'yunying-viewer-bench-chromium-'));
      const context = await chromium.launchPersistentContext(profile, { executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS, viewport: { width: 1920, height: 1080 }, locale: 'zh-CN' });
      try {
        const page = context.pages()[0] ?? (await context.newPage());
        page.setDefaultTimeout(120_000);
        if (throttle) {
          const cdp = await context.newCDPSession(page);
          await cdp.send('Network.enable');
          await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: throttle.latencyMs, downloadThroughput: (throttle.downMbit * 1_000_000) / 8, uploadThroughput: (throttle.upMbit * 1_000_000) / 8 });
        }
        // page-side listeners as a string (this file is type-checked without the DOM library)
        await page.addInitScript(`
          window.benchTimes = {};
          window.addEventListener('yunying:first-image', (e) => {
            window.benchTimes.firstImage = performance.now();
            // the viewer's own start (its controller's clock): first image minus the ms it reports
            window.benchTimes.viewerStart = window.benchTimes.firstImage - e.detail.ms;
            // bytes received by the page (navigation and resources) that ended before the first image
            // and started after the clock's start (benchTimes.from: 0 for a cold page)
            const from = window.benchTimes.from ?? 0;
            const entries = [...performance.getEntriesByType('navigation'), ...performance.getEntriesByType('resource')];
            window.benchTimes.bytesBeforeFirstImage = entries.filter((r) => r.startTime >= from && r.responseEnd <= window.benchTimes.firstImage).reduce((sum, r) => sum + (r.transferSize || 0), 0);
            window.benchTimes.codeBytesBeforeFirstImage = entries.filter((r) => r.startTime >= from && r.responseEnd <= window.benchTimes.firstImage && /\\.(js|wasm)$/.test(new URL(r.name).pathname)).reduce((sum, r) => sum + (r.transferSize || 0), 0);
          });
          window.addEventListener('yunying:all-loaded', (e) => {
            window.benchTimes.allLoaded = performance.now();
            window.benchTimes.images = e.detail.images;
          });
          // the claim button's click, at dispatch (before React's handler posts the claim)
          document.addEventListener('click', (e) => {
            if (e.target instanceof Element && e.target.closest('[data-testid="claim"]')) window.benchTimes.claim = window.benchTimes.from = performance.now();
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
      if (firstImageOnly) {
        await page.waitForFunction(() => (globalThis as unknown as PageGlobals).benchTimes.firstImage !== undefined, undefined, { timeout: 300_000 });
        return times(page);
      }
      await page.waitForFunction(() => (globalThis as unknown as PageGlobals).benchTimes.allLoaded !== undefined, undefined, { timeout: 300_000 });
      const state = await page.getByTestId('study-viewer').first().getAttribute('data-state');
      if (state !== 'loaded') throw new Error(`viewer state ${state}`);
      return times(page);
    };
    /** From the worklist (open, the row on it): click 领取, wait for the first image and all slices. */
    const claimOnce = async (target: Target, page: Page) => {
      const row = page.locator(`[data-testid="worklist"] tr[data-request-id="${target.request.id}"]`);
      await row.getByTestId('claim').waitFor();
      // A radiologist looks at the list before claiming: the worklist's idle prefetch of the
      // reading page's code and Cornerstone's start (app/reading-page-chunk.ts) is done by then.
      if (waitForPrefetch) await page.locator('html[data-reading-page-prefetched="yes"]').waitFor({ state: 'attached', timeout: throttle ? 120_000 : 15_000 });
      await page.evaluate(() => ((globalThis as unknown as PageGlobals).benchTimes = {}));
      await row.getByTestId('claim').click();
      await page.getByTestId('reading-page').waitFor();
      const t = await loaded(page);
      await target.call(target.radToken, 'POST', `/api/v1/reading-requests/${target.request.id}/release`);
      return { firstImage: t.firstImage! - t.claim!, viewerStart: t.viewerStart! - t.claim!, allLoaded: t.allLoaded === undefined ? undefined : t.allLoaded - t.claim!, images: t.images, bytes: t.bytesBeforeFirstImage!, codeBytes: t.codeBytesBeforeFirstImage! };
    };

    const runModes = async (target: Target): Promise<Record<string, number | undefined>> => {
      const { server, adminToken } = target;
      const r: Record<string, number | undefined> = {};
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
          const first = await claimOnce(target, page);
          r.claimFirstImage = first.firstImage;
          r.claimViewerStart = first.viewerStart;
          r.claimAllLoaded = first.allLoaded;
          r.claimBytes = first.bytes;
          r.claimCodeBytes = first.codeBytes;
          r.images = first.images;
          // back to the worklist in the same tab (the app's own navigation, no reload), claim again
          await page.goBack();
          await page.getByTestId('worklist').waitFor();
          const again = await claimOnce(target, page);
          r.againFirstImage = again.firstImage;
          r.againViewerStart = again.viewerStart;
          r.againAllLoaded = again.allLoaded;
        });
      }
      if (modes.includes('prefetch')) {
        if (!target.readingChunk) throw new Error(`no ReadingPage-*.js in ${target.webDist}/assets`);
        await withBrowser(async (page) => {
          await signIn(page);
          // the same module URL the app's lazy() imports, so that the app finds it loaded
          await page.evaluate(`import('/assets/${target.readingChunk}').then(() => true)`);
          const first = await claimOnce(target, page);
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
              page.benchTimes.click = page.benchTimes.from = performance.now();
              page.document.querySelector('[data-testid="mount-viewer"]')!.click();
            });
          }
          const t = await loaded(page);
          if (options.waterfall && mode === 'click') {
            const rows = (await page.evaluate(`performance.getEntriesByType('resource').filter((r) => r.startTime >= window.benchTimes.click && r.responseEnd <= window.benchTimes.firstImage)
              .map((r) => [r.startTime - window.benchTimes.click, r.responseEnd - window.benchTimes.click, r.transferSize, new URL(r.name).pathname.replace(/[0-9.]{20,}/g, '…')])`)) as Array<[number, number, number, string]>;
            for (const [start, end, size, name] of rows) console.log(`    ${start.toFixed(0).padStart(6)}–${end.toFixed(0).padEnd(6)} ms ${(size / 1000).toFixed(1).padStart(7)} kB  ${name}`);
            console.log(`    first image at ${(t.firstImage! - t.click!).toFixed(0)} ms`);
          }
          r.images = t.images;
          if (mode === 'click') {
            r.clickFirstImage = t.firstImage! - t.click!;
            r.clickAllLoaded = t.allLoaded === undefined ? undefined : t.allLoaded - t.click!;
            r.clickBytes = t.bytesBeforeFirstImage!;
            r.clickCodeBytes = t.codeBytesBeforeFirstImage!;
          } else {
            r.coldFirstImage = t.firstImage!;
            r.coldAllLoaded = t.allLoaded;
            r.coldBytes = t.bytesBeforeFirstImage!;
            r.coldCodeBytes = t.codeBytesBeforeFirstImage!;
          }
        });
      }
      return r;
    };

    for (let run = 0; run < runs; run++) {
      for (const [index, target] of targets.entries()) {
        const r = await runModes(target);
        results[index]!.push(r);
        const f = (key: string) => (r[key] === undefined ? '—' : `${r[key].toFixed(0)} ms`);
        const kb = (key: string) => (r[key] === undefined ? '—' : `${(r[key] / 1000).toFixed(0)} kB`);
        const parts: string[] = [];
        if (r.claimFirstImage !== undefined) parts.push(`claim → first image ${f('claimFirstImage')} (viewer started at ${f('claimViewerStart')}; ${kb('claimBytes')} received, ${kb('claimCodeBytes')} of code), all ${f('claimAllLoaded')}`, `claim again → first image ${f('againFirstImage')} (viewer started at ${f('againViewerStart')})`);
        if (r.prefetchFirstImage !== undefined) parts.push(`code prefetched, claim → first image ${f('prefetchFirstImage')} (viewer started at ${f('prefetchViewerStart')}), all ${f('prefetchAllLoaded')}`);
        if (r.clickFirstImage !== undefined) parts.push(`click → first image ${f('clickFirstImage')} (${kb('clickBytes')} received, ${kb('clickCodeBytes')} of code), all ${f('clickAllLoaded')}`);
        if (r.coldFirstImage !== undefined) parts.push(`cold page → first image ${f('coldFirstImage')} (${kb('coldBytes')} received, ${kb('coldCodeBytes')} of code), all ${f('coldAllLoaded')}`);
        console.log(`run ${run + 1}${targets.length > 1 ? ` [${index + 1}: ${target.webDist}]` : ''} (${r.images ?? '?'} slices${firstImageOnly ? ', first image only' : ''}): ${parts.join('; ')}`);
      }
    }
    const network = throttle ? `${throttle.downMbit} Mbit/s down, ${throttle.upMbit} Mbit/s up, ${throttle.latencyMs} ms latency (CDP)` : 'loopback';
    console.log(`\nmedian of ${runs} runs (min–max), ${slices}-slice CT (512x512, 16-bit, uncompressed), ${network}, headless Chromium:`);
    if (targets.length > 1) console.log(targets.map((t, i) => `  [${i + 1}] ${t.webDist}`).join('\n'));
    const line = (label: string, key: string, unit: 'ms' | 'kB' = 'ms') => {
      const cells = results.map((rs) => {
        const values = rs.map((r) => r[key]).filter((v): v is number => v !== undefined).map((v) => (unit === 'kB' ? v / 1000 : v));
        return values.length ? `${median(values).toFixed(0).padStart(6)} ${unit}  (${Math.min(...values).toFixed(0)}–${Math.max(...values).toFixed(0)})` : undefined;
      });
      if (cells.some((c) => c !== undefined)) console.log(`  ${label.padEnd(38)} ${cells.map((c, i) => `${targets.length > 1 ? `[${i + 1}] ` : ''}${(c ?? '—').padEnd(26)}`).join(' ')}`);
    };
    line('claim → first image:', 'claimFirstImage');
    line('  of which claim → viewer started:', 'claimViewerStart');
    line('  received before the first image:', 'claimBytes', 'kB');
    line('  of which code (.js, .wasm):', 'claimCodeBytes', 'kB');
    line('claim → all slices:', 'claimAllLoaded');
    line('code prefetched, claim → first image:', 'prefetchFirstImage');
    line('  of which claim → viewer started:', 'prefetchViewerStart');
    line('code prefetched, claim → all slices:', 'prefetchAllLoaded');
    line('claim again (warm) → first image:', 'againFirstImage');
    line('  of which claim → viewer started:', 'againViewerStart');
    line('click → first image:', 'clickFirstImage');
    line('  received before the first image:', 'clickBytes', 'kB');
    line('  of which code (.js, .wasm):', 'clickCodeBytes', 'kB');
    line('click → all slices:', 'clickAllLoaded');
    line('cold page → first image:', 'coldFirstImage');
    line('  received before the first image:', 'coldBytes', 'kB');
    line('  of which code (.js, .wasm):', 'coldCodeBytes', 'kB');
    line('cold page → all slices:', 'coldAllLoaded');
  } finally {
    for (const target of targets) await target.server.close();
  }
} finally {
  await rm(dataDir, { recursive: true, force: true });
}

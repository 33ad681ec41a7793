/**
 * Time to first image of the cloud-film page on a slow phone connection (issue 7; goal < 2 s).
 *
 *   node --import tsx bench/cloud-film-load.ts [--slices 100] [--runs 5] [--down-mbit 4] [--latency-ms 100]
 *
 * Starts the platform in this process (embedded SQLite + files), stores a CT series from
 * ../shared/bench/gen.js (512×512, 16-bit), signs a report through the reading API, creates
 * a link with an access code, unlocks it once in headless Chromium (360×740 at 2×, touch), and
 * then, with the network throttled through CDP (Network.emulateNetworkConditions:
 * --down-mbit down, 1 Mbit/s up, --latency-ms), loads the page --runs times with a cold
 * connection each time. It reports, per run: the time from navigation start to the first
 * image painted (the page script's load event of the viewer image), the HTML bytes and the
 * first image's bytes; and the time to the full-fidelity image after tapping HD.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { chromium } from 'playwright-core';
import { createFixture, generateCt, signReport, startShareServer, storeAs } from '../packages/server/src/share/share-test-support.ts';

const { values } = parseArgs({ options: { slices: { type: 'string', default: '100' }, runs: { type: 'string', default: '5' }, 'down-mbit': { type: 'string', default: '4' }, 'latency-ms': { type: 'string', default: '100' } } });
const slices = Number(values.slices);
const runs = Number(values.runs);
const downMbit = Number(values['down-mbit']);
const latencyMs = Number(values['latency-ms']);
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

const app = await startShareServer();
const userDataDir = await mkdtemp(path.join(tmpdir(), 'yunying-bench-chromium-'));
try {
  const fixture = await createFixture(app.baseUrl);
  const ct = await generateCt(slices);
  await storeAs(app.server, fixture.client.tokens.tech!, ct.files.values());
  await signReport(fixture, ct.studyInstanceUid, { findings: '双肺纹理清晰，未见明确实质性病变。纵隔居中，心影不大。', impression: '胸部CT平扫未见明显异常。' });
  const link = (await fixture.client.call<{ url: string; accessCode: string }>('tech', 'POST', '/api/v1/share-links', { studyInstanceUid: ct.studyInstanceUid })).body;
  const url = `${app.baseUrl}${new URL(link.url).pathname}`;

  const context = await chromium.launchPersistentContext(userDataDir, { executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS, viewport: { width: 360, height: 740 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true });
  const page = await context.newPage();
  await page.goto(url);
  await page.locator('#code').fill(link.accessCode);
  await Promise.all([page.waitForEvent('load'), page.locator('#unlock-submit').click()]);
  await page.locator('#findings').waitFor();

  const cdp = await context.newCDPSession(page);
  await cdp.send('Network.enable');
  await cdp.send('Network.setCacheDisabled', { cacheDisabled: true });
  await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: latencyMs, downloadThroughput: (downMbit * 1_000_000) / 8, uploadThroughput: 1_000_000 / 8 });
  const sizes = new Map<string, number>();
  cdp.on('Network.loadingFinished', (event: { requestId: string; encodedDataLength: number }) => sizes.set(event.requestId, event.encodedDataLength));
  const urls = new Map<string, string>();
  cdp.on('Network.requestWillBeSent', (event: { requestId: string; request: { url: string } }) => urls.set(event.requestId, event.request.url));

  type Dom = { __filmFirstImage?: number; document: { getElementById(id: string): { click(): void; dataset: Record<string, string | undefined>; complete: boolean } | null }; performance: { now(): number } };
  const results: Array<{ firstImageMs: number; htmlBytes: number; imageBytes: number; hdMs: number }> = [];
  for (let run = 0; run < runs; run++) {
    // a cold connection each time: the patient opens the QR code once
    await cdp.send('Network.clearBrowserCache');
    await context.clearCookies().catch(() => undefined);
    sizes.clear();
    urls.clear();
    // unlock again without throttling noise on the measured load: the session cookie is set by a POST
    await page.goto(url);
    if (await page.locator('#code').count()) {
      await page.locator('#code').fill(link.accessCode);
      await Promise.all([page.waitForEvent('load'), page.locator('#unlock-submit').click()]);
    }
    sizes.clear();
    urls.clear();
    await page.goto('about:blank');
    await page.goto(url, { waitUntil: 'commit' });
    await page.waitForFunction(() => (globalThis as unknown as Dom).__filmFirstImage !== undefined, undefined, { timeout: 30_000 });
    const firstImageMs = await page.evaluate(() => (globalThis as unknown as Dom).__filmFirstImage!);
    await page.waitForLoadState('load');
    const byUrl = [...urls].map(([id, u]) => ({ u, bytes: sizes.get(id) ?? 0 }));
    const htmlBytes = byUrl.find((r) => new URL(r.u).pathname === new URL(url).pathname)?.bytes ?? 0;
    const imageBytes = byUrl.find((r) => r.u.includes('fidelity=small'))?.bytes ?? 0;
    const hdStart = await page.evaluate(() => (globalThis as unknown as Dom).performance.now());
    await page.evaluate(() => (globalThis as unknown as Dom).document.getElementById('hd')!.click());
    await page.waitForFunction(() => {
      const img = (globalThis as unknown as Dom).document.getElementById('view-img')!;
      return (img.dataset.url ?? '').includes('fidelity=full') && img.complete;
    }, undefined, { timeout: 30_000 });
    const hdMs = (await page.evaluate(() => (globalThis as unknown as Dom).performance.now())) - hdStart;
    results.push({ firstImageMs: Math.round(firstImageMs), htmlBytes, imageBytes, hdMs: Math.round(hdMs) });
  }
  await context.close();
  const sorted = results.map((r) => r.firstImageMs).sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)]!;
  console.log(JSON.stringify({ slices, runs, downMbit, latencyMs, results, medianFirstImageMs: median, maxFirstImageMs: sorted.at(-1) }, null, 2));
  console.log(`time to first image: median ${median} ms, worst ${sorted.at(-1)} ms over ${runs} cold loads (${downMbit} Mbit/s, ${latencyMs} ms latency, ${slices}-slice CT)`);
} finally {
  await app.close();
  await rm(userDataDir, { recursive: true, force: true });
}

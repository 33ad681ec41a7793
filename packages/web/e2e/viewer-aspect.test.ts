/**
 * Square pixels through every layout change (issue 14, "broken" item 1): a tall CR chest
 * (PixelSpacing 0.2 mm) and a DX (ImagerPixelSpacing 1.2 × 1.2012 mm) are opened in
 * viewer-test.html; after 1×1 → 1×2 → a viewer opened beside (as the reading page opens a
 * prior) → closed → 1×1 → a window resize, at 1920×1080 and 1366×768, in zh-CN and en (the
 * toolbar's labels differ in length, so the panes differ in size), every viewport's
 * canvas must match its CSS box × devicePixelRatio, the image's edges projected through
 * the camera must keep the image's physical aspect ratio within 1.5 %, and an image the
 * reader has not zoomed must be fitted (whole, filling the pane in one direction).
 * Geometry comes from the viewer's test hook window.__yunyingViewers (viewer-controller.ts).
 * Needs packages/web/dist (npm run build:web).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { setTopLevelTextElements } from '@yunying/dicom';
import { startListeningServer, type ListeningServer } from '@yunying/server/test-support/listening-server';
import { TEST_ADMIN_PASSWORD } from '@yunying/server/test-support/admin-auth';
import { readSample } from '@yunying/testing/samples';

const WEB_DIST = process.env.YUNYING_WEB_DIST ?? path.resolve(import.meta.dirname, '../dist');
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const ASPECT_TOLERANCE = 0.015;
/** how long a change may take to settle (a resize is handled on the next animation frame) */
const SETTLE_MS = 5_000;

/** The samples and their physical size from the DICOM header (columns × column spacing, rows × row spacing). */
const IMAGES = [
  { file: 'modality/cr/RG2_JLSN_cr.dcm', widthMm: 1760 * 0.2, heightMm: 2140 * 0.2 },
  { file: 'modality/dx/dx_image.dcm', widthMm: 211 * 1.2, heightMm: 169 * 1.2012 },
];

interface ViewportGeometry {
  slot: number;
  cssWidth: number;
  cssHeight: number;
  canvasWidth: number;
  canvasHeight: number;
  devicePixelRatio: number;
  imageWidthMm: number;
  imageHeightMm: number;
  drawnWidth: number;
  drawnHeight: number;
  zoom: number;
}

let server: ListeningServer;
let context: BrowserContext;
let userDataDir: string;
let token: string;
let study: string;

const freshUid = () => `2.25.${BigInt(`0x${randomBytes(15).toString('hex')}`).toString()}`;

async function storeStudy(): Promise<string> {
  const studyUid = freshUid();
  const boundary = `aspect-${randomBytes(6).toString('hex')}`;
  const chunks: Buffer[] = [];
  for (const { file } of IMAGES) {
    const bytes = setTopLevelTextElements(readSample(file), [
      { tag: 0x0020000d, vr: 'UI', value: studyUid },
      { tag: 0x0020000e, vr: 'UI', value: freshUid() },
      { tag: 0x00080018, vr: 'UI', value: freshUid() },
    ]);
    chunks.push(Buffer.from(`\r\n--${boundary}\r\nContent-Type: application/dicom\r\n\r\n`), bytes);
  }
  chunks.push(Buffer.from(`\r\n--${boundary}--\r\n`));
  const response = await fetch(`${server.baseUrl}/dicom-web/studies`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': `multipart/related; type="application/dicom"; boundary=${boundary}`, accept: 'application/dicom+json' },
    body: Buffer.concat(chunks),
  });
  assert.equal(response.status, 200, await response.text());
  return studyUid;
}

async function geometry(page: Page): Promise<ViewportGeometry[]> {
  return page.evaluate(() => {
    const viewers = (window as unknown as { __yunyingViewers?: Record<string, { geometry: () => unknown[] }> }).__yunyingViewers ?? {};
    return Object.values(viewers).flatMap((v) => v.geometry()) as ViewportGeometry[];
  });
}

/** What is wrong with one viewport's drawing (none when it is right). */
function problemsOf(g: ViewportGeometry, fitted: boolean): string[] {
  const problems: string[] = [];
  const expected = IMAGES.find((image) => Math.abs(image.widthMm - g.imageWidthMm) < 0.5 && Math.abs(image.heightMm - g.imageHeightMm) < 0.5);
  if (!expected) problems.push(`image ${g.imageWidthMm.toFixed(1)}×${g.imageHeightMm.toFixed(1)} mm is not the header's size (pixel spacing not honoured)`);
  if (Math.abs(g.canvasWidth - g.cssWidth * g.devicePixelRatio) > 1.5 || Math.abs(g.canvasHeight - g.cssHeight * g.devicePixelRatio) > 1.5) {
    problems.push(`canvas ${g.canvasWidth}×${g.canvasHeight} for a ${g.cssWidth.toFixed(1)}×${g.cssHeight.toFixed(1)} CSS box at dpr ${g.devicePixelRatio}`);
  }
  const drawn = g.drawnWidth / g.drawnHeight;
  const physical = g.imageWidthMm / g.imageHeightMm;
  if (Math.abs(drawn / physical - 1) > ASPECT_TOLERANCE) problems.push(`drawn aspect ${drawn.toFixed(4)} (${g.drawnWidth.toFixed(1)}×${g.drawnHeight.toFixed(1)} px) vs image ${physical.toFixed(4)}`);
  // nobody zoomed: the whole image shows, filling the pane in one direction
  if (!fitted) return problems.map((p) => `slot ${g.slot}: ${p}`);
  const fill = Math.max(g.drawnWidth / g.cssWidth, g.drawnHeight / g.cssHeight);
  if (g.drawnWidth > g.cssWidth + 2 || g.drawnHeight > g.cssHeight + 2 || fill < 0.9) problems.push(`not fitted: ${g.drawnWidth.toFixed(1)}×${g.drawnHeight.toFixed(1)} px in ${g.cssWidth.toFixed(1)}×${g.cssHeight.toFixed(1)} (zoom ${g.zoom.toFixed(2)})`);
  return problems.map((p) => `slot ${g.slot}: ${p}`);
}

/** Waits until `count` viewports are drawn with square pixels; fails with what is wrong after SETTLE_MS. */
async function assertSquarePixels(page: Page, step: string, count: number, fitted = true): Promise<ViewportGeometry[]> {
  const deadline = Date.now() + SETTLE_MS;
  for (;;) {
    const viewports = await geometry(page);
    const problems = viewports.length === count ? viewports.flatMap((g) => problemsOf(g, fitted)) : [`${viewports.length} viewports drawn, expected ${count}`];
    if (problems.length === 0) return viewports;
    if (Date.now() > deadline) assert.fail(`${step}: ${problems.join('; ')}`);
    await page.waitForTimeout(100);
  }
}

async function openViewer(size: { width: number; height: number }, locale: 'zh-CN' | 'en' = 'zh-CN'): Promise<Page> {
  const page = await context.newPage();
  await page.setViewportSize(size);
  await page.goto(`${server.baseUrl}/viewer-test.html?study=${encodeURIComponent(study)}&side=toggle&locale=${locale}#token=${encodeURIComponent(token)}`);
  await page.locator('[data-testid="study-viewer"][data-state="loaded"]').first().waitFor({ timeout: 30_000 });
  // the toolbar is in the language asked for
  assert.equal((await page.getByTestId('viewer-tool-zoom').first().innerText()).replace(/\s+/g, ''), locale === 'en' ? 'Zoom' : '缩放');
  return page;
}

before(async () => {
  assert.ok(existsSync(path.join(WEB_DIST, 'viewer-test.html')), `build the web app first: npm run build:web (${WEB_DIST})`);
  server = await startListeningServer({ YUNYING_WEB_DIST: WEB_DIST });
  const login = await fetch(`${server.baseUrl}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'admin', password: TEST_ADMIN_PASSWORD }) });
  assert.equal(login.status, 200);
  token = ((await login.json()) as { token: string }).token;
  study = await storeStudy();
  userDataDir = await mkdtemp(path.join(tmpdir(), 'yunying-chromium-aspect-'));
  context = await chromium.launchPersistentContext(userDataDir, { executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: CHROMIUM_ARGS, viewport: { width: 1920, height: 1080 } });
});

after(async () => {
  await context?.close();
  await server?.close();
  if (userDataDir) await rm(userDataDir, { recursive: true, force: true });
});

describe('the viewer keeps square pixels', { timeout: 180_000 }, () => {
  const sizes = [
    { width: 1920, height: 1080, other: { width: 1366, height: 768 } },
    { width: 1366, height: 768, other: { width: 1920, height: 1080 } },
  ];
  for (const { width, height, other } of sizes) for (const locale of ['zh-CN', 'en'] as const) {
    test(`through layout changes, a viewer opened beside and a window resize at ${width}×${height}, ${locale}`, async () => {
      const page = await openViewer({ width, height }, locale);
      try {
        await assertSquarePixels(page, '1×1', 1);
        await page.getByTestId('viewer-layout-1x2').first().click();
        await page.locator('[data-testid="study-viewer"][data-layout="1x2"]').waitFor();
        await assertSquarePixels(page, '1×2', 2);
        await page.getByTestId('toggle-side-viewer').click();
        await page.locator('[data-testid="side-viewer"] [data-testid="study-viewer"][data-state="loaded"]').waitFor({ timeout: 30_000 });
        await assertSquarePixels(page, '1×2 with a viewer beside', 3);
        await page.getByTestId('toggle-side-viewer').click();
        await page.getByTestId('side-viewer').waitFor({ state: 'detached' });
        await assertSquarePixels(page, '1×2 after the viewer beside closed', 2);
        await page.getByTestId('viewer-layout-1x1').first().click();
        await page.locator('[data-testid="study-viewer"][data-layout="1x1"]').waitFor();
        await assertSquarePixels(page, 'back to 1×1', 1);
        await page.setViewportSize(other);
        await assertSquarePixels(page, `window resized to ${other.width}×${other.height}`, 1);
      } finally {
        await page.close();
      }
    });
  }

  test('a zoom the reader set is kept, relative to the fitted image, through a layout change', async () => {
    const page = await openViewer({ width: 1366, height: 768 });
    try {
      await page.getByTestId('viewer-tool-zoom').click();
      const box = (await page.getByTestId('viewer-element').first().boundingBox())!;
      await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
      await page.mouse.down();
      await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2 + 120, { steps: 8 });
      await page.mouse.up();
      const [zoomed] = await assertSquarePixels(page, 'zoomed in 1×1', 1, false);
      assert.ok(zoomed!.zoom > 1.2, `the drag zoomed (${zoomed!.zoom})`);
      await page.getByTestId('viewer-layout-1x2').click();
      await page.locator('[data-testid="study-viewer"][data-layout="1x2"]').waitFor();
      const [after] = await assertSquarePixels(page, 'zoomed, then 1×2', 2, false);
      assert.ok(Math.abs(after!.zoom / zoomed!.zoom - 1) < 0.02, `zoom ${zoomed!.zoom.toFixed(2)} before, ${after!.zoom.toFixed(2)} after`);
    } finally {
      await page.close();
    }
  });
});

/**
 * Viewer basics (issue 14 item 8) in headless Chromium against the real server, at 1920×1080
 * and 1366×768, in 简体中文 and English: a DR study with a PA and a lateral view opens side
 * by side; a CT opens on its axial series (not the localizer, not the coronal reformat with
 * more images) at slice 1; number keys apply the CT presets (the VOI read through the
 * viewer's test hook window.__yunyingViewers) and do nothing on the DR; rotate and flip move
 * the orientation markers; the probe shows HU of a known pixel (stored value × Rescale Slope
 * + Rescale Intercept); synchronised scrolling moves a prior opened beside by position (the
 * prior has 5 mm slices against the current study's 10 mm). The studies are synthetic:
 * DICOM written here with known geometry and pixels, stored by STOW-RS.
 * Needs a web build (npm run build:web, or YUNYING_WEB_DIST).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { TRANSFER_SYNTAX, buildPart10, encodeDataset, type DicomJsonDataset } from '@yunying/dicom';
import { startListeningServer, type ListeningServer } from '@yunying/server/test-support/listening-server';
import { TEST_ADMIN_PASSWORD } from '@yunying/server/test-support/admin-auth';

const WEB_DIST = process.env.YUNYING_WEB_DIST ?? path.resolve(import.meta.dirname, '../dist');
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const TIMEOUT = 30_000;

const CT_IMAGE = '1.2.840.10008.5.1.4.1.1.2';
const DX_IMAGE = '1.2.840.10008.5.1.4.1.1.1.1';
const AXIAL = [1, 0, 0, 0, 1, 0];
const CORONAL = [1, 0, 0, 0, 0, -1];
/** CT pixels: stored 462 left of the middle column, 762 right of it; × 2 − 1024 → −100 HU and 500 HU */
const SLOPE = 2;
const INTERCEPT = -1024;
const SIZE = 64;

const freshUid = () => `2.25.${BigInt(`0x${randomBytes(15).toString('hex')}`).toString()}`;

interface ImageSpec {
  study: string;
  series: string;
  modality: 'CT' | 'DX';
  seriesNumber: number;
  instanceNumber: number;
  description: string;
  frameOfReference: string;
  orientation: number[];
  position: number[];
  imageType?: string;
  viewPosition?: string;
}

function image(spec: ImageSpec): Buffer {
  const sop = freshUid();
  const sopClass = spec.modality === 'CT' ? CT_IMAGE : DX_IMAGE;
  const pixels = new Uint16Array(SIZE * SIZE);
  for (let row = 0; row < SIZE; row++) for (let column = 0; column < SIZE; column++) pixels[row * SIZE + column] = column < SIZE / 2 ? 462 : 762;
  const text = (vr: string, value: string) => ({ vr, Value: [value] });
  const dataset: DicomJsonDataset = {
    '00080008': { vr: 'CS', Value: (spec.imageType ?? 'ORIGINAL\\PRIMARY\\AXIAL').split('\\') },
    '00080016': text('UI', sopClass),
    '00080018': text('UI', sop),
    '00080020': text('DA', '20261203'),
    '00080060': text('CS', spec.modality),
    '0008103E': text('LO', spec.description),
    '00100010': { vr: 'PN', Value: [{ Alphabetic: 'BASICS^TEST' }] },
    '00100020': text('LO', 'PID-BASICS'),
    '00180050': { vr: 'DS', Value: [5] },
    '0020000D': text('UI', spec.study),
    '0020000E': text('UI', spec.series),
    '00200011': { vr: 'IS', Value: [spec.seriesNumber] },
    '00200013': { vr: 'IS', Value: [spec.instanceNumber] },
    '00200032': { vr: 'DS', Value: spec.position },
    '00200037': { vr: 'DS', Value: spec.orientation },
    '00200052': text('UI', spec.frameOfReference),
    '00280002': { vr: 'US', Value: [1] },
    '00280004': text('CS', 'MONOCHROME2'),
    '00280010': { vr: 'US', Value: [SIZE] },
    '00280011': { vr: 'US', Value: [SIZE] },
    '00280030': { vr: 'DS', Value: [0.7, 0.7] },
    '00280100': { vr: 'US', Value: [16] },
    '00280101': { vr: 'US', Value: [12] },
    '00280102': { vr: 'US', Value: [11] },
    '00280103': { vr: 'US', Value: [0] },
    '00281050': { vr: 'DS', Value: [40] },
    '00281051': { vr: 'DS', Value: [400] },
    '00281052': { vr: 'DS', Value: [spec.modality === 'CT' ? INTERCEPT : 0] },
    '00281053': { vr: 'DS', Value: [spec.modality === 'CT' ? SLOPE : 1] },
    '7FE00010': { vr: 'OW', InlineBinary: Buffer.from(pixels.buffer).toString('base64') },
  };
  if (spec.viewPosition) dataset['00185101'] = text('CS', spec.viewPosition);
  return buildPart10(encodeDataset(dataset, TRANSFER_SYNTAX.EXPLICIT_LE), { transferSyntaxUid: TRANSFER_SYNTAX.EXPLICIT_LE, sopClassUid: sopClass, sopInstanceUid: sop });
}

let server: ListeningServer;
let context: BrowserContext;
let userDataDir: string;
let token: string;
const studies = { dr: '', drOneSeries: '', ct: '', prior: '', ctAxialSeries: '', drPaSeries: '', drLatSeries: '' };

async function stow(files: Buffer[]): Promise<void> {
  const boundary = `basics-${randomBytes(6).toString('hex')}`;
  const chunks: Buffer[] = [];
  for (const f of files) chunks.push(Buffer.from(`\r\n--${boundary}\r\nContent-Type: application/dicom\r\n\r\n`), f);
  chunks.push(Buffer.from(`\r\n--${boundary}--\r\n`));
  const response = await fetch(`${server.baseUrl}/dicom-web/studies`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': `multipart/related; type="application/dicom"; boundary=${boundary}`, accept: 'application/dicom+json' },
    body: Buffer.concat(chunks),
  });
  assert.equal(response.status, 200, await response.text());
}

/** A CT stack of `count` axial slices from z = 0 down in `step` mm, or another orientation. */
function ctSeries(study: string, frameOfReference: string, seriesNumber: number, count: number, step: number, options: { orientation?: number[]; imageType?: string; description: string; series?: string }): Buffer[] {
  const series = options.series ?? freshUid();
  const orientation = options.orientation ?? AXIAL;
  return Array.from({ length: count }, (_, i) =>
    image({
      study,
      series,
      modality: 'CT',
      seriesNumber,
      instanceNumber: i + 1,
      description: options.description,
      frameOfReference,
      orientation,
      // axial slices step along z (head first), coronal ones along y
      position: orientation === AXIAL ? [-22.4, -22.4, -i * step] : [-22.4, -40 + i * step, 22.4],
      imageType: options.imageType,
    }),
  );
}

before(async () => {
  assert.ok(existsSync(path.join(WEB_DIST, 'viewer-test.html')), `build the web app first: npm run build:web (${WEB_DIST})`);
  server = await startListeningServer({ YUNYING_WEB_DIST: WEB_DIST });
  const login = await fetch(`${server.baseUrl}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'admin', password: TEST_ADMIN_PASSWORD }) });
  assert.equal(login.status, 200);
  token = ((await login.json()) as { token: string }).token;

  // DR chest: the lateral is series 1, the PA series 2 (the protocol puts the PA left)
  studies.dr = freshUid();
  studies.drLatSeries = freshUid();
  studies.drPaSeries = freshUid();
  const drFrame = freshUid();
  const projection = { study: studies.dr, modality: 'DX' as const, instanceNumber: 1, frameOfReference: drFrame, orientation: [0, 1, 0, 0, 0, -1], position: [0, 0, 0], imageType: 'ORIGINAL\\PRIMARY' };
  await stow([
    image({ ...projection, series: studies.drLatSeries, seriesNumber: 1, description: 'CHEST', viewPosition: 'LL' }),
    image({ ...projection, series: studies.drPaSeries, seriesNumber: 2, description: 'CHEST', viewPosition: 'PA', orientation: [1, 0, 0, 0, 0, -1] }),
  ]);

  // DR with both views in one series of two images
  studies.drOneSeries = freshUid();
  const oneSeries = freshUid();
  const oneFrame = freshUid();
  await stow([
    image({ ...projection, study: studies.drOneSeries, frameOfReference: oneFrame, series: oneSeries, seriesNumber: 1, description: 'CHEST', viewPosition: 'PA', orientation: [1, 0, 0, 0, 0, -1] }),
    image({ ...projection, study: studies.drOneSeries, frameOfReference: oneFrame, series: oneSeries, seriesNumber: 1, instanceNumber: 2, description: 'CHEST', viewPosition: 'LL' }),
  ]);

  // CT: a coronal localizer (series 1), the axial stack (series 2, 12 × 10 mm) and a coronal reformat with more images (series 3)
  studies.ct = freshUid();
  studies.ctAxialSeries = freshUid();
  const ctFrame = freshUid();
  await stow([
    ...ctSeries(studies.ct, ctFrame, 1, 2, 10, { orientation: CORONAL, imageType: 'ORIGINAL\\PRIMARY\\LOCALIZER', description: 'CHEST' }),
    ...ctSeries(studies.ct, ctFrame, 2, 12, 10, { description: 'CHEST 10mm', series: studies.ctAxialSeries }),
    ...ctSeries(studies.ct, ctFrame, 3, 20, 3, { orientation: CORONAL, imageType: 'DERIVED\\SECONDARY\\REFORMATTED', description: 'CHEST COR' }),
  ]);
  // the prior: 24 axial slices of 5 mm in its own frame of reference
  studies.prior = freshUid();
  await stow(ctSeries(studies.prior, freshUid(), 2, 24, 5, { description: 'CHEST 5mm' }));

  userDataDir = await mkdtemp(path.join(tmpdir(), 'yunying-chromium-basics-'));
  context = await chromium.launchPersistentContext(userDataDir, { executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: CHROMIUM_ARGS, viewport: { width: 1920, height: 1080 } });
});

after(async () => {
  await context?.close();
  await server?.close();
  if (userDataDir) await rm(userDataDir, { recursive: true, force: true });
});

interface HookViewport {
  seriesInstanceUid?: string;
  currentSlice: number;
  sliceCount: number;
  modality?: string;
  voi?: { lower: number; upper: number };
  orientation?: { top: string; right: string; bottom: string; left: string };
}
interface HookSnapshot {
  layout: string;
  protocol?: string;
  activeSlot: number;
  viewports: HookViewport[];
}

/** The snapshots of the page's viewers, the main viewer first (the hook's order is the order they opened in). */
async function snapshots(page: Page): Promise<HookSnapshot[]> {
  return page.evaluate(() => {
    const viewers = (window as unknown as { __yunyingViewers?: Record<string, { snapshot: () => unknown }> }).__yunyingViewers ?? {};
    return Object.entries(viewers)
      .sort(([a], [b]) => Number(a.replace(/\D/g, '')) - Number(b.replace(/\D/g, '')))
      .map(([, v]) => JSON.parse(JSON.stringify(v.snapshot())) as unknown);
  }) as Promise<HookSnapshot[]>;
}

async function eventually<T>(what: string, read: () => Promise<T>, ok: (value: T) => boolean, timeout = 10_000): Promise<T> {
  const deadline = Date.now() + timeout;
  for (;;) {
    const value = await read();
    if (ok(value)) return value;
    if (Date.now() > deadline) assert.fail(`${what}: ${JSON.stringify(value)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function open(size: { width: number; height: number }, locale: 'zh-CN' | 'en', study: string, extra = ''): Promise<Page> {
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(err.message));
  (page as Page & { errors?: string[] }).errors = errors;
  await page.setViewportSize(size);
  await page.goto(`${server.baseUrl}/viewer-test.html?study=${encodeURIComponent(study)}&locale=${locale}${extra}#token=${encodeURIComponent(token)}`);
  await page.locator('[data-testid="study-viewer"][data-state="loaded"]').first().waitFor({ timeout: TIMEOUT });
  return page;
}

const mainViewer = (page: Page) => page.getByTestId('study-viewer').first();

async function markers(page: Page, slot = 0): Promise<string> {
  const pane = page.getByTestId('viewer-pane').nth(slot);
  const read = async (edge: string) => (await pane.getByTestId(`viewer-orientation-${edge}`).textContent()) ?? '';
  return `${await read('top')} ${await read('right')} ${await read('bottom')} ${await read('left')}`;
}

async function waitForMarkers(page: Page, expected: string, step: string): Promise<void> {
  await eventually(`${step}: orientation markers (top right bottom left)`, () => markers(page), (value) => value === expected);
}

const SIZES = [
  { width: 1920, height: 1080 },
  { width: 1366, height: 768 },
];

describe('viewer basics', { timeout: 600_000 }, () => {
  for (const size of SIZES) for (const locale of ['zh-CN', 'en'] as const) {
    const zh = locale === 'zh-CN';
    test(`DR PA + lateral side by side; number keys do nothing on it (${size.width}×${size.height}, ${locale})`, async () => {
      const page = await open(size, locale, studies.dr);
      try {
        await page.locator('[data-testid="study-viewer"][data-layout="1x2"]').waitFor({ timeout: TIMEOUT });
        const [snapshot] = await eventually('both views drawn', () => snapshots(page), ([s]) => !!s && s.viewports.length === 2 && s.viewports.every((v) => v.currentSlice === 1));
        assert.equal(snapshot!.protocol, 'projection-frontal-lateral');
        assert.equal(snapshot!.viewports[0]!.seriesInstanceUid, studies.drPaSeries, 'the PA on the left');
        assert.equal(snapshot!.viewports[1]!.seriesInstanceUid, studies.drLatSeries, 'the lateral on the right');
        // the lateral's markers: patient's front on the left, head at the top
        await eventually('lateral markers', () => markers(page, 1), (value) => value === 'H P F A');
        await eventually('PA markers', () => markers(page, 0), (value) => value === 'H L F R');
        // no HU presets for DR: only the default window, and number keys change nothing
        assert.equal(await page.getByTestId('viewer-preset-lung').count(), 0);
        assert.equal((await page.getByTestId('viewer-preset-default').innerText()).replace(/\s+/g, ''), zh ? '默认窗' : 'Defaultwindow');
        const before = (await snapshots(page))[0]!.viewports[0]!.voi;
        await mainViewer(page).focus();
        for (const key of ['1', '2', '5']) await page.keyboard.press(key);
        await page.waitForTimeout(300);
        assert.deepEqual((await snapshots(page))[0]!.viewports[0]!.voi, before);
        // the header's 400/40 (Cornerstone's DICOM linear function shows it as 399/40)
        assert.match((await mainViewer(page).getAttribute('data-window')) ?? '', /^(399|400)\/40$/);
        assert.deepEqual((page as Page & { errors?: string[] }).errors, []);
      } finally {
        await page.close();
      }
      // the two views in one series: its images 1 and 2 side by side
      const one = await open(size, locale, studies.drOneSeries);
      try {
        await one.locator('[data-testid="study-viewer"][data-layout="1x2"]').waitFor({ timeout: TIMEOUT });
        await eventually('images 1 and 2 drawn side by side', () => snapshots(one), ([s]) => !!s && s.viewports.map((v) => v.currentSlice).join() === '1,2' && s.viewports[0]!.seriesInstanceUid === s.viewports[1]!.seriesInstanceUid);
      } finally {
        await one.close();
      }
    });

    test(`CT: axial series at slice 1, presets on number keys, rotate/flip markers, HU probe, synchronised scrolling with a prior (${size.width}×${size.height}, ${locale})`, async () => {
      const page = await open(size, locale, studies.ct, `&side=toggle&prior=${encodeURIComponent(studies.prior)}`);
      try {
        const viewer = mainViewer(page);
        // the axial series (not the localizer, series 1, nor the coronal reformat with more images), at its first slice
        const [snapshot] = await snapshots(page);
        assert.equal(snapshot!.protocol, 'ct-axial');
        assert.equal(snapshot!.layout, '1x1');
        assert.equal(snapshot!.viewports[0]!.seriesInstanceUid, studies.ctAxialSeries);
        assert.equal(await viewer.getAttribute('data-current-slice'), '1');
        assert.equal(await viewer.getAttribute('data-slice-count'), '12');
        assert.match((await page.getByTestId('viewer-overlay').allTextContents()).join('\n'), /1\/12/);

        // number keys: the CT presets (1 lung, 2 mediastinum, 3 bone), read back through the hook
        await viewer.focus();
        const voi = async () => (await snapshots(page))[0]!.viewports[0]!.voi;
        await page.keyboard.press('1');
        await eventually('key 1 → lung window 1500/−600', voi, (v) => v?.lower === -1350 && v.upper === 150);
        assert.equal(await viewer.getAttribute('data-window'), '1500/-600');
        await page.keyboard.press('2');
        await eventually('key 2 → mediastinum window 350/40', voi, (v) => v?.lower === -135 && v.upper === 215);
        await page.keyboard.press('3');
        await eventually('key 3 → bone window 2000/500', voi, (v) => v?.lower === -500 && v.upper === 1500);
        assert.equal((await page.getByTestId('viewer-preset-lung').first().innerText()).replace(/\s+/g, ''), zh ? '肺窗' : 'Lung');
        await page.getByTestId('viewer-preset-default').first().click();
        await eventually('default window from the header', () => viewer.getAttribute('data-window'), (w) => /^(399|400)\/40$/.test(w ?? ''));
        // the tooltip names the shortcut
        await page.getByTestId('viewer-preset-lung').first().hover();
        await page.getByRole('tooltip').filter({ hasText: zh ? '肺窗 (1)' : 'Lung (1)' }).waitFor({ timeout: 5_000 });

        // orientation: axial as stored (top right bottom left), turned clockwise, flipped, reset
        await waitForMarkers(page, 'A L P R', 'as stored');
        await page.getByTestId('viewer-rotate').first().click();
        await waitForMarkers(page, 'R A L P', 'rotated 90° clockwise');
        // a window resize keeps the rotation (the resize resets Cornerstone's camera)
        await page.setViewportSize({ width: size.width - 240, height: size.height - 120 });
        await page.waitForTimeout(300);
        await waitForMarkers(page, 'R A L P', 'rotated, then the window resized');
        await page.setViewportSize(size);
        await page.waitForTimeout(300);
        await page.getByTestId('viewer-flip-h').first().click();
        await waitForMarkers(page, 'R P L A', 'rotated, then flipped left-right');
        await viewer.focus();
        await page.keyboard.press('v');
        await waitForMarkers(page, 'L P R A', 'then flipped top-bottom (key V)');
        await page.getByTestId('viewer-reset').first().click();
        await waitForMarkers(page, 'A L P R', 'reset');
        await page.getByTestId('viewer-flip-h').first().hover();
        await page.getByRole('tooltip').filter({ hasText: zh ? '水平翻转 (H)' : 'Flip horizontally (H)' }).waitFor({ timeout: 5_000 });

        // the probe: −100 HU left of the middle, 500 HU right of it
        await page.getByTestId('viewer-probe').first().click();
        const box = (await page.getByTestId('viewer-element').first().boundingBox())!;
        const cy = box.y + box.height / 2;
        for (const [dx, hu] of [[-0.15, -100], [0.15, 500]] as const) {
          await page.mouse.move(box.x + box.width / 2 + dx * box.height, cy, { steps: 3 });
          const probe = page.getByTestId('viewer-probe-value');
          await eventually(`probe at ${dx}`, async () => (await probe.count()) > 0 ? await probe.getAttribute('data-value') : null, (v) => v === String(hu));
          assert.equal(await probe.textContent(), `${zh ? 'CT值' : 'CT value'}: ${hu} HU`);
        }
        await page.getByTestId('viewer-probe').first().click();
        await page.mouse.move(box.x + box.width / 2, cy + 5);
        await page.getByTestId('viewer-probe-value').waitFor({ state: 'detached' });

        // the magnifier (key M) shows a magnified copy under the pressed button
        await viewer.focus();
        await page.keyboard.press('m');
        await eventually('magnifier chosen', () => page.getByTestId('viewer-tool-magnify').first().getAttribute('aria-pressed'), (v) => v === 'true');
        await page.mouse.move(box.x + box.width / 2, cy);
        await page.mouse.down();
        await page.locator('[data-testid="viewer-element"] .magnifyTool').first().waitFor({ timeout: 5_000 });
        await page.mouse.up();
        await page.getByTestId('viewer-tool-windowLevel').first().click();

        // the prior beside, linked: scrolling the current study moves the prior to the same place
        await page.getByTestId('toggle-side-viewer').click();
        await page.locator('[data-testid="side-viewer"] [data-testid="study-viewer"][data-state="loaded"]').waitFor({ timeout: TIMEOUT });
        const prior = page.getByTestId('side-viewer').getByTestId('study-viewer');
        assert.equal(await prior.getAttribute('data-current-slice'), '1');
        assert.equal(await prior.getAttribute('data-slice-count'), '24');
        await page.getByTestId('viewer-sync-scroll').first().click();
        await eventually('both viewers linked', async () => [await viewer.getAttribute('data-sync-scroll'), await prior.getAttribute('data-sync-scroll')].join(), (v) => v === 'on,on');
        await viewer.focus();
        for (let i = 0; i < 3; i++) await page.keyboard.press('ArrowDown');
        await eventually('current at slice 4 (−30 mm)', () => viewer.getAttribute('data-current-slice'), (v) => v === '4');
        await eventually('prior at slice 7 (−30 mm)', () => prior.getAttribute('data-current-slice'), (v) => v === '7');
        await page.keyboard.press('End');
        await eventually('prior at slice 23 (−110 mm)', () => prior.getAttribute('data-current-slice'), (v) => v === '23');
        // and the other way round: scrolling the prior moves the current study
        await prior.focus();
        await page.keyboard.press('Home');
        await eventually('current back at slice 1', () => viewer.getAttribute('data-current-slice'), (v) => v === '1');
        // unlinked: the prior stays where it is
        await page.getByTestId('viewer-sync-scroll').first().click();
        await eventually('unlinked', () => prior.getAttribute('data-sync-scroll'), (v) => v === 'off');
        await viewer.focus();
        await page.keyboard.press('ArrowDown');
        await eventually('current at slice 2', () => viewer.getAttribute('data-current-slice'), (v) => v === '2');
        await page.waitForTimeout(500);
        assert.equal(await prior.getAttribute('data-current-slice'), '1');
        assert.deepEqual((page as Page & { errors?: string[] }).errors, []);
      } finally {
        await page.close();
      }
    });
  }
});

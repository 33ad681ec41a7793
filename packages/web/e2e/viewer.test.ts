/**
 * The Cornerstone3D viewer in headless Chromium against the real server: samples of every
 * compressed transfer syntax (JPEG baseline and lossless, JPEG-LS, JPEG 2000, RLE) and an
 * ultrasound cine are stored by STOW-RS with fresh UIDs, then opened in viewer-test.html
 * (the built web app's second page, under the app's Content-Security-Policy). Needs
 * packages/web/dist (npm run build -w packages/web; npm test builds it first).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { setTopLevelTextElements } from '@yunying/dicom';
import { startListeningServer, type ListeningServer } from '@yunying/server/test-support/listening-server';
import { TEST_ADMIN_PASSWORD } from '@yunying/server/test-support/admin-auth';
import { readSample } from '@yunying/testing/samples';

const WEB_DIST = process.env.YUNYING_WEB_DIST ?? path.resolve(import.meta.dirname, '../dist');
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

const freshUid = () => `2.25.${BigInt(`0x${randomBytes(15).toString('hex')}`).toString()}`;

/** A sample with new study/series/instance UIDs (and optionally a patient name), so every run stores new objects. */
function withFreshUids(file: Buffer, uids: { study: string; series: string }): Buffer {
  return setTopLevelTextElements(file, [
    { tag: 0x0020000d, vr: 'UI', value: uids.study },
    { tag: 0x0020000e, vr: 'UI', value: uids.series },
    { tag: 0x00080018, vr: 'UI', value: freshUid() },
  ]);
}

interface Fixture {
  server: ListeningServer;
  token: string;
  browser: Browser;
  context: BrowserContext;
  userDataDir: string;
}

let fx: Fixture;

async function stow(files: Buffer[]): Promise<void> {
  const boundary = `viewer-test-${randomBytes(6).toString('hex')}`;
  const chunks: Buffer[] = [];
  for (const f of files) chunks.push(Buffer.from(`\r\n--${boundary}\r\nContent-Type: application/dicom\r\n\r\n`), f);
  chunks.push(Buffer.from(`\r\n--${boundary}--\r\n`));
  const response = await fetch(`${fx.server.baseUrl}/dicom-web/studies`, {
    method: 'POST',
    headers: { authorization: `Bearer ${fx.token}`, 'content-type': `multipart/related; type="application/dicom"; boundary=${boundary}`, accept: 'application/dicom+json' },
    body: Buffer.concat(chunks),
  });
  assert.equal(response.status, 200, `STOW-RS: ${response.status} ${await response.text()}`);
}

/** Stores the given sample files as one new study (one series per file unless `oneSeries`); returns its UID. */
async function storeStudy(relativePaths: string[], options: { oneSeries?: boolean } = {}): Promise<string> {
  const study = freshUid();
  const series = freshUid();
  const files = relativePaths.map((p) => withFreshUids(readSample(p), { study, series: options.oneSeries ? series : freshUid() }));
  await stow(files);
  return study;
}

async function openViewer(study: string, extra = ''): Promise<Page> {
  const page = await fx.context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(err.message));
  page.on('console', (msg) => {
    if (msg.type() === 'error' && /Content Security Policy|Refused to/i.test(msg.text())) errors.push(msg.text());
  });
  (page as Page & { viewerErrors?: string[] }).viewerErrors = errors;
  await page.goto(`${fx.server.baseUrl}/viewer-test.html?study=${encodeURIComponent(study)}${extra}#token=${encodeURIComponent(fx.token)}`);
  return page;
}

const viewer = (page: Page) => page.getByTestId('study-viewer');

async function waitForState(page: Page, states: string[], timeout = 30_000): Promise<string> {
  const handle = await page.waitForFunction(
    (wanted) => {
      const state = document.querySelector('[data-testid="study-viewer"]')?.getAttribute('data-state');
      return state && (wanted.includes(state) || state === 'error') ? state : false;
    },
    states,
    { timeout },
  );
  const state = (await handle.jsonValue()) as string;
  if (state === 'error' && !states.includes('error')) {
    const text = await viewer(page).textContent();
    assert.fail(`viewer went to error: ${text}`);
  }
  return state;
}

/** Standard deviation of the luminance of the first viewport's canvas (0 for a blank canvas). */
async function canvasSpread(page: Page, slot = 0): Promise<number> {
  return page.evaluate((index) => {
    const pane = document.querySelectorAll('[data-testid="viewer-element"]')[index];
    const canvas = pane?.querySelector('canvas');
    if (!canvas) return -1;
    const context = canvas.getContext('2d');
    if (!context) return -2;
    const { data } = context.getImageData(0, 0, canvas.width, canvas.height);
    let sum = 0;
    let sumSq = 0;
    let n = 0;
    for (let i = 0; i < data.length; i += 16) {
      const y = 0.299 * data[i]! + 0.587 * data[i + 1]! + 0.114 * data[i + 2]!;
      sum += y;
      sumSq += y * y;
      n += 1;
    }
    const mean = sum / n;
    return Math.sqrt(Math.max(0, sumSq / n - mean * mean));
  }, slot);
}

async function attr(page: Page, name: string): Promise<string> {
  return (await viewer(page).getAttribute(name)) ?? '';
}

before(async () => {
  assert.ok(existsSync(path.join(WEB_DIST, 'viewer-test.html')), `build the web app first: npm run build -w packages/web (${WEB_DIST})`);
  const server = await startListeningServer({ YUNYING_WEB_DIST: WEB_DIST });
  const login = await fetch(`${server.baseUrl}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'admin', password: TEST_ADMIN_PASSWORD }) });
  assert.equal(login.status, 200);
  const { token } = (await login.json()) as { token: string };
  const userDataDir = await mkdtemp(path.join(tmpdir(), 'yunying-viewer-chromium-'));
  const context = await chromium.launchPersistentContext(userDataDir, { executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS, viewport: { width: 1200, height: 800 } });
  fx = { server, token, browser: context.browser()!, context, userDataDir };
});

after(async () => {
  await fx?.context.close();
  await fx?.server.close();
  if (fx?.userDataDir) await rm(fx.userDataDir, { recursive: true, force: true });
});

describe('viewer decodes every stored transfer syntax in the browser', () => {
  const cases: Array<[string, string]> = [
    ['JPEG baseline', 'transfer-syntax/ct-same-image/ct_1.2.840.10008.1.2.4.50_jpeg-baseline.dcm'],
    ['JPEG lossless SV1', 'transfer-syntax/ct-same-image/ct_1.2.840.10008.1.2.4.70_jpeg-lossless-sv1.dcm'],
    ['JPEG-LS lossless', 'transfer-syntax/ct-same-image/ct_1.2.840.10008.1.2.4.80_jpegls-lossless.dcm'],
    ['JPEG 2000 lossless', 'transfer-syntax/ct-same-image/ct_1.2.840.10008.1.2.4.90_j2k-lossless.dcm'],
    ['JPEG 2000 lossy', 'transfer-syntax/ct-same-image/ct_1.2.840.10008.1.2.4.91_j2k-lossy.dcm'],
    ['RLE lossless', 'transfer-syntax/ct-same-image/ct_1.2.840.10008.1.2.5_rle.dcm'],
    ['implicit VR little endian', 'transfer-syntax/ct-same-image/ct_1.2.840.10008.1.2_implicit-vr-le.dcm'],
    ['ultrasound RLE YBR_FULL', 'modality/us/US_ybr_full_rle.dcm'],
    ['ultrasound JPEG 2000 RGB', 'modality/us/US1_J2KR_rgb.dcm'],
  ];
  for (const [name, file] of cases) {
    test(name, async () => {
      const study = await storeStudy([file]);
      const page = await openViewer(study);
      try {
        await waitForState(page, ['loaded']);
        assert.ok((await canvasSpread(page)) > 2, `${name}: the canvas is blank`);
        assert.equal(await attr(page, 'data-current-slice'), '1');
        assert.match(await attr(page, 'data-window'), /^-?\d+\/-?\d+$/);
        assert.deepEqual((page as Page & { viewerErrors?: string[] }).viewerErrors, []);
      } finally {
        await page.close();
      }
    });
  }
});

describe('viewer interaction', () => {
  let mrStudy: string;
  before(async () => {
    const slices = Array.from({ length: 16 }, (_, i) => `series/mr-16-slices/MR${String(i + 1).padStart(2, '0')}.dcm`);
    mrStudy = await storeStudy(slices, { oneSeries: true });
  });

  test('first image, then all slices; events carry the study and timings', async () => {
    const page = await fx.context.newPage();
    try {
      await page.addInitScript(() => {
        const w = window as unknown as { viewerEvents: Array<{ type: string; detail: unknown }> };
        w.viewerEvents = [];
        for (const type of ['yunying:first-image', 'yunying:all-loaded']) window.addEventListener(type, (e) => w.viewerEvents.push({ type, detail: (e as CustomEvent).detail }));
      });
      await page.goto(`${fx.server.baseUrl}/viewer-test.html?study=${mrStudy}#token=${encodeURIComponent(fx.token)}`);
      await waitForState(page, ['loaded']);
      const events = (await page.evaluate(() => (window as unknown as { viewerEvents: unknown[] }).viewerEvents)) as Array<{ type: string; detail: { studyInstanceUid: string; ms: number; images?: number } }>;
      assert.deepEqual(events.map((e) => e.type), ['yunying:first-image', 'yunying:all-loaded']);
      assert.equal(events[0]!.detail.studyInstanceUid, mrStudy);
      assert.ok(events[0]!.detail.ms >= 0 && events[0]!.detail.ms <= events[1]!.detail.ms);
      assert.equal(events[1]!.detail.images, 16);
      // opens at the first slice (hanging-protocols.ts)
      assert.equal(await attr(page, 'data-current-slice'), '1');
      assert.equal(await attr(page, 'data-slice-count'), '16');
      assert.ok((await canvasSpread(page)) > 2, 'the canvas is blank');
      // the overlay: image x/y, window
      const overlay = (await page.getByTestId('viewer-overlay').allTextContents()).join('\n');
      assert.match(overlay, /1\/16/);
      assert.match(overlay, /W: -?\d+ C: -?\d+/);
    } finally {
      await page.close();
    }
  });

  test('the overlay shows the ideographic name group (UTF-8 and GB18030)', async () => {
    for (const [file, name] of [
      ['charset/chrX1.dcm', /王小東 \(Wang XiaoDong\)/],
      ['charset/chrX2.dcm', /王小东 \(Wang XiaoDong\)/],
    ] as const) {
      const page = await openViewer(await storeStudy([file]));
      try {
        await waitForState(page, ['loaded']);
        const overlay = (await page.getByTestId('viewer-overlay').allTextContents()).join('\n');
        assert.match(overlay, name);
      } finally {
        await page.close();
      }
    }
  });

  test('wheel and arrow keys scroll the stack', async () => {
    const page = await openViewer(mrStudy);
    try {
      await waitForState(page, ['first-image', 'loaded']);
      const element = page.getByTestId('viewer-element').first();
      const box = (await element.boundingBox())!;
      await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
      const start = Number(await attr(page, 'data-current-slice'));
      await page.mouse.wheel(0, 120);
      await page.waitForFunction((s) => document.querySelector('[data-testid="study-viewer"]')?.getAttribute('data-current-slice') !== String(s), start);
      const afterWheel = Number(await attr(page, 'data-current-slice'));
      assert.notEqual(afterWheel, start);
      await viewer(page).focus();
      await page.keyboard.press('Home');
      await page.waitForFunction(() => document.querySelector('[data-testid="study-viewer"]')?.getAttribute('data-current-slice') === '1');
      await page.keyboard.press('ArrowDown');
      await page.keyboard.press('ArrowDown');
      await page.waitForFunction(() => document.querySelector('[data-testid="study-viewer"]')?.getAttribute('data-current-slice') === '3');
      await page.keyboard.press('ArrowUp');
      await page.waitForFunction(() => document.querySelector('[data-testid="study-viewer"]')?.getAttribute('data-current-slice') === '2');
    } finally {
      await page.close();
    }
  });

  test('window presets (none in HU for MR), drag window/level, invert and reset', async () => {
    const page = await openViewer(mrStudy);
    try {
      await waitForState(page, ['first-image', 'loaded']);
      const initial = await attr(page, 'data-window');
      // an MR has no HU presets (the CT ones are tested in viewer-basics.test.ts): the default window only
      assert.equal(await page.getByTestId('viewer-preset-lung').count(), 0);
      await page.getByTestId('viewer-preset-default').waitFor();
      // the left button drags window/level by default
      const box = (await page.getByTestId('viewer-element').first().boundingBox())!;
      await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
      await page.mouse.down();
      await page.mouse.move(box.x + box.width / 2 + 60, box.y + box.height / 2 + 40, { steps: 5 });
      await page.mouse.up();
      await page.waitForFunction((w) => document.querySelector('[data-testid="study-viewer"]')?.getAttribute('data-window') !== w, initial);
      const before = await canvasSpread(page);
      await page.getByTestId('viewer-invert').click();
      await page.waitForFunction(() => document.querySelector('[data-testid="viewer-invert"]')?.classList.contains('ant-btn-primary'));
      assert.ok(before >= 0);
      await page.getByTestId('viewer-reset').click();
      await page.waitForFunction((w) => document.querySelector('[data-testid="study-viewer"]')?.getAttribute('data-window') === w, initial);
    } finally {
      await page.close();
    }
  });

  test('a length measurement can be drawn', async () => {
    const page = await openViewer(mrStudy);
    try {
      await waitForState(page, ['first-image', 'loaded']);
      assert.equal(await attr(page, 'data-measurements'), '0');
      await page.getByTestId('viewer-tool-length').click();
      const box = (await page.getByTestId('viewer-element').first().boundingBox())!;
      const cx = box.x + box.width / 2;
      const cy = box.y + box.height / 2;
      await page.mouse.move(cx - 80, cy - 40);
      await page.mouse.down();
      await page.mouse.move(cx + 80, cy + 40, { steps: 8 });
      await page.mouse.up();
      await page.waitForFunction(() => document.querySelector('[data-testid="study-viewer"]')?.getAttribute('data-measurements') === '1');
      // the measurement's text (mm) is drawn in the SVG layer
      const svgText = await page.locator('[data-testid="viewer-element"] svg text').allTextContents();
      assert.ok(svgText.some((t) => /mm/.test(t)), `length text: ${svgText.join(' | ')}`);
    } finally {
      await page.close();
    }
  });
});

describe('multi-series study, layouts and cine', () => {
  test('thumbnails, 1×2 and 2×2 hanging by series, showing a series from its thumbnail', async () => {
    const study = await storeStudy([
      'transfer-syntax/ct-same-image/ct_1.2.840.10008.1.2.4.70_jpeg-lossless-sv1.dcm',
      'modality/us/US_multiframe_30f_ybr422_jpeg.dcm',
      'transfer-syntax/ct-same-image/ct_1.2.840.10008.1.2.5_rle.dcm',
    ]);
    const page = await openViewer(study);
    try {
      await waitForState(page, ['loaded']);
      const thumbnails = page.getByTestId('viewer-thumbnail');
      assert.equal(await thumbnails.count(), 3);
      // server thumbnails (it renders what it can decode: not every compressed syntax)
      await page.waitForFunction(() => [...document.querySelectorAll('[data-testid="viewer-thumbnail"] img')].some((img) => (img as HTMLImageElement).naturalWidth > 0));
      await page.getByTestId('viewer-layout-2x2').click();
      await page.waitForFunction(() => document.querySelectorAll('[data-testid="viewer-pane"]').length === 4);
      // three series in the first three panes, the fourth empty
      await page.waitForFunction(() => [...document.querySelectorAll('[data-testid="viewer-element"] canvas')].length >= 3);
      for (const slot of [0, 1, 2]) {
        await page.waitForFunction(
          async (i) => {
            const canvas = document.querySelectorAll('[data-testid="viewer-element"]')[i]?.querySelector('canvas');
            if (!canvas || canvas.width === 0) return false;
            const data = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height).data;
            for (let p = 0; p < data.length; p += 64) if (data[p]! > 10) return true;
            return false;
          },
          slot,
        );
      }
      await page.getByTestId('viewer-layout-1x2').click();
      await page.waitForFunction(() => document.querySelectorAll('[data-testid="viewer-pane"]').length === 2);
      await page.getByTestId('viewer-layout-1x1').click();
      await page.waitForFunction(() => document.querySelectorAll('[data-testid="viewer-pane"]').length === 1);
      // the ultrasound cine from its thumbnail: 30 frames, play changes the frame
      await thumbnails.filter({ hasText: /^US/ }).click();
      await page.waitForFunction(() => document.querySelector('[data-testid="study-viewer"]')?.getAttribute('data-slice-count') === '30');
      await page.getByTestId('viewer-cine').click();
      await page.waitForFunction(() => Number(document.querySelector('[data-testid="study-viewer"]')?.getAttribute('data-current-slice')) > 3);
      await page.getByTestId('viewer-cine').click();
      assert.ok((await canvasSpread(page)) > 2);
    } finally {
      await page.close();
    }
  });

  test('ultrasound multi-frame RLE palette colour opens at frame 1 and scrolls through frames', async () => {
    const study = await storeStudy(['modality/us/US_multiframe_10f_palette_rle.dcm']);
    const page = await openViewer(study);
    try {
      await waitForState(page, ['loaded']);
      assert.equal(await attr(page, 'data-slice-count'), '10');
      assert.equal(await attr(page, 'data-current-slice'), '1');
      assert.ok((await canvasSpread(page)) > 2, 'the canvas is blank');
      await viewer(page).focus();
      await page.keyboard.press('End');
      await page.waitForFunction(() => document.querySelector('[data-testid="study-viewer"]')?.getAttribute('data-current-slice') === '10');
    } finally {
      await page.close();
    }
  });

  test('a study the caller cannot see ends in the error state', async () => {
    const page = await openViewer(freshUid());
    try {
      assert.equal(await waitForState(page, ['error']), 'error');
    } finally {
      await page.close();
    }
  });
});

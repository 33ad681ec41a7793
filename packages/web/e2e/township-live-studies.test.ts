/**
 * The township's study list is live (issue 14, item 3) in headless Chromium: with the list
 * open, a study stored by STOW-RS appears in it without a reload or 刷新, pushed over the
 * event stream (`study.stored`, events/study-arrival-consumer.ts); at 1920×1080 and 1366×768,
 * in zh-CN and en (one server and browser, a new study for each).
 * Needs packages/web/dist (npm test builds it first) or YUNYING_WEB_DIST.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';
import { startListeningServer, type ListeningServer } from '@yunying/server/test-support/listening-server';
import { TEST_ADMIN_PASSWORD } from '@yunying/server/test-support/admin-auth';
import { makeSyntheticInstance, newUid } from '@yunying/testing/synthetic-dicom';

const WEB_DIST = process.env.YUNYING_WEB_DIST ?? path.resolve(import.meta.dirname, '../dist');
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const TIMEOUT = 30_000;
const PASSWORD = 'Correct-Horse-9';

let server: ListeningServer;
let context: BrowserContext;
let userDataDir: string;

async function login(username: string, password: string): Promise<string> {
  const response = await fetch(`${server.baseUrl}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username, password }) });
  assert.equal(response.status, 200);
  return ((await response.json()) as { token: string }).token;
}

/** One STOW-RS request with the Part 10 files as a multipart/related body. */
async function stow(token: string, files: readonly Buffer[]): Promise<void> {
  const boundary = 'live-boundary-7';
  const parts = files.flatMap((file) => [Buffer.from(`\r\n--${boundary}\r\nContent-Type: application/dicom\r\n\r\n`), file]);
  const body = Buffer.concat([...parts, Buffer.from(`\r\n--${boundary}--`)]);
  const response = await fetch(`${server.baseUrl}/dicom-web/studies`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': `multipart/related; type="application/dicom"; boundary="${boundary}"`, accept: 'application/dicom+json' },
    body,
  });
  assert.equal(response.status, 200, await response.text());
}

before(async () => {
  assert.ok(existsSync(path.join(WEB_DIST, 'index.html')), `build the web app first (npm run build:web): ${WEB_DIST}`);
  server = await startListeningServer({ YUNYING_WEB_DIST: WEB_DIST });
  const adminToken = await login('admin', TEST_ADMIN_PASSWORD);
  const admin = async (url: string, body: unknown): Promise<void> => {
    const response = await fetch(`${server.baseUrl}${url}`, { method: 'POST', headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    assert.ok(response.ok, `${url}: ${response.status} ${await response.text()}`);
  };
  await admin('/api/v1/institutions', { id: 'ks-county', name: '昆山市第一人民医院', tier: 'county' });
  await admin('/api/v1/institutions', { id: 'ks-t1', name: '周市镇卫生院', tier: 'township', parentId: 'ks-county' });
  await admin('/api/v1/users', { username: 'tech', password: PASSWORD, role: 'technologist', institutionId: 'ks-t1' });
  userDataDir = await mkdtemp(path.join(tmpdir(), 'yunying-chromium-township-live-'));
  context = await chromium.launchPersistentContext(userDataDir, { executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: CHROMIUM_ARGS, viewport: { width: 1366, height: 768 }, locale: 'zh-CN' });
});

after(async () => {
  await context?.close();
  await server?.close();
  if (userDataDir) await rm(userDataDir, { recursive: true, force: true });
});

const COMBOS = [
  { locale: 'zh-CN', viewport: { width: 1920, height: 1080 } },
  { locale: 'en', viewport: { width: 1920, height: 1080 } },
  { locale: 'zh-CN', viewport: { width: 1366, height: 768 } },
  { locale: 'en', viewport: { width: 1366, height: 768 } },
] as const;
const TEXT = {
  'zh-CN': { live: '实时', arrived: '新检查已到达' },
  en: { live: 'Live', arrived: 'A new study has arrived' },
} as const;

describe('the township study list is live', { timeout: 240_000 }, () => {
  for (const [index, { locale, viewport }] of COMBOS.entries()) {
    test(`${viewport.width}×${viewport.height}, ${locale}: a study stored while the list is open appears without a reload`, async () => {
      const page = await context.newPage();
      page.setDefaultTimeout(TIMEOUT);
      await page.setViewportSize(viewport);
      await page.addInitScript((value) => localStorage.setItem('yunying.locale', value), locale);
      let navigations = 0;
      page.on('framenavigated', (frame) => {
        if (frame === page.mainFrame()) navigations += 1;
      });
      // The stream opened (EventSource) and the day's list loaded.
      const stream = page.waitForRequest((request) => new URL(request.url()).pathname === '/api/v1/events');
      const firstList = page.waitForResponse((response) => new URL(response.url()).pathname === '/dicom-web/studies');
      await page.goto(`${server.baseUrl}/`);
      await page.getByTestId('login-username').fill('tech');
      await page.getByTestId('login-password').fill(PASSWORD);
      await page.getByTestId('login-submit').click();
      await stream;
      assert.equal((await firstList).status(), 200);
      await page.getByText(TEXT[locale].live).first().waitFor();
      const navigationsBefore = navigations;
      await page.evaluate(() => Object.assign(window, { __notReloaded: true }));

      // Today in the browser's zone: the list shows the selected day's studies.
      const today = await page.evaluate(() => {
        const now = new Date();
        return `${now.getFullYear()}${String(now.getMonth() + 1).padStart(2, '0')}${String(now.getDate()).padStart(2, '0')}`;
      });
      const studyInstanceUid = newUid();
      const seriesInstanceUid = newUid();
      const files = Array.from({ length: 5 }, (_, n) => makeSyntheticInstance({ studyInstanceUid, seriesInstanceUid, instanceNumber: n + 1, studyDate: today, patientId: `LIVE-${index + 1}`, modality: 'CT' }).bytes);
      await stow(await login('tech', PASSWORD), files);

      await page.locator(`tr[data-study-uid="${studyInstanceUid}"]`).waitFor();
      await page.getByText(TEXT[locale].arrived).first().waitFor();
      assert.equal(await page.evaluate(() => (window as unknown as { __notReloaded?: boolean }).__notReloaded), true, 'the page was reloaded');
      assert.equal(navigations, navigationsBefore, 'the page navigated');
      // the row fits the screen: no sideways scrolling at this size
      assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth + 1), 'no sideways scrolling');
      await page.close();
    });
  }
});

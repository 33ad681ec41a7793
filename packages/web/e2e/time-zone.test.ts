/**
 * Times in the deployment's zone (issue 14, item 2) in headless Chromium, at 1920×1080 and
 * 1366×768, in zh-CN and en, with the browser itself in another zone (America/New_York):
 *
 *   - the cloud-film page (/s/{token}) shows the report's signing time and the link's expiry
 *     in YUNYING_TIME_ZONE (Asia/Shanghai here) and names the zone;
 *   - the audit screen's CSV export (导出 CSV / Export CSV, downloaded through the page)
 *     writes occurred_at as Shanghai wall-clock time with its offset (+08:00) and ends each
 *     row with the zone's name and the stored UTC instant.
 *
 * One server and browser for the four combinations.
 * Needs packages/web/dist (npm run build:web) or YUNYING_WEB_DIST.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { startListeningServer, type ListeningServer } from '@yunying/server/test-support/listening-server';
import { TEST_ADMIN_PASSWORD } from '@yunying/server/test-support/admin-auth';
import { makeSyntheticInstance, newUid } from '@yunying/testing/synthetic-dicom';

const WEB_DIST = process.env.YUNYING_WEB_DIST ?? path.resolve(import.meta.dirname, '../dist');
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const TIMEOUT = 30_000;
const PASSWORD = 'Time-Zone-2026';
const ZONE = 'Asia/Shanghai';
/** the browser's own zone, far from the hospital's */
const BROWSER_ZONE = 'America/New_York';

const COMBOS = [
  { locale: 'zh-CN', viewport: { width: 1920, height: 1080 } },
  { locale: 'en', viewport: { width: 1920, height: 1080 } },
  { locale: 'zh-CN', viewport: { width: 1366, height: 768 } },
  { locale: 'en', viewport: { width: 1366, height: 768 } },
] as const;
const TEXT = {
  'zh-CN': { validUntil: '有效期至', exportCsv: /导出\s*CSV/ },
  en: { validUntil: 'Valid until', exportCsv: /Export CSV/ },
} as const;

/** Shanghai wall-clock time of an instant (UTC+8 all year, no summer time). */
const shanghai = (iso: string, seconds = false) => new Date(Date.parse(iso) + 8 * 3_600_000).toISOString().slice(0, seconds ? 19 : 16).replace('T', ' ');

let server: ListeningServer;
let context: BrowserContext;
let userDataDir: string;
const tokens: Record<string, string> = {};

async function login(username: string, password: string): Promise<string> {
  const response = await fetch(`${server.baseUrl}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username, password }) });
  assert.equal(response.status, 200, `login ${username}`);
  return ((await response.json()) as { token: string }).token;
}

async function call<T = unknown>(who: string, method: string, url: string, body?: unknown): Promise<T> {
  const response = await fetch(`${server.baseUrl}${url}`, { method, headers: { authorization: `Bearer ${tokens[who]}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) }, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await response.text();
  assert.ok(response.ok, `${who} ${method} ${url}: ${response.status} ${text}`);
  return (text ? JSON.parse(text) : undefined) as T;
}

/** A township CT stored, requested, read and signed through the REST API; its patient link (no access code). */
async function signedStudyLink(patientId: string): Promise<{ url: string; signedAt: string; expiresAt: string }> {
  const studyInstanceUid = newUid();
  const seriesInstanceUid = newUid();
  const boundary = 'time-zone-boundary';
  const parts = Array.from({ length: 3 }, (_, n) => makeSyntheticInstance({ studyInstanceUid, seriesInstanceUid, instanceNumber: n + 1, studyDate: '20261203', patientId, modality: 'CT' }).bytes).flatMap((file) => [Buffer.from(`\r\n--${boundary}\r\nContent-Type: application/dicom\r\n\r\n`), file]);
  const stored = await fetch(`${server.baseUrl}/dicom-web/studies`, {
    method: 'POST',
    headers: { authorization: `Bearer ${tokens.tech}`, 'content-type': `multipart/related; type="application/dicom"; boundary="${boundary}"`, accept: 'application/dicom+json' },
    body: Buffer.concat([...parts, Buffer.from(`\r\n--${boundary}--`)]),
  });
  assert.equal(stored.status, 200, await stored.text());
  const request = await call<{ id: string }>('tech', 'POST', '/api/v1/reading-requests', { studyInstanceUid, priority: 'routine', bodyParts: ['CHEST'], imagesComplete: true });
  await call('rad', 'POST', `/api/v1/reading-requests/${request.id}/claim`);
  const draft = await call<{ id: string }>('rad', 'PUT', `/api/v1/reading-requests/${request.id}/report`, { findings: '双肺纹理清晰。', impression: '胸部CT平扫未见异常。', positive: false });
  await call('rad', 'POST', `/api/v1/reports/${draft.id}/submit`);
  // a password confirms the signature where the e-signature asks for one; ignored otherwise
  const signed = await call<{ signedAt: string }>('rev', 'POST', `/api/v1/reports/${draft.id}/sign`, { password: PASSWORD });
  // a link of its own, without an access code, that expires just after midnight in Shanghai
  // (16:30 UTC: still the day before in UTC and in New York)
  const link = await call<{ id: string; url: string; expiresAt: string }>('tech', 'POST', '/api/v1/share-links', { studyInstanceUid, accessCode: false });
  await server.server.archive.database.db.updateTable('share_links').set({ expires_at: '2027-06-30T16:30:00.000Z' }).where('id', '=', link.id).execute();
  return { url: `${server.baseUrl}${new URL(link.url).pathname}`, signedAt: signed.signedAt, expiresAt: '2027-06-30T16:30:00.000Z' };
}

async function newPage(locale: 'zh-CN' | 'en', viewport: { width: number; height: number }): Promise<Page> {
  const page = await context.newPage();
  page.setDefaultTimeout(TIMEOUT);
  await page.setViewportSize(viewport);
  // the web app's language and the cloud-film page's (each remembers its own)
  await page.addInitScript((value) => {
    localStorage.setItem('yunying.locale', value);
    localStorage.setItem('yy-lang', value === 'en' ? 'en' : 'zh');
  }, locale);
  return page;
}

before(async () => {
  assert.ok(existsSync(path.join(WEB_DIST, 'index.html')), `build the web app first (npm run build:web): ${WEB_DIST}`);
  server = await startListeningServer({ YUNYING_WEB_DIST: WEB_DIST, YUNYING_TIME_ZONE: ZONE, YUNYING_LOG_LEVEL: process.env.YUNYING_LOG_LEVEL ?? 'silent' });
  tokens.admin = await login('admin', TEST_ADMIN_PASSWORD);
  await call('admin', 'POST', '/api/v1/institutions', { id: 'sz-city', name: '苏州市卫生健康委员会', tier: 'city' });
  await call('admin', 'POST', '/api/v1/institutions', { id: 'ks-county', name: '昆山市第一人民医院', tier: 'county', grade: 3, parentId: 'sz-city' });
  await call('admin', 'POST', '/api/v1/institutions', { id: 'ks-t1', name: '周市镇卫生院', tier: 'township', grade: 1, parentId: 'ks-county' });
  await call('admin', 'PUT', '/api/v1/institutions/ks-county/members/ks-t1');
  for (const [username, role, institutionId] of [
    ['tech', 'technologist', 'ks-t1'],
    ['rad', 'radiologist', 'ks-county'],
    ['rev', 'reviewing-radiologist', 'ks-county'],
    ['auditor', 'insurance-auditor', 'sz-city'],
  ] as const) {
    await call('admin', 'POST', '/api/v1/users', { username, password: PASSWORD, role, institutionId });
    tokens[username] = await login(username, PASSWORD);
  }
  userDataDir = await mkdtemp(path.join(tmpdir(), 'yunying-chromium-time-zone-'));
  context = await chromium.launchPersistentContext(userDataDir, { executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: CHROMIUM_ARGS, viewport: { width: 1920, height: 1080 }, locale: 'zh-CN', timezoneId: BROWSER_ZONE, acceptDownloads: true });
});

after(async () => {
  await context?.close();
  await server?.close();
  if (userDataDir) await rm(userDataDir, { recursive: true, force: true });
});

describe('times in the deployment’s zone', { timeout: 300_000 }, () => {
  for (const [index, { locale, viewport }] of COMBOS.entries()) {
    test(`${viewport.width}×${viewport.height}, ${locale}: the cloud-film page names the zone and shows Shanghai times`, async () => {
      const link = await signedStudyLink(`TZ-${index + 1}`);
      const page = await newPage(locale, viewport);
      try {
        await page.goto(link.url);
        await page.locator('#expires-at').waitFor();
        assert.equal(await page.evaluate(() => Intl.DateTimeFormat().resolvedOptions().timeZone), BROWSER_ZONE);
        assert.equal(await page.evaluate(() => document.documentElement.lang), locale);
        assert.equal((await page.locator('#expires-at').innerText()).trim(), '2027-07-01 00:30', 'Shanghai, not New York (2027-06-30 12:30) or UTC');
        assert.equal((await page.locator('#time-zone').innerText()).trim(), ZONE);
        assert.equal((await page.locator('#signed-at').innerText()).trim(), shanghai(link.signedAt));
        // the zone is on screen, after the label in the page's language
        const foot = await page.locator('#expires-at').locator('xpath=..').innerText();
        assert.ok(foot.includes(TEXT[locale].validUntil) && foot.includes(`(${ZONE})`), foot);
        assert.ok(await page.locator('#time-zone').isVisible());
      } finally {
        await page.close();
      }
    });

    test(`${viewport.width}×${viewport.height}, ${locale}: the audit CSV export carries Shanghai time with its offset, the zone and UTC`, async () => {
      const page = await newPage(locale, viewport);
      try {
        await page.goto(`${server.baseUrl}/`);
        await page.getByTestId('login-username').or(page.getByTestId('audit-page')).first().waitFor();
        if (await page.getByTestId('login-username').isVisible()) {
          await page.getByTestId('login-username').fill('auditor');
          await page.getByTestId('login-password').fill(PASSWORD);
          await page.getByTestId('login-submit').click();
        }
        await page.getByTestId('audit-page').waitFor();
        const button = page.getByTestId('audit-export');
        assert.match(await button.innerText(), TEXT[locale].exportCsv);
        const [download] = await Promise.all([page.waitForEvent('download'), button.click()]);
        const csv = await readFile((await download.path())!, 'utf8');
        const lines = csv.replace(/^\uFEFF/, '').trim().split(/\r?\n/);
        const header = lines[0]!.split(',');
        assert.deepEqual(header.slice(-2), ['time_zone', 'occurred_at_utc'], lines[0]);
        const at = header.indexOf('occurred_at');
        assert.ok(at >= 0, lines[0]);
        assert.ok(lines.length > 5, `audit rows: ${lines.length}`);
        // rows whose cells hold no comma or quote can be split simply; there are such rows (logins)
        const simple = lines.slice(1).filter((line) => !line.includes('"'));
        assert.ok(simple.length > 0, csv.slice(0, 500));
        for (const line of simple) {
          const cells = line.split(',');
          const utc = cells.at(-1)!;
          assert.equal(cells.at(-2), ZONE, line);
          assert.match(utc, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/, line);
          assert.equal(cells[at], `${shanghai(utc, true)} +08:00`, line);
        }
      } finally {
        await page.close();
      }
    });
  }
});

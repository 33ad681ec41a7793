/**
 * 危急值 in headless Chromium (issue 14, item 5), at 1920×1080 and 1366×768, in zh-CN and en:
 * the radiologist flags a critical finding on the reading page; the township screen, open
 * in another tab, shows the red banner without 刷新 (live events) and sounds (Web Audio);
 * the technologist acknowledges (received by, how the clinician was told); the banner goes;
 * the critical-findings view lists it with the time to acknowledgement.
 * Needs packages/web/dist (npm test builds it first) or YUNYING_WEB_DIST.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { startListeningServer, type ListeningServer } from '@yunying/server/test-support/listening-server';
import { TEST_ADMIN_PASSWORD } from '@yunying/server/test-support/admin-auth';
import { makeSyntheticInstance } from '@yunying/testing/synthetic-dicom';

const WEB_DIST = process.env.YUNYING_WEB_DIST ?? path.resolve(import.meta.dirname, '../dist');
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--autoplay-policy=no-user-gesture-required'];
const TIMEOUT = 30_000;
const PASSWORD = 'Correct-Horse-9';

let server: ListeningServer;
let context: BrowserContext;
let userDataDir: string;
let techToken: string;

async function login(username: string, password: string): Promise<string> {
  const response = await fetch(`${server.baseUrl}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username, password }) });
  assert.equal(response.status, 200);
  return ((await response.json()) as { token: string }).token;
}

async function api<T>(token: string, method: string, url: string, body?: unknown): Promise<T> {
  const response = await fetch(`${server.baseUrl}${url}`, { method, headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) }, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await response.text();
  assert.ok(response.ok, `${method} ${url}: ${response.status} ${text}`);
  return (text ? JSON.parse(text) : undefined) as T;
}

/** A township CT study and its reading request to the county hospital. */
async function requestRead(patientName: string): Promise<string> {
  const instance = makeSyntheticInstance({ modality: 'CT', patientId: `P-CRIT-${Math.random().toString().slice(2, 10)}`, patientName, studyDate: new Date().toISOString().slice(0, 10).replace(/-/g, '') });
  const boundary = 'critical-boundary-7';
  const body = Buffer.concat([Buffer.from(`\r\n--${boundary}\r\nContent-Type: application/dicom\r\n\r\n`), instance.bytes, Buffer.from(`\r\n--${boundary}--`)]);
  const stored = await fetch(`${server.baseUrl}/dicom-web/studies`, { method: 'POST', headers: { authorization: `Bearer ${techToken}`, 'content-type': `multipart/related; type="application/dicom"; boundary="${boundary}"`, accept: 'application/dicom+json' }, body });
  assert.equal(stored.status, 200, await stored.text());
  const request = await api<{ id: string }>(techToken, 'POST', '/api/v1/reading-requests', { studyInstanceUid: instance.studyInstanceUid, readingInstitutionId: 'ks-county', priority: 'emergency', imagesComplete: true });
  return request.id;
}

before(async () => {
  assert.ok(existsSync(path.join(WEB_DIST, 'index.html')), `build the web app first (npm run build:web): ${WEB_DIST}`);
  // escalation after 3 s, once: the last test waits for it
  server = await startListeningServer({ YUNYING_WEB_DIST: WEB_DIST, YUNYING_CRITICAL_ESCALATE_MINUTES: '0.05', YUNYING_CRITICAL_ESCALATE_MAX: '1' });
  const adminToken = await login('admin', TEST_ADMIN_PASSWORD);
  await api(adminToken, 'POST', '/api/v1/institutions', { id: 'ks-county', name: '昆山市第一人民医院', tier: 'county' });
  await api(adminToken, 'POST', '/api/v1/institutions', { id: 'ks-t1', name: '周市镇卫生院', tier: 'township', parentId: 'ks-county' });
  await api(adminToken, 'PUT', '/api/v1/institutions/ks-county/members/ks-t1');
  await api(adminToken, 'POST', '/api/v1/users', { username: 'rad', password: PASSWORD, role: 'radiologist', institutionId: 'ks-county', displayName: '赵医生' });
  await api(adminToken, 'POST', '/api/v1/users', { username: 'tech', password: PASSWORD, role: 'technologist', institutionId: 'ks-t1', displayName: '李技师' });
  await api(adminToken, 'PUT', '/api/v1/critical-findings/contacts/ks-t1', { phone: '13800138000' });
  techToken = await login('tech', PASSWORD);
  userDataDir = await mkdtemp(path.join(tmpdir(), 'yunying-chromium-critical-'));
  context = await chromium.launchPersistentContext(userDataDir, { executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: CHROMIUM_ARGS, viewport: { width: 1366, height: 768 }, locale: 'zh-CN' });
});

after(async () => {
  await context?.close();
  await server?.close();
  if (userDataDir) await rm(userDataDir, { recursive: true, force: true });
});

const TEXT = {
  'zh-CN': { live: '实时', category: '急性脑出血', banner: '危急值警报', inPerson: '当面', menu: '危急值', acknowledged: '已确认', flaggedBy: '赵医生' },
  en: { live: 'Live', category: 'Acute intracranial haemorrhage', banner: 'CRITICAL FINDING', inPerson: 'In person', menu: 'Critical findings', acknowledged: 'Acknowledged', flaggedBy: '赵医生' },
} as const;

/** A new tab (its own session: the token lives in sessionStorage) signed in as `username`. */
async function openAs(username: string, pathname: string, locale: 'zh-CN' | 'en', viewport: { width: number; height: number }, ready: string, password = PASSWORD): Promise<Page> {
  const page = await context.newPage();
  page.setDefaultTimeout(TIMEOUT);
  await page.setViewportSize(viewport);
  await page.addInitScript((value) => localStorage.setItem('yunying.locale', value), locale);
  await page.goto(`${server.baseUrl}${pathname}`);
  await page.getByTestId('login-username').fill(username);
  await page.getByTestId('login-password').fill(password);
  await page.getByTestId('login-submit').click();
  await page.waitForURL((url) => !url.pathname.startsWith('/login'));
  if (new URL(page.url()).pathname !== pathname) await page.goto(`${server.baseUrl}${pathname}`);
  await page.getByTestId(ready).waitFor();
  return page;
}

describe('critical findings: flag, live township alert, acknowledgement, statistics', { timeout: 300_000 }, () => {
  for (const viewport of [{ width: 1920, height: 1080 }, { width: 1366, height: 768 }]) {
    for (const locale of ['zh-CN', 'en'] as const) {
      test(`${viewport.width}×${viewport.height}, ${locale}`, async () => {
        const text = TEXT[locale];
        const requestId = await requestRead(locale === 'en' ? `Wang^Wu${viewport.width}=王^五` : `Chen^Liu${viewport.width}=陈^六`);

        // The township screen, live.
        const township = await openAs('tech', '/township', locale, viewport, 'township-page');
        await township.getByText(text.live).first().waitFor();
        assert.equal(await township.getByTestId('critical-alert').count(), 0);

        // The radiologist, reading, flags a critical finding.
        const reading = await openAs('rad', `/reading/${requestId}`, locale, viewport, 'reading-page');
        const panel = reading.getByTestId('critical-findings');
        await panel.waitFor();
        await reading.getByTestId('critical-flag').click();
        await reading.getByTestId('critical-category').click();
        await reading.locator('.ant-select-item-option').filter({ hasText: text.category }).first().click();
        await reading.getByTestId('critical-note').fill('左侧基底节区急性出血');
        await reading.getByTestId('critical-flag-submit').click();
        await panel.getByTestId('critical-finding').first().waitFor();
        assert.equal(await panel.getByTestId('critical-finding').first().getAttribute('data-status'), 'open');

        // The township's banner appears without a reload, and the screen sounded.
        const alert = township.getByTestId('critical-alert');
        await alert.first().waitFor();
        const bannerText = await alert.first().innerText();

        for (const expected of [text.banner, text.category, text.flaggedBy, '左侧基底节区急性出血']) assert.ok(bannerText.includes(expected), `${expected} in ${bannerText}`);
        assert.ok(Number(await township.getByTestId('critical-alerts').getAttribute('data-beeps')) >= 1, 'no alert tone');
        // the request's row in the township's list carries the red 危急值 mark, live too
        await township.locator('[data-testid="critical-row-mark"][data-open="true"]').first().waitFor();
        const box = await alert.first().boundingBox();
        assert.ok(box && box.y < viewport.height / 2 && box.width > viewport.width / 2, `the banner is prominent: ${JSON.stringify(box)}`);

        // Acknowledged: who received it (the signed-in user's name by default), how the clinician was told.
        await alert.first().getByTestId('critical-acknowledge').click();
        const form = township.getByTestId('critical-ack-form');
        await form.waitFor();
        assert.equal(await township.getByTestId('critical-ack-received-by').inputValue(), '李技师');
        await form.getByText(text.inPerson, { exact: true }).click();
        await township.getByTestId('critical-ack-clinician').fill('陈医生');
        await township.getByTestId('critical-ack-submit').click();
        await township.getByTestId('critical-alerts').waitFor({ state: 'detached' });

        // The radiologist's panel shows the acknowledgement, live.
        await panel.locator('[data-testid="critical-finding"][data-status="acknowledged"]').waitFor();
        await township.locator('[data-testid="critical-row-mark"][data-open="false"]').first().waitFor();
        assert.equal(await panel.getByTestId('critical-received-by').first().innerText(), '李技师');
        await reading.close();

        // The statistics view lists it with its time to acknowledgement.
        await township.getByTestId('main-menu').getByText(text.menu, { exact: true }).click();
        await township.getByTestId('critical-stats').waitFor();
        const [finding] = await api<Array<{ id: string; requestId: string; secondsToAcknowledge: number }>>(techToken, 'GET', '/api/v1/critical-findings?status=acknowledged&limit=1');
        assert.equal(finding!.requestId, requestId);
        const row = township.locator(`tr[data-finding-id="${finding!.id}"]`);
        await row.waitFor();
        assert.equal(await row.getAttribute('data-status'), 'acknowledged');
        assert.match(await row.getByTestId('critical-time-to-ack').innerText(), /^\d+:\d{2}$/);
        assert.ok((await row.innerText()).includes(text.acknowledged));
        await township.close();
      });
    }
  }

  test('the administrator keeps the category list and the alert phones (1366×768, zh-CN)', async () => {
    const page = await openAs('admin', '/admin', 'zh-CN', { width: 1366, height: 768 }, 'admin-page', TEST_ADMIN_PASSWORD);
    await page.getByRole('tab', { name: '危急值' }).click();
    const settings = page.getByTestId('critical-settings');
    await settings.waitFor();
    await settings.locator('input[value="急性脑出血"]').waitFor();
    await page.getByTestId('critical-phone-ks-t1').fill('13900001111');
    await page.getByTestId('critical-phone-save-ks-t1').click();
    await page.getByText('已保存').first().waitFor();
    const contacts = await api<Array<{ institutionId: string; phone: string }>>(await login('admin', TEST_ADMIN_PASSWORD), 'GET', '/api/v1/critical-findings/contacts');
    assert.equal(contacts.find((contact) => contact.institutionId === 'ks-t1')?.phone, '13900001111');
    await page.close();
  });

  test('left unacknowledged, the reading centre is told on whatever screen it is (1366×768, en and zh-CN)', async () => {
    for (const locale of ['en', 'zh-CN'] as const) {
      const requestId = await requestRead(`Sun^Qi${locale}=孙^七`);
      const worklist = await openAs('rad', '/worklist', locale, { width: 1366, height: 768 }, 'main-menu');
      await worklist.getByText(TEXT[locale].live).first().waitFor().catch(() => undefined);
      const radToken = await login('rad', PASSWORD);
      const finding = await api<{ id: string }>(radToken, 'POST', `/api/v1/reading-requests/${requestId}/critical-findings`, { category: 'aortic-dissection' });
      const notice = worklist.getByTestId('critical-escalation-notice');
      await notice.waitFor();
      const noticeText = await notice.innerText();
      assert.ok(noticeText.includes(locale === 'en' ? 'Aortic dissection' : '主动脉夹层'), noticeText);
      assert.ok(noticeText.includes(locale === 'en' ? 'telephone the requesting institution' : '请电话联系申请机构'), noticeText);
      await notice.getByTestId('critical-escalation-open').click();
      await worklist.waitForURL((url) => url.pathname === `/reading/${requestId}`);
      await worklist.getByTestId('critical-findings').getByTestId('critical-finding').first().waitFor();
      await api(techToken, 'POST', `/api/v1/critical-findings/${finding.id}/acknowledgement`, { receivedBy: '李技师', informedVia: 'phone' });
      await worklist.close();
    }
  });
});

/**
 * The printed report (issue 14, item 12) from the township screen in headless Chromium, at
 * 1920×1080 and 1366×768, in zh-CN and en: the technologist presses 打印 / Print on a signed
 * request, the PDF the app fetches and opens (a blob in a new window) is taken as it arrives and
 * its text taken by pdftotext (poppler-utils): the body part in Chinese (胸部, never CHEST),
 * the line saying an access code is needed once the cloud-film link asks for one (and never
 * the code itself), and the reviewer's signature image once one is set (yunying user
 * signature): one more image in the PDF than without it. The PDF is Chinese whatever the
 * screen's language. One server and browser for the four combinations.
 * Needs packages/web/dist (npm run build:web) or YUNYING_WEB_DIST, and pdftotext.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { startListeningServer, type ListeningServer } from '@yunying/server/test-support/listening-server';
import { TEST_ADMIN_PASSWORD } from '@yunying/server/test-support/admin-auth';
import { runYunyingCli } from '@yunying/server/test-support/cli';
import { signaturePng } from '@yunying/server/test-support/signature-png';
import { makeSyntheticInstance, newUid } from '@yunying/testing/synthetic-dicom';

const WEB_DIST = process.env.YUNYING_WEB_DIST ?? path.resolve(import.meta.dirname, '../dist');
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const TIMEOUT = 30_000;
const PASSWORD = 'Report-Pdf-2026';
const ACCESS_CODE_NOTE = '凭访问码查看（访问码另行告知）';
const IMPRESSION = '右下肺炎症，建议抗炎治疗后复查。';

const COMBOS = [
  { locale: 'zh-CN', viewport: { width: 1920, height: 1080 } },
  { locale: 'en', viewport: { width: 1920, height: 1080 } },
  { locale: 'zh-CN', viewport: { width: 1366, height: 768 } },
  { locale: 'en', viewport: { width: 1366, height: 768 } },
] as const;
const PRINT = { 'zh-CN': /打\s*印/, en: /Print/ } as const;

let server: ListeningServer;
let context: BrowserContext;
let userDataDir: string;
let workDir: string;
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

/** A township CT of today (5 slices) requested, read, submitted and signed through the REST API; the request id. */
async function signedChestCt(patientId: string): Promise<{ requestId: string; studyInstanceUid: string }> {
  const now = new Date();
  const today = `${now.getFullYear()}${String(now.getMonth() + 1).padStart(2, '0')}${String(now.getDate()).padStart(2, '0')}`;
  const studyInstanceUid = newUid();
  const seriesInstanceUid = newUid();
  const boundary = 'report-pdf-boundary';
  const parts = Array.from({ length: 5 }, (_, n) => makeSyntheticInstance({ studyInstanceUid, seriesInstanceUid, instanceNumber: n + 1, studyDate: today, patientId, modality: 'CT' }).bytes).flatMap((file) => [Buffer.from(`\r\n--${boundary}\r\nContent-Type: application/dicom\r\n\r\n`), file]);
  const stored = await fetch(`${server.baseUrl}/dicom-web/studies`, {
    method: 'POST',
    headers: { authorization: `Bearer ${tokens.tech}`, 'content-type': `multipart/related; type="application/dicom"; boundary="${boundary}"`, accept: 'application/dicom+json' },
    body: Buffer.concat([...parts, Buffer.from(`\r\n--${boundary}--`)]),
  });
  assert.equal(stored.status, 200, await stored.text());
  const request = await call<{ id: string }>('tech', 'POST', '/api/v1/reading-requests', { studyInstanceUid, priority: 'routine', clinicalHistory: '咳嗽发热3天', bodyParts: ['CHEST'], imagesComplete: true });
  await call('rad', 'POST', `/api/v1/reading-requests/${request.id}/claim`);
  const draft = await call<{ id: string }>('rad', 'PUT', `/api/v1/reading-requests/${request.id}/report`, { findings: '右下肺见斑片状高密度影，边界模糊。', impression: IMPRESSION, positive: true });
  await call('rad', 'POST', `/api/v1/reports/${draft.id}/submit`);
  // a password confirms the signature where the e-signature asks for one; ignored otherwise
  await call('rev', 'POST', `/api/v1/reports/${draft.id}/sign`, { password: PASSWORD });
  return { requestId: request.id, studyInstanceUid };
}

/** The township screen in `locale` at `viewport`, signed in as the technologist. */
async function openTownship(locale: 'zh-CN' | 'en', viewport: { width: number; height: number }): Promise<Page> {
  const page = await context.newPage();
  page.setDefaultTimeout(TIMEOUT);
  await page.setViewportSize(viewport);
  await page.addInitScript((value) => localStorage.setItem('yunying.locale', value), locale);
  await page.goto(`${server.baseUrl}/`);
  await page.getByTestId('login-username').or(page.getByTestId('township-page')).first().waitFor();
  if (await page.getByTestId('login-username').isVisible()) {
    await page.getByTestId('login-username').fill('tech');
    await page.getByTestId('login-password').fill(PASSWORD);
    await page.getByTestId('login-submit').click();
  }
  await page.getByTestId('township-page').waitFor();
  return page;
}

/** Presses the row's print button and reads back the PDF the app opens in a new window. */
async function printFromRow(page: Page, requestId: string, locale: 'zh-CN' | 'en'): Promise<Buffer> {
  const button = page.locator(`[data-testid="township-requests"] tr[data-request-id="${requestId}"]`).getByTestId('print-report');
  await button.waitFor();
  assert.match(await button.innerText(), PRINT[locale]);
  // the bytes as the app fetched them, passed through on the way (the app's CSP keeps its blob:
  // URLs away from fetch, so they are not read back from the page), and the window it opens
  let pdf: Buffer | undefined;
  const pattern = /\/api\/v1\/reports\/[^/]+\/pdf$/;
  await page.route(pattern, async (route) => {
    const response = await route.fetch();
    assert.equal(response.status(), 200);
    assert.equal(response.headers()['content-type'], 'application/pdf');
    pdf = await response.body();
    await route.fulfill({ response, body: pdf });
  });
  const [popup] = await Promise.all([page.waitForEvent('popup'), button.click()]);
  // the app points the window at a blob: URL of the PDF once it has arrived
  await popup.waitForURL(/^blob:/, { timeout: TIMEOUT });
  await popup.close();
  await page.unroute(pattern);
  assert.ok(pdf, 'the app fetched the PDF');
  assert.equal(pdf.subarray(0, 5).toString('latin1'), '%PDF-');
  return pdf;
}

async function pdfText(pdf: Buffer, name: string): Promise<string> {
  const file = path.join(workDir, `${name}.pdf`);
  await writeFile(file, pdf);
  return execFileSync('pdftotext', ['-enc', 'UTF-8', file, '-'], { encoding: 'utf8' }).replace(/\s+/g, '');
}

const imagesIn = (pdf: Buffer) => pdf.toString('latin1').match(/\/Subtype\s*\/Image/g)?.length ?? 0;

before(async () => {
  assert.ok(existsSync(path.join(WEB_DIST, 'index.html')), `build the web app first (npm run build:web): ${WEB_DIST}`);
  workDir = await mkdtemp(path.join(tmpdir(), 'yunying-report-pdf-'));
  server = await startListeningServer({ YUNYING_WEB_DIST: WEB_DIST, YUNYING_LOG_LEVEL: process.env.YUNYING_LOG_LEVEL ?? 'silent' });
  tokens.admin = await login('admin', TEST_ADMIN_PASSWORD);
  await call('admin', 'POST', '/api/v1/institutions', { id: 'ks-county', name: '昆山市第一人民医院', tier: 'county', grade: 3 });
  await call('admin', 'POST', '/api/v1/institutions', { id: 'ks-t1', name: '周市镇卫生院', tier: 'township', grade: 1, parentId: 'ks-county' });
  await call('admin', 'PUT', '/api/v1/institutions/ks-county/members/ks-t1');
  for (const [username, role, institutionId, displayName] of [
    ['tech', 'technologist', 'ks-t1', '李技师'],
    ['rad', 'radiologist', 'ks-county', '赵医生'],
    ['rev', 'reviewing-radiologist', 'ks-county', '孙主任'],
  ] as const) {
    await call('admin', 'POST', '/api/v1/users', { username, password: PASSWORD, role, institutionId, displayName });
    tokens[username] = await login(username, PASSWORD);
  }
  userDataDir = await mkdtemp(path.join(tmpdir(), 'yunying-chromium-report-pdf-'));
  context = await chromium.launchPersistentContext(userDataDir, { executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: CHROMIUM_ARGS, viewport: { width: 1920, height: 1080 }, locale: 'zh-CN' });
});

after(async () => {
  await context?.close();
  await server?.close();
  for (const dir of [userDataDir, workDir]) if (dir) await rm(dir, { recursive: true, force: true });
});

describe('the report PDF printed from the township screen', { timeout: 300_000 }, () => {
  let withoutSignature: number | undefined;

  test('before an access code and a signature image: Chinese body part, no access-code line', async () => {
    const { requestId } = await signedChestCt('PDF-0');
    const page = await openTownship('zh-CN', { width: 1920, height: 1080 });
    try {
      const pdf = await printFromRow(page, requestId, 'zh-CN');
      const text = await pdfText(pdf, 'plain');
      assert.ok(text.includes('胸部'), text);
      assert.ok(!/CHEST/i.test(text), text);
      assert.ok(text.includes(IMPRESSION), text);
      assert.ok(!text.includes(ACCESS_CODE_NOTE), 'no access code asked for yet');
      withoutSignature = imagesIn(pdf);
    } finally {
      await page.close();
    }
    // the reviewer's signature image, as an administrator sets it
    const file = path.join(workDir, 'signature.png');
    await writeFile(file, signaturePng());
    const set = await runYunyingCli(server.dataDir, ['user', 'signature', 'rev', file]);
    assert.equal(set.code, 0, set.stderr);
  });

  for (const [index, { locale, viewport }] of COMBOS.entries()) {
    test(`${viewport.width}×${viewport.height}, ${locale}: 胸部, the access-code line (not the code), the reviewer's signature image`, async () => {
      assert.ok(withoutSignature !== undefined, 'the first test ran');
      const { requestId, studyInstanceUid } = await signedChestCt(`PDF-${index + 1}`);
      // signing made the patient's cloud-film link; staff give it an access code
      const links = await call<Array<{ id: string; kind: string }>>('tech', 'GET', `/api/v1/share-links?studyInstanceUid=${studyInstanceUid}`);
      const link = links.find((l) => l.kind === 'patient');
      assert.ok(link, JSON.stringify(links));
      const issued = await call<{ accessCode: string }>('tech', 'POST', `/api/v1/share-links/${link.id}/access-code`, {});
      assert.match(issued.accessCode, /\S{4,}/);

      const page = await openTownship(locale, viewport);
      try {
        assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth + 1), 'no sideways scrolling');
        const pdf = await printFromRow(page, requestId, locale);
        const text = await pdfText(pdf, `combo-${index}`);
        assert.ok(text.includes('胸部'), `body part in Chinese: ${text}`);
        assert.ok(!/CHEST/i.test(text), `no DICOM code: ${text}`);
        assert.ok(text.includes(IMPRESSION), text);
        assert.ok(text.includes(ACCESS_CODE_NOTE), `access-code line: ${text}`);
        assert.ok(!text.includes(issued.accessCode), 'the code itself is never printed');
        assert.ok(text.includes('孙主任') && text.includes('赵医生'), `signers by name: ${text}`);
        assert.equal(imagesIn(pdf), withoutSignature + 1, 'the reviewer’s signature is one more image');
      } finally {
        await page.close();
      }
    });
  }
});

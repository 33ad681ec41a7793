/**
 * The township technologist manages the patient's cloud-film link (issue 14, item 10) in
 * headless Chromium, at 1920×1080 and 1366×768, in zh-CN and en: from a study row of the
 * township screen they open the study's images, show the link's QR code (rendered by the
 * server), set an access code (the patient page then asks for it), re-issue the link (the old
 * one answers 410, the new one works with the code) and revoke it (410). The reading request
 * form starts with the body part the images record (BodyPartExamined).
 * Needs packages/web/dist (npm test builds it first) or YUNYING_WEB_DIST.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { buildPart10, encodeDataset, TRANSFER_SYNTAX, type DicomJsonDataset } from '@yunying/dicom';
import { startListeningServer, type ListeningServer } from '@yunying/server/test-support/listening-server';
import { TEST_ADMIN_PASSWORD } from '@yunying/server/test-support/admin-auth';
import { newUid } from '@yunying/testing/synthetic-dicom';

const WEB_DIST = process.env.YUNYING_WEB_DIST ?? path.resolve(import.meta.dirname, '../dist');
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const TIMEOUT = 30_000;
const PASSWORD = 'Correct-Horse-9';
const CT_IMAGE_STORAGE = '1.2.840.10008.5.1.4.1.1.2';

let server: ListeningServer;
let context: BrowserContext;
let userDataDir: string;
let techToken: string;

async function login(username: string, password: string): Promise<string> {
  const response = await fetch(`${server.baseUrl}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username, password }) });
  assert.equal(response.status, 200);
  return ((await response.json()) as { token: string }).token;
}

/** A small CT image that records its body part (the synthetic helper has no BodyPartExamined). */
function chestCtInstance(options: { studyInstanceUid: string; seriesInstanceUid: string; instanceNumber: number; studyDate: string; patientId: string }): Buffer {
  const size = 32;
  const sopInstanceUid = newUid();
  const pixels = new Uint16Array(size * size).map((_, i) => (i * 7 + options.instanceNumber) % 4096);
  const text = (vr: string, value: string) => ({ vr, Value: [value] });
  const dataset: DicomJsonDataset = {
    '00080016': text('UI', CT_IMAGE_STORAGE),
    '00080018': text('UI', sopInstanceUid),
    '00080020': text('DA', options.studyDate),
    '00080030': text('TM', '093000'),
    '00080050': text('SH', `ACC-${options.patientId}`),
    '00080060': text('CS', 'CT'),
    '00100010': { vr: 'PN', Value: [{ Alphabetic: 'FILM^PATIENT' }] },
    '00100020': text('LO', options.patientId),
    '00180015': text('CS', 'CHEST'),
    '0020000D': text('UI', options.studyInstanceUid),
    '0020000E': text('UI', options.seriesInstanceUid),
    '00200013': { vr: 'IS', Value: [options.instanceNumber] },
    '00280002': { vr: 'US', Value: [1] },
    '00280004': text('CS', 'MONOCHROME2'),
    '00280010': { vr: 'US', Value: [size] },
    '00280011': { vr: 'US', Value: [size] },
    '00280100': { vr: 'US', Value: [16] },
    '00280101': { vr: 'US', Value: [12] },
    '00280102': { vr: 'US', Value: [11] },
    '00280103': { vr: 'US', Value: [0] },
    '7FE00010': { vr: 'OW', InlineBinary: Buffer.from(pixels.buffer).toString('base64') },
  };
  const body = encodeDataset(dataset, TRANSFER_SYNTAX.EXPLICIT_LE);
  return buildPart10(body, { transferSyntaxUid: TRANSFER_SYNTAX.EXPLICIT_LE, sopClassUid: CT_IMAGE_STORAGE, sopInstanceUid });
}

/** One STOW-RS request with the Part 10 files as a multipart/related body. */
async function stow(files: readonly Buffer[]): Promise<void> {
  const boundary = 'film-boundary-7';
  const parts = files.flatMap((file) => [Buffer.from(`\r\n--${boundary}\r\nContent-Type: application/dicom\r\n\r\n`), file]);
  const body = Buffer.concat([...parts, Buffer.from(`\r\n--${boundary}--`)]);
  const response = await fetch(`${server.baseUrl}/dicom-web/studies`, {
    method: 'POST',
    headers: { authorization: `Bearer ${techToken}`, 'content-type': `multipart/related; type="application/dicom"; boundary="${boundary}"`, accept: 'application/dicom+json' },
    body,
  });
  assert.equal(response.status, 200, await response.text());
}

/** What the patient's phone gets for the link: the page, and its data without an unlocked session. */
async function patientSees(url: string): Promise<{ page: number; html: string; data: number }> {
  const pathname = new URL(url).pathname;
  const page = await fetch(`${server.baseUrl}${pathname}`, { headers: { accept: 'text/html' } });
  const data = await fetch(`${server.baseUrl}${pathname}/data.json`);
  return { page: page.status, html: await page.text(), data: data.status };
}

async function unlock(url: string, code: string): Promise<number> {
  const response = await fetch(`${server.baseUrl}${new URL(url).pathname}/unlock`, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json' }, body: JSON.stringify({ code }) });
  return response.status;
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
  // the county hospital reads for the township (its diagnostic centre)
  const member = await fetch(`${server.baseUrl}/api/v1/institutions/ks-county/members/ks-t1`, { method: 'PUT', headers: { authorization: `Bearer ${adminToken}` } });
  assert.equal(member.status, 204, await member.text());
  await admin('/api/v1/users', { username: 'tech', password: PASSWORD, role: 'technologist', institutionId: 'ks-t1' });
  techToken = await login('tech', PASSWORD);
  userDataDir = await mkdtemp(path.join(tmpdir(), 'yunying-chromium-township-film-'));
  context = await chromium.launchPersistentContext(userDataDir, { executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: CHROMIUM_ARGS, viewport: { width: 1366, height: 768 }, locale: 'zh-CN' });
});

after(async () => {
  await context?.close();
  await server?.close();
  if (userDataDir) await rm(userDataDir, { recursive: true, force: true });
});

const TEXT = {
  'zh-CN': { film: '云胶片', chest: '胸部' },
  en: { film: 'Cloud film', chest: 'Chest' },
} as const;

async function openTownship(locale: 'zh-CN' | 'en', viewport: { width: number; height: number }): Promise<Page> {
  const page = await context.newPage();
  page.setDefaultTimeout(TIMEOUT);
  await page.setViewportSize(viewport);
  await page.addInitScript((value) => localStorage.setItem('yunying.locale', value), locale === 'en' ? 'en' : 'zh-CN');
  await page.goto(`${server.baseUrl}/`);
  // The first page signs in; later ones find the session in the browser profile.
  await page.getByTestId('login-username').or(page.getByTestId('township-page')).first().waitFor();
  if (await page.getByTestId('login-username').isVisible()) {
    await page.getByTestId('login-username').fill('tech');
    await page.getByTestId('login-password').fill(PASSWORD);
    await page.getByTestId('login-submit').click();
  }
  await page.getByTestId('township-page').waitFor();
  return page;
}

const linkUrl = (page: Page) => page.getByTestId('film-link').and(page.locator('[data-link-url]')).getAttribute('data-link-url') as Promise<string>;

describe('the township technologist manages the cloud-film link', { timeout: 300_000 }, () => {
  const runs = [
    { locale: 'zh-CN', viewport: { width: 1920, height: 1080 } },
    { locale: 'en', viewport: { width: 1920, height: 1080 } },
    { locale: 'zh-CN', viewport: { width: 1366, height: 768 } },
    { locale: 'en', viewport: { width: 1366, height: 768 } },
  ] as const;
  for (const [index, { locale, viewport }] of runs.entries()) {
    test(`${locale} at ${viewport.width}×${viewport.height}: images, QR, access code, re-issue, revoke, body part`, async () => {
      const patientId = `FILM-${index}`;
      const studyInstanceUid = newUid();
      const seriesInstanceUid = newUid();
      const page = await openTownship(locale, viewport);
      const today = await page.evaluate(() => {
        const now = new Date();
        return `${now.getFullYear()}${String(now.getMonth() + 1).padStart(2, '0')}${String(now.getDate()).padStart(2, '0')}`;
      });
      await stow(Array.from({ length: 3 }, (_, i) => chestCtInstance({ studyInstanceUid, seriesInstanceUid, instanceNumber: i + 1, studyDate: today, patientId })));
      const row = page.locator(`tr[data-study-uid="${studyInstanceUid}"]`);
      await row.waitFor();

      // The study's own images, in the viewer (DICOMweb with the technologist's session).
      const metadata = page.waitForResponse((response) => response.url().includes(`/dicom-web/studies/${studyInstanceUid}/`) && response.request().method() === 'GET');
      await row.getByTestId('view-images').click();
      await page.getByTestId('township-viewer').waitFor();
      assert.equal((await metadata).status(), 200);
      await page.keyboard.press('Escape');
      await page.getByTestId('township-viewer').waitFor({ state: 'detached' });

      // A link without a code (as signing a report makes one); its QR code rendered by the server.
      const made = await fetch(`${server.baseUrl}/api/v1/share-links`, { method: 'POST', headers: { authorization: `Bearer ${techToken}`, 'content-type': 'application/json' }, body: JSON.stringify({ studyInstanceUid, accessCode: false }) });
      assert.equal(made.status, 201);
      const qr = page.waitForResponse((response) => /\/api\/v1\/share-links\/[^/]+\/qr\.png/.test(response.url()));
      await row.getByTestId('open-film').click();
      await page.getByText(`${TEXT[locale].film} ·`).first().waitFor();
      const qrResponse = await qr;
      assert.equal(qrResponse.status(), 200);
      assert.equal(qrResponse.headers()['content-type'], 'image/png');
      await page.getByTestId('film-qr').waitFor();
      assert.ok((await page.getByTestId('film-qr').evaluate((img: HTMLImageElement) => img.naturalWidth)) > 0, 'the QR image is drawn');
      const first = await linkUrl(page);
      await page.locator('[data-testid="film-has-code"][data-has-code="false"]').waitFor();
      const open = await patientSees(first);
      assert.deepEqual({ page: open.page, data: open.data }, { page: 200, data: 200 }, 'a link without a code opens');

      // An access code: shown once to the technologist; the patient page asks for it.
      await page.getByTestId('film-set-code').click();
      const codeAlert = page.getByTestId('film-access-code');
      await codeAlert.waitFor();
      const code = (await codeAlert.getAttribute('data-code'))!;
      assert.match(code, /^\d{4,6}$/);
      assert.ok((await codeAlert.innerText()).includes(code));
      await page.locator('[data-testid="film-has-code"][data-has-code="true"]').waitFor();
      const locked = await patientSees(first);
      assert.equal(locked.page, 200);
      assert.match(locked.html, /data-state="locked"/, 'the patient page asks for the code');
      assert.equal(locked.data, 401);
      assert.equal(await unlock(first, code), 200);

      // Re-issue: the old link is gone (410), the new one works and keeps its code.
      await page.getByTestId('film-reissue').click();
      await page.getByTestId('film-reissue-ok').click();
      await page.waitForFunction((old) => {
        const url = document.querySelector('[data-testid="film-link"][data-link-url]')?.getAttribute('data-link-url');
        return url && url !== old;
      }, first);
      const second = await linkUrl(page);
      assert.equal((await patientSees(first)).page, 410);
      const reissued = await patientSees(second);
      assert.match(reissued.html, /data-state="locked"/);
      const newCode = (await page.getByTestId('film-access-code').getAttribute('data-code'))!;
      assert.equal(await unlock(second, newCode), 200);

      // Changing the code: the new one opens the link, the old one no longer does.
      await page.getByTestId('film-set-code').click();
      await page.waitForFunction((old) => {
        const shown = document.querySelector('[data-testid="film-access-code"]')?.getAttribute('data-code');
        return shown && shown !== old;
      }, newCode);
      const changed = (await page.getByTestId('film-access-code').getAttribute('data-code'))!;
      assert.equal(await unlock(second, changed), 200);
      assert.equal(await unlock(second, newCode), 401);

      // Revoke, confirmed: 410, and the panel offers a new link.
      await page.getByTestId('film-revoke').click();
      await page.getByTestId('film-revoke-ok').click();
      await page.getByTestId('film-create').waitFor();
      assert.equal((await patientSees(second)).page, 410);

      // A new link from the panel comes with a code, shown once.
      await page.getByTestId('film-create').click();
      await page.getByTestId('film-qr').waitFor();
      const third = await linkUrl(page);
      const thirdCode = (await page.getByTestId('film-access-code').getAttribute('data-code'))!;
      assert.match((await patientSees(third)).html, /data-state="locked"/);
      assert.equal(await unlock(third, thirdCode), 200);
      await page.keyboard.press('Escape');
      await page.getByTestId('film-panel').waitFor({ state: 'detached' });

      // The reading request form starts with the images' body part, and the request carries it.
      await row.getByTestId('request-read').click();
      const form = page.getByTestId('request-read-form');
      await form.waitFor();
      await form.getByText(TEXT[locale].chest, { exact: true }).first().waitFor();
      const sent = page.waitForResponse((response) => new URL(response.url()).pathname === '/api/v1/reading-requests' && response.request().method() === 'POST');
      await page.getByTestId('request-read-ok').click();
      const sentResponse = await sent;
      assert.equal(sentResponse.status(), 201, await sentResponse.text());
      await form.waitFor({ state: 'detached' });
      const requests = await fetch(`${server.baseUrl}/api/v1/reading-requests?limit=500`, { headers: { authorization: `Bearer ${techToken}` } });
      const mine = ((await requests.json()) as Array<{ studyInstanceUid: string; bodyParts: string[] }>).find((request) => request.studyInstanceUid === studyInstanceUid);
      assert.deepEqual(mine?.bodyParts, ['CHEST']);
      await page.close();
    });
  }
});

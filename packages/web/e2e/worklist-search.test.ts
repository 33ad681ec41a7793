/**
 * The worklist's search box, age column and readers by name (issue 14, item 9) in headless
 * Chromium, at 1920×1080 and 1366×768, in zh-CN and en: typing a pinyin name ("wang xiao",
 * "zhangsan") filters the list to that patient; the row shows the age at the study (45岁 /
 * 45 y from Patient's Age, 36 from birth and study dates) and the reader's display name
 * (钱医生), not the user name.
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
import { makeSyntheticInstance, newUid } from '@yunying/testing/synthetic-dicom';

const WEB_DIST = process.env.YUNYING_WEB_DIST ?? path.resolve(import.meta.dirname, '../dist');
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const TIMEOUT = 30_000;
const PASSWORD = 'Worklist-Search-9';
const VIEWPORTS = [
  { width: 1920, height: 1080 },
  { width: 1366, height: 768 },
] as const;
const LOCALES = [
  { locale: 'zh-CN', switchTo: '中文', placeholder: '姓名/拼音/患者ID/检查号', age45: '45岁', age36: '36岁' },
  { locale: 'en', switchTo: 'EN', placeholder: 'Name / pinyin / patient ID / accession', age45: '45 y', age36: '36 y' },
] as const;

let server: ListeningServer;
let context: BrowserContext;
let userDataDir: string;
const requestIds: { zhang?: string; wang?: string } = {};

async function login(username: string, password: string): Promise<string> {
  const response = await fetch(`${server.baseUrl}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username, password }) });
  assert.equal(response.status, 200);
  return ((await response.json()) as { token: string }).token;
}

async function call(token: string, method: string, url: string, body?: unknown): Promise<unknown> {
  const response = await fetch(`${server.baseUrl}${url}`, { method, headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) }, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await response.text();
  assert.ok(response.ok, `${method} ${url}: ${response.status} ${text}`);
  return text ? JSON.parse(text) : undefined;
}

/** One study by STOW-RS, its Patient's Name with an ideographic group in UTF-8. */
async function stowStudy(token: string, options: { name: string; patientId: string; accessionNumber: string; patientAge?: string; patientBirthDate?: string }): Promise<string> {
  const studyInstanceUid = newUid();
  const file = makeSyntheticInstance({ studyInstanceUid, patientId: options.patientId, accessionNumber: options.accessionNumber, patientAge: options.patientAge, patientBirthDate: options.patientBirthDate, studyDate: '20261123', encodedPatientName: { specificCharacterSet: 'ISO_IR 192', bytes: Buffer.from(options.name, 'utf8') } }).bytes;
  const boundary = 'worklist-search-boundary';
  const body = Buffer.concat([Buffer.from(`\r\n--${boundary}\r\nContent-Type: application/dicom\r\n\r\n`), file, Buffer.from(`\r\n--${boundary}--`)]);
  const response = await fetch(`${server.baseUrl}/dicom-web/studies`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': `multipart/related; type="application/dicom"; boundary="${boundary}"`, accept: 'application/dicom+json' }, body });
  assert.equal(response.status, 200, await response.text());
  return studyInstanceUid;
}

before(async () => {
  assert.ok(existsSync(path.join(WEB_DIST, 'index.html')), `build the web app first (npm run build:web): ${WEB_DIST}`);
  server = await startListeningServer({ YUNYING_WEB_DIST: WEB_DIST });
  const admin = await login('admin', TEST_ADMIN_PASSWORD);
  await call(admin, 'POST', '/api/v1/institutions', { id: 'ks-county', name: '昆山市第一人民医院', tier: 'county', grade: 3 });
  await call(admin, 'POST', '/api/v1/institutions', { id: 'ks-t1', name: '周市镇卫生院', tier: 'township', grade: 1, parentId: 'ks-county' });
  await call(admin, 'PUT', '/api/v1/institutions/ks-county/members/ks-t1');
  for (const [username, role, institutionId, displayName] of [
    ['tech1', 'technologist', 'ks-t1', '李技师'],
    ['rad1', 'radiologist', 'ks-county', '赵医生'],
    ['rad2', 'radiologist', 'ks-county', '钱医生'],
  ] as const) await call(admin, 'POST', '/api/v1/users', { username, password: PASSWORD, role, institutionId, displayName });

  const tech = await login('tech1', PASSWORD);
  const zhangStudy = await stowStudy(tech, { name: 'ZHANG^SAN=张^三', patientId: 'KS0012345', accessionNumber: 'CT20261123001', patientAge: '045Y' });
  const wangStudy = await stowStudy(tech, { name: 'WANG^XIAODONG=王^小东', patientId: 'KS0099999', accessionNumber: 'DR20261123002', patientBirthDate: '19900601' });
  requestIds.zhang = ((await call(tech, 'POST', '/api/v1/reading-requests', { studyInstanceUid: zhangStudy, readingInstitutionId: 'ks-county', priority: 'routine', imagesComplete: true })) as { id: string }).id;
  requestIds.wang = ((await call(tech, 'POST', '/api/v1/reading-requests', { studyInstanceUid: wangStudy, readingInstitutionId: 'ks-county', priority: 'routine', imagesComplete: true })) as { id: string }).id;
  // 钱医生 reads 王小东: the worklist names the reader by display name
  await call(await login('rad2', PASSWORD), 'POST', `/api/v1/reading-requests/${requestIds.wang}/claim`);

  userDataDir = await mkdtemp(path.join(tmpdir(), 'yunying-chromium-worklist-search-'));
  context = await chromium.launchPersistentContext(userDataDir, { executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: CHROMIUM_ARGS, viewport: { width: 1920, height: 1080 }, locale: 'zh-CN' });
});

after(async () => {
  await context?.close();
  await server?.close();
  if (userDataDir) await rm(userDataDir, { recursive: true, force: true });
});

/** rad1's worklist in a new tab, in the language picked on the login screen. */
async function openWorklist(viewport: (typeof VIEWPORTS)[number], language: (typeof LOCALES)[number]): Promise<Page> {
  const page = await context.newPage();
  page.setDefaultTimeout(TIMEOUT);
  await page.setViewportSize(viewport);
  await page.goto(`${server.baseUrl}/`);
  await page.getByTestId('language-switch').getByText(language.switchTo, { exact: true }).click();
  await page.getByTestId('login-username').fill('rad1');
  await page.getByTestId('login-password').fill(PASSWORD);
  await page.getByTestId('login-submit').click();
  await page.getByTestId('worklist').waitFor();
  return page;
}

const rows = (page: Page) => page.locator('[data-testid="worklist"] tr[data-request-id]');

async function shownRequests(page: Page): Promise<string[]> {
  return (await rows(page).evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-request-id') ?? ''))).sort();
}

/** Types into the search box and waits for the list to be exactly `expected`. */
async function searchFor(page: Page, text: string, expected: string[]): Promise<void> {
  const box = page.getByTestId('worklist-search');
  await box.fill(text);
  const want = [...expected].sort();
  await page.waitForFunction((ids) => {
    const shown = [...document.querySelectorAll('[data-testid="worklist"] tr[data-request-id]')].map((tr) => tr.getAttribute('data-request-id') ?? '').sort();
    return JSON.stringify(shown) === JSON.stringify(ids);
  }, want);
  assert.deepEqual(await shownRequests(page), want, `"${text}"`);
}

describe('worklist search, age and readers by name', { timeout: 240_000 }, () => {
  for (const viewport of VIEWPORTS) {
    for (const language of LOCALES) {
      test(`${viewport.width}×${viewport.height}, ${language.locale}: a pinyin name filters the list; age and the reader's name show`, async () => {
        const page = await openWorklist(viewport, language);
        const all = [requestIds.zhang!, requestIds.wang!];
        await rows(page).nth(1).waitFor();
        assert.deepEqual(await shownRequests(page), [...all].sort());
        const box = page.getByTestId('worklist-search');
        assert.equal(await box.getAttribute('placeholder'), language.placeholder);
        assert.ok(await box.isVisible(), 'the search box is on screen');

        await searchFor(page, 'wang xiao', [requestIds.wang!]);
        const wang = rows(page).first();
        assert.equal((await wang.getByTestId('patient-age').innerText()).trim(), language.age36, 'age from birth and study dates');
        assert.match(await wang.innerText(), /王小东/);
        // the reader by display name, never the user name (the column shows from the lg breakpoint, 992 px)
        const reader = wang.getByTestId('claimed-by');
        assert.ok(await reader.isVisible(), 'the reader column is on screen');
        assert.equal((await reader.innerText()).trim(), '钱医生');
        assert.doesNotMatch(await wang.innerText(), /rad2/);

        await searchFor(page, 'zhangsan', [requestIds.zhang!]);
        assert.equal((await rows(page).first().getByTestId('patient-age').innerText()).trim(), language.age45, 'age from Patient\'s Age');
        await searchFor(page, '张', [requestIds.zhang!]);
        await searchFor(page, 'DR2026', [requestIds.wang!]);
        await searchFor(page, 'KS00', all);
        await searchFor(page, 'li si', []);
        await searchFor(page, '', all);
        await page.close();
      });
    }
  }
});

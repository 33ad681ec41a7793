/**
 * 患者互认 (mutual recognition, issue 17) in headless Chromium, at 1366×768 and 1920×1080, in
 * zh-CN and en: the same person (a valid resident ID as Patient ID) has a chest CT with a
 * signed report at a township health centre and a chest DR at the city hospital where the
 * clinician works. The clinician lands on the patient screen, finds the person by resident ID
 * (shown masked) and by name + birth date, sees both exams on the timeline, requests access to
 * the township's (a reason is required; in English as an emergency break-glass), opens it in
 * the viewer, records that it is recognised, and runs a duplicate check that finds it. The
 * administrator adds an item to the recognition catalogue in the 互认项目 tab and unlinks, merges
 * and unmerges an identity on the patient screen; the township asking for a reading is warned of
 * a comparable recent exam; the patient's cloud film lists their exams
 * and which staff (by role and institution) accessed them.
 * Needs packages/web/dist (npm test builds it first) or YUNYING_WEB_DIST.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type Locator, type Page } from 'playwright-core';
import { buildPart10, encodeDataset, TRANSFER_SYNTAX, type DicomJsonDataset } from '@yunying/dicom';
import { startListeningServer, type ListeningServer } from '@yunying/server/test-support/listening-server';
import { TEST_ADMIN_PASSWORD } from '@yunying/server/test-support/admin-auth';
import { newUid } from '@yunying/testing/synthetic-dicom';

const WEB_DIST = process.env.YUNYING_WEB_DIST ?? path.resolve(import.meta.dirname, '../dist');
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const TIMEOUT = 30_000;
const PASSWORD = 'Correct-Horse-9';
const CT_IMAGE_STORAGE = '1.2.840.10008.5.1.4.1.1.2';
const DX_IMAGE_STORAGE = '1.2.840.10008.5.1.4.1.1.1.1';
/** an item of the platform-wide recognition catalogue (region default) */
const CATALOGUE_ITEM = 'CT-CHEST-E2E';

let server: ListeningServer;
let context: BrowserContext;
let userDataDir: string;
const tokens: Record<string, string> = {};

/** A resident ID (居民身份证号) from its first 17 digits: the GB 11643 check character appended (ISO 7064 MOD 11-2). */
function residentId(first17: string): string {
  const weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
  const sum = [...first17].reduce((total, digit, i) => total + Number(digit) * weights[i]!, 0);
  return first17 + '10X98765432'[sum % 11]!;
}

/** A fresh local MRN suffix. */
function freshMrnSuffix(): string {
  return Math.random().toString().slice(2, 10);
}

/** A DICOM date `days` before today (local time). */
function daysAgo(days: number): string {
  const date = new Date(Date.now() - days * 86_400_000);
  return `${date.getFullYear()}${String(date.getMonth() + 1).padStart(2, '0')}${String(date.getDate()).padStart(2, '0')}`;
}

async function login(username: string, password: string): Promise<string> {
  const response = await fetch(`${server.baseUrl}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username, password }) });
  const text = await response.text();
  assert.equal(response.status, 200, `${username}: ${text}`);
  return (JSON.parse(text) as { token: string }).token;
}

async function call<T = unknown>(who: string, method: string, url: string, body?: unknown): Promise<T> {
  const response = await fetch(`${server.baseUrl}${url}`, { method, headers: { authorization: `Bearer ${tokens[who]}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) }, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await response.text();
  assert.ok(response.ok, `${who} ${method} ${url}: ${response.status} ${text}`);
  return (text ? JSON.parse(text) : undefined) as T;
}

interface Person {
  nationalId: string;
  /** DICOM PN, alphabetic=ideographic */
  dicomName: string;
  hanzi: string;
  birthDate: string;
  sex: 'M' | 'F';
}

/** One small image of the person's exam, stored by STOW-RS as `who` (the study belongs to their institution), under the resident ID or a local MRN. */
async function storeExam(who: string, person: Person, exam: { modality: 'CT' | 'DX'; bodyPart: string; studyDate: string; description: string; patientId?: string }): Promise<string> {
  const studyInstanceUid = newUid();
  const sopInstanceUid = newUid();
  const sopClassUid = exam.modality === 'CT' ? CT_IMAGE_STORAGE : DX_IMAGE_STORAGE;
  const size = 16;
  const text = (vr: string, value: string) => ({ vr, Value: [value] });
  const [alphabetic, ideographic] = person.dicomName.split('=');
  const dataset: DicomJsonDataset = {
    '00080005': text('CS', 'ISO_IR 192'),
    '00080016': text('UI', sopClassUid),
    '00080018': text('UI', sopInstanceUid),
    '00080020': text('DA', exam.studyDate),
    '00080030': text('TM', '093000'),
    '00080050': text('SH', `ACC${Math.random().toString().slice(2, 10)}`),
    '00080060': text('CS', exam.modality),
    '00081030': text('LO', exam.description),
    '00100010': { vr: 'PN', Value: [{ Alphabetic: alphabetic!, Ideographic: ideographic! }] },
    '00100020': text('LO', exam.patientId ?? person.nationalId),
    '00100030': text('DA', person.birthDate),
    '00100040': text('CS', person.sex),
    '00180015': text('CS', exam.bodyPart),
    '0020000D': text('UI', studyInstanceUid),
    '0020000E': text('UI', newUid()),
    '00200013': { vr: 'IS', Value: [1] },
    '00280002': { vr: 'US', Value: [1] },
    '00280004': text('CS', 'MONOCHROME2'),
    '00280010': { vr: 'US', Value: [size] },
    '00280011': { vr: 'US', Value: [size] },
    '00280100': { vr: 'US', Value: [16] },
    '00280101': { vr: 'US', Value: [12] },
    '00280102': { vr: 'US', Value: [11] },
    '00280103': { vr: 'US', Value: [0] },
    '7FE00010': { vr: 'OW', InlineBinary: Buffer.from(Uint16Array.from({ length: size * size }, (_, i) => (i * 37) % 4096).buffer).toString('base64') },
  };
  const file = buildPart10(encodeDataset(dataset, TRANSFER_SYNTAX.EXPLICIT_LE), { transferSyntaxUid: TRANSFER_SYNTAX.EXPLICIT_LE, sopClassUid, sopInstanceUid });
  const boundary = 'patient-lookup-boundary';
  const body = Buffer.concat([Buffer.from(`\r\n--${boundary}\r\nContent-Type: application/dicom\r\n\r\n`), file, Buffer.from(`\r\n--${boundary}--`)]);
  const response = await fetch(`${server.baseUrl}/dicom-web/studies`, { method: 'POST', headers: { authorization: `Bearer ${tokens[who]}`, 'content-type': `multipart/related; type="application/dicom"; boundary="${boundary}"`, accept: 'application/dicom+json' }, body });
  assert.equal(response.status, 200, await response.text());
  return studyInstanceUid;
}

/** The township's exam read at the county hospital and signed (so the timeline has an impression to show once access is granted). */
async function readAndSign(studyInstanceUid: string, impression: string): Promise<void> {
  const request = await call<{ id: string }>('tech', 'POST', '/api/v1/reading-requests', { studyInstanceUid, readingInstitutionId: 'ks-county', priority: 'routine', bodyParts: ['CHEST'], imagesComplete: true });
  await call('rad', 'POST', `/api/v1/reading-requests/${request.id}/claim`);
  const draft = await call<{ id: string }>('rad', 'PUT', `/api/v1/reading-requests/${request.id}/report`, { findings: '右肺下叶见小结节，边界清。', impression, positive: true });
  await call('rad', 'POST', `/api/v1/reports/${draft.id}/submit`);
  await call('rev', 'POST', `/api/v1/reports/${draft.id}/sign`, { password: PASSWORD });
}

/** A person with a signed chest CT at the township 10 days ago and a chest DR at the city hospital today. */
async function seedPerson(first17: string, dicomName: string, hanzi: string): Promise<{ person: Person; townshipStudy: string; cityStudy: string; impression: string }> {
  const nationalId = residentId(first17);
  const person: Person = { nationalId, dicomName, hanzi, birthDate: nationalId.slice(6, 14), sex: Number(nationalId[16]) % 2 === 1 ? 'M' : 'F' };
  const impression = `右肺下叶小结节 ${first17.slice(-4)}，建议随访。`;
  const townshipStudy = await storeExam('tech', person, { modality: 'CT', bodyPart: 'CHEST', studyDate: daysAgo(10), description: '胸部CT平扫' });
  await readAndSign(townshipStudy, impression);
  const cityStudy = await storeExam('cityTech', person, { modality: 'DX', bodyPart: 'CHEST', studyDate: daysAgo(0), description: '胸部正位片' });
  await server.feedHandled();
  return { person, townshipStudy, cityStudy, impression };
}

before(async () => {
  assert.ok(existsSync(path.join(WEB_DIST, 'index.html')), `build the web app first (npm run build:web): ${WEB_DIST}`);
  server = await startListeningServer({ YUNYING_WEB_DIST: WEB_DIST });
  tokens.admin = await login('admin', TEST_ADMIN_PASSWORD);
  await call('admin', 'POST', '/api/v1/institutions', { id: 'ks-county', name: '昆山市第一人民医院', tier: 'county', grade: 2 });
  await call('admin', 'POST', '/api/v1/institutions', { id: 'ks-t1', name: '周市镇卫生院', tier: 'township', grade: 1, parentId: 'ks-county' });
  await call('admin', 'PUT', '/api/v1/institutions/ks-county/members/ks-t1');
  await call('admin', 'POST', '/api/v1/institutions', { id: 'sz-city', name: '苏州市立医院', tier: 'city', grade: 3 });
  await call('admin', 'POST', '/api/v1/users', { username: 'tech', displayName: '李技师', password: PASSWORD, role: 'technologist', institutionId: 'ks-t1' });
  await call('admin', 'POST', '/api/v1/users', { username: 'rad', displayName: '赵医生', password: PASSWORD, role: 'radiologist', institutionId: 'ks-county' });
  await call('admin', 'POST', '/api/v1/users', { username: 'rev', displayName: '钱主任', password: PASSWORD, role: 'reviewing-radiologist', institutionId: 'ks-county' });
  await call('admin', 'POST', '/api/v1/users', { username: 'cityTech', displayName: '周技师', password: PASSWORD, role: 'technologist', institutionId: 'sz-city' });
  await call('admin', 'POST', '/api/v1/users', { username: 'countyTech', displayName: '吴技师', password: PASSWORD, role: 'technologist', institutionId: 'ks-county' });
  await call('admin', 'POST', '/api/v1/users', { username: 'clin', displayName: '孙医生', password: PASSWORD, role: 'clinician', institutionId: 'sz-city' });
  for (const who of ['tech', 'rad', 'rev', 'cityTech', 'countyTech', 'clin']) tokens[who] = await login(who, PASSWORD);
  // the platform-wide catalogue's chest CT: 30 days, a signed report
  await call('admin', 'PUT', `/api/v1/recognition-items/${CATALOGUE_ITEM}`, { name: '胸部CT平扫', modality: 'CT', bodyPart: 'CHEST', windowDays: 30, requireSignedReport: true, referencePriceYuan: 230 });
  userDataDir = await mkdtemp(path.join(tmpdir(), 'yunying-chromium-patients-'));
  context = await chromium.launchPersistentContext(userDataDir, { executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: CHROMIUM_ARGS, viewport: { width: 1366, height: 768 }, locale: 'zh-CN' });
});

after(async () => {
  await context?.close();
  await server?.close();
  if (userDataDir) await rm(userDataDir, { recursive: true, force: true });
});

const TEXT = {
  'zh-CN': {
    menu: '患者互认',
    timeline: '影像检查时间轴',
    requestNeeded: '需申请调阅',
    reasonRequired: '请填写调阅理由',
    signed: '已签发',
    recognised: '互认',
    recorded: '已记录互认结论',
    chest: '胸部',
    recognisable: '可互认',
    tab: '互认项目',
    merge: '合并患者',
  },
  en: {
    menu: 'Patient lookup',
    timeline: 'Imaging timeline',
    requestNeeded: 'Request needed',
    reasonRequired: 'Give a reason',
    signed: 'Signed',
    recognised: 'Recognised',
    recorded: 'Recognition recorded',
    chest: 'Chest',
    recognisable: 'Recognisable',
    tab: 'Recognition items',
    merge: 'Merge',
  },
} as const;

type Locale = keyof typeof TEXT;

/** A new tab (its own session) signed in as `username`, landing where the app sends that role. */
async function openAs(username: string, password: string, locale: Locale, viewport: { width: number; height: number }): Promise<Page> {
  const page = await context.newPage();
  page.setDefaultTimeout(TIMEOUT);
  await page.setViewportSize(viewport);
  await page.addInitScript((value) => {
    localStorage.setItem('yunying.locale', value);
    localStorage.setItem('yy-lang', value === 'en' ? 'en' : 'zh');
  }, locale);
  await page.goto(`${server.baseUrl}/`);
  await page.getByTestId('login-username').fill(username);
  await page.getByTestId('login-password').fill(password);
  await page.getByTestId('login-submit').click();
  await page.waitForURL((url) => !url.pathname.startsWith('/login'));
  return page;
}

/**
 * Visible texts without a Chinese character, outside identifiers shown verbatim ([data-identifier],
 * <code>), whose words are not among `allowed` (modalities, the language switch's EN, the DICOM
 * name's alphabetic part): what zh-cn-strings.test.ts checks on the other screens.
 */
async function latinOnlyTexts(page: Page, allowed: readonly string[]): Promise<string[]> {
  const texts = await page.evaluate(() => {
    const found: string[] = [];
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      const text = node.textContent?.trim();
      const parent = node.parentElement;
      if (!text || !parent || parent.closest('script, style, noscript, code, [data-identifier]')) continue;
      if (!parent.checkVisibility({ checkOpacity: true, checkVisibilityCSS: true })) continue;
      found.push(text);
    }
    return found;
  });
  return texts.filter((text) => !/[\u3000-\u9fff\uff00-\uffef]/.test(text) && !(text.match(/[A-Za-z]+/g) ?? []).every((word) => allowed.includes(word) || allowed.includes(word.toUpperCase())));
}

/** Picks an option of an antd Select by its visible label. */
/**
 * Picks the option with this label and waits until the Select shows it: a click that lands while
 * the dropdown is still opening (or on one that is closing) is tried again, not left unnoticed.
 */
async function choose(page: Page, select: Locator, label: string): Promise<void> {
  const chosen = select.filter({ hasText: label });
  for (let attempt = 0; attempt < 3 && (await chosen.count()) === 0; attempt++) {
    await select.click();
    await page.locator('.ant-select-dropdown:not(.ant-select-dropdown-hidden)').last().locator('.ant-select-item-option').filter({ hasText: label }).first().click();
    await chosen.waitFor({ timeout: 5_000 }).catch(() => undefined);
  }
  await chosen.waitFor({ timeout: 1_000 });
}

/** Confirms the patient-index dialog and waits until it closes; a refusal shown in it fails the test with its text. */
async function confirmIndexAction(page: Page): Promise<void> {
  await page.getByTestId('person-index-ok').click();
  const error = page.getByTestId('person-index-error');
  await Promise.race([page.getByTestId('person-index-form').waitFor({ state: 'detached' }), error.waitFor().then(async () => assert.fail(`refused: ${await error.innerText()}`))]);
}

const entryOf = (page: Page, studyInstanceUid: string) => page.locator(`[data-testid="timeline-entry"][data-study-uid="${studyInstanceUid}"]`);

const CASES = [
  { locale: 'zh-CN', viewport: { width: 1366, height: 768 }, first17: '32058319850312001', dicomName: 'ZHANG^WEI=张^伟', hanzi: '张伟', emergency: false },
  { locale: 'en', viewport: { width: 1920, height: 1080 }, first17: '32058319790621002', dicomName: 'LI^NA=李^娜', hanzi: '李娜', emergency: true },
] as const;

describe('患者互认: the clinician finds a person, opens and recognises another institution’s exam', { timeout: 300_000 }, () => {
  for (const { locale, viewport, first17, dicomName, hanzi, emergency } of CASES) {
    test(`${viewport.width}×${viewport.height}, ${locale}`, async () => {
      const text = TEXT[locale];
      const { person, townshipStudy, cityStudy, impression } = await seedPerson(first17, dicomName, hanzi);
      const page = await openAs('clin', PASSWORD, locale, viewport);

      // The clinician's home is the patient screen, named in the menu.
      await page.waitForURL((url) => url.pathname === '/patients');
      await page.getByTestId('patients-page').waitFor();
      await page.getByTestId('main-menu').getByText(text.menu, { exact: true }).waitFor();

      // By resident ID, exact: one person, the ID masked.
      await page.getByTestId('search-national-id').fill(person.nationalId);
      await page.getByTestId('search-submit').click();
      const row = page.getByTestId('person-results').locator('tr[data-person-id]');
      await row.first().waitFor();
      assert.equal(await row.count(), 1);
      const masked = await row.first().getByTestId('person-national-id').innerText();
      assert.match(masked, /^\d{4}\*+[\dX]{4}$/, `masked resident ID: ${masked}`);
      assert.ok(!(await page.getByTestId('patients-page').innerText()).includes(person.nationalId), 'the full resident ID is not on the screen');
      const personId = await row.first().getAttribute('data-person-id');
      assert.ok(personId);

      // The timeline: both exams, newest first; the own institution's open, the township's behind a request.
      const timeline = page.getByTestId('patient-timeline');
      await page.getByText(text.timeline, { exact: true }).waitFor();
      await entryOf(page, townshipStudy).waitFor();
      await entryOf(page, cityStudy).waitFor();
      assert.deepEqual(await timeline.getByTestId('timeline-entry').evaluateAll((entries) => entries.map((entry) => entry.getAttribute('data-study-uid'))), [cityStudy, townshipStudy]);
      const township = entryOf(page, townshipStudy);
      assert.equal(await township.getAttribute('data-access'), 'request-needed');
      assert.notEqual(await entryOf(page, cityStudy).getAttribute('data-access'), 'request-needed');
      assert.ok((await township.innerText()).includes('周市镇卫生院'));
      assert.ok((await township.getByTestId('entry-body-parts').innerText()).includes(text.chest));
      assert.equal(await township.getByTestId('entry-access').innerText(), text.requestNeeded);
      assert.equal(await township.getByTestId('entry-open').count(), 0);

      // 申请调阅: a reason is required; then the exam opens for this clinician.
      await township.getByTestId('entry-request-access').click();
      await page.getByTestId('access-request-form').waitFor();
      await page.getByTestId('access-request-ok').click();
      await page.getByText(text.reasonRequired, { exact: true }).waitFor();
      await page.getByTestId('access-request-reason').fill('门诊复查，需对比既往胸部CT');
      if (emergency) await page.getByTestId('access-request-emergency').check();
      await page.getByTestId('access-request-ok').click();
      await page.locator(`[data-testid="timeline-entry"][data-study-uid="${townshipStudy}"][data-access="granted"]`).waitFor();
      await page.getByTestId('access-request-form').waitFor({ state: 'detached' });
      await township.getByTestId('entry-report-status').filter({ hasText: text.signed }).waitFor();
      await township.getByTestId('entry-impression').filter({ hasText: impression }).waitFor();

      // Opened in the app's viewer.
      await township.getByTestId('entry-open').click();
      const viewer = page.getByTestId('patient-viewer').getByTestId('study-viewer');
      await viewer.waitFor();
      await page.waitForFunction(() => ['first-image', 'loaded'].includes(document.querySelector('[data-testid="patient-viewer"] [data-testid="study-viewer"]')?.getAttribute('data-state') ?? ''));
      await page.keyboard.press('Escape');
      await page.getByTestId('patient-viewer').waitFor({ state: 'detached' });

      // 记录互认: recognised instead of a new chest CT; listed on the entry.
      await township.getByTestId('entry-record-recognition').click();
      await page.getByTestId('recognition-form').waitFor();
      await page.getByTestId('recognition-reason').fill('10 天内胸部CT，报告已签发，符合互认条件');
      // the exam not repeated, picked from the catalogue by name
      await page.getByTestId('recognition-avoided-item').locator('input').fill('胸部CT');
      await page.locator('.ant-select-dropdown:visible .ant-select-item-option').filter({ hasText: `(${CATALOGUE_ITEM})` }).first().click();
      await page.getByTestId('recognition-ok').click();
      await page.getByText(text.recorded).first().waitFor();
      const recognition = township.locator('[data-testid="entry-recognition"][data-decision="recognised"]');
      await recognition.waitFor();
      assert.ok((await recognition.innerText()).includes(text.recognised));
      // who recorded it: the server records the caller's name (the login name until it keeps the display name)
      assert.ok(['孙医生', 'clin'].includes(await recognition.locator('[data-identifier]').innerText()), await recognition.innerText());
      const records = await call<Array<{ decision: string; avoidedExamItem: string | null }>>('clin', 'GET', `/api/v1/recognitions?studyInstanceUid=${encodeURIComponent(townshipStudy)}`);
      assert.deepEqual(records.map((record) => [record.decision, record.avoidedExamItem]), [['recognised', CATALOGUE_ITEM]]);

      if (locale === 'zh-CN') assert.deepEqual(await latinOnlyTexts(page, ['CT', 'DX', 'ID', 'EN', ...person.dicomName.split(/[=^]/)]), [], 'Latin-only text on the zh-CN patient screen');

      // Duplicate check before ordering a chest CT: the township's, 10 days ago, within 30 days.
      const check = page.getByTestId('duplicate-check');
      await choose(page, check.getByTestId('duplicate-modality'), 'CT');
      await choose(page, check.getByTestId('duplicate-body-part'), text.chest);
      await check.getByTestId('duplicate-submit').click();
      const match = check.locator(`[data-testid="duplicate-matches"] tr[data-study-uid="${townshipStudy}"]`);
      await match.waitFor();
      assert.equal(await match.getByTestId('duplicate-recognisable').getAttribute('data-recognisable'), 'true');
      assert.equal(await match.getByTestId('duplicate-recognisable').innerText(), text.recognisable);

      // By name and birth date (hanzi): the same person.
      await page.getByTestId('search-mode-name').click();
      await page.getByTestId('search-name').fill(person.hanzi);
      await page.getByTestId('search-birth-date').fill(`${person.birthDate.slice(0, 4)}-${person.birthDate.slice(4, 6)}-${person.birthDate.slice(6, 8)}`);
      await page.getByTestId('search-birth-date').press('Enter');
      await page.getByTestId('search-submit').click();
      await page.locator(`[data-testid="person-results"] tr[data-person-id="${personId}"]`).waitFor();
      await page.close();
    });
  }

  for (const [index, locale] of (['zh-CN', 'en'] as const).entries()) {
    test(`a probable link (same name, birth date and sex under a local MRN) is confirmed by the clinician (1366×768, ${locale})`, async () => {
      const { person } = await seedPerson(`3205831988020${index + 1}021`, `CHEN^JING${index}=陈^静${index}`, `陈静${index}`);
      const countyStudy = await storeExam('countyTech', person, { modality: 'CT', bodyPart: 'HEAD', studyDate: daysAgo(3), description: '头颅CT平扫', patientId: `MRN-${freshMrnSuffix()}` });
      await server.feedHandled();
      const page = await openAs('clin', PASSWORD, locale, { width: 1366, height: 768 });
      await page.getByTestId('patients-page').waitFor();
      await page.getByTestId('search-national-id').fill(person.nationalId);
      await page.getByTestId('search-submit').click();
      const candidate = page.getByTestId('link-candidates').getByTestId('link-candidate');
      await candidate.first().waitFor();
      assert.equal(await candidate.count(), 1);
      const shown = await candidate.first().innerText();
      assert.ok(shown.includes('昆山市第一人民医院') && shown.includes(locale === 'en' ? 'birth date' : '出生日期'), shown);
      assert.equal(await entryOf(page, countyStudy).count(), 0, 'not on the timeline before it is confirmed');
      await candidate.first().getByTestId('candidate-confirm').click();
      await page.getByTestId('link-candidates').waitFor({ state: 'detached' });
      await entryOf(page, countyStudy).waitFor();
      await page.close();
    });
  }

  for (const [index, locale] of (['zh-CN', 'en'] as const).entries()) {
    test(`the township is warned of a comparable recent exam when it asks for a reading (1366×768, ${locale})`, async () => {
      const { person, townshipStudy } = await seedPerson(`3205831966030${index + 1}031`, `ZHOU^MIN${index}=周^敏${index}`, `周敏${index}`);
      // today's chest CT under the township's own number: the resident ID comes with the request
      const today = await storeExam('tech', person, { modality: 'CT', bodyPart: 'CHEST', studyDate: daysAgo(0), description: '胸部CT平扫', patientId: `MRN-${freshMrnSuffix()}` });
      await server.feedHandled();
      const page = await openAs('tech', PASSWORD, locale, { width: 1366, height: 768 });
      await page.getByTestId('township-page').waitFor();
      await page.locator(`tr[data-study-uid="${today}"]`).getByTestId('request-read').click();
      await page.getByTestId('request-read-form').waitFor();
      await page.getByTestId('request-national-id').fill(person.nationalId);
      await page.getByTestId('request-read-ok').click();
      const warnings = page.getByTestId('duplicate-warnings');
      await warnings.waitFor();
      assert.ok((await warnings.innerText()).includes(locale === 'en' ? 'comparable recent exam' : '同类检查'), await warnings.innerText());
      const match = warnings.locator(`tr[data-study-uid="${townshipStudy}"]`);
      await match.waitFor();
      assert.equal(await match.getByTestId('duplicate-recognisable').getAttribute('data-recognisable'), 'true');
      assert.equal(await warnings.locator(`tr[data-study-uid="${today}"]`).count(), 0, 'not its own duplicate');
      await page.close();
    });
  }

  test('a typo in the resident ID is caught before the search (1366×768, zh-CN and en)', async () => {
    for (const locale of ['zh-CN', 'en'] as const) {
      const page = await openAs('clin', PASSWORD, locale, { width: 1366, height: 768 });
      await page.getByTestId('patients-page').waitFor();
      const valid = residentId('32058319850312001');
      const typo = `${valid.slice(0, 17)}${valid[17] === '0' ? '1' : '0'}`;
      await page.getByTestId('search-national-id').fill(typo);
      await page.getByTestId('search-submit').click();
      await page.getByText(locale === 'en' ? 'A resident ID has 18 characters and a valid check digit' : '身份证号应为 18 位且校验位正确').waitFor();
      assert.equal(await page.getByTestId('person-results').count(), 0);
      await page.close();
    }
  });

  for (const [index, locale] of (['zh-CN', 'en'] as const).entries()) {
    test(`the administrator adds a recognition item; unlinks, merges and unmerges on the patient screen (1366×768, ${locale})`, async () => {
      const text = TEXT[locale];
      const { person } = await seedPerson(`3205831970010${index + 4}011`, 'ZHAO^LEI=赵^磊', '赵磊');
      const code = `CT-CHEST-${locale === 'en' ? 'EN' : 'ZH'}`;
      const page = await openAs('admin', TEST_ADMIN_PASSWORD, locale, { width: 1366, height: 768 });
      await page.getByTestId('admin-page').waitFor();
      await page.getByRole('tab', { name: text.tab }).click();
      const tab = page.getByTestId('recognition-items-tab');
      await tab.waitFor();
      await tab.getByTestId('create-recognition-item').click();
      const form = page.getByTestId('recognition-item-form');
      await form.waitFor();
      await form.getByTestId('recognition-item-region').fill('320500');
      await form.getByTestId('recognition-item-code').fill(code);
      await form.getByTestId('recognition-item-name').fill('胸部CT平扫');
      await choose(page, form.getByTestId('recognition-item-modality'), 'CT');
      await choose(page, form.getByTestId('recognition-item-body-part'), text.chest);
      await form.getByTestId('recognition-item-window-days').fill('30');
      await choose(page, form.getByTestId('recognition-item-min-grade'), locale === 'en' ? 'Grade 2' : '2 级');
      await form.getByTestId('recognition-item-price').fill('230');
      await page.getByTestId('recognition-item-ok').click();
      await tab.locator(`tr[data-item-code="${code}"]`).waitFor();
      const items = await call<Array<{ region: string; code: string; modality: string; bodyPart: string | null; windowDays: number; minInstitutionGrade: number | null; requireSignedReport: boolean; referencePriceYuan: number | null }>>('admin', 'GET', '/api/v1/recognition-items?region=320500');
      const item = items.find((candidate) => candidate.code === code);
      assert.ok(item, `${code} in ${JSON.stringify(items)}`);
      assert.deepEqual({ modality: item.modality, bodyPart: item.bodyPart, windowDays: item.windowDays, minInstitutionGrade: item.minInstitutionGrade, requireSignedReport: item.requireSignedReport, referencePriceYuan: item.referencePriceYuan }, { modality: 'CT', bodyPart: 'CHEST', windowDays: 30, minInstitutionGrade: 2, requireSignedReport: true, referencePriceYuan: 230 });

      // The patient screen from the administrator's menu, with merge / unmerge / unlink.
      await page.getByTestId('main-menu').getByText(text.menu, { exact: true }).click();
      await page.getByTestId('patients-page').waitFor();
      await page.getByTestId('search-national-id').fill(person.nationalId);
      await page.getByTestId('search-submit').click();
      await page.getByTestId('person-index-actions').getByText(text.merge, { exact: true }).waitFor();
      const identifiers = page.getByTestId('person-identifiers').locator('tbody tr.ant-table-row');
      await identifiers.nth(1).waitFor();
      assert.equal(await identifiers.count(), 2);

      // Unlink the city hospital's identity (a reason is required), then merge it back by its person id.
      await page.getByTestId('person-unlink').click();
      await choose(page, page.getByTestId('person-index-identity'), '苏州市立医院');
      await page.getByTestId('person-index-ok').click();
      await page.getByText(locale === 'en' ? 'Give a reason' : '请填写理由', { exact: true }).waitFor();
      await page.getByTestId('person-index-reason').fill('登记错误，非同一人');
      await confirmIndexAction(page);
      await page.waitForFunction(() => document.querySelectorAll('[data-testid="person-identifiers"] tbody tr.ant-table-row').length === 1);
      const persons = await call<Array<{ id: string; identifiers: Array<{ institutionId: string }> }>>('admin', 'GET', `/api/v1/patients?nationalId=${person.nationalId}`);
      const unlinked = persons.find((candidate) => candidate.identifiers.some((identity) => identity.institutionId === 'sz-city'));
      assert.ok(unlinked && persons.length === 2, JSON.stringify(persons));
      const indexAction = async (action: 'merge' | 'unmerge', rows: number) => {
        await page.getByTestId(`person-${action}`).click();
        await page.getByTestId('person-index-person-id').fill(unlinked.id);
        await page.getByTestId('person-index-reason').fill(action === 'merge' ? '核实为同一人' : '合并有误');
        await confirmIndexAction(page);
        await page.waitForFunction((count) => document.querySelectorAll('[data-testid="person-identifiers"] tbody tr.ant-table-row').length === count, rows);
      };
      await indexAction('merge', 2);
      assert.ok((await page.getByTestId('person-identifiers').innerText()).includes(locale === 'en' ? 'Merged' : '合并'));
      await indexAction('unmerge', 1);
      await page.close();
    });
  }

  test('the cloud film lists the patient’s exams and which staff accessed them (zh-CN and en)', async () => {
    const { person, townshipStudy, cityStudy } = await seedPerson('32058319921105003', 'WANG^FANG=王^芳', '王芳');
    // the city hospital's clinician is granted the township's exam: the patient sees that, by role and institution
    const [found] = await call<Array<{ id: string }>>('clin', 'GET', `/api/v1/patients?nationalId=${person.nationalId}`);
    await call('clin', 'POST', `/api/v1/patients/${found!.id}/access-requests`, { studyInstanceUid: townshipStudy, reason: '门诊复查' });
    // links of the patient's own for both exams: the page lists the exams they cover
    const link = await call<{ url: string }>('tech', 'POST', '/api/v1/share-links', { studyInstanceUid: townshipStudy, accessCode: false });
    await call('cityTech', 'POST', '/api/v1/share-links', { studyInstanceUid: cityStudy, accessCode: false });
    for (const locale of ['zh-CN', 'en'] as const) {
      const page = await context.newPage();
      page.setDefaultTimeout(TIMEOUT);
      await page.addInitScript((value) => localStorage.setItem('yy-lang', value), locale === 'en' ? 'en' : 'zh');
      await page.goto(`${server.baseUrl}${new URL(link.url).pathname}`);
      const exams = page.locator('#my-exams');
      await exams.waitFor();
      assert.equal(await exams.locator('h2').innerText(), locale === 'en' ? 'My exams' : '我的检查记录');
      const entries = exams.locator('.exam-entry');
      assert.equal(await entries.count(), 2);
      const township = entries.filter({ hasText: '周市镇卫生院' });
      const shown = await township.innerText();
      assert.ok(shown.includes(locale === 'en' ? 'this exam' : '本次检查'), shown);
      for (const expected of ['苏州市立医院', locale === 'en' ? 'clinician' : '临床医生', locale === 'en' ? 'was granted access' : '申请调阅']) assert.ok(shown.includes(expected), `${expected} in ${shown}`);
      assert.ok(!shown.includes('孙医生') && !/\bclin\b/.test(shown), 'staff are not named to the patient');
      assert.ok((await entries.filter({ hasText: '苏州市立医院 · DX' }).count()) === 1, await exams.innerText());
      await page.close();
    }
  });

});

/**
 * Administration in the web UI (issue 14, item 11), in headless Chromium at 1920×1080 and
 * 1366×768, in zh-CN and en: the administrator edits an institution, adds and edits an AE
 * (a DICOM node once it has an address), adds and edits a routing rule, changes a role
 * through a confirmation that names the user and both roles (audited), edits an
 * institution's body-part pick list (the township request form then offers exactly it), and
 * changes the reading SLA (a request made afterwards counts down from the new allowance on
 * the worklist); a user changes their own password from the user menu and logs in with the
 * new one. Form checks and the server's refusals are shown in the screen's language.
 * Needs packages/web/dist (npm test builds it first) or YUNYING_WEB_DIST.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type Locator, type Page } from 'playwright-core';
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
let browser: Browser;
let adminToken: string;
let techToken: string;

async function login(username: string, password: string): Promise<string> {
  const response = await fetch(`${server.baseUrl}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username, password }) });
  const text = await response.text();
  assert.equal(response.status, 200, `${username}: ${text}`);
  return (JSON.parse(text) as { token: string }).token;
}

async function rest<T>(method: string, url: string, body?: unknown, token = adminToken): Promise<T> {
  const response = await fetch(`${server.baseUrl}${url}`, { method, headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) }, body: body ? JSON.stringify(body) : undefined });
  const text = await response.text();
  assert.ok(response.ok, `${method} ${url}: ${response.status} ${text}`);
  return (text ? JSON.parse(text) : undefined) as T;
}

/** A small chest CT image of the township (STOW-RS as its technologist). */
async function stowChestCt(patientId: string): Promise<string> {
  const studyInstanceUid = newUid();
  const sopInstanceUid = newUid();
  const size = 16;
  const text = (vr: string, value: string) => ({ vr, Value: [value] });
  const now = new Date();
  const today = `${now.getFullYear()}${String(now.getMonth() + 1).padStart(2, '0')}${String(now.getDate()).padStart(2, '0')}`;
  const dataset: DicomJsonDataset = {
    '00080016': text('UI', CT_IMAGE_STORAGE),
    '00080018': text('UI', sopInstanceUid),
    '00080020': text('DA', today),
    '00080030': text('TM', '093000'),
    '00080050': text('SH', `ACC-${patientId}`),
    '00080060': text('CS', 'CT'),
    '00100010': { vr: 'PN', Value: [{ Alphabetic: `ADMIN^${patientId}` }] },
    '00100020': text('LO', patientId),
    '00180015': text('CS', 'CHEST'),
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
    '7FE00010': { vr: 'OW', InlineBinary: Buffer.alloc(size * size * 2, 1).toString('base64') },
  };
  const file = buildPart10(encodeDataset(dataset, TRANSFER_SYNTAX.EXPLICIT_LE), { transferSyntaxUid: TRANSFER_SYNTAX.EXPLICIT_LE, sopClassUid: CT_IMAGE_STORAGE, sopInstanceUid });
  const boundary = 'admin-ui-boundary';
  const body = Buffer.concat([Buffer.from(`\r\n--${boundary}\r\nContent-Type: application/dicom\r\n\r\n`), file, Buffer.from(`\r\n--${boundary}--`)]);
  const response = await fetch(`${server.baseUrl}/dicom-web/studies`, { method: 'POST', headers: { authorization: `Bearer ${techToken}`, 'content-type': `multipart/related; type="application/dicom"; boundary="${boundary}"`, accept: 'application/dicom+json' }, body });
  if (response.status !== 200) assert.fail(await response.text());
  return studyInstanceUid;
}

before(async () => {
  assert.ok(existsSync(path.join(WEB_DIST, 'index.html')), `build the web app first (npm run build:web): ${WEB_DIST}`);
  server = await startListeningServer({ YUNYING_WEB_DIST: WEB_DIST });
  adminToken = await login('admin', TEST_ADMIN_PASSWORD);
  await rest('POST', '/api/v1/institutions', { id: 'ks-county', name: '昆山市第一人民医院', tier: 'county' });
  await rest('POST', '/api/v1/institutions', { id: 'ks-t1', name: '周市镇卫生院', tier: 'township', parentId: 'ks-county' });
  await rest('PUT', '/api/v1/institutions/ks-county/members/ks-t1');
  await rest('POST', '/api/v1/users', { username: 'tech', displayName: '李技师', password: PASSWORD, role: 'technologist', institutionId: 'ks-t1' });
  for (let i = 0; i < 4; i++) {
    await rest('POST', '/api/v1/users', { username: `role${i}`, displayName: `王医生${i}`, password: PASSWORD, role: 'clinician', institutionId: 'ks-t1' });
    await rest('POST', '/api/v1/users', { username: `self${i}`, password: PASSWORD, role: 'technologist', institutionId: 'ks-t1' });
  }
  techToken = await login('tech', PASSWORD);
  browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: CHROMIUM_ARGS });
});

after(async () => {
  await browser?.close();
  await server?.close();
});

type Locale = 'zh-CN' | 'en';

const TEXT = {
  'zh-CN': {
    required: '请填写此项',
    aeAddress: '主机与端口须同时填写或同时留空',
    dicomNode: '可发送（DICOM 节点）',
    clinician: '临床医生',
    radiologist: '诊断医师',
    slaOrder: '急诊时限不能长于加急，加急不能长于常规',
    remaining: '剩余',
    wrongCurrent: '当前密码不正确',
    weakClasses: '密码须含大写字母、小写字母、数字、符号中的至少三类',
    own: '本机构自定义',
    knee: '膝关节',
    abdomen: '腹部',
    changedBy: '最近由 admin',
  },
  en: {
    required: 'Required',
    aeAddress: 'Give both host and port, or neither',
    dicomNode: 'Destination (DICOM node)',
    clinician: 'Clinician',
    radiologist: 'Radiologist',
    slaOrder: 'Emergency may not exceed urgent, urgent may not exceed routine',
    remaining: 'left',
    wrongCurrent: 'The current password is wrong',
    weakClasses: 'needs three of',
    own: 'Institution’s own',
    knee: 'Knee',
    abdomen: 'Abdomen',
    changedBy: 'Last changed by admin',
  },
} as const;

/** The second body part of each run's list, so that each run's list is its own. */
const SECOND_PART = [
  { code: 'ANKLE', 'zh-CN': '踝关节', en: 'Ankle' },
  { code: 'WRIST', 'zh-CN': '腕关节', en: 'Wrist' },
  { code: 'ELBOW', 'zh-CN': '肘关节', en: 'Elbow' },
  { code: 'HIP', 'zh-CN': '髋关节', en: 'Hip' },
] as const;

async function openAs(locale: Locale, viewport: { width: number; height: number }, username: string, password: string, landing: string): Promise<Page> {
  const context = await browser.newContext({ viewport, locale });
  await context.addInitScript((value) => localStorage.setItem('yunying.locale', value), locale);
  const page = await context.newPage();
  page.setDefaultTimeout(TIMEOUT);
  await page.goto(`${server.baseUrl}/`);
  await signIn(page, username, password);
  await page.getByTestId(landing).waitFor();
  return page;
}

async function signIn(page: Page, username: string, password: string): Promise<void> {
  await page.getByTestId('login-username').fill(username);
  await page.getByTestId('login-password').fill(password);
  await page.getByTestId('login-submit').click();
}

/** The open Ant Design dropdown (closed ones stay in the page, hidden). */
const openDropdown = (page: Page): Locator => page.locator('.ant-select-dropdown:not(.ant-select-dropdown-hidden)').last();

/** Picks the option whose text contains `text` in the Select with that test id (typing `search` first when given). */
async function choose(page: Page, scope: Locator, testId: string, text: string, search?: string): Promise<void> {
  await scope.getByTestId(testId).click();
  if (search) await page.keyboard.type(search);
  await openDropdown(page).locator('.ant-select-item-option').filter({ hasText: text }).first().click();
}

async function tab(page: Page, name: RegExp): Promise<void> {
  await page.getByRole('tab', { name }).click();
}

/** An InputNumber's input, wherever Ant Design put the test id. */
const numberField = (scope: Page | Locator, testId: string): Locator => scope.locator(`input[data-testid="${testId}"], [data-testid="${testId}"] input`).first();

const modalWith = (page: Page, testId: string): Locator => page.locator('.ant-modal-wrap').filter({ has: page.getByTestId(testId) });

describe('administration in the web UI', { timeout: 600_000 }, () => {
  const runs = [
    { locale: 'zh-CN', viewport: { width: 1920, height: 1080 } },
    { locale: 'en', viewport: { width: 1920, height: 1080 } },
    { locale: 'zh-CN', viewport: { width: 1366, height: 768 } },
    { locale: 'en', viewport: { width: 1366, height: 768 } },
  ] as const;
  for (const [index, { locale, viewport }] of runs.entries()) {
    test(`${locale} at ${viewport.width}×${viewport.height}: institution, AE, routing rule, role, pick list, SLA, own password`, async () => {
      const text = TEXT[locale];
      const page = await openAs(locale, viewport, 'admin', TEST_ADMIN_PASSWORD, 'admin-page');

      // --- an institution edited: the name is required, then changed
      await page.getByTestId('edit-institution-ks-t1').click();
      const institutionModal = modalWith(page, 'institution-form');
      await institutionModal.waitFor();
      await page.getByTestId('institution-name').fill('');
      await page.getByTestId('institution-ok').click();
      await institutionModal.getByText(text.required).first().waitFor();
      const newName = `周市镇中心卫生院${index}`;
      await page.getByTestId('institution-name').fill(newName);
      await page.getByTestId('institution-ok').click();
      await page.getByTestId('institution-table').getByRole('cell', { name: newName, exact: true }).waitFor();
      assert.equal((await rest<{ name: string; parentId: string }>('GET', '/api/v1/institutions/ks-t1')).name, newName);

      // --- an AE added (host without port refused in the form), then edited into a DICOM node
      await tab(page, /AE/);
      const aeTitle = `CT_${index}`;
      await page.getByTestId('create-ae').click();
      const aeModal = modalWith(page, 'ae-form');
      await aeModal.waitFor();
      await page.getByTestId('ae-title').fill(aeTitle);
      await choose(page, aeModal, 'ae-institution', newName);
      await page.getByTestId('ae-host').fill('10.0.0.9');
      await page.getByTestId('ae-ok').click();
      await aeModal.getByText(text.aeAddress).first().waitFor();
      await page.getByTestId('ae-host').fill('');
      await page.getByTestId('ae-description').fill('周市 CT');
      await page.getByTestId('ae-ok').click();
      const aeRow = page.getByTestId('ae-table').locator('tr').filter({ hasText: aeTitle });
      await aeRow.waitFor();
      await page.getByTestId(`edit-ae-${aeTitle}`).click();
      await aeModal.waitFor();
      assert.equal(await page.getByTestId('ae-title').isDisabled(), true, 'the AE title is the key: not editable');
      await page.getByTestId('ae-host').fill(`10.0.0.${index + 1}`);
      await numberField(page, 'ae-port').fill('11112');
      await page.getByTestId('ae-ok').click();
      await aeRow.getByText(text.dicomNode).waitFor();
      const ae = (await rest<Array<{ aeTitle: string; host?: string; port?: number; institutionId: string; description?: string }>>('GET', '/api/v1/application-entities')).find((row) => row.aeTitle === aeTitle);
      assert.deepEqual(ae, { aeTitle, institutionId: 'ks-t1', host: `10.0.0.${index + 1}`, port: 11112, description: '周市 CT' });

      // --- a routing rule added (township → reading centre, body part), then edited
      await tab(page, locale === 'en' ? /Routing/ : /路由/);
      const ruleName = `周市胸部${index}`;
      await page.getByTestId('create-rule').click();
      const ruleModal = modalWith(page, 'rule-form');
      await ruleModal.waitFor();
      await page.getByTestId('rule-name').fill(ruleName);
      await choose(page, ruleModal, 'rule-source', newName);
      await choose(page, ruleModal, 'rule-centre', '昆山市第一人民医院');
      await choose(page, ruleModal, 'rule-body-part', locale === 'en' ? 'Chest' : '胸部', locale === 'en' ? 'Chest' : '胸部');
      await page.getByTestId('rule-ok').click();
      await page.getByTestId('rule-table').getByRole('cell', { name: ruleName, exact: true }).waitFor();
      await page.getByTestId(`edit-rule-${ruleName}`).click();
      await ruleModal.waitFor();
      await choose(page, ruleModal, 'rule-priority', locale === 'en' ? 'Urgent' : '加急');
      await page.getByTestId('rule-ok').click();
      await ruleModal.waitFor({ state: 'hidden' });
      const rule = (await rest<Array<{ name: string; source_institution_id: string; reading_institution_id: string; body_part: string; priority: string }>>('GET', '/api/v1/routing-rules')).find((row) => row.name === ruleName);
      assert.deepEqual([rule?.source_institution_id, rule?.reading_institution_id, rule?.body_part, rule?.priority], ['ks-t1', 'ks-county', 'CHEST', 'urgent']);
      // a routing rule routes the next stored study by itself; remove it so the township request below is the technologist's
      await rest('DELETE', `/api/v1/routing-rules/${(rule as unknown as { id: string }).id}`);

      // --- a role change asks first, naming the user and both roles; cancel keeps it, OK makes it (audited)
      await tab(page, locale === 'en' ? /Users/ : /用户/);
      const username = `role${index}`;
      await choose(page, page.locator('body'), `role-${username}`, text.radiologist);
      const confirmBody = page.getByTestId('role-change-body');
      await confirmBody.waitFor();
      const said = await confirmBody.innerText();
      assert.ok(said.includes(username) && said.includes(`王医生${index}`) && said.includes(text.clinician) && said.includes(text.radiologist), said);
      await page.locator('.ant-modal-confirm').getByRole('button', { name: locale === 'en' ? 'Cancel' : /取\s*消/ }).click();
      await confirmBody.waitFor({ state: 'detached' });
      assert.equal((await rest<{ role: string }>('GET', `/api/v1/users/${username}`)).role, 'clinician');
      await choose(page, page.locator('body'), `role-${username}`, text.radiologist);
      await page.getByTestId('role-change-ok').click();
      await confirmBody.waitFor({ state: 'detached' });
      await page.waitForFunction(async (name) => {
        const answer = await fetch(`/api/v1/users/${name}`, { headers: { authorization: `Bearer ${sessionStorage.getItem('yunying.token')}` } });
        return ((await answer.json()) as { role: string }).role === 'radiologist';
      }, username);
      const audit = await rest<Array<{ action: string; object_id: string; details: string | Record<string, unknown> }>>('GET', `/api/v1/audit-events?action=user.updated&objectId=${username}`);
      assert.ok(audit.length >= 1 && JSON.stringify(audit[0]!.details).includes('clinician'), 'the change is audited with the old role');

      // --- the township's body-part pick list: its own, and the request form offers exactly it
      await tab(page, locale === 'en' ? /Pick lists/ : /选择列表/);
      const pickTab = page.getByTestId('pick-lists-tab');
      await choose(page, pickTab, 'pick-lists-scope', newName);
      await pickTab.getByTestId('pick-lists-source').waitFor();
      const bodyParts = pickTab.getByTestId('pick-lists-body-parts');
      await bodyParts.hover();
      await bodyParts.locator('.ant-select-clear').click();
      await page.getByTestId('pick-lists-save').click();
      await pickTab.getByText(text.required === 'Required' ? 'The list cannot be empty' : '列表不能为空').waitFor();
      const second = SECOND_PART[index]!;
      await bodyParts.click();
      await page.keyboard.type('KNEE');
      await openDropdown(page).locator('.ant-select-item-option').filter({ hasText: '(KNEE)' }).first().click();
      await page.keyboard.type(second.code);
      await openDropdown(page).locator('.ant-select-item-option').filter({ hasText: `(${second.code})` }).first().click();
      await page.keyboard.press('Escape');
      await page.getByTestId('pick-lists-save').click();
      await pickTab.getByTestId('pick-lists-source').getByText(text.own).waitFor();
      // an earlier run already gave ks-t1 its own list, so "own" shows before this save is in: wait for the save itself
      const expected = JSON.stringify(['institution', ['KNEE', second.code]]);
      let lists: { source: string; bodyParts: string[] } | undefined;
      for (let tries = 0; tries < 50; tries += 1) {
        lists = await rest<{ source: string; bodyParts: string[] }>('GET', '/api/v1/settings/pick-lists?institutionId=ks-t1');
        if (JSON.stringify([lists.source, lists.bodyParts]) === expected) break;
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      assert.deepEqual([lists?.source, lists?.bodyParts], ['institution', ['KNEE', second.code]]);

      // --- the reading SLA: the order is checked in the form, then a new routine allowance saved
      await tab(page, locale === 'en' ? /Reading SLA/ : /诊断时限/);
      const slaTab = page.getByTestId('sla-tab');
      const routineMinutes = 300 + index * 10;
      await slaTab.getByTestId('sla-source').waitFor(); // the stored values are in the form
      await numberField(slaTab, 'sla-emergency').fill('90');
      await page.getByTestId('sla-save').click();
      await slaTab.getByText(text.slaOrder).first().waitFor();
      await numberField(slaTab, 'sla-emergency').fill('20');
      await numberField(slaTab, 'sla-urgent').fill('45');
      await numberField(slaTab, 'sla-routine').fill(String(routineMinutes));
      await page.getByTestId('sla-save').click();
      await slaTab.getByTestId('sla-source').getByText(text.changedBy).waitFor();
      assert.equal((await rest<{ routine: number }>('GET', '/api/v1/settings/sla')).routine, routineMinutes);

      // --- the township technologist's request form offers the list; the request counts down from the new SLA
      const patientId = `ADM-${index}`;
      const studyInstanceUid = await stowChestCt(patientId);
      const township = await openAs(locale, viewport, 'tech', PASSWORD, 'township-page');
      const row = township.locator(`tr[data-study-uid="${studyInstanceUid}"]`);
      await row.waitFor();
      await row.getByTestId('request-read').click();
      const form = township.getByTestId('request-read-form');
      await form.waitFor();
      await form.getByTestId('request-body-parts').click();
      const offered = await openDropdown(township).locator('.ant-select-item-option').allInnerTexts();
      assert.ok(offered.some((option) => option.includes(text.knee)), `${text.knee} offered: ${offered.join(', ')}`);
      assert.ok(offered.some((option) => option.includes(second[locale])), `${second[locale]} offered: ${offered.join(', ')}`);
      assert.ok(!offered.some((option) => option.includes(text.abdomen)), `${text.abdomen} is not in the list: ${offered.join(', ')}`);
      await township.keyboard.press('Escape');
      const sent = township.waitForResponse((response) => new URL(response.url()).pathname === '/api/v1/reading-requests' && response.request().method() === 'POST');
      await township.getByTestId('request-read-ok').click();
      const created = await sent;
      assert.equal(created.status(), 201, await created.text());
      const request = (await created.json()) as { id: string; imagesCompleteAt: string; dueAt: string };
      assert.equal(Date.parse(request.dueAt) - Date.parse(request.imagesCompleteAt), routineMinutes * 60_000);
      await township.context().close();

      await page.getByTestId('main-menu').getByText(locale === 'en' ? 'Worklist' : '工作列表').click();
      const worklistRow = page.locator(`tr[data-request-id="${request.id}"]`);
      await worklistRow.waitFor();
      const sla = await worklistRow.getByTestId('sla').innerText();
      const hours = Math.floor((routineMinutes - 1) / 60);
      const minutes = String((routineMinutes - 1) % 60).padStart(2, '0');
      assert.ok(sla.includes(text.remaining) && sla.includes(`${hours}:${minutes}:`), `the worklist counts down from ${routineMinutes} min: ${sla}`);
      await page.context().close();

      // --- a user changes their own password from the user menu, then logs in with the new one
      const self = `self${index}`;
      const own = await openAs(locale, viewport, self, PASSWORD, 'township-page');
      await own.getByTestId('user-menu').click();
      await own.getByTestId('menu-change-password').click();
      const dialog = modalWith(own, 'change-password-form');
      await dialog.waitFor();
      await own.getByTestId('current-password').fill('Wrong-Horse-1');
      await own.getByTestId('new-password').fill('Brand-New-Pass-5');
      await own.getByTestId('confirm-password').fill('Brand-New-Pass-4');
      await own.getByTestId('change-password-ok').click();
      await dialog.getByText(locale === 'en' ? 'The two new passwords differ' : '两次输入的新密码不一致').waitFor();
      await own.getByTestId('confirm-password').fill('Brand-New-Pass-5');
      await own.getByTestId('change-password-ok').click();
      await own.getByTestId('change-password-error').getByText(text.wrongCurrent).waitFor();
      assert.equal(await own.getByTestId('township-page').isVisible(), true, 'a wrong current password keeps the session');
      await own.getByTestId('current-password').fill(PASSWORD);
      await own.getByTestId('new-password').fill('brandnewpass');
      await own.getByTestId('confirm-password').fill('brandnewpass');
      await own.getByTestId('change-password-ok').click();
      await own.getByTestId('change-password-error').getByText(text.weakClasses, { exact: false }).waitFor();
      await own.getByTestId('new-password').fill('Brand-New-Pass-5');
      await own.getByTestId('confirm-password').fill('Brand-New-Pass-5');
      await own.getByTestId('change-password-ok').click();
      await own.getByTestId('login-username').waitFor();
      await signIn(own, self, PASSWORD);
      await own.getByTestId('login-error').waitFor();
      await own.getByTestId('login-password').fill('');
      await signIn(own, self, 'Brand-New-Pass-5');
      await own.getByTestId('township-page').waitFor();
      await own.context().close();
    });
  }
});

/**
 * 远程会诊, 双向转诊 and 多学科会诊 (issue 18) in headless Chromium at 1366×768 in zh-CN: a county
 * hospital's radiologist asks the provincial hospital (under a consultation agreement) for an
 * emergency consultation on a study; the expert finds it in 待处理会诊 with its countdown,
 * accepts, saves a draft opinion, signs it with the password, signs the conclusion as the lead
 * (the PDF link appears); the radiologist closes it with a follow-up note. The radiologist
 * refers the patient up to the suggested provincial centre; the expert accepts and completes the
 * referral and the county sees the outcome. The radiologist schedules an MDT session with the
 * expert, who signs in (签到); the minutes are recorded. The commission analyst sees the
 * consultation statistics. No Latin-only text on the zh-CN screens.
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
const VIEWPORT = { width: 1366, height: 768 };

let server: ListeningServer;
let context: BrowserContext;
let userDataDir: string;
const tokens: Record<string, string> = {};
let study: string;

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

/** One small chest CT image stored by STOW-RS as `who` (the study belongs to their institution). */
async function storeExam(who: string, patientId: string): Promise<string> {
  const studyInstanceUid = newUid();
  const sopInstanceUid = newUid();
  const size = 16;
  const text = (vr: string, value: string) => ({ vr, Value: [value] });
  const dataset: DicomJsonDataset = {
    '00080005': text('CS', 'ISO_IR 192'),
    '00080016': text('UI', CT_IMAGE_STORAGE),
    '00080018': text('UI', sopInstanceUid),
    '00080020': text('DA', '20261201'),
    '00080030': text('TM', '093000'),
    '00080050': text('SH', `ACC${Math.random().toString().slice(2, 10)}`),
    '00080060': text('CS', 'CT'),
    '00081030': text('LO', '胸部CT平扫'),
    '00100010': { vr: 'PN', Value: [{ Alphabetic: 'CHEN^MING', Ideographic: '陈^明' }] },
    '00100020': text('LO', patientId),
    '00100030': text('DA', '19700101'),
    '00100040': text('CS', 'M'),
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
    '7FE00010': { vr: 'OW', InlineBinary: Buffer.from(Uint16Array.from({ length: size * size }, (_, i) => (i * 37) % 4096).buffer).toString('base64') },
  };
  const file = buildPart10(encodeDataset(dataset, TRANSFER_SYNTAX.EXPLICIT_LE), { transferSyntaxUid: TRANSFER_SYNTAX.EXPLICIT_LE, sopClassUid: CT_IMAGE_STORAGE, sopInstanceUid });
  const boundary = 'consultation-boundary';
  const body = Buffer.concat([Buffer.from(`\r\n--${boundary}\r\nContent-Type: application/dicom\r\n\r\n`), file, Buffer.from(`\r\n--${boundary}--`)]);
  const response = await fetch(`${server.baseUrl}/dicom-web/studies`, { method: 'POST', headers: { authorization: `Bearer ${tokens[who]}`, 'content-type': `multipart/related; type="application/dicom"; boundary="${boundary}"`, accept: 'application/dicom+json' }, body });
  assert.equal(response.status, 200, await response.text());
  return studyInstanceUid;
}

before(async () => {
  assert.ok(existsSync(path.join(WEB_DIST, 'index.html')), `build the web app first (npm run build:web): ${WEB_DIST}`);
  server = await startListeningServer({ YUNYING_WEB_DIST: WEB_DIST });
  tokens.admin = await login('admin', TEST_ADMIN_PASSWORD);
  await call('admin', 'POST', '/api/v1/institutions', { id: 'cw-prov', name: '江苏省人民医院', tier: 'province', grade: 3, regionCode: '320000' });
  await call('admin', 'POST', '/api/v1/institutions', { id: 'cw-county', name: '昆山市第一人民医院', tier: 'county', grade: 2, regionCode: '320583' });
  for (const [username, role, institutionId, displayName] of [
    ['tech', 'technologist', 'cw-county', '周技师'],
    ['rad', 'radiologist', 'cw-county', '王医生'],
    ['exp1', 'expert', 'cw-prov', '李教授'],
    ['analyst', 'commission-analyst', 'cw-county', '卫健委分析员'],
  ] as const) {
    await call('admin', 'POST', '/api/v1/users', { username, password: PASSWORD, role, institutionId, displayName });
    tokens[username] = await login(username, PASSWORD);
  }
  await call('admin', 'POST', '/api/v1/consultation-agreements', { requestingInstitutionId: 'cw-county', expertInstitutionId: 'cw-prov' });
  study = await storeExam('tech', 'CW-0001');
  await server.feedHandled();
  userDataDir = await mkdtemp(path.join(tmpdir(), 'yunying-chromium-consult-'));
  context = await chromium.launchPersistentContext(userDataDir, { executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: CHROMIUM_ARGS, viewport: VIEWPORT, locale: 'zh-CN' });
});

after(async () => {
  await context?.close();
  await server?.close();
  if (userDataDir) await rm(userDataDir, { recursive: true, force: true });
});

/** A new tab (its own session) signed in as `username` in zh-CN. */
async function openAs(username: string): Promise<Page> {
  const page = await context.newPage();
  page.setDefaultTimeout(TIMEOUT);
  await page.setViewportSize(VIEWPORT);
  await page.addInitScript(() => localStorage.setItem('yunying.locale', 'zh-CN'));
  await page.goto(`${server.baseUrl}/`);
  await page.getByTestId('login-username').fill(username);
  await page.getByTestId('login-password').fill(PASSWORD);
  await page.getByTestId('login-submit').click();
  await page.waitForURL((url) => !url.pathname.startsWith('/login'));
  return page;
}

/** Visible texts without a Chinese character outside identifiers ([data-identifier], <code>) whose words are not allowed (as patient-lookup.test.ts). */
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
const ALLOWED = ['EN', 'PDF', 'ID', 'CT'];

/** Picks the option with this label in the open dropdown of an antd Select (the last opened one). */
async function choose(page: Page, select: Locator, label: string): Promise<void> {
  await select.click();
  await page.locator('.ant-select-dropdown:not(.ant-select-dropdown-hidden)').last().locator('.ant-select-item-option').filter({ hasText: label }).first().click();
}

/** Confirms a ReasonDialog (testid prefix) with this text and waits until it closes; a refusal fails the test with its text. */
async function confirmReason(page: Page, testId: string, text: string): Promise<void> {
  await page.getByTestId(`${testId}-text`).fill(text);
  await page.getByTestId(`${testId}-ok`).click();
  const error = page.getByTestId(`${testId}-error`);
  await Promise.race([page.getByTestId(`${testId}-text`).waitFor({ state: 'detached' }), error.waitFor().then(async () => assert.fail(`refused: ${await error.innerText()}`))]);
}

/** Signs in the e-signature dialog with the password. */
async function eSign(page: Page): Promise<void> {
  await page.getByTestId('esign-password').fill(PASSWORD);
  await page.getByTestId('esign-ok').click();
  const error = page.getByTestId('esign-error');
  await Promise.race([page.getByTestId('esign-dialog-body').waitFor({ state: 'detached' }), error.waitFor().then(async () => assert.fail(`signature refused: ${await error.innerText()}`))]);
}

describe('远程会诊, 双向转诊, 多学科会诊 on the web screens', { timeout: 300_000 }, () => {
  let consultationId: string;

  test('an emergency consultation: requested, accepted, opinion drafted and signed, conclusion signed, closed', async () => {
    const rad = await openAs('rad');
    await rad.getByTestId('main-menu').getByText('远程会诊', { exact: true }).click();
    await rad.getByTestId('consultations-page').waitFor();
    await rad.getByTestId('consultation-create').click();
    const form = rad.getByTestId('consultation-form');
    await form.waitFor();
    await rad.getByTestId('consultation-type').getByText('急会诊', { exact: true }).click();
    await rad.getByTestId('consultation-studies').fill(study);
    await rad.getByTestId('consultation-question').fill('右肺上叶结节性质？');
    await rad.getByTestId('consultation-summary').fill('男，56 岁，咳嗽两周，吸烟史 30 年');
    // the one institution under an agreement is chosen already; the expert by user name
    await rad.getByTestId('consultation-institution').filter({ hasText: 'cw-prov' }).waitFor();
    await rad.getByTestId('consultation-experts').locator('input').fill('exp1');
    await rad.getByTestId('consultation-experts').locator('input').press('Enter');
    await rad.getByTestId('consultation-submit').click();
    const formError = rad.getByTestId('consultation-form-error');
    await Promise.race([form.waitFor({ state: 'detached' }), formError.waitFor().then(async () => assert.fail(`refused: ${await formError.innerText()}`))]);
    const row = rad.getByTestId('consultation-row').first();
    await row.waitFor();
    consultationId = (await row.getAttribute('data-consultation-id'))!;
    assert.match(consultationId, /^con-/);
    assert.equal(await row.getAttribute('data-status'), 'requested');
    assert.equal(await row.getByTestId('consultation-countdown').getAttribute('data-overdue'), 'false');
    assert.deepEqual(await latinOnlyTexts(rad, ALLOWED), [], 'Latin-only text on the zh-CN consultation list');

    // the expert's queue, the countdown running; accept, draft, sign
    const exp = await openAs('exp1');
    await exp.getByTestId('main-menu').getByText('远程会诊', { exact: true }).click();
    const queued = exp.locator(`[data-testid="consultations-incoming"] [data-testid="consultation-row"][data-consultation-id="${consultationId}"]`);
    await queued.waitFor();
    assert.match(await queued.getByTestId('consultation-countdown').innerText(), /剩余/);
    await queued.getByTestId('consultation-open').click();
    await exp.locator(`[data-testid="consultation-detail"][data-consultation-id="${consultationId}"]`).waitFor();
    await exp.getByTestId('consultation-accept').click();
    await exp.getByTestId('opinion-text').fill('考虑周围型肺癌可能');
    await exp.getByTestId('opinion-save').click();
    await exp.getByText('草稿已保存').first().waitFor();
    await exp.locator('[data-testid="expert-opinion"][data-signed="false"]').waitFor();
    await exp.getByTestId('opinion-text').fill('考虑周围型肺癌可能，建议穿刺活检');
    await exp.getByTestId('opinion-sign').click();
    await eSign(exp);
    await exp.locator('[data-testid="expert-opinion"][data-signed="true"]').waitFor();
    await exp.getByTestId('opinion-editor').waitFor({ state: 'detached' });
    // the lead's conclusion
    await exp.getByTestId('conclusion-text').fill('右肺上叶周围型肺癌可能性大，建议胸外科就诊。');
    await exp.getByTestId('conclusion-sign').click();
    await eSign(exp);
    await exp.getByTestId('conclusion-signed-text').filter({ hasText: '周围型肺癌可能性大' }).waitFor();
    await exp.locator('[data-testid="consultation-detail"][data-status="answered"]').waitFor();
    assert.equal(await exp.getByTestId('consultation-pdf').getAttribute('href'), `/api/v1/consultations/${consultationId}/pdf`);
    assert.deepEqual(await latinOnlyTexts(exp, ALLOWED), [], 'Latin-only text on the zh-CN consultation');
    // the study opens in the viewer
    await exp.getByTestId('consultation-study-open').first().click();
    await exp.getByTestId('consultation-viewer').getByTestId('study-viewer').waitFor();
    await exp.keyboard.press('Escape');
    await exp.getByTestId('consultation-viewer').waitFor({ state: 'detached' });

    // the requester closes it with a follow-up note
    await rad.goto(`${server.baseUrl}/consultations/${consultationId}`);
    await rad.locator('[data-testid="expert-opinion"][data-signed="true"]').waitFor();
    await rad.getByTestId('consultation-close').click();
    await confirmReason(rad, 'consultation-close', '已转胸外科，安排穿刺');
    await rad.locator('[data-testid="consultation-detail"][data-status="closed"]').waitFor();
    await rad.getByTestId('consultation-follow-up').filter({ hasText: '已转胸外科' }).waitFor();
    const stored = await call<{ status: string; followUpNote: string }>('rad', 'GET', `/api/v1/consultations/${consultationId}`);
    assert.deepEqual([stored.status, stored.followUpNote], ['closed', '已转胸外科，安排穿刺']);
    await rad.close();
    await exp.close();
  });

  test('a referral up to the suggested provincial centre: accepted, completed, the outcome seen by the county', async () => {
    const rad = await openAs('rad');
    await rad.getByTestId('main-menu').getByText('双向转诊', { exact: true }).click();
    await rad.getByTestId('referrals-page').waitFor();
    await rad.getByTestId('referral-create').click();
    await rad.getByTestId('referral-form').waitFor();
    await rad.getByTestId('referral-to').filter({ hasText: '江苏省人民医院' }).waitFor();
    await rad.getByTestId('referral-patient-id').fill('CW-0001');
    await rad.getByTestId('referral-patient-name').fill('陈明');
    await rad.getByTestId('referral-reason').fill('需手术治疗');
    await rad.getByTestId('referral-studies').fill(study);
    // down needs the discharge summary and the follow-up plan
    await rad.getByTestId('referral-direction').getByText('下转', { exact: true }).click();
    await rad.getByTestId('referral-submit').click();
    await rad.getByText('下转须填写出院小结和随访计划').waitFor();
    await rad.getByTestId('referral-direction').getByText('上转', { exact: true }).click();
    await rad.getByTestId('referral-to').filter({ hasText: '江苏省人民医院' }).waitFor();
    await rad.getByTestId('referral-submit').click();
    const formError = rad.getByTestId('referral-form-error');
    await Promise.race([rad.getByTestId('referral-form').waitFor({ state: 'detached' }), formError.waitFor().then(async () => assert.fail(`refused: ${await formError.innerText()}`))]);
    const referralId = (await rad.getByTestId('referral-row').first().getAttribute('data-referral-id'))!;
    assert.match(referralId, /^ref-/);
    assert.deepEqual(await latinOnlyTexts(rad, ALLOWED), [], 'Latin-only text on the zh-CN referrals');

    const exp = await openAs('exp1');
    await exp.goto(`${server.baseUrl}/referrals?box=in`);
    const incoming = exp.locator(`[data-testid="referrals-in"] [data-testid="referral-row"][data-referral-id="${referralId}"]`);
    await incoming.getByTestId('referral-accept').click();
    await confirmReason(exp, 'referral-accept', '已安排床位');
    await exp.locator(`[data-testid="referral-row"][data-referral-id="${referralId}"][data-status="accepted"]`).getByTestId('referral-complete').click();
    await confirmReason(exp, 'referral-complete', '手术顺利，已出院');
    await exp.locator(`[data-testid="referral-row"][data-referral-id="${referralId}"][data-status="completed"]`).waitFor();

    await rad.getByTestId('referrals-refresh').click();
    await rad.locator(`[data-testid="referral-row"][data-referral-id="${referralId}"][data-status="completed"]`).getByTestId('referral-outcome').filter({ hasText: '手术顺利' }).waitFor();
    await rad.close();
    await exp.close();
  });

  test('an MDT session: scheduled, the expert signs in, the minutes recorded', async () => {
    const rad = await openAs('rad');
    await rad.getByTestId('main-menu').getByText('多学科会诊', { exact: true }).click();
    await rad.getByTestId('mdt-page').waitFor();
    await rad.getByTestId('mdt-schedule').click();
    await rad.getByTestId('mdt-form').waitFor();
    await rad.getByTestId('mdt-title').fill('肺结节多学科会诊');
    await rad.getByTestId('mdt-scheduled-at').click();
    await rad.locator('.ant-picker-dropdown:visible .ant-picker-now-btn, .ant-picker-dropdown:visible .ant-picker-now a').first().click();
    await rad.locator('.ant-picker-dropdown:visible .ant-picker-ok button').click().catch(() => undefined);
    await rad.getByTestId('mdt-studies').fill(study);
    await choose(rad, rad.getByTestId('mdt-departments'), '胸外科');
    await rad.keyboard.press('Escape');
    await rad.getByTestId('mdt-participant-username').fill('exp1');
    await rad.waitForTimeout(300);
    await choose(rad, rad.getByTestId('mdt-participant-department'), '胸外科');
    await rad.getByTestId('mdt-submit').click();
    const formError = rad.getByTestId('mdt-form-error');
    await Promise.race([rad.getByTestId('mdt-form').waitFor({ state: 'detached' }), formError.waitFor().then(async () => assert.fail(`refused: ${await formError.innerText()}`))]);
    const session = rad.getByTestId('mdt-session');
    await session.waitFor();
    const sessionId = (await session.getAttribute('data-session-id'))!;
    assert.match(sessionId, /^mdt-/);

    const exp = await openAs('exp1');
    await exp.goto(`${server.baseUrl}/mdt?session=${encodeURIComponent(sessionId)}`);
    await exp.getByTestId('mdt-attend').click();
    await exp.locator('[data-testid="mdt-participant"][data-username="exp1"][data-attended="true"]').waitFor();
    assert.deepEqual(await latinOnlyTexts(exp, ALLOWED), [], 'Latin-only text on the zh-CN MDT session');

    await rad.reload();
    await rad.getByTestId('mdt-minutes').fill('讨论：右肺上叶结节，建议手术切除。');
    await rad.getByTestId('mdt-decisions').fill('胸腔镜下右肺上叶切除\n术后病理再议');
    await rad.getByTestId('mdt-save-minutes').click();
    await rad.locator(`[data-testid="mdt-session"][data-session-id="${sessionId}"][data-status="held"]`).waitFor();
    const stored = await call<{ status: string; decisions: string[] }>('rad', 'GET', `/api/v1/mdt-sessions/${sessionId}`);
    assert.deepEqual([stored.status, stored.decisions], ['held', ['胸腔镜下右肺上叶切除', '术后病理再议']]);
    await rad.close();
    await exp.close();
  });

  test('the commission analyst sees the consultation statistics', async () => {
    const analyst = await openAs('analyst');
    await analyst.getByTestId('main-menu').getByText('会诊统计', { exact: true }).click();
    const stats = analyst.getByTestId('consultation-stats');
    await stats.waitFor();
    await analyst.getByTestId('chart-consult-type').waitFor();
    await analyst.locator('[data-testid="consultation-stats-duration"][data-measure="conclusion"]').waitFor();
    await analyst.getByTestId('consultation-stats-fastest-case').filter({ hasText: '江苏省人民医院' }).waitFor();
    await analyst.getByTestId('consultation-stats-fastest-institution').filter({ hasText: '江苏省人民医院' }).waitFor();
    assert.deepEqual(await latinOnlyTexts(analyst, ALLOWED), [], 'Latin-only text on the zh-CN statistics');
    await analyst.close();
  });
});

/**
 * Reporting productivity (issue 14, item 7) in headless Chromium against the real server, at
 * 1920×1080 and 1366×768, in zh-CN and en: the radiologist creates a personal ultrasound
 * template in the library drawer and picks it in the editor (the picker offers the study's
 * modality and body part), inserts phrases by keyboard ("/wjyc" + Enter, Ctrl+Space),
 * draws a length measurement in the viewer (a drag with the length tool) and inserts it into
 * the findings, marks the image on screen as a key image, saves and submits; the reviewer's
 * view lists the measurement and the key image, and a click on the key image shows it.
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
const tokens: Record<string, string> = {};
const pageErrors: string[] = [];

async function login(username: string, password: string): Promise<string> {
  const response = await fetch(`${server.baseUrl}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username, password }) });
  assert.equal(response.status, 200);
  return ((await response.json()) as { token: string }).token;
}

async function rest(user: string, method: string, url: string, body?: unknown): Promise<{ status: number; body: unknown }> {
  const response = await fetch(`${server.baseUrl}${url}`, { method, headers: { authorization: `Bearer ${tokens[user]}`, ...(body ? { 'content-type': 'application/json' } : {}) }, body: body ? JSON.stringify(body) : undefined });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : undefined };
}

/** A thyroid ultrasound image of 256×256 at 0.5 mm pixels, series 2 (the synthetic helper has no spacing or body part). */
function thyroidImage(options: { studyInstanceUid: string; seriesInstanceUid: string; sopInstanceUid: string; instanceNumber: number; patientId: string }): Buffer {
  const size = 256;
  const pixels = new Uint16Array(size * size).map((_, i) => ((i % size) * 8 + Math.floor(i / size) * 4 + options.instanceNumber * 50) % 4096);
  const text = (vr: string, value: string) => ({ vr, Value: [value] });
  const dataset: DicomJsonDataset = {
    '00080016': text('UI', CT_IMAGE_STORAGE),
    '00080018': text('UI', options.sopInstanceUid),
    '00080020': text('DA', '20261203'),
    '00080030': text('TM', '101500'),
    '00080050': text('SH', `ACC-${options.patientId}`),
    '00080060': text('CS', 'US'),
    '00100010': { vr: 'PN', Value: [{ Alphabetic: 'LI^MEI' }] },
    '00100020': text('LO', options.patientId),
    '00180015': text('CS', 'THYROID'),
    '0020000D': text('UI', options.studyInstanceUid),
    '0020000E': text('UI', options.seriesInstanceUid),
    '00200011': { vr: 'IS', Value: [2] },
    '00200013': { vr: 'IS', Value: [options.instanceNumber] },
    '00280002': { vr: 'US', Value: [1] },
    '00280004': text('CS', 'MONOCHROME2'),
    '00280010': { vr: 'US', Value: [size] },
    '00280011': { vr: 'US', Value: [size] },
    // calibrated as ultrasound is: one region over the image, 0.05 cm a pixel
    '00186011': {
      vr: 'SQ',
      Value: [
        {
          '00186012': { vr: 'US', Value: [1] },
          '00186014': { vr: 'US', Value: [1] },
          '00186016': { vr: 'UL', Value: [0] },
          '00186018': { vr: 'UL', Value: [0] },
          '0018601A': { vr: 'UL', Value: [0] },
          '0018601C': { vr: 'UL', Value: [size - 1] },
          '0018601E': { vr: 'UL', Value: [size - 1] },
          '00186024': { vr: 'US', Value: [3] },
          '00186026': { vr: 'US', Value: [3] },
          '0018602C': { vr: 'FD', Value: [0.05] },
          '0018602E': { vr: 'FD', Value: [0.05] },
        },
      ],
    },
    '00280030': { vr: 'DS', Value: [0.5, 0.5] },
    '00280100': { vr: 'US', Value: [16] },
    '00280101': { vr: 'US', Value: [12] },
    '00280102': { vr: 'US', Value: [11] },
    '00280103': { vr: 'US', Value: [0] },
    '7FE00010': { vr: 'OW', InlineBinary: Buffer.from(pixels.buffer).toString('base64') },
  };
  return buildPart10(encodeDataset(dataset, TRANSFER_SYNTAX.EXPLICIT_LE), { transferSyntaxUid: TRANSFER_SYNTAX.EXPLICIT_LE, sopClassUid: CT_IMAGE_STORAGE, sopInstanceUid: options.sopInstanceUid });
}

async function stow(files: readonly Buffer[]): Promise<void> {
  const boundary = 'productivity-boundary-3';
  const parts = files.flatMap((file) => [Buffer.from(`\r\n--${boundary}\r\nContent-Type: application/dicom\r\n\r\n`), file]);
  const response = await fetch(`${server.baseUrl}/dicom-web/studies`, {
    method: 'POST',
    headers: { authorization: `Bearer ${tokens.tech}`, 'content-type': `multipart/related; type="application/dicom"; boundary="${boundary}"`, accept: 'application/dicom+json' },
    body: Buffer.concat([...parts, Buffer.from(`\r\n--${boundary}--`)]),
  });
  assert.equal(response.status, 200, await response.text());
}

before(async () => {
  assert.ok(existsSync(path.join(WEB_DIST, 'index.html')), `build the web app first (npm run build:web): ${WEB_DIST}`);
  server = await startListeningServer({ YUNYING_WEB_DIST: WEB_DIST });
  tokens.admin = await login('admin', TEST_ADMIN_PASSWORD);
  for (const institution of [
    { id: 'pr-county', name: '昆山市第一人民医院', tier: 'county' },
    { id: 'pr-t1', name: '周市镇卫生院', tier: 'township', parentId: 'pr-county' },
  ]) assert.equal((await rest('admin', 'POST', '/api/v1/institutions', institution)).status, 201);
  assert.equal((await rest('admin', 'PUT', '/api/v1/institutions/pr-county/members/pr-t1')).status, 204);
  for (const [username, role, institutionId, displayName] of [
    ['tech', 'technologist', 'pr-t1', '李技师'],
    ['rad1', 'radiologist', 'pr-county', '赵医生'],
    ['rev1', 'reviewing-radiologist', 'pr-county', '孙主任'],
  ] as const) {
    assert.equal((await rest('admin', 'POST', '/api/v1/users', { username, password: PASSWORD, role, institutionId, displayName })).status, 201);
    tokens[username] = await login(username, PASSWORD);
  }
  userDataDir = await mkdtemp(path.join(tmpdir(), 'yunying-chromium-productivity-'));
  context = await chromium.launchPersistentContext(userDataDir, { executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: CHROMIUM_ARGS, viewport: { width: 1366, height: 768 }, locale: 'zh-CN' });
});

after(async () => {
  await context?.close();
  await server?.close();
  if (userDataDir) await rm(userDataDir, { recursive: true, force: true });
});

/** A new tab (its own session) signed in through the login screen, in the locale. */
async function signIn(username: string, locale: 'zh-CN' | 'en', viewport: { width: number; height: number }): Promise<Page> {
  const page = await context.newPage();
  page.setDefaultTimeout(TIMEOUT);
  page.on('pageerror', (error) => pageErrors.push(`${username}: ${error.message}`));
  await page.setViewportSize(viewport);
  await page.addInitScript((value) => localStorage.setItem('yunying.locale', value), locale);
  await page.goto(`${server.baseUrl}/login`);
  await page.getByTestId('login-username').fill(username);
  await page.getByTestId('login-password').fill(PASSWORD);
  await page.getByTestId('login-submit').click();
  await page.getByTestId('current-user').waitFor();
  return page;
}

const TEXT = {
  'zh-CN': { measurement: /长径 \d+\.\d mm（序列 2，图像 45）/, keyImage: '序列 2，图像 45', manage: '管理模板与常用语' },
  en: { measurement: /Length \d+\.\d mm \(series 2, image 45\)/, keyImage: 'series 2, image 45', manage: 'Templates & phrases' },
} as const;

/** Modality codes and units stay Latin in Chinese screens (as e2e/zh-cn-strings.test.ts accepts them). */
const LATIN_OK = new Set(['CT', 'DX', 'CR', 'DR', 'MR', 'MRI', 'US', 'MG', 'XA', 'RF', 'NM', 'mm', 'cm', 'HU', 'C', 'TIRADS', 'BI', 'RADS', 'CDFI', 'DWI', 'ADC', 'FLAIR', 'T1', 'T2', 'L4', 'L5', 'S1']);

/** Visible texts inside `root` with Latin words and no Chinese (stored codes in <code> or [data-identifier] aside). */
async function latinOnlyTexts(page: Page, selector: string): Promise<string[]> {
  const texts = await page.evaluate((root) => {
    const out: string[] = [];
    const scope = document.querySelector(root);
    if (!scope) return out;
    const walker = document.createTreeWalker(scope, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      const text = node.textContent?.trim();
      const parent = node.parentElement;
      if (!text || !parent || parent.closest('code, [data-identifier]')) continue;
      if (!parent.checkVisibility({ checkOpacity: true, checkVisibilityCSS: true })) continue;
      out.push(text);
    }
    return out;
  }, selector);
  return texts.filter((text) => !/[\u3000-\u9fff\uff00-\uffef]/.test(text) && !(text.match(/[A-Za-z][A-Za-z0-9]*/g) ?? []).every((word) => LATIN_OK.has(word)));
}

const findingsOf = (page: Page) => page.getByTestId('findings').locator('textarea').or(page.locator('textarea[data-testid="findings"]')).first();
const impressionOf = (page: Page) => page.getByTestId('impression').locator('textarea').or(page.locator('textarea[data-testid="impression"]')).first();
const viewerAttr = (page: Page, name: string) => page.getByTestId('study-viewer').first().getAttribute(name);

describe('reporting productivity: templates, phrases, measurements and key images', { timeout: 600_000 }, () => {
  const runs = [
    { locale: 'zh-CN', viewport: { width: 1920, height: 1080 } },
    { locale: 'en', viewport: { width: 1920, height: 1080 } },
    { locale: 'zh-CN', viewport: { width: 1366, height: 768 } },
    { locale: 'en', viewport: { width: 1366, height: 768 } },
  ] as const;
  for (const [index, { locale, viewport }] of runs.entries()) {
    test(`${locale} at ${viewport.width}×${viewport.height}`, async () => {
      // A thyroid ultrasound of three images (44, 45, 46) from the township, read at the county.
      const studyInstanceUid = newUid();
      const seriesInstanceUid = newUid();
      const sops = [newUid(), newUid(), newUid()];
      await stow(sops.map((sopInstanceUid, i) => thyroidImage({ studyInstanceUid, seriesInstanceUid, sopInstanceUid, instanceNumber: 44 + i, patientId: `PROD-${index}` })));
      const created = await rest('tech', 'POST', '/api/v1/reading-requests', { studyInstanceUid, readingInstitutionId: 'pr-county', priority: 'routine', imagesComplete: true, bodyParts: ['THYROID'] });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      const requestId = (created.body as { id: string }).id;
      assert.equal((await rest('rad1', 'POST', `/api/v1/reading-requests/${requestId}/claim`)).status, 200);

      const page = await signIn('rad1', locale, viewport);
      await page.goto(`${server.baseUrl}/reading/${requestId}`);
      await page.getByTestId('report-editor').waitFor();
      await page.waitForFunction(() => ['first-image', 'loaded'].includes(document.querySelector('[data-testid="study-viewer"]')?.getAttribute('data-state') ?? ''));

      // 1. A personal ultrasound template, made in the library drawer (modality and body part start as the study's).
      const name = `甲状腺随访模板 ${index}`;
      const findingsText = `甲状腺右叶低回声结节，边界清。`;
      const openLibrary = page.getByTestId('open-library');
      assert.equal((await openLibrary.innerText()).trim(), TEXT[locale].manage);
      await openLibrary.click();
      const drawer = page.getByTestId('library-drawer');
      await page.getByTestId('new-template').click();
      const dialog = page.locator('.ant-modal').filter({ has: page.getByTestId('template-name') });
      await page.getByTestId('template-name').fill(name);
      await page.getByTestId('template-findings').fill(findingsText);
      await page.getByTestId('template-impression').fill('甲状腺右叶结节（C-TIRADS 3类）。');
      assert.equal(await dialog.locator('[data-testid="template-modality"] .ant-select-content, [data-testid="template-modality"] .ant-select-selection-item').first().innerText(), 'US');
      const posted = page.waitForResponse((response) => new URL(response.url()).pathname === '/api/v1/report-templates' && response.request().method() === 'POST');
      await page.getByTestId('save-template').click();
      const postedResponse = await posted;
      assert.equal(postedResponse.status(), 201, await postedResponse.text());
      const template = (await postedResponse.json()) as { id: string; scope: string; modality: string; bodyPart: string };
      assert.deepEqual([template.scope, template.modality, template.bodyPart], ['personal', 'US', 'THYROID']);
      await drawer.locator(`[data-template-id="${template.id}"]`).waitFor();
      if (locale === 'zh-CN') {
        assert.deepEqual(await latinOnlyTexts(page, '[data-testid="library-drawer"]'), [], 'the templates tab in Chinese');
        await page.getByTestId('library-tab-phrases').click();
        await page.getByTestId('phrase-table').locator('tbody tr').first().waitFor();
        assert.deepEqual(await latinOnlyTexts(page, '[data-testid="library-drawer"]'), [], 'the phrases tab in Chinese');
      }
      await page.locator('.ant-drawer-close').click();
      await drawer.waitFor({ state: 'hidden' });

      // 2. Picked in the editor: the picker lists this study's US thyroid templates, ours among them.
      await page.getByTestId('template-picker').click();
      const option = page.locator('.ant-select-item-option').filter({ hasText: name });
      await option.waitFor();
      const offered = await page.locator('.ant-select-item-option').allInnerTexts();
      assert.ok(offered.length >= 3 && offered.every((label) => label.includes('US ') && label.includes(locale === 'zh-CN' ? '甲状腺' : 'Thyroid')), `the study's modality and body part only: ${offered.join(' | ')}`);
      assert.ok((await option.innerText()).startsWith(locale === 'zh-CN' ? '【个人】' : '【Personal】'), await option.innerText());
      await option.click();
      await page.waitForFunction((text) => (document.querySelector('[data-testid="findings"] textarea, textarea[data-testid="findings"]') as HTMLTextAreaElement | null)?.value === text, findingsText);

      // 3. Phrases by keyboard: "/wjyc" then Enter at the end of the findings; Ctrl+Space, "jhlc", Enter in the impression.
      const findings = findingsOf(page);
      await findings.click();
      await page.keyboard.press('Control+End');
      await page.keyboard.type('/wjyc');
      await page.getByTestId('phrase-popup').waitFor();
      await page.locator('[data-testid="phrase-option"][aria-selected="true"][data-trigger="wjyc"]').waitFor();
      await page.keyboard.press('Enter');
      await page.getByTestId('phrase-popup').waitFor({ state: 'detached' });
      assert.equal(await findings.inputValue(), `${findingsText}未见明显异常。`);
      const impression = impressionOf(page);
      await impression.click();
      await page.keyboard.press('Control+End');
      await page.keyboard.press('Control+Space');
      await page.getByTestId('phrase-popup').waitFor();
      await page.keyboard.type('jhlc');
      await page.locator('[data-testid="phrase-option"][aria-selected="true"][data-trigger="jhlc"]').waitFor();
      await page.keyboard.press('Enter');
      assert.equal(await impression.inputValue(), '甲状腺右叶结节（C-TIRADS 3类）。请结合临床。');

      // 4. A length measurement on image 45 (the second slice), inserted at the findings' cursor.
      const viewerRoot = page.getByTestId('study-viewer').first();
      await viewerRoot.focus();
      await page.keyboard.press('ArrowDown');
      await page.waitForFunction(() => document.querySelector('[data-testid="study-viewer"]')?.getAttribute('data-current-slice') === '2', undefined, { timeout: 10_000 }).catch(async (error: unknown) => {
        throw new Error(`slice ${await viewerAttr(page, 'data-current-slice')} of ${await viewerAttr(page, 'data-slice-count')}, state ${await viewerAttr(page, 'data-state')}, focus ${await page.evaluate(() => document.activeElement?.outerHTML.slice(0, 120))}: ${String(error)}`);
      });
      await page.getByTestId('viewer-tool-length').first().click();
      const element = page.getByTestId('viewer-element').first();
      const box = (await element.boundingBox())!;
      const cx = box.x + box.width / 2;
      const cy = box.y + box.height / 2;
      await page.mouse.move(cx - 60, cy - 20);
      await page.mouse.down();
      await page.mouse.move(cx + 60, cy + 30, { steps: 8 });
      await page.mouse.up();
      await page.waitForFunction(() => document.querySelector('[data-testid="study-viewer"]')?.getAttribute('data-measurements') === '1');
      await findings.click();
      await page.keyboard.press('Control+End');
      await page.getByTestId('insert-measurements').click();
      await page.waitForFunction((pattern) => new RegExp(pattern).test((document.querySelector('[data-testid="findings"] textarea, textarea[data-testid="findings"]') as HTMLTextAreaElement | null)?.value ?? ''), TEXT[locale].measurement.source, { timeout: 10_000 }).catch(async (error: unknown) => {
        throw new Error(`findings "${await findings.inputValue()}", messages "${await page.locator('.ant-message').innerText().catch(() => '')}": ${String(error)}`);
      });
      const written = await findings.inputValue();
      assert.ok(written.startsWith(`${findingsText}未见明显异常。`), written);
      assert.match(written.slice(`${findingsText}未见明显异常。`.length), new RegExp(`^${TEXT[locale].measurement.source}$`), 'inserted at the cursor (the end)');
      await page.getByTestId('measurement').filter({ hasText: TEXT[locale].measurement }).waitFor();

      // 5. The image on screen is a key image.
      await page.getByTestId('mark-key-image').click();
      const keyTag = page.locator(`[data-testid="key-image"][data-sop-instance-uid="${sops[1]}"]`);
      await keyTag.waitFor();
      assert.ok((await keyTag.innerText()).includes(TEXT[locale].keyImage), await keyTag.innerText());

      // 6. Saved with the report (Ctrl+S), then submitted.
      await page.locator('label:has([data-testid="mark-positive"])').click();
      const saved = page.waitForResponse((response) => new URL(response.url()).pathname === `/api/v1/reading-requests/${requestId}/report` && response.request().method() === 'PUT' && response.status() === 200);
      await findings.click();
      await page.keyboard.press('Control+s');
      await saved;
      await page.locator('[data-testid="save-state"][data-state="saved"]').waitFor();
      const report = (await rest('rad1', 'GET', `/api/v1/reading-requests/${requestId}`)).body as { report: { id: string } };
      const attachments = (await rest('rad1', 'GET', `/api/v1/reports/${report.report.id}/attachments`)).body as { measurements: Array<{ tool: string; unit: string; text: string; sopInstanceUid: string; instanceNumber: number; seriesNumber: number }>; keyImages: Array<{ sopInstanceUid: string; frame: number }> };
      assert.equal(attachments.measurements.length, 1);
      assert.deepEqual([attachments.measurements[0]!.tool, attachments.measurements[0]!.unit, attachments.measurements[0]!.sopInstanceUid, attachments.measurements[0]!.seriesNumber, attachments.measurements[0]!.instanceNumber], ['length', 'mm', sops[1], 2, 45]);
      assert.match(attachments.measurements[0]!.text, TEXT[locale].measurement);
      assert.deepEqual(attachments.keyImages.map((k) => [k.sopInstanceUid, k.frame]), [[sops[1], 1]]);
      await page.getByTestId('submit-report').click();
      await page.waitForURL(/\/(worklist|review)$/);
      await page.close();

      // 7. The reviewer sees the measurement and the key image; a click on it shows image 45.
      const reviewer = await signIn('rev1', locale, viewport);
      await reviewer.goto(`${server.baseUrl}/reading/${requestId}`);
      const panel = reviewer.getByTestId('report-attachments');
      await panel.waitFor();
      await panel.getByTestId('measurement').filter({ hasText: TEXT[locale].measurement }).waitFor();
      if (locale === 'zh-CN') assert.deepEqual(await latinOnlyTexts(reviewer, '[data-testid="report-attachments"]'), [], 'the reviewer’s list in Chinese');
      await reviewer.waitForFunction(() => ['first-image', 'loaded'].includes(document.querySelector('[data-testid="study-viewer"]')?.getAttribute('data-state') ?? ''));
      assert.equal(await viewerAttr(reviewer, 'data-current-slice'), '1');
      const thumbnail = panel.getByTestId('key-image-thumbnail');
      await thumbnail.waitFor();
      await reviewer.waitForFunction(() => ((document.querySelector('[data-testid="report-attachments"] [data-testid="key-image-thumbnail"]') as HTMLImageElement | null)?.naturalWidth ?? 0) > 0);
      await panel.locator(`[data-testid="key-image"][data-sop-instance-uid="${sops[1]}"]`).click();
      await reviewer.waitForFunction(() => document.querySelector('[data-testid="study-viewer"]')?.getAttribute('data-current-slice') === '2');
      await reviewer.close();

      // The template stays the radiologist's own: the reviewer's list does not have it.
      const reviewerTemplates = (await rest('rev1', 'GET', '/api/v1/report-templates?modality=US&bodyPart=THYROID')).body as Array<{ id: string }>;
      assert.ok(!reviewerTemplates.some((t) => t.id === template.id));
      assert.deepEqual(pageErrors, []);
    });
  }
});

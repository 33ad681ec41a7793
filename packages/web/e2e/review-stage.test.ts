/**
 * The review stage (审核, issue 14 item 6) in headless Chromium, at 1920×1080 and 1366×768, in
 * zh-CN and en: the author submits a report on the reading page; the reviewer sees it on the
 * review queue with its SLA clock still running, edits the impression (修改后审核) and signs
 * it in the electronic-signature dialog (a wrong password is refused in the dialog and signs
 * nothing; the right one signs); the diff between the author's text and the signed text is on
 * the signed report for the reviewer and the author. Another report is returned with a
 * comment: the author's worklist shows it 已退回 (Returned) with the comment, live, with a
 * notice, without a reload.
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
import { makeSyntheticInstance } from '@yunying/server/test-support/synthetic-dicom';

const WEB_DIST = process.env.YUNYING_WEB_DIST ?? path.resolve(import.meta.dirname, '../dist');
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const TIMEOUT = 60_000;
const PASSWORD = 'Qianming-Shenhe-9';

let server: ListeningServer;
let context: BrowserContext;
let userDataDir: string;
const tokens: Record<string, string> = {};
const pageErrors: string[] = [];
/** YUNYING_REVIEW_SHOTS=DIR keeps screenshots of the dialog, the diff and the returned row there, to look at */
const SHOTS = process.env.YUNYING_REVIEW_SHOTS;
const shot = async (page: Page, name: string): Promise<void> => {
  if (SHOTS) await page.screenshot({ path: path.join(SHOTS, `${name}.png`) });
};

async function login(username: string, password: string): Promise<string> {
  const response = await fetch(`${server.baseUrl}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username, password }) });
  const text = await response.text();
  assert.equal(response.status, 200, text);
  return (JSON.parse(text) as { token: string }).token;
}

async function rest<T = Record<string, unknown>>(who: string, method: string, url: string, body?: unknown): Promise<{ status: number; body: T }> {
  const response = await fetch(`${server.baseUrl}${url}`, { method, headers: { authorization: `Bearer ${tokens[who]}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) }, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await response.text();
  return { status: response.status, body: (text ? JSON.parse(text) : undefined) as T };
}

/** A township study read by the county: requested, claimed by rad, a draft saved; submitted too unless `submit` is false. */
async function claimedCase(tag: string, text: { findings: string; impression: string }, submit: boolean): Promise<{ requestId: string; reportId: string }> {
  const instance = makeSyntheticInstance({ modality: 'CT', patientId: `RS-${tag}`, patientName: 'Chen^Jing=陈^静', studyDate: '20261203' });
  const boundary = 'review-stage-boundary';
  const body = Buffer.concat([Buffer.from(`\r\n--${boundary}\r\nContent-Type: application/dicom\r\n\r\n`), Buffer.from(instance.bytes), Buffer.from(`\r\n--${boundary}--`)]);
  const stored = await fetch(`${server.baseUrl}/dicom-web/studies`, { method: 'POST', headers: { authorization: `Bearer ${tokens.tech}`, 'content-type': `multipart/related; type="application/dicom"; boundary="${boundary}"`, accept: 'application/dicom+json' }, body });
  assert.equal(stored.status, 200);
  const created = await rest<{ id: string }>('tech', 'POST', '/api/v1/reading-requests', { studyInstanceUid: instance.studyInstanceUid, readingInstitutionId: 'ks-county', priority: 'urgent', imagesComplete: true });
  assert.equal(created.status, 201);
  const requestId = created.body.id;
  assert.equal((await rest('rad', 'POST', `/api/v1/reading-requests/${requestId}/claim`)).status, 200);
  const draft = await rest<{ id: string }>('rad', 'PUT', `/api/v1/reading-requests/${requestId}/report`, { ...text, positive: true });
  assert.equal(draft.status, 200);
  if (submit) assert.equal((await rest('rad', 'POST', `/api/v1/reports/${draft.body.id}/submit`)).status, 200);
  return { requestId, reportId: draft.body.id };
}

before(async () => {
  assert.ok(existsSync(path.join(WEB_DIST, 'index.html')), `build the web app first (npm run build:web): ${WEB_DIST}`);
  server = await startListeningServer({ YUNYING_WEB_DIST: WEB_DIST });
  tokens.admin = await login('admin', TEST_ADMIN_PASSWORD);
  for (const institution of [
    { id: 'ks-county', name: '昆山市第一人民医院', tier: 'county' },
    { id: 'ks-t1', name: '周市镇卫生院', tier: 'township', parentId: 'ks-county' },
  ]) assert.equal((await rest('admin', 'POST', '/api/v1/institutions', institution)).status, 201);
  assert.equal((await rest('admin', 'PUT', '/api/v1/institutions/ks-county/members/ks-t1')).status, 204);
  for (const [username, role, institutionId, displayName] of [
    ['tech', 'technologist', 'ks-t1', '李技师'],
    ['rad', 'radiologist', 'ks-county', '赵医生'],
    ['rev', 'reviewing-radiologist', 'ks-county', '孙主任'],
  ] as const) {
    assert.equal((await rest('admin', 'POST', '/api/v1/users', { username, password: PASSWORD, role, institutionId, displayName })).status, 201);
    tokens[username] = await login(username, PASSWORD);
  }
  userDataDir = await mkdtemp(path.join(tmpdir(), 'yunying-chromium-review-'));
  context = await chromium.launchPersistentContext(userDataDir, { executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: CHROMIUM_ARGS, viewport: { width: 1920, height: 1080 }, locale: 'zh-CN' });
});

after(async () => {
  await context?.close();
  await server?.close();
  if (userDataDir) await rm(userDataDir, { recursive: true, force: true });
});

/** A tab signed in as the user in the locale at the size (each tab has its own session). */
async function openAs(username: string, locale: 'zh-CN' | 'en', viewport: { width: number; height: number }): Promise<Page> {
  const page = await context.newPage();
  page.setDefaultTimeout(TIMEOUT);
  page.on('pageerror', (error) => pageErrors.push(`${username}: ${error.message}`));
  await page.setViewportSize(viewport);
  await page.addInitScript((value) => localStorage.setItem('yunying.locale', value), locale);
  await page.goto(`${server.baseUrl}/`, { waitUntil: 'domcontentloaded' });
  await page.getByTestId('login-username').fill(username);
  await page.getByTestId('login-password').fill(PASSWORD);
  await page.getByTestId('login-submit').click();
  await page.getByTestId('current-user').waitFor();
  return page;
}

/** Visible text inside `root` made of Latin letters only (a zh-CN screen must have none of its own). */
async function latinOnlyTexts(page: Page, selector: string): Promise<string[]> {
  return page.evaluate((sel) => {
    const out: string[] = [];
    for (const root of document.querySelectorAll(sel)) {
      const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
      for (let node = walker.nextNode(); node; node = walker.nextNode()) {
        const text = node.textContent?.trim() ?? '';
        const element = node.parentElement;
        if (!text || !element || element.closest('input,textarea,[data-identifier]')) continue;
        if (/[A-Za-z]{2,}/.test(text) && !/[\u3400-\u9fff]/.test(text)) out.push(text);
      }
    }
    return out;
  }, selector);
}

const TEXT = {
  'zh-CN': { returned: '已退回', rejected: /电子签名验证失败/, comment: '请补充病灶大小的描述' },
  en: { returned: 'Returned', rejected: /wrong|rejected/i, comment: 'Please add the size of the lesion' },
} as const;

describe('review stage: edit and sign with an electronic signature, the diff, a returned report', { timeout: 600_000 }, () => {
  const runs = [
    { locale: 'zh-CN', viewport: { width: 1920, height: 1080 } },
    { locale: 'en', viewport: { width: 1920, height: 1080 } },
    { locale: 'zh-CN', viewport: { width: 1366, height: 768 } },
    { locale: 'en', viewport: { width: 1366, height: 768 } },
  ] as const;
  for (const [index, { locale, viewport }] of runs.entries()) {
    test(`${locale} at ${viewport.width}×${viewport.height}`, async () => {
      const authorText = { findings: '右肺下叶见一枚结节。\n纵隔未见肿大淋巴结。', impression: '右肺下叶结节。' };
      const signedCase = await claimedCase(`S${index}`, authorText, false);
      const returnedCase = await claimedCase(`R${index}`, { findings: '肝内见低密度灶。', impression: '肝内低密度灶。' }, true);

      // The author submits on the reading page.
      const opened: Page[] = [];
      try {
        const rad = await openAs('rad', locale, viewport);
        opened.push(rad);
        await rad.goto(`${server.baseUrl}/reading/${signedCase.requestId}`, { waitUntil: 'domcontentloaded' });
        await rad.getByTestId('report-editor').waitFor();
        await rad.getByTestId('submit-report').click();
        await rad.getByTestId('worklist').waitFor();
        assert.equal((await rest<{ status: string }>('rad', 'GET', `/api/v1/reading-requests/${signedCase.requestId}`)).body.status, 'submitted');
        await rad.evaluate(() => ((window as unknown as { notReloaded: boolean }).notReloaded = true));
        await rad.locator('[data-testid="live-indicator"][data-connected="true"]').waitFor();

        // The reviewer's queue: the SLA clock still runs in review.
        const rev = await openAs('rev', locale, viewport);
        opened.push(rev);
        await rev.goto(`${server.baseUrl}/review`, { waitUntil: 'domcontentloaded' });
        const row = rev.locator(`[data-testid="review-queue"] tr[data-request-id="${signedCase.requestId}"]`);
        await row.waitFor();
        assert.equal(await row.locator('[data-testid="sla"][data-overdue="false"]').count(), 1, 'the countdown shows in review');
        await row.getByTestId('open').click();
        await rev.getByTestId('review-panel').waitFor();
        await rev.locator('.yy-reading [data-testid="sla"]').first().waitFor();

        // 修改后审核: the reviewer edits the impression and the findings; the change is previewed.
        await rev.getByTestId('review-edit').click();
        await rev.getByTestId('review-impression').fill('右肺下叶实性结节，建议3个月后复查。');
        await rev.getByTestId('review-findings').fill('右肺下叶见实性结节，直径约6mm。\n纵隔未见肿大淋巴结。');
        await rev.getByTestId('review-diff-preview').waitFor();

        // The electronic signature: a wrong password is refused in the dialog, nothing is signed.
        await rev.getByTestId('approve-sign').click();
        await rev.getByTestId('esign-dialog-body').waitFor();
        await rev.getByTestId('esign-edited').waitFor();
        assert.ok((await rev.getByTestId('esign-dialog-body').innerText()).includes('孙主任'), 'the dialog names the signer');
        if (locale === 'zh-CN') assert.deepEqual(await latinOnlyTexts(rev, '.ant-modal'), [], 'no English in the zh-CN dialog');
        await rev.getByTestId('esign-password').fill('Not-The-Password-1');
        await rev.getByTestId('esign-ok').click();
        const refusal = rev.getByTestId('esign-error');
        await refusal.waitFor();
        await shot(rev, `esign-${locale}-${viewport.width}`);
        assert.match(await refusal.innerText(), TEXT[locale].rejected);
        assert.equal((await rest<{ status: string }>('rev', 'GET', `/api/v1/reports/${signedCase.reportId}`)).body.status, 'submitted', 'nothing signed');
        await rev.getByTestId('esign-password').fill(PASSWORD);
        await rev.getByTestId('esign-ok').click();
        await rev.getByTestId('review-queue').waitFor();
        const signed = await rest<{ status: string; versions: Array<{ kind: string }>; signatures: Array<{ method: string; signer: string }> }>('rev', 'GET', `/api/v1/reports/${signedCase.reportId}`);
        assert.equal(signed.body.status, 'signed');
        assert.deepEqual(signed.body.versions.map((v) => v.kind), ['submitted', 'review-edit', 'signed']);
        assert.deepEqual(signed.body.signatures.map((s) => [s.signer, s.method]), [['rev', 'password']]);

        // The diff on the signed report, for the reviewer and for the author.
        for (const page of [rev, rad]) {
          await page.goto(`${server.baseUrl}/reading/${signedCase.requestId}`, { waitUntil: 'domcontentloaded' });
          const diff = page.getByTestId('report-diff');
          await diff.waitFor();
          const added = (await diff.getByTestId('diff-added').allInnerTexts()).join('|');
          const removed = (await diff.getByTestId('diff-removed').allInnerTexts()).join('|');
          assert.ok(added.includes('6mm') && added.includes('复查'), `added: ${added}`);
          assert.ok(removed.includes('一枚'), `removed: ${removed}`);
          assert.ok((await diff.locator('[data-testid="diff-findings"] > span').allInnerTexts()).join('').includes('纵隔未见肿大淋巴结'), 'the unchanged line shows as unchanged');
          await page.locator('[data-testid="esign-record"][data-method="password"]').waitFor();
          await diff.scrollIntoViewIfNeeded();
          await shot(page, `diff-${locale}-${viewport.width}-${page === rev ? 'reviewer' : 'author'}`);
          assert.ok((await page.getByTestId('esign-record').innerText()).includes('孙主任'));
        }

        // Another report is returned with a comment: the author's worklist marks it live.
        await rad.goto(`${server.baseUrl}/worklist`, { waitUntil: 'domcontentloaded' });
        await rad.getByTestId('worklist').waitFor();
        await rad.locator('[data-testid="live-indicator"][data-connected="true"]').waitFor();
        await rad.evaluate(() => ((window as unknown as { notReloaded: boolean }).notReloaded = true));
        const authorRow = rad.locator(`[data-testid="worklist"] tr[data-request-id="${returnedCase.requestId}"]`);
        await authorRow.waitFor();
        assert.equal(await authorRow.getByTestId('returned-tag').count(), 0);
        await rev.goto(`${server.baseUrl}/reading/${returnedCase.requestId}`, { waitUntil: 'domcontentloaded' });
        await rev.getByTestId('review-panel').waitFor();
        await rev.getByTestId('return-report').click();
        await rev.getByTestId('return-comments').fill(TEXT[locale].comment);
        await rev.getByTestId('return-ok').click();
        await rev.getByTestId('review-queue').waitFor();

        const tag = authorRow.getByTestId('returned-tag');
        await tag.waitFor();
        assert.equal((await tag.innerText()).trim(), TEXT[locale].returned);
        assert.ok((await authorRow.getByTestId('returned-comments-row').innerText()).includes(TEXT[locale].comment), 'the comment is on the row');
        await rad.getByTestId('returned-notice').waitFor();
        await shot(rad, `returned-${locale}-${viewport.width}`);
        assert.ok((await rad.getByTestId('returned-notice').innerText()).includes('孙主任'), 'the notice names the reviewer');
        assert.equal(await rad.evaluate(() => (window as unknown as { notReloaded?: boolean }).notReloaded), true, 'no reload: over the event stream');
        if (locale === 'zh-CN') assert.deepEqual(await latinOnlyTexts(rad, '[data-testid="returned-tag"], [data-testid="returned-comments-row"], .ant-notification'), [], 'no English on the zh-CN worklist');

        // The author opens it: the comments are in the editor.
        await authorRow.getByTestId('open').click();
        await rad.getByTestId('returned-comments').waitFor();
        assert.ok((await rad.getByTestId('returned-comments').innerText()).includes(TEXT[locale].comment));
      } finally {
        for (const page of opened) await page.close();
      }
    });
  }

  test('no script errors on any page', () => {
    assert.deepEqual(pageErrors, []);
  });
});

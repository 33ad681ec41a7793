/**
 * The reading page's priors in headless Chromium (issue 12, finding 1): a routed request
 * reaches a hospital that does not serve the township, so the patient's earlier study there
 * is listed as not shared; the radiologist opens it with a reason (调阅), after which it is
 * compared side by side. Opening the page alone shares nothing.
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
import { makeSyntheticInstance, type SyntheticInstance } from '@yunying/server/test-support/synthetic-dicom';

const WEB_DIST = process.env.YUNYING_WEB_DIST ?? path.resolve(import.meta.dirname, '../dist');
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const PASSWORD = 'Web-Priors-2024';
const TIMEOUT = 30_000;
const REASON = '对比既往CT：结节大小变化';

let server: ListeningServer;
let context: BrowserContext;
let userDataDir: string;
const tokens: Record<string, string> = {};
const patient = { patientId: 'MZ-0001', patientName: 'Li^Ai=李^爱' };
const prior = makeSyntheticInstance({ ...patient, studyDate: '20250101', modality: 'CT' });
const current = makeSyntheticInstance({ ...patient, studyDate: '20260302', modality: 'MR' });

async function rest(who: string, method: string, url: string, body?: unknown): Promise<{ status: number; body: unknown }> {
  const response = await fetch(`${server.baseUrl}${url}`, { method, headers: { authorization: `Bearer ${tokens[who]}`, ...(body ? { 'content-type': 'application/json' } : {}) }, body: body ? JSON.stringify(body) : undefined });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : undefined };
}

async function login(username: string, password = PASSWORD): Promise<string> {
  const response = await fetch(`${server.baseUrl}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username, password }) });
  assert.equal(response.status, 200);
  return ((await response.json()) as { token: string }).token;
}

async function stow(who: string, instance: SyntheticInstance): Promise<void> {
  const boundary = 'priors-e2e';
  const payload = Buffer.concat([Buffer.from(`\r\n--${boundary}\r\nContent-Type: application/dicom\r\n\r\n`), instance.bytes, Buffer.from(`\r\n--${boundary}--`)]);
  const response = await fetch(`${server.baseUrl}/dicom-web/studies`, { method: 'POST', headers: { authorization: `Bearer ${tokens[who]}`, 'content-type': `multipart/related; type="application/dicom"; boundary=${boundary}`, accept: 'application/dicom+json' }, body: payload });
  assert.equal(response.status, 200, await response.text());
}

async function visibleTo(who: string, study: SyntheticInstance): Promise<boolean> {
  return (await rest(who, 'GET', `/dicom-web/studies/${study.studyInstanceUid}/metadata`)).status === 200;
}

async function loginAs(username: string): Promise<Page> {
  const page = await context.newPage();
  page.setDefaultTimeout(TIMEOUT);
  await page.goto(`${server.baseUrl}/`);
  await page.getByTestId('login-username').fill(username);
  await page.getByTestId('login-password').fill(PASSWORD);
  await page.getByTestId('login-submit').click();
  await page.getByTestId('current-user').waitFor();
  return page;
}

before(async () => {
  assert.ok(existsSync(path.join(WEB_DIST, 'index.html')), 'build the web app first: npm run build -w packages/web');
  server = await startListeningServer({ YUNYING_WEB_DIST: WEB_DIST });
  tokens.admin = await login('admin', TEST_ADMIN_PASSWORD);
  for (const institution of [
    { id: 'sz', name: '苏州市', tier: 'city' },
    { id: 'town-a1', name: '周市镇卫生院', tier: 'township', parentId: 'sz' },
    { id: 'city-h', name: '苏州市立医院', tier: 'city', parentId: 'sz' },
  ]) assert.equal((await rest('admin', 'POST', '/api/v1/institutions', institution)).status, 201);
  for (const [username, role, institutionId] of [
    ['techA', 'technologist', 'town-a1'],
    ['radCity', 'radiologist', 'city-h'],
  ] as const) {
    assert.equal((await rest('admin', 'POST', '/api/v1/users', { username, password: PASSWORD, role, institutionId })).status, 201);
    tokens[username] = await login(username);
  }
  assert.equal((await rest('admin', 'POST', '/api/v1/routing-rules', { name: '周市镇MR → 市立医院', sourceInstitutionId: 'town-a1', modality: 'MR', readingInstitutionId: 'city-h' })).status, 201);
  await stow('techA', prior);
  await stow('techA', current);
  userDataDir = await mkdtemp(path.join(tmpdir(), 'yunying-chromium-priors-'));
  context = await chromium.launchPersistentContext(userDataDir, { executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: CHROMIUM_ARGS, viewport: { width: 1280, height: 800 }, locale: 'zh-CN' });
});

after(async () => {
  await context?.close();
  await server?.close();
  if (userDataDir) await rm(userDataDir, { recursive: true, force: true });
});

describe('priors on the reading page', { timeout: 120_000 }, () => {
  test('a prior not shared yet is opened only with a reason, then compared side by side', async () => {
    await server.feedHandled(); // routing is a change-feed consumer: it runs after the store
    const listed = (await rest('radCity', 'GET', '/api/v1/reading-requests?limit=500')).body as Array<{ id: string; studyInstanceUid: string }>;
    const requestId = listed.find((row) => row.studyInstanceUid === current.studyInstanceUid)?.id;
    assert.ok(requestId, 'the routed request');

    const page = await loginAs('radCity');
    await page.goto(`${server.baseUrl}/reading/${requestId}`);
    const item = page.getByTestId('prior').first();
    await item.waitFor();
    assert.equal(await item.getAttribute('data-accessible'), 'false');
    assert.equal(await visibleTo('radCity', prior), false, 'opening the reading page shares nothing');

    await item.getByTestId('open-prior-with-reason').click();
    await page.getByTestId('prior-reason').fill(REASON);
    await page.locator('.ant-modal-confirm .ant-btn-primary').click();
    await page.getByTestId('prior-viewer').waitFor();
    await page.locator('[data-testid="prior"][data-accessible="true"]').waitFor();
    assert.equal(await visibleTo('radCity', prior), true);

    const trail = await rest('admin', 'GET', `/api/v1/audit-events?action=prior.opened&objectId=${prior.studyInstanceUid}`);
    const rows = trail.body as Array<{ actor_name: string; details: { reason: string } }>;
    assert.equal(rows.length, 1);
    assert.equal(rows[0]!.details.reason, REASON);
  });
});

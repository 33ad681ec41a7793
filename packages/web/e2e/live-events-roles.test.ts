/**
 * The notification stream in headless Chromium (issue 12, finding 2): the server streams only
 * to roles that may see patient data, so the commission analyst's and the insurance auditor's
 * screens never open it (no refused request, no access.denied record on every page load),
 * while a technologist's screen still does.
 * Needs packages/web/dist (npm test builds it first) or YUNYING_WEB_DIST.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';
import { startListeningServer, type ListeningServer } from '@yunying/server/test-support/listening-server';
import { TEST_ADMIN_PASSWORD } from '@yunying/server/test-support/admin-auth';

const WEB_DIST = process.env.YUNYING_WEB_DIST ?? path.resolve(import.meta.dirname, '../dist');
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const TIMEOUT = 30_000;
const PASSWORD = 'Correct-Horse-9';

let server: ListeningServer;
let context: BrowserContext;
let userDataDir: string;
let adminToken: string;

async function admin(method: string, url: string, body: unknown): Promise<void> {
  const response = await fetch(`${server.baseUrl}${url}`, { method, headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  assert.ok(response.ok, `${url}: ${response.status} ${await response.text()}`);
}

before(async () => {
  assert.ok(existsSync(path.join(WEB_DIST, 'index.html')), `build the web app first (npm run build:web): ${WEB_DIST}`);
  server = await startListeningServer({ YUNYING_WEB_DIST: WEB_DIST });
  const login = await fetch(`${server.baseUrl}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'admin', password: TEST_ADMIN_PASSWORD }) });
  adminToken = ((await login.json()) as { token: string }).token;
  await admin('POST', '/api/v1/institutions', { id: 'ks-county', name: '昆山市第一人民医院', tier: 'county' });
  await admin('POST', '/api/v1/institutions', { id: 'ks-t1', name: '周市镇卫生院', tier: 'township', parentId: 'ks-county' });
  await admin('POST', '/api/v1/users', { username: 'analyst', password: PASSWORD, role: 'commission-analyst', institutionId: 'ks-county' });
  await admin('POST', '/api/v1/users', { username: 'auditor', password: PASSWORD, role: 'insurance-auditor', institutionId: 'ks-county' });
  await admin('POST', '/api/v1/users', { username: 'tech', password: PASSWORD, role: 'technologist', institutionId: 'ks-t1' });
  userDataDir = await mkdtemp(path.join(tmpdir(), 'yunying-chromium-events-'));
  context = await chromium.launchPersistentContext(userDataDir, { executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: CHROMIUM_ARGS, viewport: { width: 1280, height: 800 }, locale: 'zh-CN' });
});

after(async () => {
  await context?.close();
  await server?.close();
  if (userDataDir) await rm(userDataDir, { recursive: true, force: true });
});

/**
 * Signs in and waits until the home screen's own data has arrived; answers the
 * /api/v1/events requests the tab made and the 403s it got by then. The stream is opened
 * by the shell when it first renders, before the lazily loaded screen asks for its data,
 * so by the time that data is back a stream the tab opens has been requested.
 */
async function homeScreenOf(username: string, dataPath: string): Promise<{ eventRequests: string[]; refused: string[] }> {
  const page = await context.newPage();
  page.setDefaultTimeout(TIMEOUT);
  const eventRequests: string[] = [];
  const refused: string[] = [];
  page.on('request', (request) => {
    if (new URL(request.url()).pathname === '/api/v1/events') eventRequests.push(request.url());
  });
  page.on('response', (response) => {
    if (response.status() === 403) refused.push(new URL(response.url()).pathname);
  });
  await page.goto(`${server.baseUrl}/`);
  await page.getByTestId('login-username').fill(username);
  await page.getByTestId('login-password').fill(PASSWORD);
  const homeData = page.waitForResponse((response) => new URL(response.url()).pathname === dataPath);
  await page.getByTestId('login-submit').click();
  assert.equal((await homeData).status(), 200);
  await page.close();
  return { eventRequests, refused };
}

describe('the notification stream follows patient access', { timeout: 120_000 }, () => {
  test("the commission analyst's and the insurance auditor's screens do not open it", async () => {
    for (const [username, home] of [['analyst', '/api/v1/statistics/studies'], ['auditor', '/api/v1/audit-events']] as const) {
      const { eventRequests, refused } = await homeScreenOf(username, home);
      assert.deepEqual(eventRequests, [], `${username} opened the event stream`);
      assert.deepEqual(refused, [], `${username}'s screen was refused`);
    }
  });

  test("a technologist's screen still opens it", async () => {
    const { eventRequests, refused } = await homeScreenOf('tech', '/api/v1/reading-requests');
    assert.ok(eventRequests.length > 0, 'the technologist has no event stream');
    assert.deepEqual(refused, []);
  });
});

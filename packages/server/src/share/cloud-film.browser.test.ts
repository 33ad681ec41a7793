/**
 * Cloud film in a phone (headless Chromium, 360×740 at 2×, touch): open the link, enter the
 * code, read the report, swipe through a CT series with touch and mouse, pinch to zoom into
 * full fidelity, change the window, switch to English; wrong codes get throttled; a revoked
 * link stops working at once.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { createFixture, generateCt, signReport, startShareServer, storeAs, type Fixture, type GeneratedStudy, type ShareTestServer } from './share-test-support.ts';

export const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
export const PHONE = { viewport: { width: 360, height: 740 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true } as const;

type Link = { id: string; url: string; accessCode?: string };
/** The little of the DOM these tests touch in the page (the server's TypeScript has no DOM library). */
type Dom = {
  document: {
    getElementById(id: string): { dataset: Record<string, string | undefined>; complete: boolean; naturalWidth: number; textContent: string | null; style: { transform: string } } | null;
    documentElement: { dataset: Record<string, string | undefined>; lang: string; scrollWidth: number };
  };
  location: { pathname: string };
};

let app: ShareTestServer;
let fixture: Fixture;
let ct: GeneratedStudy;
let context: BrowserContext;
let userDataDir: string;
const SLICES = 20;
/** The phone's own zone, far from the hospital's: the page must show Asia/Shanghai times anyway. */
const PHONE_ZONE = 'America/New_York';

/** YYYY-MM-DD HH:mm in Shanghai, which is UTC+8 all year (no summer time). */
const shanghai = (iso: string) => new Date(Date.parse(iso) + 8 * 3_600_000).toISOString().slice(0, 16).replace('T', ' ');
const FINDINGS = '双肺纹理清晰，未见明确实质性病变。';

async function createLink(body: Record<string, unknown> = {}): Promise<Link> {
  const answer = await fixture.client.call<Link>('tech', 'POST', '/api/v1/share-links', { studyInstanceUid: ct.studyInstanceUid, ...body });
  assert.equal(answer.status, 201, answer.text);
  return answer.body;
}

const urlOf = (link: Link) => `${app.baseUrl}${new URL(link.url).pathname}`;

async function enterCode(page: Page, code: string): Promise<void> {
  await page.locator('#code').fill(code);
  // the form posts and the answer (film, 401 or 429 page) is a new document
  await Promise.all([page.waitForEvent('load'), page.locator('#unlock-submit').click()]);
}

/** A one-finger swipe on the viewer through Chromium's touch input (CDP), in `steps` moves. */
async function swipe(page: Page, from: { x: number; y: number }, to: { x: number; y: number }, steps = 10): Promise<void> {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Input.dispatchTouchEvent', { type: 'touchStart', touchPoints: [{ x: from.x, y: from.y, id: 1 }] });
  for (let i = 1; i <= steps; i++) {
    await cdp.send('Input.dispatchTouchEvent', { type: 'touchMove', touchPoints: [{ x: from.x + ((to.x - from.x) * i) / steps, y: from.y + ((to.y - from.y) * i) / steps, id: 1 }] });
  }
  await cdp.send('Input.dispatchTouchEvent', { type: 'touchEnd', touchPoints: [] });
  await cdp.detach();
}

async function pinch(page: Page, centre: { x: number; y: number }, fromGap: number, toGap: number, steps = 10): Promise<void> {
  const cdp = await page.context().newCDPSession(page);
  const points = (gap: number) => [{ x: centre.x - gap / 2, y: centre.y, id: 1 }, { x: centre.x + gap / 2, y: centre.y, id: 2 }];
  await cdp.send('Input.dispatchTouchEvent', { type: 'touchStart', touchPoints: points(fromGap) });
  for (let i = 1; i <= steps; i++) await cdp.send('Input.dispatchTouchEvent', { type: 'touchMove', touchPoints: points(fromGap + ((toGap - fromGap) * i) / steps) });
  await cdp.send('Input.dispatchTouchEvent', { type: 'touchEnd', touchPoints: [] });
  await cdp.detach();
}

/** The slice shown once its image has arrived. */
async function shownSlice(page: Page): Promise<number> {
  await page.waitForFunction(() => {
    const { document } = globalThis as unknown as Dom;
    const img = document.getElementById('view-img')!;
    const data = JSON.parse(document.getElementById('film-data')!.textContent!) as { series: Array<{ images: Array<[string, number]> }> };
    const sop = data.series[Number(img.dataset.series)]!.images[Number(img.dataset.slice) - 1]![0];
    return img.complete && img.naturalWidth > 0 && (img.dataset.url ?? '').includes(`/${sop}.jpg`);
  });
  return Number(await page.locator('#view-img').getAttribute('data-slice'));
}

before(async () => {
  app = await startShareServer();
  fixture = await createFixture(app.baseUrl);
  ct = await generateCt(SLICES);
  await storeAs(app.server, fixture.client.tokens.tech!, ct.files.values());
  await signReport(fixture, ct.studyInstanceUid, { findings: FINDINGS, impression: '胸部CT平扫未见异常。' });
  userDataDir = await mkdtemp(path.join(tmpdir(), 'yunying-chromium-'));
  context = await chromium.launchPersistentContext(userDataDir, { executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS, ...PHONE, locale: 'zh-CN', timezoneId: PHONE_ZONE });
});

after(async () => {
  await context?.close();
  if (userDataDir) await rm(userDataDir, { recursive: true, force: true });
  await app?.close();
});

describe('cloud film on a phone', () => {
  test('open the link, enter the code, read the report, swipe through the CT, pinch, window, English', async () => {
    const link = await createLink();
    const page = await context.newPage();
    const outside: string[] = [];
    page.on('request', (request) => {
      if (!request.url().startsWith(app.baseUrl) && !request.url().startsWith('blob:') && !request.url().startsWith('data:')) outside.push(request.url());
    });
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    page.on('console', (message) => {
      if (message.type() === 'error') errors.push(message.text());
    });
    await page.goto(urlOf(link));
    assert.equal(await page.locator('[data-state="locked"]').count(), 1);
    await enterCode(page, link.accessCode!);

    await page.locator('#findings').waitFor();
    assert.equal((await page.locator('#findings').innerText()).trim(), FINDINGS);
    assert.equal((await page.locator('#institution').innerText()).trim(), '周市镇卫生院');
    await page.waitForFunction(() => (globalThis as unknown as Dom).document.documentElement.dataset.firstImage === 'yes');
    assert.equal(await shownSlice(page), SLICES / 2, 'the middle slice first');
    assert.equal((await page.locator('#slice-no').innerText()).trim(), `${SLICES / 2} / ${SLICES}`);
    const width = await page.evaluate(() => (globalThis as unknown as Dom).document.documentElement.scrollWidth);
    assert.ok(width <= 360, `no horizontal scrolling at 360 px (scrollWidth ${width})`);

    const box = (await page.locator('#stage').boundingBox())!;
    const centre = { x: box.x + box.width / 2, y: box.y + box.height / 2 };
    // swipe up by 60 px: five slices on (12 px a slice)
    await swipe(page, { x: centre.x, y: centre.y + 40 }, { x: centre.x, y: centre.y - 20 });
    assert.equal(await shownSlice(page), SLICES / 2 + 5);
    // and down by 120 px: ten slices back
    await swipe(page, { x: centre.x, y: centre.y - 60 }, { x: centre.x, y: centre.y + 60 });
    assert.equal(await shownSlice(page), SLICES / 2 + 5 - 10);
    // the mouse drags too: 100 px to the left, eight slices on
    await page.mouse.move(centre.x + 50, centre.y);
    await page.mouse.down();
    await page.mouse.move(centre.x - 50, centre.y, { steps: 10 });
    await page.mouse.up();
    assert.equal(await shownSlice(page), SLICES / 2 + 5 - 10 + 8);

    // window presets re-render on the server
    await page.locator('[data-window="-600,1500"]').click();
    await page.waitForFunction(() => ((globalThis as unknown as Dom).document.getElementById('view-img')!.dataset.url ?? '').includes('window=-600%2C1500'));

    // pinch to zoom: past 1.6× the full-fidelity image is fetched
    await pinch(page, centre, 60, 200);
    await page.waitForFunction(() => ((globalThis as unknown as Dom).document.getElementById('view-img')!.dataset.url ?? '').includes('fidelity=full'));
    const transform = await page.evaluate(() => (globalThis as unknown as Dom).document.getElementById('view-img')!.style.transform);
    const scale = Number(/scale\(([0-9.]+)\)/.exec(transform)?.[1]);
    assert.ok(scale > 2.5, `zoomed (${transform})`);
    assert.equal((await page.locator('#fidelity').innerText()).trim(), '高清');
    // 报告编号 and the issued version (the signature is 第 1 版), in the page's language only
    assert.match((await page.locator('#report-number').innerText()).trim(), /^报告编号 [A-Z0-9-]+-\d{4}-\d{6} · 第 1 版$/);

    // English
    await page.locator('#lang').click();
    assert.equal(await page.evaluate(() => (globalThis as unknown as Dom).document.documentElement.lang), 'en');
    assert.equal((await page.locator('#fidelity').innerText()).trim(), 'HD');
    assert.match((await page.locator('#report-number').innerText()).trim(), /^Report No\. [A-Z0-9-]+-\d{4}-\d{6} · version 1$/);
    assert.equal((await page.locator('#lang').innerText()).trim(), '中文', 'the switch offers the other language');
    assert.ok(await page.getByText('Findings', { exact: true }).isVisible());
    assert.ok(!(await page.getByText('影像所见', { exact: true }).isVisible()));
    // the choice is remembered on the phone; back to 简体中文 for the next tests
    await page.reload();
    assert.equal(await page.evaluate(() => (globalThis as unknown as Dom).document.documentElement.lang), 'en');
    await page.locator('#lang').click();
    assert.equal(await page.evaluate(() => (globalThis as unknown as Dom).document.documentElement.lang), 'zh-CN');

    assert.deepEqual(outside, [], 'no request leaves the server');
    assert.deepEqual(errors, [], 'no script or CSP errors');
    await page.close();
  });

  test('times are the hospital’s zone (Asia/Shanghai), not the phone’s, and the zone is named', async () => {
    const link = await createLink({ accessCode: false });
    // 16:30 UTC on 30 June is 00:30 on 1 July in Shanghai, still 30 June in New York
    await app.server.archive.database.db.updateTable('share_links').set({ expires_at: '2027-06-30T16:30:00.000Z' }).where('id', '=', link.id).execute();
    const page = await context.newPage();
    await page.goto(urlOf(link));
    assert.equal(await page.evaluate(() => Intl.DateTimeFormat().resolvedOptions().timeZone), PHONE_ZONE);
    assert.equal((await page.locator('#expires-at').innerText()).trim(), '2027-07-01 00:30');
    assert.equal((await page.locator('#time-zone').innerText()).trim(), 'Asia/Shanghai');
    const data = await page.evaluate(async () => (await fetch(`${(globalThis as unknown as Dom).location.pathname}/data.json`)).json() as Promise<{ report: { signedAt: string } }>);
    assert.equal((await page.locator('#signed-at').innerText()).trim(), shanghai(data.report.signedAt));

    // the onward link the script shows: its expiry in Shanghai time, the zone named
    await page.locator('#recipient').fill('上海瑞金医院 王医生');
    const [onwardAnswer] = await Promise.all([page.waitForResponse((r) => r.url().endsWith('/onward') && r.request().method() === 'POST'), page.locator('#onward-form button[type="submit"]').click()]);
    const onward = (await onwardAnswer.json()) as { expiresAt: string };
    await page.locator('#onward-expires').waitFor();
    // one language at a time (the page's, 简体中文 here), not "有效期至 Valid until"
    assert.equal((await page.locator('#onward-expires').innerText()).trim(), `有效期至 ${shanghai(onward.expiresAt)} (Asia/Shanghai)`);
    assert.doesNotMatch(await page.locator('#onward-result').innerText(), /[A-Za-z]{3,} [A-Za-z]{3,}/, 'no English sentence in the zh-CN result');

    // who opened the film, and the live onward link, in Shanghai time too
    const [listAnswer] = await Promise.all([page.waitForResponse((r) => r.url().endsWith('/accesses')), page.locator('#show-accesses').click()]);
    const list = (await listAnswer.json()) as { accesses: Array<{ at: string }>; onward: Array<{ expiresAt: string }> };
    await page.locator('#accesses li').first().waitFor();
    const items = await page.locator('#accesses li').allInnerTexts();
    assert.ok(list.accesses.length > 0);
    for (const [i, access] of list.accesses.entries()) assert.ok(items[i]!.startsWith(`${shanghai(access.at)} · `), `${items[i]} starts with ${shanghai(access.at)}`);
    assert.ok(items.some((item) => item.includes(`(${shanghai(list.onward[0]!.expiresAt)})`)), items.join(' | '));
    await page.close();
  });

  test('wrong codes get throttled', async () => {
    const link = await createLink();
    const page = await context.newPage();
    await page.goto(urlOf(link));
    const wrong = link.accessCode === '000000' ? '111111' : '000000';
    for (let i = 0; i < 4; i++) {
      await enterCode(page, wrong);
      await page.locator('#code-error').waitFor({ timeout: 5000 });
      assert.ok(await page.locator('#code-error').isVisible(), `attempt ${i + 1} says the code is wrong`);
    }
    await enterCode(page, wrong);
    await page.locator('[data-state="throttled"]').waitFor({ timeout: 5000 });
    assert.ok(await page.locator('h1 .zh', { hasText: '尝试次数过多' }).isVisible(), 'the fifth wrong code is told to wait');
    await page.goto(urlOf(link));
    await enterCode(page, link.accessCode!);
    await page.locator('[data-state="throttled"]').waitFor({ timeout: 5000 });
    assert.ok(await page.locator('.retry').isVisible(), 'even the right code waits now, and is told how long');
    assert.equal(await page.locator('#findings').count(), 0);
    await page.close();
  });

  test('a revoked link stops working at once', async () => {
    const link = await createLink({ accessCode: false });
    const page = await context.newPage();
    await page.goto(urlOf(link));
    await page.waitForFunction(() => (globalThis as unknown as Dom).document.documentElement.dataset.firstImage === 'yes');
    assert.equal((await fixture.client.call('tech', 'POST', `/api/v1/share-links/${link.id}/revoke`)).status, 200);
    const status = await page.evaluate(async () => (await fetch(`${(globalThis as unknown as Dom).location.pathname}/data.json`)).status);
    assert.equal(status, 410, 'the open page’s next request is refused');
    const response = await page.reload();
    assert.equal(response?.status(), 410);
    assert.ok(await page.getByText('链接已停用').isVisible());
    assert.ok(await page.getByText('This link has been withdrawn').isHidden(), 'one language at a time');
    await page.close();
  });
});

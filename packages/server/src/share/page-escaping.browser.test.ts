/**
 * Issue 12, finding 6, on the page: every value the patient's page writes is escaped, in
 * text, in attributes and in its inline JSON. A Series UID carrying a meta refresh cannot be
 * stored any more (uid-validation.test.ts), but an archive filled before that check may hold
 * one, so the index row is written here the way such an archive holds it; names,
 * descriptions and report text with markup still come in through ingest and the reading API.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import SqliteDatabase from 'better-sqlite3';
import { chromium, type BrowserContext } from 'playwright-core';
import { buildPart10, encodeDataset, parseDicom, toDicomJson, TRANSFER_SYNTAX } from '@yunying/dicom';
import { makeSyntheticInstance, newUid } from '../test-support/synthetic-dicom.ts';
import { createFixture, signReport, startShareServer, storeAs, type Fixture, type ShareTestServer } from './share-test-support.ts';

// As cloud-film.browser.test.ts (importing it would run its tests here too).
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const PHONE = { viewport: { width: 360, height: 740 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true } as const;
const ATTACKER = 'http://127.0.0.1:1/';
const META_REFRESH = `1.2.3"><meta http-equiv="refresh" content="0;url=${ATTACKER}"><x a="`;
// No '=' in it: the page shows the name masked to its first character, from the ideographic group.
const PATIENT_NAME = '</script><b>张</b>';
const STUDY_DESCRIPTION = '<img src=x onerror="window.pwned=\'study\'">';
const SERIES_DESCRIPTION = '"><img src=x onerror="window.pwned=\'series\'">\u2028';
const FINDINGS = '<script>window.pwned="report"</script>所见';

type Dom = {
  document: {
    documentElement: { dataset: Record<string, string | undefined> };
    querySelectorAll(selector: string): { length: number };
    getElementById(id: string): { textContent: string | null } | null;
  };
  pwned?: string;
};

let app: ShareTestServer;
let fixture: Fixture;
let context: BrowserContext;
let userDataDir: string;
let studyInstanceUid: string;

/** A CT image with the study and series descriptions set. */
function image(seriesInstanceUid: string, seriesNumber: number): Buffer {
  const base = makeSyntheticInstance({ studyInstanceUid, seriesInstanceUid, patientName: PATIENT_NAME, patientId: 'ESC-1', instanceNumber: 1 });
  const dataset = {
    ...toDicomJson(parseDicom(base.bytes), { inlineBinaryMaxBytes: Infinity }),
    '00081030': { vr: 'LO', Value: [STUDY_DESCRIPTION] },
    '0008103E': { vr: 'LO', Value: [SERIES_DESCRIPTION] },
    '00200011': { vr: 'IS', Value: [seriesNumber] },
  };
  return buildPart10(encodeDataset(dataset, TRANSFER_SYNTAX.EXPLICIT_LE), { transferSyntaxUid: TRANSFER_SYNTAX.EXPLICIT_LE, sopClassUid: base.sopClassUid, sopInstanceUid: base.sopInstanceUid });
}

before(async () => {
  app = await startShareServer();
  fixture = await createFixture(app.baseUrl);
  studyInstanceUid = newUid();
  const craftedSeries = newUid();
  await storeAs(app.server, fixture.client.tokens.tech!, [image(craftedSeries, 1), image(newUid(), 2)]);
  // What an archive filled before the UID check holds: the series row and its instances
  // under the crafted UID (foreign keys off for this connection only, so the two rows can be
  // renamed one after the other).
  const sqlite = new SqliteDatabase(path.join(app.dataDir, 'index.sqlite'));
  try {
    sqlite.pragma('foreign_keys = OFF');
    sqlite.transaction(() => {
      sqlite.prepare('UPDATE series SET series_instance_uid = ? WHERE series_instance_uid = ?').run(META_REFRESH, craftedSeries);
      sqlite.prepare('UPDATE instances SET series_instance_uid = ? WHERE series_instance_uid = ?').run(META_REFRESH, craftedSeries);
    })();
  } finally {
    sqlite.close();
  }
  await signReport(fixture, studyInstanceUid, { findings: FINDINGS, impression: '</p><meta http-equiv="refresh" content="0;url=http://127.0.0.1:1/">' });
  userDataDir = await mkdtemp(path.join(tmpdir(), 'yunying-chromium-'));
  context = await chromium.launchPersistentContext(userDataDir, { executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS, ...PHONE, locale: 'zh-CN' });
});

after(async () => {
  await context?.close();
  if (userDataDir) await rm(userDataDir, { recursive: true, force: true });
  await app?.close();
});

test('a Series UID with a meta refresh, names, descriptions and report text with markup are shown as text; the page stays and works', async () => {
  const created = await fixture.client.call<{ url: string }>('tech', 'POST', '/api/v1/share-links', { studyInstanceUid, accessCode: false });
  assert.equal(created.status, 201, created.text);
  const page = await context.newPage();
  const toAttacker: string[] = [];
  page.on('request', (request) => {
    if (request.url().startsWith(ATTACKER)) toAttacker.push(request.url());
  });
  const navigations: string[] = [];
  page.on('framenavigated', (frame) => navigations.push(frame.url()));
  const failed: string[] = [];
  page.on('response', (r) => {
    if (r.status() >= 400) failed.push(`${r.status()} ${r.url()}`);
  });
  const response = await page.goto(`${app.baseUrl}${new URL(created.body.url).pathname}`);
  assert.equal(response?.status(), 200);

  const html = await response!.text();
  assert.ok(!html.includes('<meta http-equiv="refresh"'), 'the UID is not markup in the page');
  // The first image of the crafted series loads, so its UID reached the server intact.
  await page.waitForFunction(() => (globalThis as unknown as Dom).document.documentElement.dataset.firstImage === 'yes');
  assert.equal(await page.evaluate(() => (globalThis as unknown as Dom).document.querySelectorAll('meta[http-equiv]').length), 0);
  assert.equal(await page.evaluate(() => (globalThis as unknown as Dom).document.querySelectorAll('img[onerror], script:not([type="module"]):not(#film-data)').length), 0);
  assert.equal(await page.evaluate(() => (globalThis as unknown as Dom).pwned), undefined, 'no injected script ran');

  // The values are there, as text.
  assert.ok((await page.locator('#exam-title').innerText()).includes(STUDY_DESCRIPTION));
  // masked to "<***", as text
  assert.ok((await page.locator('#exam').innerText()).includes(`${PATIENT_NAME[0]}***`));
  const thumbsText = await page.locator('#thumbs').innerText();
  assert.ok(thumbsText.includes(SERIES_DESCRIPTION.trim()), thumbsText);
  assert.ok((await page.locator('#findings').innerText()).includes(FINDINGS));
  const data = JSON.parse((await page.evaluate(() => (globalThis as unknown as Dom).document.getElementById('film-data')!.textContent))!) as { series: Array<{ uid: string }> };
  assert.deepEqual(data.series.map((s) => s.uid).sort(), [META_REFRESH, data.series.find((s) => s.uid !== META_REFRESH)!.uid].sort());
  // Both thumbnails load: the crafted UID is one path segment of its URL.
  await page.waitForFunction(() => {
    const thumbs = (globalThis as unknown as { document: { querySelectorAll(s: string): Array<{ complete: boolean; naturalWidth: number }> } }).document.querySelectorAll('#thumbs img');
    return thumbs.length === 2 && Array.from(thumbs).every((img) => img.complete && img.naturalWidth > 0);
  });

  assert.deepEqual(toAttacker, [], 'nothing was fetched from the attacker');
  assert.deepEqual(failed, [], 'every request of the page succeeded');
  assert.deepEqual([...new Set(navigations)], [page.url()], 'the page never navigated away');
  await page.close();
});

/**
 * OHIF 3.12 (the built viewer of the npm package @ohif/app) at /ohif/ on our DICOMweb, in
 * headless Chromium (issue 15, item 5). The dist is fetched by scripts/fetch-ohif.ts when it
 * is not there yet (npm pack and the pinned sha512), so a fresh machine runs this too; if it
 * cannot be fetched, the test fails (it does not skip). The signed-in user's token is where
 * our web app keeps it (this tab's sessionStorage); OHIF's study list shows the studies, and a
 * CT, an MR series and a multi-frame US (JPEG baseline, YBR_FULL_422) from the shared samples
 * open with images on the viewport's canvas (more than a few distinct pixel values) and not
 * one failed request (an HTTP status of 400 or more, or a request that failed outright).
 * Every DICOMweb request OHIF made is recorded with its Accept header (printed with each
 * study's result). Last, CORS in the browser (YUNYING_CORS_ORIGINS): a page on another
 * origin that is allowed queries and reads metadata with the token; the same page on an
 * origin that is not allowed is refused by Chromium itself.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { startListeningServer, type ListeningServer } from '@yunying/server/test-support/listening-server';
import { ADMIN_AUTH, TEST_ADMIN_PASSWORD } from '@yunying/server/test-support/admin-auth';
import { readSample, sampleFiles } from '@yunying/testing/samples';
import { ensureOhifDist } from '../../../scripts/fetch-ohif.ts';

const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
/** OHIF's first start compiles 15 MB of JavaScript and its codecs' WebAssembly */
const TIMEOUT = 90_000;

const SAMPLES = {
  ct: ['modality/ct/CT_small.dcm'],
  mr: sampleFiles('series/mr-16-slices'),
  us: ['modality/us/US_multiframe_30f_ybr422_jpeg.dcm'],
} as const;

/** the samples' Patient IDs, which OHIF's list shows as MRN */
const PATIENT_IDS = { ct: '1CT1', mr: '583295', us: '204' } as const;
/** frames in each study: the viewer has fetched them all (its stack prefetch too) before the count of failures is taken */
const FRAMES = { ct: 1, mr: 16, us: 30 } as const;

let server: ListeningServer;
/** a page on another origin (another port), as a hospital's own viewer would be */
let viewerSite: Server;
let viewerOrigin: string;
let context: BrowserContext;
let userDataDir: string;
let token: string;
const studyUid: Record<keyof typeof SAMPLES, string> = { ct: '', mr: '', us: '' };

interface Failure {
  url: string;
  status: number | string;
}

async function stow(files: Buffer[]): Promise<string> {
  const boundary = `ohif-${Date.now()}`;
  const chunks: Buffer[] = [];
  for (const file of files) chunks.push(Buffer.from(`\r\n--${boundary}\r\nContent-Type: application/dicom\r\n\r\n`), file);
  chunks.push(Buffer.from(`\r\n--${boundary}--\r\n`));
  const response = await fetch(`${server.baseUrl}/dicom-web/studies`, {
    method: 'POST',
    headers: { authorization: ADMIN_AUTH, 'content-type': `multipart/related; type="application/dicom"; boundary=${boundary}`, accept: 'application/dicom+json' },
    body: Buffer.concat(chunks),
  });
  const text = await response.text();
  assert.equal(response.status, 200, text);
  const stored = JSON.parse(text) as { '00081199'?: { Value?: Array<{ '00081190'?: { Value?: string[] } }> } };
  const url = stored['00081199']?.Value?.[0]?.['00081190']?.Value?.[0] ?? '';
  const uid = /\/studies\/([0-9.]+)/.exec(url)?.[1];
  assert.ok(uid, `no study in the STOW answer: ${text.slice(0, 300)}`);
  return uid;
}

before(async () => {
  // fails the suite (never skips) when OHIF cannot be fetched or does not verify
  const dist = await ensureOhifDist({ log: (line) => console.log(`fetch-ohif: ${line}`) });
  viewerSite = createServer((_request, response) => response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end('<!doctype html><title>viewer</title>'));
  await new Promise<void>((resolve) => viewerSite.listen(0, '127.0.0.1', resolve));
  viewerOrigin = `http://127.0.0.1:${(viewerSite.address() as AddressInfo).port}`;
  server = await startListeningServer({ YUNYING_OHIF: 'true', YUNYING_OHIF_DIST: dist, YUNYING_CORS_ORIGINS: viewerOrigin });
  for (const key of Object.keys(SAMPLES) as Array<keyof typeof SAMPLES>) studyUid[key] = await stow(SAMPLES[key].map((file) => readSample(file)));
  const login = await fetch(`${server.baseUrl}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'admin', password: TEST_ADMIN_PASSWORD }) });
  assert.equal(login.status, 200);
  token = ((await login.json()) as { token: string }).token;
  userDataDir = await mkdtemp(path.join(tmpdir(), 'yunying-chromium-ohif-'));
  context = await chromium.launchPersistentContext(userDataDir, { executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: CHROMIUM_ARGS, viewport: { width: 1600, height: 1000 } });
  // where our web app keeps the signed-in user's token (packages/web/src/api/session.ts)
  await context.addInitScript((value) => window.sessionStorage.setItem('yunying.token', value), token);
});

after(async () => {
  await context?.close();
  await server?.close();
  await new Promise((resolve) => viewerSite?.close(resolve));
  if (userDataDir) await rm(userDataDir, { recursive: true, force: true });
});

/**
 * A page that records every failed request and every DICOMweb request with its Accept
 * header. Failed: an HTTP status of 400 or more; a request that did not complete (Chromium's
 * Network.loadingFailed); and any request to a path of ours outside /ohif/, /dicom-web and
 * /wado (an OHIF file asked for at the root would get the web app's page with a 200).
 *
 * One case is told apart, by checking the body: OHIF streams stack frames (its
 * retrieveOptions `streaming`, the image loader's streamRequest reads response.body with a
 * reader), and Chromium reports a fetch whose body was read through a reader as cancelled
 * (net::ERR_ABORTED) even when it was read to its end; plain fetch() of a metadata answer
 * read that way shows the same. So each fetch's answer is also read in the page through a
 * clone (which ends only when the whole body, chunked or not, has arrived): a cancelled
 * request whose clone was read to its end is listed apart; any other is a failure.
 */
async function openPage(): Promise<{ page: Page; failures: Failure[]; dicomweb: string[]; framesAnswered: Set<string>; settle(): Promise<string[]> }> {
  const page = await context.newPage();
  page.setDefaultTimeout(TIMEOUT);
  await page.addInitScript(() => {
    const bodies: Record<string, Array<number | string>> = {};
    (window as unknown as { __bodies: typeof bodies }).__bodies = bodies;
    const original = window.fetch;
    window.fetch = async function (...args: Parameters<typeof fetch>) {
      const response = await original.apply(this, args);
      const record = (outcome: number | string) => (bodies[response.url] ??= []).push(outcome);
      response.clone().arrayBuffer().then((body) => record(body.byteLength), (error: Error) => record(`error: ${error.message}`));
      return response;
    };
  });
  const failures: Failure[] = [];
  const dicomweb: string[] = [];
  const cancelled: Array<{ url: string; errorText: string }> = [];
  /** the frame URLs answered 200 */
  const framesAnswered = new Set<string>();
  const origin = new URL(server.baseUrl).origin;
  page.on('response', (response) => {
    if (response.status() >= 400) failures.push({ url: response.url(), status: response.status() });
    else if (/\/frames\/\d+$/.test(new URL(response.url()).pathname)) framesAnswered.add(response.url());
  });
  page.on('request', (request) => {
    const url = new URL(request.url());
    if (url.origin === origin && !/^\/(?:ohif\/|dicom-web(?:\/|$)|wado(?:\/|$))/.test(url.pathname)) failures.push({ url: request.url(), status: 'outside /ohif/, /dicom-web and /wado' });
    if (url.pathname.startsWith('/dicom-web') || url.pathname.startsWith('/wado')) dicomweb.push(`${request.method()} ${url.pathname.replace(/[0-9.]{20,}/g, '{uid}')} Accept: ${request.headers().accept ?? '-'} Authorization: ${request.headers().authorization ? 'Bearer …' : 'none'}`);
  });
  page.on('requestfailed', (request) => {
    const errorText = request.failure()?.errorText ?? 'failed';
    if (errorText === 'net::ERR_ABORTED' && request.resourceType() === 'fetch') cancelled.push({ url: request.url(), errorText });
    else failures.push({ url: request.url(), status: errorText });
  });
  page.on('pageerror', (error) => failures.push({ url: page.url(), status: `page error: ${error.message}` }));
  return {
    page,
    failures,
    dicomweb,
    framesAnswered,
    /** once the page is idle: which cancelled fetches had their whole body; the others join the failures */
    async settle() {
      const bodies = await page.evaluate(() => (window as unknown as { __bodies: Record<string, Array<number | string>> }).__bodies);
      const complete: string[] = [];
      for (const { url, errorText } of cancelled) {
        const outcomes = bodies[url] ?? [];
        if (outcomes.length > 0 && outcomes.every((outcome) => typeof outcome === 'number' && outcome > 0)) complete.push(url);
        else failures.push({ url, status: `${errorText}, body: ${outcomes.join(', ') || 'never read'}` });
      }
      return complete;
    },
  };
}

/** Resolves once a viewport canvas holds an image: more than 8 distinct grey/colour values in it. */
async function waitForImage(page: Page): Promise<number> {
  const handle = await page.waitForFunction(
    () => {
      for (const canvas of document.querySelectorAll<HTMLCanvasElement>('.cornerstone-canvas, [data-viewport-uid] canvas')) {
        if (canvas.width < 32 || canvas.height < 32) continue;
        const context2d = canvas.getContext('2d', { willReadFrequently: true });
        if (!context2d) continue;
        const { data } = context2d.getImageData(0, 0, canvas.width, canvas.height);
        const seen = new Set<number>();
        for (let i = 0; i < data.length; i += 4 * 7) {
          seen.add((data[i]! << 16) | (data[i + 1]! << 8) | data[i + 2]!);
          if (seen.size > 8) return seen.size;
        }
      }
      return false;
    },
    undefined,
    { polling: 250, timeout: TIMEOUT },
  );
  return (await handle.jsonValue()) as number;
}

function report(label: string, failures: Failure[], dicomweb: string[], cancelledComplete: string[] = []): string {
  const uniqueRequests = [...new Set(dicomweb.map((line) => line.replace(/\/frames\/\d+/, '/frames/{n}')))];
  return [
    `${label}: ${failures.length} failed request(s):`,
    ...failures.map((f) => `  ${f.status} ${f.url}`),
    `fetches Chromium reported cancelled after their whole body had arrived (streamed frames): ${cancelledComplete.length}`,
    `DICOMweb requests (${dicomweb.length}):`,
    ...uniqueRequests.map((line) => `  ${line}`),
  ].join('\n');
}

describe('OHIF 3.12 at /ohif/ on our DICOMweb', { timeout: 5 * TIMEOUT }, () => {
  test('the study list shows the stored studies, with zero failed requests', async () => {
    const { page, failures, dicomweb, settle } = await openPage();
    try {
      await page.goto(`${server.baseUrl}/ohif/`);
      // OHIF's study list shows each study's MRN (Patient ID) and modalities
      await page.waitForFunction((ids) => ids.every((id) => document.body.innerText.includes(id)), Object.values(PATIENT_IDS));
      const text = await page.evaluate(() => document.body.innerText);
      for (const modality of ['CT', 'MR', 'US']) assert.match(text, new RegExp(`\\b${modality}\\b`), `${modality} in the list`);
      // idle network: the list's own requests are done
      await page.waitForLoadState('networkidle');
      const cancelledComplete = await settle();
      assert.deepEqual(failures, [], report('study list', failures, dicomweb, cancelledComplete));
      assert.ok(dicomweb.some((line) => line.startsWith('GET /dicom-web/studies ') && line.includes('Bearer')), report('study list', failures, dicomweb));
    } finally {
      await page.close();
    }
  });

  for (const key of ['ct', 'mr', 'us'] as const) {
    test(`the ${key.toUpperCase()} opens in the viewer with an image on the canvas, zero failed requests`, async () => {
      const { page, failures, dicomweb, framesAnswered, settle } = await openPage();
      try {
        await page.goto(`${server.baseUrl}/ohif/viewer?StudyInstanceUIDs=${studyUid[key]}`);
        const distinct = await waitForImage(page);
        for (const deadline = Date.now() + TIMEOUT; framesAnswered.size < FRAMES[key] && Date.now() < deadline; ) await page.waitForTimeout(250);
        assert.equal(framesAnswered.size, FRAMES[key], `every frame fetched: ${report(key, failures, dicomweb)}`);
        await page.waitForLoadState('networkidle');
        const cancelledComplete = await settle();
        console.log(report(key, failures, dicomweb, cancelledComplete));
        assert.ok(distinct > 8);
        assert.deepEqual(failures, [], report(key, failures, dicomweb, cancelledComplete));
      } finally {
        await page.close();
      }
    });
  }

  test('a page on an allowed other origin queries and retrieves with the token (CORS); one on another origin is refused by the browser', async () => {
    const page = await context.newPage();
    try {
      const call = async (pageUrl: string) => {
        await page.goto(pageUrl);
        return page.evaluate(
          async ({ base, bearer, study }) => {
            try {
              const query = await fetch(`${base}/dicom-web/studies?StudyInstanceUID=${study}`, { headers: { Authorization: `Bearer ${bearer}`, Accept: 'application/dicom+json' } });
              const metadata = await fetch(`${base}/dicom-web/studies/${study}/metadata`, { headers: { Authorization: `Bearer ${bearer}`, Accept: 'application/dicom+json' } });
              return { status: query.status, studies: ((await query.json()) as unknown[]).length, contentType: query.headers.get('content-type'), metadata: metadata.status, instances: ((await metadata.json()) as unknown[]).length };
            } catch (error) {
              return { refused: String(error) };
            }
          },
          { base: server.baseUrl, bearer: token, study: studyUid.us },
        );
      };
      assert.deepEqual(await call(`${viewerOrigin}/`), { status: 200, studies: 1, contentType: 'application/dicom+json; charset=utf-8', metadata: 200, instances: 1 });
      // the same page on another origin (localhost is not 127.0.0.1 to a browser)
      const refused = await call(`${viewerOrigin.replace('127.0.0.1', 'localhost')}/`);
      assert.match(String((refused as { refused?: string }).refused), /TypeError: Failed to fetch/);
    } finally {
      await page.close();
    }
  });
});

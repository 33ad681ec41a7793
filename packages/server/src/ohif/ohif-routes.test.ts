/**
 * /ohif/ on a small stand-in for OHIF's dist (the real one is fetched by the browser test,
 * packages/web/e2e/ohif.test.ts): off by default; on, a missing dist stops the start with
 * the fetch command; the index and the webpack public path are rebased under /ohif/, the
 * generated app-config.js points OHIF at our DICOMweb with the web app's token, client-side
 * routes get the page, and nothing outside the dist is served.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { buildServer } from '../app.ts';
import { loadConfig } from '../config.ts';
import { startListeningServer, type ListeningServer } from '../test-support/listening-server.ts';
import { TEST_ADMIN_PASSWORD, TEST_PASSWORD_HASH_COST_LOG2 } from '../test-support/admin-auth.ts';

const INDEX = `<!doctype html><html><head><script>window.PUBLIC_URL = '/';</script><link rel="manifest" href="/manifest.json"/><script src="/app-config.js"></script><script defer="defer" src="/app.bundle.0123456789abcdef0123.js"></script><link href="/app.bundle.css" rel="stylesheet"><a href="//cdn.example.org/x">x</a></head><body><div id="root"></div></body></html>`;
const BUNDLE = '/******/ (() => {\n/******/ \t\t__webpack_require__.p = "/";\n/******/ })();\nconsole.log("app");\n';

let dist: string;
before(async () => {
  dist = await mkdtemp(path.join(tmpdir(), 'yunying-ohif-dist-'));
  await writeFile(path.join(dist, 'index.html'), INDEX);
  await writeFile(path.join(dist, 'app-config.js'), 'window.config = { dataSources: [{ configuration: { qidoRoot: "https://demo.example.org" } }] };');
  await writeFile(path.join(dist, 'app.bundle.0123456789abcdef0123.js'), BUNDLE);
  await writeFile(path.join(dist, 'app.bundle.css'), '@font-face{src:url(/31fb9346313fc3740d7b.woff2) format("woff2")}body{background:url("//cdn.example.org/x.png")}');
  await writeFile(path.join(dist, 'manifest.json'), '{"icons": [{"src": "/assets/icon.png"}], "start_url": "/"}');
  await mkdir(path.join(dist, 'assets'));
  await writeFile(path.join(dist, 'assets', 'plain.js'), 'console.log("no public path here");');
});
after(async () => rm(dist, { recursive: true, force: true }));

describe('OHIF at /ohif/', () => {
  let server: ListeningServer;
  before(async () => (server = await startListeningServer({ YUNYING_OHIF: 'true', YUNYING_OHIF_DIST: dist })));
  after(async () => server?.close());

  test('the index is rebased under /ohif/ and sent with a CSP that keeps connections on this origin', async () => {
    const answer = await fetch(`${server.baseUrl}/ohif/`);
    assert.equal(answer.status, 200);
    const html = await answer.text();
    assert.match(html, /window\.PUBLIC_URL = "\/ohif\/"/);
    assert.match(html, /src="\/ohif\/app-config\.js"/);
    assert.match(html, /src="\/ohif\/app\.bundle\.0123456789abcdef0123\.js"/);
    assert.match(html, /href="\/ohif\/app\.bundle\.css"/);
    assert.match(html, /href="\/\/cdn\.example\.org\/x"/, 'a protocol-relative URL is left alone');
    assert.match(answer.headers.get('content-security-policy') ?? '', /connect-src 'self'/);
    assert.equal(answer.headers.get('cache-control'), 'no-cache');
    const redirect = await fetch(`${server.baseUrl}/ohif`, { redirect: 'manual' });
    assert.equal(redirect.status, 302);
    assert.equal(redirect.headers.get('location'), '/ohif/');
  });

  test('the bundles load their chunks from /ohif/; other files go out as stored', async () => {
    const bundle = await fetch(`${server.baseUrl}/ohif/app.bundle.0123456789abcdef0123.js`);
    assert.equal(bundle.status, 200);
    assert.match(bundle.headers.get('content-type') ?? '', /javascript/);
    assert.match(bundle.headers.get('cache-control') ?? '', /immutable/);
    assert.equal(await bundle.text(), BUNDLE.replace('__webpack_require__.p = "/";', '__webpack_require__.p = "/ohif/";'));
    const plain = await fetch(`${server.baseUrl}/ohif/assets/plain.js`);
    assert.equal(await plain.text(), 'console.log("no public path here");');
    assert.equal(plain.headers.get('cache-control'), 'no-cache');
    const manifest = await fetch(`${server.baseUrl}/ohif/manifest.json`);
    assert.deepEqual(await manifest.json(), { icons: [{ src: '/ohif/assets/icon.png' }], start_url: '/ohif/' });
    const css = await fetch(`${server.baseUrl}/ohif/app.bundle.css`);
    assert.match(css.headers.get('content-type') ?? '', /text\/css/);
    assert.equal(await css.text(), '@font-face{src:url(/ohif/31fb9346313fc3740d7b.woff2) format("woff2")}body{background:url("//cdn.example.org/x.png")}');
  });

  test('app-config.js is ours: our DICOMweb, the web app token, /ohif as the router base', async () => {
    const answer = await fetch(`${server.baseUrl}/ohif/app-config.js`);
    assert.equal(answer.status, 200);
    const script = await answer.text();
    assert.doesNotMatch(script, /demo\.example\.org/);
    assert.match(script, /qidoRoot: origin \+ '\/dicom-web'/);
    assert.match(script, /wadoUriRoot: origin \+ '\/wado'/);
    assert.match(script, /sessionStorage\.getItem\(TOKEN_KEY\)/);
    assert.match(script, /var TOKEN_KEY = "yunying\.token"/);
    assert.match(script, /routerBasename: "\/ohif"/);
    assert.match(script, /getAuthorizationHeader/);
    // it is JavaScript that parses (runs in the page before OHIF's bundle)
    assert.doesNotThrow(() => new Function(script));
  });

  test("OHIF's client-side routes get the page; a missing file is 404; nothing outside the dist", async () => {
    const viewer = await fetch(`${server.baseUrl}/ohif/viewer?StudyInstanceUIDs=1.2.3`);
    assert.equal(viewer.status, 200);
    assert.match(await viewer.text(), /window\.PUBLIC_URL = "\/ohif\/"/);
    const missing = await fetch(`${server.baseUrl}/ohif/nothing-here.js`);
    assert.equal(missing.status, 404);
    for (const probe of ['/ohif/..%2f..%2fetc%2fpasswd', '/ohif/assets/..%2F..%2F..%2Fpackage.json']) {
      const answer = await fetch(`${server.baseUrl}${probe}`);
      assert.equal(answer.status, 400, probe);
    }
  });
});

test('off by default: /ohif/ is not OHIF', async () => {
  const server = await startListeningServer({ YUNYING_OHIF_DIST: dist });
  try {
    const script = await fetch(`${server.baseUrl}/ohif/app-config.js`);
    assert.doesNotMatch(await script.text(), /yunying-session/);
  } finally {
    await server.close();
  }
});

test('YUNYING_OHIF=true without a dist stops the start, naming the fetch command', async () => {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'yunying-ohif-missing-'));
  try {
    const config = loadConfig({ YUNYING_DATA_DIR: dataDir, YUNYING_LOG_LEVEL: 'silent', YUNYING_ADMIN_PASSWORD: TEST_ADMIN_PASSWORD, YUNYING_PASSWORD_HASH_COST_LOG2: TEST_PASSWORD_HASH_COST_LOG2, YUNYING_OHIF: 'true', YUNYING_OHIF_DIST: path.join(dataDir, 'no-such-dist') });
    await assert.rejects(buildServer(config), /YUNYING_OHIF_DIST=.*no-such-dist holds no OHIF build.*node scripts\/fetch-ohif\.ts/);
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
});

/**
 * The cloud-film page's script and style come from the web app's build (packages/web/src/cloud-film,
 * dist/cloud-film/): inlined, allowed by their hashes and nothing else; without a build the
 * page has neither, and its policy allows no script or style at all.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DEFAULT_WEB_DIST } from '../web-app/static-routes.ts';
import { filmAssets } from './patient-page.ts';

const sha256 = (text: string) => `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`;

test('the built script and style are inlined and allowed by their SHA-256 only', async () => {
  const dist = await mkdtemp(path.join(tmpdir(), 'yunying-film-assets-'));
  try {
    await mkdir(path.join(dist, 'cloud-film'));
    await writeFile(path.join(dist, 'cloud-film', 'cloud-film.js'), 'document.title="x";');
    await writeFile(path.join(dist, 'cloud-film', 'cloud-film.css'), 'body{margin:0}');
    const assets = filmAssets(dist);
    assert.equal(assets.built, true);
    assert.equal(assets.script, 'document.title="x";');
    assert.match(assets.csp, /default-src 'none'/);
    assert.ok(assets.csp.includes(`script-src ${sha256('document.title="x";')};`));
    assert.ok(assets.csp.includes(`style-src ${sha256('body{margin:0}')};`));
    assert.doesNotMatch(assets.csp, /unsafe-inline|unsafe-eval|https?:|\*/);
  } finally {
    await rm(dist, { recursive: true, force: true });
  }
});

test('without a build of the web app the page allows no script and no style', () => {
  const assets = filmAssets(path.join(tmpdir(), 'yunying-no-web-build'));
  assert.equal(assets.built, false);
  assert.equal(assets.script, '');
  assert.match(assets.csp, /script-src 'none'; style-src 'none'/);
});

test('a build that could end its <script> element is refused', async () => {
  const dist = await mkdtemp(path.join(tmpdir(), 'yunying-film-assets-'));
  try {
    await mkdir(path.join(dist, 'cloud-film'));
    await writeFile(path.join(dist, 'cloud-film', 'cloud-film.js'), 'let s="</script><script>alert(1)";');
    await writeFile(path.join(dist, 'cloud-film', 'cloud-film.css'), '');
    assert.throws(() => filmAssets(dist), /cannot be inlined/);
  } finally {
    await rm(dist, { recursive: true, force: true });
  }
});

test('the web app build has the cloud film as one self-contained module (no imports: the page loads nothing else)', { skip: !existsSync(path.join(DEFAULT_WEB_DIST, 'cloud-film', 'cloud-film.js')) && 'web app not built (npm run build:web)' }, () => {
  const script = readFileSync(path.join(DEFAULT_WEB_DIST, 'cloud-film', 'cloud-film.js'), 'utf8');
  assert.doesNotMatch(script, /(^|[;}\s])import\s*[\s{("'*]|import\(/);
  assert.ok(filmAssets().built);
  assert.ok(script.includes('film-data'), 'the viewer script reads the page data');
});

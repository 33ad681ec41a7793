import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ERRORS_DOC_PATH, renderErrorsDoc } from './errors-doc.ts';
import { ERROR_CATALOG } from './catalog.ts';

test('docs/errors.md is what the catalogs say (run npm run docs:errors after changing one)', () => {
  assert.equal(readFileSync(ERRORS_DOC_PATH, 'utf8'), renderErrorsDoc());
});

test('every code has an HTTP error status and a message in both languages', () => {
  for (const [code, definition] of Object.entries(ERROR_CATALOG)) {
    assert.match(code, /^[A-Z][A-Z0-9_]*$/, code);
    assert.ok(definition.http >= 400 && definition.http < 600, code);
    assert.ok(definition.zh.length > 0 && definition.en.length > 0, code);
  }
});

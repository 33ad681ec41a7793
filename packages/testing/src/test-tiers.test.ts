/**
 * The test tiers (scripts/test-tiers.ts) on a made-up repository: a file is an integration
 * test by what it imports through test support, never by what production code imports.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { classifyTestFiles } from '../../../scripts/test-tiers.ts';

const root = mkdtempSync(path.join(tmpdir(), 'yunying-tiers-'));
after(() => rmSync(root, { recursive: true, force: true }));

function write(file: string, text: string): void {
  mkdirSync(path.dirname(path.join(root, file)), { recursive: true });
  writeFileSync(path.join(root, file), text);
}

write('packages/app/package.json', JSON.stringify({ name: '@yunying/app', exports: { '.': './src/index.ts' } }));
write('packages/testing/package.json', JSON.stringify({ name: '@yunying/testing', exports: { './*': './src/*.ts' } }));
write('packages/app/src/store.ts', "import pg from 'pg';\nexport const dialect = pg;\n");
write('packages/app/src/store.test.ts', "import { test } from 'node:test';\nimport { dialect } from './store.ts';\ntest('x', () => void dialect);\n");
write('packages/app/src/test-support/database.ts', "import pg from 'pg';\nexport const client = new pg.Client();\n");
write('packages/app/src/db.test.ts', "import { client } from './test-support/database.ts';\nvoid client;\n");
write('packages/testing/src/tools.ts', "import { spawn } from 'node:child_process';\nexport { spawn };\n");
write('packages/app/src/tool.test.ts', "import { spawn } from '@yunying/testing/tools';\nvoid spawn;\n");
write('packages/app/src/browser.test.ts', "import {\n  chromium,\n} from 'playwright-core';\nvoid chromium;\n");
// a dynamic import, spelt in two pieces so that this file does not import S3 itself
write('packages/app/src/lazy.test.ts', "const { S3Client } = await imp" + "ort('@aws-sdk/client-s3');\nvoid S3Client;\n");
write('packages/app/src/test-support/a.ts', "export * from './b-test-support.ts';\n");
write('packages/app/src/test-support/b-test-support.ts', "export * from './a.ts';\n");
write('packages/app/src/cycle.test.ts', "import './test-support/a.ts';\n");
write('packages/app/node_modules/dep/ignored.test.ts', "import 'pg';\n");
write('packages/app/dist/ignored.test.ts', "import 'pg';\n");

test('each test file gets its tier and, for integration, the reason, through test support only', () => {
  assert.deepEqual(classifyTestFiles(root), [
    { file: 'packages/app/src/browser.test.ts', reason: 'Chromium' },
    { file: 'packages/app/src/cycle.test.ts', reason: null },
    { file: 'packages/app/src/db.test.ts', reason: 'PostgreSQL server (packages/app/src/test-support/database.ts)' },
    { file: 'packages/app/src/lazy.test.ts', reason: 'S3 server' },
    { file: 'packages/app/src/store.test.ts', reason: null },
    { file: 'packages/app/src/tool.test.ts', reason: 'runs a child process (packages/testing/src/tools.ts)' },
  ]);
});

import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';

export default tseslint.config(
  { ignores: ['**/node_modules/**', 'data/**', '**/dist/**', 'docs/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly', Buffer: 'readonly', URL: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', setInterval: 'readonly', clearInterval: 'readonly', setImmediate: 'readonly', TextDecoder: 'readonly', TextEncoder: 'readonly', fetch: 'readonly', AbortController: 'readonly', performance: 'readonly', Response: 'readonly', Headers: 'readonly', Blob: 'readonly' } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
    },
  },
  {
    // The Kysely handle stays in store/ (issue 13, item 2): domain code reads through the
    // stores (archive.stores) and writes a change through archive.unitOfWork, which commits it
    // with its audit record and feed row. Tests may reach into the database.
    files: ['packages/server/src/**/*.ts'],
    ignores: ['packages/server/src/store/**', 'packages/server/src/test-support/**', '**/*.test.ts'],
    rules: { 'no-restricted-syntax': ['error', { selector: "MemberExpression[property.name='db']", message: 'no Kysely handle outside store/: use the stores (archive.stores) and archive.unitOfWork' }] },
  },
  {
    // CommonJS scripts run by Node before anything else (the install's native rebuild)
    files: ['scripts/**/*.cjs'],
    languageOptions: { sourceType: 'commonjs', globals: { ...globals.node } },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    // the web app (packages/web): browser code, React components in .tsx
    files: ['**/*.tsx', 'packages/web/src/**/*.ts'],
    languageOptions: { globals: { ...globals.browser } },
  },
);

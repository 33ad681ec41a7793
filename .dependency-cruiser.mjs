/**
 * The package boundaries and the no-cycle rule (issue 13, item 6), run by `npm run lint`:
 *
 *   dicom   ← imports nothing of ours
 *   dimse   ← dicom
 *   testing ← dicom (test support; starts the server by its bin path, never imports it)
 *   gateway ← dicom, dimse (its tests also testing)
 *   server  ← dicom, dimse (its tests also testing)
 *   web     ← dicom (browser code: no server, gateway or DIMSE code)
 *
 * Workspace packages are resolved through node_modules/@yunying/* symlinks, so a rule names
 * both the import specifier's package and the real path it lands on.
 */
const TESTS = '(\\.test\\.ts$|test-support|/e2e/)';

/** `@yunying/<name>` as the import is written, or packages/<name>/ as it resolves */
const pkg = (name) => `^(node_modules/@yunying/${name}/|packages/${name}/)`;

export default {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'An import cycle (a module that, through others, imports itself). Move the shared part into the lower layer.',
      from: { path: '^packages/[^/]+/src/', pathNot: TESTS },
      to: { circular: true, viaOnly: { pathNot: TESTS } },
    },
    {
      name: 'dicom-imports-nothing-of-ours',
      severity: 'error',
      comment: '@yunying/dicom is the bottom layer: it imports no other workspace package (its tests also @yunying/testing, for the sample finder).',
      from: { path: '^packages/dicom/', pathNot: TESTS },
      to: { path: '^(node_modules/@yunying/|packages/(dimse|testing|server|web|gateway)/)' },
    },
    {
      name: 'dicom-tests-import-only-testing',
      severity: 'error',
      comment: "@yunying/dicom's tests use @yunying/testing and nothing else of ours.",
      from: { path: `^packages/dicom/.*${TESTS}` },
      to: { path: '^(node_modules/@yunying/(dimse|server|web|gateway)/|packages/(dimse|server|web|gateway)/)' },
    },
    {
      name: 'dimse-imports-only-dicom',
      severity: 'error',
      comment: '@yunying/dimse knows PDUs and DIMSE, not archives: of ours it imports only @yunying/dicom.',
      from: { path: '^packages/dimse/', pathNot: TESTS },
      to: { path: '^(node_modules/@yunying/(testing|server|web|gateway)/|packages/(testing|server|web|gateway)/)' },
    },
    {
      name: 'testing-imports-only-dicom',
      severity: 'error',
      comment: '@yunying/testing is shared by every suite: it imports only @yunying/dicom (the server is started by its bin path).',
      from: { path: '^packages/testing/' },
      to: { path: '^(node_modules/@yunying/(dimse|server|web|gateway)/|packages/(dimse|server|web|gateway)/)' },
    },
    {
      name: 'gateway-imports-only-dicom-and-dimse',
      severity: 'error',
      comment: 'The edge gateway runs without the server: it imports @yunying/dicom and @yunying/dimse (its tests also @yunying/testing).',
      from: { path: '^packages/gateway/' },
      to: { path: '^(node_modules/@yunying/(server|web)/|packages/(server|web)/)' },
    },
    {
      name: 'gateway-code-not-on-testing',
      severity: 'error',
      comment: 'Only the gateway\'s tests use @yunying/testing.',
      from: { path: '^packages/gateway/', pathNot: TESTS },
      to: { path: pkg('testing') },
    },
    {
      name: 'server-code-not-on-testing',
      severity: 'error',
      comment: 'Only the server\'s tests use @yunying/testing.',
      from: { path: '^packages/server/src/', pathNot: TESTS },
      to: { path: pkg('testing') },
    },
    {
      name: 'server-not-on-gateway-or-web',
      severity: 'error',
      from: { path: '^packages/server/' },
      to: { path: '^(node_modules/@yunying/(gateway|web)/|packages/(gateway|web)/)' },
    },
    {
      name: 'error-catalog-is-plain-data',
      severity: 'error',
      comment: 'The web app bundles the error catalog (web-imports-no-server-or-gateway): it stays data, importing only the DIMSE status numbers (@yunying/dicom/dimse-status).',
      from: { path: '^packages/server/src/errors/catalog[.]ts$' },
      to: { pathNot: '^packages/dicom/src/dimse-status[.]ts$' },
    },
    {
      name: 'web-imports-no-server-or-gateway',
      severity: 'error',
      comment: 'The web app is browser code: no server, gateway or DIMSE code (its e2e tests start a server through @yunying/server/test-support). One exception: the error catalog, plain data with no imports but the DIMSE status numbers of @yunying/dicom, whose 简体中文 texts the web shows for an answer\'s code (web/src/i18n/errors.ts).',
      from: { path: '^packages/web/', pathNot: TESTS },
      to: {
        path: '^(node_modules/@yunying/(server|gateway|dimse|testing)/|packages/(server|gateway|dimse|testing)/)',
        pathNot: '^packages/server/src/errors/catalog[.]ts$',
      },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '(^|/)(node_modules/(?!@yunying/)|dist/|data/)' },
    tsPreCompilationDeps: true,
    combinedDependencies: true,
    preserveSymlinks: false,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      extensions: ['.ts', '.tsx', '.js', '.mjs', '.cjs', '.json'],
    },
    reporterOptions: { text: { highlightFocused: true } },
  },
};

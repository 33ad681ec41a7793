#!/usr/bin/env node
// `npx yunying …`: the administration CLI, run from the TypeScript sources by Node.js 24
// itself (type stripping), so it works after `npm ci --omit=dev`.
if (Number(process.versions.node.split('.')[0]) < 24) {
  console.error(`yunying: Node.js ${process.versions.node} cannot run this; it needs Node.js 24, which \`npm ci\` installs: run it through npm (npx yunying …) or with node_modules/.bin/node`);
  process.exit(1);
}

await import('../src/cli/yunying.ts');

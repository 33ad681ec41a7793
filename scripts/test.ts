/**
 * The test tiers (npm test, npm run test:unit, npm run test:integration), run by Node.js's own
 * test runner on the TypeScript sources (type stripping, no tsx).
 *
 *   node scripts/test.ts unit|integration|all [--list] [node --test options…]
 *
 * A test file is an integration test when it needs something outside this process's own
 * code: a database server, an S3 server, a child process (dcmtk's tools, Chromium, Orthanc,
 * pdftotext, the server or the CLI run as a process, the bench generator). It says so by what
 * it imports, so the tiers are read from the imports every run: no list to keep up to date and
 * no file naming rule. The imports are followed through test support (test files, files under
 * a test-support folder or named *test-support*, packages/testing), not through production
 * code, whose own imports (pg for PostgreSQL, say) do not mean a test needs that server.
 *
 * Every test has a time limit (--test-timeout): a hung test fails with its name instead of
 * hanging the suite.
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import path from 'node:path';

const ROOT = path.resolve(import.meta.dirname, '..');

/** Imports that mean an outside server or a child process. */
const INTEGRATION_IMPORTS: Readonly<Record<string, string>> = {
  'node:child_process': 'runs a child process',
  child_process: 'runs a child process',
  pg: 'PostgreSQL server',
  'playwright-core': 'Chromium',
  '@aws-sdk/client-s3': 'S3 server',
};

/** Test-support modules that stand for one of those (named too, so the reason reads well). */
const INTEGRATION_SUPPORT: Readonly<Record<string, string>> = {
  'postgres.ts': 'PostgreSQL server',
  's3.ts': 'S3 server',
  'server-process.ts': 'the server as a process',
  'gateway-process.ts': 'the gateway as a process',
  'cli.ts': 'the yunying CLI as a process',
  'dcmtk.ts': "dcmtk's tools",
  'dimse-test-support.ts': "dcmtk's tools",
};

/**
 * Per-test time limits, ms: a guard against a test that hangs, not a speed target, so with
 * room for a loaded machine (the slowest unit test, every-sample, takes 10–30 s on a busy one).
 */
const TIMEOUTS = { unit: 120_000, integration: 600_000 } as const;

/**
 * Test files run at once. Unit files are small and mostly wait on their own loopback I/O, so
 * they run one per core (at least two); integration files start servers, browsers and tools
 * and keep node --test's default (one fewer than the cores), as the suite always has.
 */
const UNIT_CONCURRENCY = Math.max(2, availableParallelism());

type Tier = 'unit' | 'integration' | 'all';

function findTestFiles(dir: string, found: string[] = []): string[] {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === 'node_modules' || entry.name === 'dist') continue;
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) findTestFiles(full, found);
    else if (entry.name.endsWith('.test.ts')) found.push(full);
  }
  return found.sort();
}

/** package name -> its folder and exports map, for @yunying/* specifiers */
function workspacePackages(): Map<string, { dir: string; exports: Record<string, string> }> {
  const packages = new Map<string, { dir: string; exports: Record<string, string> }>();
  for (const name of readdirSync(path.join(ROOT, 'packages'))) {
    const dir = path.join(ROOT, 'packages', name);
    const manifestPath = path.join(dir, 'package.json');
    if (!existsSync(manifestPath)) continue;
    const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as { name: string; main?: string; exports?: Record<string, string> | string };
    const exports = typeof manifest.exports === 'string' ? { '.': manifest.exports } : (manifest.exports ?? (manifest.main ? { '.': manifest.main } : {}));
    packages.set(manifest.name, { dir, exports });
  }
  return packages;
}

const PACKAGES = workspacePackages();

function resolveWorkspace(specifier: string): string | undefined {
  const [scope, name, ...rest] = specifier.split('/');
  const pkg = PACKAGES.get(`${scope}/${name}`);
  if (!pkg) return undefined;
  const subpath = rest.length ? `./${rest.join('/')}` : '.';
  for (const [pattern, target] of Object.entries(pkg.exports)) {
    if (pattern === subpath) return path.join(pkg.dir, target);
    const star = pattern.indexOf('*');
    if (star >= 0 && subpath.startsWith(pattern.slice(0, star)) && subpath.endsWith(pattern.slice(star + 1))) {
      const matched = subpath.slice(star, subpath.length - (pattern.length - star - 1));
      return path.join(pkg.dir, target.replace('*', matched));
    }
  }
  return undefined;
}

const IMPORT = /(?:^|[^.\w])(?:import|export)\s*(?:[^'"`;]*?\sfrom\s*)?['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g;

function importsOf(file: string): string[] {
  const source = readFileSync(file, 'utf8');
  return [...source.matchAll(IMPORT)].map((match) => match[1] ?? match[2] ?? '').filter(Boolean);
}

/** test files, files in a test-support folder or named *test-support*, and packages/testing */
function isTestSupport(file: string): boolean {
  const relative = path.relative(ROOT, file).split(path.sep).join('/');
  return relative.endsWith('.test.ts') || relative.includes('test-support') || relative.startsWith('packages/testing/');
}

const reasons = new Map<string, string | null>();

/** Why `file` is an integration test (null: it is not), following test support only. */
function integrationReason(file: string, seen = new Set<string>()): string | null {
  const known = reasons.get(file);
  if (known !== undefined) return known;
  if (seen.has(file)) return null;
  seen.add(file);
  let reason: string | null = INTEGRATION_SUPPORT[path.basename(file)] ?? null;
  for (const specifier of reason ? [] : importsOf(file)) {
    const direct = INTEGRATION_IMPORTS[specifier];
    if (direct) {
      reason = direct;
      break;
    }
    const target = specifier.startsWith('.') ? path.resolve(path.dirname(file), specifier) : specifier.startsWith('@yunying/') ? resolveWorkspace(specifier) : undefined;
    if (!target || !existsSync(target) || !isTestSupport(target)) continue;
    const inner = integrationReason(target, seen);
    if (inner) {
      reason = `${inner} (${path.relative(ROOT, target)})`;
      break;
    }
  }
  reasons.set(file, reason);
  return reason;
}

function selectFiles(tier: Tier): string[] {
  const files = findTestFiles(path.join(ROOT, 'packages'));
  if (tier === 'all') return files;
  return files.filter((file) => (integrationReason(file) === null) === (tier === 'unit'));
}

function main(argv: string[]): void {
  const [tierArg, ...rest] = argv;
  if (tierArg !== 'unit' && tierArg !== 'integration' && tierArg !== 'all') {
    console.error('usage: node scripts/test.ts unit|integration|all [--list] [node --test options…]');
    process.exit(2);
  }
  const tier: Tier = tierArg;
  const files = selectFiles(tier);
  if (rest.includes('--list')) {
    for (const file of files) {
      const reason = integrationReason(file);
      console.log(`${path.relative(ROOT, file)}${reason ? `\t${reason}` : ''}`);
    }
    return;
  }
  const timeout = tier === 'unit' ? TIMEOUTS.unit : TIMEOUTS.integration;
  const concurrency = tier === 'unit' ? [`--test-concurrency=${UNIT_CONCURRENCY}`] : [];
  const args = ['--test', `--test-timeout=${timeout}`, ...concurrency, ...rest, ...files.map((file) => path.relative(ROOT, file))];
  // Every test file is a process that strips and compiles the same sources again: Node's
  // compile cache keeps the result between them (a quarter of a small file's CPU time).
  const env = { ...process.env, NODE_COMPILE_CACHE: process.env.NODE_COMPILE_CACHE ?? path.join(ROOT, 'node_modules', '.cache', 'node-compile-cache') };
  const child = spawn(process.execPath, args, { cwd: ROOT, stdio: 'inherit', env });
  child.once('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
}

main(process.argv.slice(2));

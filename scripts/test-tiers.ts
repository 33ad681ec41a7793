/**
 * Which tier a test file is in, read from what it imports (scripts/test.ts runs the tiers).
 *
 * A test file is an integration test when it needs something outside its own process: a
 * database server, an S3 server, a child process (dcmtk's tools, Chromium, Orthanc,
 * pdftotext, the server or the CLI run as a process, the bench generator). It says so by what
 * it imports, so the tiers are read from the imports every run: no list to keep up to date and
 * no file naming rule. The imports are followed through test support (test files, files under
 * a test-support folder or named *test-support*, packages/testing), not through production
 * code, whose own imports (pg for PostgreSQL, say) do not mean a test needs that server.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

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

export interface TestFile {
  /** relative to the repository, with / */
  file: string;
  /** why it is an integration test; null: a unit test */
  reason: string | null;
}

/** static imports and re-exports at the start of a line (not inside a string), and dynamic import() */
const IMPORT = /^\s*(?:import|export)\s*(?:[^'"`;]*?\sfrom\s*)?['"]([^'"]+)['"]|\bimport\(\s*['"]([^'"]+)['"]\s*\)/gm;

/** Every *.test.ts under packages/ (not node_modules, not dist), sorted, with its tier. */
export function classifyTestFiles(root: string): TestFile[] {
  const packages = workspacePackages(root);
  const relative = (file: string) => path.relative(root, file).split(path.sep).join('/');
  const isTestSupport = (file: string) => {
    const name = relative(file);
    return name.endsWith('.test.ts') || name.includes('test-support') || name.startsWith('packages/testing/');
  };
  const reasonOf = (file: string, seen: Set<string>): string | null => {
    if (seen.has(file)) return null;
    seen.add(file);
    const named = INTEGRATION_SUPPORT[path.basename(file)];
    if (named) return named;
    for (const specifier of importsOf(file)) {
      const direct = INTEGRATION_IMPORTS[specifier];
      if (direct) return direct;
      const target = specifier.startsWith('.') ? path.resolve(path.dirname(file), specifier) : specifier.startsWith('@yunying/') ? resolveWorkspace(packages, specifier) : undefined;
      if (!target || !existsSync(target) || !isTestSupport(target)) continue;
      const inner = reasonOf(target, seen);
      if (inner) return `${inner} (${relative(target)})`;
    }
    return null;
  };
  return findTestFiles(path.join(root, 'packages')).map((file) => ({ file: relative(file), reason: reasonOf(file, new Set()) }));
}

function findTestFiles(dir: string, found: string[] = []): string[] {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === 'node_modules' || entry.name === 'dist') continue;
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) findTestFiles(full, found);
    else if (entry.name.endsWith('.test.ts')) found.push(full);
  }
  return found.sort();
}

function importsOf(file: string): string[] {
  return [...readFileSync(file, 'utf8').matchAll(IMPORT)].map((match) => match[1] ?? match[2] ?? '').filter(Boolean);
}

type Packages = Map<string, { dir: string; exports: Record<string, string> }>;

/** package name -> its folder and exports map, for @yunying/* specifiers */
function workspacePackages(root: string): Packages {
  const packages: Packages = new Map();
  for (const name of readdirSync(path.join(root, 'packages'))) {
    const dir = path.join(root, 'packages', name);
    const manifestPath = path.join(dir, 'package.json');
    if (!existsSync(manifestPath)) continue;
    const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as { name: string; main?: string; exports?: Record<string, string> | string };
    const exports = typeof manifest.exports === 'string' ? { '.': manifest.exports } : (manifest.exports ?? (manifest.main ? { '.': manifest.main } : {}));
    packages.set(manifest.name, { dir, exports });
  }
  return packages;
}

function resolveWorkspace(packages: Packages, specifier: string): string | undefined {
  const [scope, name, ...rest] = specifier.split('/');
  const pkg = packages.get(`${scope}/${name}`);
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

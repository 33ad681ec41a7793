/**
 * The test tiers (npm test, npm run test:unit, npm run test:integration), run by Node.js's own
 * test runner on the TypeScript sources (type stripping, no tsx).
 *
 *   node scripts/test.ts unit|integration|all [--list] [node --test options…]
 *
 * A file's tier is read from its imports (scripts/test-tiers.ts); `--list` prints the files of
 * the tier, each integration test with the reason. Every test has a time limit
 * (--test-timeout): a hung test fails with its name instead of hanging the suite.
 */
import { spawn } from 'node:child_process';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { classifyTestFiles } from './test-tiers.ts';

const ROOT = path.resolve(import.meta.dirname, '..');

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

function main(argv: string[]): void {
  const [tierArg, ...rest] = argv;
  if (tierArg !== 'unit' && tierArg !== 'integration' && tierArg !== 'all') {
    console.error('usage: node scripts/test.ts unit|integration|all [--list] [node --test options…]');
    process.exit(2);
  }
  const tier: Tier = tierArg;
  const files = classifyTestFiles(ROOT).filter(({ reason }) => tier === 'all' || (reason === null) === (tier === 'unit'));
  if (rest.includes('--list')) {
    for (const { file, reason } of files) console.log(`${file}${reason ? `\t${reason}` : ''}`);
    return;
  }
  const timeout = tier === 'unit' ? TIMEOUTS.unit : TIMEOUTS.integration;
  const concurrency = tier === 'unit' ? [`--test-concurrency=${UNIT_CONCURRENCY}`] : [];
  const args = ['--test', `--test-timeout=${timeout}`, ...concurrency, ...rest, ...files.map(({ file }) => file)];
  // Every test file is a process that strips and compiles the same sources again: Node's
  // compile cache keeps the result between them (a quarter of a small file's CPU time).
  const env = { ...process.env, NODE_COMPILE_CACHE: process.env.NODE_COMPILE_CACHE ?? path.join(ROOT, 'node_modules', '.cache', 'node-compile-cache') };
  const child = spawn(process.execPath, args, { cwd: ROOT, stdio: 'inherit', env });
  child.once('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
}

main(process.argv.slice(2));

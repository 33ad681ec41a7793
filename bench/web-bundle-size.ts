/**
 * Sizes of a web build (issue 16): the largest chunks, raw, gzip and brotli (the build's own
 * .gz/.br copies where it wrote them, else compressed here at the same settings), and for an
 * HTML entry the JavaScript its page loads before it runs (its script and the static-import
 * closure of that script, i.e. what the browser fetches before any lazy chunk). Not a test.
 *
 *   npm run build:web
 *   node bench/web-bundle-size.ts [--web-dist packages/web/dist[,/tmp/other-dist…]] [--top 8]
 */
import { existsSync } from 'node:fs';
import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';

const { values: options } = parseArgs({
  options: {
    'web-dist': { type: 'string', default: path.resolve(import.meta.dirname, '../packages/web/dist') },
    top: { type: 'string', default: '8' },
    /** lazy chunks (by name) whose static-import closure to add up, e.g. the reading page's */
    chunks: { type: 'string', default: 'ReadingPage,StudyViewer' },
  },
});

interface Sizes { raw: number; gzip: number; brotli: number }

async function sizesOf(file: string): Promise<Sizes> {
  const data = await readFile(file);
  const gzip = existsSync(`${file}.gz`) ? (await readFile(`${file}.gz`)).length : gzipSync(data, { level: 9 }).length;
  const brotli = existsSync(`${file}.br`) ? (await readFile(`${file}.br`)).length : brotliCompressSync(data, { params: { [constants.BROTLI_PARAM_QUALITY]: 10 } }).length;
  return { raw: data.length, gzip, brotli };
}

/** Static imports of a built chunk (`import … from "./x.js"`, `import "./x.js"`), as files. */
async function staticImports(file: string): Promise<string[]> {
  const code = await readFile(file, 'utf8');
  const found = new Set<string>();
  for (const match of code.matchAll(/(?:^|[;\n}])\s*import\s*(?:[^'"();]*?from\s*)?["'](\.{1,2}\/[^"']+\.js)["']/g)) found.add(path.resolve(path.dirname(file), match[1]!));
  return [...found];
}

/** The entry script of an HTML page. */
async function pageScripts(dist: string, html: string): Promise<string[]> {
  const text = await readFile(path.join(dist, html), 'utf8');
  return [...text.matchAll(/<script[^>]+src="\/([^"]+\.js)"/g)].map((m) => path.join(dist, m[1]!));
}

/** Files and everything they import statically. */
async function closure(entries: string[]): Promise<string[]> {
  const seen = new Set<string>();
  const queue = [...entries];
  while (queue.length) {
    const file = queue.shift()!;
    if (seen.has(file)) continue;
    seen.add(file);
    queue.push(...(await staticImports(file)));
  }
  return [...seen];
}

const kB = (n: number) => `${(n / 1000).toFixed(0).padStart(6)} kB`;
const row = (label: string, s: Sizes) => `  ${label.padEnd(46)} ${kB(s.raw)} ${kB(s.gzip)} ${kB(s.brotli)}`;
const sum = (list: Sizes[]): Sizes => list.reduce((a, b) => ({ raw: a.raw + b.raw, gzip: a.gzip + b.gzip, brotli: a.brotli + b.brotli }), { raw: 0, gzip: 0, brotli: 0 });

for (const dist of options['web-dist']!.split(',').map((d) => path.resolve(d.trim()))) {
  const assets = path.join(dist, 'assets');
  const files = (await readdir(assets)).filter((name) => /\.(js|wasm)$/.test(name));
  const sized = await Promise.all(files.map(async (name) => ({ name, ...(await sizesOf(path.join(assets, name))) })));
  sized.sort((a, b) => b.raw - a.raw);
  console.log(`\n${dist}\n  ${'file'.padEnd(46)} ${'raw'.padStart(9)} ${'gzip'.padStart(9)} ${'brotli'.padStart(9)}`);
  for (const s of sized.slice(0, Number(options.top))) console.log(row(s.name, s));
  for (const html of ['viewer-test.html', 'index.html']) {
    if (!existsSync(path.join(dist, html))) continue;
    const files = await closure(await pageScripts(dist, html));
    console.log(row(`${html}: its script + static imports (${files.length})`, sum(await Promise.all(files.map(sizesOf)))));
  }
  for (const chunk of options.chunks!.split(',').filter(Boolean)) {
    const name = files.find((f) => f.startsWith(`${chunk}-`) && f.endsWith('.js'));
    if (!name) continue;
    const all = await closure([path.join(assets, name)]);
    console.log(row(`${chunk} chunk + static imports (${all.length})`, sum(await Promise.all(all.map(sizesOf)))));
  }
}

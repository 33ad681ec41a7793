/**
 * WADO-RS with decompression on the way out (issue 15, item 1) beside the as-stored path: a
 * synthetic 300-slice CT (../shared/bench/gen.js, 512×512 16-bit) is compressed with dcmtk's
 * dcmcjpeg (JPEG lossless, SV1: 1.2.840.10008.1.2.4.70) and stored by STOW-RS into a server
 * started in this process (embedded SQLite + files). The whole study is then retrieved,
 * `--rounds` times each, as
 *   - stored:       Accept: multipart/related; type="application/dicom"; transfer-syntax=*
 *   - decompressed: Accept: multipart/related; type="application/dicom" (PS3.18's default,
 *                   Explicit VR Little Endian: every slice decoded in the frame-decoder pool)
 * and, for reference, the same CT stored uncompressed (Explicit VR LE) with the default
 * Accept, which is sent as stored. Prints seconds, MB/s of the body and MB/s of decoded pixel
 * data (the median round), with the client reading the body in the same process.
 *
 *   node --import tsx bench/wado-transcode.ts [--slices 300] [--rounds 3]
 */
import { execFile, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { parseArgs } from 'node:util';
import { startListeningServer } from '../packages/server/src/test-support/listening-server.ts';
import { TEST_ADMIN_PASSWORD } from '../packages/server/src/test-support/admin-auth.ts';

const run = promisify(execFile);
const { values: options } = parseArgs({
  options: {
    slices: { type: 'string', default: '300' },
    rounds: { type: 'string', default: '3' },
    seed: { type: 'string', default: '7' },
  },
});
const slices = Number(options.slices);
const rounds = Number(options.rounds);
const GEN = path.resolve(import.meta.dirname, '../../shared/bench/gen.js');
const MB = 1_000_000;

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile() && e.name.endsWith('.dcm')).map((e) => path.join(e.parentPath, e.name)).sort();
}

function generate(out: string, tag: string): void {
  execFileSync(process.execPath, [GEN, '--studies', '1', '--profile', 'ct', '--ct-slices', String(slices), '--out', out, '--seed', options.seed!, '--tag', tag], {
    stdio: ['ignore', 'ignore', 'inherit'],
    env: { ...process.env, NODE_PATH: path.resolve(import.meta.dirname, '../node_modules') },
  });
}

/** dcmcjpeg (JPEG lossless SV1, its default) on every file, as many at once as there are cores. */
async function compress(files: string[], outDir: string): Promise<string[]> {
  await mkdir(outDir, { recursive: true });
  const out = files.map((_, i) => path.join(outDir, `${String(i).padStart(4, '0')}.dcm`));
  let next = 0;
  await Promise.all(Array.from({ length: Math.max(1, cpus().length) }, async () => {
    while (next < files.length) {
      const i = next++;
      await run('dcmcjpeg', [files[i]!, out[i]!]);
    }
  }));
  return out;
}

async function stow(baseUrl: string, auth: Record<string, string>, files: string[]): Promise<string> {
  let study = '';
  for (let i = 0; i < files.length; i += 25) {
    const boundary = `bench-${randomBytes(6).toString('hex')}`;
    const chunks: Buffer[] = [];
    for (const file of files.slice(i, i + 25)) chunks.push(Buffer.from(`\r\n--${boundary}\r\nContent-Type: application/dicom\r\n\r\n`), await readFile(file));
    chunks.push(Buffer.from(`\r\n--${boundary}--\r\n`));
    const response = await fetch(`${baseUrl}/dicom-web/studies`, { method: 'POST', headers: { ...auth, 'content-type': `multipart/related; type="application/dicom"; boundary=${boundary}`, accept: 'application/dicom+json' }, body: Buffer.concat(chunks) });
    if (response.status !== 200) throw new Error(`STOW-RS: HTTP ${response.status} ${await response.text()}`);
    const body = (await response.json()) as Record<string, { Value?: string[] }>;
    study = new URL(body['00081190']!.Value![0]!).pathname.split('/').pop()!;
  }
  return study;
}

/** One retrieval of the study: seconds and body bytes (read as it streams, not kept). */
async function retrieve(url: string, headers: Record<string, string>): Promise<{ seconds: number; bytes: number }> {
  const started = performance.now();
  const response = await fetch(url, { headers });
  if (response.status !== 200 || !response.body) throw new Error(`GET ${url}: HTTP ${response.status}`);
  let bytes = 0;
  for await (const chunk of response.body) bytes += (chunk as Uint8Array).byteLength;
  return { seconds: (performance.now() - started) / 1000, bytes };
}

const dataDir = await mkdtemp(path.join(tmpdir(), 'yunying-wado-transcode-bench-'));
try {
  const plainDir = path.join(dataDir, 'plain');
  generate(plainDir, randomBytes(3).toString('hex'));
  const sourceDir = path.join(dataDir, 'source');
  generate(sourceDir, randomBytes(3).toString('hex'));
  const compressStarted = performance.now();
  const jpegFiles = await compress(await filesUnder(sourceDir), path.join(dataDir, 'jpeg-lossless'));
  console.log(`dcmcjpeg: ${jpegFiles.length} slices in ${((performance.now() - compressStarted) / 1000).toFixed(1)} s`);

  const server = await startListeningServer();
  try {
    const login = await fetch(`${server.baseUrl}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'admin', password: TEST_ADMIN_PASSWORD }) });
    const { token } = (await login.json()) as { token: string };
    const auth = { authorization: `Bearer ${token}` };
    const jpegStudy = await stow(server.baseUrl, auth, jpegFiles);
    const plainStudy = await stow(server.baseUrl, auth, await filesUnder(plainDir));
    const pixelBytes = slices * 512 * 512 * 2;

    const cases = [
      { name: 'JPEG lossless, as stored (transfer-syntax=*)', study: jpegStudy, accept: 'multipart/related; type="application/dicom"; transfer-syntax=*' },
      { name: 'JPEG lossless, decompressed (default: Explicit VR LE)', study: jpegStudy, accept: 'multipart/related; type="application/dicom"' },
      { name: 'Explicit VR LE stored, default (sent as stored)', study: plainStudy, accept: 'multipart/related; type="application/dicom"' },
    ];
    console.log(`\n${slices}-slice CT, 512×512×16 bit (${(pixelBytes / MB).toFixed(1)} MB of pixel data); median of ${rounds} rounds\n`);
    console.log('| retrieval | s | body MB | body MB/s | pixel MB/s |');
    console.log('|---|---|---|---|---|');
    for (const c of cases) {
      const results: Array<{ seconds: number; bytes: number }> = [];
      for (let r = 0; r < rounds; r++) results.push(await retrieve(`${server.baseUrl}/dicom-web/studies/${c.study}`, { ...auth, accept: c.accept }));
      const median = results.sort((a, b) => a.seconds - b.seconds)[Math.floor(results.length / 2)]!;
      console.log(`| ${c.name} | ${median.seconds.toFixed(2)} | ${(median.bytes / MB).toFixed(1)} | ${(median.bytes / MB / median.seconds).toFixed(0)} | ${(pixelBytes / MB / median.seconds).toFixed(0)} |`);
    }
  } finally {
    await server.close();
  }
} finally {
  await rm(dataDir, { recursive: true, force: true });
}

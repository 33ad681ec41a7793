/**
 * WADO-RS frame latency on loopback, as a viewer opening a CT asks for it: a synthetic CT
 * (../shared/bench/gen.js, 512×512 16-bit slices) is stored by STOW-RS into a server
 * started in this process (embedded SQLite + files), then `…/instances/{sop}/frames/1` of
 * every slice is fetched by a Node client with --concurrency requests in flight. The first
 * pass is what a viewer's first open costs (nothing of the series cached in the server), the
 * second the same again (server caches warm). Also times `/series/{uid}/metadata`, cold and
 * warm. Prints total time, median and p95 (nearest rank) per pass, and the server process's
 * CPU time per frame (client and server share this process: the client's share is included).
 *
 *   node --import tsx bench/frames-latency.ts [--slices 300] [--concurrency 6] [--passes 2]
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { startListeningServer } from '../packages/server/src/test-support/listening-server.ts';
import { TEST_ADMIN_PASSWORD } from '../packages/server/src/test-support/admin-auth.ts';

const { values: options } = parseArgs({
  options: {
    slices: { type: 'string', default: '300' },
    concurrency: { type: 'string', default: '6' },
    passes: { type: 'string', default: '2' },
    seed: { type: 'string', default: '7' },
  },
});
const slices = Number(options.slices);
const concurrency = Number(options.concurrency);
const passes = Number(options.passes);
const GEN = path.resolve(import.meta.dirname, '../../shared/bench/gen.js');

const percentile = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)]!;
};

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile() && e.name.endsWith('.dcm')).map((e) => path.join(e.parentPath, e.name)).sort();
}

const dataDir = await mkdtemp(path.join(tmpdir(), 'yunying-frames-bench-'));
try {
  const genDir = path.join(dataDir, 'ct');
  execFileSync(process.execPath, [GEN, '--studies', '1', '--profile', 'ct', '--ct-slices', String(slices), '--out', genDir, '--seed', options.seed!, '--tag', randomBytes(3).toString('hex')], {
    stdio: ['ignore', 'ignore', 'inherit'],
    env: { ...process.env, NODE_PATH: path.resolve(import.meta.dirname, '../node_modules') },
  });
  const files = await filesUnder(genDir);

  const server = await startListeningServer();
  try {
    const login = await fetch(`${server.baseUrl}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'admin', password: TEST_ADMIN_PASSWORD }) });
    const { token } = (await login.json()) as { token: string };
    const auth = { authorization: `Bearer ${token}` };
    let study = '';
    for (let i = 0; i < files.length; i += 25) {
      const boundary = `bench-${randomBytes(6).toString('hex')}`;
      const chunks: Buffer[] = [];
      for (const file of files.slice(i, i + 25)) chunks.push(Buffer.from(`\r\n--${boundary}\r\nContent-Type: application/dicom\r\n\r\n`), await readFile(file));
      chunks.push(Buffer.from(`\r\n--${boundary}--\r\n`));
      const response = await fetch(`${server.baseUrl}/dicom-web/studies`, {
        method: 'POST',
        headers: { ...auth, 'content-type': `multipart/related; type="application/dicom"; boundary=${boundary}` },
        body: Buffer.concat(chunks),
      });
      if (response.status !== 200) throw new Error(`STOW-RS: HTTP ${response.status} ${await response.text()}`);
      const answer = (await response.json()) as { '00081190'?: { Value?: string[] } };
      study ||= answer['00081190']?.Value?.[0]?.split('/studies/')[1] ?? '';
    }
    if (!study) throw new Error('STOW-RS: no RetrieveURL');
    const listing = await fetch(`${server.baseUrl}/dicom-web/studies/${study}/instances?limit=100000`, { headers: { ...auth, accept: 'application/dicom+json' } });
    const instances = ((await listing.json()) as Array<Record<string, { Value?: string[] }>>).map((i) => ({
      series: i['0020000E']!.Value![0]!,
      sop: i['00080018']!.Value![0]!,
    }));
    if (instances.length !== files.length) throw new Error(`QIDO found ${instances.length} of ${files.length} instances`);
    console.log(`stored ${files.length} CT slices; fetching frames/1 of each, ${concurrency} requests in flight, ${passes} passes`);

    const frameUrl = (i: { series: string; sop: string }) => `${server.baseUrl}/dicom-web/studies/${study}/series/${i.series}/instances/${i.sop}/frames/1`;
    for (let pass = 1; pass <= passes; pass++) {
      const latencies: number[] = [];
      let next = 0;
      let bytes = 0;
      const cpuBefore = process.cpuUsage();
      const started = performance.now();
      await Promise.all(Array.from({ length: concurrency }, async () => {
        while (next < instances.length) {
          const instance = instances[next++]!;
          const t0 = performance.now();
          const response = await fetch(frameUrl(instance), { headers: { ...auth, accept: 'multipart/related; type="application/octet-stream"; transfer-syntax=*' } });
          const body = await response.arrayBuffer();
          if (response.status !== 200) throw new Error(`frames: HTTP ${response.status} ${Buffer.from(body).toString()}`);
          bytes += body.byteLength;
          latencies.push(performance.now() - t0);
        }
      }));
      const total = performance.now() - started;
      const cpu = process.cpuUsage(cpuBefore);
      console.log(`frames pass ${pass}: ${instances.length} frames (${(bytes / 1e6).toFixed(0)} MB) in ${total.toFixed(0)} ms; per frame median ${percentile(latencies, 50).toFixed(1)} ms, p95 ${percentile(latencies, 95).toFixed(1)} ms; process CPU ${((cpu.user + cpu.system) / 1000 / instances.length).toFixed(2)} ms/frame`);
    }
    const series = instances[0]!.series;
    for (let pass = 1; pass <= passes; pass++) {
      const t0 = performance.now();
      const response = await fetch(`${server.baseUrl}/dicom-web/studies/${study}/series/${series}/metadata`, { headers: { ...auth, accept: 'application/dicom+json' } });
      const items = ((await response.json()) as unknown[]).length;
      console.log(`series metadata pass ${pass}: ${items} instances in ${(performance.now() - t0).toFixed(0)} ms`);
    }
  } finally {
    await server.close();
  }
} finally {
  await rm(dataDir, { recursive: true, force: true });
}

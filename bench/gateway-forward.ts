/**
 * The edge gateway's speed (issue 8): a 300-slice CT (~150 MB, ../shared/bench/gen.js) sent
 * by storescu to the gateway, forwarded over STOW-RS to the cloud server on loopback.
 * Measures the time from the modality's first C-STORE (storescu's start) to the study being
 * queryable in the cloud (QIDO lists all of its instances), without a cap and with each
 * --caps value in Mbit/s, against the wire time of the bytes the gateway sent at that cap.
 *
 *   node --import tsx bench/gateway-forward.ts [--slices 300] [--caps 0,100] [--fsync true]
 *
 * Both processes are real (the cloud's `main.ts`, the gateway's bin), on fresh data
 * directories, with fsync as given (default: on, as deployed). Not a test.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { parseDicom, toDicomJson } from '@yunying/dicom';
import { startServerProcess } from '../packages/server/src/test-support/server-process.ts';
import { ADMIN_BASIC, freeGatewayPorts, provisionGatewayAccount, startGatewayProcess } from '../packages/gateway/src/test-support/gateway-process.ts';

const { values } = parseArgs({ options: { slices: { type: 'string', default: '300' }, caps: { type: 'string', default: '0,100' }, fsync: { type: 'string', default: 'true' } } });
const slices = Number(values.slices);
const caps = values.caps.split(',').map(Number);
const root = path.resolve(import.meta.dirname, '..');
const gen = path.resolve(root, '../shared/bench/gen.js');

const work = await mkdtemp(path.join(tmpdir(), 'yunying-gw-bench-'));
const results: Array<Record<string, unknown>> = [];
const children: Array<{ kill(): Promise<void> }> = [];
try {
  const cloud = await startServerProcess(path.join(work, 'cloud'), { YUNYING_FSYNC: values.fsync, YUNYING_LOG_LEVEL: 'info' });
  children.push(cloud);
  await provisionGatewayAccount(cloud.baseUrl);
  for (const [run, cap] of caps.entries()) {
    const dataDir = path.join(work, `ct-${run}`);
    execFileSync(process.execPath, [gen, '--studies', '1', '--profile', 'ct', '--ct-slices', String(slices), '--out', dataDir, '--seed', String(100 + run)], { env: { ...process.env, NODE_PATH: path.join(root, 'node_modules') }, stdio: 'ignore' });
    const files = await listFiles(dataDir);
    let bytes = 0;
    for (const f of files) bytes += (await readFile(f)).length;
    const first = toDicomJson(parseDicom(await readFile(files[0]!), { untilPixelData: true }));
    const studyUid = String(first['0020000D']!.Value![0]);

    const gateway = await startGatewayProcess(path.join(work, `gateway-${run}`), cloud.baseUrl, await freeGatewayPorts(), { YUNYING_GATEWAY_MAX_MBPS: String(cap), YUNYING_GATEWAY_FSYNC: values.fsync });
    children.push(gateway);
    const t0 = performance.now();
    const storescu = spawn('storescu', ['-aet', 'MODALITY', '-aec', 'YUNYING_GW', '+sd', '+r', '127.0.0.1', String(gateway.dicomPort), path.join(dataDir, 's00001')], { stdio: 'ignore' });
    let storedAt = 0;
    const stored = new Promise<void>((resolve, reject) => storescu.on('exit', (code) => (code === 0 ? ((storedAt = performance.now()), resolve()) : reject(new Error(`storescu exited ${code}`)))));
    let visibleAt = 0;
    const deadline = Date.now() + 600_000;
    for (;;) {
      if (Date.now() > deadline) throw new Error(`the study did not become queryable in the cloud: ${JSON.stringify(await gateway.status())}`);
      const response = await fetch(`${cloud.baseUrl}/dicom-web/studies/${studyUid}/instances?limit=100000&includefield=00080018`, { headers: { authorization: ADMIN_BASIC } });
      const n = response.status === 200 ? ((await response.json()) as unknown[]).length : (await response.arrayBuffer(), 0);
      if (n === files.length) {
        visibleAt = performance.now();
        break;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    await stored;
    const status = await gateway.status();
    const wireBytes = Number((status.throughput as unknown as { wireBytes: number }).wireBytes);
    const seconds = (visibleAt - t0) / 1000;
    const wireSeconds = cap > 0 ? (wireBytes * 8) / (cap * 1e6) : undefined;
    results.push({
      cap: cap > 0 ? `${cap} Mbit/s` : 'none',
      instances: files.length,
      MB: +(bytes / 1e6).toFixed(1),
      'storescu done, s': +((storedAt - t0) / 1000).toFixed(2),
      'queryable in cloud, s': +seconds.toFixed(2),
      'wire time at cap, s': wireSeconds === undefined ? '-' : +wireSeconds.toFixed(2),
      'over wire time': wireSeconds === undefined ? '-' : `${(((seconds - wireSeconds) / wireSeconds) * 100).toFixed(1)}%`,
      'effective Mbit/s': +((wireBytes * 8) / seconds / 1e6).toFixed(1),
    });
    await gateway.stop();
  }
  await cloud.stop();
} finally {
  for (const child of children) await child.kill();
  await rm(work, { recursive: true, force: true });
}
console.table(results);
console.log(JSON.stringify(results));

async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await listFiles(full)));
    else if (entry.name.endsWith('.dcm')) out.push(full);
  }
  return out.sort();
}

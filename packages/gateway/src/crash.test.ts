/**
 * Nothing lost, nothing duplicated (issue 8.3): SIGKILL the gateway mid-forwarding, kill the
 * cloud mid-forwarding, restart them in either order. Afterwards every instance the gateway
 * acknowledged to the modality is in the cloud, once, byte for byte. Forwarding is slowed by
 * the bandwidth cap and small batches so that every kill lands mid-request.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { splitPart10 } from '@yunying/dicom';
import { runTool } from '@yunying/testing/dcmtk';
import type { ServerProcess } from '@yunying/testing/server-process';
import { makeSyntheticInstance, newUid } from '@yunying/testing/synthetic-dicom';
import { cloudInstanceBytes, cloudInstanceUids, freeGatewayPorts, provisionGatewayAccount, startCloud, startGatewayProcess, waitUntil, writeInstanceFiles, type GatewayPorts, type GatewayProcess } from './test-support/gateway-process.ts';

let dir: string;
let cloud: ServerProcess | undefined;
let gateway: GatewayProcess | undefined;

before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'yunying-gateway-crash-'));
});

after(async () => {
  await gateway?.kill();
  await cloud?.kill();
  await rm(dir, { recursive: true, force: true });
});

test('SIGKILL of the gateway and of the cloud mid-forwarding, restarted in either order: every acknowledged instance reaches the cloud exactly once', { timeout: 120_000 }, async (t) => {
  const t0 = Date.now();
  const mark = (what: string) => t.diagnostic(`${((Date.now() - t0) / 1000).toFixed(1)} s: ${what}`);
  const cloudDir = path.join(dir, 'cloud');
  cloud = await startCloud(cloudDir);
  const cloudPorts = { httpPort: cloud.httpPort, dicomPort: cloud.dicomPort };
  await provisionGatewayAccount(cloud.baseUrl);
  const gatewayDir = path.join(dir, 'gateway');
  const ports: GatewayPorts = await freeGatewayPorts();
  // ~128 KiB instances, 5 per request, 12 Mbit/s: about 0.45 s per request.
  const env = { YUNYING_GATEWAY_MAX_MBPS: '12', YUNYING_GATEWAY_BATCH_INSTANCES: '5', YUNYING_GATEWAY_CONCURRENCY: '2' };
  const startGateway = async () => (gateway = await startGatewayProcess(gatewayDir, cloud?.baseUrl ?? `http://127.0.0.1:${cloudPorts.httpPort}`, ports, env));
  await startGateway();

  const studies = [newUid(), newUid()];
  const series = [newUid(), newUid()];
  const instances = Array.from({ length: 60 }, (_, i) => makeSyntheticInstance({ studyInstanceUid: studies[i % 2], seriesInstanceUid: series[i % 2], instanceNumber: i + 1, patientId: 'CRASH', size: 256 }));
  const files = await writeInstanceFiles(path.join(dir, 'modality'), instances);
  mark('gateway started');
  const stored = await runTool('storescu', ['-aet', 'T1_CT', '-aec', 'YUNYING_GW', '+sd', '127.0.0.1', String(ports.dicomPort), files]);
  assert.equal(stored.code, 0, `storescu: every instance acknowledged\n${stored.stderr}`);

  mark('stored');
  const sentAtLeast = (n: number) => waitUntil(`${n} instances forwarded`, async () => ((await gateway!.status()).sent >= n ? true : undefined), 60_000);

  // 1. The gateway dies mid-forwarding and comes back.
  await sentAtLeast(8);
  mark('8 sent');
  await gateway!.kill();
  await startGateway();

  // 2. The cloud dies mid-forwarding; then the gateway too; the cloud comes back first.
  await sentAtLeast(20);
  mark('20 sent');
  await cloud.kill();
  cloud = undefined;
  await waitUntil('the gateway to see the cloud gone', async () => ((await gateway!.status()).cloud.reachable === false ? true : undefined));
  await gateway!.kill();
  cloud = await startCloud(cloudDir, cloudPorts);
  await startGateway();

  // 3. Both die again; this time the gateway comes back first, to an unreachable cloud.
  await sentAtLeast(34);
  mark('34 sent');
  await cloud.kill();
  cloud = undefined;
  await gateway!.kill();
  await startGateway();
  const offline = await waitUntil('the restarted gateway to report the cloud unreachable', async () => {
    const s = await gateway!.status();
    return s.cloud.reachable === false ? s : undefined;
  });
  assert.ok(offline.queued > 0, 'instances still wait');
  assert.ok(offline.lastError, 'the last error is reported');
  cloud = await startCloud(cloudDir, cloudPorts);
  mark('cloud back');

  const done = await waitUntil('the queue to drain', async () => {
    const s = await gateway!.status();
    return s.queued === 0 ? s : undefined;
  }, 60_000);
  mark('drained');
  assert.equal(done.failed, 0);
  assert.equal(done.sent, instances.length);

  // Exactly once: the cloud's instance lists equal what the modality had acknowledged.
  for (const study of studies) {
    const expected = instances.filter((i) => i.studyInstanceUid === study).map((i) => i.sopInstanceUid).sort();
    const actual = await cloudInstanceUids(cloud.baseUrl, study);
    assert.equal(actual.length, new Set(actual).size, 'no instance twice');
    assert.deepEqual(actual.sort(), expected);
  }
  for (const sample of [instances[0]!, instances[31]!, instances[59]!]) {
    const bytes = await cloudInstanceBytes(cloud.baseUrl, sample);
    assert.ok(bytes.subarray(splitPart10(bytes).datasetOffset).equals(sample.bytes.subarray(splitPart10(sample.bytes).datasetOffset)), `bytes of ${sample.sopInstanceUid}`);
  }
});

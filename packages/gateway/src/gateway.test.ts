/**
 * The gateway end to end, as real processes: the cloud server, the gateway's bin, dcmtk's
 * storescu as the modality and findscu/movescu as the clinic's viewer.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { splitPart10 } from '@yunying/dicom';
import { runTool } from '@yunying/testing/dcmtk';
import { findFreePort } from '@yunying/testing/ports';
import type { ServerProcess } from '@yunying/testing/server-process';
import { makeSyntheticInstance, newUid, type SyntheticInstance } from '@yunying/testing/synthetic-dicom';
import { cloudInstanceBytes, cloudInstanceUids, freeGatewayPorts, GATEWAY_USER, provisionGatewayAccount, startCloud, startGatewayProcess, TOWNSHIP_ID, waitUntil, writeInstanceFiles, type GatewayProcess } from './test-support/gateway-process.ts';

let dir: string;
let cloud: ServerProcess;
let gateway: GatewayProcess;
let viewerPort: number;
const study: SyntheticInstance[] = [];

function makeStudy(count: number, patientId: string): SyntheticInstance[] {
  const studyInstanceUid = newUid();
  const series = [newUid(), newUid()];
  return Array.from({ length: count }, (_, i) => makeSyntheticInstance({ studyInstanceUid, seriesInstanceUid: series[i % 2], instanceNumber: i + 1, patientId, size: 64 }));
}

async function storescu(instances: SyntheticInstance[], name: string): Promise<void> {
  const files = await writeInstanceFiles(path.join(dir, name), instances);
  const result = await runTool('storescu', ['-aet', 'T1_CT', '-aec', 'YUNYING_GW', '+sd', '127.0.0.1', String(gateway.dicomPort), files]);
  assert.equal(result.code, 0, result.stderr);
}

function datasetOf(bytes: Buffer): Buffer {
  return bytes.subarray(splitPart10(bytes).datasetOffset);
}

before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'yunying-gateway-e2e-'));
  cloud = await startCloud(path.join(dir, 'cloud'));
  await provisionGatewayAccount(cloud.baseUrl);
  viewerPort = await findFreePort();
  gateway = await startGatewayProcess(path.join(dir, 'gateway'), cloud.baseUrl, await freeGatewayPorts(), { YUNYING_GATEWAY_MOVE_DESTINATIONS: `VIEWER@127.0.0.1:${viewerPort}` });
  study.push(...makeStudy(10, 'GW-E2E-1'));
});

after(async () => {
  await gateway?.kill();
  await cloud?.kill();
  await rm(dir, { recursive: true, force: true });
});

test('what a modality stores reaches the cloud once, byte for byte, attributed to the township', async () => {
  await storescu(study, 'study1');
  const status = await waitUntil('the queue to drain', async () => {
    const s = await gateway.status();
    return s.queued === 0 && s.sent >= study.length ? s : undefined;
  });
  assert.equal(status.failed, 0);
  assert.equal(status.cloud.reachable, true);
  const inCloud = await cloudInstanceUids(cloud.baseUrl, study[0]!.studyInstanceUid);
  assert.deepEqual(inCloud.sort(), study.map((i) => i.sopInstanceUid).sort());
  const sample = study[3]!;
  assert.ok(datasetOf(await cloudInstanceBytes(cloud.baseUrl, sample)).equals(datasetOf(sample.bytes)), 'the cloud holds the data set as the modality sent it');
  // Stored under the gateway account's institution, the township: its technologist sees the
  // study, another township's does not, and the trail says who stored each instance for whom.
  const admin = await adminToken();
  const created = await fetch(`${cloud.baseUrl}/api/v1/institutions`, { method: 'POST', headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' }, body: JSON.stringify({ id: 'ks-t2', name: '巴城镇卫生院', tier: 'township', grade: 1, parentId: 'ks-county' }) });
  assert.equal(created.status, 201, await created.text());
  const tech1 = await userToken(admin, 'gw-tech-t1', 'technologist', TOWNSHIP_ID);
  const tech2 = await userToken(admin, 'gw-tech-t2', 'technologist', 'ks-t2');
  const auditor = await userToken(admin, 'gw-auditor', 'insurance-auditor', 'default');
  const studyUid = study[0]!.studyInstanceUid;
  const studiesSeenBy = async (token: string) => {
    const response = await fetch(`${cloud.baseUrl}/dicom-web/studies?StudyInstanceUID=${studyUid}`, { headers: { authorization: `Bearer ${token}`, accept: 'application/dicom+json' } });
    assert.equal(response.status, 200);
    return ((await response.json()) as Array<Record<string, { Value?: string[] }>>).map((item) => item['0020000D']!.Value![0]);
  };
  assert.deepEqual(await studiesSeenBy(tech1), [studyUid], "the township's technologist sees the study");
  assert.deepEqual(await studiesSeenBy(tech2), [], "another township's technologist does not");
  const metadata = await fetch(`${cloud.baseUrl}/dicom-web/studies/${studyUid}/metadata`, { headers: { authorization: `Bearer ${tech2}` } });
  assert.equal(metadata.status, 404, 'nor can it retrieve it');
  await metadata.arrayBuffer();
  const events = await fetch(`${cloud.baseUrl}/api/v1/audit-events?objectId=${studyUid}&action=instance.stored&limit=1000`, { headers: { authorization: `Bearer ${auditor}` } });
  assert.equal(events.status, 200);
  const stored = (await events.json()) as Array<{ actor_name: string; actor_institution_id: string; via: string; details: { sopInstanceUid: string } }>;
  assert.deepEqual(stored.map((e) => e.details.sopInstanceUid).sort(), study.map((i) => i.sopInstanceUid).sort(), 'each instance stored once');
  for (const event of stored) {
    assert.equal(event.actor_institution_id, TOWNSHIP_ID);
    assert.equal(event.actor_name, GATEWAY_USER);
    assert.equal(event.via, 'dicomweb');
  }
});

test('GET /status and the status page', async () => {
  const s = await gateway.status();
  for (const key of ['queued', 'lastError', 'oldestWaiting', 'throughput', 'cloud', 'cache', 'imports']) assert.ok(key in s, `status has ${key}`);
  assert.equal(s.cache.instances, study.length);
  assert.ok(s.throughput.sentInstances >= study.length);
  const page = await fetch(`http://127.0.0.1:${gateway.httpPort}/`);
  const html = await page.text();
  assert.equal(page.status, 200);
  assert.match(page.headers.get('content-type') ?? '', /text\/html/);
  assert.match(html, /待上传 Queued/);
  assert.match(html, /云端 Cloud/);
});

test('offline: C-FIND and C-MOVE against the cache, new studies wait in the queue and go once the cloud is back', async () => {
  const httpPort = cloud.httpPort;
  const dicomPort = cloud.dicomPort;
  await cloud.kill();

  const find = await runTool('findscu', ['-S', '-aet', 'VIEWER', '-aec', 'YUNYING_GW', '-k', 'QueryRetrieveLevel=STUDY', '-k', 'PatientID=GW-E2E-1', '-k', 'StudyInstanceUID', '-k', 'NumberOfStudyRelatedInstances', '127.0.0.1', String(gateway.dicomPort)]);
  assert.equal(find.code, 0, find.stderr);
  assert.ok((find.stdout + find.stderr).includes(study[0]!.studyInstanceUid), find.stderr);

  const received = path.join(dir, 'viewer');
  await rm(received, { recursive: true, force: true });
  await mkdir(received);
  const move = await runTool('movescu', ['-S', '-aet', 'VIEWER', '-aem', 'VIEWER', '--port', String(viewerPort), '-od', received, '-aec', 'YUNYING_GW', '-k', 'QueryRetrieveLevel=STUDY', '-k', `StudyInstanceUID=${study[0]!.studyInstanceUid}`, '127.0.0.1', String(gateway.dicomPort)]);
  assert.equal(move.code, 0, move.stderr);
  assert.equal((await readdir(received)).length, study.length);

  const offline = makeStudy(6, 'GW-E2E-2');
  await storescu(offline, 'study2');
  const waiting = await waitUntil('the gateway to notice the cloud is gone', async () => {
    const s = await gateway.status();
    return s.cloud.reachable === false && s.queued === offline.length && s.lastError ? s : undefined;
  });
  assert.equal(waiting.oldestWaiting?.studyInstanceUid, offline[0]!.studyInstanceUid);

  cloud = await startCloud(path.join(dir, 'cloud'), { httpPort, dicomPort });
  await waitUntil('the queue to drain after the cloud is back', async () => {
    const s = await gateway.status();
    return s.queued === 0 && s.cloud.reachable === true ? s : undefined;
  });
  assert.deepEqual((await cloudInstanceUids(cloud.baseUrl, offline[0]!.studyInstanceUid)).sort(), offline.map((i) => i.sopInstanceUid).sort());
  const moved = await readFile(path.join(received, (await readdir(received))[0]!));
  assert.ok(moved.length > 0);
});

test('npx yunying-gateway refuses a bad configuration with every problem named', async () => {
  const bin = path.resolve(import.meta.dirname, '../bin/yunying-gateway.js');
  const child = spawn(process.execPath, [bin], { env: { PATH: process.env.PATH, YUNYING_GATEWAY_CLOUD_URL: 'ftp://cloud', YUNYING_GATEWAY_DICOM_PORT: '99999', YUNYING_GATEWAY_MAX_MBPS: 'fast' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  assert.equal(code, 2, stderr);
  for (const name of ['YUNYING_GATEWAY_CLOUD_URL', 'YUNYING_GATEWAY_DICOM_PORT', 'YUNYING_GATEWAY_MAX_MBPS', 'YUNYING_GATEWAY_USERNAME', 'YUNYING_GATEWAY_PASSWORD']) assert.match(stderr, new RegExp(name));
});

/** Creates a user on the cloud and logs it in. */
async function userToken(admin: string, username: string, role: string, institutionId: string): Promise<string> {
  const password = 'Gw-Test-Passw0rd-1';
  const created = await fetch(`${cloud.baseUrl}/api/v1/users`, { method: 'POST', headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' }, body: JSON.stringify({ username, password, role, institutionId }) });
  assert.equal(created.status, 201, await created.text());
  const login = await fetch(`${cloud.baseUrl}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username, password }) });
  assert.equal(login.status, 200);
  return ((await login.json()) as { token: string }).token;
}

async function adminToken(): Promise<string> {
  const response = await fetch(`${cloud.baseUrl}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'admin', password: 'test-admin-Passw0rd' }) });
  return ((await response.json()) as { token: string }).token;
}


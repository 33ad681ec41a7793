/**
 * Import from a hospital PACS (issue 8.5): Orthanc plays the PACS; the gateway queries it
 * with C-FIND, pulls the matching studies with C-MOVE into its cache, and forwards them to
 * the cloud, with progress at /api/imports/{id} and in /status.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runTool } from '@yunying/testing/dcmtk';
import { findFreePort } from '@yunying/testing/ports';
import type { ServerProcess } from '@yunying/testing/server-process';
import { makeSyntheticInstance, newUid, type SyntheticInstance } from '@yunying/testing/synthetic-dicom';
import { loadGatewayConfig, type GatewayConfig } from './config.ts';
import { startGateway, type Gateway } from './gateway.ts';
import { ImportStore, type ImportJob } from './import-store.ts';
import { cloudInstanceUids, GATEWAY_PASSWORD, GATEWAY_USER, provisionGatewayAccount, startCloud, waitUntil, writeInstanceFiles } from './test-support/gateway-process.ts';

const ORTHANC = ['/usr/sbin/Orthanc', '/usr/bin/Orthanc'].find((p) => spawnSync(p, ['--version']).status === 0);
const skip = ORTHANC ? false : 'Orthanc is not installed (apt-get install orthanc): the PACS import test needs it as the hospital PACS';

let dir: string;
let cloud: ServerProcess | undefined;
let gateway: Gateway | undefined;
let orthanc: ChildProcess | undefined;
let orthancDicomPort: number;
let config: GatewayConfig;

function study(count: number, patientId: string): SyntheticInstance[] {
  const studyInstanceUid = newUid();
  const seriesInstanceUid = newUid();
  return Array.from({ length: count }, (_, i) => makeSyntheticInstance({ studyInstanceUid, seriesInstanceUid, instanceNumber: i + 1, patientId, size: 64 }));
}

before(async () => {
  if (skip) return;
  dir = await mkdtemp(path.join(tmpdir(), 'yunying-gateway-import-'));
  cloud = await startCloud(path.join(dir, 'cloud'));
  await provisionGatewayAccount(cloud.baseUrl);
  const gatewayDicomPort = await findFreePort();
  orthancDicomPort = await findFreePort();
  const orthancHttpPort = await findFreePort();
  const configFile = path.join(dir, 'orthanc.json');
  await writeFile(configFile, JSON.stringify({
    Name: 'hospital-pacs',
    DicomAet: 'HOSPITAL',
    DicomPort: orthancDicomPort,
    HttpPort: orthancHttpPort,
    StorageDirectory: path.join(dir, 'orthanc-storage'),
    IndexDirectory: path.join(dir, 'orthanc-index'),
    RemoteAccessAllowed: false,
    AuthenticationEnabled: false,
    DicomCheckCalledAet: false,
    DicomAlwaysAllowStore: true,
    DicomModalities: { gateway: ['YUNYING_GW', '127.0.0.1', gatewayDicomPort] },
    Plugins: [],
  }));
  orthanc = spawn(ORTHANC!, [configFile], { stdio: ['ignore', 'ignore', 'pipe'] });
  let orthancLog = '';
  orthanc.stderr?.on('data', (d: Buffer) => (orthancLog += d.toString()));
  await waitUntil('Orthanc to answer', async () => {
    if (orthanc?.exitCode !== null) throw new Error(`Orthanc exited:\n${orthancLog}`);
    const response = await fetch(`http://127.0.0.1:${orthancHttpPort}/system`);
    return response.status === 200 ? true : undefined;
  });
  config = loadGatewayConfig({
    YUNYING_GATEWAY_DATA_DIR: path.join(dir, 'gateway'),
    YUNYING_GATEWAY_DICOM_HOST: '127.0.0.1',
    YUNYING_GATEWAY_DICOM_PORT: String(gatewayDicomPort),
    YUNYING_GATEWAY_HTTP_PORT: '0',
    YUNYING_GATEWAY_CLOUD_URL: cloud.baseUrl,
    YUNYING_GATEWAY_USERNAME: GATEWAY_USER,
    YUNYING_GATEWAY_PASSWORD: GATEWAY_PASSWORD,
    YUNYING_GATEWAY_FSYNC: 'false',
    YUNYING_GATEWAY_LOG_LEVEL: 'warn',
    YUNYING_GATEWAY_PACS: `HOSPITAL@127.0.0.1:${orthancDicomPort}`,
  });
  gateway = await startGateway(config);
});

after(async () => {
  await gateway?.close();
  orthanc?.kill('SIGKILL');
  await cloud?.kill();
  if (dir) await rm(dir, { recursive: true, force: true });
});

test('the gateway imports a patient\'s studies from the hospital PACS (C-FIND, C-MOVE) and forwards them to the cloud', { skip }, async () => {
  const wanted = [study(4, 'HOSP-1'), study(3, 'HOSP-1')];
  const other = study(2, 'HOSP-2');
  const files = await writeInstanceFiles(path.join(dir, 'pacs-load'), [...wanted.flat(), ...other]);
  const loaded = await runTool('storescu', ['-aet', 'LOADER', '-aec', 'HOSPITAL', '+sd', '127.0.0.1', String(orthancDicomPort), files]);
  assert.equal(loaded.code, 0, loaded.stderr);

  const api = `http://127.0.0.1:${gateway!.httpPort}/api/imports`;
  const bad = await fetch(api, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: { Nonsense: 'x' } }) });
  assert.equal(bad.status, 400);
  const started = await fetch(api, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: { PatientID: 'HOSP-1' } }) });
  assert.equal(started.status, 202);
  const { id } = (await started.json()) as { id: string };

  const job = await waitUntil('the import to be moved and forwarded', async () => {
    const j = (await (await fetch(`${api}/${id}`)).json()) as { state: string; forwarded: number; studies: Array<{ studyInstanceUid: string; completed: number; expectedInstances?: number; state: string }>; error?: string };
    if (j.state === 'failed') throw new Error(`import failed: ${j.error}`);
    return j.state === 'done' && j.forwarded === 7 ? j : undefined;
  }, 60_000);
  assert.equal(job.studies.length, 2);
  assert.deepEqual(job.studies.map((s) => s.completed).sort(), [3, 4]);
  assert.ok(job.studies.every((s) => s.state === 'moved' && s.expectedInstances === s.completed));

  for (const instances of wanted) {
    assert.deepEqual((await cloudInstanceUids(cloud!.baseUrl, instances[0]!.studyInstanceUid)).sort(), instances.map((i) => i.sopInstanceUid).sort());
  }
  assert.deepEqual(await cloudInstanceUids(cloud!.baseUrl, other[0]!.studyInstanceUid), [], 'only the matching patient is imported');
  const status = await gateway!.status();
  assert.equal((status.imports as Array<{ id: string }>)[0]?.id, id);
});

interface JobJson {
  id: string;
  state: string;
  forwarded: number;
  resumed?: number;
  error?: string;
  studies: Array<{ studyInstanceUid: string; completed: number; expectedInstances?: number; state: string }>;
}

test('import jobs survive a restart: a finished one is still shown with its progress, an unfinished one moves the studies it had not finished', { skip }, async () => {
  const api = () => `http://127.0.0.1:${gateway!.httpPort}/api/imports`;
  const before = (await (await fetch(api())).json()) as JobJson[];
  assert.equal(before.length, 1);
  const [first, second] = [study(3, 'HOSP-3'), study(2, 'HOSP-3')];
  const files = await writeInstanceFiles(path.join(dir, 'pacs-load-3'), [...first, ...second]);
  assert.equal((await runTool('storescu', ['-aet', 'LOADER', '-aec', 'HOSPITAL', '+sd', '127.0.0.1', String(orthancDicomPort), files])).code, 0);
  // The first study really arrives, by an import of its own...
  const started = await fetch(api(), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: { StudyInstanceUID: first[0]!.studyInstanceUid } }) });
  const { id: firstId } = (await started.json()) as { id: string };
  await waitUntil('the first study to be imported', async () => {
    const j = (await (await fetch(`${api()}/${firstId}`)).json()) as JobJson;
    return j.state === 'done' && j.forwarded === 3 ? j : undefined;
  }, 60_000);
  // ...and the job for the patient is on disk as the gateway left it when it died during the
  // second study's C-MOVE (one of two instances received).
  const unfinished: ImportJob = {
    id: '00000000-0000-4000-8000-000000000003',
    pacs: config.pacs!,
    query: { PatientID: 'HOSP-3' },
    state: 'moving',
    startedAt: new Date().toISOString(),
    studies: [
      { studyInstanceUid: first[0]!.studyInstanceUid, patientId: 'HOSP-3', expectedInstances: 3, state: 'moved', completed: 3, failed: 0, warning: 0, remaining: 0 },
      { studyInstanceUid: second[0]!.studyInstanceUid, patientId: 'HOSP-3', expectedInstances: 2, state: 'moving', completed: 1, failed: 0, warning: 0, remaining: 1 },
    ],
  };
  await new ImportStore(gateway!.cache.database.db).save(unfinished);

  await gateway!.close();
  gateway = await startGateway(config);

  const status = await gateway.status();
  const shown = status.imports as JobJson[];
  assert.deepEqual(shown.map((j) => j.id).sort(), [before[0]!.id, firstId, unfinished.id].sort(), 'every job is still shown');
  const old = shown.find((j) => j.id === before[0]!.id)!;
  assert.equal(old.state, 'done');
  assert.equal(old.forwarded, 7);
  assert.deepEqual(old.studies.map((s) => s.completed).sort(), [3, 4]);
  assert.equal(old.resumed, undefined, 'a finished job is not resumed');

  const resumed = await waitUntil('the unfinished import to finish', async () => {
    const j = (await (await fetch(`${api()}/${unfinished.id}`)).json()) as JobJson;
    if (j.state === 'failed') throw new Error(`import failed: ${j.error}`);
    return j.state === 'done' && j.forwarded === 5 ? j : undefined;
  }, 60_000);
  assert.equal(resumed.resumed, 1);
  assert.deepEqual(resumed.studies.map((s) => [s.state, s.completed]), [['moved', 3], ['moved', 2]]);
  assert.deepEqual((await cloudInstanceUids(cloud!.baseUrl, second[0]!.studyInstanceUid)).sort(), second.map((i) => i.sopInstanceUid).sort());
  assert.deepEqual((await cloudInstanceUids(cloud!.baseUrl, first[0]!.studyInstanceUid)).sort(), first.map((i) => i.sopInstanceUid).sort());
});

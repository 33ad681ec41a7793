/**
 * Issue 12, findings 14 and 12 (DIMSE part): a C-MOVE may send only to a node of the
 * caller's own institution or of a centre that serves it. Any other registered node answers
 * exactly as an unregistered one (0xA801 Move Destination Unknown, so the refusal does not
 * tell which AE titles exist elsewhere), nothing is sent, and both refusals leave an audit
 * record. Over the real server with dcmtk's storescu, movescu and storescp.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startListeningServer, type ListeningServer } from '../test-support/listening-server.ts';
import { TEST_ADMIN_PASSWORD } from '@yunying/testing/admin-auth';
import { makeSyntheticInstance, type SyntheticInstance } from '@yunying/testing/synthetic-dicom';
import { freePort, runTool, startListeningTool, type SpawnedProcess } from '@yunying/testing/dcmtk';

let server: ListeningServer;
let work: string;
let receivedDir: string;
let storescp: SpawnedProcess;
let study: SyntheticInstance;
let adminToken: string;

async function admin(method: string, url: string, body?: unknown): Promise<Response> {
  const init: RequestInit = body === undefined ? { method } : { method, body: JSON.stringify(body), headers: { 'content-type': 'application/json' } };
  return fetch(`${server.baseUrl}${url}`, { ...init, headers: { ...(init.headers as Record<string, string> | undefined), authorization: `Bearer ${adminToken}` } });
}

async function movescu(callingAeTitle: string, destination: string): Promise<string> {
  const result = await runTool('movescu', ['-v', '-S', '-aet', callingAeTitle, '-aec', 'YUNYING', '-aem', destination, '-k', 'QueryRetrieveLevel=STUDY', '-k', `StudyInstanceUID=${study.studyInstanceUid}`, '127.0.0.1', String(server.dicomPort)]);
  return result.stdout + result.stderr;
}

const receivedCount = async (): Promise<number> => (await readdir(receivedDir)).length;

interface AuditRow {
  action: string;
  outcome: string;
  actor_name: string;
  actor_institution_id: string;
  object_id: string | null;
  via: string;
  details: Record<string, unknown>;
}

before(async () => {
  server = await startListeningServer();
  const login = await fetch(`${server.baseUrl}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'admin', password: TEST_ADMIN_PASSWORD }) });
  adminToken = ((await login.json()) as { token: string }).token;
  work = await mkdtemp(path.join(tmpdir(), 'yunying-move-'));
  receivedDir = path.join(work, 'received');
  await mkdir(receivedDir);
  const port = await freePort();
  // one storescp stands in for every node: it accepts any called AE title
  storescp = await startListeningTool('storescp', ['-aet', 'ANYNODE', '+xa', '-od', receivedDir, String(port)], port);

  for (const institution of [
    { id: 'ks-county', name: '昆山市第一人民医院', tier: 'county' },
    { id: 'ks-t1', name: '周市镇卫生院', tier: 'township', parentId: 'ks-county' },
    { id: 'wx-county', name: '江阴市人民医院', tier: 'county' },
  ]) assert.equal((await admin('POST', '/api/v1/institutions', institution)).status, 201);
  assert.equal((await admin('PUT', '/api/v1/institutions/ks-county/members/ks-t1')).status, 204);
  for (const [aeTitle, institutionId, host] of [
    ['T1_CT', 'ks-t1', undefined],
    ['T1_VIEW', 'ks-t1', '127.0.0.1'],
    ['KS_VIEW', 'ks-county', '127.0.0.1'],
    ['WX_VIEW', 'wx-county', '127.0.0.1'],
  ] as const) {
    const body = host ? { institutionId, host, port } : { institutionId };
    const response = await admin('PUT', `/api/v1/application-entities/${aeTitle}`, body);
    assert.equal(response.status, 200, await response.text());
  }

  study = makeSyntheticInstance({ patientId: 'P-MOVE', patientName: 'Zhou^Min=周^敏' });
  const file = path.join(work, 'study.dcm');
  await writeFile(file, study.bytes);
  const stored = await runTool('storescu', ['-aet', 'T1_CT', '-aec', 'YUNYING', '127.0.0.1', String(server.dicomPort), file]);
  assert.equal(stored.code, 0, stored.stderr);
});

after(async () => {
  await storescp?.stop();
  await server?.close();
  if (work) await rm(work, { recursive: true, force: true });
});

test('a township AE moves to its own node and to the centre serving it', async () => {
  const own = await movescu('T1_CT', 'T1_VIEW');
  assert.match(own, /Received Final Move Response \(Success\)/, own);
  assert.equal(await receivedCount(), 1);
  const centre = await movescu('T1_CT', 'KS_VIEW');
  assert.match(centre, /Received Final Move Response \(Success\)/, centre);
  assert.equal(await receivedCount(), 1); // the same instance again, same file name
});

test("a township AE moving to another county's node is refused as if the node did not exist, and audited", async () => {
  await rm(receivedDir, { recursive: true, force: true });
  await mkdir(receivedDir);
  const foreign = await movescu('T1_CT', 'WX_VIEW');
  const unknown = await movescu('T1_CT', 'NOT_REGISTERED');
  assert.match(foreign, /MoveDestinationUnknown|0xa801/i, foreign);
  assert.match(unknown, /MoveDestinationUnknown|0xa801/i, unknown);
  // the same answer for a node elsewhere as for no node: nothing tells the caller WX_VIEW exists
  const comment = (output: string): string => (/Error Comment\s*:\s*(.*)/i.exec(output)?.[1] ?? '').replace(/WX_VIEW|NOT_REGISTERED/g, 'X');
  assert.equal(comment(foreign), comment(unknown));
  assert.equal(await receivedCount(), 0, 'nothing was sent to the foreign node');

  const response = await admin('GET', '/api/v1/audit-events?action=move.refused&limit=100');
  assert.equal(response.status, 200);
  const rows = (await response.json()) as AuditRow[];
  const byDestination = new Map(rows.map((row) => [row.object_id, row]));
  const refusedForeign = byDestination.get('WX_VIEW');
  assert.ok(refusedForeign, JSON.stringify(rows));
  assert.equal(refusedForeign.outcome, 'failure');
  assert.equal(refusedForeign.actor_name, 'T1_CT');
  assert.equal(refusedForeign.actor_institution_id, 'ks-t1');
  assert.equal(refusedForeign.via, 'dimse');
  assert.equal(refusedForeign.details.reason, 'destination-not-permitted');
  assert.equal(refusedForeign.details.destinationInstitutionId, 'wx-county');
  assert.equal(byDestination.get('NOT_REGISTERED')?.details.reason, 'unknown-destination');
  for (const row of rows) assert.doesNotMatch(JSON.stringify(row), /Zhou|周/, 'no patient names in the trail');
});

test('the loopback administrator (an unregistered local tool) may still move anywhere', async () => {
  const output = await movescu('LOCAL_TOOL', 'WX_VIEW');
  assert.match(output, /Received Final Move Response \(Success\)/, output);
});

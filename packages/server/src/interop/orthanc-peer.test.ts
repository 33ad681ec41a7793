/**
 * Orthanc as a peer PACS of the archive (issue 15, "Tests and checks"): Orthanc 1.10 (Debian's
 * package) runs with a generated configuration on free loopback ports, with Yunying as its
 * DICOM modality and as a DICOMweb server of its DICOMweb client plugin (orthanc-dicomweb).
 *
 * - Orthanc's C-FIND against Yunying (its /modalities/{id}/query);
 * - C-MOVE both ways: Orthanc pulls from Yunying (Yunying is the C-MOVE SCP and C-STOREs into
 *   Orthanc), and Yunying's side moves from Orthanc (dcmtk movescu to Orthanc, destination
 *   Yunying), with compressed instances (JPEG lossless, JPEG-LS, JPEG 2000, RLE) beside an uncompressed one;
 * - Orthanc's DICOMweb client retrieving from Yunying (WADO-RS) and storing into it (STOW-RS).
 *
 * What arrives is checked against the sample files: the same SOP Instance UID, transfer
 * syntax and Pixel Data (every frame as stored, so a compressed frame is byte for byte the
 * sample's, which is pixel-exact); and where nothing converts, the data set byte for byte.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { countFrames, getFrame, parseDicom, splitPart10 } from '@yunying/dicom';
import { runTool } from '@yunying/testing/dcmtk';
import { findFreePort } from '@yunying/testing/ports';
import { readSample } from '@yunying/testing/samples';
import { startListeningServer, type ListeningServer } from '../test-support/listening-server.ts';
import { TEST_ADMIN_PASSWORD } from '../test-support/admin-auth.ts';
import { callHttp } from '../test-support/http-client.ts';
import { readMultipart, stowBody } from '../dicomweb/test-support.ts';

const ORTHANC = ['/usr/sbin/Orthanc', '/usr/bin/Orthanc'].find((candidate) => spawnSync(candidate, ['--version']).status === 0);
const DICOMWEB_PLUGIN = '/usr/share/orthanc/plugins/libOrthancDicomWeb.so';
const skip = ORTHANC && existsSync(DICOMWEB_PLUGIN) ? false : 'Orthanc or its DICOMweb plugin is not installed (apt-get install orthanc orthanc-dicomweb)';

/** Stored in Yunying first, pulled by Orthanc. */
const TO_ORTHANC = ['modality/pt/PT_jpeg_lossless_private_nested_sq.dcm', 'multiframe/CT0012_no_bot_jpegls.dcm', 'modality/us/US_ybr_full_rle.dcm', 'dicomdir/98892003/MR2/4950'];
/** Loaded into Orthanc, moved to Yunying. */
const FROM_ORTHANC = ['multiframe/CT1_single_frame_fragmented_bot_jpegls.dcm', 'modality/us/US1_J2KR_rgb.dcm', 'modality/us/US_multiframe_10f_palette_rle.dcm'];

interface InstanceFacts {
  sopInstanceUid: string;
  studyInstanceUid: string;
  seriesInstanceUid: string;
  transferSyntaxUid: string;
  frames: Buffer[];
  dataset: Buffer;
}

function factsOf(bytes: Uint8Array): InstanceFacts {
  const header = splitPart10(bytes);
  const parsed = parseDicom(bytes);
  const text = (tag: string) => {
    const json = (parsed as unknown as { raw: { string(tag: string): string | undefined } }).raw.string(tag);
    return (json ?? '').trim();
  };
  const frames = Array.from({ length: countFrames(parsed) }, (_, index) => Buffer.from(getFrame(parsed, index + 1)));
  return { sopInstanceUid: header.sopInstanceUid, studyInstanceUid: text('x0020000d'), seriesInstanceUid: text('x0020000e'), transferSyntaxUid: header.transferSyntaxUid, frames, dataset: Buffer.from(bytes.subarray(header.datasetOffset)) };
}

/** Same instance, same transfer syntax, every frame as stored. */
function assertSameImage(actual: InstanceFacts, expected: InstanceFacts, what: string): void {
  assert.equal(actual.sopInstanceUid, expected.sopInstanceUid, what);
  assert.equal(actual.transferSyntaxUid, expected.transferSyntaxUid, `${what}: transfer syntax`);
  assert.equal(actual.frames.length, expected.frames.length, `${what}: frames`);
  actual.frames.forEach((frame, index) => assert.ok(frame.equals(expected.frames[index]!), `${what}: frame ${index + 1} differs`));
}

async function waitUntil<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

describe('Orthanc as a peer', { skip }, () => {
  let server: ListeningServer;
  let dir: string;
  let orthanc: ChildProcess | undefined;
  let orthancLog = '';
  let orthancHttp = '';
  let orthancDicomPort = 0;
  let token = '';
  const samples = new Map<string, InstanceFacts>();

  const rest = async (method: string, url: string, body?: unknown): Promise<unknown> => {
    const response = await fetch(`${orthancHttp}${url}`, { method, headers: body === undefined ? {} : { 'content-type': 'application/json' }, body: body === undefined ? undefined : typeof body === 'string' || body instanceof Uint8Array ? (body as string) : JSON.stringify(body) });
    const text = await response.text();
    assert.ok(response.ok, `Orthanc ${method} ${url}: ${response.status} ${text}\n${orthancLog.slice(-2000)}`);
    return text ? (JSON.parse(text) as unknown) : undefined;
  };
  const orthancInstanceBytes = async (sopInstanceUid: string): Promise<Buffer> => {
    const [id] = (await rest('POST', '/tools/lookup', sopInstanceUid)) as Array<{ ID: string; Type: string }>;
    assert.ok(id, `Orthanc has ${sopInstanceUid}`);
    return Buffer.from(await (await fetch(`${orthancHttp}/instances/${id.ID}/file`)).arrayBuffer());
  };
  const orthancHas = async (sopInstanceUid: string) => ((await rest('POST', '/tools/lookup', sopInstanceUid)) as unknown[]).length > 0;
  /** the instance as Yunying stores it (WADO-RS, transfer-syntax=* is "as stored") */
  const yunyingInstanceBytes = async (facts: InstanceFacts): Promise<Buffer | undefined> => {
    const response = await fetch(`${server.baseUrl}/dicom-web/studies/${facts.studyInstanceUid}/series/${facts.seriesInstanceUid}/instances/${facts.sopInstanceUid}`, { headers: { authorization: `Bearer ${token}`, accept: 'multipart/related; type="application/dicom"; transfer-syntax=*' } });
    const body = Buffer.from(await response.arrayBuffer());
    if (response.status === 404) return undefined;
    assert.equal(response.status, 200, body.toString());
    const parts = readMultipart(response.headers.get('content-type') ?? undefined, body);
    return parts[0]!.body;
  };

  before(async () => {
    server = await startListeningServer();
    const login = await callHttp(server.baseUrl, 'POST', '/api/v1/auth/login', { body: { username: 'admin', password: TEST_ADMIN_PASSWORD } });
    token = (login.body as { token: string }).token;
    for (const relative of [...TO_ORTHANC, ...FROM_ORTHANC]) samples.set(relative, factsOf(readSample(relative)));

    dir = await mkdtemp(path.join(tmpdir(), 'yunying-orthanc-peer-'));
    orthancDicomPort = await findFreePort();
    const orthancHttpPort = await findFreePort();
    orthancHttp = `http://127.0.0.1:${orthancHttpPort}`;
    // Yunying registers Orthanc as a DICOM node: its C-MOVE destination
    const node = await callHttp(server.baseUrl, 'PUT', '/api/v1/dicom-nodes/ORTHANC', { token, body: { host: '127.0.0.1', port: orthancDicomPort } });
    assert.equal(node.status, 200, node.text);
    const configFile = path.join(dir, 'orthanc.json');
    await writeFile(
      configFile,
      JSON.stringify({
        Name: 'peer-pacs',
        DicomAet: 'ORTHANC',
        DicomPort: orthancDicomPort,
        HttpPort: orthancHttpPort,
        StorageDirectory: path.join(dir, 'storage'),
        IndexDirectory: path.join(dir, 'index'),
        RemoteAccessAllowed: false,
        AuthenticationEnabled: false,
        DicomCheckCalledAet: false,
        DicomAlwaysAllowStore: true,
        // Yunying as a modality (C-FIND, C-MOVE SCP, and the C-MOVE destination of movescu)
        DicomModalities: { yunying: ['YUNYING', '127.0.0.1', server.dicomPort] },
        Plugins: [DICOMWEB_PLUGIN],
        DicomWeb: { Enable: true, Servers: { yunying: { Url: `${server.baseUrl}/dicom-web/`, Username: 'admin', Password: TEST_ADMIN_PASSWORD } } },
      }),
    );
    orthanc = spawn(ORTHANC!, [configFile], { stdio: ['ignore', 'ignore', 'pipe'] });
    orthanc.stderr?.on('data', (data: Buffer) => (orthancLog += data.toString()));
    await waitUntil('Orthanc to answer', async () => {
      if (orthanc?.exitCode !== null) throw new Error(`Orthanc exited:\n${orthancLog}`);
      const response = await fetch(`${orthancHttp}/system`).catch(() => undefined);
      return response?.status === 200 ? true : undefined;
    });

    // loaded by STOW-RS, as stored (storescu would propose uncompressed syntaxes only)
    const { payload, contentType } = stowBody(TO_ORTHANC.map((relative) => readSample(relative)));
    const stored = await callHttp(server.baseUrl, 'POST', '/dicom-web/studies', { token, raw: payload, headers: { 'content-type': contentType, accept: 'application/dicom+json' } });
    assert.equal(stored.status, 200, stored.text);
  });

  after(async () => {
    orthanc?.kill('SIGKILL');
    await server?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('Orthanc C-FINDs Yunying: the study with its patient and instance count', async () => {
    const facts = samples.get('multiframe/CT0012_no_bot_jpegls.dcm')!;
    const query = (await rest('POST', '/modalities/yunying/query', { Level: 'Study', Query: { StudyInstanceUID: facts.studyInstanceUid, PatientID: '', NumberOfStudyRelatedInstances: '', ModalitiesInStudy: '' } })) as { ID: string };
    const answers = (await rest('GET', `/queries/${query.ID}/answers?expand`)) as Array<Record<string, { Value: string }>>;
    assert.equal(answers.length, 1, JSON.stringify(answers));
    assert.equal(answers[0]!['0020,000d']!.Value, facts.studyInstanceUid);
    assert.ok(Number(answers[0]!['0020,1208']!.Value) >= 1);
    const none = (await rest('POST', '/modalities/yunying/query', { Level: 'Study', Query: { PatientID: 'NO-SUCH-PATIENT' } })) as { ID: string };
    assert.deepEqual(await rest('GET', `/queries/${none.ID}/answers`), []);
  });

  test('Orthanc pulls from Yunying by C-MOVE: compressed instances arrive as stored (frames byte for byte), the uncompressed one data set byte for byte', async () => {
    for (const relative of TO_ORTHANC) {
      const facts = samples.get(relative)!;
      await rest('POST', '/modalities/yunying/move', { Level: 'Study', Resources: [{ StudyInstanceUID: facts.studyInstanceUid }], TargetAet: 'ORTHANC', Synchronous: true });
      const received = factsOf(await orthancInstanceBytes(facts.sopInstanceUid));
      assertSameImage(received, facts, relative);
    }
    const uncompressed = samples.get('dicomdir/98892003/MR2/4950')!;
    assert.ok(factsOf(await orthancInstanceBytes(uncompressed.sopInstanceUid)).dataset.equals(uncompressed.dataset), 'the Explicit VR LE data set arrives byte for byte');
  });

  test('Yunying moves from Orthanc (movescu to Orthanc, destination YUNYING): compressed frames arrive byte for byte as in the samples', async () => {
    for (const relative of FROM_ORTHANC) await rest('POST', '/instances', readSample(relative));
    for (const relative of FROM_ORTHANC) {
      const facts = samples.get(relative)!;
      const moved = await runTool('movescu', ['-S', '-aet', 'YUNYING', '-aec', 'ORTHANC', '-aem', 'YUNYING', '-k', 'QueryRetrieveLevel=STUDY', '-k', `StudyInstanceUID=${facts.studyInstanceUid}`, '127.0.0.1', String(orthancDicomPort)]);
      assert.equal(moved.code, 0, moved.stderr);
      const stored = await waitUntil(`${relative} in Yunying`, () => yunyingInstanceBytes(facts));
      const storedFacts = factsOf(stored);
      assertSameImage(storedFacts, facts, relative);
      // what Orthanc sent is what Yunying keeps: its data set equals Orthanc's own copy
      // (the data set itself is not compared with the file: DCMTK, Orthanc's network layer,
      // re-encodes sequences with explicit lengths and drops trailing padding when it sends)
    }
  });

  test("Orthanc's DICOMweb client retrieves from Yunying (WADO-RS) and stores into it (STOW-RS)", async () => {
    // retrieve: a study Orthanc does not have yet
    const facts = samples.get('modality/pt/PT_jpeg_lossless_private_nested_sq.dcm')!;
    const [existing] = (await rest('POST', '/tools/lookup', facts.studyInstanceUid)) as Array<{ ID: string }>;
    if (existing) await rest('DELETE', `/studies/${existing.ID}`);
    assert.equal(await orthancHas(facts.sopInstanceUid), false);
    await rest('POST', '/dicom-web/servers/yunying/retrieve', { Resources: [{ Study: facts.studyInstanceUid }] });
    const retrieved = factsOf(await orthancInstanceBytes(facts.sopInstanceUid));
    // Orthanc's client asks for the stored syntax (transfer-syntax=*): the JPEG lossless frames arrive as they are
    assertSameImage(retrieved, facts, 'WADO-RS to Orthanc');

    // store: a study only Orthanc has, sent to Yunying by STOW-RS
    const rle = samples.get('modality/us/US_multiframe_10f_palette_rle.dcm')!;
    const deleted = await callHttp(server.baseUrl, 'DELETE', `/api/v1/studies/${rle.studyInstanceUid}?reason=${encodeURIComponent('Orthanc STOW test')}`, { token });
    assert.ok([200, 204, 404].includes(deleted.status), deleted.text);
    assert.equal(await yunyingInstanceBytes(rle), undefined, 'Yunying no longer has it');
    const [study] = (await rest('POST', '/tools/lookup', rle.studyInstanceUid)) as Array<{ ID: string }>;
    await rest('POST', '/dicom-web/servers/yunying/stow', { Resources: [study!.ID] });
    const stowed = await waitUntil('the STOW-RS study in Yunying', () => yunyingInstanceBytes(rle));
    assertSameImage(factsOf(stowed), rle, 'STOW-RS from Orthanc');
    // Orthanc's STOW-RS part is its stored file: Yunying keeps the sample's data set byte for byte
    assert.ok(factsOf(stowed).dataset.equals(rle.dataset), "Yunying stored Orthanc's STOW-RS part byte for byte");
  });
});

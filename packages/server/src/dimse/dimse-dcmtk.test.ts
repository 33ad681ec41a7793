/**
 * End-to-end DIMSE tests: the SCP over real sockets against the real archive (SQLite +
 * files in a temporary data dir), driven by dcmtk's storescu, findscu, movescu (to a
 * storescp started here) and getscu.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { encodeDataset, getPixelDataInfo, parseDicom, splitPart10, toDicomJson, type DicomJsonDataset } from '@yunying/dicom';
import { localAeCaller } from '../access/caller.ts';
import { openArchive, type Archive } from '../archive/archive.ts';
import { startDimseServer, type DimseServer } from './scp.ts';
import { openAssociation } from '@yunying/dimse';
import { freePort, memoryLogger, runTool, startListeningTool, storescuConfig, type SpawnedProcess } from '@yunying/testing/dcmtk';
import { samplePath } from '@yunying/testing/samples';

const MR_SERIES_DIR = samplePath('series/mr-16-slices');
const FILES = [
  ...readdirSync(samplePath('transfer-syntax/ct-same-image')).map((f) => `transfer-syntax/ct-same-image/${f}`),
  ...readdirSync(MR_SERIES_DIR).map((f) => `series/mr-16-slices/${f}`),
  'modality/us/US_multiframe_30f_ybr422_jpeg.dcm',
  'modality/us/US_multiframe_10f_palette_rle.dcm',
  // dcmtk 3.6.7 does not know HTJ2K; scp.test.ts covers it with our own SCU
  'modality/cr/RG2_JLSN_cr.dcm',
  'modality/us/US1_J2KR_rgb.dcm',
  'transfer-syntax/other/report_dfl_deflated_sr.dcm',
].filter((f) => f.endsWith('.dcm')).sort();

interface Sample {
  file: string;
  sopClassUid: string;
  sopInstanceUid: string;
  transferSyntaxUid: string;
}

const samples: Sample[] = FILES.map((file) => {
  const header = splitPart10(readFileSync(samplePath(file)));
  return { file, sopClassUid: header.sopClassUid, sopInstanceUid: header.sopInstanceUid, transferSyntaxUid: header.transferSyntaxUid };
});

let work: string;
let archive: Archive;
let server: DimseServer;
let storescp: SpawnedProcess;
let receivedDir: string;
const logger = memoryLogger();
const caller = localAeCaller('TEST');
const newUid = (): string => `2.25.${BigInt(`0x${randomUUID().replace(/-/g, '')}`)}`;

function tag(ds: DicomJsonDataset, t: string): unknown {
  return ds[t]?.Value?.[0];
}

function datasetOf(part10: Buffer): Buffer {
  return part10.subarray(splitPart10(part10).datasetOffset);
}

before(async () => {
  work = mkdtempSync(path.join(tmpdir(), 'dimse-dcmtk-'));
  archive = await openArchive({ dataDir: path.join(work, 'data'), fsync: false });
  server = await startDimseServer({
    archive,
    nodes: archive,
    aeTitle: 'YUNYING',
    host: '127.0.0.1',
    port: 0,
    acceptUnknownAe: true,
    resolveCaller: async () => undefined,
    logger,
  });
  receivedDir = path.join(work, 'received');
  mkdirSync(receivedDir);
  const destPort = await freePort();
  // +B: write what arrives bit-preserved; +xa: accept every transfer syntax
  storescp = await startListeningTool('storescp', ['-aet', 'MOVEDEST', '+xa', '+B', '-od', receivedDir, String(destPort)], destPort);
  await archive.accessStore.upsertApplicationEntity({ ae_title: 'MOVEDEST', host: '127.0.0.1', port: destPort, institution_id: 'default', description: null });
  await archive.accessStore.upsertApplicationEntity({ ae_title: 'DEADEND', host: '127.0.0.1', port: await freePort(), institution_id: 'default', description: null });

  const config = path.join(work, 'storescu.cfg');
  writeFileSync(config, storescuConfig(samples));
  const r = await runTool('storescu', ['-xf', config, 'PROFILE', '-aec', 'YUNYING', '-aet', 'MODALITY1', '127.0.0.1', String(server.port), ...FILES.map((f) => samplePath(f))]);
  assert.equal(r.code, 0, r.stderr);
  assert.doesNotMatch(r.stderr, /Store Failed|E: /, r.stderr);
});

after(async () => {
  await storescp?.stop();
  await server?.close();
  await archive?.close();
  rmSync(work, { recursive: true, force: true });
});

test('storescu: every sample is stored in the transfer syntax it was sent in', async () => {
  const unique = new Map(samples.map((s) => [s.sopInstanceUid, s])); // the last file with a shared UID replaced the others
  const records = await archive.findInstances(caller, { sopInstanceUids: [...unique.keys()] });
  assert.equal(records.length, unique.size);
  for (const record of records) {
    const sample = unique.get(record.sopInstanceUid) as Sample;
    assert.equal(record.transferSyntaxUid, sample.transferSyntaxUid, sample.file);
    assert.equal(record.sopClassUid, sample.sopClassUid, sample.file);
  }
  assert.ok(logger.lines.some((l) => l.msg === 'DIMSE association ended' && (l.obj as { stored: number }).stored === FILES.length));
});

async function findscu(args: string[]): Promise<{ results: DicomJsonDataset[]; output: string }> {
  const dir = mkdtempSync(path.join(work, 'find-'));
  const r = await runTool('findscu', ['-v', '-X', '-od', dir, '-aec', 'YUNYING', ...args, '127.0.0.1', String(server.port)]);
  assert.equal(r.code, 0, r.stderr + r.stdout);
  const files = readdirSync(dir).filter((f) => f.startsWith('rsp')).sort();
  const results = files.map((f) => {
    const bytes = readFileSync(path.join(dir, f));
    return toDicomJson(parseDicom(bytes), { omitBinary: true });
  });
  return { results, output: r.stdout + r.stderr };
}

const mrSample = samples.find((s) => s.file.startsWith('series/mr-16-slices')) as Sample;
async function mrSeries(): Promise<{ studyInstanceUid: string; seriesInstanceUid: string; patientId: string }> {
  const [record] = await archive.findInstances(caller, { sopInstanceUids: [mrSample.sopInstanceUid] });
  const ds = toDicomJson(parseDicom(await archive.readInstance(record)), { omitBinary: true });
  return { studyInstanceUid: record.studyInstanceUid, seriesInstanceUid: record.seriesInstanceUid, patientId: String(tag(ds, '00100020') ?? '') };
}

test('findscu study root: STUDY and SERIES levels return matches with the level set', async () => {
  const mr = await mrSeries();
  const studies = await findscu(['-S', '-k', 'QueryRetrieveLevel=STUDY', '-k', `StudyInstanceUID=${mr.studyInstanceUid}`, '-k', 'PatientName', '-k', 'PatientID', '-k', 'NumberOfStudyRelatedInstances']);
  assert.equal(studies.results.length, 1, studies.output);
  assert.equal(tag(studies.results[0], '0020000D'), mr.studyInstanceUid);
  assert.equal(tag(studies.results[0], '00080052'), 'STUDY');
  assert.equal(tag(studies.results[0], '00100020'), mr.patientId);

  const series = await findscu(['-S', '-k', 'QueryRetrieveLevel=SERIES', '-k', `StudyInstanceUID=${mr.studyInstanceUid}`, '-k', 'SeriesInstanceUID', '-k', 'Modality']);
  assert.ok(series.results.some((r) => tag(r, '0020000E') === mr.seriesInstanceUid && tag(r, '00080060') === 'MR'), series.output);

  const images = await findscu(['-S', '-k', 'QueryRetrieveLevel=IMAGE', '-k', `StudyInstanceUID=${mr.studyInstanceUid}`, '-k', `SeriesInstanceUID=${mr.seriesInstanceUid}`, '-k', 'SOPInstanceUID']);
  assert.equal(images.results.length, 16);

  const none = await findscu(['-S', '-k', 'QueryRetrieveLevel=STUDY', '-k', 'StudyInstanceUID=1.2.3.4.5.6.7.8.9.0']);
  assert.equal(none.results.length, 0);
});

test('findscu patient root: PATIENT level by PatientID', async () => {
  const mr = await mrSeries();
  const { results, output } = await findscu(['-P', '-k', 'QueryRetrieveLevel=PATIENT', '-k', `PatientID=${mr.patientId}`, '-k', 'PatientName']);
  assert.equal(results.length, 1, output);
  assert.equal(tag(results[0], '00100020'), mr.patientId);
  assert.equal(tag(results[0], '00080052'), 'PATIENT');
});

test('findscu: a bad QueryRetrieveLevel fails; C-CANCEL is answered', async () => {
  const bad = await runTool('findscu', ['-v', '-S', '-aec', 'YUNYING', '-k', 'QueryRetrieveLevel=PATIENT', '-k', 'PatientID', '127.0.0.1', String(server.port)]);
  assert.match(bad.stdout + bad.stderr, /DataSetDoesNotMatchSOPClass|Identifier Does Not Match|0xa900/i);

  // findscu sends C-CANCEL after 2 responses; the remaining 14 may already be on the wire, so
  // only the exchange is checked here (scp.test.ts checks that a cancel stops the results)
  const mr = await mrSeries();
  const cancelled = await findscu(['-S', '--cancel', '2', '-k', 'QueryRetrieveLevel=IMAGE', '-k', `SeriesInstanceUID=${mr.seriesInstanceUid}`, '-k', 'SOPInstanceUID']);
  assert.match(cancelled.output, /Sending Cancel Request/);
  assert.match(cancelled.output, /Received Final Find Response \((Cancel|Success)/);
});

function received(): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  for (const f of readdirSync(receivedDir)) {
    const bytes = readFileSync(path.join(receivedDir, f));
    out.set(splitPart10(bytes).sopInstanceUid, bytes);
  }
  return out;
}

async function assertByteIdentical(got: Map<string, Buffer>, sopInstanceUids: string[]): Promise<void> {
  const records = await archive.findInstances(caller, { sopInstanceUids });
  assert.equal(records.length, sopInstanceUids.length);
  for (const record of records) {
    const bytes = got.get(record.sopInstanceUid);
    assert.ok(bytes, `received ${record.sopInstanceUid}`);
    assert.equal(splitPart10(bytes).transferSyntaxUid, record.transferSyntaxUid);
    assert.ok(datasetOf(bytes).equals(datasetOf(await archive.readInstance(record))), `data set of ${record.sopInstanceUid} is byte-identical`);
  }
}

test('movescu: a series and compressed multi-frame instances reach storescp byte-identical', async () => {
  const mr = await mrSeries();
  const r = await runTool('movescu', ['-v', '-S', '-aec', 'YUNYING', '-aem', 'MOVEDEST', '-k', 'QueryRetrieveLevel=SERIES', '-k', `StudyInstanceUID=${mr.studyInstanceUid}`, '-k', `SeriesInstanceUID=${mr.seriesInstanceUid}`, '127.0.0.1', String(server.port)]);
  assert.equal(r.code, 0, r.stderr + r.stdout);
  assert.match(r.stdout + r.stderr, /Received Final Move Response \(Success\)/);
  const mrUids = samples.filter((s) => s.file.startsWith('series/')).map((s) => s.sopInstanceUid);
  await assertByteIdentical(received(), mrUids);

  const compressed = samples.filter((s) => s.file.startsWith('modality/') || s.file.includes('deflated_sr')).map((s) => s.sopInstanceUid);
  const r2 = await runTool('movescu', ['-v', '-P', '-aec', 'YUNYING', '-aem', 'MOVEDEST', '-k', 'QueryRetrieveLevel=IMAGE', '-k', `SOPInstanceUID=${compressed.join('\\')}`, '127.0.0.1', String(server.port)]);
  assert.equal(r2.code, 0, r2.stderr + r2.stdout);
  await assertByteIdentical(received(), compressed);
});

test('movescu: unknown destination → 0xA801; unreachable destination fails the sub-operations', async () => {
  const r = await runTool('movescu', ['-v', '-S', '-aec', 'YUNYING', '-aem', 'NOWHERE', '-k', 'QueryRetrieveLevel=STUDY', '-k', 'StudyInstanceUID=1.2.3', '127.0.0.1', String(server.port)]);
  assert.match(r.stdout + r.stderr, /MoveDestinationUnknown|0xa801/i);

  const client = await openAssociation({ host: '127.0.0.1', port: server.port, callingAeTitle: 'MYSCU', calledAeTitle: 'YUNYING', presentationContexts: [{ abstractSyntax: '1.2.840.10008.5.1.4.1.2.2.2', transferSyntaxes: ['1.2.840.10008.1.2.1'] }] });
  const mr = await mrSeries();
  const identifier = encodeDataset({ '00080052': { vr: 'CS', Value: ['SERIES'] }, '0020000E': { vr: 'UI', Value: [mr.seriesInstanceUid] } }, '1.2.840.10008.1.2.1');
  const pc = client.contexts[0];
  const unknown = await client.request(pc.id, { commandField: 0x0021, affectedSopClassUid: pc.abstractSyntax, moveDestination: 'NOWHERE', priority: 0, commandDataSetType: 0 }, identifier);
  assert.equal(unknown.status, 0xa801);
  const dead = await client.request(pc.id, { commandField: 0x0021, affectedSopClassUid: pc.abstractSyntax, moveDestination: 'DEADEND', priority: 0, commandDataSetType: 0 }, identifier);
  assert.equal(dead.status, 0xa702);
  assert.equal(dead.response.failed, 16);
  assert.ok(dead.dataset && dead.dataset.length > 16, 'Failed SOP Instance UID List');
  await client.release();
});

async function getscu(extra: string[], keys: string[]): Promise<Map<string, Buffer>> {
  const dir = mkdtempSync(path.join(work, 'get-'));
  const r = await runTool('getscu', ['-v', '+B', ...extra, '-aec', 'YUNYING', '-od', dir, ...keys.flatMap((k) => ['-k', k]), '127.0.0.1', String(server.port)]);
  assert.equal(r.code, 0, r.stderr + r.stdout);
  const got = new Map<string, Buffer>();
  for (const f of readdirSync(dir)) {
    const bytes = readFileSync(path.join(dir, f));
    got.set(splitPart10(bytes).sopInstanceUid, bytes);
  }
  return got;
}

test('getscu: C-GET sends over the same association, byte-identical when the stored syntax is accepted', async () => {
  // +xv: getscu proposes JPEG 2000 lossless first for its storage contexts
  const j2k = samples.find((s) => s.file.endsWith('US1_J2KR_rgb.dcm')) as Sample;
  const exact = await getscu(['-P', '+xv'], ['QueryRetrieveLevel=IMAGE', `SOPInstanceUID=${j2k.sopInstanceUid}`]);
  assert.equal(exact.size, 1);
  await assertByteIdentical(exact, [j2k.sopInstanceUid]);

  // getscu proposes explicit VR LE only by default: the implicit LE series is transcoded
  const mr = await mrSeries();
  const mrUids = samples.filter((s) => s.file.startsWith('series/')).map((s) => s.sopInstanceUid);
  const transcoded = await getscu(['-S'], ['QueryRetrieveLevel=SERIES', `StudyInstanceUID=${mr.studyInstanceUid}`, `SeriesInstanceUID=${mr.seriesInstanceUid}`]);
  assert.deepEqual([...transcoded.keys()].sort(), [...mrUids].sort());
  for (const bytes of transcoded.values()) {
    assert.equal(splitPart10(bytes).transferSyntaxUid, '1.2.840.10008.1.2.1');
    const ds = toDicomJson(parseDicom(bytes), { omitBinary: true });
    assert.equal(tag(ds, '0020000E'), mr.seriesInstanceUid);
    assert.ok(getPixelDataInfo(parseDicom(bytes)), 'pixel data survived the transcoding');
  }
});

test('malformed data sets fail with an error comment and the association stays usable', async () => {
  // storescu reads the truncated file itself; it may refuse it (non-zero exit) or send what it has
  const truncated = await runTool('storescu', ['-aec', 'YUNYING', '127.0.0.1', String(server.port), samplePath('malformed/truncated_pixel_data.dcm')]);
  assert.ok(truncated.code !== null);

  const MR = '1.2.840.10008.5.1.4.1.1.4';
  const client = await openAssociation({
    host: '127.0.0.1', port: server.port, callingAeTitle: 'MYSCU', calledAeTitle: 'YUNYING',
    presentationContexts: [{ abstractSyntax: '1.2.840.10008.1.1', transferSyntaxes: ['1.2.840.10008.1.2'] }, { abstractSyntax: MR, transferSyntaxes: ['1.2.840.10008.1.2'] }],
  });
  const garbage = Buffer.from([0x08, 0x00, 0x16, 0x00, 0xff, 0xff, 0x00, 0x10, 0x01, 0x02, 0x03]);
  const bad = await client.store({ sopClassUid: MR, sopInstanceUid: '1.2.3.4.5.6.7.8.9', transferSyntaxUid: '1.2.840.10008.1.2', dataset: garbage });
  assert.notEqual(bad.status, 0);
  assert.ok((bad.status & 0xf000) === 0xa000 || (bad.status & 0xf000) === 0xc000 || bad.status === 0x0110, `status 0x${bad.status.toString(16)}`);
  assert.ok(bad.errorComment && bad.errorComment.length > 0 && bad.errorComment.length <= 64, bad.errorComment);
  assert.equal((await client.echo()).status, 0);

  // a valid data set with fresh UIDs on the same association
  const sopInstanceUid = newUid();
  const dataset = encodeDataset({
    '00080016': { vr: 'UI', Value: [MR] },
    '00080018': { vr: 'UI', Value: [sopInstanceUid] },
    '00080060': { vr: 'CS', Value: ['MR'] },
    '00100020': { vr: 'LO', Value: ['DIMSE-TEST'] },
    '0020000D': { vr: 'UI', Value: [newUid()] },
    '0020000E': { vr: 'UI', Value: [newUid()] },
  }, '1.2.840.10008.1.2');
  const ok = await client.store({ sopClassUid: MR, sopInstanceUid, transferSyntaxUid: '1.2.840.10008.1.2', dataset });
  assert.equal(ok.status, 0, ok.errorComment);
  assert.equal((await archive.findInstances(caller, { sopInstanceUids: [sopInstanceUid] })).length, 1);
  await client.release();
});

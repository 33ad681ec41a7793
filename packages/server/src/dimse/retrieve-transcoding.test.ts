/**
 * Transcoding on retrieval over DIMSE (issue 15, item 1), with dcmtk on both ends: a study of
 * compressed instances of mixed transfer syntaxes, moved to a storescp that accepts only
 * uncompressed syntaxes (no +xa) and fetched by a getscu that proposes only uncompressed
 * ones. Every sub-operation succeeds, and the pixel data that arrives is what dcmtk's own
 * decompressors (dcmdjpeg, dcmdjpls, dcmdrle) make of the stored instance for the lossless
 * syntaxes; the lossy JPEG processes (whose IDCT rounding differs between decoders) and JPEG
 * 2000 (dcmtk has no decoder for it) are checked against our transcoder. A storescp with +xa
 * still gets the stored bytes exactly.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { getFrame, getPixelDataInfo, parseDicom, splitPart10, type ParsedDicom } from '@yunying/dicom';
import { localAeCaller } from '../access/caller.ts';
import { openArchive, type Archive } from '../archive/archive.ts';
import { sharedTranscoder } from '../transcoding/index.ts';
import { startDimseServer, type DimseServer } from './scp.ts';
import { freePort, memoryLogger, runTool, startListeningTool, type SpawnedProcess } from '@yunying/testing/dcmtk';
import { samplePath } from '@yunying/testing/samples';

const EXPLICIT_LE = '1.2.840.10008.1.2.1';
const IMPLICIT_LE = '1.2.840.10008.1.2';
const CT = 'transfer-syntax/ct-same-image';
/** 15 compressed instances: every JPEG process, JPEG-LS, JPEG 2000 and RLE; grey and colour; single and multi-frame */
const COMPRESSED = [
  `${CT}/ct_1.2.840.10008.1.2.4.50_jpeg-baseline.dcm`,
  `${CT}/ct_1.2.840.10008.1.2.4.51_jpeg-extended-12bit.dcm`,
  `${CT}/ct_1.2.840.10008.1.2.4.53_jpeg-spectral-retired.dcm`,
  `${CT}/ct_1.2.840.10008.1.2.4.55_jpeg-progressive-retired.dcm`,
  `${CT}/ct_1.2.840.10008.1.2.4.57_jpeg-lossless-p14.dcm`,
  `${CT}/ct_1.2.840.10008.1.2.4.70_jpeg-lossless-sv1.dcm`,
  `${CT}/ct_1.2.840.10008.1.2.4.80_jpegls-lossless.dcm`,
  `${CT}/ct_1.2.840.10008.1.2.4.81_jpegls-near-lossless.dcm`,
  `${CT}/ct_1.2.840.10008.1.2.4.90_j2k-lossless.dcm`,
  `${CT}/ct_1.2.840.10008.1.2.4.91_j2k-lossy.dcm`,
  `${CT}/ct_1.2.840.10008.1.2.5_rle.dcm`,
  'modality/us/US_multiframe_30f_ybr422_jpeg.dcm',
  'modality/us/US_multiframe_10f_palette_rle.dcm',
  'modality/cr/RG2_JLSN_cr.dcm',
  'modality/us/US1_J2KR_rgb.dcm',
];
/** and one stored uncompressed, which goes as stored everywhere */
const UNCOMPRESSED = [`${CT}/ct_1.2.840.10008.1.2.1_explicit-vr-le.dcm`];

/** lossless JPEG; the other processes are lossy, and decoders may round their IDCT differently */
const JPEG_LOSSLESS = new Set(['1.2.840.10008.1.2.4.57', '1.2.840.10008.1.2.4.70']);
/** dcmtk's storescp +xa does not accept these JPEG processes (the retired ones, lossless P14): those go decompressed even there */
const NOT_ACCEPTED_BY_STORESCP = new Set(['1.2.840.10008.1.2.4.53', '1.2.840.10008.1.2.4.55', '1.2.840.10008.1.2.4.57']);
const JPEG_LS = new Set(['1.2.840.10008.1.2.4.80', '1.2.840.10008.1.2.4.81']);
const RLE = '1.2.840.10008.1.2.5';

interface StoredSample {
  file: string;
  sopInstanceUid: string;
  transferSyntaxUid: string;
  bytes: Buffer;
}

let work: string;
let archive: Archive;
let server: DimseServer;
const destinations: SpawnedProcess[] = [];
let plainDir: string;
let allDir: string;
const logger = memoryLogger();
const caller = localAeCaller('TEST');
const newUid = (): string => `2.25.${BigInt(`0x${randomUUID().replace(/-/g, '')}`)}`;
const studyInstanceUid = newUid();
const stored: StoredSample[] = [];

/** Every frame's bytes, one after another: Pixel Data as native little endian would hold it. */
function pixelBytes(parsed: ParsedDicom): Buffer {
  const info = getPixelDataInfo(parsed);
  assert.ok(info, 'has pixel data');
  return Buffer.concat(Array.from({ length: info.numberOfFrames }, (_, i) => getFrame(parsed, i + 1)));
}

function receivedIn(dir: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  for (const f of readdirSync(dir)) {
    const bytes = readFileSync(path.join(dir, f));
    out.set(splitPart10(bytes).sopInstanceUid, bytes);
  }
  return out;
}

/** What dcmtk makes of a stored instance when it decompresses it losslessly; our transcoder for lossy JPEG and JPEG 2000. */
async function expectedNative(sample: StoredSample): Promise<ParsedDicom> {
  const ts = sample.transferSyntaxUid;
  const tool = JPEG_LOSSLESS.has(ts) ? 'dcmdjpeg' : JPEG_LS.has(ts) ? 'dcmdjpls' : ts === RLE ? 'dcmdrle' : undefined;
  if (!tool) return parseDicom(await sharedTranscoder().transcodePart10(sample.bytes, EXPLICIT_LE));
  const input = path.join(work, `in-${sample.sopInstanceUid}.dcm`);
  const output = path.join(work, `out-${sample.sopInstanceUid}.dcm`);
  writeFileSync(input, sample.bytes);
  const r = await runTool(tool, ['+te', input, output]);
  assert.equal(r.code, 0, `${tool} ${sample.file}: ${r.stderr}`);
  return parseDicom(readFileSync(output));
}

/** The received instance is uncompressed and carries the pixels dcmtk (or, for JPEG 2000, our transcoder) decodes. */
async function assertDecompressed(got: Map<string, Buffer>, sample: StoredSample): Promise<void> {
  const bytes = got.get(sample.sopInstanceUid);
  assert.ok(bytes, `${sample.file} arrived`);
  const ts = splitPart10(bytes).transferSyntaxUid;
  assert.ok(ts === EXPLICIT_LE || ts === IMPLICIT_LE, `${sample.file} arrived in ${ts}`);
  const parsed = parseDicom(bytes);
  const expected = await expectedNative(sample);
  const info = getPixelDataInfo(parsed)!;
  const expectedInfo = getPixelDataInfo(expected)!;
  assert.equal(info.encapsulated, false, sample.file);
  assert.deepEqual([info.rows, info.columns, info.samplesPerPixel, info.bitsAllocated, info.numberOfFrames], [expectedInfo.rows, expectedInfo.columns, expectedInfo.samplesPerPixel, expectedInfo.bitsAllocated, expectedInfo.numberOfFrames], sample.file);
  assert.equal(info.photometricInterpretation, expectedInfo.photometricInterpretation, `${sample.file}: photometric interpretation`);
  assert.ok(pixelBytes(parsed).equals(pixelBytes(expected)), `${sample.file}: pixel data equals the decompressor's`);
}

before(async () => {
  work = mkdtempSync(path.join(tmpdir(), 'retrieve-transcoding-'));
  archive = await openArchive({ dataDir: path.join(work, 'data'), fsync: false });
  server = await startDimseServer({ archive, nodes: archive, aeTitle: 'YUNYING', host: '127.0.0.1', port: 0, acceptUnknownAe: true, resolveCaller: async () => undefined, logger });

  // one study: copies of the samples with a common patient, study and series and their own SOP Instance UIDs
  const copies = path.join(work, 'copies');
  mkdirSync(copies);
  const files = [...COMPRESSED, ...UNCOMPRESSED].map((file, i) => {
    const copy = path.join(copies, `${String(i).padStart(2, '0')}.dcm`);
    copyFileSync(samplePath(file), copy);
    return { file, copy };
  });
  const seriesInstanceUid = newUid();
  const modify = await runTool('dcmodify', ['-nb', '-gin', '-i', `StudyInstanceUID=${studyInstanceUid}`, '-i', `SeriesInstanceUID=${seriesInstanceUid}`, '-i', 'PatientID=T2-RETRIEVE', '-i', 'PatientName=Retrieve^Test', ...files.map((f) => f.copy)]);
  assert.equal(modify.code, 0, modify.stderr);
  for (const { file, copy } of files) {
    const bytes = readFileSync(copy);
    const header = splitPart10(bytes);
    assert.equal(header.transferSyntaxUid, splitPart10(readFileSync(samplePath(file))).transferSyntaxUid, `dcmodify kept the syntax of ${file}`);
    await archive.ingest(caller, { kind: 'part10', bytes });
    stored.push({ file, sopInstanceUid: header.sopInstanceUid, transferSyntaxUid: header.transferSyntaxUid, bytes });
  }

  // no +xa: storescp accepts the uncompressed syntaxes only (its default)
  const plainPort = await freePort();
  plainDir = path.join(work, 'plain');
  mkdirSync(plainDir);
  destinations.push(await startListeningTool('storescp', ['-aet', 'PLAINDEST', '+B', '-od', plainDir, String(plainPort)], plainPort));
  const allPort = await freePort();
  allDir = path.join(work, 'all');
  mkdirSync(allDir);
  destinations.push(await startListeningTool('storescp', ['-aet', 'ALLDEST', '+xa', '+B', '-od', allDir, String(allPort)], allPort));
  for (const [ae, port] of [['PLAINDEST', plainPort], ['ALLDEST', allPort]] as const) {
    await archive.accessStore.upsertApplicationEntity({ ae_title: ae, host: '127.0.0.1', port, institution_id: 'default', description: null });
  }
});

after(async () => {
  for (const d of destinations) await d.stop();
  await server?.close();
  await archive?.close();
  rmSync(work, { recursive: true, force: true });
});

const moveStudy = (destination: string): ReturnType<typeof runTool> =>
  runTool('movescu', ['-v', '-S', '-aec', 'YUNYING', '-aem', destination, '-k', 'QueryRetrieveLevel=STUDY', '-k', `StudyInstanceUID=${studyInstanceUid}`, '127.0.0.1', String(server.port)], 300_000);

test('movescu to a storescp without +xa: every sub-operation succeeds, compressed instances arrive decompressed as dcmtk decodes them', async () => {
  const r = await moveStudy('PLAINDEST');
  const output = r.stdout + r.stderr;
  assert.equal(r.code, 0, output);
  assert.match(output, /Received Final Move Response \(Success\)/, output);
  assert.doesNotMatch(output, /Number of (Failed|Warning) Suboperations\s*:\s*[1-9]/, output);
  const got = receivedIn(plainDir);
  assert.equal(got.size, stored.length);
  for (const sample of stored.filter((s) => COMPRESSED.includes(s.file))) await assertDecompressed(got, sample);
  // the uncompressed one went as stored
  const plain = stored.find((s) => UNCOMPRESSED.includes(s.file))!;
  const bytes = got.get(plain.sopInstanceUid)!;
  assert.ok(bytes.subarray(splitPart10(bytes).datasetOffset).equals(plain.bytes.subarray(splitPart10(plain.bytes).datasetOffset)), 'the Explicit VR LE instance is sent byte for byte');
});

test('movescu to a storescp with +xa: every instance arrives in its stored syntax, byte for byte', async () => {
  const r = await moveStudy('ALLDEST');
  assert.equal(r.code, 0, r.stderr + r.stdout);
  assert.match(r.stdout + r.stderr, /Received Final Move Response \(Success\)/);
  const got = receivedIn(allDir);
  assert.equal(got.size, stored.length);
  for (const sample of stored) {
    const bytes = got.get(sample.sopInstanceUid);
    assert.ok(bytes, sample.file);
    if (NOT_ACCEPTED_BY_STORESCP.has(sample.transferSyntaxUid)) {
      await assertDecompressed(got, sample);
      continue;
    }
    assert.equal(splitPart10(bytes).transferSyntaxUid, sample.transferSyntaxUid, sample.file);
    assert.ok(bytes.subarray(splitPart10(bytes).datasetOffset).equals(sample.bytes.subarray(splitPart10(sample.bytes).datasetOffset)), `${sample.file} byte-identical`);
  }
});

test('getscu, which proposes Explicit VR LE only for its storage contexts (dcmtk 3.6.7, whatever +x option): the whole study, decompressed', async () => {
  const dir = mkdtempSync(path.join(work, 'get-'));
  const r = await runTool('getscu', ['-v', '+B', '-S', '-aec', 'YUNYING', '-od', dir, '-k', 'QueryRetrieveLevel=STUDY', '-k', `StudyInstanceUID=${studyInstanceUid}`, '127.0.0.1', String(server.port)], 300_000);
  const output = r.stdout + r.stderr;
  assert.equal(r.code, 0, output);
  assert.match(output, new RegExp(`Number of Completed Suboperations\\s*:\\s*${stored.length}\\b`), output);
  assert.match(output, /Number of Failed Suboperations\s*:\s*0\b/, output);
  const got = receivedIn(dir);
  assert.equal(got.size, stored.length);
  for (const sample of stored.filter((s) => COMPRESSED.includes(s.file))) await assertDecompressed(got, sample);
  for (const bytes of got.values()) assert.equal(splitPart10(bytes).transferSyntaxUid, EXPLICIT_LE);
});

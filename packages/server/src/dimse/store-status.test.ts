/**
 * C-STORE answers for an existing SOP Instance UID (issue 15, item 4; ADR 0002), with dcmtk's
 * storescu: an identical resend from another AE is a duplicate (Success, the stored object
 * untouched), a corrected object in the same series replaces it (Warning B000), and another
 * object under the UID in another study is refused with a standard C-STORE failure status
 * (C111, in the "Cannot understand" range; 0111 is a DIMSE-N status, not a C-STORE one).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { splitPart10 } from '@yunying/dicom';
import { localAeCaller } from '../access/caller.ts';
import { openArchive, type Archive } from '../archive/archive.ts';
import { startDimseServer, type DimseServer } from './scp.ts';
import { memoryLogger, runTool } from '@yunying/testing/dcmtk';
import { samplePath } from '@yunying/testing/samples';

const SAMPLE = 'transfer-syntax/ct-same-image/ct_1.2.840.10008.1.2.1_explicit-vr-le.dcm';
const newUid = (): string => `2.25.${BigInt(`0x${randomUUID().replace(/-/g, '')}`)}`;

let work: string;
let archive: Archive;
let server: DimseServer;
const caller = localAeCaller('TEST');
let original: string;
let sopInstanceUid: string;

/** storescu from `ae`: its output, which names the response status (with -d, its code and Error Comment) */
async function storescu(ae: string, file: string, verbosity = '-v'): Promise<string> {
  const r = await runTool('storescu', [verbosity, '-aet', ae, '-aec', 'YUNYING', '127.0.0.1', String(server.port), file]);
  return r.stdout + r.stderr;
}

async function storedBytes(): Promise<Buffer> {
  const [record] = await archive.findInstances(caller, { sopInstanceUids: [sopInstanceUid] });
  assert.ok(record);
  return archive.readInstance(record);
}

/** the file meta group names the AE it came from (0002,0016): does it name `ae`? */
const metaNames = (part10: Buffer, ae: string): boolean => part10.subarray(0, splitPart10(part10).datasetOffset).includes(Buffer.from(ae));

/** a copy of the sample with its own UIDs, and `more` dcmodify -i arguments */
async function variant(name: string, more: string[] = []): Promise<string> {
  const file = path.join(work, name);
  copyFileSync(original, file);
  const r = await runTool('dcmodify', ['-nb', ...more, file]);
  assert.equal(r.code, 0, r.stderr);
  return file;
}

before(async () => {
  work = mkdtempSync(path.join(tmpdir(), 'store-status-'));
  archive = await openArchive({ dataDir: path.join(work, 'data'), fsync: false });
  server = await startDimseServer({ archive, nodes: archive, aeTitle: 'YUNYING', host: '127.0.0.1', port: 0, acceptUnknownAe: true, resolveCaller: async () => undefined, logger: memoryLogger() });
  // fresh UIDs, so that the test owns this instance
  original = path.join(work, 'original.dcm');
  copyFileSync(samplePath(SAMPLE), original);
  sopInstanceUid = newUid();
  const r = await runTool('dcmodify', ['-nb', '-i', `SOPInstanceUID=${sopInstanceUid}`, '-i', `StudyInstanceUID=${newUid()}`, '-i', `SeriesInstanceUID=${newUid()}`, original]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(splitPart10(readFileSync(original)).sopInstanceUid, sopInstanceUid);
});

after(async () => {
  await server?.close();
  await archive?.close();
  rmSync(work, { recursive: true, force: true });
});

test('an identical resend from another AE is a duplicate: Success, the stored object kept as it was', async () => {
  const first = await storescu('MODALITY1', original);
  assert.match(first, /Received Store Response \(Success\)/, first);
  const stored = await storedBytes();
  assert.ok(metaNames(stored, 'MODALITY1'));

  const again = await storescu('GATEWAY2', original);
  assert.match(again, /Received Store Response \(Success\)/, again);
  assert.doesNotMatch(again, /Warning/i, again);
  const after = await storedBytes();
  assert.ok(after.equals(stored), 'nothing was replaced: the file meta still names the first sender');
  assert.equal((await archive.findInstances(caller, { sopInstanceUids: [sopInstanceUid] })).length, 1);
});

test('a corrected object in the same series replaces the stored one with a warning (B000 range)', async () => {
  const corrected = await variant('corrected.dcm', ['-i', 'InstitutionName=Corrected Hospital']);
  const output = await storescu('MODALITY1', corrected);
  assert.match(output, /Received Store Response \(Warning/, output);
  assert.ok((await storedBytes()).subarray(splitPart10(await storedBytes()).datasetOffset).equals(readFileSync(corrected).subarray(splitPart10(readFileSync(corrected)).datasetOffset)));
});

test('another object under the UID in another study is refused with C-STORE status 0xC111, the stored one kept', async () => {
  const before = await storedBytes();
  const stray = await variant('stray.dcm', ['-i', `StudyInstanceUID=${newUid()}`, '-i', `SeriesInstanceUID=${newUid()}`]);
  const output = await storescu('MODALITY1', stray, '-d');
  assert.match(output, /DIMSE Status\s*: 0xc111: Error: Cannot understand/, output);
  assert.match(output, /0xc111/i, output);
  assert.match(output, /another study or series/, output);
  assert.doesNotMatch(output, /0x0111/, output);
  assert.ok((await storedBytes()).equals(before));
});

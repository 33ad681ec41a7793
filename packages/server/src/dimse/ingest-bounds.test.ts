/**
 * DIMSE ingest bounds (issue 13, item 7), with dcmtk's storescu against the archive's SCP:
 * a data set over the spill threshold is received into a temporary file and stored byte for
 * byte; one over the maximum message size is refused (A700), nothing of it is stored, it is
 * logged, and the association goes on with the next instance.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { splitPart10 } from '@yunying/dicom';
import { memoryLogger, runTool } from '@yunying/testing/dcmtk';
import { makeSyntheticInstance, type SyntheticInstance } from '@yunying/testing/synthetic-dicom';
import { localAeCaller } from '../access/caller.ts';
import { openArchive, type Archive } from '../archive/archive.ts';
import { startDimseServer, type DimseServer } from './scp.ts';

const SPILL_BYTES = 64 * 1024;
const MAX_BYTES = 1024 * 1024;

let work: string;
let archive: Archive;
let server: DimseServer;
const logger = memoryLogger();
const caller = localAeCaller('BOUNDS');

before(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'dimse-bounds-'));
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
    datasetBounds: { spillBytes: SPILL_BYTES, maxBytes: MAX_BYTES, spillDir: archive.blobs.stagingDirectory },
  });
});

after(async () => {
  await server?.close();
  await archive?.close();
  await rm(work, { recursive: true, force: true });
});

function datasetOf(part10: Buffer): Buffer {
  return part10.subarray(splitPart10(part10).datasetOffset);
}

async function stored(instance: SyntheticInstance): Promise<Buffer | undefined> {
  const [record] = await archive.findInstances(caller, { sopInstanceUids: [instance.sopInstanceUid] });
  return record ? archive.readInstance(record) : undefined;
}

test('storescu: a data set over the spill threshold is stored byte-exact; one over the maximum is refused with A700 and the association goes on', async () => {
  // 16-bit pixels: 256² = 128 KiB (over the 64 KiB threshold), 1024² = 2 MiB (over the 1 MiB maximum)
  const large = makeSyntheticInstance({ size: 256, patientId: 'BOUNDS-LARGE' });
  const tooLarge = makeSyntheticInstance({ size: 1024, patientId: 'BOUNDS-HUGE' });
  const small = makeSyntheticInstance({ size: 16, patientId: 'BOUNDS-SMALL' });
  assert.ok(datasetOf(large.bytes).length > SPILL_BYTES && datasetOf(large.bytes).length < MAX_BYTES);
  assert.ok(datasetOf(tooLarge.bytes).length > MAX_BYTES);
  const files = [large, tooLarge, small].map((instance, i) => ({ instance, file: path.join(work, `${i}.dcm`) }));
  for (const { instance, file } of files) await writeFile(file, instance.bytes);

  // one association, three C-STOREs in this order, the refused one in the middle (-nh: storescu goes on after it)
  const result = await runTool('storescu', ['-v', '-nh', '-aet', 'BOUNDS', '-aec', 'YUNYING', '127.0.0.1', String(server.port), ...files.map((f) => f.file)]);
  const output = result.stdout + result.stderr;
  assert.match(output, /Received Store Response \(Refused: OutOfResources\)|0xa700/i, output);
  assert.equal((output.match(/Received Store Response \(Success\)/g) ?? []).length, 2, output);
  assert.doesNotMatch(output, /Association Abort|A-ABORT/i, output);
  assert.match(output, /Releasing Association/, output);

  const largeStored = await stored(large);
  assert.ok(largeStored, 'the spilled data set is stored');
  assert.ok(datasetOf(largeStored).equals(datasetOf(large.bytes)), 'stored byte for byte');
  assert.equal(await stored(tooLarge), undefined, 'nothing of the refused data set is stored');
  assert.ok(await stored(small), 'the instance after the refusal is stored: the association stayed usable');

  const refusal = logger.lines.find((line) => line.msg === 'DIMSE data set over the maximum message size refused');
  assert.ok(refusal, 'the refusal is logged');
  assert.equal((refusal.obj as { sopInstanceUid?: string }).sopInstanceUid, tooLarge.sopInstanceUid);
  assert.equal((refusal.obj as { maxBytes?: number }).maxBytes, MAX_BYTES);
  const ended = logger.lines.find((line) => line.msg === 'DIMSE association ended');
  assert.equal((ended?.obj as { spilled?: number }).spilled, 1);

  // no temporary file is left behind
  const leftovers = (await readdir(archive.blobs.stagingDirectory).catch(() => [] as string[])).filter((name) => name.startsWith('yunying-dimse-'));
  assert.deepEqual(leftovers, []);
});

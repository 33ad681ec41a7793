/**
 * C-FIND through dcmtk's findscu against the whole platform (issue 15, items 3 and 4):
 * return keys the archive holds no value for come back empty with their own VR, and PN
 * matching of every PN attribute with names in UTF-8 and GB18030.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { parseDicom, toDicomJson, type DicomJsonDataset } from '@yunying/dicom';
import { systemCaller } from '../access/caller.ts';
import { startListeningServer, type ListeningServer } from '../test-support/listening-server.ts';
import { makeSyntheticInstance, newUid } from '../test-support/synthetic-dicom.ts';

const run = promisify(execFile);

describe('C-FIND with findscu', () => {
  let listening: ListeningServer;
  const accession = `F${Date.now() % 1_000_000}`;
  let study: string;

  /** findscu's responses: dcmdump's text (VRs as received) and the data sets. */
  async function findscu(keys: string[]): Promise<{ dumps: string[]; datasets: DicomJsonDataset[] }> {
    const outDir = await mkdtemp(path.join(tmpdir(), 'yunying-findscu-'));
    try {
      // -xe: propose explicit VR little endian only, so the VRs on the wire are the SCP's.
      await run('findscu', ['-S', '-xe', '-aec', 'YUNYING', '-X', '-od', outDir, ...keys.flatMap((k) => ['-k', k]), '127.0.0.1', String(listening.dicomPort)]);
      const files = (await readdir(outDir)).sort();
      const dumps = await Promise.all(files.map(async (file) => (await run('dcmdump', ['+U8', path.join(outDir, file)])).stdout));
      const datasets = await Promise.all(files.map(async (file) => toDicomJson(parseDicom(await readFile(path.join(outDir, file))))));
      return { dumps, datasets };
    } finally {
      await rm(outDir, { recursive: true, force: true });
    }
  }

  before(async () => {
    listening = await startListeningServer();
    const made = makeSyntheticInstance({ studyInstanceUid: newUid(), accessionNumber: accession });
    study = made.studyInstanceUid;
    const stored = await listening.server.archive.ingest(systemCaller(), { kind: 'part10', bytes: made.bytes });
    assert.equal(stored.outcome, 'stored');
  });

  after(async () => {
    await listening.close();
  });

  test('return keys without a value come back empty with their dictionary VR, not UN', async () => {
    const { dumps, datasets } = await findscu(['QueryRetrieveLevel=STUDY', `AccessionNumber=${accession}`, 'PatientAge', 'PatientWeight', 'OperatorsName', 'AdmittingDiagnosesDescription', 'ProcedureCodeSequence', 'PixelSpacing', 'StudyInstanceUID']);
    assert.equal(datasets.length, 1);
    assert.equal(datasets[0]!['0020000D']?.Value?.[0], study);
    const dump = dumps[0]!;
    const expected: Array<[string, string]> = [['(0010,1010)', 'AS'], ['(0010,1030)', 'DS'], ['(0008,1070)', 'PN'], ['(0008,1080)', 'LO'], ['(0008,1032)', 'SQ'], ['(0028,0030)', 'DS']];
    for (const [tag, vr] of expected) {
      const line = dump.split('\n').find((l) => l.startsWith(tag));
      assert.ok(line, `${tag} is answered:\n${dump}`);
      assert.ok(line.startsWith(`${tag} ${vr} `), `${tag} as ${vr}: ${line}`);
    }
    assert.doesNotMatch(dump, /\) UN /, 'no key answered as UN');
  });
});

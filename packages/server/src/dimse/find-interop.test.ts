/**
 * C-FIND through dcmtk's findscu against the whole platform (issue 15, items 3 and 4):
 * return keys the archive holds no value for come back empty with their own VR, and PN
 * matching of every PN attribute with names in UTF-8 and GB18030.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { buildPart10, encodeDataset, parseDicom, toDicomJson, TRANSFER_SYNTAX, type DicomJsonDataset } from '@yunying/dicom';
import { systemCaller } from '../access/caller.ts';
import { startListeningServer, type ListeningServer } from '../test-support/listening-server.ts';
import { makeSyntheticInstance, newUid } from '../test-support/synthetic-dicom.ts';

const run = promisify(execFile);

describe('C-FIND with findscu', () => {
  let listening: ListeningServer;
  const accession = `F${Date.now() % 1_000_000}`;
  let study: string;
  let gbStudy: string;

  /** findscu's responses: dcmdump's text (VRs as received) and the data sets; `queryFile` is a query in a DICOM file. */
  async function findscu(keys: string[], queryFile?: string): Promise<{ dumps: string[]; datasets: DicomJsonDataset[] }> {
    const outDir = await mkdtemp(path.join(tmpdir(), 'yunying-findscu-'));
    try {
      // -xe: propose explicit VR little endian only, so the VRs on the wire are the SCP's.
      await run('findscu', ['-S', '-xe', '-aec', 'YUNYING', '-X', '-od', outDir, ...keys.flatMap((k) => ['-k', k]), '127.0.0.1', String(listening.dicomPort), ...(queryFile ? [queryFile] : [])]);
      const files = (await readdir(outDir)).filter((file) => file.startsWith('rsp')).sort();
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
    // A study in GB18030 with a referring physician in both groups and a request reference.
    const other = makeSyntheticInstance({ studyInstanceUid: newUid(), accessionNumber: `${accession}-GB` });
    const dataset: DicomJsonDataset = {
      '00080005': { vr: 'CS', Value: ['GB18030'] },
      '00080016': { vr: 'UI', Value: [other.sopClassUid] },
      '00080018': { vr: 'UI', Value: [other.sopInstanceUid] },
      '00080050': { vr: 'SH', Value: [`${accession}-GB`] },
      '00080060': { vr: 'CS', Value: ['CT'] },
      '00080090': { vr: 'PN', Value: [{ Alphabetic: 'Chen^Jing', Ideographic: '陈^静' }] },
      '00100010': { vr: 'PN', Value: [{ Alphabetic: 'Wang^Fang', Ideographic: '王^芳' }] },
      '0020000D': { vr: 'UI', Value: [other.studyInstanceUid] },
      '0020000E': { vr: 'UI', Value: [other.seriesInstanceUid] },
      '00400275': { vr: 'SQ', Value: [{ '00401001': { vr: 'SH', Value: ['RP7'] } }] },
    };
    gbStudy = other.studyInstanceUid;
    const bytes = buildPart10(encodeDataset(dataset, TRANSFER_SYNTAX.EXPLICIT_LE, { specificCharacterSet: 'GB18030' }), { transferSyntaxUid: TRANSFER_SYNTAX.EXPLICIT_LE, sopClassUid: other.sopClassUid, sopInstanceUid: other.sopInstanceUid });
    assert.equal((await listening.server.archive.ingest(systemCaller(), { kind: 'part10', bytes })).outcome, 'stored');
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

  test('ReferringPhysicianName matches per component group, keys in UTF-8 and in GB18030', async () => {
    const utf8 = await findscu(['QueryRetrieveLevel=STUDY', 'SpecificCharacterSet=ISO_IR 192', `AccessionNumber=${accession}-GB`, 'ReferringPhysicianName=陈*', 'StudyInstanceUID']);
    assert.deepEqual(utf8.datasets.map((ds) => ds['0020000D']?.Value?.[0]), [gbStudy]);
    assert.deepEqual(utf8.datasets[0]!['00080090']?.Value, [{ Alphabetic: 'Chen^Jing', Ideographic: '陈^静' }]);
    const lower = await findscu(['QueryRetrieveLevel=STUDY', `AccessionNumber=${accession}-GB`, 'ReferringPhysicianName=chen^jing', 'StudyInstanceUID']);
    assert.equal(lower.datasets.length, 1, 'case-insensitive');

    // findscu sends a query file's bytes as they are: the key in GB18030.
    const dir = await mkdtemp(path.join(tmpdir(), 'yunying-gb-query-'));
    try {
      const gbQuery = async (name: string) => {
        const query: DicomJsonDataset = {
          '00080005': { vr: 'CS', Value: ['GB18030'] },
          '00080050': { vr: 'SH', Value: [`${accession}-GB`] },
          '00080052': { vr: 'CS', Value: ['STUDY'] },
          '00080090': { vr: 'PN', Value: [{ Alphabetic: name }] },
          '0020000D': { vr: 'UI' },
        };
        const file = path.join(dir, `query-${name.length}.dcm`);
        await writeFile(file, buildPart10(encodeDataset(query, TRANSFER_SYNTAX.EXPLICIT_LE, { specificCharacterSet: 'GB18030' }), { transferSyntaxUid: TRANSFER_SYNTAX.EXPLICIT_LE, sopClassUid: '1.2.840.10008.5.1.4.1.2.2.1', sopInstanceUid: newUid() }));
        return (await findscu([], file)).datasets.map((ds) => ds['0020000D']?.Value?.[0]);
      };
      assert.deepEqual(await gbQuery('陈静'), [gbStudy], 'GB18030 key 陈静 finds 陈^静');
      assert.deepEqual(await gbQuery('陈强强'), [], 'and another name does not');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('sequence matching: RequestAttributesSequence[0].RequestedProcedureID', async () => {
    const hit = await findscu(['QueryRetrieveLevel=STUDY', 'RequestAttributesSequence[0].RequestedProcedureID=RP7', 'StudyInstanceUID']);
    assert.deepEqual(hit.datasets.map((ds) => ds['0020000D']?.Value?.[0]), [gbStudy]);
    const items = hit.datasets[0]!['00400275']?.Value as DicomJsonDataset[] | undefined;
    assert.equal(items?.[0]?.['00401001']?.Value?.[0], 'RP7', 'the sequence is returned');
    const miss = await findscu(['QueryRetrieveLevel=STUDY', 'RequestAttributesSequence[0].RequestedProcedureID=RP8', 'StudyInstanceUID']);
    assert.equal(miss.datasets.length, 0);
  });
});

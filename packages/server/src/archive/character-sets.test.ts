import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import iconv from 'iconv-lite';
import { parseDicom, toDicomJson } from '@yunying/dicom';
import { systemCaller } from '../access/caller.ts';
import { startListeningServer } from '../test-support/listening-server.ts';
import { makeSyntheticInstance, newUid } from '../test-support/synthetic-dicom.ts';
import { withAdmin } from '../test-support/admin-auth.ts';

const run = promisify(execFile);
const ESC_GB2312_G1 = Buffer.from([0x1b, 0x24, 0x29, 0x41]); // ESC $ ) A designates GB 2312 to G1

/** "Alpha^Beta=<ideographic family>^<ideographic given>=" in ISO 2022 IR 58: each group re-designates G1 after a delimiter. */
function iso2022Ir58Name(alphabetic: string, family: string, given: string): Buffer {
  const gb = (text: string) => iconv.encode(text, 'gb2312');
  return Buffer.concat([Buffer.from(`${alphabetic}=`), ESC_GB2312_G1, gb(family), Buffer.from('^'), ESC_GB2312_G1, gb(given), Buffer.from('=')]);
}

const PATIENTS = [
  { charset: 'GB18030', bytes: iconv.encode('Zhang^San=张^三=', 'gb18030'), utf8: 'Zhang^San=张^三', search: '张三' },
  { charset: 'GBK', bytes: iconv.encode('Li^Si=李^四=', 'gbk'), utf8: 'Li^Si=李^四', search: '李四' },
  { charset: '\\ISO 2022 IR 58', bytes: iso2022Ir58Name('Wang^Wu', '王', '五'), utf8: 'Wang^Wu=王^五', search: '王五' },
  { charset: 'ISO_IR 192', bytes: Buffer.from('Zhao^Liu=赵^六=', 'utf8'), utf8: 'Zhao^Liu=赵^六', search: '赵*' },
  { charset: 'ISO_IR 100', bytes: iconv.encode('Müller^Jürgen', 'latin1'), utf8: 'Müller^Jürgen', search: 'MÜLLER*' },
];

function personName(dataset: Record<string, { Value?: unknown[] }>): string {
  const name = dataset['00100010']?.Value?.[0] as { Alphabetic?: string; Ideographic?: string } | undefined;
  return [name?.Alphabetic ?? '', name?.Ideographic ?? ''].join('=').replace(/=+$/, '');
}

test('names in GB18030, GBK, ISO 2022 IR 58, UTF-8 and Latin-1 come back as UTF-8 and are found by QIDO-RS and C-FIND', async () => {
  const { server, baseUrl, dicomPort, close } = await startListeningServer();
  try {
    const accession = `CS${Date.now() % 1_000_000}`;
    for (const [index, patient] of PATIENTS.entries()) {
      // Every other text is ASCII, so the data set keeps the declared character set.
      const instance = makeSyntheticInstance({ studyInstanceUid: newUid(), accessionNumber: accession, patientId: `P${index}`, encodedPatientName: { specificCharacterSet: patient.charset, bytes: patient.bytes } });
      const stored = await server.archive.ingest(systemCaller(), { kind: 'part10', bytes: instance.bytes });
      assert.equal(stored.outcome, 'stored');
    }

    for (const patient of PATIENTS) {
      const response = await fetch(`${baseUrl}/dicom-web/studies?AccessionNumber=${accession}&PatientName=${encodeURIComponent(patient.search)}`, withAdmin());
      assert.equal(response.status, 200);
      const results = (await response.json()) as Array<Record<string, { Value?: unknown[] }>>;
      assert.deepEqual(results.map(personName), [patient.utf8], `QIDO PatientName=${patient.search} (${patient.charset})`);
    }

    // findscu sends the key in UTF-8 and declares it; -X writes each response for us to read.
    for (const patient of PATIENTS) {
      const outDir = await mkdtemp(path.join(tmpdir(), 'yunying-findscu-'));
      await run('findscu', ['-S', '-aec', 'YUNYING', '-X', '-od', outDir, '-k', 'QueryRetrieveLevel=STUDY', '-k', 'SpecificCharacterSet=ISO_IR 192', '-k', `AccessionNumber=${accession}`, '-k', `PatientName=${patient.search}`, '127.0.0.1', String(dicomPort)]);
      const files = await readdir(outDir);
      const names = await Promise.all(files.map(async (file) => personName(toDicomJson(parseDicom(await readFile(path.join(outDir, file)))) as Record<string, { Value?: unknown[] }>)));
      assert.deepEqual(names, [patient.utf8], `C-FIND PatientName=${patient.search} (${patient.charset})`);
      await rm(outDir, { recursive: true, force: true });
    }
  } finally {
    await close();
  }
});

/**
 * Issue 12, finding 6: every UI value of a data set must be a UID (digits and dots, at most
 * 64 characters) or the instance is refused at ingest, whichever way it comes in (STOW-RS,
 * C-STORE), with the element named in the reason. A non-numeric Study UID used to be stored
 * and then broke FHIR searches and could not be deleted; a Series UID carrying markup
 * redirected the patient's cloud-film page.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { buildPart10, encodeDataset, parseDicom, toDicomJson, TRANSFER_SYNTAX, type DicomJsonDataset } from '@yunying/dicom';
import { startListeningServer, type ListeningServer } from '../test-support/listening-server.ts';
import { ADMIN_AUTH } from '../test-support/admin-auth.ts';
import { makeSyntheticInstance, newUid, type SyntheticInstanceOptions } from '../test-support/synthetic-dicom.ts';
import { runTool } from '../dimse/dimse-test-support.ts';
import { stowBody } from '../dicomweb/test-support.ts';

const META_REFRESH = '1.2.3"><meta http-equiv="refresh" content="0;url=http://127.0.0.1:1/">';

let server: ListeningServer;
before(async () => {
  server = await startListeningServer();
});
after(async () => {
  await server.close();
});

/** A synthetic CT image with extra or replaced top-level elements. */
function instanceWith(options: SyntheticInstanceOptions, extra: DicomJsonDataset = {}): Buffer {
  const base = makeSyntheticInstance(options);
  if (Object.keys(extra).length === 0) return base.bytes;
  const dataset = { ...toDicomJson(parseDicom(base.bytes), { inlineBinaryMaxBytes: Infinity }), ...extra };
  return buildPart10(encodeDataset(dataset, TRANSFER_SYNTAX.EXPLICIT_LE), { transferSyntaxUid: TRANSFER_SYNTAX.EXPLICIT_LE, sopClassUid: base.sopClassUid, sopInstanceUid: base.sopInstanceUid });
}

async function stow(bytes: Buffer): Promise<{ status: number; comment: string | undefined; body: Record<string, { Value?: Array<Record<string, { Value?: string[] }>> }> }> {
  const { payload, contentType } = stowBody([bytes]);
  const response = await fetch(`${server.baseUrl}/dicom-web/studies`, { method: 'POST', headers: { authorization: ADMIN_AUTH, 'content-type': contentType, accept: 'application/dicom+json' }, body: payload });
  const body = (await response.json()) as Record<string, { Value?: Array<Record<string, { Value?: string[] }>> }>;
  return { status: response.status, comment: body['00081198']?.Value?.[0]?.['00000902']?.Value?.[0], body };
}

/** The studies of a patient, by QIDO-RS. */
async function studiesOf(patientId: string): Promise<string[]> {
  const response = await fetch(`${server.baseUrl}/dicom-web/studies?PatientID=${encodeURIComponent(patientId)}`, { headers: { authorization: ADMIN_AUTH, accept: 'application/dicom+json' } });
  if (response.status === 204) return [];
  assert.equal(response.status, 200);
  return ((await response.json()) as Array<Record<string, { Value: string[] }>>).map((study) => study['0020000D']!.Value[0]!);
}

describe('STOW-RS refuses a UI value that is not a UID, naming the element', () => {
  const cases: Array<[string, SyntheticInstanceOptions, DicomJsonDataset, RegExp]> = [
    ['a non-numeric Study Instance UID', { studyInstanceUid: 'abc' }, {}, /^\(0020,000D\) "abc" is not a valid UID/],
    ['a Series Instance UID carrying a meta refresh', { seriesInstanceUid: META_REFRESH }, {}, /^\(0020,000E\) "1\.2\.3"><meta .* is not a valid UID/],
    ['a SOP Instance UID of 65 characters', { sopInstanceUid: `1.${'2'.repeat(63)}` }, {}, /^\(0008,0018\) .* is not a valid UID: digits and dots, at most 64 characters/],
    ['a UID with an empty component', { studyInstanceUid: '1.2..3' }, {}, /^\(0020,000D\) "1\.2\.\.3" is not a valid UID/],
    ['a Frame of Reference UID (not a key) with letters', {}, { '00200052': { vr: 'UI', Value: ['1.2.3.x'] } }, /^\(0020,0052\) "1\.2\.3\.x" is not a valid UID/],
    ['one bad value of a multi-valued UI element', {}, { '0008001A': { vr: 'UI', Value: ['1.2.840.10008.5.1.4.1.1.2', '1.2.3 4'] } }, /^\(0008,001A\) "1\.2\.3 4" is not a valid UID/],
  ];
  for (const [name, options, extra, reason] of cases) {
    test(name, async () => {
      const patientId = `UID-${newUid().slice(-12)}`;
      const answer = await stow(instanceWith({ ...options, patientId }, extra));
      assert.equal(answer.status, 409, JSON.stringify(answer.body));
      assert.match(answer.comment ?? '', reason);
      assert.deepEqual(await studiesOf(patientId), [], 'nothing of the refused instance was indexed');
    });
  }

  test('valid UIDs are stored: 64 characters, NUL padding, an empty optional UI element', async () => {
    const patientId = `UID-${newUid().slice(-12)}`;
    const studyInstanceUid = `1.${'9'.repeat(62)}`;
    assert.equal(studyInstanceUid.length, 64);
    // encodeDataset pads the odd-length UID with NUL, as PS3.5 6.2 says.
    const answer = await stow(instanceWith({ studyInstanceUid, seriesInstanceUid: '1.2.3', patientId }, { '00200052': { vr: 'UI' } }));
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    assert.deepEqual(await studiesOf(patientId), [studyInstanceUid]);
  });
});

test('C-STORE (storescu) refuses an instance whose Study UID is not a UID with A900 and stores the valid one sent with it', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'yunying-uid-'));
  try {
    const patientId = `UID-${newUid().slice(-12)}`;
    const bad = path.join(dir, 'bad.dcm');
    const good = path.join(dir, 'good.dcm');
    await writeFile(bad, instanceWith({ studyInstanceUid: 'abc', patientId }));
    const valid = makeSyntheticInstance({ patientId });
    await writeFile(good, valid.bytes);
    const result = await runTool('storescu', ['-d', '--no-halt', '-aet', 'UIDSCU', '-aec', 'YUNYING', '127.0.0.1', String(server.dicomPort), bad, good]);
    const output = `${result.stdout}\n${result.stderr}`;
    assert.match(output, /0xa900/i, output);
    assert.match(output, /is not a valid UID/, output);
    assert.deepEqual(await studiesOf(patientId), [valid.studyInstanceUid]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

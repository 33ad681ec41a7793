/** Request parsing of DICOMweb: media types and Accept (media-types.ts), QIDO parameters (qido.ts). The multipart tests live with the parser, in packages/dicom/src/multipart.test.ts. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { multipartRequests, parseAccept, parseMediaType } from './media-types.ts';
import { buildQuery } from './qido.ts';
import { YunyingError } from '../errors.ts';

test('media types: quoting variants and Accept multipart requests', () => {
  assert.equal(parseMediaType('multipart/related; type="application/dicom"; boundary="a;b"').params.boundary, 'a;b');
  assert.equal(parseMediaType('Multipart/Related;type=application/dicom;boundary=abc').params.boundary, 'abc');
  const accept = parseAccept('multipart/related; type="application/dicom"; transfer-syntax=*, application/json;q=0.5');
  assert.deepEqual(multipartRequests(accept, 'application/dicom')[0], { partType: 'application/dicom', transferSyntax: '*' });
  assert.equal(accept[1]!.type, 'application/json');
});

test('QIDO parameters: keywords, tags, includefield, limit/offset, path UIDs', () => {
  const { request, fuzzyMatchingRequested } = buildQuery(
    'STUDY',
    { PatientName: '王*', '0020000d': '1.2.3,1.2.4', includefield: ['StudyDescription,00080061', 'all'], limit: '5', offset: '10', fuzzymatching: 'true', SeriesNumber: '3' },
    {},
  );
  assert.deepEqual(request.keys['00100010'], { vr: 'PN', Value: [{ Alphabetic: '王*' }] });
  assert.deepEqual(request.keys['0020000D'], { vr: 'UI', Value: ['1.2.3', '1.2.4'] });
  assert.deepEqual(request.keys['00081030'], { vr: 'LO' });
  assert.deepEqual(request.keys['00080061'], { vr: 'CS' });
  assert.deepEqual(request.keys['00200011'], { vr: 'IS', Value: [3] });
  assert.equal(request.includeAllFields, true);
  assert.equal(request.limit, 5);
  assert.equal(request.offset, 10);
  assert.equal(fuzzyMatchingRequested, true);

  const series = buildQuery('SERIES', { Modality: 'CT', PatientName: '' }, { studyInstanceUid: '1.2.3' }).request;
  assert.deepEqual(series.keys['0020000D'], { vr: 'UI', Value: ['1.2.3'] });
  assert.deepEqual(series.keys['00100010'], { vr: 'PN' });

  const nested = buildQuery('IMAGE', { 'ReferencedSeriesSequence.SeriesInstanceUID': '1.2' }, {}).request;
  assert.deepEqual(nested.keys['00081115'], { vr: 'SQ', Value: [{ '0020000E': { vr: 'UI', Value: ['1.2'] } }] });

  for (const bad of [{ Nonsense: 'x' }, { limit: '-1' }, { offset: 'abc' }, { fuzzymatching: 'maybe' }, { SeriesNumber: 'abc' }, { StudyInstanceUID: 'not a uid' }]) {
    assert.throws(() => buildQuery('STUDY', bad, {}), (e: unknown) => e instanceof YunyingError && e.httpStatus === 400, JSON.stringify(bad));
  }
  assert.throws(() => buildQuery('SERIES', { StudyInstanceUID: '9.9' }, { studyInstanceUid: '1.2.3' }), YunyingError);
});

test('transfer syntax negotiation (PS3.18 8.7.3): instance default, *, named and q order; frames native or stored', async () => {
  const { negotiateInstances, negotiateFrames } = await import('./media-types.ts');
  const ELE = '1.2.840.10008.1.2.1';
  const JLS = '1.2.840.10008.1.2.4.80';
  const decodes = (from: string, to: string) => from === to || to === ELE || to === '1.2.840.10008.1.2';
  const instances = (accept: string, stored = [JLS]) => negotiateInstances(parseAccept(accept), stored, decodes, true);
  assert.deepEqual(instances('multipart/related; type="application/dicom"'), { singlePart: false, transferSyntax: ELE, defaulted: true });
  assert.deepEqual(instances('application/dicom; transfer-syntax=*'), { singlePart: true, transferSyntax: '*', defaulted: false });
  assert.deepEqual(instances(`*/*`), { singlePart: false, transferSyntax: ELE, defaulted: true });
  assert.equal(instances('multipart/related; type="application/dicom"; transfer-syntax=1.2.840.10008.1.2.4.50'), undefined);
  assert.equal(instances('application/dicom+json'), undefined);
  assert.equal(instances('multipart/related; type="application/dicom"; transfer-syntax=1.2.840.10008.1.2.4.50, application/dicom; transfer-syntax=1.2.840.10008.1.2; q=0.4')!.transferSyntax, '1.2.840.10008.1.2');

  const jls = { mediaType: 'image/jls', transferSyntax: JLS };
  const native = { mediaType: 'application/octet-stream', transferSyntax: ELE };
  const frames = (accept: string, rep = jls, canDecode = true) => negotiateFrames(parseAccept(accept), rep, canDecode);
  assert.equal(frames('multipart/related; type="application/octet-stream"'), 'native');
  assert.equal(frames('multipart/related; type="application/octet-stream"', jls, false), undefined);
  assert.equal(frames('multipart/related; type="application/octet-stream"; transfer-syntax=*'), 'stored');
  assert.equal(frames('multipart/related; type="image/jls"'), 'stored');
  assert.equal(frames('multipart/related; type="image/jpeg"'), undefined);
  assert.equal(frames('multipart/related; type="application/octet-stream"', native, false), 'stored');
  assert.equal(frames('multipart/related; type="image/jpeg", multipart/related; type="application/octet-stream"; q=0.5'), 'native');
});

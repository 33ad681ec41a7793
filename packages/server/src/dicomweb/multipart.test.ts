import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeMultipart, splitMultipart, MultipartError } from './multipart.ts';
import { multipartRequests, parseAccept, parseMediaType } from './media-types.ts';
import { buildQuery } from './qido.ts';
import { YunyingError } from '../errors.ts';

test('splitMultipart: boundary at start, preamble CRLF, binary bodies containing CRLF and dashes', () => {
  const a = Buffer.from([0, 1, 13, 10, 45, 45, 2]);
  const b = Buffer.from('second\r\n--not-the-boundary');
  const body = Buffer.concat([
    Buffer.from('--xyz\r\nContent-Type: application/dicom\r\n\r\n'), a,
    Buffer.from('\r\n--xyz\r\ncontent-type: application/dicom\r\n\r\n'), b,
    Buffer.from('\r\n--xyz--\r\n'),
  ]);
  const parts = splitMultipart(body, 'xyz');
  assert.equal(parts.length, 2);
  assert.deepEqual(parts[0]!.body, a);
  assert.deepEqual(parts[1]!.body, b);
  assert.equal(parts[1]!.headers['content-type'], 'application/dicom');

  const withPreamble = Buffer.concat([Buffer.from('\r\n'), body]);
  assert.equal(splitMultipart(withPreamble, 'xyz').length, 2);
});

test('splitMultipart: missing close delimiter keeps the last part; no boundary is an error', () => {
  const body = Buffer.from('--b\r\nContent-Type: application/dicom\r\n\r\nhello\r\n');
  const parts = splitMultipart(body, 'b');
  assert.equal(parts.length, 1);
  assert.equal(parts[0]!.body.toString(), 'hello');
  assert.throws(() => splitMultipart(Buffer.from('no boundary here'), 'b'), MultipartError);
});

test('encodeMultipart round-trips through splitMultipart', () => {
  const parts = [
    { contentType: 'application/dicom', body: Buffer.from('one') },
    { contentType: 'application/dicom', body: Buffer.from('two\r\n--') },
  ];
  const whole = encodeMultipart('B', parts);
  assert.ok(whole.toString('latin1').startsWith('--B\r\n'), 'first boundary at offset 0 (dicomweb-client expects it)');
  assert.deepEqual(splitMultipart(whole, 'B').map((p) => p.body.toString()), ['one', 'two\r\n--']);
});

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

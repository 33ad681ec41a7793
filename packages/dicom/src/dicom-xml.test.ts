import { test } from 'node:test';
import assert from 'node:assert/strict';
import { toDicomXml } from './dicom-xml.ts';

test('the Native DICOM Model: escapes, numbered values, empty values, binary, private tags, PN groups', () => {
  const xml = toDicomXml({
    '00081030': { vr: 'LO', Value: ['CT <chest> & "abdomen"\u001b'] },
    '00200032': { vr: 'DS', Value: [1.5, null, -2] },
    '00100010': { vr: 'PN', Value: [{ Alphabetic: 'Wang^Xiao^^Dr', Ideographic: '王^小' }] },
    '00100020': { vr: 'LO' },
    '00291010': { vr: 'OB', InlineBinary: 'AAEC' },
    '7FE00010': { vr: 'OB', BulkDataURI: 'http://x/bulk?a=1&b=2' },
  });
  assert.match(xml, /<DicomAttribute tag="00081030" vr="LO" keyword="StudyDescription"><Value number="1">CT &lt;chest&gt; &amp; &quot;abdomen&quot;<\/Value><\/DicomAttribute>/);
  assert.match(xml, /<DicomAttribute tag="00200032" vr="DS" keyword="ImagePositionPatient"><Value number="1">1.5<\/Value><Value number="2"\/><Value number="3">-2<\/Value><\/DicomAttribute>/);
  assert.match(xml, /<PersonName number="1"><Alphabetic><FamilyName>Wang<\/FamilyName><GivenName>Xiao<\/GivenName><NamePrefix>Dr<\/NamePrefix><\/Alphabetic><Ideographic><FamilyName>王<\/FamilyName><GivenName>小<\/GivenName><\/Ideographic><\/PersonName>/);
  assert.match(xml, /<DicomAttribute tag="00100020" vr="LO" keyword="PatientID"\/>/);
  assert.match(xml, /<DicomAttribute tag="00291010" vr="OB"><InlineBinary>AAEC<\/InlineBinary><\/DicomAttribute>/);
  assert.match(xml, /<BulkData uri="http:\/\/x\/bulk\?a=1&amp;b=2"\/>/);
  // attributes in tag order
  assert.ok(xml.indexOf('00081030') < xml.indexOf('00100010') && xml.indexOf('00100010') < xml.indexOf('7FE00010'));
});

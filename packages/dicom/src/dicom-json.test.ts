import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseDicom } from './parse.ts';
import { toDicomJson } from './dicom-json.ts';
import type { DicomJsonDataset } from './types.ts';
import { CT, readSample } from '@yunying/testing/samples';

const ct = (path: string = CT.explicit) => parseDicom(readSample(path));

describe('toDicomJson', () => {
  it('a CT: numbers for US/IS/DS, PN objects, sorted uppercase keys, no meta or group lengths', () => {
    const json = toDicomJson(ct());
    assert.deepEqual(json['00280010'], { vr: 'US', Value: [512] });
    assert.deepEqual(json['00100010'], { vr: 'PN', Value: [{ Alphabetic: 'MISTER^CT' }] });
    assert.equal(typeof json['00200013']!.Value![0], 'number');
    assert.equal(typeof json['00180050']!.Value![0], 'number');
    assert.deepEqual(json['00080008']!.Value, ['ORIGINAL', 'PRIMARY', 'AXIAL']);
    const keys = Object.keys(json);
    assert.deepEqual(keys, [...keys].sort());
    assert.ok(keys.every((k) => /^[0-9A-F]{8}$/.test(k) && !k.startsWith('0002') && !k.endsWith('0000')));
    assert.ok(Object.values(json).every((e) => typeof e.vr === 'string' && e.vr.length === 2));
  });

  it('pixel data: BulkDataURI with the tag path, bare vr without a bulk URI, dropped with omitBinary', () => {
    assert.deepEqual(toDicomJson(ct(), { bulkDataUri: (p) => `/bulk/${p}` })['7FE00010'], { vr: 'OW', BulkDataURI: '/bulk/7FE00010' });
    assert.deepEqual(toDicomJson(ct())['7FE00010'], { vr: 'OW' });
    const omitted = toDicomJson(ct(), { omitBinary: true });
    assert.equal(omitted['7FE00010'], undefined);
    assert.ok(Object.values(omitted).every((e) => !['OB', 'OW', 'UN'].includes(e.vr)));
  });

  it('inlines binary up to inlineBinaryMaxBytes', () => {
    const json = toDicomJson(ct(), { inlineBinaryMaxBytes: Infinity });
    assert.equal(Buffer.from(json['7FE00010']!.InlineBinary!, 'base64').length, 512 * 512 * 2);
  });

  it('implicit VR gets VRs from the dictionary and equals the explicit encoding for standard tags', () => {
    const standard = (json: DicomJsonDataset) =>
      Object.fromEntries(Object.entries(json).filter(([k]) => Number.parseInt(k.slice(0, 4), 16) % 2 === 0));
    const explicit = standard(toDicomJson(ct(), { omitBinary: true }));
    for (const path of [CT.implicit, CT.bigEndian, CT.deflated]) {
      assert.deepEqual(standard(toDicomJson(ct(path), { omitBinary: true })), explicit, path);
    }
  });

  it('big endian binary is inlined in little-endian byte order', () => {
    const little = toDicomJson(ct(), { inlineBinaryMaxBytes: Infinity })['7FE00010']!.InlineBinary;
    const big = toDicomJson(ct(CT.bigEndian), { inlineBinaryMaxBytes: Infinity })['7FE00010']!.InlineBinary;
    assert.equal(big, little);
  });

  it('sequences become arrays of item data sets with tag paths for bulk data', () => {
    const json = toDicomJson(parseDicom(readSample('modality/sr/comprehensive_sr_dcmtk.dcm')), { bulkDataUri: (p) => p });
    const content = json['0040A730']!;
    assert.equal(content.vr, 'SQ');
    const items = content.Value as DicomJsonDataset[];
    assert.ok(items.length > 0 && items.every((item) => typeof item === 'object' && item['0040A010']?.vr === 'CS'));
  });

  it('a CT converts in a few milliseconds', () => {
    const parsed = ct();
    toDicomJson(parsed);
    const start = performance.now();
    for (let i = 0; i < 10; i++) toDicomJson(parsed, { bulkDataUri: (p) => p });
    assert.ok((performance.now() - start) / 10 < 20);
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseDicom } from './parse.ts';
import { toDicomJson } from './dicom-json.ts';
import { encodeDataset, formatDecimal } from './dataset-writer.ts';
import { TRANSFER_SYNTAX, type DicomJsonDataset } from './types.ts';
import { CT, readSample } from '@yunying/testing/samples';

const json = (bytes: Uint8Array, transferSyntaxUid?: string) =>
  toDicomJson(parseDicom(bytes, { transferSyntaxUid }), { inlineBinaryMaxBytes: Infinity });

function roundTrip(source: DicomJsonDataset, transferSyntaxUid: string): DicomJsonDataset {
  return json(encodeDataset(source, transferSyntaxUid), transferSyntaxUid);
}

describe('encodeDataset', () => {
  const samples = [CT.explicit, 'charset/chrX1.dcm', 'charset/chrFrenMulti.dcm', 'modality/sr/comprehensive_sr_dcmtk.dcm',
    'modality/rt/rtplan.dcm', 'charset/chrSQEncoding.dcm'];
  for (const path of samples) {
    it(`round-trips ${path} in explicit VR LE`, () => {
      const original = json(readSample(path));
      assert.deepEqual(roundTrip(original, TRANSFER_SYNTAX.EXPLICIT_LE), rewriteCharset(original));
    });
  }

  it('round-trips the implicit VR CT in implicit VR LE', () => {
    const original = json(readSample(CT.implicit));
    assert.deepEqual(roundTrip(original, TRANSFER_SYNTAX.IMPLICIT_LE), original);
  });

  it('writes non-ASCII text as UTF-8 under ISO_IR 192 (GB18030 source)', () => {
    const original = json(readSample('charset/chrX2.dcm'));
    const again = roundTrip(original, TRANSFER_SYNTAX.EXPLICIT_LE);
    assert.deepEqual(again['00080005'], { vr: 'CS', Value: ['ISO_IR 192'] });
    assert.deepEqual(again['00100010']!.Value, [{ Alphabetic: 'Wang^XiaoDong', Ideographic: '王^小东' }]);
    assert.deepEqual(again, rewriteCharset(original));
  });

  it('pads to even length: UI with NUL, text with space, and writes every VR kind', () => {
    const dataset: DicomJsonDataset = {
      '00100020': { vr: 'LO', Value: ['ABC'] },
      '00080018': { vr: 'UI', Value: ['1.2.3'] },
      '00280010': { vr: 'US', Value: [512] },
      '00181063': { vr: 'DS', Value: [0.1 + 0.2] },
      '00200013': { vr: 'IS', Value: [7] },
      '00280009': { vr: 'AT', Value: ['00181063'] },
      '00720078': { vr: 'UV', Value: [Number.MAX_SAFE_INTEGER] },
      '00100010': { vr: 'PN', Value: [{ Alphabetic: 'Doe^J', Phonetic: 'dou' }] },
      '00081115': { vr: 'SQ', Value: [{ '0020000E': { vr: 'UI', Value: ['1.2'] } }, {}] },
      '00091010': { vr: 'OB', InlineBinary: Buffer.from([1, 2, 3]).toString('base64') },
    };
    const bytes = encodeDataset(dataset, TRANSFER_SYNTAX.EXPLICIT_LE);
    assert.ok(bytes.includes(Buffer.from('1.2.3\0')) && bytes.includes(Buffer.from('ABC ')));
    const back = json(bytes, TRANSFER_SYNTAX.EXPLICIT_LE);
    assert.deepEqual(back['00181063']!.Value, [0.3]);
    assert.deepEqual(back['00100010']!.Value, [{ Alphabetic: 'Doe^J', Phonetic: 'dou' }]);
    assert.deepEqual(back['00280009']!.Value, ['00181063']);
    assert.deepEqual(back['00720078']!.Value, [Number.MAX_SAFE_INTEGER]);
    assert.deepEqual(back['00081115']!.Value, [{ '0020000E': { vr: 'UI', Value: ['1.2'] } }, {}]);
    assert.equal(back['00091010']!.InlineBinary, Buffer.from([1, 2, 3, 0]).toString('base64'));
    assert.equal(back['00080005'], undefined, 'ASCII-only data sets get no character set');
  });

  it('keeps Decimal Strings within 16 characters', () => {
    for (const n of [0.1 + 0.2, -1234567.891011121, 1e-20, 123456789012345680000]) {
      assert.ok(formatDecimal(n).length <= 16, formatDecimal(n));
      assert.ok(Math.abs(Number(formatDecimal(n)) - n) <= Math.abs(n) * 1e-9);
    }
  });

  it('refuses other transfer syntaxes', () => {
    assert.throws(() => encodeDataset({}, TRANSFER_SYNTAX.EXPLICIT_BE), /unsupported transfer syntax/);
  });
});

/** What the writer promises for the character set: ISO_IR 192 wherever text is not ASCII. */
function rewriteCharset(dataset: DicomJsonDataset): DicomJsonDataset {
  const text = JSON.stringify(dataset);
  if (!/[^\p{ASCII}]/u.test(text)) return dataset;
  return JSON.parse(text.replace(/"00080005":\{"vr":"CS","Value":\[[^\]]*\]\}/g, '"00080005":{"vr":"CS","Value":["ISO_IR 192"]}')) as DicomJsonDataset;
}

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DicomParseError, parseDicom } from './parse.ts';
import { readIndexAttributes } from './index-attributes.ts';
import { IMPLEMENTATION_CLASS_UID, IMPLEMENTATION_VERSION_NAME, buildPart10, splitPart10 } from './part10.ts';
import { CT, readManifest, readSample } from '@yunying/testing/samples';

describe('splitPart10', () => {
  it('reads the header of every Part 10 sample without parsing the data set', () => {
    for (const row of readManifest()) {
      const bytes = readSample(row.path);
      if (bytes.subarray(128, 132).toString('latin1') !== 'DICM') continue;
      if (row.path === 'malformed/preamble_but_no_meta_dicm_in_data.dcm') {
        // "DICM" at 128 is part of the data: no group 0002 follows, so it is not Part 10.
        assert.throws(() => splitPart10(bytes), DicomParseError);
        continue;
      }
      const header = splitPart10(bytes);
      assert.ok(header.datasetOffset > 132 && header.datasetOffset <= bytes.length, row.path);
      if (/^[0-9.]+$/.test(row.transfer_syntax_uid ?? '')) assert.equal(header.transferSyntaxUid, row.transfer_syntax_uid, row.path);
    }
  });

  it('gives the same SOP Instance UID as the data set', () => {
    const bytes = readSample(CT.explicit);
    assert.equal(splitPart10(bytes).sopInstanceUid, readIndexAttributes(parseDicom(bytes)).sopInstanceUid);
  });

  it('throws DicomParseError for input that is not Part 10', () => {
    for (const input of [new Uint8Array(0), new Uint8Array(200), readSample('malformed/no_meta_explicit_le.dcm')]) {
      assert.throws(() => splitPart10(input), DicomParseError);
    }
  });

  it('guesses the transfer syntax when File Meta lacks (0002,0010)', () => {
    assert.equal(splitPart10(readSample('malformed/meta_missing_transfer_syntax.dcm')).transferSyntaxUid, '1.2.840.10008.1.2');
  });
});

describe('buildPart10', () => {
  const source = readSample(CT.explicit);
  const { datasetOffset, transferSyntaxUid, sopClassUid, sopInstanceUid } = splitPart10(source);
  const dataset = source.subarray(datasetOffset);
  const file = buildPart10(dataset, { transferSyntaxUid, sopClassUid, sopInstanceUid, sourceAeTitle: 'TOWNSHIP_CT' });

  it('splitPart10 gives back the data set byte for byte', () => {
    const header = splitPart10(file);
    assert.deepEqual(header, { transferSyntaxUid, sopClassUid, sopInstanceUid, datasetOffset: header.datasetOffset });
    assert.ok(file.subarray(header.datasetOffset).equals(dataset));
  });

  it('writes preamble, DICM and a File Meta group with a correct group length', () => {
    assert.ok(file.subarray(0, 128).every((b) => b === 0));
    assert.equal(file.subarray(128, 132).toString('latin1'), 'DICM');
    const meta = parseDicom(file).meta!;
    assert.equal((meta['00020000']!.Value![0] as number) + 132 + 12, splitPart10(file).datasetOffset);
    assert.deepEqual(meta['00020012']!.Value, [IMPLEMENTATION_CLASS_UID]);
    assert.deepEqual(meta['00020013']!.Value, [IMPLEMENTATION_VERSION_NAME]);
    assert.deepEqual(meta['00020016']!.Value, ['TOWNSHIP_CT']);
    assert.equal(meta['00020001']!.InlineBinary, Buffer.from([0, 1]).toString('base64'));
  });

  it('the built file parses like the original', () => {
    assert.deepEqual(readIndexAttributes(parseDicom(file)), readIndexAttributes(parseDicom(source)));
  });
});

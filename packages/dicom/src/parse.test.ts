import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DicomParseError, parseDicom } from './parse.ts';
import { readIndexAttributes } from './index-attributes.ts';
import { toDicomJson } from './dicom-json.ts';
import { splitPart10 } from './part10.ts';
import { CT, manifestUid, readManifest, readSample } from '@yunying/testing/samples';

/** Runs fn and requires it to succeed or fail with DicomParseError, nothing else. */
function parsesOrRejects(fn: () => unknown): void {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof DicomParseError, `expected DicomParseError, got ${String(error)}`);
    assert.ok((error as Error).message.length > 0);
  }
}

/**
 * The SOP Instance UID via readIndexAttributes; objects that are not part of a study
 * (hanging protocol, colour palette) legitimately fail it, so read the element directly.
 */
function sopInstanceUid(parsed: ReturnType<typeof parseDicom>): unknown {
  try {
    return readIndexAttributes(parsed).sopInstanceUid;
  } catch (error) {
    assert.ok(error instanceof DicomParseError && /missing (Study|Series) Instance UID/.test(error.message), String(error));
    return toDicomJson(parsed)['00080018']?.Value?.[0];
  }
}

describe('parseDicom: every well-formed sample', () => {
  const rows = readManifest().filter((row) => !row.path.startsWith('malformed/'));
  it('parses in full and up to Pixel Data, and the SOP Instance UID matches MANIFEST', () => {
    let compared = 0;
    for (const row of rows) {
      const bytes = readSample(row.path);
      const full = parseDicom(bytes);
      const indexed = parseDicom(bytes, { untilPixelData: true });
      const uid = manifestUid(row);
      if (!uid) continue;
      assert.equal(sopInstanceUid(indexed), uid, row.path);
      assert.equal(sopInstanceUid(full), uid, row.path);
      compared++;
    }
    assert.ok(compared > 150, `only ${compared} UIDs compared`);
  });

  it('reports a missing required UID as DicomParseError', () => {
    // chrSQEncoding.dcm is a charset fragment with no SOP Class / Instance UID.
    assert.throws(() => readIndexAttributes(parseDicom(readSample('charset/chrSQEncoding.dcm'))),
      (e: unknown) => e instanceof DicomParseError && /missing SOP Class UID \(0008,0016\)/.test(e.message));
  });
});

describe('parseDicom: malformed samples', () => {
  const rows = readManifest().filter((row) => row.path.startsWith('malformed/'));
  for (const row of rows) {
    it(`${row.path} parses or throws DicomParseError`, { timeout: 5000 }, () => {
      const bytes = readSample(row.path);
      parsesOrRejects(() => readIndexAttributes(parseDicom(bytes, { untilPixelData: true })));
      parsesOrRejects(() => toDicomJson(parseDicom(bytes), { bulkDataUri: (path) => path }));
    });
  }

  it('names the element whose length runs past the end (3 GB Pixel Data)', () => {
    const bytes = readSample('malformed/truncated_3gb_pixel_length.dcm');
    for (const options of [{}, { untilPixelData: true }]) {
      assert.throws(() => parseDicom(bytes, options), (e: unknown) => e instanceof DicomParseError
        && /truncated data set: element \(7FE0,0010\) length 3221225472 exceeds the \d+ bytes left/.test(e.message));
    }
  });

  it('rejects a truncated Pixel Data element and a data set cut inside a sequence', () => {
    assert.throws(() => parseDicom(readSample('malformed/truncated_pixel_data.dcm')), DicomParseError);
    assert.throws(() => parseDicom(readSample('malformed/truncated_mid_dataset_rtplan.dcm')), /truncated/);
  });

  it('reads bare data sets and files without preamble, guessing the transfer syntax', () => {
    assert.equal(parseDicom(readSample('malformed/no_meta_explicit_be.dcm')).transferSyntaxUid, '1.2.840.10008.1.2.2');
    assert.equal(parseDicom(readSample('malformed/no_meta_explicit_le.dcm')).transferSyntaxUid, '1.2.840.10008.1.2.1');
    const acrNema = parseDicom(readSample('malformed/no_meta_implicit_cr_acrnema_style.dcm'));
    assert.equal(acrNema.transferSyntaxUid, '1.2.840.10008.1.2');
    assert.equal(acrNema.transferSyntaxGuessed, true);
    assert.equal(readIndexAttributes(acrNema).sopInstanceUid, '1.2.392.200036.9125.0.19950720112207');
  });
});

describe('parseDicom: input forms and transfer syntaxes', () => {
  const explicit = readSample(CT.explicit);
  const reference = readIndexAttributes(parseDicom(explicit));

  it('deflated, big endian and implicit CTs index the same as explicit LE', () => {
    for (const path of [CT.deflated, CT.bigEndian, CT.implicit]) {
      const attributes = readIndexAttributes(parseDicom(readSample(path), { untilPixelData: true }));
      assert.deepEqual({ ...attributes, transferSyntaxUid: '' }, { ...reference, transferSyntaxUid: '' }, path);
    }
    assert.equal(reference.rows, 512);
    assert.equal(readIndexAttributes(parseDicom(readSample(CT.bigEndian))).columns, 512);
  });

  it('"DICM" at offset 0 (no preamble) and a bare DIMSE data set with options.transferSyntaxUid', () => {
    const noPreamble = parseDicom(explicit.subarray(128));
    assert.equal(readIndexAttributes(noPreamble).sopInstanceUid, reference.sopInstanceUid);
    const { datasetOffset, transferSyntaxUid } = splitPart10(explicit);
    const bare = parseDicom(explicit.subarray(datasetOffset), { transferSyntaxUid });
    assert.equal(bare.meta, undefined);
    assert.equal(readIndexAttributes(bare).sopInstanceUid, reference.sopInstanceUid);
    assert.equal(readIndexAttributes(bare).transferSyntaxUid, transferSyntaxUid);
  });

  it('exposes the file meta group as DICOM JSON', () => {
    const meta = parseDicom(explicit).meta!;
    assert.deepEqual(meta['00020010'], { vr: 'UI', Value: ['1.2.840.10008.1.2.1'] });
  });

  it('turns empty input, garbage and every truncation of a CT into DicomParseError', () => {
    assert.throws(() => parseDicom(new Uint8Array(0)), DicomParseError);
    const garbage = new Uint8Array(4096).map((_, i) => (i * 7919) % 251);
    parsesOrRejects(() => readIndexAttributes(parseDicom(garbage)));
    for (const source of [explicit, readSample(CT.implicit), readSample(CT.bigEndian), readSample(CT.deflated)]) {
      // Header cuts are the interesting ones; a few cuts inside Pixel Data cover the rest.
      const cuts = [...Array.from({ length: 120 }, (_, i) => 1 + i * 37), ...Array.from({ length: 8 }, (_, i) => Math.floor((source.length * (i + 1)) / 9))];
      for (const cut of cuts) {
        parsesOrRejects(() => readIndexAttributes(parseDicom(source.subarray(0, cut), { untilPixelData: true })));
        parsesOrRejects(() => toDicomJson(parseDicom(source.subarray(0, cut))));
      }
    }
  });

  it('stops before Pixel Data quickly without copying it', () => {
    const parsed = parseDicom(explicit, { untilPixelData: true });
    assert.equal(parsed.stoppedAtPixelData, true);
    assert.equal(parsed.bytes, explicit);
  });
});

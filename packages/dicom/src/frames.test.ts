import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DicomParseError, parseDicom } from './parse.ts';
import { countFrames, getFrame, getPixelDataInfo } from './frames.ts';
import { CT, readManifest, readSample, sampleFiles } from '@yunying/testing/samples';

describe('frames: the same CT slice in every transfer syntax', () => {
  const files = sampleFiles('transfer-syntax/ct-same-image');

  it('frame 1 is obtainable from each file', () => {
    assert.ok(files.length >= 15);
    for (const file of files) {
      const parsed = parseDicom(readSample(file));
      assert.equal(countFrames(parsed), 1, file);
      const frame = getFrame(parsed, 1);
      assert.ok(frame.length > 1000, `${file}: ${frame.length} bytes`);
    }
  });

  it('native little-endian files give identical frame bytes; big endian is the same data swapped', () => {
    const explicit = getFrame(parseDicom(readSample(CT.explicit)), 1);
    assert.equal(explicit.length, 512 * 512 * 2);
    for (const path of [CT.implicit, CT.deflated]) assert.ok(Buffer.from(getFrame(parseDicom(readSample(path)), 1)).equals(Buffer.from(explicit)), path);
    const big = Buffer.from(getFrame(parseDicom(readSample(CT.bigEndian)), 1));
    assert.ok(big.swap16().equals(Buffer.from(explicit)));
  });

  it('describes the pixel data', () => {
    const info = getPixelDataInfo(parseDicom(readSample(CT.explicit)))!;
    assert.equal(info.rows, 512);
    assert.equal(info.columns, 512);
    assert.equal(info.bitsAllocated, 16);
    assert.equal(info.encapsulated, false);
    assert.equal(getPixelDataInfo(parseDicom(readSample(`transfer-syntax/ct-same-image/ct_1.2.840.10008.1.2.4.50_jpeg-baseline.dcm`)))!.encapsulated, true);
  });
});

describe('frames: multi-frame and encapsulation edge cases', () => {
  const rows = readManifest().filter((row) => Number(row.number_of_frames) > 1 && !row.path.startsWith('malformed/'));

  it('countFrames matches MANIFEST and every frame is obtainable', () => {
    assert.ok(rows.length >= 8);
    for (const row of rows) {
      const parsed = parseDicom(readSample(row.path));
      const frames = countFrames(parsed);
      assert.equal(frames, Number(row.number_of_frames), row.path);
      const sizes = new Set<number>();
      for (let n = 1; n <= frames; n++) {
        const frame = getFrame(parsed, n);
        assert.ok(frame.length > 0, `${row.path} frame ${n}`);
        sizes.add(frame.length);
      }
      if (!getPixelDataInfo(parsed)!.encapsulated) assert.equal(sizes.size, 1, `${row.path}: native frames differ in size`);
    }
  });

  it('bit-packed 1-bit frames (SEG)', () => {
    const parsed = parseDicom(readSample('modality/seg/seg_ct_binary.dcm'));
    assert.equal(getFrame(parsed, 3).length, (16 * 16) / 8);
  });

  it('throws RangeError out of range, and refuses data parsed with untilPixelData', () => {
    const parsed = parseDicom(readSample(CT.explicit));
    for (const n of [0, 2, 1.5, -1]) assert.throws(() => getFrame(parsed, n), RangeError);
    assert.throws(() => getFrame(parseDicom(readSample('modality/sr/basic_text_sr.dcm')), 1), RangeError);
    assert.equal(countFrames(parseDicom(readSample('modality/sr/basic_text_sr.dcm'))), 0);
    assert.throws(() => getFrame(parseDicom(readSample(CT.explicit), { untilPixelData: true }), 1), /untilPixelData/);
  });

  it('malformed pixel data fails with DicomParseError, never another error', () => {
    for (const row of readManifest().filter((r) => r.path.startsWith('malformed/'))) {
      let parsed;
      try {
        parsed = parseDicom(readSample(row.path));
      } catch {
        continue;
      }
      for (let n = 1; n <= countFrames(parsed); n++) {
        try {
          getFrame(parsed, n);
        } catch (error) {
          assert.ok(error instanceof DicomParseError, `${row.path} frame ${n}: ${String(error)}`);
        }
      }
    }
  });
});

/**
 * WADO-RS transfer syntax negotiation (PS3.18 8.7.3; issue 15, item 1) over a real socket:
 * the Explicit VR LE default, `*` as stored, named syntaxes produced or 406, decoded frames
 * and Pixel Data for application/octet-stream, the stored frames for their own media type,
 * and the framing of converted (chunked) and as-stored (Content-Length) multipart bodies.
 * Decoded pixels are compared with dcmtk's decompressors.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { getFrame, getPixelDataInfo, parseDicom, splitPart10, type ParsedDicom } from '@yunying/dicom';
import { runTool } from '@yunying/testing/dcmtk';
import { samplePath } from '@yunying/testing/samples';
import { systemCaller } from '../access/caller.ts';
import { BASIC_AUTH, createTestApp, readMultipart, type TestApp } from './test-support.ts';

const EXPLICIT_LE = '1.2.840.10008.1.2.1';
const IMPLICIT_LE = '1.2.840.10008.1.2';
const CT = 'transfer-syntax/ct-same-image';
const SAMPLES = {
  explicit: `${CT}/ct_1.2.840.10008.1.2.1_explicit-vr-le.dcm`,
  jpegLossless: `${CT}/ct_1.2.840.10008.1.2.4.70_jpeg-lossless-sv1.dcm`,
  jpegLs: `${CT}/ct_1.2.840.10008.1.2.4.80_jpegls-lossless.dcm`,
  rle: `${CT}/ct_1.2.840.10008.1.2.5_rle.dcm`,
  bigEndian: `${CT}/ct_1.2.840.10008.1.2.2_explicit-vr-be.dcm`,
} as const;
type Name = keyof typeof SAMPLES;

const newUid = (): string => `2.25.${BigInt(`0x${randomUUID().replace(/-/g, '')}`)}`;

/** Every frame's bytes, one after another. */
function pixelBytes(parsed: ParsedDicom): Buffer {
  const info = getPixelDataInfo(parsed)!;
  return Buffer.concat(Array.from({ length: info.numberOfFrames }, (_, i) => getFrame(parsed, i + 1)));
}

describe('WADO-RS transfer syntaxes', () => {
  let t: TestApp;
  let base: string;
  let work: string;
  const study = newUid();
  const series = newUid();
  const stored = new Map<Name, { bytes: Buffer; sop: string; file: string }>();
  /** what dcmtk decompresses each instance to (dcmdjpeg, dcmdjpls, dcmdrle; dcmconv for big endian) */
  const reference = new Map<Name, ParsedDicom>();

  const get = (url: string, accept?: string) => fetch(`${base}${url}`, { headers: { authorization: BASIC_AUTH, ...(accept ? { accept } : {}) } });
  const instanceUrl = (name: Name) => `/dicom-web/studies/${study}/series/${series}/instances/${stored.get(name)!.sop}`;
  const parts = async (response: Response) => readMultipart(response.headers.get('content-type') ?? undefined, Buffer.from(await response.arrayBuffer()));

  before(async () => {
    work = mkdtempSync(path.join(tmpdir(), 'wado-transcoding-'));
    t = await createTestApp();
    await t.app.listen({ host: '127.0.0.1', port: 0 });
    base = `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}`;
    // copies of the samples (which share their UIDs) in one study, each with its own SOP Instance UID
    const names = Object.keys(SAMPLES) as Name[];
    const copies = names.map((name) => {
      const copy = path.join(work, `${name}.dcm`);
      copyFileSync(samplePath(SAMPLES[name]), copy);
      return copy;
    });
    const modify = await runTool('dcmodify', ['-nb', '-gin', '-i', `StudyInstanceUID=${study}`, '-i', `SeriesInstanceUID=${series}`, ...copies]);
    assert.equal(modify.code, 0, modify.stderr);
    for (const [i, name] of names.entries()) {
      const bytes = readFileSync(copies[i]!);
      await t.archive.ingest(systemCaller('test'), { kind: 'part10', bytes });
      stored.set(name, { bytes, sop: splitPart10(bytes).sopInstanceUid, file: copies[i]! });
    }
    for (const [name, tool] of [['jpegLossless', 'dcmdjpeg'], ['jpegLs', 'dcmdjpls'], ['rle', 'dcmdrle'], ['bigEndian', 'dcmconv']] as const) {
      const out = path.join(work, `${name}-ref.dcm`);
      const r = await runTool(tool, ['+te', stored.get(name)!.file, out]);
      assert.equal(r.code, 0, r.stderr);
      reference.set(name, parseDicom(readFileSync(out)));
    }
  });

  after(async () => {
    await t?.close();
    rmSync(work, { recursive: true, force: true });
  });

  test('an instance without a transfer-syntax parameter is Explicit VR LE, decoded as dcmtk decodes it', async () => {
    for (const name of ['jpegLossless', 'jpegLs', 'rle', 'bigEndian'] as const) {
      for (const accept of ['multipart/related; type="application/dicom"', `multipart/related; type="application/dicom"; transfer-syntax=${EXPLICIT_LE}`]) {
        const response = await get(instanceUrl(name), accept);
        assert.equal(response.status, 200, `${name}: ${accept}`);
        const [part] = await parts(response);
        assert.equal(part!.headers['content-type'], `application/dicom; transfer-syntax=${EXPLICIT_LE}`);
        assert.equal(splitPart10(part!.body).transferSyntaxUid, EXPLICIT_LE);
        assert.ok(pixelBytes(parseDicom(part!.body)).equals(pixelBytes(reference.get(name)!)), `${name}: the pixels dcmtk decodes`);
      }
    }
  });

  test('transfer-syntax=* is the stored bytes, with a Content-Length; an instance stored in Explicit VR LE is never re-encoded', async () => {
    for (const name of Object.keys(SAMPLES) as Name[]) {
      const response = await get(instanceUrl(name), 'multipart/related; type="application/dicom"; transfer-syntax=*');
      assert.equal(response.status, 200);
      assert.ok(response.headers.get('content-length'), `${name}: length known`);
      const [part] = await parts(response);
      assert.ok(part!.body.equals(stored.get(name)!.bytes), `${name} byte for byte`);
    }
    const single = await get(instanceUrl('explicit'), 'application/dicom');
    assert.equal(single.headers.get('content-type'), `application/dicom; transfer-syntax=${EXPLICIT_LE}`);
    assert.ok(Buffer.from(await single.arrayBuffer()).equals(stored.get('explicit')!.bytes));
  });

  test('a named syntax is produced when the server can (Implicit VR LE), 406 when it cannot (it does not compress); q order is honoured', async () => {
    const implicit = await get(instanceUrl('jpegLs'), `application/dicom; transfer-syntax=${IMPLICIT_LE}`);
    assert.equal(implicit.status, 200);
    assert.equal(implicit.headers.get('content-type'), `application/dicom; transfer-syntax=${IMPLICIT_LE}`);
    const implicitBytes = Buffer.from(await implicit.arrayBuffer());
    assert.equal(splitPart10(implicitBytes).transferSyntaxUid, IMPLICIT_LE);
    assert.ok(pixelBytes(parseDicom(implicitBytes)).equals(pixelBytes(reference.get('jpegLs')!)));

    const refused = await get(instanceUrl('jpegLs'), 'multipart/related; type="application/dicom"; transfer-syntax=1.2.840.10008.1.2.4.50');
    assert.equal(refused.status, 406);
    assert.equal(((await refused.json()) as { code: string }).code, 'NOT_ACCEPTABLE');
    // the first choice cannot be made, the second (as stored) can
    const fallback = await get(instanceUrl('jpegLs'), 'multipart/related; type="application/dicom"; transfer-syntax=1.2.840.10008.1.2.4.50, multipart/related; type="application/dicom"; transfer-syntax=*; q=0.5');
    assert.equal(fallback.status, 200);
    assert.ok((await parts(fallback))[0]!.body.equals(stored.get('jpegLs')!.bytes));
  });

  test('a study of mixed syntaxes in Explicit VR LE is chunked; each part says its syntax', async () => {
    const response = await get(`/dicom-web/studies/${study}`, 'multipart/related; type="application/dicom"');
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('content-length'), null);
    assert.equal(response.headers.get('transfer-encoding'), 'chunked');
    const all = await parts(response);
    assert.equal(all.length, stored.size);
    for (const part of all) {
      assert.equal(part.headers['content-type'], `application/dicom; transfer-syntax=${EXPLICIT_LE}`);
      assert.equal(splitPart10(part.body).transferSyntaxUid, EXPLICIT_LE);
    }
    const explicit = all.find((p) => splitPart10(p.body).sopInstanceUid === stored.get('explicit')!.sop)!;
    assert.ok(explicit.body.equals(stored.get('explicit')!.bytes), 'the Explicit VR LE instance as stored');

    const asStored = await get(`/dicom-web/studies/${study}/series/${series}`, 'multipart/related; type="application/dicom"; transfer-syntax=*');
    assert.ok(asStored.headers.get('content-length'));
    const storedParts = await parts(asStored);
    for (const part of storedParts) {
      const sop = splitPart10(part.body).sopInstanceUid;
      const original = [...stored.values()].find((s) => s.sop === sop)!;
      assert.ok(part.body.equals(original.bytes));
    }
  });

  test('frames: application/octet-stream is decoded, their own media type is the stored frame, another is 406', async () => {
    const frames = `${instanceUrl('jpegLs')}/frames/1`;
    for (const accept of ['multipart/related; type="application/octet-stream"', `multipart/related; type="application/octet-stream"; transfer-syntax=${EXPLICIT_LE}`]) {
      const native = await get(frames, accept);
      assert.equal(native.status, 200, accept);
      const [part] = await parts(native);
      assert.equal(part!.headers['content-type'], `application/octet-stream; transfer-syntax=${EXPLICIT_LE}`);
      assert.ok(part!.body.equals(getFrame(reference.get('jpegLs')!, 1)), 'the frame dcmdjpls decodes');
    }
    const storedFrame = getFrame(parseDicom(stored.get('jpegLs')!.bytes), 1);
    for (const accept of ['multipart/related; type="image/jls"', 'multipart/related; type="application/octet-stream"; transfer-syntax=*', 'multipart/related; type="image/jls"; transfer-syntax=1.2.840.10008.1.2.4.80']) {
      const response = await get(frames, accept);
      assert.equal(response.status, 200, accept);
      const [part] = await parts(response);
      assert.equal(part!.headers['content-type'], 'image/jls; transfer-syntax=1.2.840.10008.1.2.4.80');
      assert.ok(Buffer.from(part!.body).equals(Buffer.from(storedFrame)), `${accept}: the stored frame`);
    }
    assert.equal((await get(frames, 'multipart/related; type="image/jpeg"')).status, 406);
    assert.equal((await get(frames, 'multipart/related; type="image/jls"; transfer-syntax=1.2.840.10008.1.2.4.81')).status, 406);

    // big endian: native frames are byte-swapped to little endian
    const swapped = await get(`${instanceUrl('bigEndian')}/frames/1`, 'multipart/related; type="application/octet-stream"');
    assert.ok((await parts(swapped))[0]!.body.equals(getFrame(reference.get('bigEndian')!, 1)));
  });

  test('Pixel Data bulk data: decoded for application/octet-stream, the stored frames with transfer-syntax=*', async () => {
    const url = `${instanceUrl('rle')}/bulkdata/7FE00010`;
    const decoded = await get(url, 'multipart/related; type="application/octet-stream"');
    assert.equal(decoded.status, 200);
    const [part] = await parts(decoded);
    assert.equal(part!.headers['content-type'], `application/octet-stream; transfer-syntax=${EXPLICIT_LE}`);
    assert.ok(part!.body.equals(pixelBytes(reference.get('rle')!)), 'the pixels dcmdrle decodes');

    const asStored = await get(url, 'multipart/related; type="application/octet-stream"; transfer-syntax=*');
    const [frame] = await parts(asStored);
    assert.equal(frame!.headers['content-type'], 'image/dicom-rle; transfer-syntax=1.2.840.10008.1.2.5');
    assert.ok(Buffer.from(frame!.body).equals(Buffer.from(getFrame(parseDicom(stored.get('rle')!.bytes), 1))));
  });
});

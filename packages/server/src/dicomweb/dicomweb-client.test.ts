/**
 * Interoperability with dicomweb-client (the library OHIF uses) over a real socket.
 * dicomweb-client needs XMLHttpRequest; test-support provides a small shim over fetch.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import sharp from 'sharp';
import { api } from 'dicomweb-client';
import { getPixelDataInfo, parseDicom, splitPart10, type DicomJsonDataset } from '@yunying/dicom';
import { sharedTranscoder } from '../transcoding/index.ts';
import { BASIC_AUTH, FetchXMLHttpRequest, createTestApp, sample, type TestApp } from './test-support.ts';

const CT_LE = 'transfer-syntax/ct-same-image/ct_1.2.840.10008.1.2.1_explicit-vr-le.dcm';
const CHINESE = 'charset/chrX2.dcm';
const NM = 'modality/nm/NM_multiframe_13f.dcm';
const XA_JPEG = 'modality/xa/XA_multiframe_96f_jpeg.dcm';

const str = (ds: DicomJsonDataset | undefined, tag: string): string | undefined => ds?.[tag]?.Value?.[0] as string | undefined;
const toArrayBuffer = (b: Buffer): ArrayBuffer => b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;

interface Client {
  storeInstances(o: { datasets: ArrayBuffer[]; studyInstanceUID?: string }): Promise<unknown>;
  searchForStudies(o?: { queryParams?: Record<string, string> }): Promise<DicomJsonDataset[]>;
  searchForSeries(o: { studyInstanceUID: string }): Promise<DicomJsonDataset[]>;
  searchForInstances(o: { studyInstanceUID: string; seriesInstanceUID: string }): Promise<DicomJsonDataset[]>;
  retrieveInstance(o: { studyInstanceUID: string; seriesInstanceUID: string; sopInstanceUID: string }): Promise<ArrayBuffer>;
  retrieveSeries(o: { studyInstanceUID: string; seriesInstanceUID: string }): Promise<ArrayBuffer[]>;
  retrieveStudyMetadata(o: { studyInstanceUID: string }): Promise<DicomJsonDataset[]>;
  retrieveInstanceFrames(o: { studyInstanceUID: string; seriesInstanceUID: string; sopInstanceUID: string; frameNumbers: number[]; mediaTypes?: { mediaType: string; transferSyntaxUID?: string }[] }): Promise<Uint8Array[]>;
  retrieveInstanceRendered(o: { studyInstanceUID: string; seriesInstanceUID: string; sopInstanceUID: string; mediaTypes?: { mediaType: string }[] }): Promise<ArrayBuffer | ArrayBuffer[]>;
  retrieveBulkData(o: { BulkDataURI: string }): Promise<ArrayBuffer[]>;
}

describe('dicomweb-client against the server', () => {
  let t: TestApp;
  let client: Client;
  let baseUrl: string;
  const files = new Map<string, Buffer>();

  before(async () => {
    (globalThis as Record<string, unknown>).XMLHttpRequest = FetchXMLHttpRequest;
    t = await createTestApp();
    await t.app.listen({ host: '127.0.0.1', port: 0 });
    baseUrl = `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}/dicom-web`;
    const clientOptions = { url: baseUrl, headers: { Authorization: BASIC_AUTH } } as unknown as ConstructorParameters<typeof api.DICOMwebClient>[0];
    client = new api.DICOMwebClient(clientOptions) as unknown as Client;
    for (const name of [CT_LE, CHINESE, NM, XA_JPEG]) files.set(name, await sample(name));
  });

  after(async () => {
    await t.close();
  });

  test('store, search, retrieve byte-identical, metadata, bulk data, frames, rendered', async () => {
    const stored = (await client.storeInstances({ datasets: [...files.values()].map(toArrayBuffer) })) as unknown;
    const storedJson = (typeof stored === 'string' ? JSON.parse(stored) : stored) as DicomJsonDataset;
    assert.equal((storedJson['00081199']?.Value ?? []).length, files.size);

    const chinese = await client.searchForStudies({ queryParams: { PatientName: '王*' } });
    assert.equal(chinese.length, 1);
    const studyUid = str(chinese[0], '0020000D')!;
    const series = await client.searchForSeries({ studyInstanceUID: studyUid });
    assert.equal(series.length, 1);

    const ctStudies = await client.searchForStudies({ queryParams: { ModalitiesInStudy: 'CT' } });
    assert.ok(ctStudies.length >= 1);
    const ctStudy = str(ctStudies[0], '0020000D')!;
    const ctSeries = str((await client.searchForSeries({ studyInstanceUID: ctStudy }))[0], '0020000E')!;
    const ctInstances = await client.searchForInstances({ studyInstanceUID: ctStudy, seriesInstanceUID: ctSeries });
    const ctSop = str(ctInstances[0], '00080018')!;
    const ids = { studyInstanceUID: ctStudy, seriesInstanceUID: ctSeries, sopInstanceUID: ctSop };

    const instance = await client.retrieveInstance(ids);
    assert.ok(Buffer.from(instance).equals(files.get(CT_LE)!), 'byte-identical instance');
    const seriesParts = await client.retrieveSeries({ studyInstanceUID: ctStudy, seriesInstanceUID: ctSeries });
    assert.equal(seriesParts.length, 1);

    const metadata = await client.retrieveStudyMetadata({ studyInstanceUID: ctStudy });
    const pixelUri = metadata[0]!['7FE00010']!.BulkDataURI!;
    const bulk = await client.retrieveBulkData({ BulkDataURI: pixelUri });
    assert.equal(bulk[0]!.byteLength, 512 * 512 * 2);

    const frames = await client.retrieveInstanceFrames({ ...ids, frameNumbers: [1] });
    assert.equal(frames[0]!.byteLength, 512 * 512 * 2);

    const rendered = await client.retrieveInstanceRendered({ ...ids, mediaTypes: [{ mediaType: 'image/png' }] });
    const png = Buffer.from(Array.isArray(rendered) ? rendered[0]! : rendered);
    assert.equal((await sharp(png).metadata()).format, 'png');
  });

  test('multi-frame: native frames by number and JPEG frames with their media type', async () => {
    const nm = await client.searchForStudies({ queryParams: { ModalitiesInStudy: 'NM' } });
    const study = str(nm[0], '0020000D')!;
    const seriesUid = str((await client.searchForSeries({ studyInstanceUID: study }))[0], '0020000E')!;
    const sop = str((await client.searchForInstances({ studyInstanceUID: study, seriesInstanceUID: seriesUid }))[0], '00080018')!;
    const frames = await client.retrieveInstanceFrames({ studyInstanceUID: study, seriesInstanceUID: seriesUid, sopInstanceUID: sop, frameNumbers: [2, 5, 13] });
    assert.equal(frames.length, 3);
    for (const f of frames) assert.equal(f.byteLength, 64 * 64 * 2);

    const xa = await client.searchForStudies({ queryParams: { ModalitiesInStudy: 'XA' } });
    const xaStudy = str(xa[0], '0020000D')!;
    const xaSeries = str((await client.searchForSeries({ studyInstanceUID: xaStudy }))[0], '0020000E')!;
    const xaSop = str((await client.searchForInstances({ studyInstanceUID: xaStudy, seriesInstanceUID: xaSeries }))[0], '00080018')!;
    const jpegFrames = await client.retrieveInstanceFrames({
      studyInstanceUID: xaStudy, seriesInstanceUID: xaSeries, sopInstanceUID: xaSop, frameNumbers: [1, 96],
      mediaTypes: [{ mediaType: 'image/jpeg', transferSyntaxUID: '1.2.840.10008.1.2.4.50' }],
    });
    assert.equal(jpegFrames.length, 2);
    for (const f of jpegFrames) {
      const m = await sharp(Buffer.from(f)).metadata();
      assert.equal(m.format, 'jpeg');
      assert.equal(m.width, 512);
    }

    // the client's defaults (issue 15): frames as application/octet-stream, which for a JPEG
    // instance are its decoded native frames (PS3.18), and the instance in Explicit VR LE
    const xaIds = { studyInstanceUID: xaStudy, seriesInstanceUID: xaSeries, sopInstanceUID: xaSop };
    const parsed = parseDicom(files.get(XA_JPEG)!);
    const native = await client.retrieveInstanceFrames({ ...xaIds, frameNumbers: [1, 96] });
    assert.equal(native.length, 2);
    assert.ok(Buffer.from(native[0]!).equals(Buffer.from(await sharedTranscoder().decodeFrameNative(parsed, 1))), 'frame 1 decoded');
    assert.ok(Buffer.from(native[1]!).equals(Buffer.from(await sharedTranscoder().decodeFrameNative(parsed, 96))), 'frame 96 decoded');
    const instance = Buffer.from(await client.retrieveInstance(xaIds));
    assert.equal(splitPart10(instance).transferSyntaxUid, '1.2.840.10008.1.2.1');
    assert.equal(getPixelDataInfo(parseDicom(instance))!.numberOfFrames, 96);
  });
});

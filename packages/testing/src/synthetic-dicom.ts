import { randomUUID } from 'node:crypto';
import { buildPart10, encodeDataset, TRANSFER_SYNTAX, type DicomJsonDataset } from '@yunying/dicom';

/** A fresh DICOM UID under the 2.25 root (UUID-derived), as every test needs its own UIDs. */
export function newUid(): string {
  return `2.25.${BigInt(`0x${randomUUID().replace(/-/g, '')}`).toString()}`;
}

export interface SyntheticInstanceOptions {
  studyInstanceUid?: string;
  seriesInstanceUid?: string;
  sopInstanceUid?: string;
  patientName?: string;
  patientId?: string;
  /** (0010,0021): who assigned the Patient ID; absent unless given */
  issuerOfPatientId?: string;
  studyDate?: string;
  accessionNumber?: string;
  /** (0010,0030) DA and (0010,1010) AS, e.g. "19810315" and "045Y"; absent unless given */
  patientBirthDate?: string;
  patientAge?: string;
  modality?: string;
  instanceNumber?: number;
  /** rows = columns */
  size?: number;
  /**
   * Specific Character Set and the Patient's Name already encoded in it, for character-set
   * tests: the name's bytes are written exactly as given.
   */
  encodedPatientName?: { specificCharacterSet: string; bytes: Buffer };
  /** more attributes (DICOM JSON), set last: PatientSex, BodyPartExamined, OtherPatientIDsSequence, a Specific Character Set… */
  attributes?: DicomJsonDataset;
}

export interface SyntheticInstance {
  studyInstanceUid: string;
  seriesInstanceUid: string;
  sopInstanceUid: string;
  sopClassUid: string;
  /** Part 10 file, explicit VR little endian */
  bytes: Buffer;
}

const CT_IMAGE_STORAGE = '1.2.840.10008.5.1.4.1.1.2';
const NAME_PLACEHOLDER = 'NAME^PLACEHOLDER';

/** Swaps the placeholder Patient's Name element (explicit VR LE) for the given value bytes. */
function replacePatientName(dataset: Buffer, value: Buffer): Buffer {
  const header = Buffer.from([0x10, 0x00, 0x10, 0x00, 0x50, 0x4e]); // (0010,0010) PN
  const at = dataset.indexOf(header);
  if (at < 0) throw new Error('no Patient Name element to replace');
  const oldLength = dataset.readUInt16LE(at + 6);
  const padded = value.length % 2 === 0 ? value : Buffer.concat([value, Buffer.from(' ')]);
  const length = Buffer.alloc(2);
  length.writeUInt16LE(padded.length);
  return Buffer.concat([dataset.subarray(0, at + 6), length, padded, dataset.subarray(at + 8 + oldLength)]);
}

/** A small, valid CT image (16-bit, gradient pixels) as a Part 10 file. */
export function makeSyntheticInstance(options: SyntheticInstanceOptions = {}): SyntheticInstance {
  const size = options.size ?? 32;
  const studyInstanceUid = options.studyInstanceUid ?? newUid();
  const seriesInstanceUid = options.seriesInstanceUid ?? newUid();
  const sopInstanceUid = options.sopInstanceUid ?? newUid();
  const pixels = new Uint16Array(size * size);
  for (let i = 0; i < pixels.length; i++) pixels[i] = (i * 7 + (options.instanceNumber ?? 1)) % 4096;
  const text = (vr: string, value: string) => ({ vr, Value: [value] });
  const dataset: DicomJsonDataset = {
    '00080016': text('UI', CT_IMAGE_STORAGE),
    '00080018': text('UI', sopInstanceUid),
    '00080020': text('DA', options.studyDate ?? '20261123'),
    '00080030': text('TM', '093000'),
    '00080050': text('SH', options.accessionNumber ?? 'ACC0001'),
    '00080060': text('CS', options.modality ?? 'CT'),
    '00100010': { vr: 'PN', Value: [{ Alphabetic: options.patientName ?? 'TEST^PATIENT' }] },
    '00100020': text('LO', options.patientId ?? 'PID0001'),
    '0020000D': text('UI', studyInstanceUid),
    '0020000E': text('UI', seriesInstanceUid),
    '00200013': { vr: 'IS', Value: [options.instanceNumber ?? 1] },
    '00280002': { vr: 'US', Value: [1] },
    '00280004': text('CS', 'MONOCHROME2'),
    '00280010': { vr: 'US', Value: [size] },
    '00280011': { vr: 'US', Value: [size] },
    '00280100': { vr: 'US', Value: [16] },
    '00280101': { vr: 'US', Value: [12] },
    '00280102': { vr: 'US', Value: [11] },
    '00280103': { vr: 'US', Value: [0] },
    '7FE00010': { vr: 'OW', InlineBinary: Buffer.from(pixels.buffer).toString('base64') },
  };
  if (options.issuerOfPatientId) dataset['00100021'] = text('LO', options.issuerOfPatientId);
  if (options.patientBirthDate) dataset['00100030'] = text('DA', options.patientBirthDate);
  if (options.patientAge) dataset['00101010'] = text('AS', options.patientAge);
  if (options.encodedPatientName) {
    dataset['00080005'] = text('CS', options.encodedPatientName.specificCharacterSet);
    dataset['00100010'] = { vr: 'PN', Value: [{ Alphabetic: NAME_PLACEHOLDER }] };
  }
  Object.assign(dataset, options.attributes);
  let body = encodeDataset(dataset, TRANSFER_SYNTAX.EXPLICIT_LE);
  if (options.encodedPatientName) body = replacePatientName(body, options.encodedPatientName.bytes);
  const bytes = buildPart10(body, { transferSyntaxUid: TRANSFER_SYNTAX.EXPLICIT_LE, sopClassUid: CT_IMAGE_STORAGE, sopInstanceUid });
  return { studyInstanceUid, seriesInstanceUid, sopInstanceUid, sopClassUid: CT_IMAGE_STORAGE, bytes };
}

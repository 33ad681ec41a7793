/** Reading values out of the DICOM JSON model (PS3.18 F.2) that QIDO-RS and WADO-RS metadata return. */

export interface PersonName {
  Alphabetic?: string;
  Ideographic?: string;
  Phonetic?: string;
}

export interface DicomJsonElement {
  vr: string;
  Value?: unknown[];
  BulkDataURI?: string;
  InlineBinary?: string;
}

export type DicomJsonDataset = Record<string, DicomJsonElement | undefined>;

export function firstValue(ds: DicomJsonDataset | undefined, tag: string): unknown {
  return ds?.[tag]?.Value?.[0];
}

export function stringValue(ds: DicomJsonDataset | undefined, tag: string): string | undefined {
  const v = firstValue(ds, tag);
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'object') return undefined;
  const text = String(v).trim();
  return text === '' ? undefined : text;
}

export function numberValue(ds: DicomJsonDataset | undefined, tag: string): number | undefined {
  const v = firstValue(ds, tag);
  const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN;
  return Number.isFinite(n) ? n : undefined;
}

export function numberValues(ds: DicomJsonDataset | undefined, tag: string): number[] | undefined {
  const values = ds?.[tag]?.Value;
  if (!values || values.length === 0) return undefined;
  const numbers = values.map((v) => (typeof v === 'number' ? v : Number(v)));
  return numbers.every((n) => Number.isFinite(n)) ? numbers : undefined;
}

export function personNameValue(ds: DicomJsonDataset | undefined, tag: string): PersonName | undefined {
  const v = firstValue(ds, tag);
  if (v && typeof v === 'object') return v as PersonName;
  if (typeof v === 'string') return { Alphabetic: v };
  return undefined;
}

export const TAG = {
  SOPInstanceUID: '00080018',
  SOPClassUID: '00080016',
  ImageType: '00080008',
  StudyDate: '00080020',
  StudyTime: '00080030',
  Modality: '00080060',
  InstitutionName: '00080080',
  StudyDescription: '00081030',
  SeriesDescription: '0008103E',
  PatientName: '00100010',
  PatientID: '00100020',
  PatientBirthDate: '00100030',
  PatientSex: '00100040',
  PatientAge: '00101010',
  SliceThickness: '00180050',
  CineRate: '00180040',
  FrameTime: '00181063',
  RecommendedDisplayFrameRate: '00082144',
  StudyInstanceUID: '0020000D',
  SeriesInstanceUID: '0020000E',
  SeriesNumber: '00200011',
  InstanceNumber: '00200013',
  ImagePositionPatient: '00200032',
  FrameOfReferenceUID: '00200052',
  ViewPosition: '00185101',
  ImageOrientationPatient: '00200037',
  SliceLocation: '00201041',
  NumberOfSeriesRelatedInstances: '00201209',
  NumberOfFrames: '00280008',
  Rows: '00280010',
  Columns: '00280011',
} as const;

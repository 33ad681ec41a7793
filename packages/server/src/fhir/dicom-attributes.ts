/**
 * The DICOM attributes the FHIR façade asks the archive for, and readers for the DICOM JSON
 * model (PS3.18 F.2) it answers with. Query keys are built here so that every resource asks
 * for exactly the attributes its mapping reads.
 */
import type { DicomJsonDataset, DicomJsonElement } from '@yunying/dicom';

/** Tag and VR of each attribute read; names follow the code convention, not DICOM keywords. */
export const ATTRIBUTES = {
  patientName: { tag: '00100010', vr: 'PN' },
  patientId: { tag: '00100020', vr: 'LO' },
  issuerOfPatientId: { tag: '00100021', vr: 'LO' },
  patientBirthDate: { tag: '00100030', vr: 'DA' },
  patientSex: { tag: '00100040', vr: 'CS' },
  studyInstanceUid: { tag: '0020000D', vr: 'UI' },
  studyDate: { tag: '00080020', vr: 'DA' },
  studyTime: { tag: '00080030', vr: 'TM' },
  accessionNumber: { tag: '00080050', vr: 'SH' },
  studyDescription: { tag: '00081030', vr: 'LO' },
  referringPhysicianName: { tag: '00080090', vr: 'PN' },
  modalitiesInStudy: { tag: '00080061', vr: 'CS' },
  numberOfStudyRelatedSeries: { tag: '00201206', vr: 'IS' },
  numberOfStudyRelatedInstances: { tag: '00201208', vr: 'IS' },
  seriesInstanceUid: { tag: '0020000E', vr: 'UI' },
  modality: { tag: '00080060', vr: 'CS' },
  seriesNumber: { tag: '00200011', vr: 'IS' },
  seriesDescription: { tag: '0008103E', vr: 'LO' },
  seriesDate: { tag: '00080021', vr: 'DA' },
  seriesTime: { tag: '00080031', vr: 'TM' },
  numberOfSeriesRelatedInstances: { tag: '00201209', vr: 'IS' },
  sopInstanceUid: { tag: '00080018', vr: 'UI' },
  sopClassUid: { tag: '00080016', vr: 'UI' },
  instanceNumber: { tag: '00200013', vr: 'IS' },
} as const;

export type AttributeName = keyof typeof ATTRIBUTES;

const PATIENT_RETURN: readonly AttributeName[] = ['patientName', 'patientId', 'issuerOfPatientId', 'patientBirthDate', 'patientSex'];

/** What each query level returns for the façade's mappings. */
export const RETURN_ATTRIBUTES = {
  PATIENT: PATIENT_RETURN,
  STUDY: [
    ...PATIENT_RETURN,
    'studyInstanceUid', 'studyDate', 'studyTime', 'accessionNumber', 'studyDescription', 'referringPhysicianName',
    'modalitiesInStudy', 'numberOfStudyRelatedSeries', 'numberOfStudyRelatedInstances',
  ],
  SERIES: ['studyInstanceUid', 'seriesInstanceUid', 'modality', 'seriesNumber', 'seriesDescription', 'seriesDate', 'seriesTime', 'numberOfSeriesRelatedInstances'],
  IMAGE: ['studyInstanceUid', 'seriesInstanceUid', 'sopInstanceUid', 'sopClassUid', 'instanceNumber'],
} as const satisfies Record<string, readonly AttributeName[]>;

/** Return keys (no Value: universal matching) with the matching keys laid over them. */
export function queryKeys(returned: readonly AttributeName[], matching: DicomJsonDataset = {}): DicomJsonDataset {
  const keys: DicomJsonDataset = {};
  for (const name of returned) keys[ATTRIBUTES[name].tag] = { vr: ATTRIBUTES[name].vr };
  return { ...keys, ...matching };
}

/** A matching key: any of `values` (the archive ORs several values, PS3.4 list matching for UIDs). */
export function matchingKey(name: AttributeName, values: readonly (string | object)[]): [string, DicomJsonElement] {
  const { tag, vr } = ATTRIBUTES[name];
  return [tag, { vr, Value: [...values] }];
}

export function stringOf(dataset: DicomJsonDataset, name: AttributeName): string | undefined {
  const value = dataset[ATTRIBUTES[name].tag]?.Value?.[0];
  if (value === undefined || value === null) return undefined;
  const text = String(value).trim();
  return text === '' ? undefined : text;
}

export function stringsOf(dataset: DicomJsonDataset, name: AttributeName): string[] {
  const values = dataset[ATTRIBUTES[name].tag]?.Value ?? [];
  return values.filter((v): v is string | number => typeof v === 'string' || typeof v === 'number').map((v) => String(v).trim()).filter((v) => v !== '');
}

export function numberOf(dataset: DicomJsonDataset, name: AttributeName): number | undefined {
  const value = dataset[ATTRIBUTES[name].tag]?.Value?.[0];
  const number = typeof value === 'number' ? value : typeof value === 'string' && value.trim() !== '' ? Number(value) : NaN;
  return Number.isFinite(number) ? number : undefined;
}

/** A PN value in the JSON model: its component groups. */
export interface PersonNameGroups {
  Alphabetic?: string;
  Ideographic?: string;
  Phonetic?: string;
}

export function personNameOf(dataset: DicomJsonDataset, name: AttributeName): PersonNameGroups | undefined {
  const value = dataset[ATTRIBUTES[name].tag]?.Value?.[0];
  if (typeof value === 'string') {
    // a PN given as "A=I=P" text rather than the JSON object form
    const [alphabetic, ideographic, phonetic] = value.split('=');
    return { Alphabetic: alphabetic || undefined, Ideographic: ideographic || undefined, Phonetic: phonetic || undefined };
  }
  if (value && typeof value === 'object') return value as PersonNameGroups;
  return undefined;
}

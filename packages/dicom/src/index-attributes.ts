import type { DataSet } from 'dicom-parser';
import { DicomParseError } from './errors.ts';
import type { IndexAttributes } from './types.ts';
import { rawDataSet, type ParsedDicom } from './parse.ts';
import { characterSetOf, parseIntegerString, readAscii, readText } from './values.ts';

type Reader = (dataSet: DataSet, tag: string) => string | undefined;

const REQUIRED_UIDS = [
  ['sopClassUid', 'x00080016', 'SOP Class UID (0008,0016)'],
  ['sopInstanceUid', 'x00080018', 'SOP Instance UID (0008,0018)'],
  ['studyInstanceUid', 'x0020000d', 'Study Instance UID (0020,000D)'],
  ['seriesInstanceUid', 'x0020000e', 'Series Instance UID (0020,000E)'],
] as const;

const TEXT_ATTRIBUTES = {
  patientId: 'x00100020', issuerOfPatientId: 'x00100021', patientName: 'x00100010',
  patientBirthDate: 'x00100030', patientSex: 'x00100040',
  studyDate: 'x00080020', studyTime: 'x00080030', accessionNumber: 'x00080050', studyId: 'x00200010',
  studyDescription: 'x00081030', referringPhysicianName: 'x00080090', institutionName: 'x00080080',
  modality: 'x00080060', seriesDescription: 'x0008103e', seriesDate: 'x00080021', seriesTime: 'x00080031',
  bodyPartExamined: 'x00180015', performedProcedureStepStartDate: 'x00400244',
  contentDate: 'x00080023', contentTime: 'x00080033',
} as const;

const INTEGER_ATTRIBUTES = { seriesNumber: 'x00200011', instanceNumber: 'x00200013', numberOfFrames: 'x00280008' } as const;

/** Rows/Columns are US, but a UN or odd-length encoding must not yield garbage. */
function readUint16(dataSet: DataSet, tag: string): number | undefined {
  const element = dataSet.elements[tag];
  return element && element.length >= 2 ? dataSet.uint16(tag) : undefined;
}

/** Throws DicomParseError when a required UID (SOP Class/Instance, Study, Series) is missing. */
export function readIndexAttributes(parsed: ParsedDicom): IndexAttributes {
  const dataSet = rawDataSet(parsed);
  const characterSet = characterSetOf(dataSet);
  const ascii: Reader = (ds, tag) => (ds.elements[tag] ? readAscii(ds, ds.elements[tag]) || undefined : undefined);
  // Leading spaces are insignificant in the indexed VRs; every text VR is decoded with the
  // character set, CS too, because some modalities put non-ASCII text there.
  const text: Reader = (ds, tag) => (ds.elements[tag] ? readText(ds, ds.elements[tag], characterSet).trim() || undefined : undefined);

  const uids = {} as Record<(typeof REQUIRED_UIDS)[number][0], string>;
  for (const [key, tag, name] of REQUIRED_UIDS) {
    const value = ascii(dataSet, tag);
    if (!value) throw new DicomParseError(`missing ${name}`);
    uids[key] = value;
  }
  const attributes: IndexAttributes = {
    ...uids,
    transferSyntaxUid: parsed.transferSyntaxUid,
    specificCharacterSet: characterSet?.join('\\') || undefined,
    rows: readUint16(dataSet, 'x00280010'),
    columns: readUint16(dataSet, 'x00280011'),
  };
  for (const [key, tag] of Object.entries(TEXT_ATTRIBUTES) as [keyof typeof TEXT_ATTRIBUTES, string][]) {
    attributes[key] = text(dataSet, tag);
  }
  for (const [key, tag] of Object.entries(INTEGER_ATTRIBUTES) as [keyof typeof INTEGER_ATTRIBUTES, string][]) {
    attributes[key] = parseIntegerString(ascii(dataSet, tag)?.split('\\')[0]);
  }
  return attributes;
}

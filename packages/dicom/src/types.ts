/** DICOM JSON model (PS3.18 F.2): keys are 8-hex-digit uppercase tags. */
export interface DicomJsonElement {
  vr: string;
  Value?: unknown[];
  BulkDataURI?: string;
  InlineBinary?: string;
}
export type DicomJsonDataset = Record<string, DicomJsonElement>;

export const TRANSFER_SYNTAX = {
  IMPLICIT_LE: '1.2.840.10008.1.2',
  EXPLICIT_LE: '1.2.840.10008.1.2.1',
  DEFLATED_LE: '1.2.840.10008.1.2.1.99',
  EXPLICIT_BE: '1.2.840.10008.1.2.2',
} as const;

/**
 * The attributes the archive indexes, read from one instance without decoding pixel data.
 * Text is already decoded to UTF-8 from the instance's Specific Character Set.
 * Empty or absent attributes are `undefined`.
 */
export interface IndexAttributes {
  sopClassUid: string;
  sopInstanceUid: string;
  studyInstanceUid: string;
  seriesInstanceUid: string;
  transferSyntaxUid: string;
  specificCharacterSet?: string;
  // patient
  patientId?: string;
  issuerOfPatientId?: string;
  patientName?: string;
  patientBirthDate?: string;
  patientSex?: string;
  // study
  studyDate?: string;
  studyTime?: string;
  accessionNumber?: string;
  studyId?: string;
  studyDescription?: string;
  referringPhysicianName?: string;
  institutionName?: string;
  // series
  modality?: string;
  seriesNumber?: number;
  seriesDescription?: string;
  seriesDate?: string;
  seriesTime?: string;
  bodyPartExamined?: string;
  performedProcedureStepStartDate?: string;
  // instance
  instanceNumber?: number;
  numberOfFrames?: number;
  rows?: number;
  columns?: number;
  contentDate?: string;
  contentTime?: string;
}

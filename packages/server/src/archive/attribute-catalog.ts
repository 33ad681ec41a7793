import type { QueryLevel } from '../store/query-level.ts';

/** How an indexed attribute is matched and where its value lives. */
export type MatchKind = 'string' | 'pn' | 'uid' | 'date' | 'time' | 'number' | 'modalities' | 'returnOnly';

export interface IndexedAttribute {
  tag: string;
  keyword: string;
  vr: string;
  /** the level whose table holds the column; PATIENT attributes live in the studies table */
  level: 'STUDY' | 'SERIES' | 'IMAGE';
  column: string;
  match: MatchKind;
}

const attribute = (tag: string, keyword: string, vr: string, level: IndexedAttribute['level'], column: string, match: MatchKind): IndexedAttribute => ({
  tag, keyword, vr, level, column, match,
});

/** Attributes the index holds as columns: matchable in QIDO and C-FIND, returned without reading blobs. */
export const INDEXED_ATTRIBUTES: readonly IndexedAttribute[] = [
  attribute('00100010', 'PatientName', 'PN', 'STUDY', 'patient_name', 'pn'),
  attribute('00100020', 'PatientID', 'LO', 'STUDY', 'patient_id', 'string'),
  attribute('00100021', 'IssuerOfPatientID', 'LO', 'STUDY', 'issuer_of_patient_id', 'string'),
  attribute('00100030', 'PatientBirthDate', 'DA', 'STUDY', 'patient_birth_date', 'date'),
  attribute('00100040', 'PatientSex', 'CS', 'STUDY', 'patient_sex', 'string'),
  attribute('0020000D', 'StudyInstanceUID', 'UI', 'STUDY', 'study_instance_uid', 'uid'),
  attribute('00080020', 'StudyDate', 'DA', 'STUDY', 'study_date', 'date'),
  attribute('00080030', 'StudyTime', 'TM', 'STUDY', 'study_time', 'time'),
  attribute('00080050', 'AccessionNumber', 'SH', 'STUDY', 'accession_number', 'string'),
  attribute('00200010', 'StudyID', 'SH', 'STUDY', 'study_id', 'string'),
  attribute('00081030', 'StudyDescription', 'LO', 'STUDY', 'study_description', 'string'),
  attribute('00080090', 'ReferringPhysicianName', 'PN', 'STUDY', 'referring_physician_name', 'pn'),
  attribute('00080080', 'InstitutionName', 'LO', 'STUDY', 'institution_name', 'string'),
  attribute('00080061', 'ModalitiesInStudy', 'CS', 'STUDY', 'modalities_in_study', 'modalities'),
  attribute('00201206', 'NumberOfStudyRelatedSeries', 'IS', 'STUDY', 'number_of_study_related_series', 'returnOnly'),
  attribute('00201208', 'NumberOfStudyRelatedInstances', 'IS', 'STUDY', 'number_of_study_related_instances', 'returnOnly'),
  attribute('0020000E', 'SeriesInstanceUID', 'UI', 'SERIES', 'series_instance_uid', 'uid'),
  attribute('00080060', 'Modality', 'CS', 'SERIES', 'modality', 'string'),
  attribute('00200011', 'SeriesNumber', 'IS', 'SERIES', 'series_number', 'number'),
  attribute('0008103E', 'SeriesDescription', 'LO', 'SERIES', 'series_description', 'string'),
  attribute('00180015', 'BodyPartExamined', 'CS', 'SERIES', 'body_part_examined', 'string'),
  attribute('00080021', 'SeriesDate', 'DA', 'SERIES', 'series_date', 'date'),
  attribute('00080031', 'SeriesTime', 'TM', 'SERIES', 'series_time', 'time'),
  attribute('00400244', 'PerformedProcedureStepStartDate', 'DA', 'SERIES', 'performed_procedure_step_start_date', 'date'),
  attribute('00201209', 'NumberOfSeriesRelatedInstances', 'IS', 'SERIES', 'number_of_series_related_instances', 'returnOnly'),
  attribute('00080018', 'SOPInstanceUID', 'UI', 'IMAGE', 'sop_instance_uid', 'uid'),
  attribute('00080016', 'SOPClassUID', 'UI', 'IMAGE', 'sop_class_uid', 'uid'),
  attribute('00200013', 'InstanceNumber', 'IS', 'IMAGE', 'instance_number', 'number'),
  attribute('00280008', 'NumberOfFrames', 'IS', 'IMAGE', 'number_of_frames', 'number'),
  attribute('00280010', 'Rows', 'US', 'IMAGE', 'rows', 'number'),
  attribute('00280011', 'Columns', 'US', 'IMAGE', 'columns', 'number'),
  attribute('00080023', 'ContentDate', 'DA', 'IMAGE', 'content_date', 'date'),
  attribute('00080033', 'ContentTime', 'TM', 'IMAGE', 'content_time', 'time'),
  attribute('00083002', 'AvailableTransferSyntaxUID', 'UI', 'IMAGE', 'transfer_syntax_uid', 'uid'),
];

export const INDEXED_BY_TAG: ReadonlyMap<string, IndexedAttribute> = new Map(INDEXED_ATTRIBUTES.map((a) => [a.tag, a]));

const LEVEL_DEPTH: Record<QueryLevel, number> = { PATIENT: 0, STUDY: 1, SERIES: 2, IMAGE: 3 };
const TABLE_DEPTH: Record<IndexedAttribute['level'], number> = { STUDY: 1, SERIES: 2, IMAGE: 3 };

/** Patient-level attributes, answerable at the PATIENT level (grouped over studies). */
export const PATIENT_TAGS = new Set(['00100010', '00100020', '00100021', '00100030', '00100040']);

/** True when an attribute of `attributeLevel` can be matched in a query at `queryLevel` (same or a higher level). */
export function isAvailableAtLevel(attribute: IndexedAttribute, queryLevel: QueryLevel): boolean {
  if (queryLevel === 'PATIENT') return PATIENT_TAGS.has(attribute.tag);
  return TABLE_DEPTH[attribute.level] <= LEVEL_DEPTH[queryLevel];
}

/** Attributes a QIDO-RS response carries by default at each level (PS3.18 Table 10.6.3-3..5). */
export const QIDO_DEFAULT_TAGS: Record<QueryLevel, readonly string[]> = {
  PATIENT: ['00100010', '00100020', '00100030', '00100040'],
  STUDY: ['00080020', '00080030', '00080050', '00080061', '00080090', '00100010', '00100020', '00100030', '00100040', '0020000D', '00200010', '00201206', '00201208'],
  SERIES: ['00080060', '0008103E', '0020000E', '00200011', '00201209', '00400244'],
  IMAGE: ['00080016', '00080018', '00200013', '00280010', '00280011', '00280008'],
};

/** The unique key(s) always returned at a level (PS3.4 C.2.2.1.1). */
export const UNIQUE_KEY_TAGS: Record<QueryLevel, readonly string[]> = {
  PATIENT: ['00100020'],
  STUDY: ['0020000D'],
  SERIES: ['0020000D', '0020000E'],
  IMAGE: ['0020000D', '0020000E', '00080018'],
};

/**
 * The groups of a data set's top-level attributes kept on the study and series rows
 * (attributes_json): what includefield answers beyond the columns, and what keys without a
 * column are matched on (archive/dataset-matching.ts). Image-level groups (0028, 7FE0) stay
 * in the blobs.
 */
export const STUDY_ATTRIBUTE_GROUPS: ReadonlySet<string> = new Set(['0008', '0010', '0020', '0032', '0038', '0040']);
export const SERIES_ATTRIBUTE_GROUPS: ReadonlySet<string> = new Set(['0008', '0018', '0020', '0040', '0054']);

/**
 * Sequences kept on the study and series rows (other sequences are not, they can be long),
 * so that they can be matched (PS3.4 C.2.2.2.6) and returned: references to the request,
 * the procedure and the patient, as worklist-fed modalities fill them. Studies stored before
 * issue 15 have none of them until their instances are stored again.
 */
export const QUERYABLE_SEQUENCES: ReadonlySet<string> = new Set([
  '00080051', // IssuerOfAccessionNumberSequence
  '00081032', // ProcedureCodeSequence
  '00081110', // ReferencedStudySequence
  '00081111', // ReferencedPerformedProcedureStepSequence
  '00081120', // ReferencedPatientSequence
  '00082218', // AnatomicRegionSequence
  '00101002', // OtherPatientIDsSequence
  '00321064', // RequestedProcedureCodeSequence
  '00400260', // PerformedProtocolCodeSequence
  '00400275', // RequestAttributesSequence
]);

/** Longest kept sequence, as JSON characters: a sequence beyond it is not kept (nor matched). */
export const QUERYABLE_SEQUENCE_MAX_CHARS = 16_384;

import type { Generated } from 'kysely';

/** The index schema, one for SQLite and PostgreSQL. Column names are snake_case DICOM keywords. */
export interface Database {
  institutions: InstitutionTable;
  dicom_nodes: DicomNodeTable;
  studies: StudyTable;
  series: SeriesTable;
  instances: InstanceTable;
}

export interface InstitutionTable {
  id: string;
  name: string;
  created_at: string;
}

export interface DicomNodeTable {
  ae_title: string;
  host: string;
  port: number;
  institution_id: string;
  created_at: string;
}

export interface StudyTable {
  study_instance_uid: string;
  institution_id: string;
  patient_id: string | null;
  issuer_of_patient_id: string | null;
  /** the PN exactly as decoded, e.g. "Wang^XiaoDong=王^小东=" */
  patient_name: string | null;
  /** upper-cased component groups for matching: alphabetic, ideographic, phonetic */
  patient_name_alphabetic: string | null;
  patient_name_ideographic: string | null;
  patient_name_phonetic: string | null;
  /** "|GROUP|GROUP-WITHOUT-^|…|": every form a name is matched in, for "contains" searches */
  patient_name_search: string | null;
  patient_birth_date: string | null;
  patient_sex: string | null;
  study_date: string | null;
  study_time: string | null;
  accession_number: string | null;
  study_id: string | null;
  study_description: string | null;
  referring_physician_name: string | null;
  institution_name: string | null;
  /** backslash-separated, sorted */
  modalities_in_study: string | null;
  /** top-level non-binary attributes of the first instance, DICOM JSON, for includefield */
  attributes_json: string;
  created_at: string;
  updated_at: string;
}

export interface SeriesTable {
  series_instance_uid: string;
  study_instance_uid: string;
  modality: string | null;
  series_number: number | null;
  series_description: string | null;
  body_part_examined: string | null;
  series_date: string | null;
  series_time: string | null;
  performed_procedure_step_start_date: string | null;
  attributes_json: string;
  created_at: string;
  updated_at: string;
}

export interface InstanceTable {
  sop_instance_uid: string;
  series_instance_uid: string;
  study_instance_uid: string;
  sop_class_uid: string;
  institution_id: string;
  instance_number: number | null;
  transfer_syntax_uid: string;
  number_of_frames: number | null;
  rows: number | null;
  columns: number | null;
  content_date: string | null;
  content_time: string | null;
  blob_key: string;
  size: number;
  content_sha256: string;
  source_ae_title: string | null;
  created_at: string;
  /** monotonically increasing, for stable paging and change feeds */
  seq: Generated<number>;
}

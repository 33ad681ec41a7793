import type { Generated } from 'kysely';

/** The index schema, one for SQLite and PostgreSQL. Column names are snake_case DICOM keywords. */
export interface Database {
  institutions: InstitutionTable;
  alliance_members: AllianceMemberTable;
  application_entities: ApplicationEntityTable;
  users: UserTable;
  sessions: SessionTable;
  login_failures: LoginFailureTable;
  attempt_reservations: AttemptReservationTable;
  study_grants: StudyGrantTable;
  study_user_grants: StudyUserGrantTable;
  audit_events: AuditEventTable;
  /** PostgreSQL only (migration 0013): a change's audit records until they are chained */
  audit_pending: AuditPendingTable;
  reading_requests: ReadingRequestTable;
  reading_request_events: ReadingRequestEventTable;
  routing_rules: RoutingRuleTable;
  reports: ReportTable;
  report_versions: ReportVersionTable;
  report_templates: ReportTemplateTable;
  notifications: NotificationTable;
  changes: ChangeTable;
  feed_cursors: FeedCursorTable;
  feed_failures: FeedFailureTable;
  share_links: ShareLinkTable;
  share_accesses: ShareAccessTable;
  studies: StudyTable;
  series: SeriesTable;
  instances: InstanceTable;
}

export interface InstitutionTable {
  id: string;
  name: string;
  /** administrative tier: province, city, county, township */
  tier: string | null;
  /** hospital grade 一级/二级/三级 as 1, 2, 3 */
  grade: number | null;
  /** GB/T 2260 administrative division code, e.g. 320581 */
  region_code: string | null;
  parent_id: string | null;
  created_at: string;
}

/** Medical alliance (医共体/医联体): the diagnostic centre serves the member institution. */
export interface AllianceMemberTable {
  centre_id: string;
  member_id: string;
  created_at: string;
}

/**
 * Registered DICOM application entities: calling AEs are attributed to their institution;
 * those with host and port are also C-MOVE destinations.
 */
export interface ApplicationEntityTable {
  ae_title: string;
  institution_id: string;
  host: string | null;
  port: number | null;
  description: string | null;
  created_at: string;
}

export interface UserTable {
  id: string;
  username: string;
  display_name: string | null;
  institution_id: string;
  role: string;
  /** scrypt$N$r$p$salt$hash (base64) */
  password_hash: string;
  /** 1 while the account may log in */
  enabled: number;
  created_at: string;
  updated_at: string;
}

/** Bearer tokens, kept only as their SHA-256 so a database leak yields no usable token. */
export interface SessionTable {
  token_sha256: string;
  user_id: string;
  created_at: string;
  expires_at: string;
  revoked_at: string | null;
  remote_address: string | null;
}

/** Failed logins in the throttling window, by account ("user:NAME") and by client ("ip:ADDR"). */
export interface LoginFailureTable {
  id: Generated<number>;
  throttle_key: string;
  failed_at: string;
}

/** Attempts (logins, cloud-film codes) of one throttle key in its current window (migration 0009). */
export interface AttemptReservationTable {
  throttle_key: string;
  window_started_at: string;
  attempts: number;
}

/** A study made visible to an institution outside its own scope (sent for reading or consultation). */
export interface StudyGrantTable {
  study_instance_uid: string;
  institution_id: string;
  reason: string;
  granted_by: string;
  created_at: string;
  /** the case whose end takes this grant back ('referral:<id>'); null: no case ends it (migration 0028) */
  granted_for: string | null;
}

/** A study visible to one user until expires_at (migration 0025). */
export interface StudyUserGrantTable {
  id: string;
  study_instance_uid: string;
  user_id: string;
  reason: string;
  /** 1: break-glass (紧急调阅), 0: an access request with a stated reason */
  emergency: number;
  granted_at: string;
  expires_at: string;
  /** the case whose end takes this grant back ('consultation:<id>'); null: it runs to its expiry (migration 0028) */
  granted_for: string | null;
}

/**
 * The audit trail: append-only and hash-chained (hash = SHA-256 of the previous hash and
 * this record's canonical fields), so altering or deleting a record breaks the chain.
 */
/** A change's audit records, staged with it and not yet chained (store/audit-store.ts appendIn). */
export interface AuditPendingTable {
  id: Generated<number>;
  /** JSON array of the records, in order, without seq and hashes */
  records: string;
  created_at: string;
}

export interface AuditEventTable {
  seq: Generated<number>;
  occurred_at: string;
  /** e.g. study.viewed, study.retrieved, study.queried, instance.stored, study.corrected */
  action: string;
  outcome: string;
  actor_kind: string;
  actor_name: string;
  actor_role: string;
  actor_institution_id: string;
  remote_address: string | null;
  /** dicomweb, wado-uri, dimse, rest, fhir, cli */
  via: string;
  object_type: string | null;
  object_id: string | null;
  patient_id: string | null;
  /** JSON: what else the auditor needs (old values of a correction, counts, query keys without names) */
  details: string;
  prev_hash: string;
  hash: string;
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
  /**
   * PostgreSQL only (migration 0003): the distinct two-character substrings of
   * patient_name_search that hold a non-ASCII character ("王小", "小东", "|王"), GIN-indexed
   * for contains-searches of hanzi that trigrams cannot serve. Always null on SQLite, where
   * the column is nullable text and the LIKE alone answers.
   */
  patient_name_bigrams: string[] | null;
  patient_birth_date: string | null;
  patient_sex: string | null;
  study_date: string | null;
  study_time: string | null;
  accession_number: string | null;
  study_id: string | null;
  study_description: string | null;
  referring_physician_name: string | null;
  /**
   * Migration 0024: the same derived columns as PatientName's, so every indexed PN attribute
   * matches case-insensitively per component group (archive/matching.ts personNameIndexColumns)
   */
  referring_physician_name_alphabetic: string | null;
  referring_physician_name_ideographic: string | null;
  referring_physician_name_phonetic: string | null;
  referring_physician_name_search: string | null;
  /** migration 0024: "|PINYIN|FORMS|" of each PN (archive/pinyin.ts), for fuzzymatching */
  patient_name_pinyin: string | null;
  referring_physician_name_pinyin: string | null;
  institution_name: string | null;
  /** backslash-separated, sorted */
  modalities_in_study: string | null;
  /** top-level non-binary attributes of the first instance, DICOM JSON, for includefield */
  attributes_json: string;
  created_at: string;
  updated_at: string;
  /**
   * Opaque and new with every study row (migration 0008): requests and cloud-film links
   * carry the key of the row they were made for, so a study filed again under a deleted
   * UID is not theirs. Null only for rows written by hand (benchmarks, tests).
   */
  study_key: string | null;
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
  /** compressed on ingest (migration 0020): the transfer syntax it was received in; null when stored as received */
  original_transfer_syntax_uid: string | null;
  /** compressed on ingest: SHA-256 of the received object (content_sha256 is the stored one's) */
  original_sha256: string | null;
  created_at: string;
  /** monotonically increasing, for stable paging and change feeds */
  seq: Generated<number>;
}

/** A reading request (申请): one study to be read by one diagnostic centre. */
export interface ReadingRequestTable {
  id: string;
  study_instance_uid: string;
  requesting_institution_id: string;
  reading_institution_id: string;
  /** user name, or "routing:<rule id>" */
  requested_by: string;
  routing_rule_id: string | null;
  /** routine, urgent, emergency */
  priority: string;
  /** awaiting-images, pending, claimed, submitted, signed, retake-requested, cancelled; deleted with its study (a tombstone) */
  status: string;
  clinical_history: string | null;
  /** JSON arrays */
  exam_items: string;
  body_parts: string;
  modality: string | null;
  claimed_by: string | null;
  claimed_at: string | null;
  retake_reason: string | null;
  created_at: string;
  images_complete_at: string | null;
  submitted_at: string | null;
  signed_at: string | null;
  /** SLA deadline: images complete + the priority's allowance */
  due_at: string | null;
  updated_at: string;
  /** the studies row's study_key; null while the study has not arrived (bound when it has) */
  study_key: string | null;
}

/** Every state change of a request, timestamped (turnaround and the audit of the workflow). */
export interface ReadingRequestEventTable {
  id: Generated<number>;
  request_id: string;
  at: string;
  actor: string;
  from_status: string | null;
  to_status: string;
  details: string;
}

export interface RoutingRuleTable {
  id: string;
  name: string;
  position: number;
  enabled: number;
  source_institution_id: string | null;
  modality: string | null;
  body_part: string | null;
  time_from: string | null;
  time_to: string | null;
  reading_institution_id: string;
  priority: string;
  created_at: string;
}

/** The current state of a request's report; report_versions keeps every version. */
export interface ReportTable {
  id: string;
  request_id: string;
  study_instance_uid: string;
  /** draft, submitted, returned, signed; deleted with its study (a tombstone) */
  status: string;
  version: number;
  findings: string;
  impression: string;
  positive: number | null;
  template_id: string | null;
  author: string;
  reviewer: string | null;
  review_comments: string | null;
  created_at: string;
  updated_at: string;
  submitted_at: string | null;
  signed_at: string | null;
  /** the DICOM SR stored with the study for the latest signed version */
  sr_sop_instance_uid: string | null;
  /** 报告编号 (KS-COUNTY-2026-000123), given at signing (migration 0019, reports/report-number.ts); null before */
  report_number?: string | null;
}

export interface ReportVersionTable {
  report_id: string;
  version: number;
  /** submitted, returned, signed, addendum */
  kind: string;
  findings: string;
  impression: string;
  positive: number | null;
  addendum: string | null;
  saved_by: string;
  saved_at: string;
}

export interface ReportTemplateTable {
  id: string;
  modality: string;
  body_part: string;
  name: string;
  findings: string;
  impression: string;
  /** null: shared by every institution */
  institution_id: string | null;
  created_at: string;
  /** migration 0017: 'system' (the starter set), 'institution' (its readers), 'personal' (its owner only) */
  scope: string;
  /** the user a personal template belongs to */
  owner: string | null;
  updated_at: string | null;
  updated_by: string | null;
}

/** The outbox that carries live notifications to every server process's subscribers. */
export interface NotificationTable {
  seq: Generated<number>;
  institution_id: string;
  type: string;
  payload: string;
  created_at: string;
}

/** The change feed (migration 0011, store/change-feed-store.ts): one row per committed change. */
export interface ChangeTable {
  seq: Generated<number>;
  type: string;
  resource_type: string;
  resource_id: string;
  institution_id: string | null;
  /** JSON object */
  payload: string;
  created_at: string;
}

/** A consumer group's position in the change feed and who holds its lease. */
export interface FeedCursorTable {
  consumer_group: string;
  /** every change with seq <= last_seq was handled (or set aside in feed_failures) */
  last_seq: number;
  /** the runner (process) that may handle the group's changes until lease_until */
  lease_owner: string | null;
  /** ISO 8601 */
  lease_until: string | null;
  updated_at: string;
}

/** A change a consumer group failed to handle: waiting for its next attempt, or a dead letter. */
export interface FeedFailureTable {
  consumer_group: string;
  seq: number;
  /** 'retrying' (next_attempt_at set) or 'dead' */
  status: string;
  attempts: number;
  next_attempt_at: string | null;
  last_error: string;
  first_failed_at: string;
  updated_at: string;
}

/**
 * A cloud-film link to one study. The token is kept as issued: staff reprint the report's
 * QR code from it; the optional access code (on paper or by SMS) is kept only as a hash.
 */
export interface ShareLinkTable {
  id: string;
  token: string;
  study_instance_uid: string;
  report_id: string | null;
  institution_id: string;
  /** the patient's link an onward share was made from */
  parent_id: string | null;
  /** patient (issued by the institution) or onward (made by the patient for a doctor) */
  kind: string;
  /** who an onward link is for, as the patient wrote it */
  recipient: string | null;
  access_code_hash: string | null;
  created_by: string;
  created_at: string;
  expires_at: string;
  revoked_at: string | null;
  views: Generated<number>;
  /** the studies row's study_key when the link was made: another row under the UID is not this link's */
  study_key: string | null;
}

/** Every open and download of a link: what the patient sees as "who opened my film". */
export interface ShareAccessTable {
  id: Generated<number>;
  link_id: string;
  at: string;
  /** opened, viewed-images, downloaded-dicom, downloaded-jpeg, code-failed */
  action: string;
  remote_address: string | null;
  user_agent: string | null;
}

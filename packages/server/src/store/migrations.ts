import { sql, type Kysely, type Migration, type MigrationProvider, type RawBuilder } from 'kysely';
import type { SqlDialectName } from './dialect.ts';
import { DEFAULT_INSTITUTION_ID } from './institutions.ts';
import { personNameIndexColumns } from '../archive/matching.ts';

/**
 * The one migration set for SQLite and PostgreSQL. Append-only: never edit a migration
 * that has shipped; add a new one.
 */
/**
 * Columns holding DICOM values are unbounded text: real modalities exceed the VR limits
 * ("1996.01.01" in a DA, long descriptions), and PostgreSQL would refuse such an instance
 * where SQLite silently kept it. (text and varchar cost the same in PostgreSQL.)
 */
function migrationsFor(dialect: SqlDialectName): Record<string, Migration> {
  return {
    '0001-archive-core': {
      async up(db: Kysely<unknown>) {
        await db.schema
          .createTable('institutions')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('name', 'text', (c) => c.notNull())
          .addColumn('created_at', 'text', (c) => c.notNull())
          .execute();
        await db.schema
          .createTable('dicom_nodes')
          .addColumn('ae_title', 'text', (c) => c.primaryKey())
          .addColumn('host', 'text', (c) => c.notNull())
          .addColumn('port', 'integer', (c) => c.notNull())
          .addColumn('institution_id', 'text', (c) => c.notNull().references('institutions.id'))
          .addColumn('created_at', 'text', (c) => c.notNull())
          .execute();
        await db.schema
          .createTable('studies')
          .addColumn('study_instance_uid', 'text', (c) => c.primaryKey())
          .addColumn('institution_id', 'text', (c) => c.notNull().references('institutions.id'))
          .addColumn('patient_id', 'text')
          .addColumn('issuer_of_patient_id', 'text')
          .addColumn('patient_name', 'text')
          .addColumn('patient_name_alphabetic', 'text')
          .addColumn('patient_name_ideographic', 'text')
          .addColumn('patient_name_phonetic', 'text')
          .addColumn('patient_name_search', 'text')
          .addColumn('patient_birth_date', 'text')
          .addColumn('patient_sex', 'text')
          .addColumn('study_date', 'text')
          .addColumn('study_time', 'text')
          .addColumn('accession_number', 'text')
          .addColumn('study_id', 'text')
          .addColumn('study_description', 'text')
          .addColumn('referring_physician_name', 'text')
          .addColumn('institution_name', 'text')
          .addColumn('modalities_in_study', 'text')
          .addColumn('attributes_json', 'text', (c) => c.notNull())
          .addColumn('created_at', 'text', (c) => c.notNull())
          .addColumn('updated_at', 'text', (c) => c.notNull())
          .execute();
        await db.schema
          .createTable('series')
          .addColumn('series_instance_uid', 'text', (c) => c.primaryKey())
          .addColumn('study_instance_uid', 'text', (c) => c.notNull().references('studies.study_instance_uid'))
          .addColumn('modality', 'text')
          .addColumn('series_number', 'integer')
          .addColumn('series_description', 'text')
          .addColumn('body_part_examined', 'text')
          .addColumn('series_date', 'text')
          .addColumn('series_time', 'text')
          .addColumn('performed_procedure_step_start_date', 'text')
          .addColumn('attributes_json', 'text', (c) => c.notNull())
          .addColumn('created_at', 'text', (c) => c.notNull())
          .addColumn('updated_at', 'text', (c) => c.notNull())
          .execute();
        await db.schema
          .createTable('instances')
          // PostgreSQL has no AUTOINCREMENT: its counterpart is a bigserial column.
          .addColumn('seq', dialect === 'postgres' ? 'bigserial' : 'integer', (c) => (dialect === 'postgres' ? c.primaryKey() : c.primaryKey().autoIncrement()))
          .addColumn('sop_instance_uid', 'text', (c) => c.notNull().unique())
          .addColumn('series_instance_uid', 'text', (c) => c.notNull().references('series.series_instance_uid'))
          .addColumn('study_instance_uid', 'text', (c) => c.notNull().references('studies.study_instance_uid'))
          .addColumn('sop_class_uid', 'text', (c) => c.notNull())
          .addColumn('institution_id', 'text', (c) => c.notNull().references('institutions.id'))
          .addColumn('instance_number', 'integer')
          .addColumn('transfer_syntax_uid', 'text', (c) => c.notNull())
          .addColumn('number_of_frames', 'integer')
          .addColumn('rows', 'integer')
          .addColumn('columns', 'integer')
          .addColumn('content_date', 'text')
          .addColumn('content_time', 'text')
          .addColumn('blob_key', 'text', (c) => c.notNull())
          .addColumn('size', 'bigint', (c) => c.notNull())
          .addColumn('content_sha256', 'varchar(64)', (c) => c.notNull())
          .addColumn('source_ae_title', 'text')
          .addColumn('created_at', 'text', (c) => c.notNull())
          .execute();
        // Indexes for the QIDO/C-FIND query shapes and the retrieve joins.
        const indexes: Array<[string, string, string[]]> = [
          ['studies_patient_id', 'studies', ['patient_id']],
          ['studies_patient_name_alphabetic', 'studies', ['patient_name_alphabetic']],
          ['studies_study_date', 'studies', ['study_date']],
          ['studies_accession_number', 'studies', ['accession_number']],
          ['studies_institution', 'studies', ['institution_id', 'study_date']],
          ['series_study', 'series', ['study_instance_uid']],
          ['series_modality', 'series', ['modality']],
          ['instances_series', 'instances', ['series_instance_uid', 'instance_number']],
          ['instances_study', 'instances', ['study_instance_uid']],
        ];
        for (const [name, table, columns] of indexes) {
          await db.schema.createIndex(name).on(table).columns(columns).execute();
        }
        await sql`insert into institutions (id, name, created_at) values (${DEFAULT_INSTITUTION_ID}, ${'默认机构 Default institution'}, ${new Date().toISOString()})`.execute(db);
      },
    },
    '0002-postgres-search-indexes': {
      // PostgreSQL only: SQLite serves these shapes from the indexes above at county scale.
      async up(db: Kysely<unknown>) {
        if (dialect !== 'postgres') return;
        // Name searches ("ZHANG*", "*王*", "ZHANG^WEI") are one LIKE on the search text: a
        // trigram index serves any pattern with three characters in a row.
        const trigrams = await sql<{ available: boolean }>`select exists (select 1 from pg_available_extensions where name = 'pg_trgm') as available`.execute(db);
        if (trigrams.rows[0]?.available) {
          await sql`create extension if not exists pg_trgm`.execute(db);
          await sql`create index studies_patient_name_search_trigram on studies using gin (patient_name_search gin_trgm_ops)`.execute(db);
        }
        // Prefix matching ("A2024*") on a non-C collation needs pattern operator classes.
        await sql`create index studies_accession_number_prefix on studies (accession_number text_pattern_ops)`.execute(db);
        await sql`create index studies_patient_id_prefix on studies (patient_id text_pattern_ops)`.execute(db);
      },
    },
    '0003-postgres-query-indexes': {
      // The three shapes that missed p95 < 100 ms at 10 million instances (docs/scaling.md).
      // One schema for both dialects: SQLite gets the column as nullable text, never filled,
      // and keeps answering from the LIKE; PostgreSQL gets an array and the indexes.
      async up(db: Kysely<unknown>) {
        await db.schema.alterTable('studies').addColumn('patient_name_bigrams', dialect === 'postgres' ? sql`text[]` : 'text').execute();
        if (dialect !== 'postgres') return;
        // (a) Contains-searches of hanzi ("*王小*"): a two-character literal has no trigram,
        // but every one of its character pairs is in the name's bigram array. Rows stored
        // before this migration get the same bigrams ingest computes.
        await sql`update studies set patient_name_bigrams = ${postgresNameBigramsSql(sql.ref('patient_name_search'))} where patient_name_search is not null`.execute(db);
        await sql`create index studies_patient_name_bigrams on studies using gin (patient_name_bigrams)`.execute(db);
        // (b) An exact name ("ZHANG^WEI", "张伟"): equal to one of the forms in the search
        // text, an array-containment test on its "|"-separated forms.
        await sql`create index studies_patient_name_forms on studies using gin (string_to_array(patient_name_search, '|'))`.execute(db);
        // (c) ModalitiesInStudy: the study's own sorted list of its series' modalities,
        // instead of an exists on series per candidate study.
        await sql`create index studies_modalities on studies using gin (string_to_array(modalities_in_study, '\\'))`.execute(db);
      },
    },
    '0004-access': {
      // Institutions in a hierarchy, alliances, registered AEs, users, sessions, grants and
      // the hash-chained audit trail (the access issue).
      async up(db: Kysely<unknown>) {
        for (const [column, type] of [['tier', 'text'], ['grade', 'integer'], ['region_code', 'text'], ['parent_id', 'text']] as const) {
          await db.schema.alterTable('institutions').addColumn(column, type).execute();
        }
        await db.schema
          .createTable('alliance_members')
          .addColumn('centre_id', 'text', (c) => c.notNull().references('institutions.id'))
          .addColumn('member_id', 'text', (c) => c.notNull().references('institutions.id'))
          .addColumn('created_at', 'text', (c) => c.notNull())
          .addPrimaryKeyConstraint('alliance_members_pk', ['centre_id', 'member_id'])
          .execute();
        // Calling AEs and C-MOVE destinations are one registry: a destination is an AE with an address.
        await db.schema
          .createTable('application_entities')
          .addColumn('ae_title', 'text', (c) => c.primaryKey())
          .addColumn('institution_id', 'text', (c) => c.notNull().references('institutions.id'))
          .addColumn('host', 'text')
          .addColumn('port', 'integer')
          .addColumn('description', 'text')
          .addColumn('created_at', 'text', (c) => c.notNull())
          .execute();
        await sql`insert into application_entities (ae_title, institution_id, host, port, created_at) select ae_title, institution_id, host, port, created_at from dicom_nodes`.execute(db);
        await db.schema.dropTable('dicom_nodes').execute();
        await db.schema
          .createTable('users')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('username', 'text', (c) => c.notNull().unique())
          .addColumn('display_name', 'text')
          .addColumn('institution_id', 'text', (c) => c.notNull().references('institutions.id'))
          .addColumn('role', 'text', (c) => c.notNull())
          .addColumn('password_hash', 'text', (c) => c.notNull())
          .addColumn('enabled', 'integer', (c) => c.notNull())
          .addColumn('created_at', 'text', (c) => c.notNull())
          .addColumn('updated_at', 'text', (c) => c.notNull())
          .execute();
        await db.schema
          .createTable('sessions')
          .addColumn('token_sha256', 'varchar(64)', (c) => c.primaryKey())
          .addColumn('user_id', 'text', (c) => c.notNull().references('users.id'))
          .addColumn('created_at', 'text', (c) => c.notNull())
          .addColumn('expires_at', 'text', (c) => c.notNull())
          .addColumn('revoked_at', 'text')
          .addColumn('remote_address', 'text')
          .execute();
        await db.schema.createIndex('sessions_user').on('sessions').column('user_id').execute();
        await db.schema
          .createTable('login_failures')
          .addColumn('id', dialect === 'postgres' ? 'bigserial' : 'integer', (c) => (dialect === 'postgres' ? c.primaryKey() : c.primaryKey().autoIncrement()))
          .addColumn('throttle_key', 'text', (c) => c.notNull())
          .addColumn('failed_at', 'text', (c) => c.notNull())
          .execute();
        await db.schema.createIndex('login_failures_key').on('login_failures').columns(['throttle_key', 'failed_at']).execute();
        await db.schema
          .createTable('study_grants')
          .addColumn('study_instance_uid', 'text', (c) => c.notNull())
          .addColumn('institution_id', 'text', (c) => c.notNull().references('institutions.id'))
          .addColumn('reason', 'text', (c) => c.notNull())
          .addColumn('granted_by', 'text', (c) => c.notNull())
          .addColumn('created_at', 'text', (c) => c.notNull())
          .addPrimaryKeyConstraint('study_grants_pk', ['institution_id', 'study_instance_uid'])
          .execute();
        await db.schema
          .createTable('audit_events')
          .addColumn('seq', dialect === 'postgres' ? 'bigserial' : 'integer', (c) => (dialect === 'postgres' ? c.primaryKey() : c.primaryKey().autoIncrement()))
          .addColumn('occurred_at', 'text', (c) => c.notNull())
          .addColumn('action', 'text', (c) => c.notNull())
          .addColumn('outcome', 'text', (c) => c.notNull())
          .addColumn('actor_kind', 'text', (c) => c.notNull())
          .addColumn('actor_name', 'text', (c) => c.notNull())
          .addColumn('actor_role', 'text', (c) => c.notNull())
          .addColumn('actor_institution_id', 'text', (c) => c.notNull())
          .addColumn('remote_address', 'text')
          .addColumn('via', 'text', (c) => c.notNull())
          .addColumn('object_type', 'text')
          .addColumn('object_id', 'text')
          .addColumn('patient_id', 'text')
          .addColumn('details', 'text', (c) => c.notNull())
          .addColumn('prev_hash', 'varchar(64)', (c) => c.notNull())
          .addColumn('hash', 'varchar(64)', (c) => c.notNull())
          .execute();
        await db.schema.createIndex('audit_events_occurred').on('audit_events').column('occurred_at').execute();
        await db.schema.createIndex('audit_events_object').on('audit_events').columns(['object_id', 'seq']).execute();
        await db.schema.createIndex('audit_events_actor').on('audit_events').columns(['actor_name', 'seq']).execute();
        await db.schema.createIndex('audit_events_patient').on('audit_events').columns(['patient_id', 'seq']).execute();
      },
    },
    '0005-reading': {
      // Remote diagnosis: reading requests with their state changes, routing rules, reports
      // with every version, templates; and the notification outbox every process reads.
      async up(db: Kysely<unknown>) {
        await db.schema
          .createTable('reading_requests')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('study_instance_uid', 'text', (c) => c.notNull())
          .addColumn('requesting_institution_id', 'text', (c) => c.notNull().references('institutions.id'))
          .addColumn('reading_institution_id', 'text', (c) => c.notNull().references('institutions.id'))
          .addColumn('requested_by', 'text', (c) => c.notNull())
          .addColumn('routing_rule_id', 'text')
          .addColumn('priority', 'text', (c) => c.notNull())
          .addColumn('status', 'text', (c) => c.notNull())
          .addColumn('clinical_history', 'text')
          .addColumn('exam_items', 'text', (c) => c.notNull())
          .addColumn('body_parts', 'text', (c) => c.notNull())
          .addColumn('modality', 'text')
          .addColumn('claimed_by', 'text')
          .addColumn('claimed_at', 'text')
          .addColumn('retake_reason', 'text')
          .addColumn('created_at', 'text', (c) => c.notNull())
          .addColumn('images_complete_at', 'text')
          .addColumn('submitted_at', 'text')
          .addColumn('signed_at', 'text')
          .addColumn('due_at', 'text')
          .addColumn('updated_at', 'text', (c) => c.notNull())
          .execute();
        await db.schema.createIndex('reading_requests_worklist').on('reading_requests').columns(['reading_institution_id', 'status', 'priority', 'created_at']).execute();
        await db.schema.createIndex('reading_requests_requester').on('reading_requests').columns(['requesting_institution_id', 'created_at']).execute();
        await db.schema.createIndex('reading_requests_study').on('reading_requests').columns(['study_instance_uid']).execute();
        await db.schema.createIndex('reading_requests_claimed_by').on('reading_requests').columns(['claimed_by', 'signed_at']).execute();
        await db.schema
          .createTable('reading_request_events')
          .addColumn('id', dialect === 'postgres' ? 'bigserial' : 'integer', (c) => (dialect === 'postgres' ? c.primaryKey() : c.primaryKey().autoIncrement()))
          .addColumn('request_id', 'text', (c) => c.notNull().references('reading_requests.id'))
          .addColumn('at', 'text', (c) => c.notNull())
          .addColumn('actor', 'text', (c) => c.notNull())
          .addColumn('from_status', 'text')
          .addColumn('to_status', 'text', (c) => c.notNull())
          .addColumn('details', 'text', (c) => c.notNull())
          .execute();
        await db.schema.createIndex('reading_request_events_request').on('reading_request_events').columns(['request_id', 'id']).execute();
        await db.schema
          .createTable('routing_rules')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('name', 'text', (c) => c.notNull())
          .addColumn('position', 'integer', (c) => c.notNull())
          .addColumn('enabled', 'integer', (c) => c.notNull())
          .addColumn('source_institution_id', 'text')
          .addColumn('modality', 'text')
          .addColumn('body_part', 'text')
          /** HH:MM, local time; from > to wraps over midnight */
          .addColumn('time_from', 'text')
          .addColumn('time_to', 'text')
          .addColumn('reading_institution_id', 'text', (c) => c.notNull().references('institutions.id'))
          .addColumn('priority', 'text', (c) => c.notNull())
          .addColumn('created_at', 'text', (c) => c.notNull())
          .execute();
        await db.schema
          .createTable('reports')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('request_id', 'text', (c) => c.notNull().unique().references('reading_requests.id'))
          .addColumn('study_instance_uid', 'text', (c) => c.notNull())
          .addColumn('status', 'text', (c) => c.notNull())
          .addColumn('version', 'integer', (c) => c.notNull())
          .addColumn('findings', 'text', (c) => c.notNull())
          .addColumn('impression', 'text', (c) => c.notNull())
          .addColumn('positive', 'integer')
          .addColumn('template_id', 'text')
          .addColumn('author', 'text', (c) => c.notNull())
          .addColumn('reviewer', 'text')
          .addColumn('review_comments', 'text')
          .addColumn('created_at', 'text', (c) => c.notNull())
          .addColumn('updated_at', 'text', (c) => c.notNull())
          .addColumn('submitted_at', 'text')
          .addColumn('signed_at', 'text')
          .addColumn('sr_sop_instance_uid', 'text')
          .execute();
        await db.schema.createIndex('reports_study').on('reports').columns(['study_instance_uid']).execute();
        await db.schema
          .createTable('report_versions')
          .addColumn('report_id', 'text', (c) => c.notNull().references('reports.id'))
          .addColumn('version', 'integer', (c) => c.notNull())
          .addColumn('kind', 'text', (c) => c.notNull())
          .addColumn('findings', 'text', (c) => c.notNull())
          .addColumn('impression', 'text', (c) => c.notNull())
          .addColumn('positive', 'integer')
          .addColumn('addendum', 'text')
          .addColumn('saved_by', 'text', (c) => c.notNull())
          .addColumn('saved_at', 'text', (c) => c.notNull())
          .addPrimaryKeyConstraint('report_versions_pk', ['report_id', 'version'])
          .execute();
        await db.schema
          .createTable('report_templates')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('modality', 'text', (c) => c.notNull())
          .addColumn('body_part', 'text', (c) => c.notNull())
          .addColumn('name', 'text', (c) => c.notNull())
          .addColumn('findings', 'text', (c) => c.notNull())
          .addColumn('impression', 'text', (c) => c.notNull())
          .addColumn('institution_id', 'text')
          .addColumn('created_at', 'text', (c) => c.notNull())
          .execute();
        await db.schema
          .createTable('notifications')
          .addColumn('seq', dialect === 'postgres' ? 'bigserial' : 'integer', (c) => (dialect === 'postgres' ? c.primaryKey() : c.primaryKey().autoIncrement()))
          .addColumn('institution_id', 'text', (c) => c.notNull())
          .addColumn('type', 'text', (c) => c.notNull())
          .addColumn('payload', 'text', (c) => c.notNull())
          .addColumn('created_at', 'text', (c) => c.notNull())
          .execute();
        await db.schema.createIndex('notifications_institution').on('notifications').columns(['institution_id', 'seq']).execute();
      },
    },
    '0006-cloud-film': {
      // Cloud film (云胶片): share links to one study, their onward shares, and every access.
      async up(db: Kysely<unknown>) {
        await db.schema
          .createTable('share_links')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('token', 'text', (c) => c.notNull().unique())
          .addColumn('study_instance_uid', 'text', (c) => c.notNull())
          .addColumn('report_id', 'text')
          .addColumn('institution_id', 'text', (c) => c.notNull().references('institutions.id'))
          .addColumn('parent_id', 'text')
          .addColumn('kind', 'text', (c) => c.notNull())
          .addColumn('recipient', 'text')
          .addColumn('access_code_hash', 'text')
          .addColumn('created_by', 'text', (c) => c.notNull())
          .addColumn('created_at', 'text', (c) => c.notNull())
          .addColumn('expires_at', 'text', (c) => c.notNull())
          .addColumn('revoked_at', 'text')
          .addColumn('views', 'integer', (c) => c.notNull().defaultTo(0))
          .execute();
        await db.schema.createIndex('share_links_study').on('share_links').columns(['study_instance_uid']).execute();
        await db.schema.createIndex('share_links_parent').on('share_links').columns(['parent_id']).execute();
        await db.schema
          .createTable('share_accesses')
          .addColumn('id', dialect === 'postgres' ? 'bigserial' : 'integer', (c) => (dialect === 'postgres' ? c.primaryKey() : c.primaryKey().autoIncrement()))
          .addColumn('link_id', 'text', (c) => c.notNull().references('share_links.id'))
          .addColumn('at', 'text', (c) => c.notNull())
          .addColumn('action', 'text', (c) => c.notNull())
          .addColumn('remote_address', 'text')
          .addColumn('user_agent', 'text')
          .execute();
        await db.schema.createIndex('share_accesses_link').on('share_accesses').columns(['link_id', 'id']).execute();
      },
    },
    '0007-worklist-order-index': {
      // The worklist's order as an index, so a page of 20 reads 20 index entries instead of
      // sorting every pending request (bench/reading-load.ts). The expressions must stay the
      // same text as the query's ORDER BY in store/reading-store.ts (WORKLIST_ORDER).
      async up(db: Kysely<unknown>) {
        await sql`create index reading_requests_worklist_order on reading_requests (reading_institution_id, status, (case priority when 'emergency' then 0 when 'urgent' then 1 else 2 end), (coalesce(images_complete_at, created_at)), id)`.execute(db);
      },
    },
    '0008-study-rows': {
      // Records made of a study belong to its row, not to its UID string: a study deleted and
      // filed again under the same Study Instance UID (by another institution, for another
      // patient) is another row with another key, and the old requests and links never
      // attach to it (issue 12, finding 3). Deletion also tombstones them (status 'deleted').
      async up(db: Kysely<unknown>) {
        await db.schema.alterTable('studies').addColumn('study_key', 'text').execute();
        await db.schema.alterTable('reading_requests').addColumn('study_key', 'text').execute();
        await db.schema.alterTable('share_links').addColumn('study_key', 'text').execute();
        const randomKey = dialect === 'postgres' ? sql`md5(random()::text || clock_timestamp()::text || study_instance_uid)` : sql`lower(hex(randomblob(16)))`;
        await sql`update studies set study_key = ${randomKey}`.execute(db);
        const keyOfStudy = (table: string) => sql`(select s.study_key from studies s where s.study_instance_uid = ${sql.ref(`${table}.study_instance_uid`)})`;
        await sql`update reading_requests set study_key = ${keyOfStudy('reading_requests')}`.execute(db);
        await sql`update share_links set study_key = ${keyOfStudy('share_links')}`.execute(db);
        // What a deletion before this migration left alive: requests whose images had
        // arrived and whose study is gone (a request still awaiting its images keeps waiting),
        // their reports, and every link whose study is gone.
        const now = new Date().toISOString();
        const orphaned = sql`study_key is null and images_complete_at is not null and status <> 'deleted'`;
        await sql`insert into reading_request_events (request_id, at, actor, from_status, to_status, details)
          select id, ${now}, 'migration:0008-study-rows', status, 'deleted', ${JSON.stringify({ reason: 'the study was deleted' })} from reading_requests where ${orphaned}`.execute(db);
        await sql`update reports set status = 'deleted', updated_at = ${now} where request_id in (select id from reading_requests where ${orphaned})`.execute(db);
        await sql`update reading_requests set status = 'deleted', updated_at = ${now} where ${orphaned}`.execute(db);
        await sql`update share_links set revoked_at = ${now} where study_key is null and revoked_at is null`.execute(db);
      },
    },
    '0009-attempt-reservations': {
      // Login and cloud-film code throttling (store/access-store.ts reserveAttempt): one row
      // per throttle key counts the attempts of its current window, taken by one conditional
      // upsert before anything is verified, so parallel guesses cannot all pass a check
      // made before any of them failed, in one process or several.
      async up(db: Kysely<unknown>) {
        await db.schema
          .createTable('attempt_reservations')
          .addColumn('throttle_key', 'text', (c) => c.primaryKey())
          .addColumn('window_started_at', 'text', (c) => c.notNull())
          .addColumn('attempts', 'integer', (c) => c.notNull())
          .execute();
      },
    },
    '0010-one-open-request': {
      // One open reading request per study and reading centre (issue 13, item 10): the
      // service's "is one open?" check and its insert were two statements, so a routing rule
      // and a technologist (or two clicks) could both pass the check. The partial unique
      // index decides now; the insert that loses does nothing (store/reading-store.ts
      // insertRequest). study_key stays out of the key: deleting a study tombstones its
      // requests ('deleted'), so every open request belongs to the study row there is, and a
      // null study_key (request before its images) would never collide.
      async up(db: Kysely<unknown>) {
        const now = new Date().toISOString();
        const open = sql`status not in ('cancelled', 'signed', 'deleted')`;
        // Duplicates made before the index would fail its creation: the request furthest
        // along (then the oldest) stays, the others are cancelled with a reason in their trail.
        const rank = sql`case status when 'submitted' then 0 when 'claimed' then 1 when 'retake-requested' then 2 when 'pending' then 3 else 4 end`;
        const duplicates = sql`select id from (
            select id, row_number() over (partition by study_instance_uid, reading_institution_id order by ${rank}, created_at, id) as place
            from reading_requests where ${open}
          ) ranked where place > 1`;
        await sql`insert into reading_request_events (request_id, at, actor, from_status, to_status, details)
          select id, ${now}, 'migration:0010-one-open-request', status, 'cancelled', ${JSON.stringify({ reason: 'a duplicate of another open request for the same study and reading centre' })}
          from reading_requests where id in (${duplicates})`.execute(db);
        await sql`update reading_requests set status = 'cancelled', updated_at = ${now} where id in (${duplicates})`.execute(db);
        await sql`create unique index reading_requests_one_open on reading_requests (study_instance_uid, reading_institution_id) where ${open}`.execute(db);
      },
    },
    '0011-change-feed': {
      // The durable change feed (issue 13, item 3; Orthanc's Changes table): every change
      // appends a row in its own transaction; each consumer group keeps its cursor and its
      // lease in feed_cursors, and the changes it failed to handle (waiting for a retry, or
      // dead letters) in feed_failures. See store/change-feed-store.ts and feed/change-feed.ts.
      async up(db: Kysely<unknown>) {
        await db.schema
          .createTable('changes')
          .addColumn('seq', dialect === 'postgres' ? 'bigserial' : 'integer', (c) => (dialect === 'postgres' ? c.primaryKey() : c.primaryKey().autoIncrement()))
          .addColumn('type', 'text', (c) => c.notNull())
          .addColumn('resource_type', 'text', (c) => c.notNull())
          .addColumn('resource_id', 'text', (c) => c.notNull())
          .addColumn('institution_id', 'text')
          .addColumn('payload', 'text', (c) => c.notNull())
          .addColumn('created_at', 'text', (c) => c.notNull())
          .execute();
        // A consumer reads its types after its cursor; the notification bus reads one type,
        // per institution on a replay; and "what happened to this resource", in order.
        await db.schema.createIndex('changes_type').on('changes').columns(['type', 'seq']).execute();
        await db.schema.createIndex('changes_type_institution').on('changes').columns(['type', 'institution_id', 'seq']).execute();
        await db.schema.createIndex('changes_resource').on('changes').columns(['resource_type', 'resource_id', 'seq']).execute();
        // The notification bus moves from its outbox (0005) onto the feed: the outbox's rows
        // come along under their seqs, so a client resuming with a Last-Event-ID from before
        // misses nothing and sees nothing twice, and the feed's seqs continue above them.
        // A notification type is [A-Za-z0-9._:-] (events/notification-bus.ts), so it needs no
        // JSON escaping; the payload is JSON already.
        await sql`insert into changes (seq, type, resource_type, resource_id, institution_id, payload, created_at)
          select seq, 'notification.published', 'notification', type, institution_id, '{"type":"' || type || '","payload":' || payload || '}', created_at from notifications`.execute(db);
        if (dialect === 'postgres') await sql`select setval(pg_get_serial_sequence('changes', 'seq'), coalesce((select max(seq) from changes), 0) + 1, false)`.execute(db);
        await sql`delete from notifications`.execute(db);
        await db.schema
          .createTable('feed_cursors')
          .addColumn('consumer_group', 'text', (c) => c.primaryKey())
          .addColumn('last_seq', 'bigint', (c) => c.notNull())
          .addColumn('lease_owner', 'text')
          .addColumn('lease_until', 'text')
          .addColumn('updated_at', 'text', (c) => c.notNull())
          .execute();
        await db.schema
          .createTable('feed_failures')
          .addColumn('consumer_group', 'text', (c) => c.notNull())
          .addColumn('seq', 'bigint', (c) => c.notNull())
          .addColumn('status', 'text', (c) => c.notNull())
          .addColumn('attempts', 'integer', (c) => c.notNull())
          .addColumn('next_attempt_at', 'text')
          .addColumn('last_error', 'text', (c) => c.notNull())
          .addColumn('first_failed_at', 'text', (c) => c.notNull())
          .addColumn('updated_at', 'text', (c) => c.notNull())
          .addPrimaryKeyConstraint('feed_failures_pk', ['consumer_group', 'seq'])
          .execute();
        await db.schema.createIndex('feed_failures_due').on('feed_failures').columns(['consumer_group', 'status', 'next_attempt_at']).execute();
      },
    },
    '0012-audit-chain-head': {
      // PostgreSQL only (SQLite has one writer and needs no lock): the chain's head read
      // under its lock in one round trip (store/audit-store.ts lockedHead): each statement
      // less under the lock is throughput. A VOLATILE function takes a fresh snapshot for
      // each of its statements, so the head is read after the lock is granted and sees what
      // the previous holder committed. The chaining transaction then commits without waiting
      // for its WAL flush: what it chains is durable already (staged with its change, 0013)
      // or a read's record, and a PostgreSQL crash loses a WAL suffix, never a middle.
      async up(db: Kysely<unknown>) {
        if (dialect !== 'postgres') return;
        await sql`create function audit_chain_head(lock_key bigint) returns table (head_seq bigint, head_hash text) language sql volatile as $$
          select set_config('synchronous_commit', 'off', true);
          select pg_advisory_xact_lock(lock_key);
          select seq, hash from audit_events order by seq desc limit 1;
        $$`.execute(db);
      },
    },
    '0013-audit-pending': {
      // PostgreSQL only: a change's audit records commit with it here, unchained and without
      // any lock, and are chained into audit_events right after (store/audit-store.ts
      // appendIn, chainStaged), many changes per transaction, or at the next start if the
      // process died in between. One row per change: its records in order, as JSON.
      async up(db: Kysely<unknown>) {
        if (dialect !== 'postgres') return;
        await db.schema
          .createTable('audit_pending')
          .addColumn('id', 'bigserial', (c) => c.primaryKey())
          .addColumn('records', 'text', (c) => c.notNull())
          .addColumn('created_at', 'text', (c) => c.notNull())
          .execute();
      },
    },
    '0014-user-signatures': {
      // A signer's handwritten signature (PNG), drawn beside their name on the report PDF
      // (reports/report-pdf.ts), set by `yunying user signature`. Base64 text, not a blob
      // column: one type in both dialects, and the image is small (reports/signatures.ts
      // caps it at 256 KiB). Keyed by username, as reports name their author and reviewer.
      async up(db: Kysely<unknown>) {
        await db.schema
          .createTable('user_signatures')
          .addColumn('username', 'text', (c) => c.primaryKey())
          .addColumn('png_base64', 'text', (c) => c.notNull())
          .addColumn('sha256', 'text', (c) => c.notNull())
          .addColumn('updated_at', 'text', (c) => c.notNull())
          .addColumn('updated_by', 'text', (c) => c.notNull())
          .execute();
      },
    },
    '0017-report-productivity': {
      // Reporting productivity (issue 14, item 7): templates get an owner and a scope
      // (system: the starter set, shared by all; institution: one institution's readers;
      // personal: its owner only), the phrase library (常用语) with the same scopes, and a
      // report's attachments (measurements from the viewer, key images), saved with the draft.
      async up(db: Kysely<unknown>) {
        await db.schema.alterTable('report_templates').addColumn('scope', 'text', (c) => c.notNull().defaultTo('system')).execute();
        await db.schema.alterTable('report_templates').addColumn('owner', 'text').execute();
        await db.schema.alterTable('report_templates').addColumn('updated_at', 'text').execute();
        await db.schema.alterTable('report_templates').addColumn('updated_by', 'text').execute();
        await sql`update report_templates set scope = 'institution' where institution_id is not null`.execute(db);
        await db.schema
          .createTable('report_phrases')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('scope', 'text', (c) => c.notNull())
          .addColumn('institution_id', 'text')
          .addColumn('owner', 'text')
          .addColumn('group_name', 'text', (c) => c.notNull())
          .addColumn('trigger', 'text')
          .addColumn('text', 'text', (c) => c.notNull())
          .addColumn('created_at', 'text', (c) => c.notNull())
          .addColumn('updated_at', 'text', (c) => c.notNull())
          .addColumn('updated_by', 'text')
          .execute();
        await db.schema
          .createTable('report_attachments')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('report_id', 'text', (c) => c.notNull().references('reports.id'))
          .addColumn('kind', 'text', (c) => c.notNull())
          .addColumn('position', 'integer', (c) => c.notNull())
          .addColumn('study_instance_uid', 'text', (c) => c.notNull())
          .addColumn('series_instance_uid', 'text', (c) => c.notNull())
          .addColumn('sop_instance_uid', 'text', (c) => c.notNull())
          .addColumn('frame', 'integer', (c) => c.notNull())
          .addColumn('series_number', 'integer')
          .addColumn('instance_number', 'integer')
          .addColumn('tool', 'text')
          .addColumn('value', dialect === 'postgres' ? 'double precision' : 'real')
          .addColumn('unit', 'text')
          .addColumn('text', 'text', (c) => c.notNull())
          .addColumn('created_at', 'text', (c) => c.notNull())
          .addColumn('created_by', 'text', (c) => c.notNull())
          .execute();
        await db.schema.createIndex('report_attachments_report').on('report_attachments').columns(['report_id', 'kind', 'position']).execute();
      },
    },
    '0019-report-numbers': {
      // 报告编号 (reports/report-number.ts): the readable number of a signed report, from one
      // counter per reading institution and year, advanced in the signing transaction
      // (store/report-number-store.ts). Reports signed before are numbered here in the order
      // of their signature, the year taken in YUNYING_TIME_ZONE (Asia/Shanghai unless set),
      // and the counters continue after them.
      async up(db: Kysely<unknown>) {
        await db.schema.alterTable('reports').addColumn('report_number', 'text').execute();
        await db.schema
          .createTable('report_number_counters')
          .addColumn('institution_id', 'text', (c) => c.notNull())
          .addColumn('year', 'integer', (c) => c.notNull())
          .addColumn('last_value', 'bigint', (c) => c.notNull())
          .addPrimaryKeyConstraint('report_number_counters_pk', ['institution_id', 'year'])
          .execute();
        const signed = await sql<{ id: string; signed_at: string; institution_id: string }>`select p.id, p.signed_at, r.reading_institution_id as institution_id
          from reports p join reading_requests r on r.id = p.request_id where p.signed_at is not null order by p.signed_at, p.id`.execute(db);
        const year = new Intl.DateTimeFormat('en-CA', { timeZone: backfillTimeZone(), year: 'numeric' });
        const counters = new Map<string, { institutionId: string; year: number; last: number }>();
        for (const row of signed.rows) {
          const signedYear = Number(year.format(new Date(row.signed_at)));
          const key = `${row.institution_id}\u0000${signedYear}`;
          const counter = counters.get(key) ?? { institutionId: row.institution_id, year: signedYear, last: 0 };
          counter.last += 1;
          counters.set(key, counter);
          const number = `${row.institution_id.toUpperCase().replace(/[._]/g, '-')}-${signedYear}-${String(counter.last).padStart(6, '0')}`;
          await sql`update reports set report_number = ${number} where id = ${row.id}`.execute(db);
        }
        for (const counter of counters.values()) {
          await sql`insert into report_number_counters (institution_id, year, last_value) values (${counter.institutionId}, ${counter.year}, ${counter.last})`.execute(db);
        }
        await db.schema.createIndex('reports_report_number').on('reports').column('report_number').unique().execute();
      },
    },
    '0020-ingest-compression': {
      // Compression on ingest (issue 15 item 1; settings/ingest-compression.ts): an instance
      // stored losslessly compressed records the syntax it was received in and the received
      // object's hash. Null, as for every instance stored before: kept as received.
      async up(db: Kysely<unknown>) {
        for (const column of INGEST_COMPRESSION_COLUMNS) await db.schema.alterTable('instances').addColumn(column, 'varchar(64)').execute();
      },
    },
    '0024-pn-phonetic-index': {
      // Every indexed PN attribute matches like PatientName (case-insensitive, per component
      // group): ReferringPhysicianName gets the same derived columns. Both get their pinyin
      // forms for QIDO-RS fuzzymatching ("zhang*" finds 张^三). Rows stored before are filled
      // here, in the same code ingest uses (archive/matching.ts personNameIndexColumns).
      async up(db: Kysely<unknown>) {
        for (const column of PN_PHONETIC_COLUMNS) await db.schema.alterTable('studies').addColumn(column, 'text').execute();
        await backfillPersonNameColumns(db);
        if (dialect !== 'postgres') return;
        // Fuzzy and "contains" searches are LIKEs on these: trigrams serve them (0002 made the extension if it could).
        const trigrams = await sql<{ installed: boolean }>`select exists (select 1 from pg_extension where extname = 'pg_trgm') as installed`.execute(db);
        if (!trigrams.rows[0]?.installed) return;
        for (const column of ['patient_name_pinyin', 'referring_physician_name_search', 'referring_physician_name_pinyin']) {
          await sql`create index ${sql.id(`studies_${column}_trigram`)} on studies using gin (${sql.ref(column)} gin_trgm_ops)`.execute(db);
        }
      },
    },
    '0025-study-user-grants': {
      // Grants to one user until an expiry (issue 17: a clinician who opens another
      // institution's prior exam with a stated reason, or by break-glass, sees it alone and for
      // a limited time; study_grants serve a whole institution and never expire).
      async up(db: Kysely<unknown>) {
        await db.schema
          .createTable('study_user_grants')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('study_instance_uid', 'text', (c) => c.notNull())
          .addColumn('user_id', 'text', (c) => c.notNull().references('users.id'))
          .addColumn('reason', 'text', (c) => c.notNull())
          .addColumn('emergency', 'integer', (c) => c.notNull())
          .addColumn('granted_at', 'text', (c) => c.notNull())
          .addColumn('expires_at', 'text', (c) => c.notNull())
          .execute();
        await db.schema.createIndex('study_user_grants_user').on('study_user_grants').columns(['user_id', 'study_instance_uid', 'expires_at']).execute();
        await db.schema.createIndex('study_user_grants_study').on('study_user_grants').column('study_instance_uid').execute();
      },
    },
    '0028-case-grants': {
      // Grants for the length of a case (issue 18: a consultation's experts, a referral's
      // receiving institution): granted_for names the case ('consultation:<id>'), so that the
      // case's end takes back its own grants and leaves every other one (a reading request's,
      // an access request's) as it is. Null: a grant that no case ends.
      async up(db: Kysely<unknown>) {
        for (const table of CASE_GRANT_TABLES) {
          await db.schema.alterTable(table).addColumn('granted_for', 'text').execute();
          await db.schema.createIndex(`${table}_granted_for`).on(table).column('granted_for').execute();
        }
      },
    },
  };
}

/** The tables migration 0028 gives a granted_for column and its index `<table>_granted_for` (replay tests drop them). */
export const CASE_GRANT_TABLES = ['study_grants', 'study_user_grants'] as const;

/** The columns migration 0020 adds to instances (deletion-tombstones.test.ts drops them to replay it). */
export const INGEST_COMPRESSION_COLUMNS = ['original_transfer_syntax_uid', 'original_sha256'] as const;

/** The columns migration 0024 adds to studies (deletion-tombstones.test.ts drops them to replay it). */
export const PN_PHONETIC_COLUMNS = [
  'referring_physician_name_alphabetic',
  'referring_physician_name_ideographic',
  'referring_physician_name_phonetic',
  'referring_physician_name_search',
  'patient_name_pinyin',
  'referring_physician_name_pinyin',
] as const;

/** Migration 0024's fill of the PN columns: studies read a thousand at a time in UID order, each row updated. */
async function backfillPersonNameColumns(db: Kysely<unknown>): Promise<void> {
  let after = '';
  for (;;) {
    const batch = await sql<{ study_instance_uid: string; patient_name: string | null; referring_physician_name: string | null }>`select study_instance_uid, patient_name, referring_physician_name from studies
      where study_instance_uid > ${after} and (patient_name is not null or referring_physician_name is not null) order by study_instance_uid limit 1000`.execute(db);
    for (const row of batch.rows) {
      const referring = personNameIndexColumns(row.referring_physician_name);
      await sql`update studies set patient_name_pinyin = ${personNameIndexColumns(row.patient_name).pinyin},
        referring_physician_name_alphabetic = ${referring.alphabetic}, referring_physician_name_ideographic = ${referring.ideographic},
        referring_physician_name_phonetic = ${referring.phonetic}, referring_physician_name_search = ${referring.search},
        referring_physician_name_pinyin = ${referring.pinyin} where study_instance_uid = ${row.study_instance_uid}`.execute(db);
    }
    if (batch.rows.length < 1000) return;
    after = batch.rows.at(-1)!.study_instance_uid;
  }
}

/** The zone migration 0019 takes a signature's year in: the configured one when it is valid. */
function backfillTimeZone(): string {
  const zone = process.env.YUNYING_TIME_ZONE?.trim() || 'Asia/Shanghai';
  try {
    new Intl.DateTimeFormat('en', { timeZone: zone });
    return zone;
  } catch {
    return 'Asia/Shanghai';
  }
}

/** The one migration set; a statement differs by dialect only where SQL itself does. */
export function migrationProviderFor(dialect: SqlDialectName): MigrationProvider {
  return { getMigrations: async () => migrationsFor(dialect) };
}

/**
 * The SQL twin of personNameBigrams (archive/matching.ts): the distinct character pairs of a
 * search text that hold a non-ASCII character (in UTF-8, a pair longer than two bytes), or
 * null. Used by migration 0003's backfill and by bench/scale.ts's generated rows.
 */
export function postgresNameBigramsSql(searchText: RawBuilder<unknown>): RawBuilder<string[] | null> {
  return sql<string[] | null>`(select array_agg(distinct pair) from (select substr(${searchText}, i, 2) as pair from generate_series(1, char_length(${searchText}) - 1) as i) as pairs where octet_length(pair) > 2)`;
}

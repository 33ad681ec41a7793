import type { Kysely } from 'kysely';
import { hasPermission, systemCaller, type Caller } from '../access/caller.ts';
import { YunyingError } from '../errors.ts';
import type { FeedConsumer } from '../feed/change.ts';
import type { CreationHook, ExamCreatedFacts } from '../modules/creation-hooks.ts';
import { serviceKey, type YunyingModule } from '../modules/module.ts';
import { ORDER_CREATED, ORDERS, type OrderService } from '../orders/module.ts';
import { READING_REQUEST_CREATED } from '../reading/module.ts';
import { FHIR_PERSON_PATIENTS } from '../fhir/module.ts';
import { NationalIdVault } from './national-id-vault.ts';
import { personPatientSource } from './person-patient.ts';
import { filmTimeline } from './film-timeline.ts';
import { SHARES } from '../share/module.ts';
import { PatientIndex } from './patient-index.ts';
import { patientIndexStore, type PatientIndexStore, type RecognitionItemRow, type RecognitionTables } from './patient-index-store.ts';
import { PatientLookup } from './patient-lookup.ts';
import { DEFAULT_REGION, RecognitionRecords } from './recognition-records.ts';
import { registerRecognitionRoutes } from './recognition-routes.ts';
import { normalizeResidentId } from './resident-id.ts';

declare module '../access/permissions.ts' {
  interface ModulePermissions {
    'recognition:search': true;
    'recognition:access': true;
    'recognition:break-glass': true;
    'recognition:check': true;
    'recognition:record': true;
    'recognition:link': true;
    'recognition:merge': true;
    'recognition:statistics': true;
    'recognition:items-read': true;
    'recognition:items-write': true;
  }
}

export interface Recognition {
  store: PatientIndexStore;
  index: PatientIndex;
  lookup: PatientLookup;
  records: RecognitionRecords;
}

/** The patient index, lookups and the duplicate check, for the modules listed after recognition. */
export const RECOGNITION = serviceKey<Recognition>('recognition');

const CLINICAL_READERS = ['clinician', 'radiologist', 'reviewing-radiologist', 'expert'] as const;

/**
 * The starting catalogue of the default region: common items with the recognition window
 * the defaults use and, where the source gives one, the county price per body part
 * (《陕西省医疗服务项目价格 2021 版》: CT ¥180, DR ¥40). A region loads its own catalogue
 * (≥ 200 items for a city) through PUT /api/v1/recognition-items/{code}.
 */
const DEFAULT_ITEMS: ReadonlyArray<Pick<RecognitionItemRow, 'code' | 'name' | 'modality' | 'body_part' | 'window_days' | 'reference_price_yuan'>> = [
  { code: 'CT-HEAD', name: '头颅CT平扫', modality: 'CT', body_part: 'HEAD', window_days: 30, reference_price_yuan: 180 },
  { code: 'CT-CHEST', name: '胸部CT平扫', modality: 'CT', body_part: 'CHEST', window_days: 30, reference_price_yuan: 180 },
  { code: 'CT-ABDOMEN', name: '腹部CT平扫', modality: 'CT', body_part: 'ABDOMEN', window_days: 30, reference_price_yuan: 180 },
  { code: 'DX-CHEST', name: '胸部正位DR', modality: 'DX', body_part: 'CHEST', window_days: 30, reference_price_yuan: 40 },
  { code: 'MR-HEAD', name: '头颅MR平扫', modality: 'MR', body_part: 'HEAD', window_days: 30, reference_price_yuan: null },
  { code: 'MR-LSPINE', name: '腰椎MR平扫', modality: 'MR', body_part: 'LSPINE', window_days: 30, reference_price_yuan: null },
  { code: 'US-ABDOMEN', name: '腹部超声', modality: 'US', body_part: 'ABDOMEN', window_days: 7, reference_price_yuan: null },
  { code: 'MG-BREAST', name: '乳腺钼靶', modality: 'MG', body_part: 'BREAST', window_days: 180, reference_price_yuan: null },
];

/**
 * Every stored study's patient joins the regional patient index. The instances of one study
 * come as many changes: a bounded memory of the studies looked at skips the rest; noteStudy
 * is idempotent, so a change handed over again is harmless. A correction of the patient's
 * attributes is looked at again.
 */
function indexingConsumer(index: PatientIndex): FeedConsumer {
  const seen = new Set<string>();
  return {
    group: 'patient-index',
    types: ['instance.stored', 'study.corrected'],
    async handle(change) {
      const studyInstanceUid = change.type === 'study.corrected' ? change.resourceId : change.payload.studyInstanceUid;
      if (typeof studyInstanceUid !== 'string') return;
      if (change.type === 'instance.stored' && (change.payload.outcome !== 'stored' || seen.has(studyInstanceUid))) return;
      await index.noteStudy(studyInstanceUid);
      if (seen.size >= 10_000) seen.clear();
      seen.add(studyInstanceUid);
    },
  };
}

/**
 * An order's patient joins the index with the resident ID the order carries, whichever
 * interface placed it (REST, FHIR ServiceRequest, HL7 ORM).
 */
function orderConsumer(index: PatientIndex, orders: OrderService): FeedConsumer {
  const reader = systemCaller('recognition');
  return {
    group: 'patient-index-orders',
    types: ['order.created'],
    async handle(change) {
      const order = await orders.getOrder(reader, change.resourceId);
      const { patient } = order;
      if (!patient.nationalId || !normalizeResidentId(patient.nationalId)) return;
      const identity = { institutionId: order.institutionId, patientId: patient.patientId, issuer: patient.issuerOfPatientId ?? '' };
      await index.noteNationalId({ identity, demographics: { patientName: patient.name, birthDate: patient.birthDate, sex: patient.sex } }, patient.nationalId, 'order');
    },
  };
}

/**
 * The creation of an order or reading request: a resident ID given with it must be valid; a
 * reading request's is kept (hashed and encrypted) until its images link it; the answer
 * carries the duplicate-exam warnings (检查结果互认: a comparable recent exam elsewhere).
 */
function creationHook(recognition: Recognition, source: 'order' | 'reading-request'): CreationHook<ExamCreatedFacts> {
  return {
    validate(facts) {
      if (facts.nationalId && !normalizeResidentId(facts.nationalId)) throw new YunyingError('NATIONAL_ID_INVALID', 'nationalId is not a valid resident ID (18 characters, GB 11643 check character)');
    },
    async after(caller: Caller, facts) {
      if (facts.nationalId && source === 'reading-request') await recognition.index.noteNationalId({ studyInstanceUid: facts.studyInstanceUid, institutionId: facts.institutionId }, facts.nationalId, source);
      if (!facts.modality || !hasPermission(caller, 'recognition:check')) return {};
      const patient = facts.nationalId ? { nationalId: facts.nationalId } : await patientOf(recognition, facts);
      if (!patient) return { duplicateWarnings: [] };
      const { matches } = await recognition.records.duplicateCheck(caller, { patient, modality: facts.modality, ...(facts.bodyParts[0] ? { bodyPart: facts.bodyParts[0] } : {}), excludeStudyInstanceUid: facts.studyInstanceUid });
      return { duplicateWarnings: matches };
    },
  };
}

/** The identity the duplicate check asks about: the order's patient, or the patient of the request's study. */
async function patientOf(recognition: Recognition, facts: ExamCreatedFacts): Promise<{ patientId: string; issuerOfPatientId?: string; institutionId: string } | undefined> {
  if (facts.patient) return { patientId: facts.patient.patientId, ...(facts.patient.issuerOfPatientId ? { issuerOfPatientId: facts.patient.issuerOfPatientId } : {}), institutionId: facts.institutionId };
  const study = await recognition.store.studyRow(facts.studyInstanceUid);
  if (!study?.patient_id) return undefined;
  return { patientId: study.patient_id, ...(study.issuer_of_patient_id ? { issuerOfPatientId: study.issuer_of_patient_id } : {}), institutionId: study.institution_id };
}

/**
 * 检查结果互认 (mutual recognition, issue 17): the regional patient index, the imaging
 * timeline with per-clinician access requests, the duplicate-exam check, recognition
 * records and their statistics, the catalogue of recognised items. docs/recognition.md.
 */
export const recognitionModule: YunyingModule = {
  name: 'recognition',
  permissions: [
    { name: 'recognition:search', zh: '在区域患者索引中查找患者并查看其影像时间轴', en: 'search the regional patient index and see a person’s imaging timeline', roles: [...CLINICAL_READERS, 'technologist', 'administrator'] },
    { name: 'recognition:access', zh: '说明理由后调阅其他机构的检查（仅本人、限时）', en: 'open another institution’s exam with a stated reason (for oneself, for a limited time)', roles: [...CLINICAL_READERS] },
    { name: 'recognition:break-glass', zh: '紧急情况下紧急调阅其他机构的检查', en: 'break-glass access to another institution’s exam in an emergency', roles: [...CLINICAL_READERS] },
    { name: 'recognition:check', zh: '检查前查询是否有可互认的近期检查（重复检查提醒）', en: 'check for a recent comparable exam before ordering (duplicate-exam check)', roles: [...CLINICAL_READERS, 'technologist', 'administrator'] },
    { name: 'recognition:record', zh: '记录检查结果互认或不予互认', en: 'record that a prior exam is recognised or not', roles: [...CLINICAL_READERS] },
    { name: 'recognition:link', zh: '确认或否决疑似同一患者的关联', en: 'confirm or reject a probable link between patient records', roles: ['clinician', 'administrator'] },
    { name: 'recognition:merge', zh: '合并、撤销合并或拆分患者记录', en: 'merge, unmerge or unlink patient records', roles: ['administrator'] },
    { name: 'recognition:statistics', zh: '查看互认统计（互认数、避免的重复检查及费用）', en: 'see recognition statistics (recognised exams, duplicates and money avoided)', roles: ['commission-analyst', 'qc-officer', 'administrator'] },
    { name: 'recognition:items-read', zh: '查看互认项目目录', en: 'see the catalogue of recognised exam items', roles: [...CLINICAL_READERS, 'technologist', 'qc-officer', 'commission-analyst', 'insurance-auditor', 'administrator'] },
    { name: 'recognition:items-write', zh: '维护互认项目目录', en: 'maintain the catalogue of recognised exam items', roles: ['administrator'] },
  ],
  migrations: {
    '0026-recognition': {
      async up(untyped: Kysely<unknown>) {
        const db = untyped as unknown as Kysely<RecognitionTables>;
        await db.schema
          .createTable('persons')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('national_id_hash', 'varchar(64)', (c) => c.unique())
          .addColumn('national_id_cipher', 'text')
          .addColumn('national_id_masked', 'text')
          .addColumn('merged_into', 'text')
          .addColumn('created_at', 'text', (c) => c.notNull())
          .addColumn('updated_at', 'text', (c) => c.notNull())
          .execute();
        await db.schema
          .createTable('person_identities')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('person_id', 'text', (c) => c.notNull())
          .addColumn('institution_id', 'text', (c) => c.notNull())
          .addColumn('patient_id', 'text', (c) => c.notNull())
          .addColumn('issuer', 'text', (c) => c.notNull())
          .addColumn('patient_name', 'text')
          .addColumn('name_key', 'text')
          .addColumn('birth_date', 'text')
          .addColumn('sex', 'text')
          .addColumn('national_id_hash', 'varchar(64)')
          .addColumn('link_kind', 'text', (c) => c.notNull())
          .addColumn('pinned', 'integer', (c) => c.notNull())
          .addColumn('created_at', 'text', (c) => c.notNull())
          .addColumn('updated_at', 'text', (c) => c.notNull())
          .addUniqueConstraint('person_identities_key', ['institution_id', 'patient_id', 'issuer'])
          .execute();
        await db.schema.createIndex('person_identities_person').on('person_identities').column('person_id').execute();
        await db.schema.createIndex('person_identities_name').on('person_identities').columns(['name_key', 'birth_date', 'sex']).execute();
        await db.schema.createIndex('person_identities_national_id').on('person_identities').column('national_id_hash').execute();
        await db.schema
          .createTable('person_candidates')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('identity_id', 'text', (c) => c.notNull())
          .addColumn('person_id', 'text', (c) => c.notNull())
          .addColumn('status', 'text', (c) => c.notNull())
          .addColumn('matched_on', 'text', (c) => c.notNull())
          .addColumn('created_at', 'text', (c) => c.notNull())
          .addColumn('decided_by', 'text')
          .addColumn('decided_at', 'text')
          .addColumn('reason', 'text')
          .addUniqueConstraint('person_candidates_pair', ['identity_id', 'person_id'])
          .execute();
        await db.schema.createIndex('person_candidates_person').on('person_candidates').columns(['person_id', 'status']).execute();
        await db.schema
          .createTable('person_merges')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('survivor_id', 'text', (c) => c.notNull())
          .addColumn('merged_id', 'text', (c) => c.notNull())
          .addColumn('identity_ids', 'text', (c) => c.notNull())
          .addColumn('moved_national_id', 'integer', (c) => c.notNull())
          .addColumn('kind', 'text', (c) => c.notNull())
          .addColumn('reason', 'text', (c) => c.notNull())
          .addColumn('merged_by', 'text', (c) => c.notNull())
          .addColumn('merged_at', 'text', (c) => c.notNull())
          .addColumn('undone_by', 'text')
          .addColumn('undone_at', 'text')
          .execute();
        await db.schema.createIndex('person_merges_pair').on('person_merges').columns(['survivor_id', 'merged_id']).execute();
        await db.schema
          .createTable('national_id_claims')
          .addColumn('study_instance_uid', 'text', (c) => c.notNull())
          .addColumn('institution_id', 'text', (c) => c.notNull())
          .addColumn('national_id_hash', 'varchar(64)', (c) => c.notNull())
          .addColumn('national_id_cipher', 'text', (c) => c.notNull())
          .addColumn('national_id_masked', 'text', (c) => c.notNull())
          .addColumn('source', 'text', (c) => c.notNull())
          .addColumn('created_at', 'text', (c) => c.notNull())
          .addPrimaryKeyConstraint('national_id_claims_pk', ['study_instance_uid', 'institution_id'])
          .execute();
        await db.schema
          .createTable('recognitions')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('study_instance_uid', 'text', (c) => c.notNull())
          .addColumn('person_id', 'text')
          .addColumn('study_institution_id', 'text', (c) => c.notNull())
          .addColumn('decision', 'text', (c) => c.notNull())
          .addColumn('reason', 'text', (c) => c.notNull())
          .addColumn('avoided_exam_item', 'text')
          .addColumn('avoided_body_parts', 'text', (c) => c.notNull())
          .addColumn('avoided_price_yuan', 'double precision')
          .addColumn('institution_id', 'text', (c) => c.notNull())
          .addColumn('recorded_by', 'text', (c) => c.notNull())
          .addColumn('recorded_by_name', 'text')
          .addColumn('created_at', 'text', (c) => c.notNull())
          .execute();
        await db.schema.createIndex('recognitions_study').on('recognitions').column('study_instance_uid').execute();
        await db.schema.createIndex('recognitions_person').on('recognitions').column('person_id').execute();
        await db.schema.createIndex('recognitions_institution').on('recognitions').columns(['institution_id', 'created_at']).execute();
        await db.schema
          .createTable('recognition_items')
          .addColumn('region', 'text', (c) => c.notNull())
          .addColumn('code', 'text', (c) => c.notNull())
          .addColumn('name', 'text', (c) => c.notNull())
          .addColumn('modality', 'text', (c) => c.notNull())
          .addColumn('body_part', 'text')
          .addColumn('window_days', 'integer', (c) => c.notNull())
          .addColumn('min_institution_grade', 'integer')
          .addColumn('require_signed_report', 'integer', (c) => c.notNull())
          .addColumn('reference_price_yuan', 'double precision')
          .addColumn('updated_by', 'text', (c) => c.notNull())
          .addColumn('updated_at', 'text', (c) => c.notNull())
          .addPrimaryKeyConstraint('recognition_items_pk', ['region', 'code'])
          .execute();
        const at = new Date().toISOString();
        await db
          .insertInto('recognition_items')
          .values(DEFAULT_ITEMS.map((item) => ({ ...item, region: DEFAULT_REGION, min_institution_grade: null, require_signed_report: 1, updated_by: 'migration:0026-recognition', updated_at: at })))
          .execute();
      },
    },
  },
  register({ http, archive, config, callers, services }) {
    const store = archive.stores.open(patientIndexStore);
    const vault = new NationalIdVault(archive.stores.audit.key.key);
    const index = new PatientIndex({ store, unitOfWork: archive.unitOfWork, vault, nationalIssuer: config.recognition.nationalIdIssuer });
    const lookup = new PatientLookup({ store, index, access: archive.accessStore, unitOfWork: archive.unitOfWork, vault, grantHours: { request: config.recognition.accessHours, emergency: config.recognition.breakGlassHours } });
    const records = new RecognitionRecords({ store, index, lookup, studies: archive.index, unitOfWork: archive.unitOfWork, vault });
    const recognition = { store, index, lookup, records };
    services.provide(RECOGNITION, recognition);
    services.provide(FHIR_PERSON_PATIENTS, personPatientSource(store));
    services.get(SHARES).media.addPageSupplement(filmTimeline({ store, index, lookup, audit: archive.audit }));
    services.get(ORDER_CREATED).add(creationHook(recognition, 'order'));
    services.get(READING_REQUEST_CREATED).add(creationHook(recognition, 'reading-request'));
    return registerRecognitionRoutes(http, { index, lookup, records, resolveCaller: callers.rest });
  },
  consumers: ({ services }) => [
    { ...indexingConsumer(services.get(RECOGNITION).index), startAt: 'beginning' },
    { ...orderConsumer(services.get(RECOGNITION).index, services.get(ORDERS)), startAt: 'beginning' },
  ],
};

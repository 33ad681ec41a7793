import { randomUUID } from 'node:crypto';
import { requirePermission, studyScopeOf, type Caller } from '../access/caller.ts';
import { badRequest, notFound, YunyingError } from '../errors.ts';
import type { IndexStore } from '../store/index-store.ts';
import type { UnitOfWork } from '../store/unit-of-work.ts';
import type { NationalIdVault } from './national-id-vault.ts';
import type { PatientIndex } from './patient-index.ts';
import { patientIndexStore, type PatientIndexStore, type RecognitionItemRow } from './patient-index-store.ts';
import { groupBy, toRecognitionView, type PatientLookup, type RecognitionView, type ReportStatus } from './patient-lookup.ts';
import { normalizeResidentId } from './resident-id.ts';

/**
 * The duplicate-exam check (item 3), recognition records and their statistics (item 4) and
 * the catalogue of recognised exam items per region (item 6). docs/recognition.md.
 */

/**
 * The rule of an exam that no catalogue item names: a prior of the same modality and body
 * part within this many days is recognisable when its report is signed (documented in
 * docs/recognition.md). Projection radiography (CR/DX/DR) is one family.
 */
export const DEFAULT_WINDOW_DAYS: Readonly<Record<string, number>> = { CT: 30, MR: 30, DX: 30, NM: 30, PT: 30, XA: 30, RF: 30, MG: 180, US: 7 };
export const FALLBACK_WINDOW_DAYS = 30;

export interface DuplicateCheckInput {
  patient: { nationalId?: string; patientId?: string; issuerOfPatientId?: string; institutionId?: string };
  modality: string;
  bodyPart?: string;
  examItem?: string;
  withinDays?: number;
  /** the study the check is made for (an order's or request's own), never its own duplicate */
  excludeStudyInstanceUid?: string;
}

export interface DuplicateMatch {
  studyInstanceUid: string;
  institutionId: string;
  institutionName: string | null;
  studyDate: string | null;
  modality: string;
  bodyPart: string | null;
  reportStatus: ReportStatus;
  recognisable: boolean;
  reason: string;
}

export interface RecognitionInput {
  studyInstanceUid: string;
  decision: 'recognised' | 'not-recognised';
  reason: string;
  avoidedExamItem?: string;
  avoidedBodyParts?: string[];
}

export interface RecognitionItemView {
  region: string;
  code: string;
  name: string;
  modality: string;
  bodyPart: string | null;
  windowDays: number;
  minInstitutionGrade: number | null;
  requireSignedReport: boolean;
  referencePriceYuan: number | null;
}

export interface RecognitionCountRow {
  key: string;
  label: string;
  recognised: number;
  notRecognised: number;
  duplicatesAvoided: number;
  moneyAvoidedYuan: number | null;
}

export interface RecordsDependencies {
  store: PatientIndexStore;
  index: PatientIndex;
  lookup: PatientLookup;
  studies: IndexStore;
  unitOfWork: UnitOfWork;
  vault: NationalIdVault;
}

export const DEFAULT_REGION = 'default';

export class RecognitionRecords {
  private readonly deps: RecordsDependencies;

  constructor(deps: RecordsDependencies) {
    this.deps = deps;
  }

  /** "Did this patient have a comparable exam recently?": the person's exams of that modality and body part within the rule's window. */
  async duplicateCheck(caller: Caller, input: DuplicateCheckInput): Promise<{ matches: DuplicateMatch[] }> {
    requirePermission(caller, 'recognition:check');
    const personId = await this.personOf(input.patient);
    if (!personId) return { matches: [] };
    const rule = await this.ruleFor(caller, input);
    const since = daysAgo(rule.windowDays);
    const family = modalityFamily(input.modality);
    const bodyPart = input.bodyPart?.trim().toUpperCase() || undefined;
    const exams = await this.deps.lookup.examsOf(personId, { since, limit: 200 });
    const matches = exams.flatMap((exam): DuplicateMatch[] => {
      if (exam.study_instance_uid === input.excludeStudyInstanceUid) return [];
      const modality = exam.modalities.find((m) => modalityFamily(m) === family);
      if (!modality) return [];
      if (bodyPart && exam.bodyParts.length > 0 && !exam.bodyParts.includes(bodyPart)) return [];
      const refusal = [
        bodyPart && exam.bodyParts.length === 0 ? 'the prior exam records no body part' : undefined,
        rule.requireSignedReport && exam.reportStatus !== 'signed' ? 'its report is not signed' : undefined,
        rule.minInstitutionGrade !== null && (exam.institution_grade ?? 0) < rule.minInstitutionGrade ? `the institution's grade is below ${rule.minInstitutionGrade}` : undefined,
      ].filter((why): why is string => why !== undefined);
      return [{
        studyInstanceUid: exam.study_instance_uid,
        institutionId: exam.institution_id,
        institutionName: exam.institution_name,
        studyDate: exam.study_date,
        modality,
        bodyPart: bodyPart && exam.bodyParts.includes(bodyPart) ? bodyPart : (exam.bodyParts[0] ?? null),
        reportStatus: exam.reportStatus,
        recognisable: refusal.length === 0,
        reason: refusal.length === 0 ? `${rule.source}: within ${rule.windowDays} days, report signed` : refusal.join('; '),
      }];
    });
    return { matches };
  }

  async record(caller: Caller, input: RecognitionInput): Promise<RecognitionView> {
    requirePermission(caller, 'recognition:record');
    if (!input.reason.trim()) throw badRequest('BAD_REQUEST', 'a reason is required');
    const study = await this.deps.store.studyRow(input.studyInstanceUid);
    // a recognition is a judgement on an exam the clinician may see (in scope, or opened by an access request)
    if (!study || (await this.deps.studies.studyAccess(input.studyInstanceUid, studyScopeOf(caller))) !== 'visible') throw notFound(`study ${input.studyInstanceUid}`);
    const identity = study.patient_id ? await this.deps.store.identityByKey({ institutionId: study.institution_id, patientId: study.patient_id, issuer: study.issuer_of_patient_id ?? '' }) : undefined;
    const person = identity ? await this.deps.index.survivor(identity.person_id) : undefined;
    const avoidedBodyParts = (input.avoidedBodyParts ?? []).map((part) => part.trim().toUpperCase()).filter(Boolean);
    const item = input.avoidedExamItem ? await this.itemByCode(caller, input.avoidedExamItem) : undefined;
    const price = input.decision === 'recognised' && item?.reference_price_yuan != null ? item.reference_price_yuan * Math.max(1, avoidedBodyParts.length) : null;
    const row = {
      id: `rec-${randomUUID()}`,
      study_instance_uid: study.study_instance_uid,
      person_id: person?.id ?? null,
      study_institution_id: study.institution_id,
      decision: input.decision,
      reason: input.reason,
      avoided_exam_item: input.avoidedExamItem ?? null,
      avoided_body_parts: JSON.stringify(avoidedBodyParts),
      avoided_price_yuan: price,
      institution_id: caller.institutionId,
      recorded_by: caller.name,
      recorded_by_name: caller.name,
      created_at: new Date().toISOString(),
    };
    await this.deps.unitOfWork.run(async (tx) => {
      await tx.open(patientIndexStore).insertRecognition(row);
      tx.audit.record({ action: 'study.recognised', caller, objectType: 'study', objectId: study.study_instance_uid, ...(study.patient_id ? { patientId: study.patient_id } : {}), details: { decision: input.decision, avoidedExamItem: row.avoided_exam_item, avoidedBodyParts } });
    });
    return toRecognitionView(row);
  }

  async list(caller: Caller, filter: { personId?: string; studyInstanceUid?: string }): Promise<RecognitionView[]> {
    requirePermission(caller, 'recognition:search');
    if (!filter.personId && !filter.studyInstanceUid) throw badRequest('BAD_REQUEST', 'give patientId or studyInstanceUid');
    const personId = filter.personId ? (await this.deps.lookup.requirePerson(filter.personId)).id : undefined;
    const rows = await this.deps.store.recognitionsOf({ ...(personId ? { personId } : {}), ...(filter.studyInstanceUid ? { studyInstanceUids: [filter.studyInstanceUid] } : {}) });
    return rows.map(toRecognitionView);
  }

  /** Counts per recording institution or month: recognised, not recognised, exams avoided, money avoided (reference prices). */
  async statistics(caller: Caller, query: { groupBy: 'institution' | 'month'; from?: string; to?: string }): Promise<{ groupBy: string; rows: RecognitionCountRow[] }> {
    requirePermission(caller, 'recognition:statistics');
    const counts = await this.deps.store.recognitionCounts(query.groupBy, { ...(query.from ? { from: query.from } : {}), ...(query.to ? { to: query.to } : {}), ...(caller.visibleInstitutionIds === 'all' ? {} : { institutionIds: caller.visibleInstitutionIds }) });
    const names = query.groupBy === 'institution' ? await this.deps.store.institutionNames([...new Set(counts.map((count) => count.key))]) : new Map<string, string>();
    const rows = [...groupBy(counts, (count) => count.key)].map(([key, ofKey]): RecognitionCountRow => {
      const money = ofKey.map((count) => count.money).filter((value): value is number => value !== null);
      return {
        key,
        label: names.get(key) ?? key,
        recognised: ofKey.filter((count) => count.decision === 'recognised').reduce((sum, count) => sum + count.n, 0),
        notRecognised: ofKey.filter((count) => count.decision !== 'recognised').reduce((sum, count) => sum + count.n, 0),
        duplicatesAvoided: ofKey.reduce((sum, count) => sum + count.avoided, 0),
        moneyAvoidedYuan: money.length > 0 ? money.reduce((sum, value) => sum + value, 0) : null,
      };
    });
    return { groupBy: query.groupBy, rows: rows.sort((a, b) => a.key.localeCompare(b.key)) };
  }

  // the item catalogue

  async items(caller: Caller, region: string | undefined): Promise<RecognitionItemView[]> {
    requirePermission(caller, 'recognition:items-read');
    return (await this.deps.store.items(region)).map(toItemView);
  }

  async putItem(caller: Caller, code: string, input: Omit<RecognitionItemView, 'code'>): Promise<RecognitionItemView> {
    requirePermission(caller, 'recognition:items-write');
    const problem = itemProblem(code, input);
    if (problem) throw badRequest('RECOGNITION_ITEM_INVALID', problem);
    const row: RecognitionItemRow = {
      region: input.region,
      code,
      name: input.name.trim(),
      modality: input.modality.toUpperCase(),
      body_part: input.bodyPart ? input.bodyPart.toUpperCase() : null,
      window_days: input.windowDays,
      min_institution_grade: input.minInstitutionGrade,
      require_signed_report: input.requireSignedReport ? 1 : 0,
      reference_price_yuan: input.referencePriceYuan,
      updated_by: caller.name,
      updated_at: new Date().toISOString(),
    };
    await this.deps.unitOfWork.run(async (tx) => {
      await tx.open(patientIndexStore).putItem(row);
      tx.audit.record({ action: 'recognition-item.saved', caller, details: { region: row.region, code } });
    });
    return toItemView(row);
  }

  async removeItem(caller: Caller, region: string, code: string): Promise<void> {
    requirePermission(caller, 'recognition:items-write');
    await this.deps.unitOfWork.run(async (tx) => {
      if (!(await tx.open(patientIndexStore).removeItem(region, code))) throw notFound(`recognition item ${region}/${code}`);
      tx.audit.record({ action: 'recognition-item.removed', caller, details: { region, code } });
    });
  }

  private async personOf(patient: DuplicateCheckInput['patient']): Promise<string | undefined> {
    if (patient.nationalId) {
      const id = normalizeResidentId(patient.nationalId);
      if (!id) throw new YunyingError('NATIONAL_ID_INVALID', 'nationalId is not a valid resident ID');
      const hash = this.deps.vault.hash(id);
      const person = (await this.deps.store.personByNationalId(hash)) ?? (await this.deps.store.identitiesWithNationalId(hash)).map((identity) => ({ id: identity.person_id }))[0];
      return person ? (await this.deps.index.survivor(person.id))?.id : undefined;
    }
    if (!patient.patientId || !patient.institutionId) throw badRequest('PATIENT_SEARCH_INVALID', 'give patient.nationalId, or patient.patientId with patient.institutionId (and issuerOfPatientId when the ID has one)');
    const identity = await this.deps.store.identityByKey({ institutionId: patient.institutionId, patientId: patient.patientId, issuer: patient.issuerOfPatientId ?? '' });
    return identity ? (await this.deps.index.survivor(identity.person_id))?.id : undefined;
  }

  /** The rule: the named item, else the caller's region's item for the modality and body part, else the defaults. */
  private async ruleFor(caller: Caller, input: DuplicateCheckInput): Promise<{ windowDays: number; minInstitutionGrade: number | null; requireSignedReport: boolean; source: string }> {
    const items = await this.itemsOfRegion(caller);
    const modality = modalityFamily(input.modality);
    const bodyPart = input.bodyPart?.toUpperCase();
    const item = input.examItem
      ? items.find((candidate) => candidate.code === input.examItem)
      : (items.find((candidate) => modalityFamily(candidate.modality) === modality && candidate.body_part === bodyPart) ?? items.find((candidate) => modalityFamily(candidate.modality) === modality && candidate.body_part === null));
    const windowDays = input.withinDays ?? item?.window_days ?? DEFAULT_WINDOW_DAYS[modality] ?? FALLBACK_WINDOW_DAYS;
    if (item) return { windowDays, minInstitutionGrade: item.min_institution_grade, requireSignedReport: item.require_signed_report === 1, source: `item ${item.code}` };
    return { windowDays, minInstitutionGrade: null, requireSignedReport: true, source: 'default rule' };
  }

  private async itemByCode(caller: Caller, code: string): Promise<RecognitionItemRow | undefined> {
    return (await this.itemsOfRegion(caller)).find((item) => item.code === code);
  }

  /** The catalogue of the caller's region (its institution's region code), the default region's items after it. */
  private async itemsOfRegion(caller: Caller): Promise<RecognitionItemRow[]> {
    const region = (await this.deps.store.institution(caller.institutionId))?.region_code;
    const own = region ? await this.deps.store.items(region) : [];
    return [...own, ...(await this.deps.store.items(DEFAULT_REGION))];
  }
}

/** CR, DX and DR are one family (projection radiography); every other modality is its own. */
export function modalityFamily(modality: string): string {
  const upper = modality.trim().toUpperCase();
  return upper === 'CR' || upper === 'DR' ? 'DX' : upper;
}

function daysAgo(days: number): string {
  const date = new Date(Date.now() - days * 86_400_000);
  return date.toISOString().slice(0, 10).replace(/-/g, '');
}

function toItemView(row: RecognitionItemRow): RecognitionItemView {
  return {
    region: row.region,
    code: row.code,
    name: row.name,
    modality: row.modality,
    bodyPart: row.body_part,
    windowDays: row.window_days,
    minInstitutionGrade: row.min_institution_grade,
    requireSignedReport: row.require_signed_report === 1,
    referencePriceYuan: row.reference_price_yuan === null ? null : Number(row.reference_price_yuan),
  };
}

function itemProblem(code: string, input: Omit<RecognitionItemView, 'code'>): string | undefined {
  if (!/^[A-Za-z0-9._-]{1,64}$/.test(code)) return 'the code is 1–64 letters, digits, ".", "_" or "-"';
  if (!input.region.trim()) return 'region is required';
  if (!input.name.trim()) return 'name is required';
  if (!/^[A-Za-z]{2}$/.test(input.modality)) return 'modality is a two-letter DICOM modality code';
  if (!Number.isInteger(input.windowDays) || input.windowDays < 1 || input.windowDays > 3650) return 'windowDays is a whole number of days from 1 to 3650';
  if (input.minInstitutionGrade !== null && ![1, 2, 3].includes(input.minInstitutionGrade)) return 'minInstitutionGrade is 1, 2 or 3 (一级, 二级, 三级)';
  if (input.referencePriceYuan !== null && !(input.referencePriceYuan >= 0)) return 'referencePriceYuan is not negative';
  return undefined;
}

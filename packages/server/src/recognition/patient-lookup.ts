import { canSeeInstitution, requirePermission, type Caller } from '../access/caller.ts';
import type { AccessStore } from '../store/access-store.ts';
import type { UnitOfWork } from '../store/unit-of-work.ts';
import { badRequest, conflict, notFound, YunyingError } from '../errors.ts';
import { identifierSystem } from '../fhir/patient-id.ts';
import { nameKeyOf, type PatientIndex } from './patient-index.ts';
import type { CandidateRow, IdentityRow, PatientIndexStore, PersonRow, PersonStudyRow, RecognitionRow } from './patient-index-store.ts';
import { maskResidentId, normalizeResidentId } from './resident-id.ts';
import type { NationalIdVault } from './national-id-vault.ts';

/**
 * Search, the person's view and the regional imaging timeline (issue 17 item 2), and the
 * access a clinician asks for to open another institution's exam: with a stated reason, or
 * by break-glass in an emergency, for that clinician alone and for a limited time.
 */
export interface IdentifierView {
  id: string;
  system: string;
  value: string;
  patientId: string;
  issuerOfPatientId: string | null;
  institutionId: string;
  institutionName: string | null;
  linkKind: string;
}

export interface CandidateView {
  id: string;
  personId: string;
  identityId: string;
  names: string[];
  birthDate: string | null;
  sex: string | null;
  institutionId: string;
  institutionName: string | null;
  matchedOn: string[];
  createdAt: string;
}

export interface PersonView {
  id: string;
  names: string[];
  birthDate: string | null;
  sex: string | null;
  nationalId: string | null;
  identifiers: IdentifierView[];
  candidates: CandidateView[];
  mergedInto: string | null;
}

export type ReportStatus = 'none' | 'requested' | 'reading' | 'signed' | 'cancelled';

export interface RecognitionView {
  id: string;
  studyInstanceUid: string;
  decision: string;
  reason: string;
  avoidedExamItem: string | null;
  avoidedBodyParts: string[];
  byName: string;
  institutionId: string;
  at: string;
}

export interface TimelineEntry {
  studyInstanceUid: string;
  studyDate: string | null;
  institutionId: string;
  institutionName: string | null;
  modalities: string[];
  bodyParts: string[];
  description: string | null;
  reportStatus: ReportStatus;
  impression: string | null;
  access: 'visible' | 'granted' | 'request-needed';
  grantExpiresAt: string | null;
  recognitions: RecognitionView[];
}

/** An exam of a person with the facts the timeline and the duplicate check share. */
export interface PersonExam extends PersonStudyRow {
  modalities: string[];
  bodyParts: string[];
  reportStatus: ReportStatus;
  impression: string | null;
}

export interface LookupDependencies {
  store: PatientIndexStore;
  index: PatientIndex;
  access: AccessStore;
  unitOfWork: UnitOfWork;
  vault: NationalIdVault;
  grantHours: { request: number; emergency: number };
}

/** Objects that are no modality of their own (a signed CT is a CT, not "CT\SR"). */
const NON_IMAGE_MODALITIES = new Set(['SR', 'KO', 'PR', 'DOC', 'REG', 'FID', 'SEG']);
const SEARCH_LIMIT = 20;
const TIMELINE_LIMIT = 500;

export class PatientLookup {
  private readonly deps: LookupDependencies;

  constructor(deps: LookupDependencies) {
    this.deps = deps;
  }

  async search(caller: Caller, query: { nationalId?: string; name?: string; birthDate?: string }): Promise<PersonView[]> {
    requirePermission(caller, 'recognition:search');
    let personIds: string[];
    if (query.nationalId) {
      const id = normalizeResidentId(query.nationalId);
      if (!id) throw new YunyingError('NATIONAL_ID_INVALID', 'nationalId is not a valid resident ID');
      const person = await this.deps.store.personByNationalId(this.deps.vault.hash(id));
      const identities = await this.deps.store.identitiesWithNationalId(this.deps.vault.hash(id));
      personIds = [...new Set([...(person ? [person.id] : []), ...identities.map((identity) => identity.person_id)])];
    } else if (query.name && query.birthDate) {
      const nameKey = nameKeyOf(query.name);
      if (!nameKey) throw badRequest('PATIENT_SEARCH_INVALID', 'the name has no letters or hanzi to match');
      personIds = await this.deps.store.personIdsByName(nameKey, query.birthDate.replace(/-/g, ''), SEARCH_LIMIT);
    } else {
      throw badRequest('PATIENT_SEARCH_INVALID', 'give nationalId, or name and birthDate');
    }
    const survivors = new Map<string, PersonRow>();
    for (const id of personIds) {
      const person = await this.deps.index.survivor(id);
      if (person) survivors.set(person.id, person);
    }
    const views = await Promise.all([...survivors.values()].slice(0, SEARCH_LIMIT).map((person) => this.viewOf(person)));
    await this.record(caller, 'patient.searched', undefined, { by: query.nationalId ? 'national-id' : 'name-birth-date', results: views.length });
    return views;
  }

  async person(caller: Caller, personId: string): Promise<PersonView> {
    requirePermission(caller, 'recognition:search');
    return this.viewOf(await this.requirePerson(personId));
  }

  async timeline(caller: Caller, personId: string): Promise<{ patient: PersonView; entries: TimelineEntry[] }> {
    requirePermission(caller, 'recognition:search');
    const person = await this.requirePerson(personId);
    const exams = await this.examsOf(person.id, { limit: TIMELINE_LIMIT });
    const access = await this.accessOf(caller, exams);
    const recognitions = groupBy(await this.deps.store.recognitionsOf({ studyInstanceUids: exams.map((exam) => exam.study_instance_uid) }), (row) => row.study_instance_uid);
    const entries = exams.map((exam): TimelineEntry => {
      const { access: reach, expiresAt } = access.get(exam.study_instance_uid)!;
      return {
        studyInstanceUid: exam.study_instance_uid,
        studyDate: exam.study_date,
        institutionId: exam.institution_id,
        institutionName: exam.institution_name,
        modalities: exam.modalities,
        bodyParts: exam.bodyParts,
        description: reach === 'request-needed' ? null : exam.study_description,
        reportStatus: exam.reportStatus,
        // the report's content only where the images may be seen
        impression: reach === 'request-needed' ? null : exam.impression,
        access: reach,
        grantExpiresAt: expiresAt,
        recognitions: (recognitions.get(exam.study_instance_uid) ?? []).map(toRecognitionView),
      };
    });
    await this.record(caller, 'patient.timeline-viewed', person.id, { studies: entries.length });
    return { patient: await this.viewOf(person), entries };
  }

  /**
   * Opens one exam of the person to the calling user alone, until the grant expires: with a
   * reason (24 h by default), or as break-glass in an emergency (4 h, marked for review).
   */
  async requestAccess(caller: Caller, personId: string, input: { studyInstanceUid: string; reason: string; emergency?: boolean }): Promise<{ studyInstanceUid: string; expiresAt: string; emergency: boolean }> {
    requirePermission(caller, input.emergency ? 'recognition:break-glass' : 'recognition:access');
    if (!caller.userId) throw new YunyingError('FORBIDDEN', 'only a signed-in user may ask for access');
    const person = await this.requirePerson(personId);
    const exam = (await this.examsOf(person.id, { limit: TIMELINE_LIMIT })).find((candidate) => candidate.study_instance_uid === input.studyInstanceUid);
    if (!exam) throw notFound(`study ${input.studyInstanceUid} of person ${personId}`);
    if (!input.reason.trim()) throw badRequest('BAD_REQUEST', 'a reason is required');
    if ((await this.accessOf(caller, [exam])).get(exam.study_instance_uid)!.access === 'visible') throw conflict('STUDY_ALREADY_VISIBLE', 'the study is visible to the caller already');
    const emergency = input.emergency === true;
    const hours = emergency ? this.deps.grantHours.emergency : this.deps.grantHours.request;
    const expiresAt = new Date(Date.now() + hours * 3_600_000).toISOString();
    const userId = caller.userId;
    await this.deps.unitOfWork.run(async (tx) => {
      await tx.access.grantStudyToUser({ study_instance_uid: exam.study_instance_uid, user_id: userId, reason: input.reason, emergency: emergency ? 1 : 0, expires_at: expiresAt });
      tx.audit.record({
        action: emergency ? 'study.break-glass' : 'study.access-granted',
        caller,
        objectType: 'study',
        objectId: exam.study_instance_uid,
        patientId: exam.patient_id_of_identity,
        details: { personId: person.id, studyInstitutionId: exam.institution_id, reason: input.reason, expiresAt },
      });
    });
    return { studyInstanceUid: exam.study_instance_uid, expiresAt, emergency };
  }

  /** The person's exams (image studies of every linked identity) with modalities, body parts and report state, newest first. */
  async examsOf(personId: string, options: { since?: string; limit: number }): Promise<Array<PersonExam & { patient_id_of_identity: string }>> {
    const identities = await this.deps.store.identitiesOf([personId]);
    const rows = await this.deps.store.studiesOf([personId], options);
    const series = groupBy(await this.deps.store.seriesFacts(rows.map((row) => row.study_instance_uid)), (row) => row.study_instance_uid);
    const readings = groupBy(await this.deps.store.readingFacts(rows.flatMap((row) => (row.study_key ? [row.study_key] : []))), (row) => row.study_key);
    const patientIdOf = new Map(identities.map((identity) => [identity.id, identity.patient_id]));
    return rows.flatMap((row) => {
      const ofStudy = series.get(row.study_instance_uid) ?? [];
      const modalities = distinct(ofStudy.map((s) => s.modality).filter((m): m is string => !!m && !NON_IMAGE_MODALITIES.has(m)));
      if (modalities.length === 0) return [];
      const reading = (row.study_key ? readings.get(row.study_key) : undefined)?.at(-1);
      const requestedParts = reading ? (JSON.parse(reading.body_parts) as string[]) : [];
      const bodyParts = distinct([...requestedParts, ...ofStudy.map((s) => s.body_part_examined).filter((b): b is string => !!b)].map((part) => part.toUpperCase()));
      return [{ ...row, modalities, bodyParts, reportStatus: reportStatusOf(reading?.status), impression: reading?.status === 'signed' ? reading.impression : null, patient_id_of_identity: patientIdOf.get(row.identity_id) ?? '' }];
    });
  }

  async viewOf(person: PersonRow): Promise<PersonView> {
    const identities = await this.deps.store.identitiesOf([person.id]);
    const candidates = await this.deps.store.pendingCandidatesOf([person.id], identities.map((identity) => identity.id));
    // the other side of each: the proposed identity, or (where ours is the identity) one of the proposed person's
    const otherIdentities = new Map<string, IdentityRow>();
    for (const candidate of candidates) {
      const other = candidate.person_id === person.id ? await this.deps.store.identity(candidate.identity_id) : (await this.deps.store.identitiesOf([candidate.person_id]))[0];
      if (other) otherIdentities.set(candidate.id, other);
    }
    const names = await this.deps.store.institutionNames(distinct([...identities, ...otherIdentities.values()].map((identity) => identity.institution_id)));
    const latest = identities.at(-1);
    return {
      id: person.id,
      names: distinct(identities.map((identity) => identity.patient_name).filter((name): name is string => !!name)),
      birthDate: latest?.birth_date ?? null,
      sex: latest?.sex ?? null,
      nationalId: person.national_id_masked,
      identifiers: identities.map((identity) => toIdentifierView(identity, names)),
      candidates: candidates.flatMap((candidate) => {
        const identity = otherIdentities.get(candidate.id);
        return identity ? [toCandidateView(candidate, identity, names)] : [];
      }),
      mergedInto: person.merged_into,
    };
  }

  async requirePerson(personId: string): Promise<PersonRow> {
    const person = await this.deps.index.survivor(personId);
    if (!person) throw notFound(`person ${personId}`);
    return person;
  }

  /** How the caller reaches each exam: its scope (institutions, institution grants), a personal grant, or not yet. */
  private async accessOf(caller: Caller, exams: readonly PersonStudyRow[]): Promise<Map<string, { access: TimelineEntry['access']; expiresAt: string | null }>> {
    const outside = exams.filter((exam) => !canSeeInstitution(caller, exam.institution_id)).map((exam) => exam.study_instance_uid);
    const byInstitutionGrant = caller.grantedToInstitutionId && outside.length > 0 ? await this.deps.store.studiesGrantedTo(caller.grantedToInstitutionId, outside) : new Set<string>();
    const personal = caller.userId ? await this.deps.access.activeUserGrants(caller.userId, outside) : new Map<string, string>();
    const reach = new Map<string, { access: TimelineEntry['access']; expiresAt: string | null }>();
    for (const { study_instance_uid: uid } of exams) {
      const expiresAt = personal.get(uid);
      if (!outside.includes(uid) || byInstitutionGrant.has(uid)) reach.set(uid, { access: 'visible', expiresAt: null });
      else reach.set(uid, expiresAt ? { access: 'granted', expiresAt } : { access: 'request-needed', expiresAt: null });
    }
    return reach;
  }

  private async record(caller: Caller, action: string, personId: string | undefined, details: Record<string, unknown>): Promise<void> {
    await this.deps.unitOfWork.run(async (tx) => {
      tx.audit.record({ action, caller, objectType: 'patient', ...(personId ? { objectId: personId } : {}), details });
    });
  }
}

export function reportStatusOf(requestStatus: string | undefined): ReportStatus {
  switch (requestStatus) {
    case undefined:
      return 'none';
    case 'signed':
      return 'signed';
    case 'cancelled':
      return 'cancelled';
    case 'claimed':
    case 'submitted':
      return 'reading';
    default:
      return 'requested';
  }
}

export function toRecognitionView(row: RecognitionRow): RecognitionView {
  return {
    id: row.id,
    studyInstanceUid: row.study_instance_uid,
    decision: row.decision,
    reason: row.reason,
    avoidedExamItem: row.avoided_exam_item,
    avoidedBodyParts: JSON.parse(row.avoided_body_parts) as string[],
    byName: row.recorded_by_name ?? row.recorded_by,
    institutionId: row.institution_id,
    at: row.created_at,
  };
}

/** A resident ID is shown masked wherever it appears, the local MRN field included. */
function maskedValue(value: string): string {
  return normalizeResidentId(value) ? maskResidentId(value.trim().toUpperCase()) : value;
}

function toIdentifierView(identity: IdentityRow, institutionNames: Map<string, string>): IdentifierView {
  const issuer = identity.issuer || null;
  return {
    id: identity.id,
    system: identifierSystem({ institutionId: identity.institution_id, ...(issuer ? { issuerOfPatientId: issuer } : {}) }),
    value: maskedValue(identity.patient_id),
    patientId: maskedValue(identity.patient_id),
    issuerOfPatientId: issuer,
    institutionId: identity.institution_id,
    institutionName: institutionNames.get(identity.institution_id) ?? null,
    linkKind: identity.link_kind,
  };
}

/** A candidate as one person sees it: `other` is an identity of the other side. */
function toCandidateView(candidate: CandidateRow, identity: IdentityRow, institutionNames: Map<string, string>): CandidateView {
  return {
    id: candidate.id,
    personId: identity.person_id,
    identityId: identity.id,
    names: identity.patient_name ? [identity.patient_name] : [],
    birthDate: identity.birth_date,
    sex: identity.sex,
    institutionId: identity.institution_id,
    institutionName: institutionNames.get(identity.institution_id) ?? null,
    matchedOn: JSON.parse(candidate.matched_on) as string[],
    createdAt: candidate.created_at,
  };
}

export function groupBy<T>(rows: readonly T[], keyOf: (row: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const row of rows) {
    const key = keyOf(row);
    const group = groups.get(key);
    if (group) group.push(row);
    else groups.set(key, [row]);
  }
  return groups;
}

function distinct<T>(values: readonly T[]): T[] {
  return [...new Set(values)];
}

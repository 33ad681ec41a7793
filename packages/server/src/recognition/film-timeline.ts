import type { AuditTrail } from '../access/audit-trail.ts';
import type { FilmPageSupplement, FilmTimelineEntry } from '../share/share-model.ts';
import type { PatientIndex } from './patient-index.ts';
import type { PatientIndexStore } from './patient-index-store.ts';
import type { PatientLookup } from './patient-lookup.ts';

/**
 * The patient's own timeline on the cloud-film page (issue 17 item 5): every exam of the
 * person that one of the patient's own links (live, not revoked) covers, and who at which
 * institution opened, retrieved, was granted or recognised it (个人信息保护法: a person may
 * know who processed their data). Staff are shown by role and institution, never by name;
 * the patient's own opens are on the page already ("who opened my film").
 */
const SHOWN_ACTIONS = new Set(['study.viewed', 'study.retrieved', 'study.exported', 'prior.opened', 'study.access-granted', 'study.break-glass', 'study.recognised', 'study.shared']);
const ACCESSES_PER_EXAM = 20;

export function filmTimeline(deps: { store: PatientIndexStore; index: PatientIndex; lookup: PatientLookup; audit: AuditTrail }): FilmPageSupplement {
  return async (link) => {
    const study = await deps.store.studyRow(link.study_instance_uid);
    if (!study?.patient_id) return {};
    const identity = await deps.store.identityByKey({ institutionId: study.institution_id, patientId: study.patient_id, issuer: study.issuer_of_patient_id ?? '' });
    const person = identity ? await deps.index.survivor(identity.person_id) : undefined;
    if (!person) return {};
    const exams = await deps.lookup.examsOf(person.id, { limit: 200 });
    const covered = await deps.store.studiesWithLivePatientLinks(exams.map((exam) => exam.study_instance_uid));
    const shown = exams.filter((exam) => covered.has(exam.study_instance_uid) || exam.study_instance_uid === link.study_instance_uid);
    const accesses = await Promise.all(shown.map((exam) => deps.audit.search({ objectId: exam.study_instance_uid, newestFirst: true, limit: 200 })));
    const staff = accesses.map((rows) => rows.filter((row) => SHOWN_ACTIONS.has(row.action) && row.actor_kind === 'user' && !row.actor_name.startsWith('share:')).slice(0, ACCESSES_PER_EXAM));
    const names = await deps.store.institutionNames([...new Set(staff.flat().map((row) => row.actor_institution_id))]);
    const timeline = shown.map((exam, i): FilmTimelineEntry => ({
      studyDate: exam.study_date,
      institutionName: exam.institution_name,
      modalities: exam.modalities,
      bodyParts: exam.bodyParts,
      current: exam.study_instance_uid === link.study_instance_uid,
      accesses: staff[i]!.map((row) => ({ at: row.occurred_at, action: row.action, actorRole: row.actor_role, institutionName: names.get(row.actor_institution_id) ?? null })),
    }));
    return { timeline };
  };
}

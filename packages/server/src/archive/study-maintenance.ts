import { createHash } from 'node:crypto';
import { setTopLevelTextElements, type TextElementChange } from '@yunying/dicom';
import type { AuditRecorder } from '../access/audit-event.ts';
import { requirePermission, studyScopeOf, type Caller } from '../access/caller.ts';
import { badRequest, notFound, YunyingError } from '../errors.ts';
import type { BlobStore } from '../store/blob-store.ts';
import type { IndexStore, InstanceRow } from '../store/index-store.ts';
import type { EndedRecords, MaintenanceStore, ReplacedBlob, StudyDemographics } from '../store/maintenance-store.ts';
import type { UnitOfWork } from '../store/unit-of-work.ts';
import { personNameBigrams, personNameFromString, personNameSearchGroups, personNameSearchText } from './matching.ts';
import { personNamePinyinText } from './pinyin.ts';

/** New patient demographics for a study (IHE IOCM "patient information correction"). */
export interface DemographicsCorrection {
  patientId?: string;
  patientName?: string;
  patientBirthDate?: string;
  patientSex?: string;
}

export interface MaintenanceDependencies {
  index: IndexStore;
  blobs: BlobStore;
  maintenance: MaintenanceStore;
  /** the index change, its audit record and its feed row in one transaction */
  unitOfWork: UnitOfWork;
  /** records outside a change (a deletion that failed) */
  audit: AuditRecorder;
}

const PATIENT_TAGS = { patientName: [0x00100010, 'PN', '00100010'], patientId: [0x00100020, 'LO', '00100020'], patientBirthDate: [0x00100030, 'DA', '00100030'], patientSex: [0x00100040, 'CS', '00100040'] } as const;

/**
 * Corrects the patient demographics of a study: every stored object is rewritten with the
 * new values (the old object is removed only once the index points at the new one), the
 * index follows in one transaction, and the audit record keeps the old values, except the
 * name: auditors (the insurance bureau among them) read the trail, and a record names a
 * patient by Patient ID only (AuditEventInput.patientId), so it lists which fields changed.
 */
export async function correctStudyDemographics(deps: MaintenanceDependencies, caller: Caller, studyInstanceUid: string, correction: DemographicsCorrection, reason: string): Promise<{ instances: number }> {
  requirePermission(caller, 'studies:manage');
  const changes = textChangesOf(correction);
  if (changes.length === 0) throw badRequest('NOTHING_TO_CORRECT', 'give at least one of patientId, patientName, patientBirthDate, patientSex');
  const { study, instances } = await studyInScope(deps, caller, studyInstanceUid);
  const before = { patientId: study.patient_id, patientBirthDate: study.patient_birth_date, patientSex: study.patient_sex };

  const changed = Object.keys(PATIENT_TAGS).filter((field) => correction[field as keyof DemographicsCorrection] !== undefined).sort();
  const written: ReplacedBlob[] = [];
  try {
    for (const instance of instances) written.push(await rewriteInstance(deps.blobs, instance, changes));
    await deps.unitOfWork.run(async (tx) => {
      await tx.maintenance.applyCorrection(studyInstanceUid, demographicsOf(study.attributes_json, correction), written);
      tx.audit.record({ action: 'study.corrected', caller, objectType: 'study', objectId: studyInstanceUid, patientId: correction.patientId ?? before.patientId ?? undefined, details: { reason, changed, before, after: withoutName(correction), instances: instances.length } });
      tx.feed.append({ type: 'study.corrected', resourceType: 'study', resourceId: studyInstanceUid, institutionId: study.institution_id, payload: { changed, instances: instances.length } });
    });
  } catch (error) {
    for (const blob of written) await deps.blobs.delete(blob.blobKey).catch(() => undefined);
    if (error instanceof YunyingError) throw error;
    throw new YunyingError('CORRECTION_FAILED', `the study could not be corrected: ${(error as Error).message}`);
  }
  for (const instance of instances) await deps.blobs.delete(instance.blob_key).catch(() => undefined);
  return { instances: instances.length };
}

/**
 * Deletes a study. The index goes in one transaction, with the study's reading requests and
 * reports (tombstoned), its cloud-film links (revoked), the audit record and the feed row,
 * so that no deletion happens without its trace nor a trace without its deletion; then the
 * objects (a crash in between leaves unreferenced objects, never index rows without their
 * object). The record names the patient by Patient ID, never by name.
 */
export async function deleteStudy(deps: MaintenanceDependencies, caller: Caller, studyInstanceUid: string, reason: string): Promise<{ instances: number } & EndedRecords> {
  requirePermission(caller, 'studies:manage');
  const { study, instances } = await studyInScope(deps, caller, studyInstanceUid);
  const summary = { patientId: study.patient_id, studyDate: study.study_date, accessionNumber: study.accession_number, modalities: study.modalities_in_study, institutionId: study.institution_id, sopInstanceUids: instances.map((i) => i.sop_instance_uid) };
  let ended: EndedRecords;
  try {
    ended = await deps.unitOfWork.run(async (tx) => {
      const done = await tx.maintenance.deleteStudy(studyInstanceUid, { actor: caller.name, reason });
      tx.audit.record({ action: 'study.deleted', caller, objectType: 'study', objectId: studyInstanceUid, patientId: study.patient_id ?? undefined, details: { reason, deleted: summary } });
      tx.feed.append({ type: 'study.deleted', resourceType: 'study', resourceId: studyInstanceUid, institutionId: study.institution_id, payload: { instances: instances.length, ...done } });
      return done;
    });
  } catch (error) {
    await deps.audit.record({ action: 'study.deleted', outcome: 'failure', caller, objectType: 'study', objectId: studyInstanceUid, details: { reason, error: (error as Error).message } });
    throw new YunyingError('DELETION_FAILED', 'the study could not be deleted');
  }
  for (const instance of instances) await deps.blobs.delete(instance.blob_key).catch(() => undefined);
  return { instances: instances.length, ...ended };
}

/** The correction as the trail keeps it: which name it gave is not the auditor's to read. */
function withoutName(correction: DemographicsCorrection): Omit<DemographicsCorrection, 'patientName'> {
  const { patientName: _name, ...rest } = correction;
  return rest;
}

async function studyInScope(deps: MaintenanceDependencies, caller: Caller, studyInstanceUid: string) {
  const instances = await deps.index.findInstances({ studyInstanceUids: [studyInstanceUid], scope: studyScopeOf(caller) });
  const study = instances.length > 0 ? await deps.maintenance.findStudy(studyInstanceUid) : undefined;
  if (!study) throw notFound(`study ${studyInstanceUid}`);
  return { study, instances };
}

function textChangesOf(correction: DemographicsCorrection): TextElementChange[] {
  const changes: TextElementChange[] = [];
  for (const [field, [tag, vr]] of Object.entries(PATIENT_TAGS) as Array<[keyof DemographicsCorrection, (typeof PATIENT_TAGS)[keyof typeof PATIENT_TAGS]]>) {
    const value = correction[field];
    if (value !== undefined) changes.push({ tag, vr, value: value === '' ? undefined : value });
  }
  return changes;
}

async function rewriteInstance(blobs: BlobStore, instance: InstanceRow, changes: readonly TextElementChange[]): Promise<ReplacedBlob> {
  const edited = setTopLevelTextElements(await blobs.get(instance.blob_key), changes);
  const contentSha256 = createHash('sha256').update(edited).digest('hex');
  // Same naming as ingest: the content hash in the key keeps the old object intact until the index moves.
  const blobKey = instance.blob_key.replace(/\.[0-9a-f]{16}\.dcm$/, '') + `.${contentSha256.slice(0, 16)}.dcm`;
  await (await blobs.put(blobKey, [edited])).durable;
  return { sopInstanceUid: instance.sop_instance_uid, blobKey, size: edited.length, contentSha256 };
}

function demographicsOf(attributesJson: string, correction: DemographicsCorrection): Partial<StudyDemographics> {
  const attributes = JSON.parse(attributesJson) as Record<string, { vr: string; Value?: unknown[] }>;
  const out: Partial<StudyDemographics> = {};
  if (correction.patientName !== undefined) {
    const groups = personNameSearchGroups(correction.patientName || undefined);
    const searchText = personNameSearchText(groups);
    Object.assign(out, { patient_name: correction.patientName || null, patient_name_alphabetic: groups.alphabetic, patient_name_ideographic: groups.ideographic, patient_name_phonetic: groups.phonetic, patient_name_search: searchText, patient_name_bigrams: personNameBigrams(searchText), patient_name_pinyin: personNamePinyinText(correction.patientName) });
    attributes['00100010'] = { vr: 'PN', ...(correction.patientName ? { Value: [personNameFromString(correction.patientName)] } : {}) };
  }
  const simple: Array<[keyof DemographicsCorrection, keyof StudyDemographics, string, string]> = [
    ['patientId', 'patient_id', '00100020', 'LO'],
    ['patientBirthDate', 'patient_birth_date', '00100030', 'DA'],
    ['patientSex', 'patient_sex', '00100040', 'CS'],
  ];
  for (const [field, column, tag, vr] of simple) {
    const value = correction[field];
    if (value === undefined) continue;
    (out as Record<string, unknown>)[column] = value || null;
    attributes[tag] = { vr, ...(value ? { Value: [value] } : {}) };
  }
  out.attributes_json = JSON.stringify(attributes);
  return out;
}

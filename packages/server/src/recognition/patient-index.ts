import { randomUUID } from 'node:crypto';
import type { DicomJsonDataset } from '@yunying/dicom';
import { systemCaller, type Caller } from '../access/caller.ts';
import { hasHanzi, toPinyin } from '../archive/pinyin.ts';
import { conflict, notFound, YunyingError } from '../errors.ts';
import type { TransactionPorts, UnitOfWork } from '../store/unit-of-work.ts';
import type { NationalIdVault, SealedNationalId } from './national-id-vault.ts';
import { patientIndexStore, type IdentityKey, type IdentityRow, type PatientIndexStore, type PersonRow } from './patient-index-store.ts';
import { normalizeResidentId } from './resident-id.ts';

/**
 * The regional patient index (MPI, issue 17 item 1). A person links local identities
 * (PatientID + IssuerOfPatientID + the issuing institution); two identities become one
 * person only
 * - definitively, when they carry the same valid resident ID (as the PatientID itself, in
 *   OtherPatientIDsSequence under the national issuer, or given with an order or request);
 * - or when a person confirms a probable link (same name in hanzi or pinyin, birth date and
 *   sex), which is proposed here and never made automatically;
 * - or when an administrator merges two persons.
 * Merges are recorded with what they moved and can be undone; an administrator can unlink a
 * wrongly linked identity, which automatic links then leave where it is. Never on a bare
 * local Patient ID: the same MRN at two institutions is two identities.
 */
export interface Demographics {
  patientName: string | null;
  birthDate: string | null;
  sex: string | null;
}

export interface PatientIndexDependencies {
  store: PatientIndexStore;
  unitOfWork: UnitOfWork;
  vault: NationalIdVault;
  /** YUNYING_NATIONAL_ID_ISSUER: the IssuerOfPatientID under which OtherPatientIDsSequence carries the resident ID */
  nationalIssuer: string;
}

const RECOGNITION_SYSTEM = systemCaller('recognition');

export class PatientIndex {
  private readonly deps: PatientIndexDependencies;

  constructor(deps: PatientIndexDependencies) {
    this.deps = deps;
  }

  /** Indexes the patient of a stored study (the feed consumer): its identity, its resident ID, its probable links. */
  async noteStudy(studyInstanceUid: string): Promise<void> {
    const study = await this.deps.store.studyRow(studyInstanceUid);
    if (!study?.patient_id) return;
    const key: IdentityKey = { institutionId: study.institution_id, patientId: study.patient_id, issuer: study.issuer_of_patient_id ?? '' };
    const claim = await this.deps.store.claimOf(studyInstanceUid, study.institution_id);
    const nationalId = this.nationalIdOfStudy(study.patient_id, study.attributes_json);
    const sealed = nationalId ? this.deps.vault.seal(nationalId) : claim ? { hash: claim.national_id_hash, cipher: claim.national_id_cipher, masked: claim.national_id_masked } : undefined;
    await this.link(key, { patientName: study.patient_name, birthDate: study.patient_birth_date, sex: study.patient_sex }, sealed, nationalId ? 'dicom' : (claim?.source ?? 'dicom'));
  }

  /**
   * A resident ID given with an order or reading request (the `nationalId` field). With the
   * identity known it links at once; for a study whose images have not arrived it waits as a
   * claim on the study, applied when they do.
   */
  async noteNationalId(target: { identity: IdentityKey; demographics: Demographics } | { studyInstanceUid: string; institutionId: string }, nationalId: string, source: string): Promise<void> {
    const id = normalizeResidentId(nationalId);
    if (!id) throw new YunyingError('NATIONAL_ID_INVALID', 'nationalId is not a valid resident ID (18 characters, GB 11643 check character)');
    const sealed = this.deps.vault.seal(id);
    if ('identity' in target) {
      await this.link(target.identity, target.demographics, sealed, source);
      return;
    }
    await this.deps.unitOfWork.run(async (tx) => {
      await tx.open(patientIndexStore).putClaim({ study_instance_uid: target.studyInstanceUid, institution_id: target.institutionId, national_id_hash: sealed.hash, national_id_cipher: sealed.cipher, national_id_masked: sealed.masked, source, created_at: now() });
    });
    if (await this.deps.store.studyRow(target.studyInstanceUid)) await this.noteStudy(target.studyInstanceUid);
  }

  /** The resident ID a study carries: its PatientID when that is one, else an OtherPatientIDsSequence item under the national issuer. */
  nationalIdOfStudy(patientId: string, attributesJson: string): string | undefined {
    const direct = normalizeResidentId(patientId);
    if (direct) return direct;
    let attributes: DicomJsonDataset;
    try {
      attributes = JSON.parse(attributesJson) as DicomJsonDataset;
    } catch {
      return undefined;
    }
    for (const item of (attributes['00101002']?.Value ?? []) as DicomJsonDataset[]) {
      const issuer = item['00100021']?.Value?.[0];
      const value = item['00100020']?.Value?.[0];
      if (typeof issuer === 'string' && issuer.trim() === this.deps.nationalIssuer && typeof value === 'string') {
        const id = normalizeResidentId(value);
        if (id) return id;
      }
    }
    return undefined;
  }

  /** The surviving person of an id (following merges), or undefined. */
  async survivor(personId: string): Promise<PersonRow | undefined> {
    return this.survivorIn(this.deps.store, await this.deps.store.person(personId));
  }

  // ------------------------------------------------------------------ decisions of people

  /** A probable link confirmed: the identity's person and the proposed person become one. */
  async confirmCandidate(caller: Caller, personId: string, candidateId: string, reason: string | undefined): Promise<string> {
    const { candidate, identity } = await this.pendingCandidate(personId, candidateId);
    const survivorId = candidate.person_id;
    await this.deps.unitOfWork.run(async (tx) => {
      const store = tx.open(patientIndexStore);
      if (!(await store.decideCandidate(candidate.id, { status: 'confirmed', decided_by: caller.name, decided_at: now(), reason: reason ?? null }))) throw conflict('CANDIDATE_DECIDED', 'the probable link was decided already');
      await this.mergeInTransaction(tx, caller, survivorId, identity.person_id, 'confirmed', reason ?? 'probable link confirmed');
    });
    return survivorId;
  }

  async rejectCandidate(caller: Caller, personId: string, candidateId: string, reason: string | undefined): Promise<void> {
    const { candidate } = await this.pendingCandidate(personId, candidateId);
    await this.deps.unitOfWork.run(async (tx) => {
      if (!(await tx.open(patientIndexStore).decideCandidate(candidate.id, { status: 'rejected', decided_by: caller.name, decided_at: now(), reason: reason ?? null }))) throw conflict('CANDIDATE_DECIDED', 'the probable link was decided already');
      tx.audit.record({ action: 'patient.link-rejected', caller, objectType: 'patient', objectId: candidate.person_id, details: { identityId: candidate.identity_id, reason: reason ?? null } });
    });
  }

  async merge(caller: Caller, survivorId: string, mergedId: string, reason: string): Promise<void> {
    if (survivorId === mergedId) throw new YunyingError('BAD_REQUEST', 'a person cannot be merged into itself');
    await this.deps.unitOfWork.run((tx) => this.mergeInTransaction(tx, caller, survivorId, mergedId, 'merge', reason));
  }

  /** Undoes the merge of mergedId into survivorId: the identities it moved (those still there) go back. */
  async unmerge(caller: Caller, survivorId: string, mergedId: string, reason: string): Promise<void> {
    await this.deps.unitOfWork.run(async (tx) => {
      const store = tx.open(patientIndexStore);
      const merge = await store.activeMerge(survivorId, mergedId);
      if (!merge) throw notFound(`a merge of ${mergedId} into ${survivorId}`);
      const moved = (JSON.parse(merge.identity_ids) as string[]);
      const stillThere = (await store.identitiesOf([survivorId])).filter((identity) => moved.includes(identity.id)).map((identity) => identity.id);
      await store.moveIdentities(stillThere, mergedId, 'own');
      if (merge.moved_national_id === 1) {
        const survivor = await store.person(survivorId);
        await store.updatePerson(survivorId, { national_id_hash: null, national_id_cipher: null, national_id_masked: null });
        await store.updatePerson(mergedId, { merged_into: null, national_id_hash: survivor?.national_id_hash ?? null, national_id_cipher: survivor?.national_id_cipher ?? null, national_id_masked: survivor?.national_id_masked ?? null });
      } else {
        await store.updatePerson(mergedId, { merged_into: null });
      }
      await store.markMergeUndone(merge.id, caller.name, now());
      tx.audit.record({ action: 'patient.unmerged', caller, objectType: 'patient', objectId: survivorId, details: { personId: mergedId, identities: stillThere.length, reason } });
    });
  }

  /** A wrongly linked identity taken out into a person of its own; automatic links leave it there. */
  async unlink(caller: Caller, personId: string, identityId: string, reason: string): Promise<string> {
    const identity = await this.deps.store.identity(identityId);
    if (!identity || identity.person_id !== personId) throw notFound(`identity ${identityId} of person ${personId}`);
    const fresh = newPerson(undefined);
    await this.deps.unitOfWork.run(async (tx) => {
      const store = tx.open(patientIndexStore);
      await store.insertPerson(fresh);
      await store.updateIdentity(identity.id, { person_id: fresh.id, link_kind: 'own', pinned: 1 });
      tx.audit.record({ action: 'patient.unlinked', caller, objectType: 'patient', objectId: personId, patientId: identity.patient_id, details: { identityId, institutionId: identity.institution_id, newPersonId: fresh.id, reason } });
    });
    return fresh.id;
  }

  // ------------------------------------------------------------------ linking

  /**
   * Brings one identity into the index: creates it (with a person of its own, or in the
   * person its resident ID names), updates its demographics, links it by resident ID and
   * proposes probable links. Idempotent: the same study again changes nothing.
   */
  private async link(key: IdentityKey, demographics: Demographics, sealed: SealedNationalId | undefined, source: string): Promise<void> {
    await this.deps.unitOfWork.run(async (tx) => {
      const store = tx.open(patientIndexStore);
      const byNationalId = sealed ? await this.survivorIn(store, await store.personByNationalId(sealed.hash)) : undefined;
      let identity = await store.identityByKey(key);
      const facts = { patient_name: demographics.patientName, name_key: nameKeyOf(demographics.patientName), birth_date: demographics.birthDate || null, sex: demographics.sex || null };
      if (!identity) {
        let personId = byNationalId?.id;
        if (!personId) {
          const person = newPerson(sealed);
          await store.insertPerson(person);
          personId = person.id;
        }
        identity = { id: `pid-${randomUUID()}`, person_id: personId, institution_id: key.institutionId, patient_id: key.patientId, issuer: key.issuer, ...facts, national_id_hash: sealed?.hash ?? null, link_kind: sealed ? 'national-id' : 'own', pinned: 0, created_at: now(), updated_at: now() };
        await store.insertIdentity(identity);
        if (byNationalId) this.recordLink(tx, identity, byNationalId.id, source);
      } else {
        if (changed(identity, facts) || (sealed && identity.national_id_hash !== sealed.hash)) {
          await store.updateIdentity(identity.id, { ...facts, ...(sealed ? { national_id_hash: sealed.hash } : {}) });
          identity = { ...identity, ...facts, ...(sealed ? { national_id_hash: sealed.hash } : {}) };
        }
        if (sealed && identity.pinned === 0) identity = await this.linkByNationalId(tx, store, identity, sealed, byNationalId, source);
      }
      await this.proposeCandidates(store, identity);
    });
  }

  /** An existing identity whose resident ID arrived: into the person of that ID, or the ID onto its person. */
  private async linkByNationalId(tx: TransactionPorts, store: PatientIndexStore, identity: IdentityRow, sealed: SealedNationalId, byNationalId: PersonRow | undefined, source: string): Promise<IdentityRow> {
    const current = await store.person(identity.person_id);
    if (byNationalId && byNationalId.id !== identity.person_id) {
      // the identity's own person (it and what was confirmed with it) is the same person as the ID's
      if (current && !current.national_id_hash) {
        await this.mergeInTransaction(tx, RECOGNITION_SYSTEM, byNationalId.id, current.id, 'national-id', `the same resident ID (${source})`);
      } else {
        await store.moveIdentities([identity.id], byNationalId.id, 'national-id');
      }
      this.recordLink(tx, identity, byNationalId.id, source);
      return { ...identity, person_id: byNationalId.id, link_kind: 'national-id' };
    }
    if (!byNationalId && current) {
      if (!current.national_id_hash) {
        await store.updatePerson(current.id, { national_id_hash: sealed.hash, national_id_cipher: sealed.cipher, national_id_masked: sealed.masked });
      } else if (current.national_id_hash !== sealed.hash) {
        // its person holds another resident ID: this identity is someone else
        const person = newPerson(sealed);
        await store.insertPerson(person);
        await store.moveIdentities([identity.id], person.id, 'national-id');
        return { ...identity, person_id: person.id, link_kind: 'national-id' };
      }
    }
    if (identity.link_kind === 'own') await store.updateIdentity(identity.id, { link_kind: 'national-id' });
    return { ...identity, link_kind: 'national-id' };
  }

  /** Probable links of the identity to other persons, proposed once (a rejected one is never proposed again). */
  private async proposeCandidates(store: PatientIndexStore, identity: IdentityRow): Promise<void> {
    const own = await store.person(identity.person_id);
    const seen = new Set<string>();
    for (const match of await store.probableMatches(identity)) {
      const other = await this.survivorIn(store, await store.person(match.person_id));
      if (!other || other.id === identity.person_id || seen.has(other.id)) continue;
      seen.add(other.id);
      // two different resident IDs are two people, whatever their names
      if (own?.national_id_hash && other.national_id_hash && own.national_id_hash !== other.national_id_hash) continue;
      if ((await store.candidateFor(identity.id, other.id)) || (await store.candidateFor(match.id, identity.person_id))) continue;
      await store.insertCandidate({ id: `cand-${randomUUID()}`, identity_id: identity.id, person_id: other.id, status: 'pending', matched_on: JSON.stringify(['name', 'birthDate', 'sex']), created_at: now(), decided_by: null, decided_at: null, reason: null });
    }
  }

  private async mergeInTransaction(tx: TransactionPorts, caller: Caller, survivorId: string, mergedId: string, kind: 'merge' | 'confirmed' | 'national-id', reason: string): Promise<void> {
    const store = tx.open(patientIndexStore);
    const survivor = await store.person(survivorId);
    const merged = await store.person(mergedId);
    if (!survivor || !merged) throw notFound(`person ${survivor ? mergedId : survivorId}`);
    if (survivor.merged_into || merged.merged_into) throw conflict('PERSON_MERGED', `person ${survivor.merged_into ? survivorId : mergedId} was merged into another`);
    if (survivor.national_id_hash && merged.national_id_hash && survivor.national_id_hash !== merged.national_id_hash) {
      throw conflict('PERSONS_DIFFERENT_NATIONAL_IDS', 'the two persons hold different resident IDs');
    }
    const moved = (await store.identitiesOf([mergedId])).map((identity) => identity.id);
    const takesNationalId = !survivor.national_id_hash && merged.national_id_hash !== null;
    await store.updatePerson(mergedId, { merged_into: survivorId, ...(takesNationalId ? { national_id_hash: null, national_id_cipher: null, national_id_masked: null } : {}) });
    if (takesNationalId) await store.updatePerson(survivorId, { national_id_hash: merged.national_id_hash, national_id_cipher: merged.national_id_cipher, national_id_masked: merged.national_id_masked });
    await store.moveIdentities(moved, survivorId, kind === 'merge' ? 'merged' : kind);
    await store.retargetCandidates(mergedId, survivorId, now());
    await store.insertMerge({ id: `mrg-${randomUUID()}`, survivor_id: survivorId, merged_id: mergedId, identity_ids: JSON.stringify(moved), moved_national_id: takesNationalId ? 1 : 0, kind, reason, merged_by: caller.name, merged_at: now(), undone_by: null, undone_at: null });
    tx.audit.record({ action: 'patient.merged', caller, objectType: 'patient', objectId: survivorId, details: { personId: mergedId, identities: moved.length, kind, reason } });
  }

  private recordLink(tx: TransactionPorts, identity: IdentityRow, personId: string, source: string): void {
    tx.audit.record({ action: 'patient.linked', caller: RECOGNITION_SYSTEM, objectType: 'patient', objectId: personId, patientId: identity.patient_id, details: { identityId: identity.id, institutionId: identity.institution_id, on: 'national-id', source } });
  }

  private async survivorIn(store: PatientIndexStore, person: PersonRow | undefined): Promise<PersonRow | undefined> {
    for (let hops = 0; person?.merged_into && hops < 32; hops++) person = await store.person(person.merged_into);
    return person;
  }

  private async pendingCandidate(personId: string, candidateId: string): Promise<{ candidate: NonNullable<Awaited<ReturnType<PatientIndexStore['candidate']>>>; identity: IdentityRow }> {
    const candidate = await this.deps.store.candidate(candidateId);
    const identity = candidate ? await this.deps.store.identity(candidate.identity_id) : undefined;
    if (!candidate || !identity || (candidate.person_id !== personId && identity.person_id !== personId)) throw notFound(`probable link ${candidateId} of person ${personId}`);
    if (candidate.status !== 'pending') throw conflict('CANDIDATE_DECIDED', `the probable link was ${candidate.status} already`);
    return { candidate, identity };
  }
}

/**
 * The probable-link key of a name: its upper-case pinyin letters, from the hanzi group when
 * there is one ("张^伟", "Zhang^Wei=张^伟" and "ZHANG WEI" all give ZHANGWEI). Homophones
 * agree too; that is why a match is only a candidate for a person to confirm.
 */
export function nameKeyOf(name: string | null | undefined): string | null {
  if (!name) return null;
  const groups = name.split('=').map((group) => group.trim()).filter((group) => group.replace(/\^/g, '') !== '');
  const group = groups.find(hasHanzi) ?? groups[0];
  if (!group) return null;
  return toPinyin(group).replace(/[^A-Z]/g, '') || null;
}

function newPerson(sealed: SealedNationalId | undefined): PersonRow {
  return { id: `psn-${randomUUID()}`, national_id_hash: sealed?.hash ?? null, national_id_cipher: sealed?.cipher ?? null, national_id_masked: sealed?.masked ?? null, merged_into: null, created_at: now(), updated_at: now() };
}

function changed(identity: IdentityRow, facts: Pick<IdentityRow, 'patient_name' | 'name_key' | 'birth_date' | 'sex'>): boolean {
  return identity.patient_name !== facts.patient_name || identity.birth_date !== facts.birth_date || identity.sex !== facts.sex || identity.name_key !== facts.name_key;
}

const now = (): string => new Date().toISOString();

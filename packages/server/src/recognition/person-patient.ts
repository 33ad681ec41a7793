import { hasPermission, type Caller } from '../access/caller.ts';
import { encodePatientId, identifierSystem } from '../fhir/patient-id.ts';
import { toHumanNames } from '../fhir/human-name.ts';
import { toFhirDate, toGender } from '../fhir/patient.ts';
import type { PersonPatientSource } from '../fhir/fhir-context.ts';
import type { PatientIndexStore } from './patient-index-store.ts';
import { maskResidentId, normalizeResidentId } from './resident-id.ts';

/**
 * A person of the regional patient index as a FHIR Patient (issue 17 item 1): every local
 * identifier with its system per institution and issuer, the resident ID masked under the
 * national identifier system, and `link`s: `seealso` to each identity's own Patient (the
 * per-identity ids fhir/patient-id.ts issues), `replaces` to persons merged into this one,
 * `replaced-by` on a merged person. Only callers who may search the index see persons.
 */
const V2_IDENTIFIER_TYPE = 'http://terminology.hl7.org/CodeSystem/v2-0203';
/** 居民身份证号 in China's health information standards (WS 364 identifier OID). */
export const RESIDENT_ID_SYSTEM = 'urn:oid:2.16.156.10011.1.1';

export function personPatientSource(store: PatientIndexStore): PersonPatientSource {
  return async (caller: Caller, personId: string) => {
    if (!hasPermission(caller, 'recognition:search')) return undefined;
    const person = await store.person(personId);
    if (!person) return undefined;
    const identities = await store.identitiesOf([person.id]);
    const merged = await store.personsMergedInto(person.id);
    const latest = identities.at(-1);
    const mask = (value: string) => (normalizeResidentId(value) ? maskResidentId(value.trim().toUpperCase()) : value);
    const birthDate = toFhirDate(latest?.birth_date ?? undefined);
    const [alphabetic, ideographic, phonetic] = (latest?.patient_name ?? '').split('=');
    const names = toHumanNames({ ...(alphabetic ? { Alphabetic: alphabetic } : {}), ...(ideographic ? { Ideographic: ideographic } : {}), ...(phonetic ? { Phonetic: phonetic } : {}) });
    return {
      resourceType: 'Patient',
      id: person.id,
      active: person.merged_into === null,
      identifier: [
        ...(person.national_id_masked ? [{ use: 'official', type: { coding: [{ system: V2_IDENTIFIER_TYPE, code: 'NI' }] }, system: RESIDENT_ID_SYSTEM, value: person.national_id_masked }] : []),
        ...identities.map((identity) => ({
          use: 'usual',
          type: { coding: [{ system: V2_IDENTIFIER_TYPE, code: 'MR' }] },
          system: identifierSystem({ institutionId: identity.institution_id, ...(identity.issuer ? { issuerOfPatientId: identity.issuer } : {}) }),
          value: mask(identity.patient_id),
        })),
      ],
      ...(names.length > 0 ? { name: names } : {}),
      gender: toGender(latest?.sex ?? undefined),
      ...(birthDate ? { birthDate } : {}),
      link: [
        ...(person.merged_into ? [{ other: { reference: `Patient/${person.merged_into}` }, type: 'replaced-by' }] : []),
        ...merged.map((id) => ({ other: { reference: `Patient/${id}` }, type: 'replaces' })),
        ...identities.map((identity) => ({
          other: { reference: `Patient/${encodePatientId({ patientId: identity.patient_id, institutionId: identity.institution_id, ...(identity.issuer ? { issuerOfPatientId: identity.issuer } : {}) })}` },
          type: 'seealso',
        })),
      ],
    };
  };
}

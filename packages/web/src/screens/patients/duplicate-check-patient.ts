import type { DuplicateCheckInput, PersonView } from '../../api/recognition-types.ts';

/**
 * Who the duplicate check asks about: the resident ID the user searched by (the person view
 * only has it masked), else a local identity of the person whose Patient ID is not masked
 * (a masked one is a resident ID the server would not recognise as typed).
 */
export function duplicateCheckPatient(person: Pick<PersonView, 'identifiers'>, searchedNationalId: string | undefined): DuplicateCheckInput['patient'] | undefined {
  if (searchedNationalId) return { nationalId: searchedNationalId };
  const local = person.identifiers.find((identifier) => !identifier.patientId.includes('*'));
  return local ? { patientId: local.patientId, ...(local.issuerOfPatientId ? { issuerOfPatientId: local.issuerOfPatientId } : {}), institutionId: local.institutionId } : undefined;
}

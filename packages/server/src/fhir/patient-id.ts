/**
 * FHIR Patient ids from DICOM Patient IDs, reversibly.
 *
 * A Patient ID (LO) may hold spaces, slashes, Chinese characters: anything but a FHIR id's
 * [A-Za-z0-9.-]. The id is therefore the UTF-8 bytes of the Patient ID in base64url without
 * padding, with base64url's "_" written as "." (FHIR ids do not allow "_"; "." is free
 * because base64url never uses it). So "PID 001/张" ⇄ "UElEIDAwMS_lvKA" becomes "UElEIDAwMS.lvKA".
 * Decoding checks that re-encoding gives the same id, so every Patient ID has exactly one id.
 *
 * Known limit: FHIR caps ids at 64 characters, which holds Patient IDs up to 48 UTF-8 bytes;
 * longer ones still get their (longer) id rather than being hidden, and the id then fails
 * strict validators. The Issuer of Patient ID is not part of the id because the archive
 * groups patients by Patient ID alone.
 */
export function encodePatientId(patientId: string): string {
  return Buffer.from(patientId, 'utf8').toString('base64url').replace(/_/g, '.');
}

/** The Patient ID of a FHIR id, or undefined when the id is not one this server issues. */
export function decodePatientId(id: string): string | undefined {
  if (!/^[A-Za-z0-9.-]+$/.test(id)) return undefined;
  const patientId = Buffer.from(id.replace(/\./g, '_'), 'base64url').toString('utf8');
  if (patientId === '' || encodePatientId(patientId) !== id) return undefined;
  return patientId;
}

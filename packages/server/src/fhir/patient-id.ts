/**
 * FHIR Patient ids and identifiers from patient identities.
 *
 * A patient is (PatientID, IssuerOfPatientID, the institution that issued it, i.e. that holds
 * the study) until the regional patient index links identities: the same outpatient number
 * at two townships, or at one township under its physical-examination centre's issuer, is two
 * people, and one Patient for them would show one person's name on the other's studies.
 *
 * The id is deterministic and opaque about issuer and institution:
 *   id = tag (12 characters) + the Patient ID's UTF-8 bytes in base64url
 * where tag is base64url of the first 9 bytes of SHA-256 over the canonical identity
 * (JSON [PatientID, issuer or null, institution id]). base64url's "_" is written as "."
 * (FHIR ids allow [A-Za-z0-9.-], no "_"). Reading an id therefore gives the Patient ID to
 * look up (an indexed column) and the tag that picks the one identity among those the caller
 * may see; the id says nothing of issuer or institution that the Patient itself does not.
 * An id for an identity out of the caller's scope finds nothing, as one for no identity.
 *
 * Known limit: FHIR caps ids at 64 characters, which holds Patient IDs up to 39 UTF-8 bytes;
 * longer ones still get their (longer) id rather than being hidden, and the id then fails
 * strict validators.
 *
 * The identifier system says whose number it is, since the number alone is ambiguous:
 *   urn:yunying:institution:{institution id}:patient-id            (no IssuerOfPatientID)
 *   urn:yunying:institution:{institution id}:patient-id:{issuer}   (issuer percent-encoded)
 * DICOM's issuer is free text, not a URI, so it is qualified by the institution rather than
 * used as the system itself.
 */
import { createHash } from 'node:crypto';
import type { DicomJsonDataset } from '@yunying/dicom';
import { HOLDING_INSTITUTION_KEY } from '../archive/archive-service.ts';
import { stringOf } from './dicom-attributes.ts';

export interface PatientIdentity {
  patientId: string;
  /** absent when the study had no IssuerOfPatientID (absent matches only absent) */
  issuerOfPatientId?: string;
  /** the institution holding the study, which issued the Patient ID */
  institutionId: string;
}

/** What a Patient id says: the Patient ID to look up and the tag of the one identity. */
export interface PatientReference {
  patientId: string;
  tag: string;
}

const TAG_BYTES = 9;
const TAG_LENGTH = 12; // base64 of 9 bytes, no padding
const SYSTEM_PREFIX = 'urn:yunying:institution:';
const SYSTEM = /^urn:yunying:institution:([A-Za-z0-9._-]+):patient-id(?::(.+))?$/;

const toIdAlphabet = (base64url: string) => base64url.replace(/_/g, '.');

function tagOf(identity: PatientIdentity): string {
  const canonical = JSON.stringify([identity.patientId, identity.issuerOfPatientId ?? null, identity.institutionId]);
  return toIdAlphabet(createHash('sha256').update(canonical, 'utf8').digest().subarray(0, TAG_BYTES).toString('base64url'));
}

export function encodePatientId(identity: PatientIdentity): string {
  return tagOf(identity) + toIdAlphabet(Buffer.from(identity.patientId, 'utf8').toString('base64url'));
}

/** What a FHIR id refers to, or undefined when the id is not one this server issues. */
export function decodePatientId(id: string): PatientReference | undefined {
  if (!/^[A-Za-z0-9.-]+$/.test(id) || id.length <= TAG_LENGTH) return undefined;
  const encoded = id.slice(TAG_LENGTH);
  const patientId = Buffer.from(encoded.replace(/\./g, '_'), 'base64url').toString('utf8');
  // every Patient ID has exactly one encoding: a non-canonical one is no id of ours
  if (patientId === '' || toIdAlphabet(Buffer.from(patientId, 'utf8').toString('base64url')) !== encoded) return undefined;
  return { patientId, tag: id.slice(0, TAG_LENGTH) };
}

/** True when the id (decoded) names this identity. */
export function refersTo(reference: PatientReference, identity: PatientIdentity): boolean {
  return reference.patientId === identity.patientId && reference.tag === tagOf(identity);
}

/** The identity of a query result asked with includeHoldingInstitution; undefined without a Patient ID. */
export function identityOf(dataset: DicomJsonDataset): PatientIdentity | undefined {
  const patientId = stringOf(dataset, 'patientId');
  const institutionId = dataset[HOLDING_INSTITUTION_KEY]?.Value?.[0];
  if (!patientId || typeof institutionId !== 'string') return undefined;
  const issuerOfPatientId = stringOf(dataset, 'issuerOfPatientId');
  return { patientId, institutionId, ...(issuerOfPatientId ? { issuerOfPatientId } : {}) };
}

/** The identifier system of an identity's Patient ID (see the module comment). */
export function identifierSystem(identity: Omit<PatientIdentity, 'patientId'>): string {
  const issuer = identity.issuerOfPatientId ? `:${encodeURIComponent(identity.issuerOfPatientId)}` : '';
  return `${SYSTEM_PREFIX}${identity.institutionId}:patient-id${issuer}`;
}

/** Institution and issuer of one of our identifier systems; undefined for any other system. */
export function parseIdentifierSystem(system: string): Omit<PatientIdentity, 'patientId'> | undefined {
  const match = SYSTEM.exec(system);
  if (!match) return undefined;
  if (match[2] === undefined) return { institutionId: match[1]! };
  try {
    // any spelling that decodes: a client may leave URN-safe characters unencoded
    return { institutionId: match[1]!, issuerOfPatientId: decodeURIComponent(match[2]) };
  } catch {
    return undefined;
  }
}

/** True when the identity's number is that system's. */
export function isOfSystem(identity: PatientIdentity, system: Omit<PatientIdentity, 'patientId'>): boolean {
  return identity.institutionId === system.institutionId && (identity.issuerOfPatientId ?? undefined) === (system.issuerOfPatientId ?? undefined);
}

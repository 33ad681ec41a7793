/**
 * DICOM study, series and instance query results → FHIR R4 ImagingStudy.
 *
 * The id is the Study Instance UID itself: a UID ([0-9.]{1,64}) is a valid FHIR id, so the
 * mapping is reversible without encoding. Where to fetch the images is a contained Endpoint
 * pointing at our DICOMweb base (WADO-RS), as R4 ImagingStudy.endpoint intends.
 */
import type { DicomJsonDataset } from '@yunying/dicom';
import type { Resource } from './bundle.ts';
import { numberOf, personNameOf, stringOf, stringsOf } from './dicom-attributes.ts';
import { displayName } from './human-name.ts';
import { HOLDING_INSTITUTION_KEY } from '../archive/archive-service.ts';
import { encodePatientId, identityOf } from './patient-id.ts';

export const DICOM_UID_SYSTEM = 'urn:dicom:uid';
/** DICOM Controlled Terminology (PS3.16): modality codes */
export const DCM_SYSTEM = 'http://dicom.nema.org/resources/ontology/DCM';
const URI_SYSTEM = 'urn:ietf:rfc:3986';
/**
 * The accession number's system: the institution holding the study issued it (the same
 * number at two townships is two examinations), like the Patient ID's system (patient-id.ts).
 */
export const ACCESSION_SYSTEM = 'urn:yunying:institution:{institution}:accession';
const ACCESSION_SYSTEM_PATTERN = /^urn:yunying:institution:([A-Za-z0-9._-]+):accession$/;

export function accessionSystem(institutionId: string): string {
  return ACCESSION_SYSTEM.replace('{institution}', institutionId);
}

/** The institution of an accession system; undefined for any other system. */
export function institutionOfAccessionSystem(system: string): string | undefined {
  return ACCESSION_SYSTEM_PATTERN.exec(system)?.[1];
}
const V2_IDENTIFIER_TYPE = 'http://terminology.hl7.org/CodeSystem/v2-0203';
const ENDPOINT_ID = 'dicomweb';

interface Coding {
  system: string;
  code: string;
}

export interface ImagingStudySeries {
  uid: string;
  number?: number;
  modality: Coding;
  description?: string;
  numberOfInstances?: number;
  started?: string;
  instance: Array<{ uid: string; sopClass: Coding; number?: number }>;
}

export interface ImagingStudy extends Resource {
  resourceType: 'ImagingStudy';
  contained: unknown[];
  identifier: Array<Record<string, unknown>>;
  status: 'available';
  modality?: Coding[];
  subject: { reference?: string; display?: string };
  started?: string;
  referrer?: { display: string };
  endpoint: Array<{ reference: string }>;
  numberOfSeries?: number;
  numberOfInstances?: number;
  description?: string;
  series?: ImagingStudySeries[];
}

export interface StudyParts {
  study: DicomJsonDataset;
  /** SERIES-level results of this study */
  series: readonly DicomJsonDataset[];
  /** IMAGE-level results of this study */
  instances: readonly DicomJsonDataset[];
}

export interface MappingContext {
  dicomWebBase: string;
  timeZoneOffset: string;
}

export function toImagingStudy(parts: StudyParts, context: MappingContext): ImagingStudy {
  const { study } = parts;
  const uid = stringOf(study, 'studyInstanceUid')!;
  const resource: ImagingStudy = {
    resourceType: 'ImagingStudy',
    id: uid,
    contained: [dicomWebEndpoint(context.dicomWebBase)],
    identifier: studyIdentifiers(uid, stringOf(study, 'accessionNumber'), holdingInstitutionOf(study)),
    status: 'available',
    subject: subjectOf(study),
    endpoint: [{ reference: `#${ENDPOINT_ID}` }],
  };
  const modalities = stringsOf(study, 'modalitiesInStudy');
  if (modalities.length > 0) resource.modality = modalities.map(modalityCoding);
  const started = toFhirDateTime(stringOf(study, 'studyDate'), stringOf(study, 'studyTime'), context.timeZoneOffset);
  if (started) resource.started = started;
  const referrer = displayName(personNameOf(study, 'referringPhysicianName'));
  if (referrer) resource.referrer = { display: referrer };
  resource.numberOfSeries = numberOf(study, 'numberOfStudyRelatedSeries') ?? parts.series.length;
  resource.numberOfInstances = numberOf(study, 'numberOfStudyRelatedInstances') ?? parts.instances.length;
  const description = stringOf(study, 'studyDescription');
  if (description) resource.description = description;
  const series = parts.series.map((s) => toSeries(s, parts.instances, context));
  if (series.length > 0) resource.series = series;
  return resource;
}

function dicomWebEndpoint(address: string) {
  return {
    resourceType: 'Endpoint',
    id: ENDPOINT_ID,
    status: 'active',
    connectionType: { system: 'http://terminology.hl7.org/CodeSystem/endpoint-connection-type', code: 'dicom-wado-rs' },
    payloadType: [{ text: 'DICOM' }],
    payloadMimeType: ['application/dicom'],
    address,
  };
}

/** The institution holding a STUDY-level result asked with includeHoldingInstitution. */
export function holdingInstitutionOf(study: DicomJsonDataset): string | undefined {
  const value = study[HOLDING_INSTITUTION_KEY]?.Value?.[0];
  return typeof value === 'string' ? value : undefined;
}

/** R4 ImagingStudy identifiers: the Study Instance UID as urn:oid, the accession number typed ACSN in its institution's system. */
function studyIdentifiers(uid: string, accessionNumber: string | undefined, institutionId: string | undefined): ImagingStudy['identifier'] {
  const identifiers: ImagingStudy['identifier'] = [{ use: 'official', system: DICOM_UID_SYSTEM, value: `urn:oid:${uid}` }];
  if (accessionNumber) {
    identifiers.push({ use: 'usual', type: { coding: [{ system: V2_IDENTIFIER_TYPE, code: 'ACSN' }] }, ...(institutionId ? { system: accessionSystem(institutionId) } : {}), value: accessionNumber });
  }
  return identifiers;
}

/**
 * subject is required; a study without a Patient ID can only be described, not referenced.
 * The reference is the study's own patient identity (PatientID, issuer, holding institution:
 * the study is a STUDY-level result asked with includeHoldingInstitution).
 */
function subjectOf(study: DicomJsonDataset): ImagingStudy['subject'] {
  const identity = identityOf(study);
  const display = displayName(personNameOf(study, 'patientName'));
  const subject: ImagingStudy['subject'] = {};
  if (identity) subject.reference = `Patient/${encodePatientId(identity)}`;
  if (display) subject.display = display;
  return subject;
}

function modalityCoding(code: string): Coding {
  return { system: DCM_SYSTEM, code };
}

function toSeries(series: DicomJsonDataset, instances: readonly DicomJsonDataset[], context: MappingContext): ImagingStudySeries {
  const uid = stringOf(series, 'seriesInstanceUid')!;
  const result: ImagingStudySeries = {
    uid,
    // modality is required on a series; "OT" (other) when the object did not say
    modality: modalityCoding(stringOf(series, 'modality') ?? 'OT'),
    instance: instances.filter((i) => stringOf(i, 'seriesInstanceUid') === uid).map(toInstance).sort(byNumberThenUid),
  };
  const number = numberOf(series, 'seriesNumber');
  if (number !== undefined) result.number = number;
  const description = stringOf(series, 'seriesDescription');
  if (description) result.description = description;
  result.numberOfInstances = numberOf(series, 'numberOfSeriesRelatedInstances') ?? result.instance.length;
  const started = toFhirDateTime(stringOf(series, 'seriesDate'), stringOf(series, 'seriesTime'), context.timeZoneOffset);
  if (started) result.started = started;
  return result;
}

function toInstance(instance: DicomJsonDataset): ImagingStudySeries['instance'][number] {
  const number = numberOf(instance, 'instanceNumber');
  return {
    uid: stringOf(instance, 'sopInstanceUid')!,
    sopClass: { system: URI_SYSTEM, code: `urn:oid:${stringOf(instance, 'sopClassUid') ?? ''}` },
    ...(number !== undefined ? { number } : {}),
  };
}

function byNumberThenUid(a: { uid: string; number?: number }, b: { uid: string; number?: number }): number {
  return (a.number ?? Infinity) - (b.number ?? Infinity) || a.uid.localeCompare(b.uid);
}

/**
 * DA + TM → FHIR dateTime. With a time FHIR requires a zone, which DICOM leaves out
 * (local time), so the platform's offset is added; without a valid time, the date alone.
 */
export function toFhirDateTime(date: string | undefined, time: string | undefined, timeZoneOffset: string): string | undefined {
  const day = /^(\d{4})\.?(\d{2})\.?(\d{2})$/.exec(date ?? '');
  if (!day) return undefined;
  const datePart = `${day[1]}-${day[2]}-${day[3]}`;
  const clock = /^(\d{2})(\d{2})?(\d{2})?(\.\d{1,6})?$/.exec((time ?? '').replace(/:/g, '').trim());
  if (!clock || Number(clock[1]) > 23 || Number(clock[2] ?? 0) > 59 || Number(clock[3] ?? 0) > 60) return datePart;
  return `${datePart}T${clock[1]}:${clock[2] ?? '00'}:${clock[3] ?? '00'}${clock[4] ?? ''}${timeZoneOffset}`;
}

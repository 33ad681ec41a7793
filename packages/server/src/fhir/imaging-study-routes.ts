/**
 * GET /ImagingStudy/{id} and GET /ImagingStudy?…: a STUDY-level query picks the studies,
 * then one SERIES-level and one IMAGE-level query for the whole page fill in their series
 * and instances (three queries per request, not three per study).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { DicomJsonDataset } from '@yunying/dicom';
import type { Caller } from '../access/caller.ts';
import { badRequest, notFound } from '../errors.ts';
import { searchsetBundle } from './bundle.ts';
import { matchingKey, queryKeys, RETURN_ATTRIBUTES, stringOf } from './dicom-attributes.ts';
import type { FhirContext } from './fhir-context.ts';
import { ACCESSION_SYSTEM, DCM_SYSTEM, DICOM_UID_SYSTEM, holdingInstitutionOf, institutionOfAccessionSystem, toImagingStudy, type ImagingStudy } from './imaging-study.ts';
import type { FhirSearchParam } from './resource-registry.ts';
import { decodePatientId, identityOf, refersTo, type PatientReference } from './patient-id.ts';
import {
  alternatives, isEmptyRange, parseDateRange, parseSearch, parseToken, singleValue, toDicomRange, type ParsedSearch, type QueryParams,
} from './search-params.ts';

export const IMAGING_STUDY_SEARCH_PARAMETERS: readonly FhirSearchParam[] = [
  { name: '_id', type: 'token', documentation: 'the Study Instance UID; comma for any of several' },
  { name: 'identifier', type: 'token', documentation: `urn:dicom:uid|urn:oid:<Study Instance UID>; ${ACCESSION_SYSTEM}|<accession number> (the system ImagingStudy.identifier carries); or a value alone: the UID when it is one, else the accession number` },
  { name: 'patient', type: 'reference', documentation: 'Patient/<id>' },
  { name: 'subject', type: 'reference', documentation: 'Patient/<id>' },
  { name: 'started', type: 'date', documentation: 'study date; prefixes eq, ge, gt, le, lt; date precision only' },
  { name: 'modality', type: 'token', documentation: `a modality of the study's series: CT, or ${DCM_SYSTEM}|CT; comma for any of several` },
];
export const IMAGING_STUDY_SEARCH_PARAMS = IMAGING_STUDY_SEARCH_PARAMETERS.map((p) => p.name);

const UID = /^[0-9.]{1,64}$/;
/**
 * Matches a search reads whole to count them (Bundle.total); a search matching more pages
 * from the archive without a total. A search of one patient, date or accession is far below.
 */
export const MAX_SCAN = 2000;
const FHIR_ID = /^[A-Za-z0-9.-]{1,64}$/;

/** A study's keys plus the exact values to check again (DICOM wildcards "*", "?" in data values). */
interface StudyMatching {
  keys: DicomJsonDataset;
  exact: Array<{ tag: string; values: string[] }>;
  /** patient=: the patient identities asked for (the archive matches the Patient ID only) */
  patients?: PatientReference[];
  /** identifier=: the accession numbers asked for, with the institution when the system named one */
  accessions?: Array<{ value: string; institutionId?: string }>;
}

/** Matching keys for a search; undefined when it can match nothing (no query needed). */
function studyMatching(search: ParsedSearch): StudyMatching | undefined {
  const matching: StudyMatching = { keys: {}, exact: [] };
  const steps = [matchIds, matchIdentifiers, matchPatients, matchStarted, matchModalities];
  for (const step of steps) if (!step(search, matching)) return undefined;
  return matching;
}

function setKey(matching: StudyMatching, name: Parameters<typeof matchingKey>[0], values: string[], exact = false): void {
  const [tag, element] = matchingKey(name, values);
  if (matching.keys[tag]) throw badRequest('INVALID_SEARCH_PARAMETER', 'these search parameters select the same DICOM attribute: give one of them');
  matching.keys[tag] = element;
  if (exact) matching.exact.push({ tag, values });
}

function matchIds(search: ParsedSearch, matching: StudyMatching): boolean {
  const ids = singleValue(search, '_id');
  if (ids === undefined) return true;
  const uids = alternatives(ids).filter((id) => UID.test(id));
  if (uids.length === 0) return false;
  setKey(matching, 'studyInstanceUid', uids);
  return true;
}

/**
 * identifier: "urn:dicom:uid|urn:oid:1.2.3" (or the bare UID) finds the study with that UID;
 * "urn:yunying:institution:{institution}:accession|A123" the study with that accession number
 * held by that institution (the system ImagingStudy.identifier carries); a value without a
 * system finds the UID when it is one, else the accession number at any institution.
 */
function matchIdentifiers(search: ParsedSearch, matching: StudyMatching): boolean {
  const text = singleValue(search, 'identifier');
  if (text === undefined) return true;
  const uids: string[] = [];
  const accessions: Array<{ value: string; institutionId?: string }> = [];
  for (const token of alternatives(text).map(parseToken)) {
    const uid = token.code.replace(/^urn:oid:/, '');
    const accessionInstitution = token.system ? institutionOfAccessionSystem(token.system) : undefined;
    if (token.system === DICOM_UID_SYSTEM) {
      if (UID.test(uid)) uids.push(uid);
    } else if (accessionInstitution) {
      accessions.push({ value: token.code, institutionId: accessionInstitution });
    } else if (token.system) {
      throw badRequest('INVALID_SEARCH_PARAMETER', `identifier system "${token.system}" is not supported (${DICOM_UID_SYSTEM}, ${ACCESSION_SYSTEM}, or a value alone)`);
    } else if (UID.test(uid)) uids.push(uid);
    else accessions.push({ value: token.code });
  }
  if (uids.length > 0 && accessions.length > 0) throw badRequest('INVALID_SEARCH_PARAMETER', 'identifier: give either study UIDs or accession numbers, not both');
  if (uids.length > 0) setKey(matching, 'studyInstanceUid', uids);
  else if (accessions.length > 0) {
    setKey(matching, 'accessionNumber', [...new Set(accessions.map((a) => a.value))], true);
    matching.accessions = accessions;
  } else return false;
  return true;
}

/** patient=Patient/{id} (or the id, or an absolute URL to it); subject is the same for studies. */
function matchPatients(search: ParsedSearch, matching: StudyMatching): boolean {
  const patient = singleValue(search, 'patient');
  const subject = singleValue(search, 'subject');
  if (patient !== undefined && subject !== undefined) throw badRequest('INVALID_SEARCH_PARAMETER', 'give patient or subject, not both');
  const text = patient ?? subject;
  if (text === undefined) return true;
  const patients = alternatives(text).map(patientOfReference).filter((reference) => reference !== undefined);
  if (patients.length === 0) return false;
  setKey(matching, 'patientId', [...new Set(patients.map((p) => p.patientId))], true);
  matching.patients = patients;
  return true;
}

function patientOfReference(reference: string): PatientReference | undefined {
  const match = /^(?:(?:.*\/)?Patient\/)?([A-Za-z0-9.-]+)$/.exec(reference);
  if (!match) throw badRequest('INVALID_SEARCH_PARAMETER', `"${reference}" is not a Patient reference`);
  return decodePatientId(match[1]!);
}

function matchStarted(search: ParsedSearch, matching: StudyMatching): boolean {
  const values = search.params.get('started');
  if (!values) return true;
  const range = parseDateRange('started', values);
  if (isEmptyRange(range)) return false;
  const text = toDicomRange(range);
  if (text) setKey(matching, 'studyDate', [text]);
  return true;
}

/** modality=CT,MR or DCM|CT: studies with a series of any of them. */
function matchModalities(search: ParsedSearch, matching: StudyMatching): boolean {
  const text = singleValue(search, 'modality');
  if (text === undefined) return true;
  const codes = alternatives(text).map(parseToken).map((token) => {
    if (token.system && token.system !== DCM_SYSTEM) throw badRequest('INVALID_SEARCH_PARAMETER', `modality system "${token.system}" is not supported (${DCM_SYSTEM})`);
    if (!/^[A-Za-z0-9_ ]{1,16}$/.test(token.code)) throw badRequest('INVALID_SEARCH_PARAMETER', `"${token.code}" is not a DICOM modality code`);
    return token.code.toUpperCase();
  });
  setKey(matching, 'modalitiesInStudy', codes);
  return true;
}

function matchesExactly(study: DicomJsonDataset, matching: StudyMatching): boolean {
  if (!matching.exact.every(({ tag, values }) => values.includes(String(study[tag]?.Value?.[0] ?? '')))) return false;
  if (matching.accessions) {
    const accession = stringOf(study, 'accessionNumber');
    const holder = holdingInstitutionOf(study);
    if (!matching.accessions.some((a) => a.value === accession && (a.institutionId === undefined || a.institutionId === holder))) return false;
  }
  if (!matching.patients) return true;
  // the same Patient ID issued elsewhere, or under another issuer, is another patient's study
  const identity = identityOf(study);
  return identity !== undefined && matching.patients.some((reference) => refersTo(reference, identity));
}

/** Series and instances of these studies, then one ImagingStudy per study in the given order. */
async function buildStudies(ctx: FhirContext, request: FastifyRequest, caller: Caller, studies: DicomJsonDataset[]): Promise<ImagingStudy[]> {
  if (studies.length === 0) return [];
  const uids = studies.map((s) => stringOf(s, 'studyInstanceUid')!);
  const [key, element] = matchingKey('studyInstanceUid', uids);
  const [series, instances] = await Promise.all([
    ctx.archive.query(caller, { level: 'SERIES', keys: queryKeys(RETURN_ATTRIBUTES.SERIES, { [key]: element }) }),
    ctx.archive.query(caller, { level: 'IMAGE', keys: queryKeys(RETURN_ATTRIBUTES.IMAGE, { [key]: element }) }),
  ]);
  const context = { dicomWebBase: ctx.dicomWebBase(request), timeZoneOffset: ctx.timeZoneOffset };
  const ofStudy = (rows: DicomJsonDataset[], uid: string) => rows.filter((row) => stringOf(row, 'studyInstanceUid') === uid);
  return studies.map((study, i) => toImagingStudy({ study, series: ofStudy(series, uids[i]!), instances: ofStudy(instances, uids[i]!) }, context));
}

async function readImagingStudy(ctx: FhirContext, request: FastifyRequest<{ Params: { id: string } }>): Promise<ImagingStudy> {
  const caller = ctx.callerOf(request);
  const { id } = request.params;
  if (!FHIR_ID.test(id)) throw badRequest('INVALID_ID', 'not a FHIR id ([A-Za-z0-9.-]{1,64})');
  // The same answer for a valid id that is no UID, an unknown study and one out of scope.
  if (!UID.test(id)) throw notFound('ImagingStudy');
  const [key, element] = matchingKey('studyInstanceUid', [id]);
  const studies = await ctx.archive.query(caller, { level: 'STUDY', keys: queryKeys(RETURN_ATTRIBUTES.STUDY, { [key]: element }), includeHoldingInstitution: true, limit: 1 });
  if (studies.length === 0) throw notFound('ImagingStudy');
  const [study] = await buildStudies(ctx, request, caller, studies);
  return study!;
}

async function searchImagingStudies(ctx: FhirContext, request: FastifyRequest) {
  const caller = ctx.callerOf(request);
  const search = parseSearch(request.query as QueryParams, 'ImagingStudy', IMAGING_STUDY_SEARCH_PARAMS);
  const matching = studyMatching(search);
  if (!matching) return searchsetBundle(ctx, request, [], search, { total: 0 });
  const keys = queryKeys(RETURN_ATTRIBUTES.STUDY, matching.keys);
  // Every match up to the scan bound, checked exactly, then the page: total and the paging
  // links count what the client gets, not what the archive's matching let through.
  const found = await ctx.archive.query(caller, { level: 'STUDY', keys, includeHoldingInstitution: true, limit: MAX_SCAN + 1 });
  if (found.length <= MAX_SCAN) {
    const matches = found.filter((study) => matchesExactly(study, matching));
    const page = matches.slice(search.offset, search.offset + search.count);
    return searchsetBundle(ctx, request, await buildStudies(ctx, request, caller, page), search, { total: matches.length });
  }
  // Beyond the bound: one page from the archive, no total (counting would read every match).
  if (search.count === 0) return searchsetBundle(ctx, request, [], search, { hasMore: true });
  const window = await ctx.archive.query(caller, { level: 'STUDY', keys, includeHoldingInstitution: true, limit: search.count + 1, offset: search.offset });
  const studies = window.slice(0, search.count).filter((study) => matchesExactly(study, matching));
  return searchsetBundle(ctx, request, await buildStudies(ctx, request, caller, studies), search, { hasMore: window.length > search.count });
}

export function registerImagingStudy(app: FastifyInstance, ctx: FhirContext): void {
  // A role that may not read images learns nothing, not even which parameters are wrong.
  const config = { permission: 'images:read' } as const;
  app.get('/ImagingStudy', { config }, async (request, reply) => ctx.send(request, reply, 200, await searchImagingStudies(ctx, request)));
  app.get<{ Params: { id: string } }>('/ImagingStudy/:id', { config }, async (request, reply) => ctx.send(request, reply, 200, await readImagingStudy(ctx, request)));
}

/**
 * Patient from PATIENT-level archive queries: one Patient per patient identity (PatientID,
 * IssuerOfPatientID, issuing institution; see patient-id.ts) among the studies the caller
 * may see. GET /Patient/{id} and GET /Patient?identifier=…&name=…&_id=….
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { DicomJsonDataset } from '@yunying/dicom';
import { badRequest, notFound } from '../errors.ts';
import { searchsetBundle, type Resource } from './bundle.ts';
import { matchingKey, personNameOf, queryKeys, RETURN_ATTRIBUTES, stringOf } from './dicom-attributes.ts';
import type { FhirContext } from './fhir-context.ts';
import type { FhirSearchParam } from './resource-registry.ts';
import { MAX_SCAN } from './imaging-study-routes.ts';
import { toHumanNames, type HumanName } from './human-name.ts';
import {
  decodePatientId, encodePatientId, identifierSystem, identityOf, isOfSystem, parseIdentifierSystem, refersTo, type PatientIdentity,
} from './patient-id.ts';
import { alternatives, parseSearch, parseToken, singleValue, splitEscaped, type ParsedSearch, type QueryParams } from './search-params.ts';

export const PATIENT_SEARCH_PARAMETERS: readonly FhirSearchParam[] = [
  { name: '_id', type: 'token', documentation: 'the Patient id this server issues' },
  { name: 'identifier', type: 'token', documentation: 'the DICOM Patient ID alone (every institution and issuer using it), or urn:yunying:institution:<institution>:patient-id[:<issuer>]|<Patient ID> for one patient' },
  { name: 'name', type: 'string', documentation: 'start of the family or given name, any of alphabetic, ideographic (汉字) or phonetic' },
];
export const PATIENT_SEARCH_PARAMS = PATIENT_SEARCH_PARAMETERS.map((p) => p.name);

const V2_IDENTIFIER_TYPE = 'http://terminology.hl7.org/CodeSystem/v2-0203';

export interface Patient extends Resource {
  resourceType: 'Patient';
  identifier: Array<{ use: 'usual'; type: { coding: Array<{ system: string; code: string }> }; system: string; value: string; assigner?: { display: string } }>;
  name?: HumanName[];
  gender: 'male' | 'female' | 'other' | 'unknown';
  birthDate?: string;
}

/**
 * A PATIENT-level result (asked with includeHoldingInstitution) → Patient; undefined for
 * studies without a Patient ID (nothing to refer to).
 */
export function toPatient(dataset: DicomJsonDataset): Patient | undefined {
  const identity = identityOf(dataset);
  if (!identity) return undefined;
  const issuer = identity.issuerOfPatientId;
  const patient: Patient = {
    resourceType: 'Patient',
    id: encodePatientId(identity),
    identifier: [{
      use: 'usual',
      // MR: the medical record number the institution assigned; whose number it is, the system says.
      type: { coding: [{ system: V2_IDENTIFIER_TYPE, code: 'MR' }] },
      system: identifierSystem(identity),
      value: identity.patientId,
      ...(issuer ? { assigner: { display: issuer } } : {}),
    }],
    gender: toGender(stringOf(dataset, 'patientSex')),
  };
  const names = toHumanNames(personNameOf(dataset, 'patientName'));
  if (names.length > 0) patient.name = names;
  const birthDate = toFhirDate(stringOf(dataset, 'patientBirthDate'));
  if (birthDate) patient.birthDate = birthDate;
  return patient;
}

export function toGender(patientSex: string | undefined): Patient['gender'] {
  switch (patientSex?.toUpperCase()) {
    case 'M': return 'male';
    case 'F': return 'female';
    case 'O': return 'other';
    default: return 'unknown';
  }
}

/** DA "YYYYMMDD" (or the old "YYYY.MM.DD") → "YYYY-MM-DD"; undefined when not a calendar date. */
export function toFhirDate(value: string | undefined): string | undefined {
  const match = /^(\d{4})\.?(\d{2})\.?(\d{2})$/.exec(value ?? '');
  if (!match) return undefined;
  const [, year, month, day] = match;
  const date = new Date(Date.UTC(Number(year), Number(month) - 1, Number(day)));
  if (date.getUTCMonth() !== Number(month) - 1 || date.getUTCDate() !== Number(day)) return undefined;
  return `${year}-${month}-${day}`;
}

/** Which identities a search asks for, beyond what the archive can match (issuer, institution). */
type IdentityFilter = (identity: PatientIdentity) => boolean;

/** Matching keys for a Patient search; undefined when the search can match nothing. */
function patientMatching(search: ParsedSearch): { keys: DicomJsonDataset; wanted?: IdentityFilter } | undefined {
  const keys: DicomJsonDataset = {};
  const ids = singleValue(search, '_id');
  const identifier = singleValue(search, 'identifier');
  if (ids !== undefined && identifier !== undefined) throw badRequest('INVALID_SEARCH_PARAMETER', '_id and identifier together are not supported');
  let wanted: { patientIds: string[]; filter: IdentityFilter } | undefined;
  if (ids !== undefined) wanted = byIds(alternatives(ids));
  if (identifier !== undefined) wanted = byIdentifiers(alternatives(identifier));
  if (wanted) {
    if (wanted.patientIds.length === 0) return undefined;
    const [tag, element] = matchingKey('patientId', wanted.patientIds);
    keys[tag] = element;
  }
  const name = singleValue(search, 'name');
  if (name !== undefined) {
    const [tag, element] = matchingKey('patientName', alternatives(name).flatMap(namePatterns));
    keys[tag] = element;
  }
  return { keys, wanted: wanted?.filter };
}

/** _id: the identities these ids name; ids we never issue name none. */
function byIds(ids: string[]): { patientIds: string[]; filter: IdentityFilter } {
  const references = ids.map(decodePatientId).filter((reference) => reference !== undefined);
  return { patientIds: [...new Set(references.map((r) => r.patientId))], filter: (identity) => references.some((r) => refersTo(r, identity)) };
}

/**
 * identifier: "value" is that number at any institution and issuer (several Patients when
 * several institutions use it); "system|value" with one of our systems is one identity;
 * "|value" asks for a number without a system, which no Patient here has. DICOM string
 * matching treats "*" and "?" in a Patient ID as wildcards; FHIR identifiers match exactly,
 * so the filter checks the value again.
 */
function byIdentifiers(texts: string[]): { patientIds: string[]; filter: IdentityFilter } {
  const tokens = texts.map(parseToken).flatMap((token): Array<{ value: string; system?: Omit<PatientIdentity, 'patientId'> }> => {
    if (token.system === undefined) return [{ value: token.code }];
    if (token.system === '') return [];
    const system = parseIdentifierSystem(token.system);
    if (!system) throw badRequest('INVALID_SEARCH_PARAMETER', `identifier system "${token.system}" is not one of this server's (urn:yunying:institution:{institution}:patient-id[:{issuer}]), or search "identifier=${token.code}"`);
    return [{ value: token.code, system }];
  });
  return {
    patientIds: [...new Set(tokens.map((t) => t.value))],
    filter: (identity) => tokens.some((t) => t.value === identity.patientId && (!t.system || isOfSystem(identity, t.system))),
  };
}

/**
 * FHIR string search: case-insensitive, matching the start of any part of the name. The
 * archive's PN matching tries each component group with and without "^", so "王*" finds
 * "王^小东" and "王小*" finds it too; "*^小东*" is the start of the given name.
 */
function namePatterns(text: string): Array<{ Alphabetic: string }> {
  const value = splitEscaped(text, ',').join(',');
  if (/[*?\\=]/.test(value)) throw badRequest('INVALID_SEARCH_PARAMETER', 'name may not contain *, ?, \\ or =');
  return [{ Alphabetic: `${value}*` }, { Alphabetic: `*^${value}*` }];
}

async function queryPatients(ctx: FhirContext, request: FastifyRequest, keys: DicomJsonDataset, limit?: number, offset?: number): Promise<DicomJsonDataset[]> {
  const caller = ctx.callerOf(request);
  return ctx.archive.query(caller, { level: 'PATIENT', keys: queryKeys(RETURN_ATTRIBUTES.PATIENT, keys), includeHoldingInstitution: true, limit, offset });
}

/** The results' Patients that the search asked for. */
function patientsOf(results: DicomJsonDataset[], wanted: IdentityFilter | undefined): Patient[] {
  return results.filter((result) => {
    const identity = identityOf(result);
    return identity !== undefined && (!wanted || wanted(identity));
  }).map(toPatient).filter((p): p is Patient => p !== undefined);
}

/** A person of the regional patient index: its ids start "psn-", which no identity's id does (an identity's starts with a 12-character tag). */
export const PERSON_ID_PREFIX = 'psn-';

async function readPatient(ctx: FhirContext, request: FastifyRequest<{ Params: { id: string } }>): Promise<Patient | Record<string, unknown>> {
  if (request.params.id.startsWith(PERSON_ID_PREFIX) && ctx.options.personPatients) {
    const person = await ctx.options.personPatients(ctx.callerOf(request), request.params.id);
    if (!person) throw notFound('Patient');
    return person;
  }
  const reference = decodePatientId(request.params.id);
  // An id we never issue, an unknown identity and one outside the caller's scope look alike.
  if (reference === undefined) throw notFound('Patient');
  const [tag, element] = matchingKey('patientId', [reference.patientId]);
  const [patient] = patientsOf(await queryPatients(ctx, request, { [tag]: element }), (identity) => refersTo(reference, identity));
  if (!patient) throw notFound('Patient');
  return patient;
}

async function searchPatients(ctx: FhirContext, request: FastifyRequest) {
  const search = parseSearch(request.query as QueryParams, 'Patient', PATIENT_SEARCH_PARAMS);
  const matching = patientMatching(search);
  if (!matching) return searchsetBundle(ctx, request, [], search, { total: 0 });
  // as for studies (imaging-study-routes.ts): every match up to the bound, filtered, counted, then the page
  const results = await queryPatients(ctx, request, matching.keys, MAX_SCAN + 1);
  if (results.length <= MAX_SCAN) {
    const patients = patientsOf(results, matching.wanted);
    return searchsetBundle(ctx, request, patients.slice(search.offset, search.offset + search.count), search, { total: patients.length });
  }
  if (search.count === 0) return searchsetBundle(ctx, request, [], search, { hasMore: true });
  const window = await queryPatients(ctx, request, matching.keys, search.count + 1, search.offset);
  return searchsetBundle(ctx, request, patientsOf(window.slice(0, search.count), matching.wanted), search, { hasMore: window.length > search.count });
}

export function registerPatient(app: FastifyInstance, ctx: FhirContext): void {
  // A role that may not read images learns nothing, not even which parameters are wrong.
  const config = { permission: 'images:read' } as const;
  app.get('/Patient', { config }, async (request, reply) => ctx.send(request, reply, 200, await searchPatients(ctx, request)));
  app.get<{ Params: { id: string } }>('/Patient/:id', { config }, async (request, reply) => ctx.send(request, reply, 200, await readPatient(ctx, request)));
}

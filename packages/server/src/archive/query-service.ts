import { dictionaryVr, type DicomJsonDataset, type DicomJsonElement } from '@yunying/dicom';
import { studyScopeOf, type Caller } from '../access/caller.ts';
import type { IndexStore, QueryRow } from '../store/index-store.ts';
import { HOLDING_INSTITUTION_KEY, type QueryLevel, type QueryRequest } from './archive-service.ts';
import { INDEXED_BY_TAG, INDEXED_ATTRIBUTES, isAvailableAtLevel, PATIENT_TAGS, QUERYABLE_SEQUENCES, SERIES_ATTRIBUTE_GROUPS, STUDY_ATTRIBUTE_GROUPS, UNIQUE_KEY_TAGS, type IndexedAttribute } from './attribute-catalog.ts';
import { datasetPredicate, type DatasetPredicate } from './dataset-matching.ts';
import { YunyingError } from '../errors.ts';
import { lookupAttribute } from '../dicomweb/keywords.ts';
import { personNameFromString, textValues, toMatchCondition, type MatchCondition } from './matching.ts';

const PATIENT_COUNT_COLUMNS: Record<string, string> = {
  '00201200': 'number_of_patient_related_studies',
  '00201202': 'number_of_patient_related_series',
  '00201204': 'number_of_patient_related_instances',
};
const COUNT_VR = 'IS';
const SPECIFIC_CHARACTER_SET = '00080005';
const QUERY_RETRIEVE_LEVEL = '00080052';
const INSTANCE_AVAILABILITY = '00080056';

/** One page of matches and, when asked for, how many match in all (QIDO-RS X-Total-Count). */
export interface QueryPage {
  datasets: DicomJsonDataset[];
  total?: number;
}

/**
 * Most candidate rows read for keys matched outside SQL (sequences, PN attributes without a
 * column): those are filtered in this process, so a query that leaves more candidates than
 * this is refused with QUERY_TOO_BROAD rather than read whole.
 */
export const MAX_FILTERED_CANDIDATES = 20_000;

/**
 * QIDO-RS and C-FIND: translates matching keys into conditions, runs them on the index
 * scoped to the caller's institutions, and answers with the requested attributes.
 */
export async function queryArchive(index: IndexStore, caller: Caller, request: QueryRequest): Promise<DicomJsonDataset[]> {
  return (await queryArchivePage(index, caller, request, { countTotal: false })).datasets;
}

/**
 * The same, with the number of all matches when `countTotal` (one count query when a limit
 * cut the page short; known from the page otherwise).
 */
export async function queryArchivePage(index: IndexStore, caller: Caller, request: QueryRequest, options: { countTotal: boolean }): Promise<QueryPage> {
  const { conditions, filters } = matchPlan(request);
  const base = { level: request.level, conditions, scope: studyScopeOf(caller) };
  const offset = request.offset ?? 0;
  let rows: QueryRow[];
  let total: number | undefined;
  if (filters.length === 0) {
    rows = await index.query({ ...base, limit: request.limit, offset: request.offset });
    if (options.countTotal) {
      const pageIsShort = request.limit === undefined || rows.length < request.limit;
      total = rows.length > 0 && pageIsShort ? offset + rows.length : await index.count(base);
    }
  } else {
    // Keys without a column: the SQL conditions narrow, the stored attributes decide, and the
    // page is cut after the filter so limit and offset count matches, not candidates.
    const candidates = await index.query({ ...base, limit: MAX_FILTERED_CANDIDATES + 1 });
    if (candidates.length > MAX_FILTERED_CANDIDATES) {
      throw new YunyingError('QUERY_TOO_BROAD', `more than ${MAX_FILTERED_CANDIDATES} candidates for a sequence or PN key matched on stored attributes; narrow the query with another key (a date range, a Patient ID, a modality)`);
    }
    const matching = candidates.filter((row) => { const stored = parseStoredAttributes(row, request.level); return filters.every((filter) => filter(stored)); });
    total = matching.length;
    rows = matching.slice(offset, request.limit === undefined ? undefined : offset + request.limit);
  }
  const returnTags = returnTagsFor(request);
  const datasets = rows.map((row) => rowToDataset(row, request.level, returnTags, request.keys));
  if (request.includeHoldingInstitution) rows.forEach((row, i) => { datasets[i]![HOLDING_INSTITUTION_KEY] = { vr: 'LO', Value: [String(row.institution_id)] }; });
  return { datasets, total: options.countTotal ? total : undefined };
}

/** SQL conditions for the indexed keys; predicates on the stored attributes for the others that can be matched. */
function matchPlan(request: QueryRequest): { conditions: MatchCondition[]; filters: DatasetPredicate[] } {
  const conditions: MatchCondition[] = [];
  const filters: DatasetPredicate[] = [];
  const options = { fuzzy: request.fuzzyMatching === true };
  for (const [tag, element] of Object.entries(request.keys)) {
    const attribute = INDEXED_BY_TAG.get(tag.toUpperCase());
    if (!attribute || attribute.match === 'returnOnly' || !isAvailableAtLevel(attribute, request.level)) {
      // PS3.4 C.2.2.1.3 lets an SCP treat an optional key it cannot match as universal
      // matching; that answered `PatientAge=045Y` with every study (issue 12, finding 13).
      // A key that asks to match is matched on the stored attributes when they hold it
      // (sequences, PN attributes), refused otherwise; as a return key it is answered.
      const asking = matchingPathOf(tag, element);
      if (!asking || CONTROL_TAGS.has(tag.toUpperCase())) continue;
      if (!attribute && matchableOnStoredAttributes(tag.toUpperCase(), element, request.level)) {
        const filter = datasetPredicate(tag.toUpperCase(), element, options);
        if (filter) filters.push(filter);
        continue;
      }
      throw unsupportedMatchingKey(asking, request.level);
    }
    const condition = toMatchCondition(attribute, element, options);
    if (condition) conditions.push(condition);
  }
  return { conditions, filters };
}

/**
 * Keys the study and series rows keep (attributes_json) and that are matched there: the
 * queryable sequences, and PN attributes of the level's groups (NameOfPhysiciansReadingStudy,
 * PerformingPhysicianName, …). Not at the PATIENT level, whose rows are groups of studies.
 */
function matchableOnStoredAttributes(tag: string, element: DicomJsonElement, level: QueryLevel): boolean {
  if (level === 'PATIENT') return false;
  const group = tag.slice(0, 4);
  const groups = level === 'STUDY' ? [STUDY_ATTRIBUTE_GROUPS] : [STUDY_ATTRIBUTE_GROUPS, SERIES_ATTRIBUTE_GROUPS];
  if (!groups.some((g) => g.has(group))) return false;
  if (element.vr === 'SQ') return QUERYABLE_SEQUENCES.has(tag);
  const vr = element.vr === 'UN' ? dictionaryVr(Number.parseInt(tag, 16)) : element.vr;
  return vr === 'PN';
}

/** Attributes of the identifier that steer the query rather than match (PS3.4 C.4.1.1.3). */
const CONTROL_TAGS = new Set([SPECIFIC_CHARACTER_SET, QUERY_RETRIEVE_LEVEL]);

/**
 * The tag path of the first value in the key that asks to match something, or undefined for
 * a return key: zero length, "*" (universal matching), a sequence of such items.
 */
function matchingPathOf(tag: string, element: DicomJsonElement): string[] | undefined {
  if (element.vr === 'SQ') {
    for (const item of (element.Value ?? []) as DicomJsonDataset[]) {
      if (!item || typeof item !== 'object') continue;
      for (const [inner, innerElement] of Object.entries(item)) {
        const path = matchingPathOf(inner, innerElement);
        if (path) return [tag.toUpperCase(), ...path];
      }
    }
    return undefined;
  }
  const asks = textValues(element).some((value) => value.replace(/[\0 ]+$/, '').trim().replace(/^\*$/, '') !== '');
  return asks ? [tag.toUpperCase()] : undefined;
}

/** 400 over HTTP; A900 "Identifier does not match SOP Class" in C-FIND, the key first in the comment. */
function unsupportedMatchingKey(path: string[], level: QueryLevel): YunyingError {
  const keywords = path.map((tag) => lookupAttribute(tag)?.keyword);
  const name = keywords.every(Boolean) ? ` ${keywords.join('.')}` : '';
  // Tags first: a C-FIND Error Comment keeps 64 characters.
  const tags = path.map((tag) => `(${tag.slice(0, 4)},${tag.slice(4)})`).join('.');
  const supported = supportedMatchingKeywords(level);
  return new YunyingError(
    'UNSUPPORTED_MATCHING_KEY',
    `${tags}${name} is not a supported matching key at the ${level} level; query without it or ask for it as a return key. Matching keys: ${supported.join(', ')}`,
    { details: { key: keywords.every(Boolean) ? keywords.join('.') : path.join('.'), supported: supported.join(',') } },
  );
}

/** The keywords the index can match at a query level, as the refusal lists them. */
export function supportedMatchingKeywords(level: QueryLevel): string[] {
  return INDEXED_ATTRIBUTES.filter((a) => a.match !== 'returnOnly' && isAvailableAtLevel(a, level)).map((a) => a.keyword);
}

function returnTagsFor(request: QueryRequest): string[] {
  const tags = new Set<string>(UNIQUE_KEY_TAGS[request.level]);
  for (const tag of Object.keys(request.keys)) tags.add(tag.toUpperCase());
  if (request.includeAllFields) {
    for (const attribute of INDEXED_ATTRIBUTES) if (isAvailableAtLevel(attribute, request.level)) tags.add(attribute.tag);
  }
  return [...tags].sort();
}

function rowToDataset(row: QueryRow, level: QueryLevel, returnTags: string[], keys: DicomJsonDataset): DicomJsonDataset {
  const stored = storedAttributes(row, level, returnTags);
  const dataset: DicomJsonDataset = {};
  for (const tag of returnTags) {
    const element = elementFor(tag, row, level, stored) ?? { vr: returnKeyVr(tag, keys) };
    if (element) dataset[tag] = element;
  }
  return dataset;
}

/** The study/series attribute JSON, parsed only when a requested tag is not a column. */
function storedAttributes(row: QueryRow, level: QueryLevel, returnTags: string[]): () => DicomJsonDataset {
  let cached: DicomJsonDataset | undefined;
  return () => {
    if (cached) return cached;
    const needsLookup = returnTags.some((tag) => !INDEXED_BY_TAG.has(tag));
    cached = needsLookup ? parseStoredAttributes(row, level) : {};
    return cached;
  };
}

/** A row's stored attributes: the study's, with the series' over them below the STUDY level; none at PATIENT. */
function parseStoredAttributes(row: QueryRow, level: QueryLevel): DicomJsonDataset {
  if (level === 'PATIENT') return {};
  const sources = level === 'STUDY' ? [row.attributes_json] : [row.study_attributes_json, row.series_attributes_json];
  const stored: DicomJsonDataset = {};
  for (const source of sources) {
    if (typeof source === 'string' && source) Object.assign(stored, JSON.parse(source) as DicomJsonDataset);
  }
  return stored;
}

function elementFor(tag: string, row: QueryRow, level: QueryLevel, stored: () => DicomJsonDataset): DicomJsonElement | undefined {
  if (tag === SPECIFIC_CHARACTER_SET) return { vr: 'CS', Value: ['ISO_IR 192'] };
  if (tag === QUERY_RETRIEVE_LEVEL) return { vr: 'CS', Value: [level] };
  if (tag === INSTANCE_AVAILABILITY) return { vr: 'CS', Value: ['ONLINE'] };
  if (level === 'PATIENT' && PATIENT_COUNT_COLUMNS[tag]) return numberElement(COUNT_VR, row[PATIENT_COUNT_COLUMNS[tag]]);
  const attribute = INDEXED_BY_TAG.get(tag);
  if (attribute && (level !== 'PATIENT' || PATIENT_TAGS.has(tag)) && isAvailableAtLevel(attribute, level)) {
    return columnElement(attribute, row[attribute.column]);
  }
  if (attribute) return { vr: attribute.vr };
  return stored()[tag];
}

/**
 * The VR of a return key the archive holds no value for: the key's own (a C-FIND identifier
 * in explicit VR, a QIDO key from the dictionary), else the data dictionary's. UN only for
 * private and unknown tags: a zero-length UN answered every unsupported key before, and
 * peers that show or re-encode the answer by its VR (findscu, Orthanc) got nothing usable.
 */
function returnKeyVr(tag: string, keys: DicomJsonDataset): string {
  const key = keys[tag] ?? keys[tag.toLowerCase()];
  if (key?.vr && key.vr !== 'UN') return key.vr;
  return dictionaryVr(Number.parseInt(tag, 16)) ?? 'UN';
}

function columnElement(attribute: IndexedAttribute, value: string | number | null | undefined): DicomJsonElement {
  if (value === null || value === undefined || value === '') return { vr: attribute.vr };
  switch (attribute.vr) {
    case 'PN':
      return { vr: 'PN', Value: [personNameFromString(String(value))] };
    case 'IS':
    case 'US':
      return numberElement(attribute.vr, value);
    default:
      if (attribute.match === 'modalities') return { vr: attribute.vr, Value: String(value).split('\\') };
      return { vr: attribute.vr, Value: [String(value)] };
  }
}

function numberElement(vr: string, value: string | number | null | undefined): DicomJsonElement {
  if (value === null || value === undefined) return { vr };
  return { vr, Value: [Number(value)] };
}

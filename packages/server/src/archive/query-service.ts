import type { DicomJsonDataset, DicomJsonElement } from '@yunying/dicom';
import { studyScopeOf, type Caller } from '../access/caller.ts';
import type { IndexStore, QueryRow } from '../store/index-store.ts';
import type { QueryLevel, QueryRequest } from './archive-service.ts';
import { INDEXED_BY_TAG, INDEXED_ATTRIBUTES, isAvailableAtLevel, PATIENT_TAGS, UNIQUE_KEY_TAGS, type IndexedAttribute } from './attribute-catalog.ts';
import { personNameFromString, toMatchCondition, type MatchCondition } from './matching.ts';

const PATIENT_COUNT_COLUMNS: Record<string, string> = {
  '00201200': 'number_of_patient_related_studies',
  '00201202': 'number_of_patient_related_series',
  '00201204': 'number_of_patient_related_instances',
};
const COUNT_VR = 'IS';
const SPECIFIC_CHARACTER_SET = '00080005';
const QUERY_RETRIEVE_LEVEL = '00080052';
const INSTANCE_AVAILABILITY = '00080056';

/**
 * QIDO-RS and C-FIND: translates matching keys into conditions, runs them on the index
 * scoped to the caller's institutions, and answers with the requested attributes.
 */
export async function queryArchive(index: IndexStore, caller: Caller, request: QueryRequest): Promise<DicomJsonDataset[]> {
  const conditions = matchConditions(request);
  const rows = await index.query({
    level: request.level,
    conditions,
    scope: studyScopeOf(caller),
    limit: request.limit,
    offset: request.offset,
  });
  const returnTags = returnTagsFor(request);
  return rows.map((row) => rowToDataset(row, request.level, returnTags));
}

function matchConditions(request: QueryRequest): MatchCondition[] {
  const conditions: MatchCondition[] = [];
  for (const [tag, element] of Object.entries(request.keys)) {
    const attribute = INDEXED_BY_TAG.get(tag.toUpperCase());
    // Keys the index does not hold are returned but not matched (PS3.4 C.2.2.1: optional keys).
    if (!attribute || !isAvailableAtLevel(attribute, request.level)) continue;
    const condition = toMatchCondition(attribute, element);
    if (condition) conditions.push(condition);
  }
  return conditions;
}

function returnTagsFor(request: QueryRequest): string[] {
  const tags = new Set<string>(UNIQUE_KEY_TAGS[request.level]);
  for (const tag of Object.keys(request.keys)) tags.add(tag.toUpperCase());
  if (request.includeAllFields) {
    for (const attribute of INDEXED_ATTRIBUTES) if (isAvailableAtLevel(attribute, request.level)) tags.add(attribute.tag);
  }
  return [...tags].sort();
}

function rowToDataset(row: QueryRow, level: QueryLevel, returnTags: string[]): DicomJsonDataset {
  const stored = storedAttributes(row, level, returnTags);
  const dataset: DicomJsonDataset = {};
  for (const tag of returnTags) {
    const element = elementFor(tag, row, level, stored);
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
    const sources = level === 'STUDY' ? [row.attributes_json] : [row.series_attributes_json, row.study_attributes_json];
    cached = {};
    if (!needsLookup || level === 'PATIENT') return cached;
    for (const source of sources.reverse()) {
      if (typeof source === 'string' && source) Object.assign(cached, JSON.parse(source) as DicomJsonDataset);
    }
    return cached;
  };
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
  const element = stored()[tag];
  return element ?? { vr: 'UN' };
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

/**
 * C-FIND over the gateway's cache, for the clinic's viewers (PS3.4 C.6, patient and study
 * root): the attributes the cache indexes, matched as PS3.4 C.2.2.2 says (single value,
 * UID list, wildcards * and ?, date and time ranges; PN without regard to case), plus the
 * counts and ModalitiesInStudy. A clinic's cache holds days of studies: rows are read with
 * the study's UID or Patient ID narrowing them, and matched here.
 */
import { sql } from 'kysely';
import type { DicomJsonDataset, DicomJsonElement } from '@yunying/dicom';
import type { LocalCache } from './cache.ts';

export type QueryLevel = 'PATIENT' | 'STUDY' | 'SERIES' | 'IMAGE';

interface Attribute {
  tag: string;
  vr: string;
  /** the row's field holding it */
  field: string;
  level: QueryLevel;
}

const ATTRIBUTES: readonly Attribute[] = [
  { tag: '00100020', vr: 'LO', field: 'patient_id', level: 'PATIENT' },
  { tag: '00100021', vr: 'LO', field: 'issuer_of_patient_id', level: 'PATIENT' },
  { tag: '00100010', vr: 'PN', field: 'patient_name', level: 'PATIENT' },
  { tag: '00100030', vr: 'DA', field: 'patient_birth_date', level: 'PATIENT' },
  { tag: '00100040', vr: 'CS', field: 'patient_sex', level: 'PATIENT' },
  { tag: '0020000D', vr: 'UI', field: 'study_instance_uid', level: 'STUDY' },
  { tag: '00080020', vr: 'DA', field: 'study_date', level: 'STUDY' },
  { tag: '00080030', vr: 'TM', field: 'study_time', level: 'STUDY' },
  { tag: '00080050', vr: 'SH', field: 'accession_number', level: 'STUDY' },
  { tag: '00200010', vr: 'SH', field: 'study_id', level: 'STUDY' },
  { tag: '00081030', vr: 'LO', field: 'study_description', level: 'STUDY' },
  { tag: '00080090', vr: 'PN', field: 'referring_physician_name', level: 'STUDY' },
  { tag: '00080061', vr: 'CS', field: 'modalities_in_study', level: 'STUDY' },
  { tag: '00201206', vr: 'IS', field: 'study_series', level: 'STUDY' },
  { tag: '00201208', vr: 'IS', field: 'study_instances', level: 'STUDY' },
  { tag: '0020000E', vr: 'UI', field: 'series_instance_uid', level: 'SERIES' },
  { tag: '00080060', vr: 'CS', field: 'modality', level: 'SERIES' },
  { tag: '00200011', vr: 'IS', field: 'series_number', level: 'SERIES' },
  { tag: '0008103E', vr: 'LO', field: 'series_description', level: 'SERIES' },
  { tag: '00201209', vr: 'IS', field: 'series_instances', level: 'SERIES' },
  { tag: '00080018', vr: 'UI', field: 'sop_instance_uid', level: 'IMAGE' },
  { tag: '00080016', vr: 'UI', field: 'sop_class_uid', level: 'IMAGE' },
  { tag: '00200013', vr: 'IS', field: 'instance_number', level: 'IMAGE' },
];
const BY_TAG = new Map(ATTRIBUTES.map((a) => [a.tag, a]));
const DEPTH: Record<QueryLevel, number> = { PATIENT: 0, STUDY: 1, SERIES: 2, IMAGE: 3 };
/** the unique key of each level: always returned */
const UNIQUE_KEY: Record<QueryLevel, string> = { PATIENT: '00100020', STUDY: '0020000D', SERIES: '0020000E', IMAGE: '00080018' };

type Row = Record<string, string | number | null>;

/** One study's row with its computed attributes. */
async function studyRows(cache: LocalCache, keys: DicomJsonDataset): Promise<Row[]> {
  // narrow by the study UID or the Patient ID when they are given without wildcards
  const uids = singleValues(keys['0020000D']);
  const patientIds = singleValues(keys['00100020']);
  const where = uids ? sql`where st.study_instance_uid in (${sql.join(uids)})` : patientIds ? sql`where st.patient_id in (${sql.join(patientIds)})` : sql``;
  const result = await sql<Row>`select st.*,
      (select count(*) from series se where se.study_instance_uid = st.study_instance_uid) as study_series,
      (select count(*) from instances i where i.study_instance_uid = st.study_instance_uid) as study_instances,
      (select group_concat(distinct se.modality) from series se where se.study_instance_uid = st.study_instance_uid and se.modality is not null) as modalities_in_study
    from studies st ${where} order by st.study_date, st.study_time, st.study_instance_uid`.execute(cache.database.db);
  return result.rows.map((row) => ({ ...row, modalities_in_study: typeof row.modalities_in_study === 'string' ? row.modalities_in_study.split(',').sort().join('\\') : null }));
}

async function seriesRows(cache: LocalCache, studyUids: string[]): Promise<Row[]> {
  if (studyUids.length === 0) return [];
  const result = await sql<Row>`select se.*, (select count(*) from instances i where i.series_instance_uid = se.series_instance_uid) as series_instances
    from series se where se.study_instance_uid in (${sql.join(studyUids)}) order by se.series_number, se.series_instance_uid`.execute(cache.database.db);
  return result.rows;
}

async function instanceRows(cache: LocalCache, seriesUids: string[]): Promise<Row[]> {
  if (seriesUids.length === 0) return [];
  const result = await sql<Row>`select sop_instance_uid, sop_class_uid, instance_number, series_instance_uid from instances
    where series_instance_uid in (${sql.join(seriesUids)}) order by instance_number, sop_instance_uid`.execute(cache.database.db);
  return result.rows;
}

/** The matches of a C-FIND identifier at its level, each with the keys asked for (and the unique keys above). */
export async function queryCache(cache: LocalCache, level: QueryLevel, keys: DicomJsonDataset): Promise<DicomJsonDataset[]> {
  const studies = (await studyRows(cache, keys)).filter((row) => matchesAt(row, keys, (a) => a.level === 'PATIENT' || a.level === 'STUDY'));
  let rows: Row[];
  if (level === 'PATIENT') {
    const seen = new Set<string>();
    rows = studies.filter((row) => {
      const id = String(row.patient_id ?? '');
      if (seen.has(id)) return false;
      seen.add(id);
      return true;
    });
  } else {
    rows = studies;
    if (DEPTH[level] >= 2) {
      const byStudy = new Map(studies.map((s) => [String(s.study_instance_uid), s]));
      const series = (await seriesRows(cache, [...byStudy.keys()])).filter((row) => matchesAt(row, keys, (a) => a.level === 'SERIES'));
      rows = series.map((se) => ({ ...byStudy.get(String(se.study_instance_uid)), ...se }));
      if (level === 'IMAGE') {
        const bySeries = new Map(rows.map((r) => [String(r.series_instance_uid), r]));
        const images = (await instanceRows(cache, [...bySeries.keys()])).filter((row) => matchesAt(row, keys, (a) => a.level === 'IMAGE'));
        rows = images.map((i) => ({ ...bySeries.get(String(i.series_instance_uid)), ...i }));
      }
    }
  }
  return rows.map((row) => answer(row, level, keys));
}

function answer(row: Row, level: QueryLevel, keys: DicomJsonDataset): DicomJsonDataset {
  const out: DicomJsonDataset = {};
  const wanted = new Set(Object.keys(keys).map((t) => t.toUpperCase()));
  for (let depth = level === 'PATIENT' ? 0 : 1; depth <= DEPTH[level]; depth += 1) {
    wanted.add(UNIQUE_KEY[(Object.keys(DEPTH) as QueryLevel[])[depth]]);
  }
  for (const tag of wanted) {
    const attribute = BY_TAG.get(tag);
    if (!attribute) {
      // asked for but not indexed: returned empty (PS3.4 C.2.2.1.3 allows it)
      if (keys[tag]) out[tag] = { vr: keys[tag].vr };
      continue;
    }
    if (DEPTH[attribute.level] > DEPTH[level]) continue;
    out[tag] = element(attribute, row[attribute.field]);
  }
  return out;
}

function element(attribute: Attribute, value: string | number | null | undefined): DicomJsonElement {
  if (value === null || value === undefined || value === '') return { vr: attribute.vr };
  if (attribute.vr === 'PN') return { vr: 'PN', Value: [{ Alphabetic: String(value) }] };
  if (attribute.vr === 'IS') return { vr: 'IS', Value: [Number(value)] };
  if (attribute.tag === '00080061') return { vr: 'CS', Value: String(value).split('\\') };
  return { vr: attribute.vr, Value: [String(value)] };
}

/** the key's value as text (PN: its alphabetic group), or undefined for universal matching */
function keyText(element: DicomJsonElement | undefined): string | undefined {
  const value = element?.Value?.[0];
  if (value === undefined || value === null) return undefined;
  const text = typeof value === 'object' ? String((value as { Alphabetic?: unknown }).Alphabetic ?? '') : String(value);
  const values = (element?.Value ?? []).map((v) => (typeof v === 'object' && v !== null ? String((v as { Alphabetic?: unknown }).Alphabetic ?? '') : String(v)));
  const joined = values.length > 1 ? values.join('\\') : text;
  return joined.trim() === '' ? undefined : joined.trim();
}

/** UIDs or IDs to narrow the SQL by: a value without wildcards, or a UID list */
function singleValues(element: DicomJsonElement | undefined): string[] | undefined {
  const text = keyText(element);
  if (text === undefined || /[*?]/.test(text)) return undefined;
  return text.split('\\').map((v) => v.trim()).filter(Boolean);
}

function matchesAt(row: Row, keys: DicomJsonDataset, applies: (a: Attribute) => boolean): boolean {
  for (const [tag, element] of Object.entries(keys)) {
    const attribute = BY_TAG.get(tag.toUpperCase());
    if (!attribute || !applies(attribute)) continue;
    const pattern = keyText(element);
    if (pattern === undefined) continue;
    if (!matches(attribute, pattern, row[attribute.field])) return false;
  }
  return true;
}

function matches(attribute: Attribute, pattern: string, value: string | number | null | undefined): boolean {
  const text = value === null || value === undefined ? '' : String(value);
  if (attribute.tag === '00080061') {
    // ModalitiesInStudy: any of the asked modalities is in the study
    const have = new Set(text.split('\\'));
    return pattern.split('\\').some((m) => have.has(m.trim()));
  }
  if (attribute.vr === 'UI') return pattern.split('\\').map((v) => v.trim()).includes(text);
  if ((attribute.vr === 'DA' || attribute.vr === 'TM') && pattern.includes('-')) {
    const [from, to] = pattern.split('-').map((v) => v.trim());
    if (text === '') return false;
    return (!from || text >= from) && (!to || text <= to.padEnd(text.length, attribute.vr === 'TM' ? '9' : ''));
  }
  if (attribute.vr === 'IS') return Number(pattern) === Number(text);
  const caseless = attribute.vr === 'PN';
  const values = pattern.split('\\');
  return values.some((one) => wildcard(one.trim(), caseless).test(text));
}

function wildcard(pattern: string, caseless: boolean): RegExp {
  const source = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${source}$`, caseless ? 'is' : 's');
}

/**
 * The Modality Worklist SCP's handler (PS3.4 K.6, Modality Worklist Information Model –
 * FIND): the entries the order service offers the calling AE (its institution's order steps
 * and reading requests awaiting images), matched against the request's keys and answered
 * with its return keys. This file only translates between DICOM and the order service.
 *
 * Matching (PS3.4 C.2.2.2): universal (empty key), single value and wildcard (* ?) for
 * strings, list of UIDs, ranges for dates and times (ScheduledProcedureStepStartDate
 * 20261201-20261205, -20261205, 20261201-), and sequence matching inside the Scheduled
 * Procedure Step Sequence (Modality, ScheduledStationAETitle, start date/time, performing
 * physician, step ID, status). Person names match case-insensitively against every
 * component group (a Chinese modality sends 张* in the alphabetic group as often as in the
 * ideographic one), with or without the carets ('张三' finds '张^三').
 */
import type { DicomJsonDataset, DicomJsonElement } from '@yunying/dicom';
import type { WorklistHandler, WorklistQuery } from '@yunying/dimse';
import type { AuditRecorder } from '../access/audit-event.ts';
import type { Caller } from '../access/caller.ts';
import { zonedParts } from '../zoned-time.ts';
import type { OrderDomainService, WorklistEntry } from './order-service.ts';
import { instantOf } from './order-service.ts';

const SPS_SEQUENCE = '00400100';

/** PS3.4 K.6.1.2.2: the priority the modality shows (Requested Procedure Priority, SH). */
const DICOM_PRIORITY: Record<string, string> = { emergency: 'STAT', urgent: 'HIGH', routine: 'ROUTINE' };

type PersonName = { Alphabetic?: string; Ideographic?: string; Phonetic?: string };

/** 'ZHANG^SAN=张^三' → the DICOM JSON PN object. */
export function personName(value: string | null | undefined): PersonName | undefined {
  if (!value) return undefined;
  const [alphabetic, ideographic, phonetic] = value.split('=');
  const name: PersonName = {};
  if (alphabetic) name.Alphabetic = alphabetic;
  if (ideographic) name.Ideographic = ideographic;
  if (phonetic) name.Phonetic = phonetic;
  return Object.keys(name).length > 0 ? name : undefined;
}

function element(vr: string, value: unknown): DicomJsonElement {
  return value === undefined || value === null || value === '' ? { vr } : { vr, Value: [value] } as DicomJsonElement;
}

/** The entry as a complete worklist item; the answer is this item cut to the request's keys. */
export function worklistItem(entry: WorklistEntry, timeZone: string): DicomJsonDataset {
  const local = zonedParts(entry.step.startAt, timeZone);
  const startDate = local?.date.replace(/-/g, '') ?? '';
  const startTime = local?.seconds.replace(/:/g, '') ?? '';
  const code = entry.requestedProcedure.code;
  return {
    '00080050': element('SH', entry.accessionNumber),
    '00080090': element('PN', personName(entry.referringPhysician)),
    '00081110': { vr: 'SQ', Value: [] },
    '00081120': { vr: 'SQ', Value: [] },
    '00100010': element('PN', personName(entry.patient.name)),
    '00100020': element('LO', entry.patient.patientId),
    '00100021': element('LO', entry.patient.issuerOfPatientId),
    '00100030': element('DA', entry.patient.birthDate),
    '00100040': element('CS', entry.patient.sex),
    '0020000D': element('UI', entry.studyInstanceUid),
    '00321060': element('LO', entry.requestedProcedure.description),
    '00321064': { vr: 'SQ', Value: code ? [{ '00080100': element('SH', code.value), '00080102': element('SH', code.scheme ?? '99YUNYING'), '00080104': element('LO', code.meaning ?? entry.requestedProcedure.description) }] : [] },
    '00401001': element('SH', entry.requestedProcedure.id),
    '00401002': element('LO', entry.reason?.slice(0, 64)),
    '00401003': element('SH', DICOM_PRIORITY[entry.priority] ?? 'ROUTINE'),
    [SPS_SEQUENCE]: {
      vr: 'SQ',
      Value: [
        {
          '00080060': element('CS', entry.step.modality),
          '00400001': element('AE', entry.step.stationAeTitle),
          '00400002': element('DA', startDate),
          '00400003': element('TM', startTime),
          '00400006': element('PN', personName(entry.step.performingPhysician)),
          '00400007': element('LO', entry.step.description),
          '00400009': element('SH', entry.step.id),
          // PS3.3 C.4.10: SCHEDULED, ARRIVED, READY, STARTED, DEPARTED …
          '00400020': element('CS', entry.step.status === 'in-progress' ? 'STARTED' : 'SCHEDULED'),
        },
      ],
    },
  };
}

// ------------------------------------------------------------------ matching

function textOf(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'object') {
    const name = value as PersonName;
    return [name.Alphabetic ?? '', name.Ideographic ?? '', name.Phonetic ?? ''].join('=').replace(/=+$/, '');
  }
  return String(value);
}

function hasValue(el: DicomJsonElement | undefined): boolean {
  if (!el) return false;
  // a sequence key matches only through an item key with a value; one of return keys only is universal
  if (el.vr === 'SQ') return (el.Value ?? []).some((item) => item && Object.values(item as DicomJsonDataset).some(hasValue));
  return (el.Value ?? []).some((v) => textOf(v).trim().length > 0);
}

function wildcard(pattern: string, flags: string): RegExp {
  const body = [...pattern].map((char) => (char === '*' ? '.*' : char === '?' ? '.' : char.replace(/[.+^${}()|[\]\\]/g, '\\$&'))).join('');
  return new RegExp(`^${body}$`, flags);
}

function stringMatches(query: string, value: string): boolean {
  const pattern = query.trim();
  if (pattern === '' || pattern === '*') return true;
  return wildcard(pattern, 'u').test(value.trim());
}

/** Every non-empty group of the query must match some group of the name (with or without carets), case-insensitively. */
export function personNameMatches(query: unknown, value: unknown): boolean {
  const queryGroups = (typeof query === 'object' && query !== null ? [(query as PersonName).Alphabetic, (query as PersonName).Ideographic, (query as PersonName).Phonetic] : textOf(query).split('=')).map((group) => (group ?? '').trim()).filter((group) => group.length > 0 && group !== '*');
  if (queryGroups.length === 0) return true;
  const groups = textOf(value).split('=').filter((group) => group.length > 0);
  const forms = groups.flatMap((group) => [group, group.replace(/\^+$/g, ''), group.replace(/\^/g, ''), group.replace(/\^/g, ' ')]);
  return queryGroups.every((group) => {
    const pattern = wildcard(group, 'iu');
    return forms.some((form) => pattern.test(form));
  });
}

/** DA and TM ranges: 'A-B', '-B', 'A-', or a single value; compared as digit strings padded to the value's precision. */
function rangeMatches(vr: 'DA' | 'TM', query: string, value: string): boolean {
  const digits = (text: string) => text.replace(/[^0-9.]/g, '').split('.')[0] ?? '';
  const width = vr === 'DA' ? 8 : 6;
  const current = digits(value).padEnd(width, '0').slice(0, width);
  if (!current) return false;
  const [lowText, highText] = query.includes('-') ? query.split('-') : [query, query];
  const low = digits(lowText ?? '');
  const high = digits(highText ?? '');
  if (low && current < low.padEnd(width, '0').slice(0, width)) return false;
  if (high && current > high.padEnd(width, '9').slice(0, width)) return false;
  return true;
}

function elementMatches(key: DicomJsonElement, value: DicomJsonElement | undefined): boolean {
  if (!hasValue(key)) return true;
  if (key.vr === 'SQ') {
    const items = (value?.Value ?? []) as DicomJsonDataset[];
    const queryItem = ((key.Value ?? []) as DicomJsonDataset[])[0] ?? {};
    return items.some((item) => datasetMatches(queryItem, item));
  }
  const values = (value?.Value ?? []).map(textOf).filter((text) => text.length > 0);
  if (values.length === 0) return false;
  const query = textOf(key.Value?.[0]);
  switch (key.vr) {
    case 'PN':
      return (value?.Value ?? []).some((name) => personNameMatches(key.Value?.[0], name));
    case 'DA':
    case 'TM':
      return values.some((text) => rangeMatches(key.vr as 'DA' | 'TM', query, text));
    case 'UI': {
      const uids = (key.Value ?? []).flatMap((v) => textOf(v).split('\\')).map((uid) => uid.trim());
      return values.some((text) => uids.includes(text));
    }
    default:
      return values.some((text) => stringMatches(query, text));
  }
}

/** Every matching key of the request (those with a value) matches the item. */
export function datasetMatches(keys: DicomJsonDataset, item: DicomJsonDataset): boolean {
  return Object.entries(keys).every(([tag, key]) => elementMatches(key, item[tag]));
}

/**
 * The answer holds the request's keys (PS3.4 C.2.2.1.2): ours where we have them, empty with
 * the request's VR where we do not; a sequence key's items cut to the request item's keys
 * (all of ours for an empty item).
 */
export function projectToKeys(keys: DicomJsonDataset, item: DicomJsonDataset): DicomJsonDataset {
  const out: DicomJsonDataset = {};
  for (const [tag, key] of Object.entries(keys)) {
    const ours = item[tag];
    if (!ours) {
      out[tag] = key.vr === 'SQ' ? { vr: 'SQ', Value: [] } : { vr: key.vr };
      continue;
    }
    if (ours.vr === 'SQ') {
      const queryItem = ((key.Value ?? []) as DicomJsonDataset[])[0];
      const items = (ours.Value ?? []) as DicomJsonDataset[];
      out[tag] = { vr: 'SQ', Value: queryItem && Object.keys(queryItem).length > 0 ? items.map((one) => projectToKeys(queryItem, one)) : items };
      continue;
    }
    out[tag] = ours;
  }
  return out;
}

/** The scheduled-start bounds of the request, as instants, to narrow the candidates before matching. */
function startBounds(keys: DicomJsonDataset, timeZone: string): { from?: string; to?: string } {
  const item = ((keys[SPS_SEQUENCE]?.Value ?? []) as DicomJsonDataset[])[0];
  const range = textOf(item?.['00400002']?.Value?.[0]).trim();
  if (!/^\d{8}$|^\d{8}-\d{0,8}$|^-\d{8}$/.test(range)) return {};
  const [low, high] = range.includes('-') ? range.split('-') : [range, range];
  const day = (digits: string) => `${digits.slice(0, 4)}-${digits.slice(4, 6)}-${digits.slice(6, 8)}`;
  return {
    ...(low ? { from: instantOf(`${day(low)}T00:00:00`, timeZone) } : {}),
    ...(high ? { to: instantOf(`${day(high)}T23:59:59.999`, timeZone) } : {}),
  };
}

export interface WorklistScpOptions {
  orders: Pick<OrderDomainService, 'worklistEntries'>;
  timeZone: string;
  audit: AuditRecorder;
}

/**
 * The handler the DIMSE SCP calls for each worklist C-FIND. The query is recorded in the
 * audit trail (it hands patient data to a device): the keys that matched, not their values
 * (a name is never written there), and how many entries were returned.
 */
export function worklistHandler(options: WorklistScpOptions): WorklistHandler<Caller> {
  return {
    async find(caller: Caller, query: WorklistQuery) {
      const entries = await options.orders.worklistEntries(caller, startBounds(query.keys, options.timeZone));
      const answers = entries.map((entry) => worklistItem(entry, options.timeZone)).filter((item) => datasetMatches(query.keys, item)).map((item) => projectToKeys(query.keys, item));
      const matchingKeys = Object.entries(query.keys).filter(([, key]) => hasValue(key)).map(([tag]) => tag);
      await options.audit.record({ action: 'worklist.queried', caller, objectType: 'ae', objectId: caller.name.slice(0, 16), details: { matchingKeys, results: answers.length, characterSet: query.specificCharacterSet.join('\\') || 'default' } });
      return answers;
    },
  };
}

/**
 * VR lookups for implicit-VR data, backed by dcmjs's standard data dictionary.
 * dcmjs is loaded lazily (only implicit-VR data and UN re-interpretation need it) and each
 * answer is cached in a Map keyed by the numeric tag, because lookups run per element.
 */
import { createRequire } from 'node:module';

interface DictionaryEntry { vr?: string }
type Dictionary = Record<string, DictionaryEntry | undefined>;

let dictionary: Dictionary | undefined;
const cache = new Map<number, string | null>();

function loadDictionary(): Dictionary {
  if (!dictionary) {
    // dcmjs ships no type declarations; createRequire keeps its CommonJS build out of the ESM graph.
    const require = createRequire(import.meta.url);
    const dcmjs = require('dcmjs') as { data: { DicomMetaDictionary: { dictionary: Dictionary } } };
    dictionary = dcmjs.data.DicomMetaDictionary.dictionary;
  }
  return dictionary;
}

export function tagToHex(tag: number): string {
  return tag.toString(16).toUpperCase().padStart(8, '0');
}

/**
 * The dictionary VR as dcmjs spells it ("US", "ox", "xs", ...) or undefined for unknown,
 * private and group-length tags. Use {@link dictionaryVr} for a concrete VR.
 */
export function rawDictionaryVr(tag: number): string | undefined {
  const cached = cache.get(tag);
  if (cached !== undefined) return cached ?? undefined;
  let vr: string | null = null;
  const group = tag >>> 16;
  if ((tag & 0xffff) === 0) vr = 'UL'; // group length: not in the dictionary, always UL
  else if (group % 2 === 0) vr = loadDictionary()[tagToHex(tag)]?.vr ?? null;
  if (vr === 'na') vr = null; // item and delimitation tags have no VR
  cache.set(tag, vr);
  return vr ?? undefined;
}

/**
 * A concrete VR for an implicit-VR element. Ambiguous dictionary VRs are resolved the way
 * PS3.5 Annex A resolves them for implicit VR: OB/OW data → OW, US/SS → SS only when the
 * image is signed (Pixel Representation 1).
 */
export function dictionaryVr(tag: number, signedPixels = false): string | undefined {
  const vr = rawDictionaryVr(tag);
  switch (vr) {
    case undefined: return undefined;
    case 'ox': case 'lt': return 'OW';
    case 'xs': return signedPixels ? 'SS' : 'US';
    default: return vr.length === 2 ? vr : vr.slice(0, 2);
  }
}

/** Every VR PS3.5 defines: used to tell a real explicit VR from garbage bytes. */
export const KNOWN_VRS: ReadonlySet<string> = new Set([
  'AE', 'AS', 'AT', 'CS', 'DA', 'DS', 'DT', 'FD', 'FL', 'IS', 'LO', 'LT', 'OB', 'OD', 'OF', 'OL', 'OV',
  'OW', 'PN', 'SH', 'SL', 'SQ', 'SS', 'ST', 'SV', 'TM', 'UC', 'UI', 'UL', 'UN', 'UR', 'US', 'UT', 'UV',
]);

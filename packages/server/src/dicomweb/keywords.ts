/**
 * DICOM keyword ⇄ tag lookup for QIDO-RS query parameters. The full data dictionary
 * comes from dcmjs (a dependency of @yunying/dicom); the attributes the archive indexes
 * are always known even if dcmjs cannot be loaded.
 */
import { createRequire } from 'node:module';
import { INDEXED_ATTRIBUTES } from '../archive/attribute-catalog.ts';

export interface DictionaryEntry {
  /** 8 upper-case hex digits */
  tag: string;
  vr: string;
  keyword?: string;
}

interface DcmjsDictionaryEntry {
  tag: string;
  vr: string;
  name: string;
}

interface Dictionary {
  byKeyword: Map<string, DictionaryEntry>;
  byTag: Map<string, DictionaryEntry>;
}

let dictionary: Dictionary | undefined;

function normalizeDcmjsTag(tag: string): string | undefined {
  // "(0010,0010)" → "00100010"; repeating-group entries like "(60xx,0010)" are skipped
  const m = /^\(([0-9A-Fa-f]{4}),([0-9A-Fa-f]{4})\)$/.exec(tag);
  return m ? `${m[1]}${m[2]}`.toUpperCase() : undefined;
}

function loadDictionary(): Dictionary {
  if (dictionary) return dictionary;
  const byKeyword = new Map<string, DictionaryEntry>();
  const byTag = new Map<string, DictionaryEntry>();
  try {
    const require = createRequire(import.meta.url);
    const dcmjs = require('dcmjs') as { data?: { DicomMetaDictionary?: { nameMap?: Record<string, DcmjsDictionaryEntry> } } };
    const nameMap = dcmjs.data?.DicomMetaDictionary?.nameMap ?? {};
    for (const [keyword, entry] of Object.entries(nameMap)) {
      const tag = normalizeDcmjsTag(entry.tag);
      if (!tag) continue;
      // "xs" (US or SS), "ox" (OB or OW): pick the first
      const vr = (entry.vr ?? 'UN').split(/ or |\|/)[0]?.trim() || 'UN';
      const e: DictionaryEntry = { tag, vr: vr.length === 2 ? vr.toUpperCase() : 'UN', keyword };
      byKeyword.set(keyword, e);
      byTag.set(tag, e);
    }
  } catch {
    // fall back to the indexed attributes only
  }
  for (const a of INDEXED_ATTRIBUTES) {
    const e: DictionaryEntry = { tag: a.tag, vr: a.vr, keyword: a.keyword };
    byKeyword.set(a.keyword, e);
    byTag.set(a.tag, e);
  }
  dictionary = { byKeyword, byTag };
  return dictionary;
}

/** A keyword (`PatientName`) or a tag (`00100010`, `0010,0010`, any case): the entry, or undefined. */
export function lookupAttribute(name: string): DictionaryEntry | undefined {
  const dict = loadDictionary();
  const tagText = name.replace(/[(),]/g, '');
  if (/^[0-9A-Fa-f]{8}$/.test(tagText)) {
    const tag = tagText.toUpperCase();
    const known = dict.byTag.get(tag);
    if (known) return known;
    // private or unknown public tag: still a valid attribute, VR unknown
    return { tag, vr: Number.parseInt(tag.slice(4), 16) === 0 ? 'UL' : 'UN' };
  }
  return dict.byKeyword.get(name);
}

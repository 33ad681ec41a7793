/**
 * The DICOM JSON model (PS3.18 F) written as the Native DICOM Model (PS3.19 A.1), for
 * `application/dicom+xml` answers: QIDO-RS results and WADO-RS metadata, one data set per
 * part of a multipart/related response. Hand-written because it is small and only writes:
 * every element is a DicomAttribute with its tag, VR and keyword; values are numbered from
 * 1; a PN is split into its groups and components; sequences nest Items; binary values are
 * InlineBinary or a BulkData reference.
 */
import { createRequire } from 'node:module';
import type { DicomJsonDataset, DicomJsonElement } from './types.ts';

const NAMESPACE = 'http://dicom.nema.org/PS3.19/models/NativeDICOM';
const PN_GROUPS = ['Alphabetic', 'Ideographic', 'Phonetic'] as const;
const PN_COMPONENTS = ['FamilyName', 'GivenName', 'MiddleName', 'NamePrefix', 'NameSuffix'] as const;

/** One data set as a NativeDicomModel document (with its XML declaration). */
export function toDicomXml(dataset: DicomJsonDataset): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<NativeDicomModel xmlns="${NAMESPACE}" xml:space="preserve">${attributesXml(dataset)}</NativeDicomModel>\n`;
}

function attributesXml(dataset: DicomJsonDataset): string {
  let xml = '';
  for (const tag of Object.keys(dataset).filter((t) => /^[0-9A-Fa-f]{8}$/.test(t)).sort((a, b) => a.toUpperCase().localeCompare(b.toUpperCase()))) {
    xml += attributeXml(tag.toUpperCase(), dataset[tag]!);
  }
  return xml;
}

function attributeXml(tag: string, element: DicomJsonElement): string {
  const keyword = keywordOf(tag);
  const head = `<DicomAttribute tag="${tag}" vr="${escapeXml(element.vr)}"${keyword ? ` keyword="${keyword}"` : ''}`;
  const body = valuesXml(element);
  return body ? `${head}>${body}</DicomAttribute>` : `${head}/>`;
}

function valuesXml(element: DicomJsonElement): string {
  if (element.BulkDataURI) return `<BulkData uri="${escapeXml(element.BulkDataURI)}"/>`;
  if (element.InlineBinary) return `<InlineBinary>${escapeXml(element.InlineBinary)}</InlineBinary>`;
  const values = element.Value ?? [];
  return values.map((value, i) => valueXml(element.vr, value, i + 1)).join('');
}

function valueXml(vr: string, value: unknown, number: number): string {
  if (vr === 'SQ') return `<Item number="${number}">${value && typeof value === 'object' ? attributesXml(value as DicomJsonDataset) : ''}</Item>`;
  if (vr === 'PN') return personNameXml(value, number);
  if (value === null || value === undefined) return `<Value number="${number}"/>`;
  return `<Value number="${number}">${escapeXml(String(value))}</Value>`;
}

/** PS3.19 A.1.5: each group's "^"-separated components as elements, the empty ones left out. */
function personNameXml(value: unknown, number: number): string {
  if (!value || typeof value !== 'object') return `<PersonName number="${number}"/>`;
  const name = value as Partial<Record<(typeof PN_GROUPS)[number], string>>;
  let xml = '';
  for (const group of PN_GROUPS) {
    const text = name[group];
    if (!text) continue;
    const components = text.split('^');
    const inner = PN_COMPONENTS.map((component, i) => (components[i] ? `<${component}>${escapeXml(components[i]!)}</${component}>` : '')).join('');
    xml += `<${group}>${inner}</${group}>`;
  }
  return `<PersonName number="${number}">${xml}</PersonName>`;
}

/** The five XML escapes; characters XML 1.0 cannot carry at all (NUL, ESC, …) are dropped. */
function escapeXml(text: string): string {
  return text
    .replace(/[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu, '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}

interface DictionaryEntry { name?: string }
let keywords: Record<string, DictionaryEntry | undefined> | undefined;

/** The attribute's keyword from dcmjs's dictionary (loaded once), or undefined for private and unknown tags. */
function keywordOf(tag: string): string | undefined {
  if (Number.parseInt(tag.slice(0, 4), 16) % 2 === 1) return undefined;
  if (!keywords) {
    const require = createRequire(import.meta.url);
    keywords = (require('dcmjs') as { data: { DicomMetaDictionary: { dictionary: Record<string, DictionaryEntry | undefined> } } }).data.DicomMetaDictionary.dictionary;
  }
  const keyword = keywords[`(${tag.slice(0, 4)},${tag.slice(4)})`]?.name ?? keywords[tag]?.name;
  return keyword && /^[A-Za-z][A-Za-z0-9]*$/.test(keyword) ? keyword : undefined;
}

/**
 * DICOM Person Name (PS3.5 6.2) → FHIR HumanName.
 *
 * A PN holds up to three component groups for the same person: alphabetic ("Wang^XiaoDong"),
 * ideographic ("王^小东") and phonetic. Each becomes its own HumanName, told apart by the
 * ISO 21090 EN representation extension (ABC, IDE, SYL), which is how FHIR carries one name
 * in several scripts. Components are family^given^middle^prefix^suffix; middle names are
 * further given names in FHIR.
 */
import type { PersonNameGroups } from './dicom-attributes.ts';

export const NAME_REPRESENTATION_EXTENSION = 'http://hl7.org/fhir/StructureDefinition/iso21090-EN-representation';

export interface HumanName {
  extension?: Array<{ url: string; valueCode: string }>;
  use?: 'official' | 'usual';
  text?: string;
  family?: string;
  given?: string[];
  prefix?: string[];
  suffix?: string[];
}

type Representation = 'ABC' | 'IDE' | 'SYL';

const GROUPS: ReadonlyArray<[keyof PersonNameGroups, Representation]> = [
  ['Alphabetic', 'ABC'],
  ['Ideographic', 'IDE'],
  ['Phonetic', 'SYL'],
];

export function toHumanNames(name: PersonNameGroups | undefined): HumanName[] {
  if (!name) return [];
  const names: HumanName[] = [];
  for (const [group, representation] of GROUPS) {
    const text = name[group]?.trim();
    if (text) names.push(toHumanName(text, representation));
  }
  return names;
}

function toHumanName(group: string, representation: Representation): HumanName {
  const [family, given, middle, prefix, suffix] = group.split('^').map((part) => part.trim());
  const name: HumanName = {
    extension: [{ url: NAME_REPRESENTATION_EXTENSION, valueCode: representation }],
    use: 'official',
  };
  // Chinese (and Japanese/Korean) names are written family first without spaces: "王小东".
  if (representation === 'IDE') name.text = [prefix, family, given, middle, suffix].filter(Boolean).join('');
  if (family) name.family = family;
  const givenNames = [given, middle].flatMap((part) => (part ? part.split(/\s+/) : []));
  if (givenNames.length > 0) name.given = givenNames;
  if (prefix) name.prefix = [prefix];
  if (suffix) name.suffix = [suffix];
  return name;
}

/** One line for a reference's display: the ideographic form when there is one ("王小东"). */
export function displayName(name: PersonNameGroups | undefined): string | undefined {
  const ideographic = toHumanNames({ Ideographic: name?.Ideographic })[0]?.text;
  if (ideographic) return ideographic;
  const alphabetic = name?.Alphabetic?.split('^').filter((part) => part.trim() !== '').join(' ');
  return alphabetic || undefined;
}

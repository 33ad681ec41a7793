/**
 * The text in the four corners of a viewport, from the instance's DICOM JSON metadata and
 * the viewport's state. Pure functions: the component only places the lines.
 */
import { TAG, numberValue, numberValues, personNameValue, stringValue, type DicomJsonDataset, type PersonName } from './dicom-json.ts';
import type { ViewerLabels } from './labels.ts';

export interface OverlayState {
  /** 1-based */
  imageIndex: number;
  imageCount: number;
  /** frame number within a multi-frame instance (1-based), when the stack is the frames of one instance */
  frame?: number;
  window?: { width: number; center: number };
  zoom?: number;
}

export interface OverlayCorners {
  topLeft: string[];
  topRight: string[];
  bottomLeft: string[];
  bottomRight: string[];
}

const HAN = /[\u3400-\u9fff\uf900-\ufaff]/;

/** One PN component group (family^given^middle^prefix^suffix) as people write it. */
function formatGroup(text: string | undefined): string {
  if (!text) return '';
  const parts = text.split('^').map((p) => p.trim()).filter((p) => p.length > 0);
  // Chinese/Japanese/Korean names are written without a space between family and given names
  return HAN.test(text) ? parts.join('') : parts.join(' ');
}

/** "王小东 (WANG XIAODONG)" when an ideographic group is present, else the alphabetic name. */
export function formatPersonName(name: PersonName | undefined): string {
  if (!name) return '';
  const alphabetic = formatGroup(name.Alphabetic);
  const ideographic = formatGroup(name.Ideographic);
  if (ideographic && alphabetic && ideographic !== alphabetic) return `${ideographic} (${alphabetic})`;
  return ideographic || alphabetic || formatGroup(name.Phonetic);
}

/** DA "20240315" → "2024-03-15" (anything else is shown as it is). */
export function formatDate(da: string | undefined): string {
  if (!da) return '';
  const m = /^(\d{4})\.?(\d{2})\.?(\d{2})$/.exec(da.trim());
  return m ? `${m[1]}-${m[2]}-${m[3]}` : da;
}

/** AS "045Y" → "45Y"; without one, the age in whole years from birth date to study date. */
export function formatAge(age: string | undefined, birthDate: string | undefined, studyDate: string | undefined): string {
  if (age) {
    const m = /^(\d{1,3})([DWMY])$/i.exec(age.trim());
    if (m) return `${Number(m[1])}${m[2]!.toUpperCase()}`;
    return age;
  }
  const b = birthDate ? /^(\d{4})(\d{2})(\d{2})$/.exec(birthDate) : null;
  const s = studyDate ? /^(\d{4})(\d{2})(\d{2})$/.exec(studyDate) : null;
  if (!b || !s) return '';
  let years = Number(s[1]) - Number(b[1]);
  if (Number(s[2]) * 100 + Number(s[3]) < Number(b[2]) * 100 + Number(b[3])) years -= 1;
  return years >= 0 ? `${years}Y` : '';
}

export function formatSex(sex: string | undefined, labels: ViewerLabels): string {
  switch (sex?.trim().toUpperCase()) {
    case 'M':
      return labels.male;
    case 'F':
      return labels.female;
    case 'O':
      return labels.otherSex;
    case undefined:
    case '':
      return '';
    default:
      return sex ?? '';
  }
}

function round(n: number, digits: number): string {
  return Number(n.toFixed(digits)).toString();
}

export function sliceText(ds: DicomJsonDataset | undefined, labels: ViewerLabels): string {
  const location = numberValue(ds, TAG.SliceLocation);
  const thickness = numberValue(ds, TAG.SliceThickness);
  const position = numberValues(ds, TAG.ImagePositionPatient);
  const parts: string[] = [];
  if (location !== undefined) parts.push(`${labels.sliceLocation}: ${round(location, 1)} mm`);
  else if (position && position.length === 3) parts.push(`${labels.sliceLocation}: ${position.map((p) => round(p, 1)).join(', ')}`);
  if (thickness !== undefined) parts.push(`T: ${round(thickness, 2)} mm`);
  return parts.join('  ');
}

export function computeOverlay(ds: DicomJsonDataset | undefined, state: OverlayState, labels: ViewerLabels): OverlayCorners {
  const nonEmpty = (lines: Array<string | undefined>) => lines.filter((l): l is string => !!l && l.trim().length > 0);
  const studyDate = stringValue(ds, TAG.StudyDate);
  const sex = formatSex(stringValue(ds, TAG.PatientSex), labels);
  const age = formatAge(stringValue(ds, TAG.PatientAge), stringValue(ds, TAG.PatientBirthDate), studyDate);
  const seriesNumber = stringValue(ds, TAG.SeriesNumber);
  const seriesDescription = stringValue(ds, TAG.SeriesDescription);
  const instanceNumber = stringValue(ds, TAG.InstanceNumber);
  const imageLine =
    state.frame !== undefined
      ? `${labels.instance}: ${state.frame}/${state.imageCount}`
      : `${labels.instance}: ${state.imageIndex}/${state.imageCount}${instanceNumber ? ` (#${instanceNumber})` : ''}`;
  return {
    topLeft: nonEmpty([formatPersonName(personNameValue(ds, TAG.PatientName)), stringValue(ds, TAG.PatientID), [sex, age].filter((s) => s).join(' / ')]),
    topRight: nonEmpty([
      stringValue(ds, TAG.InstitutionName),
      [formatDate(studyDate), stringValue(ds, TAG.StudyDescription)].filter((s) => s).join('  '),
      [seriesNumber ? `${labels.series} ${seriesNumber}` : undefined, seriesDescription].filter((s) => s).join('  '),
    ]),
    bottomLeft: nonEmpty([sliceText(ds, labels), imageLine]),
    bottomRight: nonEmpty([
      state.window ? `W: ${state.window.width} C: ${state.window.center}` : undefined,
      state.zoom !== undefined ? `${labels.zoomShort}: ${Math.round(state.zoom * 100)}%` : undefined,
    ]),
  };
}

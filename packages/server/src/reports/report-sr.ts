/**
 * A signed report as a DICOM Basic Text SR (PS3.3 A.35.1), stored with its study so that
 * every PACS and viewer that reads the study also gets the report.
 *
 * Part 10, explicit VR little endian, UTF-8 (ISO_IR 192). A new series (Modality SR) in the
 * report's study, new UIDs under 2.25 (random 128-bit integers). The content tree follows
 * TID 2000 (Basic Diagnostic Imaging Report):
 *
 *   CONTAINER (18748-4, LN, "Diagnostic Imaging Report")
 *     HAS CONCEPT MOD  CODE  (121049, DCM, "Language of Content Item and Descendants") = zh-CN
 *     HAS OBS CONTEXT  CODE  (121005, DCM, "Observer Type") = (121006, DCM, "Person")
 *     HAS OBS CONTEXT  PNAME (121008, DCM, "Person Observer Name") = the author
 *     HAS OBS CONTEXT  TEXT  (121009, DCM, "Person Observer's Organization Name") = reading institution
 *     CONTAINS CONTAINER (121070, DCM, "Findings")
 *       CONTAINS TEXT (121071, DCM, "Finding") = 影像所见
 *     CONTAINS CONTAINER (121072, DCM, "Impressions")
 *       CONTAINS TEXT (121073, DCM, "Impression") = 诊断意见
 *       CONTAINS TEXT (121073, DCM, "Impression") = 阳性 / 阴性
 *     CONTAINS TEXT (121106, DCM, "Comment") = "补充报告（time，author）：text", one per addendum
 *
 * The SR is VERIFIED by the reviewer (or by the author when the report needed no second
 * signature), at signedAt. InstanceNumber is the report version; a later version can name
 * the SR it replaces (PredecessorDocumentsSequence).
 */
import { randomBytes } from 'node:crypto';
import { buildPart10, encodeDataset, TRANSFER_SYNTAX, type DicomJsonDataset, type DicomJsonElement } from '@yunying/dicom';
import type { ReportDocument } from './report-document.ts';

export const BASIC_TEXT_SR = '1.2.840.10008.5.1.4.1.1.88.11';
const DEFAULT_SERIES_NUMBER = 9001;

/** The study's attributes as the archive indexes them (IndexAttributes names). */
export interface ReportSrStudy {
  studyInstanceUid: string;
  patientId?: string;
  /** DICOM PN as decoded, "Wang^XiaoDong=王^小东=" */
  patientName?: string;
  patientBirthDate?: string;
  patientSex?: string;
  accessionNumber?: string;
  studyDate?: string;
  studyTime?: string;
  studyId?: string;
  referringPhysicianName?: string;
  studyDescription?: string;
}

export interface ReportSrOptions {
  /** IANA zone for ContentDate/Time and the verification DateTime; Asia/Shanghai unless given */
  timeZone?: string;
  /** put this SR into an existing report series instead of a new one */
  seriesInstanceUid?: string;
  seriesNumber?: number;
  /** the SR of the previous version, which this one supersedes */
  predecessor?: { sopInstanceUid: string; seriesInstanceUid: string };
  /** instance creation time; now unless given */
  now?: Date;
}

export interface ReportSr {
  /** Part 10 file */
  bytes: Buffer;
  sopInstanceUid: string;
  seriesInstanceUid: string;
}

/** A UID under 2.25 from a random 128-bit integer (PS3.5 B.2). */
export function newDicomUid(): string {
  return `2.25.${BigInt(`0x${randomBytes(16).toString('hex')}`).toString()}`;
}

type Code = [value: string, scheme: string, meaning: string];
const CODES = {
  report: ['18748-4', 'LN', 'Diagnostic Imaging Report'],
  language: ['121049', 'DCM', 'Language of Content Item and Descendants'],
  chinese: ['zh-CN', 'RFC5646', 'Chinese (China)'],
  observerType: ['121005', 'DCM', 'Observer Type'],
  person: ['121006', 'DCM', 'Person'],
  personName: ['121008', 'DCM', 'Person Observer Name'],
  organization: ['121009', 'DCM', "Person Observer's Organization Name"],
  findings: ['121070', 'DCM', 'Findings'],
  finding: ['121071', 'DCM', 'Finding'],
  impressions: ['121072', 'DCM', 'Impressions'],
  impression: ['121073', 'DCM', 'Impression'],
  comment: ['121106', 'DCM', 'Comment'],
} satisfies Record<string, Code>;

const text = (vr: string, value: string | number | undefined): DicomJsonElement =>
  value === undefined || value === '' ? { vr } : { vr, Value: [value] };
const sequence = (...items: DicomJsonDataset[]): DicomJsonElement => ({ vr: 'SQ', Value: items });

function codeItem([value, scheme, meaning]: Code): DicomJsonDataset {
  return { '00080100': text('SH', value), '00080102': text('SH', scheme), '00080104': text('LO', meaning) };
}

function contentItem(relationship: string, valueType: string, concept: Code, value: DicomJsonDataset): DicomJsonDataset {
  return { '0040A010': text('CS', relationship), '0040A040': text('CS', valueType), '0040A043': sequence(codeItem(concept)), ...value };
}

/** UT with CR LF line ends, as DICOM text is written (PS3.5 6.1.3). */
function textItem(relationship: string, concept: Code, value: string): DicomJsonDataset {
  return contentItem(relationship, 'TEXT', concept, { '0040A160': text('UT', value.replace(/\r?\n/g, '\r\n')) });
}

function containerItem(concept: Code, children: DicomJsonDataset[]): DicomJsonDataset {
  return contentItem('CONTAINS', 'CONTAINER', concept, { '0040A050': text('CS', 'SEPARATE'), '0040A730': sequence(...children) });
}

/** A decoded PN string ("Wang^XiaoDong=王^小东=") as the DICOM JSON PN value. */
function personNameValue(name: string | undefined): DicomJsonElement {
  if (!name) return { vr: 'PN' };
  const [Alphabetic, Ideographic, Phonetic] = name.split('=');
  const value: Record<string, string> = {};
  if (Alphabetic) value.Alphabetic = Alphabetic;
  if (Ideographic) value.Ideographic = Ideographic;
  if (Phonetic) value.Phonetic = Phonetic;
  return Object.keys(value).length > 0 ? { vr: 'PN', Value: [value] } : { vr: 'PN' };
}

/** A user's display name as a PN: Chinese characters go in the ideographic group. */
function observerName(person: { username: string; displayName?: string }): DicomJsonElement {
  const name = person.displayName?.trim() || person.username;
  return { vr: 'PN', Value: [/[^\p{ASCII}]/u.test(name) ? { Ideographic: name } : { Alphabetic: name }] };
}

function personLabel(person: { username: string; displayName?: string }): string {
  return person.displayName?.trim() || person.username;
}

/** DICOM DA, TM and DT (with offset) of an instant in the given zone. */
export function dicomDateTime(instant: Date | string, timeZone: string): { date: string; time: string; dateTime: string; offset: string } {
  const at = typeof instant === 'string' ? new Date(instant) : instant;
  if (Number.isNaN(at.getTime())) throw new Error(`buildReportSr: ${String(instant)} is not a time`);
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23', timeZoneName: 'longOffset' })
      .formatToParts(at)
      .map((part) => [part.type, part.value]),
  );
  // "GMT+08:00" (or "GMT" for UTC) → "+0800"
  const zone = /GMT([+-])(\d{2}):?(\d{2})?/.exec(parts.timeZoneName ?? '');
  const offset = zone ? `${zone[1]}${zone[2]}${zone[3] ?? '00'}` : '+0000';
  const date = `${parts.year}${parts.month}${parts.day}`;
  const time = `${parts.hour}${parts.minute}${parts.second}`;
  return { date, time, dateTime: `${date}${time}${offset}`, offset };
}

/** The report as a DICOM Basic Text SR in the report's study. */
export function buildReportSr(report: ReportDocument, study: ReportSrStudy, options: ReportSrOptions = {}): ReportSr {
  if (study.studyInstanceUid !== report.studyInstanceUid) {
    throw new Error(`buildReportSr: report ${report.reportId} belongs to study ${report.studyInstanceUid}, not ${study.studyInstanceUid}`);
  }
  const timeZone = options.timeZone ?? 'Asia/Shanghai';
  const sopInstanceUid = newDicomUid();
  const seriesInstanceUid = options.seriesInstanceUid ?? newDicomUid();
  const created = dicomDateTime(options.now ?? new Date(), timeZone);
  const signed = dicomDateTime(report.signedAt, timeZone);
  const verifier = report.reviewer ?? report.author;

  const content: DicomJsonDataset[] = [
    contentItem('HAS CONCEPT MOD', 'CODE', CODES.language, { '0040A168': sequence(codeItem(CODES.chinese)) }),
    contentItem('HAS OBS CONTEXT', 'CODE', CODES.observerType, { '0040A168': sequence(codeItem(CODES.person)) }),
    contentItem('HAS OBS CONTEXT', 'PNAME', CODES.personName, { '0040A123': observerName(report.author) }),
    textItem('HAS OBS CONTEXT', CODES.organization, report.readingInstitution.name),
    containerItem(CODES.findings, [textItem('CONTAINS', CODES.finding, report.findings)]),
    containerItem(CODES.impressions, [
      textItem('CONTAINS', CODES.impression, report.impression),
      textItem('CONTAINS', CODES.impression, report.positive ? '阳性' : '阴性'),
    ]),
    ...report.addenda.map((addendum) => {
      const at = dicomDateTime(addendum.at, timeZone);
      const when = `${at.date.slice(0, 4)}-${at.date.slice(4, 6)}-${at.date.slice(6)} ${at.time.slice(0, 2)}:${at.time.slice(2, 4)}`;
      return textItem('CONTAINS', CODES.comment, `补充报告（${when}，${personLabel(addendum.author)}）：${addendum.text}`);
    }),
  ];

  const dataset: DicomJsonDataset = {
    '00080005': text('CS', 'ISO_IR 192'),
    '00080012': text('DA', created.date),
    '00080013': text('TM', created.time),
    '00080016': text('UI', BASIC_TEXT_SR),
    '00080018': text('UI', sopInstanceUid),
    '00080020': text('DA', study.studyDate),
    '00080023': text('DA', signed.date),
    '00080030': text('TM', study.studyTime),
    '00080033': text('TM', signed.time),
    '00080050': text('SH', study.accessionNumber ?? report.accessionNumber),
    '00080060': text('CS', 'SR'),
    '00080070': text('LO', 'Yunying'),
    '00080080': text('LO', report.readingInstitution.name),
    '00080090': personNameValue(study.referringPhysicianName),
    '00080201': text('SH', signed.offset),
    '00081030': text('LO', study.studyDescription ?? report.studyDescription),
    '0008103E': text('LO', '远程影像诊断报告'),
    '00081111': sequence(),
    '00100010': personNameValue(study.patientName ?? report.patient.name),
    '00100020': text('LO', study.patientId ?? report.patient.id),
    '00100030': text('DA', study.patientBirthDate ?? report.patient.birthDate),
    '00100040': text('CS', study.patientSex ?? report.patient.sex),
    '0020000D': text('UI', study.studyInstanceUid),
    '0020000E': text('UI', seriesInstanceUid),
    '00200010': text('SH', study.studyId),
    '00200011': text('IS', options.seriesNumber ?? DEFAULT_SERIES_NUMBER),
    '00200013': text('IS', report.version),
    '0040A040': text('CS', 'CONTAINER'),
    '0040A043': sequence(codeItem(CODES.report)),
    '0040A050': text('CS', 'SEPARATE'),
    '0040A073': sequence({
      '0040A027': text('LO', report.readingInstitution.name),
      '0040A030': text('DT', signed.dateTime),
      '0040A075': observerName(verifier),
      '0040A088': sequence(),
    }),
    '0040A372': sequence(),
    '0040A491': text('CS', 'COMPLETE'),
    '0040A493': text('CS', 'VERIFIED'),
    '0040A730': sequence(...content),
  };
  if (options.predecessor) {
    dataset['0040A360'] = sequence({
      '00081115': sequence({
        '00081199': sequence({ '00081150': text('UI', BASIC_TEXT_SR), '00081155': text('UI', options.predecessor.sopInstanceUid) }),
        '0020000E': text('UI', options.predecessor.seriesInstanceUid),
      }),
      '0020000D': text('UI', study.studyInstanceUid),
    });
  }

  const encoded = encodeDataset(dataset, TRANSFER_SYNTAX.EXPLICIT_LE);
  const bytes = buildPart10(encoded, { transferSyntaxUid: TRANSFER_SYNTAX.EXPLICIT_LE, sopClassUid: BASIC_TEXT_SR, sopInstanceUid });
  return { bytes, sopInstanceUid, seriesInstanceUid };
}

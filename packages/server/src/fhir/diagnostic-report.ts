/**
 * A signed report → FHIR R4 DiagnosticReport (radiology), read-only like the rest of the
 * façade. The id is the report id; meta.versionId is the report version (addenda make new
 * versions, and the status becomes amended). The printable report is the presentedForm,
 * by URL to the REST API's PDF rather than inline, so a search result stays small.
 *
 * References: subject is the Patient as patient.ts serves it (id from encodePatientId of the
 * study's patient identity: PatientID, issuer, holding institution),
 * imagingStudy the ImagingStudy whose id is the Study Instance UID. The institutions and
 * radiologists are not FHIR resources here, so performer and resultsInterpreter carry a
 * display and a logical identifier only.
 */
import { documentLabels, type ReportDocument } from '../reports/report-document.ts';
import type { Resource } from './bundle.ts';
import { displayName } from './human-name.ts';
import { toFhirDateTime } from './imaging-study.ts';
import { encodePatientId, refersTo, type PatientIdentity, type PatientReference } from './patient-id.ts';

export const V2_0074_SYSTEM = 'http://terminology.hl7.org/CodeSystem/v2-0074';
export const LOINC_SYSTEM = 'http://loinc.org';
const XHTML_NAMESPACE = 'http://www.w3.org/1999/xhtml';

interface Reference {
  reference?: string;
  type?: string;
  identifier?: { system: string; value: string };
  display?: string;
}

export interface DiagnosticReport extends Resource {
  resourceType: 'DiagnosticReport';
  meta: { versionId: string; lastUpdated: string };
  language: 'zh-CN';
  text: { status: 'generated'; div: string };
  identifier: Array<{ use: 'official' | 'usual'; system: string; value: string; type?: { text: string } }>;
  status: 'final' | 'amended';
  category: Array<{ coding: Array<{ system: string; code: string; display: string }> }>;
  code: { coding: Array<{ system: string; code: string; display: string }>; text: string };
  /** absent only when the report knows neither the patient's id nor name */
  subject?: Reference;
  effectiveDateTime?: string;
  issued: string;
  performer: Reference[];
  resultsInterpreter: Reference[];
  imagingStudy: Reference[];
  conclusion: string;
  presentedForm: Array<{ contentType: 'application/pdf'; language: 'zh-CN'; url: string; title: string; creation: string }>;
}

export interface DiagnosticReportOptions {
  /** offset added to the study's local date and time (effectiveDateTime); '+08:00' unless given */
  timeZoneOffset?: string;
}

/** The system of the report id identifier (search: identifier=<system>|<id>). */
export function reportIdSystem(baseUrl: string): string {
  return `${baseUrl.replace(/\/+$/, '')}/api/v1/reports`;
}

/** The system of the 报告编号 identifier (search: identifier=<system>|<number>). */
export function reportNumberSystem(baseUrl: string): string {
  return `${baseUrl.replace(/\/+$/, '')}/report-numbers`;
}

/** The report as a DiagnosticReport; baseUrl is the server's external origin, e.g. "https://pacs.example.cn". */
export function toDiagnosticReport(report: ReportDocument, baseUrl: string, options: DiagnosticReportOptions = {}): DiagnosticReport {
  const base = baseUrl.replace(/\/+$/, '');
  const issued = toInstant(report.signedAt);
  const lastUpdated = [issued, ...report.addenda.map((addendum) => toInstant(addendum.at))].sort().at(-1) ?? issued;
  const labels = documentLabels(report);
  const title = `${report.readingInstitution.name} ${labels.title}`;
  const patientName = patientDisplayName(report.patient.name);
  const resource: DiagnosticReport = {
    resourceType: 'DiagnosticReport',
    id: report.reportId,
    meta: { versionId: String(report.version), lastUpdated },
    language: 'zh-CN',
    text: { status: 'generated', div: narrative(report, patientName) },
    identifier: [
      { use: 'official', system: reportIdSystem(base), value: report.reportId },
      // 报告编号, as printed on the PDF (reports/report-number.ts)
      ...(report.reportNumber ? [{ use: 'usual' as const, system: reportNumberSystem(base), value: report.reportNumber, type: { text: '报告编号' } }] : []),
    ],
    status: report.status === 'amended' || report.addenda.length > 0 ? 'amended' : 'final',
    category: [{ coding: [{ system: V2_0074_SYSTEM, code: 'RAD', display: 'Radiology' }] }],
    code: { coding: [{ system: LOINC_SYSTEM, code: '18748-4', display: 'Diagnostic imaging study' }], text: labels.title },
    issued,
    performer: [{ type: 'Organization', identifier: { system: `${base}/api/v1/institutions`, value: report.readingInstitution.id }, display: report.readingInstitution.name }],
    resultsInterpreter: [{ type: 'Practitioner', identifier: { system: `${base}/api/v1/users`, value: report.author.username }, display: personLabel(report.author) }],
    imagingStudy: [{ reference: `ImagingStudy/${report.studyInstanceUid}` }],
    conclusion: report.impression,
    presentedForm: [{
      contentType: 'application/pdf',
      language: 'zh-CN',
      // the FHIR route, so the credentials that read this resource (Bearer or Basic) fetch it too
      url: `${base}/fhir/r4/DiagnosticReport/${encodeURIComponent(report.reportId)}/pdf`,
      title,
      creation: lastUpdated,
    }],
  };
  const identity = patientIdentityOf(report);
  const subject: Reference = {
    ...(identity ? { reference: `Patient/${encodePatientId(identity)}` } : {}),
    ...(patientName ? { display: patientName } : {}),
  };
  if (Object.keys(subject).length > 0) resource.subject = subject;
  const effective = toFhirDateTime(report.studyDate, report.studyTime, options.timeZoneOffset ?? '+08:00');
  if (effective) resource.effectiveDateTime = effective;
  return resource;
}

/** The report's patient as an identity; undefined without a Patient ID or its institution (nothing to refer to). */
export function patientIdentityOf(report: ReportDocument): PatientIdentity | undefined {
  const { id, issuerOfPatientId, institutionId } = report.patient;
  if (!id || !institutionId) return undefined;
  return { patientId: id, institutionId, ...(issuerOfPatientId ? { issuerOfPatientId } : {}) };
}

/** True when the report is of the patient a Patient id names. */
export function isReportOf(report: ReportDocument, reference: PatientReference): boolean {
  const identity = patientIdentityOf(report);
  return identity !== undefined && refersTo(reference, identity);
}

/** An ISO 8601 instant as FHIR wants it (with zone); left as given when it does not parse. */
function toInstant(value: string): string {
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? value : date.toISOString();
}

/** "Wang^XiaoDong=王^小东=" → "王小东" (the ideographic form when there is one), as the façade displays names. */
function patientDisplayName(name: string | undefined): string | undefined {
  if (!name) return undefined;
  const [Alphabetic, Ideographic] = name.split('=');
  return displayName({ Alphabetic: Alphabetic || undefined, Ideographic: Ideographic || undefined });
}

function personLabel(person: { username: string; displayName?: string }): string {
  return person.displayName?.trim() || person.username;
}

/** Text for XHTML: markup characters escaped, characters XML forbids dropped, line breaks as <br/>. */
export function escapeXhtml(text: string): string {
  return text
    // eslint-disable-next-line no-control-regex -- removing the control characters XML 1.0 does not allow
    .replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/g, '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;')
    .replace(/\r\n?|\n/g, '<br/>');
}

/** The narrative (R4 §2.4 Narrative): the report as a reader sees it, in the façade's subset of XHTML. */
function narrative(report: ReportDocument, patientName: string | undefined): string {
  const line = (label: string, value: string | undefined) => (value ? `<p><b>${escapeXhtml(label)}：</b>${escapeXhtml(value)}</p>` : '');
  const labels = documentLabels(report);
  const parts = [
    `<h3>${escapeXhtml(`${report.readingInstitution.name} ${labels.title}`)}</h3>`,
    line('报告编号', report.reportNumber),
    line('姓名', patientName),
    line('患者ID', report.patient.id),
    line('检查号', report.accessionNumber),
    line('检查类型', report.modality),
    line('检查部位', report.bodyParts.join('、') || undefined),
    line('申请机构', report.requestingInstitution.name),
    line('临床病史', report.clinicalHistory),
    `<h4>${labels.findings}</h4><p>${escapeXhtml(report.findings)}</p>`,
    `<h4>${labels.impression}</h4><p>${escapeXhtml(report.impression)}</p>`,
    report.kind === 'consultation' ? '' : line('检查结果', report.positive ? '阳性' : '阴性'),
    line(labels.author, personLabel(report.author)),
    line(labels.reviewer, report.reviewer ? personLabel(report.reviewer) : undefined),
    line('审核时间', report.signedAt),
    ...report.addenda.map((addendum) => `<h4>补充报告</h4><p>${escapeXhtml(addendum.text)}</p>${line('补充医师', `${personLabel(addendum.author)}（${addendum.at}）`)}`),
  ];
  return `<div xmlns="${XHTML_NAMESPACE}">${parts.join('')}</div>`;
}

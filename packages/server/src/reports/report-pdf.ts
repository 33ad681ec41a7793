/**
 * A signed report as a printable A4 PDF (简体中文), for the requesting institution to print
 * and hand to the patient.
 *
 * Font: Noto Sans SC from the npm package @expo-google-fonts/noto-sans-sc. It ships each
 * weight as one whole TrueType file (NotoSansSC_400Regular.ttf, ~10 MB, ~30,000 glyphs:
 * GB 2312, GBK and CJK Extension A are covered), unlike the web font packages that split a
 * CJK face into unicode-range woff2 chunks, which PDFKit cannot embed as one font. It comes
 * with `npm ci`, so no system fonts and no download at run time. PDFKit embeds only the
 * glyphs the report uses (a subset, /FontFile2), so the PDF stays small and prints the same
 * on any machine. The font files are read once and kept in memory.
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import PDFDocument from 'pdfkit';
import QRCode from 'qrcode';
import { bodyPartNames } from '@yunying/dicom';
import { documentLabels, type ReportDocument } from './report-document.ts';

const require = createRequire(import.meta.url);
const FONT_PACKAGE = '@expo-google-fonts/noto-sans-sc';
const REGULAR_FONT_FILE = `${FONT_PACKAGE}/400Regular/NotoSansSC_400Regular.ttf`;
const BOLD_FONT_FILE = `${FONT_PACKAGE}/700Bold/NotoSansSC_700Bold.ttf`;
const REGULAR = 'NotoSansSC-Regular';
const BOLD = 'NotoSansSC-Bold';

export interface ReportPdfOptions {
  /** IANA zone for the signing and addendum times printed on the report */
  timeZone?: string;
  /** signature images (PNG) by username, drawn beside the author's and the reviewer's names */
  signatures?: ReadonlyMap<string, Buffer>;
}

/** the caption under the QR code when the cloud-film link exists, and when it does not yet */
export const QR_CAPTION = '扫码查看云胶片';
export const QR_CAPTION_PENDING = '云胶片链接待生成';
export const FOOTER_NOTE = '本报告仅供临床参考';
/** the heading of the critical findings (危急值) and what an unacknowledged one says */
export const CRITICAL_HEADING = '危急值';
export const CRITICAL_UNACKNOWLEDGED = '申请机构尚未确认接收';
/**
 * Under the QR code when the link asks for an access code. The code is stored as a hash only
 * (share/share-links.ts) and staff send it by SMS when they add it, so it is unknown when the
 * PDF is printed: the paper says a code is needed and where it comes from, never the code.
 */
export const ACCESS_CODE_NOTE = ['凭访问码查看', '（访问码另行告知）'] as const;

// A4 in points, and the page grid.
const PAGE = { width: 595.28, height: 841.89 };
const MARGIN = { top: 56, bottom: 64, left: 56, right: 56 };
const CONTENT_WIDTH = PAGE.width - MARGIN.left - MARGIN.right;
const QR_SIZE = 84;
/** the box a signature image is scaled into, beside the signer's name */
const SIGNATURE_BOX = { width: 96, height: 26 };
/** how far a signature reaches above its text line (it stays below the rule over the signatures) */
const SIGNATURE_RISE = 4;
/** U+3000, the full-width space that separates items in Chinese text */
const SPACE = '\u3000';
const COLOR = { text: '#000000', label: '#444444', rule: '#888888' };

let fonts: Promise<{ regular: Buffer; bold: Buffer }> | undefined;

function loadFonts(): Promise<{ regular: Buffer; bold: Buffer }> {
  fonts ??= Promise.all([readFile(require.resolve(REGULAR_FONT_FILE)), readFile(require.resolve(BOLD_FONT_FILE))])
    .then(([regular, bold]) => ({ regular, bold }))
    .catch((error: unknown) => {
      fonts = undefined;
      throw error;
    });
  return fonts;
}

/** The report as an A4 PDF with the Chinese font embedded (subset). */
export async function renderReportPdf(report: ReportDocument, options: ReportPdfOptions = {}): Promise<Buffer> {
  const timeZone = options.timeZone ?? 'Asia/Shanghai';
  const [{ regular, bold }, qr] = await Promise.all([loadFonts(), qrPng(report.shareUrl ?? qrPlaceholder(report))]);
  const labels = documentLabels(report);
  const title = `${report.readingInstitution.name} ${labels.title}`;
  const doc = new PDFDocument({
    size: 'A4',
    margins: MARGIN,
    bufferPages: true,
    autoFirstPage: true,
    info: { Title: title, Author: report.readingInstitution.name, Subject: `报告 ${report.reportNumber ?? report.reportId} 第 ${report.issuedVersion ?? report.version} 版`, Creator: 'Yunying 云影' },
    lang: 'zh-CN',
  });
  const done = collect(doc);
  doc.registerFont(REGULAR, regular);
  doc.registerFont(BOLD, bold);
  doc.fillColor(COLOR.text);

  // Header: institution and title, with the QR code at the top right.
  const qrX = PAGE.width - MARGIN.right - QR_SIZE;
  const top = MARGIN.top;
  doc.image(qr, qrX, top, { width: QR_SIZE, height: QR_SIZE });
  doc.font(REGULAR).fontSize(8).fillColor(COLOR.label)
    .text(report.shareUrl ? QR_CAPTION : QR_CAPTION_PENDING, qrX - 8, top + QR_SIZE + 2, { width: QR_SIZE + 16, align: 'center' });
  if (report.shareUrl && report.shareAccessCodeRequired) {
    doc.fontSize(7.5).text(ACCESS_CODE_NOTE.join('\n'), qrX - 8, doc.y + 1, { width: QR_SIZE + 16, align: 'center' });
  }
  const qrBottom = doc.y;
  const headerWidth = CONTENT_WIDTH - QR_SIZE - 12;
  doc.font(BOLD).fontSize(18).fillColor(COLOR.text).text(report.readingInstitution.name, MARGIN.left, top + 6, { width: headerWidth, align: 'center' });
  doc.font(BOLD).fontSize(15).text(labels.title, MARGIN.left, doc.y + 2, { width: headerWidth, align: 'center' });
  const versionLine = [`报告编号 ${report.reportNumber ?? report.reportId}`, `第 ${report.issuedVersion ?? report.version} 版`, report.status === 'amended' || report.addenda.length > 0 ? '含补充报告' : ''].filter(Boolean).join(SPACE);
  doc.font(REGULAR).fontSize(8.5).fillColor(COLOR.label).text(versionLine, MARGIN.left, doc.y + 4, { width: headerWidth, align: 'center' });
  doc.y = Math.max(doc.y, top + QR_SIZE + 14, qrBottom + 2) + 6;
  rule(doc);

  // Patient and exam, two columns.
  const rows: Array<[string, string, string, string]> = [
    ['姓名', patientDisplayName(report.patient.name) ?? '', '性别', sexLabel(report.patient.sex)],
    [report.patient.birthDate && report.studyDate ? '年龄' : '出生日期', ageOrBirthDate(report.patient.birthDate, report.studyDate), '患者ID', report.patient.id ?? ''],
    ['检查号', report.accessionNumber ?? '', '检查日期', formatDicomDate(report.studyDate, report.studyTime)],
    ['检查类型', report.modality ?? '', '检查部位', bodyPartNames(report.bodyParts, 'zh').join('、')],
    ['申请机构', report.requestingInstitution.name, '检查项目', report.studyDescription ?? ''],
  ];
  doc.y += 4;
  for (const [label1, value1, label2, value2] of rows) {
    const y = doc.y;
    const half = CONTENT_WIDTH / 2;
    const endLeft = field(doc, label1, value1, MARGIN.left, y, half - 8);
    const endRight = field(doc, label2, value2, MARGIN.left + half, y, half);
    doc.y = Math.max(endLeft, endRight) + 3;
  }
  if (report.clinicalHistory?.trim()) {
    doc.y = field(doc, '临床病史', report.clinicalHistory.trim(), MARGIN.left, doc.y, CONTENT_WIDTH) + 3;
  }
  doc.y += 3;
  rule(doc);

  section(doc, labels.findings, report.findings);
  section(doc, labels.impression, report.impression);
  doc.moveDown(0.4);
  // a consultation's conclusion carries no positive/negative result of its own
  if (report.kind !== 'consultation') {
    keepTogether(doc, 20);
    doc.font(BOLD).fontSize(11).fillColor(COLOR.text).text('检查结果：', MARGIN.left, doc.y, { continued: true })
      .font(REGULAR).text(report.positive ? '阳性' : '阴性');
  }
  if (report.criticalFindings?.length) criticalFindingsSection(doc, report.criticalFindings, timeZone);

  // Signatures.
  doc.moveDown(0.8);
  keepTogether(doc, 40);
  rule(doc);
  doc.y += 4;
  const signY = doc.y;
  const half = CONTENT_WIDTH / 2;
  const signatureOf = (person: { username: string } | undefined) => (person ? options.signatures?.get(person.username) : undefined);
  const authorEnd = signerField(doc, labels.author, personLabel(report.author), signatureOf(report.author), MARGIN.left, signY, half - 8);
  const reviewerEnd = signerField(doc, labels.reviewer, report.reviewer ? personLabel(report.reviewer) : '', signatureOf(report.reviewer), MARGIN.left + half, signY, half);
  doc.y = Math.max(authorEnd, reviewerEnd) + 3;
  const timeY = doc.y;
  const submittedEnd = field(doc, '报告时间', report.submittedAt ? formatInstant(report.submittedAt, timeZone) : '', MARGIN.left, timeY, half - 8);
  const signedEnd = field(doc, '审核时间', formatInstant(report.signedAt, timeZone), MARGIN.left + half, timeY, half);
  doc.y = Math.max(submittedEnd, signedEnd) + 3;

  // Addenda after signing, oldest first.
  for (const [i, addendum] of report.addenda.entries()) {
    doc.moveDown(0.6);
    const heading = report.addenda.length > 1 ? `补充报告（${i + 1}）` : '补充报告';
    section(doc, heading, addendum.text);
    doc.font(REGULAR).fontSize(9.5).fillColor(COLOR.label)
      .text(`补充医师：${personLabel(addendum.author)}${SPACE}${SPACE}时间：${formatInstant(addendum.at, timeZone)}`, MARGIN.left, doc.y + 2, { width: CONTENT_WIDTH, align: 'right' });
    doc.fillColor(COLOR.text);
  }

  footers(doc, [patientDisplayName(report.patient.name), report.accessionNumber, title].filter(Boolean).join(SPACE));
  doc.end();
  return done;
}

function collect(doc: PDFKit.PDFDocument): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    doc.on('data', (chunk: Buffer) => chunks.push(chunk));
    doc.on('end', () => resolve(Buffer.concat(chunks)));
    doc.on('error', reject);
  });
}

async function qrPng(text: string): Promise<Buffer> {
  return QRCode.toBuffer(text, { type: 'png', errorCorrectionLevel: 'M', margin: 1, width: 256 });
}

/** What the QR code holds until the cloud-film link exists: says what it is, links nowhere. */
function qrPlaceholder(report: ReportDocument): string {
  return `云影报告 ${report.reportNumber ?? report.reportId} 第${report.issuedVersion ?? report.version}版：${QR_CAPTION_PENDING}`;
}

function rule(doc: PDFKit.PDFDocument): void {
  doc.save().moveTo(MARGIN.left, doc.y).lineTo(PAGE.width - MARGIN.right, doc.y).lineWidth(0.6).strokeColor(COLOR.rule).stroke().restore();
  doc.y += 6;
}

/** "label：value" in a box of the given width, the value wrapping under itself; returns the bottom. */
function field(doc: PDFKit.PDFDocument, label: string, value: string, x: number, y: number, width: number): number {
  const labelWidth = 62;
  doc.font(BOLD).fontSize(10).fillColor(COLOR.label).text(`${label}：`, x, y, { width: labelWidth, lineBreak: false });
  doc.font(REGULAR).fontSize(10).fillColor(COLOR.text).text(value || '—', x + labelWidth, y, { width: width - labelWidth });
  return Math.max(doc.y, y + 14);
}

/**
 * A signer's field: the name, and their signature image after it when one is configured,
 * scaled into a box that reaches a little above the text line and
 * pushes the next row down. An image PDFKit cannot read
 * (validated when it was set, so never expected) leaves the name alone: the report prints.
 */
function signerField(doc: PDFKit.PDFDocument, label: string, name: string, signature: Buffer | undefined, x: number, y: number, width: number): number {
  const end = field(doc, label, name, x, y, width);
  if (!signature || !name) return end;
  const labelWidth = 62;
  const imageX = x + labelWidth + doc.font(REGULAR).fontSize(10).widthOfString(name) + 8;
  const boxWidth = Math.min(SIGNATURE_BOX.width, x + width - imageX);
  if (boxWidth < 24) return end;
  try {
    doc.image(signature, imageX, y - SIGNATURE_RISE, { fit: [boxWidth, SIGNATURE_BOX.height], valign: 'center' });
  } catch {
    return end;
  }
  return Math.max(end, y - SIGNATURE_RISE + SIGNATURE_BOX.height + 2);
}

/** A heading and its text; paragraphs kept, long lines wrap (CJK text breaks between ideographs). */
function section(doc: PDFKit.PDFDocument, heading: string, text: string): void {
  doc.moveDown(0.5);
  keepTogether(doc, 48);
  doc.font(BOLD).fontSize(12).fillColor(COLOR.text).text(heading, MARGIN.left, doc.y, { width: CONTENT_WIDTH });
  doc.moveDown(0.25);
  const paragraphs = text.replace(/\r\n?/g, '\n').split('\n').map((line) => line.trimEnd());
  doc.font(REGULAR).fontSize(10.5);
  for (const paragraph of paragraphs.length > 0 ? paragraphs : ['']) {
    doc.text(paragraph || ' ', MARGIN.left + 12, doc.y, { width: CONTENT_WIDTH - 12, lineGap: 3, align: 'left' });
  }
}

/**
 * 危急值 (critical-findings/): each finding, who flagged it and when, and the requesting
 * institution's acknowledgement (who received it, how the clinician was told, when), or
 * that it is not yet acknowledged. Red heading: the paper must not hide it.
 */
function criticalFindingsSection(doc: PDFKit.PDFDocument, findings: NonNullable<ReportDocument['criticalFindings']>, timeZone: string): void {
  doc.moveDown(0.5);
  keepTogether(doc, 60);
  doc.font(BOLD).fontSize(12).fillColor('#c00000').text(CRITICAL_HEADING, MARGIN.left, doc.y, { width: CONTENT_WIDTH });
  doc.fillColor(COLOR.text).moveDown(0.2);
  for (const finding of findings) {
    keepTogether(doc, 40);
    doc.font(BOLD).fontSize(10.5).text(`${finding.category}${finding.note ? `：${finding.note}` : ''}`, MARGIN.left + 12, doc.y, { width: CONTENT_WIDTH - 12, lineGap: 2 });
    const ack = finding.acknowledgement;
    const lines = [
      `上报医师：${finding.flaggedBy}${SPACE}上报时间：${formatInstant(finding.flaggedAt, timeZone)}`,
      ack
        ? `接收人：${ack.receivedBy}${SPACE}告知方式：${ack.informedVia}${ack.clinicianName ? `${SPACE}告知临床医生：${ack.clinicianName}` : ''}${SPACE}告知时间：${formatInstant(ack.informedAt, timeZone)}${SPACE}确认时间：${formatInstant(ack.acknowledgedAt, timeZone)}`
        : CRITICAL_UNACKNOWLEDGED,
    ];
    doc.font(REGULAR).fontSize(9.5).fillColor(COLOR.label);
    for (const line of lines) doc.text(line, MARGIN.left + 12, doc.y + 1, { width: CONTENT_WIDTH - 12 });
    doc.fillColor(COLOR.text).moveDown(0.3);
  }
}

/** Starts a new page when less than `height` points are left, so a heading is not orphaned. */
function keepTogether(doc: PDFKit.PDFDocument, height: number): void {
  if (doc.y + height > PAGE.height - MARGIN.bottom) doc.addPage();
}

/**
 * Page numbers and the disclaimer on every page (written after layout, so the total is
 * known); pages after the first also say whose report they belong to, at the top.
 */
function footers(doc: PDFKit.PDFDocument, continuation: string): void {
  const range = doc.bufferedPageRange();
  for (let i = range.start; i < range.start + range.count; i++) {
    doc.switchToPage(i);
    // Writing below the bottom margin would otherwise start a new page.
    const bottom = doc.page.margins.bottom;
    doc.page.margins.bottom = 0;
    const y = PAGE.height - MARGIN.bottom + 22;
    doc.save().moveTo(MARGIN.left, y - 6).lineTo(PAGE.width - MARGIN.right, y - 6).lineWidth(0.4).strokeColor(COLOR.rule).stroke().restore();
    doc.font(REGULAR).fontSize(8.5).fillColor(COLOR.label);
    doc.text(FOOTER_NOTE, MARGIN.left, y, { width: CONTENT_WIDTH / 2, align: 'left', lineBreak: false });
    doc.text(`第 ${i - range.start + 1} 页 / 共 ${range.count} 页`, MARGIN.left + CONTENT_WIDTH / 2, y, { width: CONTENT_WIDTH / 2, align: 'right', lineBreak: false });
    if (i > range.start) {
      doc.text(continuation, MARGIN.left, MARGIN.top - 26, { width: CONTENT_WIDTH, align: 'left', lineBreak: false });
      doc.save().moveTo(MARGIN.left, MARGIN.top - 12).lineTo(PAGE.width - MARGIN.right, MARGIN.top - 12).lineWidth(0.4).strokeColor(COLOR.rule).stroke().restore();
    }
    doc.page.margins.bottom = bottom;
  }
}

/**
 * A DICOM PN for print: the ideographic group when there is one, Chinese style without a
 * separator ("王^小东" → "王小东"), else the alphabetic group with "^" as spaces.
 */
export function patientDisplayName(name: string | undefined): string | undefined {
  if (!name) return undefined;
  const [alphabetic = '', ideographic = ''] = name.split('=');
  const ideographicText = ideographic.split('^').map((part) => part.trim()).filter(Boolean).join('');
  if (ideographicText) return ideographicText;
  const alphabeticText = alphabetic.split('^').map((part) => part.trim()).filter(Boolean).join(' ');
  return alphabeticText || undefined;
}

export function sexLabel(sex: string | undefined): string {
  switch (sex?.trim().toUpperCase()) {
    case 'M':
      return '男';
    case 'F':
      return '女';
    case 'O':
      return '其他';
    default:
      return sex?.trim() || '未知';
  }
}

function parseDicomDate(value: string | undefined): { y: number; m: number; d: number } | undefined {
  const match = /^(\d{4})(\d{2})(\d{2})$/.exec(value?.trim() ?? '');
  if (!match) return undefined;
  return { y: Number(match[1]), m: Number(match[2]), d: Number(match[3]) };
}

/**
 * Age at the exam as Chinese reports give it: "45岁", under two years "18月", under a month
 * "12天", with the birth date after it; without an exam date, the birth date alone.
 */
export function ageOrBirthDate(birthDate: string | undefined, studyDate: string | undefined): string {
  const birth = parseDicomDate(birthDate);
  if (!birth) return '';
  const birthText = `${birth.y}-${String(birth.m).padStart(2, '0')}-${String(birth.d).padStart(2, '0')}`;
  const exam = parseDicomDate(studyDate);
  if (!exam) return birthText;
  let months = (exam.y - birth.y) * 12 + (exam.m - birth.m);
  if (exam.d < birth.d) months--;
  if (months < 0) return birthText;
  let age: string;
  if (months >= 24) age = `${Math.floor(months / 12)}岁`;
  else if (months >= 1) age = `${months}月`;
  else age = `${Math.round((Date.UTC(exam.y, exam.m - 1, exam.d) - Date.UTC(birth.y, birth.m - 1, birth.d)) / 86_400_000)}天`;
  return `${age}（${birthText}）`;
}

function formatDicomDate(date: string | undefined, time: string | undefined): string {
  const day = parseDicomDate(date);
  if (!day) return '';
  const text = `${day.y}-${String(day.m).padStart(2, '0')}-${String(day.d).padStart(2, '0')}`;
  const clock = /^(\d{2})(\d{2})/.exec(time?.trim() ?? '');
  return clock ? `${text} ${clock[1]}:${clock[2]}` : text;
}

/** An ISO instant in the given zone, "2026-11-23 14:05". */
export function formatInstant(instant: string, timeZone: string): string {
  const date = new Date(instant);
  if (Number.isNaN(date.getTime())) return instant;
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' })
      .formatToParts(date)
      .map((part) => [part.type, part.value]),
  );
  return `${parts.year}-${parts.month}-${parts.day} ${parts.hour}:${parts.minute}`;
}

function personLabel(person: { username: string; displayName?: string }): string {
  return person.displayName?.trim() || person.username;
}

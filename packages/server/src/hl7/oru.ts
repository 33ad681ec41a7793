/**
 * ORU^R01 (unsolicited observation result, v2.5.1) for a signed report: the HIS files the
 * report under its order. Pure: the delivery (hl7-delivery.ts) gathers the input.
 *
 *   MSH   YUNYING / the reading institution → the destination's application and facility; UNICODE UTF-8
 *   PID   Patient ID^^^issuer^MR, the name (alphabetic and ideographic repetitions), birth date, sex
 *   ORC   RE, placer order number, accession (filler)
 *   OBR   placer, accession (OBR-3 and OBR-18), procedure (OBR-4), study date (OBR-7), report
 *         time (OBR-22), modality (OBR-24), result status (OBR-25: F, or C after an addendum),
 *         the signing radiologist (OBR-32)
 *   OBX   FT: 影像所见 (findings, LOINC 59776-5), 诊断意见 (impression, 19005-8), each addendum (补充报告, 55107-7)
 */
import { buildMessage, buildSegment, hl7Timestamp, type FieldValue } from './hl7-message.ts';

export interface OruInput {
  controlId: string;
  sendingFacility: string;
  receivingApplication: string;
  receivingFacility: string;
  timeZone: string;
  patient: { id: string; issuer: string | null; name: string | null; birthDate: string | null; sex: string | null };
  accessionNumber: string | null;
  placerOrderNumber: string | null;
  procedure: { code: string | null; text: string | null; scheme: string | null };
  modality: string | null;
  studyDate: string | null;
  report: { findings: string; impression: string; signedAt: string | null; signer: string | null; reportNumber: string | null; addenda: Array<{ text: string; at: string }> };
  /** F final, C corrected (the report has addenda) */
  resultStatus: 'F' | 'C';
}

export function buildOru(input: OruInput): string {
  const signedAt = input.report.signedAt ? hl7Timestamp(new Date(input.report.signedAt), input.timeZone) : '';
  const procedure: FieldValue = [input.procedure.code ?? input.procedure.text ?? '', input.procedure.text ?? '', input.procedure.code ? (input.procedure.scheme ?? '99YUNYING') : ''];
  const observation = (setId: number, code: string, name: string, zh: string, text: string, at: string) =>
    buildSegment('OBX', [String(setId), 'FT', [code, name, 'LN', '', zh], '', text, '', '', '', '', '', input.resultStatus, '', '', at]);
  const segments = [
    buildSegment('MSH', ['YUNYING', input.sendingFacility, input.receivingApplication, input.receivingFacility, hl7Timestamp(new Date(), input.timeZone), '', ['ORU', 'R01', 'ORU_R01'], input.controlId, 'P', '2.5.1', '', '', 'AL', 'NE', '', 'UNICODE UTF-8']),
    buildSegment('PID', ['1', '', [input.patient.id, '', '', input.patient.issuer ?? '', 'MR'], '', nameRepetitions(input.patient.name), '', input.patient.birthDate ?? '', input.patient.sex ?? '']),
    buildSegment('ORC', ['RE', input.placerOrderNumber ?? '', input.accessionNumber ?? '', '', 'CM']),
    buildSegment('OBR', [
      '1',
      input.placerOrderNumber ?? '',
      input.accessionNumber ?? '',
      procedure,
      '',
      '',
      input.studyDate ?? '',
      '',
      '',
      '',
      '',
      '',
      '',
      '',
      '',
      '',
      '',
      input.accessionNumber ?? '',
      '',
      input.report.reportNumber ?? '',
      '',
      signedAt,
      '',
      input.modality ?? '',
      input.resultStatus,
      '',
      '',
      '',
      '',
      '',
      '',
      [input.report.signer ?? ''],
    ]),
    observation(1, '59776-5', 'Procedure findings', '影像所见', input.report.findings, signedAt),
    observation(2, '19005-8', 'Impression', '诊断意见', input.report.impression, signedAt),
    ...input.report.addenda.map((addendum, index) => observation(3 + index, '55107-7', 'Addendum', '补充报告', addendum.text, hl7Timestamp(new Date(addendum.at), input.timeZone))),
  ];
  return buildMessage(segments);
}

/** DICOM PN 'Zhang^San=张^三' → XPN repetitions: alphabetic (XPN-8 A), then ideographic (I). */
function nameRepetitions(pn: string | null): FieldValue {
  if (!pn) return '';
  const [alphabetic = '', ideographic = ''] = pn.split('=');
  const xpn = (group: string, code: string) => {
    const [family = '', given = '', middle = ''] = group.split('^');
    return [family, given, middle, '', '', '', '', code];
  };
  return { repeat: [...(alphabetic ? [xpn(alphabetic, 'A')] : []), ...(ideographic ? [xpn(ideographic, 'I')] : [])] };
}

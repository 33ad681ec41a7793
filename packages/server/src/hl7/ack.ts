import { randomUUID } from 'node:crypto';
import { buildMessage, buildSegment, hl7Timestamp, type Hl7Message } from './hl7-message.ts';

/** MSA-1: AA accepted, AE error (try again may help), AR rejected (do not resend as it is). */
export type AckCode = 'AA' | 'AE' | 'AR';

/**
 * Why a message was not accepted, as the ACK tells the sender: MSA-1, the HL7 table 0357
 * error code (ERR-3), where (ERR-2: segment and field) and a text (MSA-3 and ERR-8). The
 * text names fields and codes, never patient data: senders log ACKs.
 */
export class Hl7Rejection extends Error {
  readonly ackCode: 'AE' | 'AR';
  /** table 0357: 100 segment sequence, 101 required field missing, 102 data type, 103 table value not found, 200 unsupported message type, 201 unsupported event, 203 unsupported version, 204 unknown key, 205 duplicate key, 206 record locked, 207 internal error */
  readonly errorCode: string;
  readonly location?: { segment: string; field?: number };

  constructor(ackCode: 'AE' | 'AR', errorCode: string, text: string, location?: { segment: string; field?: number }) {
    super(text);
    this.name = 'Hl7Rejection';
    this.ackCode = ackCode;
    this.errorCode = errorCode;
    this.location = location;
  }
}

const ERROR_NAMES: Record<string, string> = {
  '100': 'Segment sequence error',
  '101': 'Required field missing',
  '102': 'Data type error',
  '103': 'Table value not found',
  '200': 'Unsupported message type',
  '201': 'Unsupported event code',
  '203': 'Unsupported version id',
  '204': 'Unknown key identifier',
  '205': 'Duplicate key identifier',
  '206': 'Application record locked',
  '207': 'Application internal error',
};

export interface AckInput {
  code: AckCode;
  text: string;
  /** the message acknowledged, when it could be parsed (its MSH names the sender and the control id) */
  original?: Hl7Message;
  error?: { code: string; location?: { segment: string; field?: number } };
  /** MSH-3/MSH-4 of the ACK when the original names no receiver */
  application: string;
  timeZone: string;
}

/**
 * The ACK (original acknowledgement mode): MSH addressed back to the sender, MSA with the
 * original's control id (MSH-10), and an ERR for AE/AR. Always ASCII-safe: the text is ours.
 */
export function buildAck(input: AckInput): string {
  const original = input.original;
  const msh = original?.segment('MSH');
  const value = (field: number, component = 1) => (original ? original.value(msh, field, component) : '');
  const event = value(9, 2);
  const segments = [
    buildSegment('MSH', [
      value(5) || input.application,
      value(6),
      value(3),
      value(4),
      hl7Timestamp(new Date(), input.timeZone),
      '',
      ['ACK', event, 'ACK'],
      randomUUID().replaceAll('-', '').slice(0, 20),
      value(11) || 'P',
      value(12) || '2.5.1',
    ]),
    buildSegment('MSA', [input.code, value(10), input.text]),
  ];
  if (input.code !== 'AA' && input.error) {
    const location = input.error.location;
    segments.push(
      buildSegment('ERR', [
        '',
        location ? [location.segment, '1', location.field === undefined ? '' : String(location.field)] : '',
        [input.error.code, ERROR_NAMES[input.error.code] ?? '', 'HL70357'],
        'E',
        '',
        '',
        '',
        input.text,
      ]),
    );
  }
  return buildMessage(segments);
}

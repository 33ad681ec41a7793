/**
 * The HL7 v2 codec, the MLLP framer and the ORM^O01 mapping without sockets: what a HIS
 * sends (UTF-8 and GB 18030, escapes, names in hanzi and pinyin), what is refused and why.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import iconv from 'iconv-lite';
import { buildAck, Hl7Rejection } from './ack.ts';
import { buildMessage, buildSegment, decodeHl7Bytes, escapeHl7, Hl7ParseError, parseHl7, unescapeHl7 } from './hl7-message.ts';
import { MllpDecoder, mllpFrame } from './mllp.ts';
import { ordersOf, sendingFacilityOf } from './orm-mapping.ts';
import { buildOru } from './oru.ts';

const ORM = [
  'MSH|^~\\&|HIS|KSRMYY|YUNYING|YUNYING|20261204093000||ORM^O01^ORM_O01|MSG0001|P|2.5.1|||AL|NE||UNICODE UTF-8',
  'PID|1||P0012345^^^KSRMYY&1.2.156.1&ISO^MR~320583199001011234^^^CHN^NNCHN||Zhang^San^^^^^^A~张^三^^^^^^I||19900101|M',
  'PV1|1|O|||||||D001^刘^强',
  'ORC|NW|ORD-778899|||SC||||20261204093000|||D002^王^医生',
  'OBR|1|ORD-778899||CT0101^胸部CT平扫^99KSRMYY|||||||||咳嗽两周\\T\\发热|||||A202612040001||||||CT|||^^^202612041030^^S',
].join('\r');

test('a message parses with its delimiters, repetitions, components and escapes', () => {
  const message = parseHl7(ORM);
  assert.equal(message.get('MSH-9.1'), 'ORM');
  assert.equal(message.get('MSH-10'), 'MSG0001');
  assert.equal(message.get('MSH-18'), 'UNICODE UTF-8');
  assert.equal(message.get('PID-3.4.1'), 'KSRMYY');
  assert.equal(message.get('PID-3.4.2'), '1.2.156.1');
  assert.equal(message.repetitions(message.segment('PID'), 5).length, 2);
  assert.equal(message.get('OBR-13'), '咳嗽两周&发热');
  assert.equal(unescapeHl7('a\\F\\b\\S\\c\\R\\d\\E\\e\\.br\\f\\X41\\'), 'a|b^c~d\\e\nfA');
  assert.equal(escapeHl7('8^9 mm | 左肺 & 右肺 ~ \\\r\n下一行'), '8\\S\\9 mm \\F\\ 左肺 \\T\\ 右肺 \\R\\ \\E\\\\.br\\下一行');
  assert.equal(unescapeHl7(escapeHl7('8^9 mm | 左肺 & 右肺 ~ \\\n下一行')), '8^9 mm | 左肺 & 右肺 ~ \\\n下一行');
});

test('an ORM^O01 maps to the order model: patient, issuer, national id, names, procedure, accession, schedule, priority', () => {
  const [action] = ordersOf(parseHl7(ORM));
  assert.ok(action && action.kind === 'create');
  const input = action.input;
  assert.deepEqual(input.patient, { patientId: 'P0012345', issuerOfPatientId: 'KSRMYY', name: 'Zhang^San=张^三', sex: 'M', birthDate: '19900101', nationalId: '320583199001011234' });
  assert.deepEqual(input.requestedProcedure, { description: '胸部CT平扫', modality: 'CT', code: { value: 'CT0101', scheme: '99KSRMYY', meaning: '胸部CT平扫' } });
  assert.equal(input.accessionNumber, 'A202612040001');
  assert.equal(input.placerOrderNumber, 'ORD-778899');
  assert.equal(input.referringPhysician, '王^医生');
  assert.equal(input.priority, 'emergency');
  assert.equal(input.reason, '咳嗽两周&发热');
  assert.deepEqual(input.steps, [{ modality: 'CT', startDateTime: '2026-12-04T10:30:00' }]);
  assert.equal(input.source, 'hl7');
  assert.equal(sendingFacilityOf(parseHl7(ORM)), 'KSRMYY');
});

test('a cancel (ORC-1 CA) names the placer order number', () => {
  const cancel = ORM.replace('ORC|NW|', 'ORC|CA|');
  assert.deepEqual(ordersOf(parseHl7(cancel)), [{ kind: 'cancel', placerOrderNumber: 'ORD-778899', reason: undefined }]);
});

test('what is refused, and how the ACK says it', () => {
  const refusal = (text: string) => {
    try {
      ordersOf(parseHl7(text));
    } catch (error) {
      assert.ok(error instanceof Hl7Rejection, String(error));
      return { ack: error.ackCode, code: error.errorCode, text: error.message };
    }
    assert.fail('accepted');
  };
  assert.deepEqual(refusal(ORM.replace('ORM^O01^ORM_O01', 'ADT^A01^ADT_A01')).code, '200');
  assert.deepEqual(refusal(ORM.split('\r').filter((line) => !line.startsWith('PID')).join('\r')), { ack: 'AR', code: '100', text: 'the PID segment is missing (ORM^O01 needs the patient)' });
  assert.equal(refusal(ORM.replace('P0012345^^^KSRMYY&1.2.156.1&ISO^MR~320583199001011234^^^CHN^NNCHN', '')).code, '101');
  assert.match(refusal(ORM.replace('|CT|||^^^', '||||^^^')).text, /OBR-24/);
  assert.match(refusal(ORM.replace('ORC|NW|', 'ORC|XO|')).text, /ORC-1 order control XO is not supported/);
  assert.match(refusal(ORM.replace('A202612040001', 'A2026120400012345678')).text, /longer than 16/);
  assert.throws(() => parseHl7('hello world'), Hl7ParseError);
  assert.throws(() => parseHl7('MSH|'), Hl7ParseError);

  const ack = parseHl7(buildAck({ code: 'AR', text: 'PID-5 (patient name) is required', original: parseHl7(ORM), error: { code: '101', location: { segment: 'PID', field: 5 } }, application: 'YUNYING', timeZone: 'Asia/Shanghai' }));
  assert.equal(ack.get('MSH-9.1'), 'ACK');
  assert.equal(ack.get('MSH-5'), 'HIS');
  assert.equal(ack.get('MSH-6'), 'KSRMYY');
  assert.equal(ack.get('MSA-1'), 'AR');
  assert.equal(ack.get('MSA-2'), 'MSG0001');
  assert.equal(ack.get('MSA-3'), 'PID-5 (patient name) is required');
  assert.equal(ack.get('ERR-2.1'), 'PID');
  assert.equal(ack.get('ERR-2.3'), '5');
  assert.equal(ack.get('ERR-3.1'), '101');
  assert.equal(ack.get('ERR-3.2'), 'Required field missing');
  assert.equal(ack.get('ERR-8'), 'PID-5 (patient name) is required');
});

test('MSH-18: GB 18030 is decoded, UTF-8 is the default and checked', () => {
  const gb = iconv.encode(ORM.replace('UNICODE UTF-8', 'GB 18030'), 'gb18030');
  const decoded = decodeHl7Bytes(gb);
  assert.equal(decoded.charset, 'GB 18030');
  assert.equal(parseHl7(decoded.text).value(parseHl7(decoded.text).segment('PID'), 5, 1, 1, 1), '张');
  const noCharset = ORM.replace('|UNICODE UTF-8', '');
  assert.equal(parseHl7(decodeHl7Bytes(Buffer.from(noCharset)).text).get('OBR-4.2'), '胸部CT平扫');
  assert.throws(() => decodeHl7Bytes(iconv.encode(noCharset, 'gb18030')), /not valid UTF-8 and MSH-18 names no character set/);
  assert.throws(() => decodeHl7Bytes(Buffer.from(ORM.replace('UNICODE UTF-8', 'EBCDIC'))), /MSH-18 character set "EBCDIC" is not supported/);
});

test('MLLP framing: split and joined frames, line ends between frames, data outside a frame, the size bound', () => {
  const decoder = new MllpDecoder({ maxMessageBytes: 1024 });
  const two = Buffer.concat([mllpFrame('MSH|one'), Buffer.from('\r\n'), mllpFrame('MSH|two')]);
  const events = [...decoder.push(two.subarray(0, 5)), ...decoder.push(two.subarray(5, 10)), ...decoder.push(two.subarray(10, two.length - 1)), ...decoder.push(two.subarray(two.length - 1))];
  assert.deepEqual(events.map((event) => (event.kind === 'message' ? event.bytes.toString() : event.reason)), ['MSH|one', 'MSH|two']);
  assert.equal(decoder.pending, false);
  assert.deepEqual(new MllpDecoder({ maxMessageBytes: 1024 }).push(Buffer.from('GET / HTTP/1.1\r\n')).map((event) => event.kind === 'error' && event.reason), ['not-mllp']);
  assert.deepEqual(new MllpDecoder({ maxMessageBytes: 1024 }).push(mllpFrame('x'.repeat(2000))).map((event) => event.kind === 'error' && event.reason), ['too-large']);
});

test('ORU^R01: report text with delimiters and line breaks survives, names as alphabetic and ideographic repetitions', () => {
  const text = buildOru({
    controlId: 'C1',
    sendingFacility: 'ks-county',
    receivingApplication: 'HIS',
    receivingFacility: 'KSRMYY',
    timeZone: 'Asia/Shanghai',
    patient: { id: 'P0012345', issuer: 'KSRMYY', name: 'Zhang^San=张^三', birthDate: '19900101', sex: 'M' },
    accessionNumber: 'A202612040001',
    placerOrderNumber: 'ORD-778899',
    procedure: { code: 'CT0101', text: '胸部CT平扫', scheme: '99KSRMYY' },
    modality: 'CT',
    studyDate: '20261204',
    report: { findings: '右肺上叶结节 8^9 mm | 边界清\n纵隔未见肿大淋巴结', impression: '右肺上叶结节，建议随访', signedAt: '2026-12-04T03:00:00.000Z', signer: '孙主任', reportNumber: 'KS-2026-000001', addenda: [{ text: '补充：对比前片无变化', at: '2026-12-04T04:00:00.000Z' }] },
    resultStatus: 'C',
  });
  const message = parseHl7(text);
  assert.equal(message.get('MSH-9.2'), 'R01');
  assert.equal(message.get('MSH-18'), 'UNICODE UTF-8');
  assert.equal(message.value(message.segment('PID'), 5, 1, 1, 1), '张');
  assert.equal(message.value(message.segment('PID'), 5, 8, 1, 1), 'I');
  assert.equal(message.get('OBR-3'), 'A202612040001');
  assert.equal(message.get('OBR-4.2'), '胸部CT平扫');
  assert.equal(message.get('OBR-22'), '20261204110000+0800');
  assert.equal(message.get('OBR-25'), 'C');
  const observations = message.all('OBX');
  assert.deepEqual(observations.map((obx) => message.value(obx, 3, 5)), ['影像所见', '诊断意见', '补充报告']);
  assert.equal(message.value(observations[0], 5), '右肺上叶结节 8^9 mm | 边界清\n纵隔未见肿大淋巴结');
  assert.deepEqual(observations.map((obx) => message.value(obx, 11)), ['C', 'C', 'C']);
  assert.equal(buildMessage([buildSegment('NTE', ['1', '', 'a|b'])]), 'NTE|1||a\\F\\b\r');
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  APPLICATION_CONTEXT_NAME,
  PDU_TYPE,
  PduError,
  PduReader,
  decodePdu,
  encodeAbort,
  encodeAssociateAc,
  encodeAssociateRj,
  encodeAssociateRq,
  encodePDataHeader,
  encodeReleaseRq,
  type AssociateAc,
  type AssociateRq,
  type PDataTf,
} from './pdu.ts';
import { COMMAND, DATASET_PRESENT, MessageAssembler, NO_DATASET, decodeCommand, encodeCommand, type DimseCommand } from './dimse-message.ts';

function readAll(bytes: Buffer): { type: number; body: Buffer }[] {
  const reader = new PduReader();
  reader.push(bytes);
  const out = [];
  for (let p = reader.next(); p; p = reader.next()) out.push(p);
  return out;
}

const rq: Omit<AssociateRq, 'type'> = {
  protocolVersion: 1,
  calledAeTitle: 'YUNYING',
  callingAeTitle: 'STORESCU',
  applicationContext: APPLICATION_CONTEXT_NAME,
  presentationContexts: [
    { id: 1, abstractSyntax: '1.2.840.10008.1.1', transferSyntaxes: ['1.2.840.10008.1.2'] },
    { id: 3, abstractSyntax: '1.2.840.10008.5.1.4.1.1.2', transferSyntaxes: ['1.2.840.10008.1.2.4.90', '1.2.840.10008.1.2.1', '1.2.840.10008.1.2'] },
  ],
  userInformation: {
    maxPduLength: 16384,
    implementationClassUid: '1.2.3.4',
    implementationVersionName: 'TEST_1',
    asyncOps: { invoked: 1, performed: 1 },
    roleSelections: [{ sopClassUid: '1.2.840.10008.5.1.4.1.1.2', scuRole: 0, scpRole: 1 }],
    other: [{ type: 0x58, value: Buffer.from([1, 0, 0, 4, 0x75, 0x73, 0x65, 0x72, 0, 0]) }],
  },
};

test('A-ASSOCIATE-RQ round-trips, including role selection, async ops and raw sub-items', () => {
  const [raw] = readAll(encodeAssociateRq(rq));
  assert.equal(raw.type, PDU_TYPE.ASSOCIATE_RQ);
  const decoded = decodePdu(raw.type, raw.body) as AssociateRq;
  assert.deepEqual({ ...decoded, type: undefined }, { ...rq, type: undefined });
});

test('A-ASSOCIATE-AC round-trips; rejected contexts keep their result', () => {
  const ac: Omit<AssociateAc, 'type'> = {
    ...rq,
    presentationContexts: [
      { id: 1, result: 0, transferSyntax: '1.2.840.10008.1.2' },
      { id: 3, result: 4, transferSyntax: '' },
    ],
  };
  const [raw] = readAll(encodeAssociateAc(ac));
  const decoded = decodePdu(raw.type, raw.body) as AssociateAc;
  assert.equal(decoded.type, PDU_TYPE.ASSOCIATE_AC);
  assert.deepEqual(decoded.presentationContexts, ac.presentationContexts);
  assert.equal(decoded.userInformation.maxPduLength, 16384);
});

test('A-ASSOCIATE-RJ, A-RELEASE-RQ and A-ABORT decode', () => {
  const pdus = readAll(Buffer.concat([encodeAssociateRj(1, 1, 7), encodeReleaseRq(), encodeAbort(2, 6)]));
  assert.deepEqual(pdus.map((p) => decodePdu(p.type, p.body)), [
    { type: PDU_TYPE.ASSOCIATE_RJ, result: 1, source: 1, reason: 7 },
    { type: PDU_TYPE.RELEASE_RQ },
    { type: PDU_TYPE.ABORT, source: 2, reason: 6 },
  ]);
});

test('PduReader handles byte-by-byte chunking and PDUs spanning chunks', () => {
  const data = Buffer.from('hello world, this is a data set');
  const stream = Buffer.concat([encodePDataHeader(3, false, true, data.length), data, encodeReleaseRq(), encodePDataHeader(5, true, false, 2), Buffer.from([1, 2])]);
  for (const size of [1, 2, 5, 7, 13, stream.length]) {
    const reader = new PduReader();
    const got: { type: number; body: Buffer }[] = [];
    for (let i = 0; i < stream.length; i += size) {
      reader.push(stream.subarray(i, i + size));
      for (let p = reader.next(); p; p = reader.next()) got.push(p);
    }
    assert.equal(got.length, 3, `chunk size ${size}`);
    const pdata = decodePdu(got[0].type, got[0].body) as PDataTf;
    assert.deepEqual(pdata.pdvs[0], { presentationContextId: 3, isCommand: false, isLast: true, data });
    assert.equal(got[1].type, PDU_TYPE.RELEASE_RQ);
    const last = decodePdu(got[2].type, got[2].body) as PDataTf;
    assert.deepEqual(last.pdvs[0], { presentationContextId: 5, isCommand: true, isLast: false, data: Buffer.from([1, 2]) });
    assert.equal(reader.bufferedBytes, 0);
  }
});

test('PduReader rejects unknown PDU types and oversized PDUs', () => {
  const reader = new PduReader(1000);
  reader.push(Buffer.from([0x09, 0, 0, 0, 0, 4, 0, 0, 0, 0]));
  assert.throws(() => reader.next(), PduError);
  const big = new PduReader(1000);
  big.push(Buffer.from([0x04, 0, 0, 0, 0x10, 0]));
  assert.throws(() => big.next(), PduError);
});

test('malformed P-DATA (PDV overruns its PDU) throws PduError', () => {
  const body = Buffer.from([0, 0, 0, 50, 1, 3, 0, 0]);
  assert.throws(() => decodePdu(PDU_TYPE.P_DATA_TF, body), PduError);
});

test('command sets round-trip with group length, odd UIDs padded, counts and comments', () => {
  const command: DimseCommand = {
    commandField: COMMAND.C_MOVE_RSP,
    messageIdBeingRespondedTo: 7,
    affectedSopClassUid: '1.2.840.10008.5.1.4.1.2.2.2',
    commandDataSetType: DATASET_PRESENT,
    status: 0xb000,
    errorComment: 'some failed',
    remaining: 0,
    completed: 3,
    failed: 1,
    warning: 0,
    moveOriginatorAeTitle: 'MOVESCU',
    offendingElement: [0x00100010],
  };
  const bytes = encodeCommand(command);
  assert.equal(bytes.readUInt32LE(8), bytes.length - 12, 'CommandGroupLength');
  assert.equal(bytes.length % 2, 0);
  assert.deepEqual(decodeCommand(bytes), command);
  assert.throws(() => decodeCommand(bytes.subarray(0, bytes.length - 3)));
});

test('MessageAssembler joins command and data fragments and enforces ordering', () => {
  const command = encodeCommand({ commandField: COMMAND.C_STORE_RQ, messageId: 1, affectedSopClassUid: '1.2', affectedSopInstanceUid: '1.2.3', commandDataSetType: DATASET_PRESENT });
  const a = new MessageAssembler();
  assert.equal(a.push({ presentationContextId: 1, isCommand: true, isLast: false, data: command.subarray(0, 10) }), undefined);
  assert.equal(a.push({ presentationContextId: 1, isCommand: true, isLast: true, data: command.subarray(10) }), undefined);
  assert.equal(a.push({ presentationContextId: 1, isCommand: false, isLast: false, data: Buffer.from('abc') }), undefined);
  const message = a.push({ presentationContextId: 1, isCommand: false, isLast: true, data: Buffer.from('def') });
  assert.ok(message);
  assert.equal(message.dataset?.toString(), 'abcdef');
  assert.equal(message.command.affectedSopInstanceUid, '1.2.3');

  const echo = encodeCommand({ commandField: COMMAND.C_ECHO_RQ, messageId: 2, commandDataSetType: NO_DATASET });
  const m2 = a.push({ presentationContextId: 3, isCommand: true, isLast: true, data: echo });
  assert.equal(m2?.command.commandField, COMMAND.C_ECHO_RQ);
  assert.equal(m2?.dataset, undefined);

  const b = new MessageAssembler();
  assert.throws(() => b.push({ presentationContextId: 1, isCommand: false, isLast: true, data: Buffer.from('x') }));
  const c = new MessageAssembler();
  c.push({ presentationContextId: 1, isCommand: true, isLast: false, data: command.subarray(0, 10) });
  assert.throws(() => c.push({ presentationContextId: 3, isCommand: true, isLast: true, data: command.subarray(10) }));
});

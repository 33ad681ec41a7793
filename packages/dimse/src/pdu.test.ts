import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  APPLICATION_CONTEXT_NAME,
  PDU_TYPE,
  PduError,
  PduReader,
  decodePdu,
  decodePduPieces,
  encodeAbort,
  encodeAssociateAc,
  encodeAssociateRj,
  encodeAssociateRq,
  encodePDataHeader,
  encodeReleaseRq,
  type AssociateAc,
  type AssociateRq,
  type PDataTf,
  type Pdv,
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

/** PDV records joined back into whole PDVs (value, context, command bit, last bit) */
function wholePdvs(pdvs: readonly Pdv[]): Pdv[] {
  const out: Pdv[] = [];
  let parts: Buffer[] = [];
  for (const [i, pdv] of pdvs.entries()) {
    parts.push(pdv.data);
    const next = pdvs[i + 1];
    // pieces of one PDV: same context and command bit, not last; a PDV of ours ends where the next record's bits differ or at isLast
    if (pdv.isLast || !next || next.presentationContextId !== pdv.presentationContextId || next.isCommand !== pdv.isCommand || i === pdvs.length - 1) {
      out.push({ ...pdv, data: Buffer.concat(parts) });
      parts = [];
    }
  }
  return out;
}

test('PduReader.nextPieces hands out P-DATA-TF bodies as subarrays of the chunks, never copied, at every split', () => {
  const command = Buffer.from('command bytes!');
  const data = Buffer.alloc(3000);
  for (let i = 0; i < data.length; i++) data[i] = (i * 7) & 0xff;
  // one PDU with two PDVs (command, last; data, last), then a PDU with a zero-length PDV, then A-RELEASE-RQ
  const pdvItem = (pcId: number, mch: number, value: Buffer): Buffer => {
    const h = Buffer.alloc(6);
    h.writeUInt32BE(value.length + 2, 0);
    h[4] = pcId;
    h[5] = mch;
    return Buffer.concat([h, value]);
  };
  const body = Buffer.concat([pdvItem(1, 0x03, command), pdvItem(1, 0x00, data)]);
  const pduHeader = (type: number, length: number): Buffer => {
    const h = Buffer.alloc(6);
    h[0] = type;
    h.writeUInt32BE(length, 2);
    return h;
  };
  const empty = pdvItem(1, 0x02, Buffer.alloc(0));
  const stream = Buffer.concat([pduHeader(PDU_TYPE.P_DATA_TF, body.length), body, pduHeader(PDU_TYPE.P_DATA_TF, empty.length), empty, encodeReleaseRq()]);
  const joined = decodePdu(PDU_TYPE.P_DATA_TF, body) as PDataTf;
  for (const size of [1, 3, 5, 6, 7, 11, 64, 1000, 1001, stream.length]) {
    const reader = new PduReader();
    const chunks: Buffer[] = [];
    const got: { type: number; pieces: Buffer[] }[] = [];
    for (let i = 0; i < stream.length; i += size) {
      const chunk = Buffer.from(stream.subarray(i, i + size)); // own memory, as a socket chunk
      chunks.push(chunk);
      reader.push(chunk);
      for (let p = reader.nextPieces(); p; p = reader.nextPieces()) got.push(p);
    }
    assert.deepEqual(got.map((p) => p.type), [PDU_TYPE.P_DATA_TF, PDU_TYPE.P_DATA_TF, PDU_TYPE.RELEASE_RQ], `chunk size ${size}`);
    const first = decodePduPieces(got[0].type, got[0].pieces) as PDataTf;
    assert.deepEqual(wholePdvs(first.pdvs), joined.pdvs, `chunk size ${size}`);
    assert.equal(first.pdvs.filter((p) => p.isLast).length, 1, 'only the last piece of a PDV carries its last bit');
    for (const pdv of first.pdvs) {
      if (pdv.data.length > 0) assert.ok(chunks.some((c) => c.buffer === pdv.data.buffer), 'a value piece is a subarray of a received chunk');
    }
    const second = decodePduPieces(got[1].type, got[1].pieces) as PDataTf;
    assert.deepEqual(second.pdvs, [{ presentationContextId: 1, isCommand: false, isLast: true, data: Buffer.alloc(0) }]);
    assert.deepEqual(decodePduPieces(got[2].type, got[2].pieces), { type: PDU_TYPE.RELEASE_RQ });
    assert.equal(reader.bufferedBytes, 0);

    // malformed bodies throw as decodePdu does on the joined body, wherever they are split
    const overrun = Buffer.from([0, 0, 0, 50, 1, 3, 0, 0]);
    const truncated = Buffer.concat([pdvItem(1, 0x02, Buffer.from('ab')), Buffer.from([0, 0, 0])]);
    const tooShort = Buffer.from([0, 0, 0, 1, 1, 3]);
    for (const bad of [overrun, truncated, tooShort]) {
      const pieces: Buffer[] = [];
      for (let i = 0; i < bad.length; i += size) pieces.push(bad.subarray(i, i + size));
      assert.throws(() => decodePduPieces(PDU_TYPE.P_DATA_TF, pieces), PduError);
      assert.throws(() => decodePdu(PDU_TYPE.P_DATA_TF, bad), PduError);
    }
  }
});

test('MessageAssembler joins a data set received in pieces byte-exact', () => {
  const command = encodeCommand({ commandField: COMMAND.C_STORE_RQ, messageId: 1, affectedSopClassUid: '1.2', affectedSopInstanceUid: '1.2.3', commandDataSetType: DATASET_PRESENT });
  const data = Buffer.alloc(70_000);
  for (let i = 0; i < data.length; i++) data[i] = (i * 13) & 0xff;
  const stream = Buffer.concat([encodePDataHeader(1, true, true, command.length), command, encodePDataHeader(1, false, false, 40_000), data.subarray(0, 40_000), encodePDataHeader(1, false, true, 30_000), data.subarray(40_000)]);
  const reader = new PduReader();
  const assembler = new MessageAssembler();
  const messages = [];
  for (let i = 0; i < stream.length; i += 16_384) {
    reader.push(Buffer.from(stream.subarray(i, i + 16_384)));
    for (let p = reader.nextPieces(); p; p = reader.nextPieces()) {
      for (const pdv of (decodePduPieces(p.type, p.pieces) as PDataTf).pdvs) {
        const m = assembler.push(pdv);
        if (m) messages.push(m);
      }
    }
  }
  assert.equal(messages.length, 1);
  assert.equal(messages[0].command.affectedSopInstanceUid, '1.2.3');
  assert.ok(messages[0].dataset?.equals(data));
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

/**
 * Protocol-level tests of the SCP over real sockets, against an in-memory archive fake
 * (no DICOM parsing): negotiation, rejection, C-ECHO, C-STORE status mapping,
 * fragmentation, protocol errors. The dcmtk end-to-end tests against the real archive
 * are in dimse-dcmtk.test.ts.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { connect } from 'node:net';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import type { Caller } from '../access/caller.ts';
import type { ArchiveService, IngestInput, IngestResult, QueryRequest } from '../archive/archive-service.ts';
import { encodeDataset, parseDicom, toDicomJson, type DicomJsonDataset } from '@yunying/dicom';
import { YunyingError } from '../errors.ts';
import type { AssociationError } from '@yunying/dimse';
import { PDU_TYPE, PduReader, REJECT, encodeAssociateRq, APPLICATION_CONTEXT_NAME, decodePdu, type AssociateAc, openAssociation, VERIFICATION_SOP_CLASS } from '@yunying/dimse';
import { startDimseServer, type DimseServer } from './scp.ts';
import { memoryLogger, runTool, storescuConfig } from '@yunying/testing/dcmtk';
import { samplePath } from '@yunying/testing/samples';

const CT = '1.2.840.10008.5.1.4.1.1.2';
const EXPLICIT_LE = '1.2.840.10008.1.2.1';
const IMPLICIT_LE = '1.2.840.10008.1.2';
const newUid = (): string => `2.25.${BigInt(`0x${randomUUID().replace(/-/g, '')}`)}`;

type Stored = Extract<IngestInput, { kind: 'dataset'; bytes: Buffer }> & { caller: Caller };

class FakeArchive implements ArchiveService {
  stored: Stored[] = [];
  async ingest(caller: Caller, input: IngestInput): Promise<IngestResult> {
    if (input.kind !== 'dataset' || !('bytes' in input)) throw new Error('unexpected');
    const text = input.bytes.subarray(0, 16).toString('latin1');
    if (text.startsWith('GARBAGE')) throw new YunyingError('INVALID_DATASET', 'Data set cannot be parsed: element (0010,0010) overruns the data set by 1234 bytes');
    if (text.startsWith('CRASH')) throw new TypeError('cannot read properties of undefined');
    this.stored.push({ ...input, caller });
    return { outcome: 'stored', sopClassUid: input.sopClassUid, sopInstanceUid: input.sopInstanceUid, studyInstanceUid: '1.2', seriesInstanceUid: '1.2.3', warning: text.startsWith('WARN') ? 'PatientSex coerced' : undefined };
  }
  async query(_caller: Caller, request: QueryRequest): Promise<DicomJsonDataset[]> {
    const n = request.keys['00100020']?.Value?.[0] === 'MANY' ? 5000 : 1;
    return Array.from({ length: n }, (_, i) => ({ '00100020': { vr: 'LO', Value: [`P${i}`] }, '00100010': { vr: 'PN', Value: [{ Alphabetic: '王^小东' }] } }));
  }
  async queryPage(caller: Caller, request: QueryRequest): Promise<{ results: DicomJsonDataset[]; total: number }> {
    const results = await this.query(caller, request);
    return { results, total: results.length };
  }
  async findInstances(): Promise<never[]> {
    return [];
  }
  async readInstance(): Promise<Buffer> {
    throw new Error('no instances');
  }
}

const archive = new FakeArchive();
const logger = memoryLogger();
const registered: Caller = { kind: 'ae', name: 'KNOWNAE', institutionId: 'inst-1', role: 'modality', visibleInstitutionIds: ['inst-1'], via: 'dimse' };
let open: DimseServer; // accepts unknown AEs
let strict: DimseServer; // only KNOWNAE
let small: DimseServer; // tiny max PDU

before(async () => {
  const base = {
    archive,
    nodes: { findNode: async () => undefined },
    aeTitle: 'YUNYING',
    host: '127.0.0.1',
    port: 0,
    logger,
    resolveCaller: async (ae: string) => (ae === 'KNOWNAE' ? registered : undefined),
  };
  open = await startDimseServer({ ...base, acceptUnknownAe: true });
  strict = await startDimseServer({ ...base, acceptUnknownAe: false });
  small = await startDimseServer({ ...base, acceptUnknownAe: true, maxPduLength: 4096 });
});

after(async () => {
  await Promise.all([open.close(), strict.close(), small.close()]);
});

const storageContexts = [
  { abstractSyntax: VERIFICATION_SOP_CLASS, transferSyntaxes: [IMPLICIT_LE] },
  { abstractSyntax: CT, transferSyntaxes: [EXPLICIT_LE] },
];

test('echoscu succeeds; the AC advertises our implementation and max PDU', async () => {
  const r = await runTool('echoscu', ['-d', '-aec', 'YUNYING', '127.0.0.1', String(open.port)]);
  assert.equal(r.code, 0, r.stderr + r.stdout);
  assert.match(r.stdout + r.stderr, /YUNYING_0_1/);
  assert.match(r.stdout + r.stderr, /Max Receive PDU\s*:?\s*262144|262144/);
});

test('wrong called AE is rejected with reason 7 (called AE not recognized)', async () => {
  const r = await runTool('echoscu', ['-aec', 'SOMEONE', '127.0.0.1', String(open.port)]);
  assert.notEqual(r.code, 0);
  await assert.rejects(
    openAssociation({ host: '127.0.0.1', port: open.port, callingAeTitle: 'ME', calledAeTitle: 'NOTYUNYING', presentationContexts: storageContexts }),
    (err: AssociationError) => err.rejection?.reason === REJECT.REASON_CALLED_AE_NOT_RECOGNIZED && err.rejection.result === REJECT.RESULT_PERMANENT,
  );
});

test('unknown calling AE is rejected (reason 3) unless acceptUnknownAe; registered AEs get their caller', async () => {
  await assert.rejects(
    openAssociation({ host: '127.0.0.1', port: strict.port, callingAeTitle: 'STRANGER', calledAeTitle: 'YUNYING', presentationContexts: storageContexts }),
    (err: AssociationError) => err.rejection?.reason === REJECT.REASON_CALLING_AE_NOT_RECOGNIZED && err.rejection.source === REJECT.SOURCE_SERVICE_USER,
  );
  const known = await openAssociation({ host: '127.0.0.1', port: strict.port, callingAeTitle: 'KNOWNAE', calledAeTitle: 'YUNYING', presentationContexts: storageContexts });
  const sopInstanceUid = newUid();
  const r = await known.store({ sopClassUid: CT, sopInstanceUid, transferSyntaxUid: EXPLICIT_LE, dataset: Buffer.from('DATASET-BYTES') });
  assert.equal(r.status, 0);
  await known.release();
  const stored = archive.stored.find((s) => s.sopInstanceUid === sopInstanceUid);
  assert.equal(stored?.caller.institutionId, 'inst-1');
  assert.equal(stored?.sourceAeTitle, 'KNOWNAE');

  const local = await openAssociation({ host: '127.0.0.1', port: open.port, callingAeTitle: 'STRANGER', calledAeTitle: 'YUNYING', presentationContexts: storageContexts });
  const uid2 = newUid();
  assert.equal((await local.store({ sopClassUid: CT, sopInstanceUid: uid2, transferSyntaxUid: EXPLICIT_LE, dataset: Buffer.from('DATASET-BYTES') })).status, 0);
  await local.release();
  const s2 = archive.stored.find((s) => s.sopInstanceUid === uid2);
  assert.equal(s2?.caller.role, 'administrator');
  assert.equal(s2?.caller.name, 'STRANGER');
  assert.ok(logger.lines.some((l) => l.msg === 'DIMSE association rejected'));
});

test('presentation contexts: storage TS as proposed, Q/R prefers explicit LE, unknown services rejected', async () => {
  const client = await openAssociation({
    host: '127.0.0.1', port: open.port, callingAeTitle: 'ME', calledAeTitle: 'YUNYING',
    presentationContexts: [
      { abstractSyntax: CT, transferSyntaxes: ['1.2.840.10008.1.2.4.201', EXPLICIT_LE] },
      { abstractSyntax: '1.2.840.10008.5.1.4.1.2.2.1', transferSyntaxes: [IMPLICIT_LE, EXPLICIT_LE] },
      { abstractSyntax: '1.2.840.10008.5.1.4.31', transferSyntaxes: [IMPLICIT_LE] }, // worklist: not ours
      { abstractSyntax: '1.2.840.10008.5.1.4.1.1.88.22', transferSyntaxes: ['1.2.840.10008.1.2.1.99'] },
      { abstractSyntax: CT, transferSyntaxes: ['1.2.3.4.5.6'] }, // unknown TS
      { abstractSyntax: '1.2.840.10008.5.1.4.1.2.1.2', transferSyntaxes: ['1.2.840.10008.1.2.4.50'] }, // Q/R only in LE
    ],
  });
  const byId = new Map(client.contexts.map((c) => [c.id, c]));
  assert.equal(byId.get(1)?.transferSyntax, '1.2.840.10008.1.2.4.201');
  assert.equal(byId.get(3)?.transferSyntax, EXPLICIT_LE);
  assert.equal(byId.has(5), false);
  assert.equal(byId.get(7)?.transferSyntax, '1.2.840.10008.1.2.1.99');
  assert.equal(byId.has(9), false);
  assert.equal(byId.has(11), false);
  await client.release();
});

test('C-STORE failures map to statuses with an error comment; the association stays usable', async () => {
  const client = await openAssociation({ host: '127.0.0.1', port: open.port, callingAeTitle: 'MYSCU', calledAeTitle: 'YUNYING', presentationContexts: storageContexts });
  const bad = await client.store({ sopClassUid: CT, sopInstanceUid: newUid(), transferSyntaxUid: EXPLICIT_LE, dataset: Buffer.from('GARBAGE GARBAGE GARBAGE') });
  assert.equal(bad.status, 0xa900);
  assert.ok(bad.errorComment && bad.errorComment.length <= 64, bad.errorComment);
  assert.match(bad.errorComment, /^Data set cannot be parsed/);
  assert.equal(bad.response.affectedSopClassUid, CT);

  const crash = await client.store({ sopClassUid: CT, sopInstanceUid: newUid(), transferSyntaxUid: EXPLICIT_LE, dataset: Buffer.from('CRASH!') });
  assert.equal(crash.status, 0x0110);
  assert.equal(crash.errorComment, 'Internal error');

  const warn = await client.store({ sopClassUid: CT, sopInstanceUid: newUid(), transferSyntaxUid: EXPLICIT_LE, dataset: Buffer.from('WARN') });
  assert.equal(warn.status, 0xb000);
  assert.equal(warn.errorComment, 'PatientSex coerced');

  assert.equal((await client.echo()).status, 0);
  const uid = newUid();
  const ok = await client.store({ sopClassUid: CT, sopInstanceUid: uid, transferSyntaxUid: EXPLICIT_LE, dataset: Buffer.from('GOOD') });
  assert.equal(ok.status, 0);
  assert.equal(ok.response.affectedSopInstanceUid, uid);
  await client.release();
});

test('large data sets are fragmented both ways and arrive byte-identical', async () => {
  const payload = Buffer.alloc(3 * 1024 * 1024 + 17);
  for (let i = 0; i < payload.length; i += 1) payload[i] = (i * 31) & 0xff;
  for (const server of [open, small]) {
    const client = await openAssociation({ host: '127.0.0.1', port: server.port, callingAeTitle: 'BIG', calledAeTitle: 'YUNYING', presentationContexts: storageContexts, maxPduLength: 4096 });
    const uid = newUid();
    assert.equal((await client.store({ sopClassUid: CT, sopInstanceUid: uid, transferSyntaxUid: EXPLICIT_LE, dataset: payload })).status, 0);
    await client.release();
    assert.ok(archive.stored.find((s) => s.sopInstanceUid === uid)?.bytes.equals(payload));
  }
});

test('storescu sends every ct-same-image transfer syntax in one association, each as proposed', async () => {
  const dir = samplePath('transfer-syntax/ct-same-image');
  const files = readdirSync(dir).filter((f) => f.endsWith('.dcm')).sort();
  const before = archive.stored.length;
  const tmp = mkdtempSync(path.join(tmpdir(), 'dimse-scp-'));
  const config = path.join(tmp, 'storescu.cfg');
  writeFileSync(config, storescuConfig(files.map((f) => ({ sopClassUid: CT, transferSyntaxUid: f.split('_')[1] }))));
  const r = await runTool('storescu', ['-xf', config, 'PROFILE', '-aec', 'YUNYING', '-aet', 'STORESCU', '127.0.0.1', String(open.port), ...files.map((f) => path.join(dir, f))]);
  rmSync(tmp, { recursive: true, force: true });
  assert.equal(r.code, 0, r.stderr);
  const got = archive.stored.slice(before).map((s) => s.transferSyntaxUid);
  const expected = files.map((f) => f.split('_')[1]);
  assert.deepEqual(got, expected);
});

test('a garbage byte stream gets an A-ABORT and the connection closes', async () => {
  const socket = connect({ host: '127.0.0.1', port: open.port });
  const received: Buffer[] = [];
  socket.on('data', (d: Buffer) => received.push(d));
  await new Promise((resolve) => socket.once('connect', resolve));
  socket.write(Buffer.from([0x09, 0, 0, 0, 0, 2, 0, 0]));
  await new Promise((resolve) => socket.once('close', resolve));
  const reader = new PduReader();
  reader.push(Buffer.concat(received));
  const pdu = reader.next();
  assert.equal(pdu?.type, PDU_TYPE.ABORT);
});

test('P-DATA before association, and P-DATA on an unknown context, are aborted', async () => {
  const socket = connect({ host: '127.0.0.1', port: open.port });
  const received: Buffer[] = [];
  socket.on('data', (d: Buffer) => received.push(d));
  await new Promise((resolve) => socket.once('connect', resolve));
  socket.write(encodeAssociateRq({
    protocolVersion: 1, calledAeTitle: 'YUNYING', callingAeTitle: 'RAW', applicationContext: APPLICATION_CONTEXT_NAME,
    presentationContexts: [{ id: 1, abstractSyntax: VERIFICATION_SOP_CLASS, transferSyntaxes: [IMPLICIT_LE] }],
    userInformation: { maxPduLength: 16384, roleSelections: [], other: [] },
  }));
  // a PDV on context 99 which was never proposed
  socket.write(Buffer.from([0x04, 0, 0, 0, 0, 8, 0, 0, 0, 4, 99, 3, 0, 0]));
  await new Promise((resolve) => socket.once('close', resolve));
  const reader = new PduReader();
  reader.push(Buffer.concat(received));
  const first = reader.next();
  assert.equal(first?.type, PDU_TYPE.ASSOCIATE_AC);
  assert.equal((decodePdu(first.type, first.body) as AssociateAc).presentationContexts[0].result, 0);
  assert.equal(reader.next()?.type, PDU_TYPE.ABORT);
});

test('C-FIND: pending results carry the level and UTF-8 names; C-CANCEL stops the stream with 0xFE00', async () => {
  const FIND = '1.2.840.10008.5.1.4.1.2.1.1';
  const client = await openAssociation({ host: '127.0.0.1', port: open.port, callingAeTitle: 'FINDER', calledAeTitle: 'YUNYING', presentationContexts: [{ abstractSyntax: FIND, transferSyntaxes: [IMPLICIT_LE] }] });
  const pc = client.contexts[0];
  const identifier = (id: string): Buffer => encodeDataset({ '00080052': { vr: 'CS', Value: ['PATIENT'] }, '00100010': { vr: 'PN' }, '00100020': { vr: 'LO', Value: [id] } }, IMPLICIT_LE);

  const one: DicomJsonDataset[] = [];
  const single = await client.request(pc.id, { commandField: 0x0020, affectedSopClassUid: FIND, priority: 0, commandDataSetType: 0 }, identifier('ONE'), (m) => {
    one.push(toDicomJson(parseDicom(m.dataset as Buffer, { transferSyntaxUid: IMPLICIT_LE })));
  });
  assert.equal(single.status, 0);
  assert.equal(one.length, 1);
  assert.deepEqual(one[0]['00080052'].Value, ['PATIENT']);
  assert.deepEqual(one[0]['00100010'].Value, [{ Alphabetic: '王^小东' }]);

  let pending = 0;
  const final = await client.request(pc.id, { commandField: 0x0020, affectedSopClassUid: FIND, priority: 0, commandDataSetType: 0 }, identifier('MANY'), (m) => {
    pending += 1;
    if (pending === 1) void client.association.send(pc.id, { commandField: 0x0fff, messageIdBeingRespondedTo: m.command.messageIdBeingRespondedTo, commandDataSetType: 0x0101 });
  });
  assert.equal(final.status, 0xfe00);
  assert.ok(pending < 5000, `${pending} pending responses`);

  const bad = await client.request(pc.id, { commandField: 0x0020, affectedSopClassUid: FIND, priority: 0, commandDataSetType: 0 }, encodeDataset({ '00080052': { vr: 'CS', Value: ['FRAME'] } }, IMPLICIT_LE));
  assert.equal(bad.status, 0xa900);
  const garbage = await client.request(pc.id, { commandField: 0x0020, affectedSopClassUid: FIND, priority: 0, commandDataSetType: 0 }, Buffer.from([0x08, 0, 0x52, 0, 0xff, 0xff, 0xff, 0x7f, 1]));
  assert.ok(garbage.status === 0xc000 || garbage.status === 0xa900, `0x${garbage.status.toString(16)}`);
  assert.equal((await client.request(pc.id, { commandField: 0x0020, affectedSopClassUid: FIND, priority: 0, commandDataSetType: 0 }, identifier('ONE'))).status, 0);
  await client.release();
});

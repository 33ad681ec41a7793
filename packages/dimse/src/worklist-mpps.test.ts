/**
 * The SCP core's Modality Worklist FIND and MPPS N-CREATE/N-SET over a real socket, with
 * handlers of the test's own and our SCU: negotiation only with a handler, the answer in
 * the request's character set (GB18030 or UTF-8), C-CANCEL, DIMSE-N statuses.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeDataset, parseDicom, toDicomJson, type DicomJsonDataset } from '@yunying/dicom';
import type { DimseLogger } from './association.ts';
import { COMMAND, DATASET_PRESENT, NO_DATASET } from './dimse-message.ts';
import { MODALITY_WORKLIST_FIND, MPPS_SOP_CLASS, startDimseServer, type DimseServer, type MppsRequest, type WorklistQuery } from './scp.ts';
import { openAssociation } from './scu.ts';
import { DIMSE_STATUS, DimseStatusError } from './status.ts';

const EXPLICIT_LE = '1.2.840.10008.1.2.1';
const quiet: DimseLogger = { info() {}, warn() {}, error() {}, debug() {} };

let server: DimseServer;
let bare: DimseServer;
const queries: WorklistQuery[] = [];
const performed = new Map<string, DicomJsonDataset>();

const ITEM: DicomJsonDataset = {
  '00100010': { vr: 'PN', Value: [{ Alphabetic: 'ZHANG^SAN', Ideographic: '张^三' }] },
  '00100020': { vr: 'LO', Value: ['P-001'] },
  '00321060': { vr: 'LO', Value: ['胸部CT平扫'] },
};

before(async () => {
  server = await startDimseServer<string>({
    aeTitle: 'CORE',
    host: '127.0.0.1',
    port: 0,
    logger: quiet,
    aePolicy: { admit: async ({ callingAeTitle }) => callingAeTitle },
    worklist: {
      async find(_peer, query) {
        queries.push(query);
        return Array.from({ length: 20 }, () => ITEM);
      },
    },
    mpps: {
      async create(_peer, request: MppsRequest) {
        if (performed.has(request.sopInstanceUid)) throw new DimseStatusError(DIMSE_STATUS.DUPLICATE_SOP_INSTANCE, 'exists');
        performed.set(request.sopInstanceUid, request.dataset);
      },
      async set(_peer, request: MppsRequest) {
        if (!performed.has(request.sopInstanceUid)) throw new DimseStatusError(DIMSE_STATUS.NO_SUCH_SOP_INSTANCE, 'unknown');
        performed.set(request.sopInstanceUid, { ...performed.get(request.sopInstanceUid), ...request.dataset });
      },
    },
  });
  bare = await startDimseServer<string>({ aeTitle: 'CORE', host: '127.0.0.1', port: 0, logger: quiet, aePolicy: { admit: async ({ callingAeTitle }) => callingAeTitle } });
});

after(async () => {
  await server?.close();
  await bare?.close();
});

const contexts = [
  { abstractSyntax: MODALITY_WORKLIST_FIND, transferSyntaxes: [EXPLICIT_LE] },
  { abstractSyntax: MPPS_SOP_CLASS, transferSyntaxes: [EXPLICIT_LE] },
];

test('worklist and MPPS are accepted only with their handlers', async () => {
  const client = await openAssociation({ host: '127.0.0.1', port: bare.port, callingAeTitle: 'MOD', calledAeTitle: 'CORE', presentationContexts: contexts });
  assert.equal(client.contexts.length, 0);
  await client.release();
});

test('a worklist C-FIND in GB18030 is answered in GB18030; in UTF-8 or the default repertoire, in UTF-8', async () => {
  for (const charset of ['GB18030', 'ISO_IR 192', undefined]) {
    const client = await openAssociation({ host: '127.0.0.1', port: server.port, callingAeTitle: 'MOD', calledAeTitle: 'CORE', presentationContexts: contexts });
    const pc = client.findContext(MODALITY_WORKLIST_FIND)!;
    // without a declared character set the key is ASCII (the default repertoire)
    const name = charset ? { Ideographic: '张*' } : { Alphabetic: 'ZHANG*' };
    const identifier: DicomJsonDataset = { ...(charset ? { '00080005': { vr: 'CS', Value: [charset] } } : {}), '00100010': { vr: 'PN', Value: [name] }, '00400100': { vr: 'SQ', Value: [{ '00080060': { vr: 'CS', Value: ['CT'] } }] } };
    const answers: Buffer[] = [];
    const final = await client.request(pc.id, { commandField: COMMAND.C_FIND_RQ, affectedSopClassUid: MODALITY_WORKLIST_FIND, priority: 0, commandDataSetType: DATASET_PRESENT }, encodeDataset(identifier, EXPLICIT_LE, { specificCharacterSet: charset }), (m) => answers.push(m.dataset!));
    assert.equal(final.status, DIMSE_STATUS.SUCCESS);
    assert.equal(answers.length, 20);
    const query = queries.at(-1)!;
    assert.deepEqual(query.specificCharacterSet, charset ? [charset] : []);
    assert.deepEqual(query.keys['00100010']!.Value, [name], 'the key arrives decoded');
    assert.equal(query.keys['00080005'], undefined);
    const answer = answers[0]!;
    const expectedBytes = charset === 'GB18030' ? Buffer.from([0xd5, 0xc5]) : Buffer.from('张', 'utf8');
    assert.ok(answer.includes(expectedBytes), `张 written in ${charset ?? 'UTF-8'}`);
    const decoded = toDicomJson(parseDicom(answer, { transferSyntaxUid: EXPLICIT_LE }));
    assert.deepEqual(decoded['00080005']!.Value, [charset === 'GB18030' ? 'GB18030' : 'ISO_IR 192']);
    assert.deepEqual(decoded['00100010']!.Value, [{ Alphabetic: 'ZHANG^SAN', Ideographic: '张^三' }]);
    assert.equal(decoded['00321060']!.Value![0], '胸部CT平扫');
    await client.release();
  }
});

test('MPPS: N-CREATE, a second N-CREATE of the same instance (0111), N-SET, N-SET of an unknown instance (0112)', async () => {
  const client = await openAssociation({ host: '127.0.0.1', port: server.port, callingAeTitle: 'MOD', calledAeTitle: 'CORE', presentationContexts: contexts });
  const pc = client.findContext(MPPS_SOP_CLASS)!;
  const uid = `2.25.${Date.now()}`;
  const inProgress = encodeDataset({ '00400252': { vr: 'CS', Value: ['IN PROGRESS'] }, '00100010': { vr: 'PN', Value: [{ Ideographic: '张^三' }] } }, EXPLICIT_LE);
  const created = await client.request(pc.id, { commandField: COMMAND.N_CREATE_RQ, affectedSopClassUid: MPPS_SOP_CLASS, affectedSopInstanceUid: uid, commandDataSetType: DATASET_PRESENT }, inProgress);
  assert.equal(created.status, DIMSE_STATUS.SUCCESS);
  assert.equal(created.response.commandField, COMMAND.N_CREATE_RSP);
  assert.equal(created.response.affectedSopInstanceUid, uid);
  assert.equal(created.response.affectedSopClassUid, MPPS_SOP_CLASS);
  const again = await client.request(pc.id, { commandField: COMMAND.N_CREATE_RQ, affectedSopClassUid: MPPS_SOP_CLASS, affectedSopInstanceUid: uid, commandDataSetType: DATASET_PRESENT }, inProgress);
  assert.equal(again.status, DIMSE_STATUS.DUPLICATE_SOP_INSTANCE);
  // an N-CREATE without an instance UID gets one from the SCP
  const named = await client.request(pc.id, { commandField: COMMAND.N_CREATE_RQ, affectedSopClassUid: MPPS_SOP_CLASS, commandDataSetType: DATASET_PRESENT }, inProgress);
  assert.equal(named.status, DIMSE_STATUS.SUCCESS);
  assert.match(named.response.affectedSopInstanceUid ?? '', /^2\.25\.\d+$/);
  assert.ok(performed.has(named.response.affectedSopInstanceUid!));

  const completed = encodeDataset({ '00400252': { vr: 'CS', Value: ['COMPLETED'] } }, EXPLICIT_LE);
  const set = await client.request(pc.id, { commandField: COMMAND.N_SET_RQ, requestedSopClassUid: MPPS_SOP_CLASS, requestedSopInstanceUid: uid, commandDataSetType: DATASET_PRESENT }, completed);
  assert.equal(set.status, DIMSE_STATUS.SUCCESS);
  assert.equal(set.response.commandField, COMMAND.N_SET_RSP);
  assert.equal(set.response.affectedSopInstanceUid, uid);
  assert.equal(performed.get(uid)!['00400252']!.Value![0], 'COMPLETED');
  assert.deepEqual(performed.get(uid)!['00100010']!.Value, [{ Ideographic: '张^三' }]);
  const unknown = await client.request(pc.id, { commandField: COMMAND.N_SET_RQ, requestedSopClassUid: MPPS_SOP_CLASS, requestedSopInstanceUid: '2.25.1', commandDataSetType: DATASET_PRESENT }, completed);
  assert.equal(unknown.status, DIMSE_STATUS.NO_SUCH_SOP_INSTANCE);
  // N-SET on the worklist context is not MPPS
  const wrong = await client.request(client.findContext(MODALITY_WORKLIST_FIND)!.id, { commandField: COMMAND.N_SET_RQ, requestedSopClassUid: MPPS_SOP_CLASS, requestedSopInstanceUid: uid, commandDataSetType: NO_DATASET });
  assert.equal(wrong.status, DIMSE_STATUS.NO_SUCH_SOP_CLASS);
  await client.release();
});

/**
 * The SCP core with handlers of its own (no archive): the AE policy decides who associates,
 * C-STORE reaches the store handler, DICOM over TLS on both sides, and the bounds of a
 * received data set (spilled to a file past the threshold, dropped past the maximum).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { AssociationError, type DimseLogger } from './association.ts';
import { COMMAND, DATASET_PRESENT, MessageAssembler, discardSpilled, encodeCommand } from './dimse-message.ts';
import { startDimseServer, type DimseServer, type IncomingStore } from './scp.ts';
import { openAssociation, VERIFICATION_SOP_CLASS } from './scu.ts';
import { DIMSE_STATUS } from './status.ts';

const CT = '1.2.840.10008.5.1.4.1.1.2';
const EXPLICIT_LE = '1.2.840.10008.1.2.1';
const quiet: DimseLogger = { info() {}, warn() {}, error() {}, debug() {} };

let work: string;
let key: Buffer;
let cert: Buffer;
let server: DimseServer;
const received: { peer: string; request: IncomingStore; bytes: Buffer }[] = [];

before(async () => {
  work = mkdtempSync(path.join(tmpdir(), 'dimse-core-'));
  // a self-signed certificate for 127.0.0.1, made for this run
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', path.join(work, 'key.pem'), '-out', path.join(work, 'cert.pem')], { stdio: 'ignore' });
  key = readFileSync(path.join(work, 'key.pem'));
  cert = readFileSync(path.join(work, 'cert.pem'));
  server = await startDimseServer<string>({
    aeTitle: 'CORE',
    host: '127.0.0.1',
    port: 0,
    logger: quiet,
    tls: { key, cert },
    // only MODALITY may associate; the peer handlers see is a name of the policy's choosing
    aePolicy: { admit: async ({ callingAeTitle }) => (callingAeTitle === 'MODALITY' ? `peer:${callingAeTitle}` : undefined) },
    store: {
      async store(peer, request) {
        received.push({ peer, request, bytes: await request.dataset.read() });
        return {};
      },
    },
  });
});

after(async () => {
  await server?.close();
  rmSync(work, { recursive: true, force: true });
});

test('over TLS: the AE policy admits MODALITY, C-ECHO and C-STORE reach the handlers with its peer', async () => {
  const client = await openAssociation({
    host: '127.0.0.1',
    port: server.port,
    callingAeTitle: 'MODALITY',
    calledAeTitle: 'CORE',
    presentationContexts: [{ abstractSyntax: VERIFICATION_SOP_CLASS, transferSyntaxes: [EXPLICIT_LE] }, { abstractSyntax: CT, transferSyntaxes: [EXPLICIT_LE] }],
    tls: { ca: cert },
  });
  try {
    assert.equal(client.association.socket.constructor.name, 'TLSSocket');
    assert.equal((await client.echo()).status, DIMSE_STATUS.SUCCESS);
    const dataset = Buffer.from([0x08, 0x00, 0x16, 0x00, 0x55, 0x49, 0x02, 0x00, 0x31, 0x00]);
    const response = await client.store({ sopClassUid: CT, sopInstanceUid: '2.25.1', transferSyntaxUid: EXPLICIT_LE, dataset });
    assert.equal(response.status, DIMSE_STATUS.SUCCESS);
    assert.equal(received.length, 1);
    assert.equal(received[0].peer, 'peer:MODALITY');
    assert.equal(received[0].request.sopInstanceUid, '2.25.1');
    assert.equal(received[0].request.callingAeTitle, 'MODALITY');
    assert.ok(received[0].bytes.equals(dataset));
  } finally {
    await client.release();
  }
});

test('over TLS: a calling AE the policy does not admit is rejected', async () => {
  await assert.rejects(
    openAssociation({ host: '127.0.0.1', port: server.port, callingAeTitle: 'STRANGER', calledAeTitle: 'CORE', presentationContexts: [{ abstractSyntax: VERIFICATION_SOP_CLASS, transferSyntaxes: [EXPLICIT_LE] }], tls: { ca: cert } }),
    (err: unknown) => err instanceof AssociationError && err.rejection?.reason === 3,
  );
});

test('without TLS, the TLS port does not associate', async () => {
  await assert.rejects(openAssociation({ host: '127.0.0.1', port: server.port, callingAeTitle: 'MODALITY', calledAeTitle: 'CORE', presentationContexts: [{ abstractSyntax: VERIFICATION_SOP_CLASS, transferSyntaxes: [EXPLICIT_LE] }], connectTimeoutMs: 3000 }), AssociationError);
});

function pdv(isCommand: boolean, isLast: boolean, data: Buffer) {
  return { presentationContextId: 1, isCommand, isLast, data };
}

test('assembler: a data set over the spill threshold arrives as a temporary file with its bytes; one over the maximum is dropped with its size', async () => {
  const command = encodeCommand({ commandField: COMMAND.C_STORE_RQ, messageId: 1, affectedSopClassUid: CT, affectedSopInstanceUid: '2.25.2', commandDataSetType: DATASET_PRESENT });
  const spillDir = path.join(work, 'spill');
  mkdirSync(spillDir);
  const assembler = new MessageAssembler({ spillBytes: 1000, maxBytes: 5000, spillDir });
  const chunk = (n: number, fill: number) => Buffer.alloc(n, fill);

  // 3 × 600 bytes: memory, then over 1000 → file
  assert.equal(assembler.push(pdv(true, true, command)), undefined);
  assert.equal(assembler.push(pdv(false, false, chunk(600, 1))), undefined);
  assert.equal(assembler.push(pdv(false, false, chunk(600, 2))), undefined);
  const spilledMessage = assembler.push(pdv(false, true, chunk(600, 3)));
  assert.ok(spilledMessage?.spilled);
  assert.equal(spilledMessage.dataset, undefined);
  await spilledMessage.spilled.written;
  assert.ok(readFileSync(spilledMessage.spilled.path).equals(Buffer.concat([chunk(600, 1), chunk(600, 2), chunk(600, 3)])));
  assert.equal(spilledMessage.spilled.size, 1800);
  await discardSpilled(spilledMessage.spilled);

  // 4 × 1500 bytes: over 5000 → dropped, the file removed, the size told
  assembler.push(pdv(true, true, command));
  for (let i = 0; i < 3; i += 1) assert.equal(assembler.push(pdv(false, false, chunk(1500, i))), undefined);
  const dropped = assembler.push(pdv(false, true, chunk(1500, 9)));
  assert.equal(dropped?.oversizeBytes, 6000);
  assert.equal(dropped?.dataset, undefined);
  assert.equal(dropped?.spilled, undefined);

  // below the threshold: in memory, as without bounds
  assembler.push(pdv(true, true, command));
  const small = assembler.push(pdv(false, true, chunk(10, 7)));
  assert.ok(small?.dataset?.equals(chunk(10, 7)));
  await assembler.settled; // the dropped data set's file is removed in the background
  assert.deepEqual(readdirSync(spillDir), []);
});

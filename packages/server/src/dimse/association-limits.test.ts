/**
 * Issue 12, finding 9: idle DIMSE associations must not lock out every modality. A calling
 * AE and a remote address may hold only so many associations at once (the next one gets an
 * A-ASSOCIATE-RJ "local limit exceeded", and an audit record), and an association that says
 * nothing for YUNYING_DICOM_IDLE_SECONDS is aborted. Over the real server, with dcmtk's
 * echoscu as the modality and raw sockets as the squatter.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { startListeningServer, type ListeningServer } from '../test-support/listening-server.ts';
import { TEST_ADMIN_PASSWORD } from '@yunying/testing/admin-auth';
import { APPLICATION_CONTEXT_NAME, PDU_TYPE, PduReader, encodeAssociateRq, VERIFICATION_SOP_CLASS } from '@yunying/dimse';
import { runTool } from '@yunying/testing/dcmtk';

const IMPLICIT_LE = '1.2.840.10008.1.2';

interface RawPeer {
  socket: Socket;
  /** every PDU type the server sent, in order */
  pduTypes: number[];
  closed: Promise<void>;
}

/** A TCP connection to the DICOM port that sends nothing (yet). */
async function rawConnection(port: number): Promise<RawPeer> {
  const socket = connect({ host: '127.0.0.1', port });
  const reader = new PduReader();
  const pduTypes: number[] = [];
  socket.on('data', (chunk: Buffer) => {
    reader.push(chunk);
    for (let pdu = reader.next(); pdu; pdu = reader.next()) pduTypes.push(pdu.type);
  });
  socket.on('error', () => {});
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  await new Promise((resolve) => socket.once('connect', resolve));
  return { socket, pduTypes, closed };
}

/** An association that is accepted and then sits idle, as a squatter's would. */
async function idleAssociation(port: number, callingAeTitle: string): Promise<RawPeer> {
  const peer = await rawConnection(port);
  peer.socket.write(encodeAssociateRq({
    protocolVersion: 1, calledAeTitle: 'YUNYING', callingAeTitle, applicationContext: APPLICATION_CONTEXT_NAME,
    presentationContexts: [{ id: 1, abstractSyntax: VERIFICATION_SOP_CLASS, transferSyntaxes: [IMPLICIT_LE] }],
    userInformation: { maxPduLength: 16384, roleSelections: [], other: [] },
  }));
  await new Promise<void>((resolve, reject) => {
    // rawConnection's listener, registered first, has already decoded the chunk
    const check = (): void => {
      if (peer.pduTypes.length === 0) return;
      peer.socket.off('data', check);
      if (peer.pduTypes[0] === PDU_TYPE.ASSOCIATE_AC) resolve();
      else reject(new Error(`association of ${callingAeTitle} not accepted (PDU type ${peer.pduTypes[0]})`));
    };
    peer.socket.on('data', check);
    peer.closed.then(() => reject(new Error(`connection of ${callingAeTitle} closed before A-ASSOCIATE-AC`)));
  });
  return peer;
}

async function echoscu(server: ListeningServer, callingAeTitle: string): Promise<{ code: number | null; output: string }> {
  const result = await runTool('echoscu', ['-v', '-aet', callingAeTitle, '-aec', 'YUNYING', '127.0.0.1', String(server.dicomPort)]);
  return { code: result.code, output: result.stdout + result.stderr };
}

interface AuditRow {
  action: string;
  outcome: string;
  actor_name: string;
  remote_address: string | null;
  via: string;
  object_id: string | null;
  details: Record<string, unknown>;
}

async function auditEvents(server: ListeningServer, action: string): Promise<AuditRow[]> {
  const login = await fetch(`${server.baseUrl}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'admin', password: TEST_ADMIN_PASSWORD }) });
  const { token } = (await login.json()) as { token: string };
  const response = await fetch(`${server.baseUrl}/api/v1/audit-events?action=${encodeURIComponent(action)}&limit=1000`, { headers: { authorization: `Bearer ${token}` } });
  assert.equal(response.status, 200, await response.clone().text());
  return (await response.json()) as AuditRow[];
}

describe('association limits per calling AE and per address', () => {
  let server: ListeningServer;
  const held: RawPeer[] = [];

  before(async () => {
    server = await startListeningServer({ YUNYING_DICOM_MAX_ASSOCIATIONS_PER_AE: '2', YUNYING_DICOM_MAX_ASSOCIATIONS_PER_ADDRESS: '4' });
  });

  after(async () => {
    for (const peer of held) peer.socket.destroy();
    await server.close();
  });

  test('an AE holding its limit is refused with "local limit exceeded"; another AE still gets through; the refusal is audited', async () => {
    held.push(await idleAssociation(server.dicomPort, 'SQUATTER'), await idleAssociation(server.dicomPort, 'SQUATTER'));

    const refused = await echoscu(server, 'SQUATTER');
    assert.notEqual(refused.code, 0, refused.output);
    assert.match(refused.output, /Rejected Transient/i, refused.output);
    assert.match(refused.output, /Local Limit Exceeded/i, refused.output);

    const other = await echoscu(server, 'CT_ROOM_2');
    assert.equal(other.code, 0, other.output);

    const rows = (await auditEvents(server, 'association.refused')).filter((row) => row.actor_name === 'SQUATTER');
    assert.equal(rows.length, 1, JSON.stringify(rows));
    assert.equal(rows[0]!.outcome, 'failure');
    assert.equal(rows[0]!.via, 'dimse');
    assert.equal(rows[0]!.remote_address, '127.0.0.1');
    assert.equal(rows[0]!.object_id, 'SQUATTER');
    assert.equal(rows[0]!.details.reason, 'calling-ae-limit');
  });

  test('an address holding its limit is refused whatever calling AE title it uses, and audited', async () => {
    // two associations of SQUATTER are still held; two more under another title fill the address
    held.push(await idleAssociation(server.dicomPort, 'SQUATTER_2'), await idleAssociation(server.dicomPort, 'SQUATTER_3'));
    const refused = await echoscu(server, 'FRESH_TITLE');
    assert.notEqual(refused.code, 0, refused.output);
    assert.match(refused.output, /Local Limit Exceeded/i, refused.output);

    const rows = (await auditEvents(server, 'association.refused')).filter((row) => row.actor_name === 'FRESH_TITLE');
    assert.equal(rows.length, 1, JSON.stringify(rows));
    assert.equal(rows[0]!.details.reason, 'address-limit');
    assert.equal(rows[0]!.remote_address, '127.0.0.1');
  });

  test('closing the held associations frees the AE and the address again', async () => {
    for (const peer of held.splice(0)) {
      peer.socket.destroy();
      await peer.closed;
    }
    // the server sees the close a moment after the client: the freed slots are counted on 'close'
    let result = await echoscu(server, 'SQUATTER');
    for (let attempt = 0; result.code !== 0 && attempt < 20; attempt += 1) result = await echoscu(server, 'SQUATTER');
    assert.equal(result.code, 0, result.output);
  });
});

describe('idle associations and silent connections are closed by the server', () => {
  let server: ListeningServer;

  before(async () => {
    server = await startListeningServer({ YUNYING_DICOM_IDLE_SECONDS: '1' });
  });

  after(async () => {
    await server.close();
  });

  test('an accepted association that stays silent is aborted after YUNYING_DICOM_IDLE_SECONDS', { timeout: 20_000 }, async () => {
    const peer = await idleAssociation(server.dicomPort, 'SLEEPER');
    await peer.closed;
    assert.deepEqual(peer.pduTypes, [PDU_TYPE.ASSOCIATE_AC, PDU_TYPE.ABORT]);
  });

  test('a connection that never asks for an association is closed as well', { timeout: 20_000 }, async () => {
    const peer = await rawConnection(server.dicomPort);
    await peer.closed;
    assert.deepEqual(peer.pduTypes, []);
  });

  test('a modality that talks is not cut off', async () => {
    const result = await echoscu(server, 'CT_ROOM_1');
    assert.equal(result.code, 0, result.output);
  });
});

describe('every refused association leaves an audit record', () => {
  let server: ListeningServer;

  before(async () => {
    // as on a DICOM port open to the network: only registered AEs
    server = await startListeningServer({ YUNYING_DICOM_ACCEPT_UNKNOWN_AE: 'false' });
  });

  after(async () => {
    await server.close();
  });

  test('an unregistered calling AE and a wrong called AE title are refused and audited with the reason', async () => {
    assert.notEqual((await echoscu(server, 'STRANGER')).code, 0);
    const wrongCalled = await runTool('echoscu', ['-aet', 'STRANGER_2', '-aec', 'NOT_US', '127.0.0.1', String(server.dicomPort)]);
    assert.notEqual(wrongCalled.code, 0);
    const rows = await auditEvents(server, 'association.refused');
    const stranger = rows.find((row) => row.actor_name === 'STRANGER');
    assert.equal(stranger?.details.reason, 'calling-ae-not-recognized', JSON.stringify(rows));
    assert.equal(stranger?.remote_address, '127.0.0.1');
    const misdirected = rows.find((row) => row.actor_name === 'STRANGER_2');
    assert.equal(misdirected?.details.reason, 'called-ae-not-recognized', JSON.stringify(rows));
    assert.equal(misdirected?.details.calledAeTitle, 'NOT_US');
  });
});

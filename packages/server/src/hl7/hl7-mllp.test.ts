/**
 * HL7 v2 over MLLP end to end on real TCP sockets (issue 15 item 8), on SQLite and
 * PostgreSQL. A small MLLP client in this file plays the hospital's HIS sending ORM^O01
 * orders; a small MLLP server plays the HIS receiving ORU^R01 reports. Both are written here
 * on node:net, independently of the module's own framer.
 *
 * - ORM^O01 in (UTF-8 and GB 18030, hanzi names) → the order exists at the facility's
 *   institution and is on the Modality Worklist (findscu -W); a resend is not a second order;
 *   CA cancels.
 * - Bad input → AR with the reason in MSA-3/ERR, never a crash: not MLLP, not HL7, no PID,
 *   unknown facility, unsupported type, duplicate accession, too large.
 * - The order's images arrive, the report is signed (POST /api/v1/reports/{id}/sign): the
 *   HIS receives an ORU^R01 with accession, procedure, findings and impression; it answers AE
 *   first, and the same message (same MSH-10) comes again until it answers AA; the state is
 *   on GET /api/v1/hl7/outbound; an addendum goes as result status C.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import iconv from 'iconv-lite';
import { runTool } from '@yunying/testing/dcmtk';
import { startListeningServer, type ListeningServer } from '../test-support/listening-server.ts';
import { TEST_ADMIN_PASSWORD } from '../test-support/admin-auth.ts';
import { makeSyntheticInstance } from '../test-support/synthetic-dicom.ts';
import { stowBody } from '../dicomweb/test-support.ts';
import { callHttp, type HttpAnswer } from '../test-support/http-client.ts';
import { createTestDatabase, type TestDatabase } from '../test-support/postgres.ts';
import { systemCaller } from '../access/caller.ts';
import { ORDERS } from '../orders/module.ts';
import { HL7 } from './module.ts';

const PASSWORD = 'Correct-Horse-9';
const VT = 0x0b;
const FS = 0x1c;
const CR = 0x0d;

/** The HIS's side of MLLP, minimal: a frame is VT … FS CR. */
function frame(body: Buffer | string): Buffer {
  return Buffer.concat([Buffer.of(VT), typeof body === 'string' ? Buffer.from(body, 'utf8') : body, Buffer.of(FS, CR)]);
}

/** Splits what arrived into complete frames' bodies; returns the rest. */
function unframe(buffer: Buffer): { bodies: Buffer[]; rest: Buffer } {
  const bodies: Buffer[] = [];
  let rest = buffer;
  for (;;) {
    const start = rest.indexOf(VT);
    const end = rest.indexOf(Buffer.of(FS, CR));
    if (start === -1 || end === -1 || end < start) return { bodies, rest };
    bodies.push(rest.subarray(start + 1, end));
    rest = rest.subarray(end + 2);
  }
}

/** Fields of a segment of an HL7 text, by field number (MSH-10 is fields('MSH')[10]). */
function fields(text: string, segment: string, nth = 0): string[] {
  const line = text.split('\r').filter((l) => l.startsWith(`${segment}|`))[nth];
  if (!line) return [];
  const parts = line.split('|');
  return segment === 'MSH' ? ['MSH', '|', ...parts.slice(1)] : parts;
}

/** Sends messages on one connection and collects an ACK per message (and whether the peer closed). */
async function hisSend(port: number, payloads: Buffer[], expectAcks = payloads.length): Promise<{ acks: string[]; closed: boolean }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    let buffer: Buffer = Buffer.alloc(0);
    const acks: string[] = [];
    let closed = false;
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`only ${acks.length} of ${expectAcks} ACKs within 15 s`));
    }, 15_000);
    const done = () => {
      clearTimeout(timer);
      socket.destroy();
      resolve({ acks, closed });
    };
    socket.on('connect', () => {
      for (const payload of payloads) socket.write(payload);
    });
    socket.on('data', (data) => {
      const { bodies, rest } = unframe(Buffer.concat([buffer, data]));
      buffer = rest;
      acks.push(...bodies.map((body) => body.toString('utf8')));
      if (acks.length >= expectAcks) setTimeout(done, 100);
    });
    socket.on('end', () => (closed = true));
    socket.on('close', () => {
      closed = true;
      if (acks.length >= expectAcks) done();
    });
    socket.on('error', reject);
  });
}

/** The HIS's ORU receiver: answers each message with the next code of `script` (then AA). */
async function startHisReceiver(): Promise<{ port: number; received: string[]; script: string[]; close(): Promise<void>; waitFor(count: number, timeoutMs?: number): Promise<void> }> {
  const received: string[] = [];
  const script: string[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    let buffer: Buffer = Buffer.alloc(0);
    socket.on('data', (data) => {
      const { bodies, rest } = unframe(Buffer.concat([buffer, data]));
      buffer = rest;
      for (const body of bodies) {
        const text = body.toString('utf8');
        received.push(text);
        const code = script.shift() ?? 'AA';
        const controlId = fields(text, 'MSH')[10];
        socket.write(frame(`MSH|^~\\&|HIS|KSZSWSY|YUNYING|ks-county|20261204120000||ACK^R01^ACK|ACK${received.length}|P|2.5.1\rMSA|${code}|${controlId}|${code === 'AA' ? 'ok' : 'database busy'}\r`));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    received,
    script,
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
    async waitFor(count, timeoutMs = 20_000) {
      const deadline = Date.now() + timeoutMs;
      while (received.length < count) {
        if (Date.now() > deadline) throw new Error(`the HIS received ${received.length} of ${count} messages`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    },
  };
}

let sequence = 0;
function orm(options: { control?: string; facility?: string; placer: string; accession?: string; patientId?: string; name?: string; charset?: string; type?: string; withoutPid?: boolean; controlId?: string; procedure?: string }): string {
  sequence += 1;
  const segments = [
    `MSH|^~\\&|HIS|${options.facility ?? 'KSZSWSY'}|YUNYING|YUNYING|20261204093000||${options.type ?? 'ORM^O01^ORM_O01'}|${options.controlId ?? `MSG${Date.now()}${sequence}`}|P|2.5.1|||AL|NE||${options.charset ?? 'UNICODE UTF-8'}`,
    ...(options.withoutPid ? [] : [`PID|1||${options.patientId ?? 'P-HL7-001'}^^^KSZSWSY^MR||${options.name ?? 'Zhang^San^^^^^^A~张^三^^^^^^I'}||19900101|M`]),
    'PV1|1|O',
    `ORC|${options.control ?? 'NW'}|${options.placer}|||SC`,
    `OBR|1|${options.placer}||${options.procedure ?? 'CT0101^胸部CT平扫^99KSZSWSY'}||||||||||||||${options.accession ?? ''}||||||CT|||^^^202612041030^^R`,
  ];
  return `${segments.join('\r')}\r`;
}

for (const dialect of ['sqlite', 'postgres'] as const) {
  describe(`HL7 v2 over MLLP on ${dialect}`, () => {
    let server: ListeningServer;
    let database: TestDatabase | undefined;
    let his: Awaited<ReturnType<typeof startHisReceiver>>;
    let hl7Port = 0;
    const tokens: Record<string, string> = {};
    const as = (who: string, method: string, url: string, body?: unknown): Promise<HttpAnswer> => callHttp(server.baseUrl, method, url, { token: tokens[who], body });
    const ok = (answer: HttpAnswer, status: number, what: string) => assert.equal(answer.status, status, `${what}: ${answer.text}`);
    const login = async (username: string, password = PASSWORD) => {
      const answer = await callHttp(server.baseUrl, 'POST', '/api/v1/auth/login', { body: { username, password } });
      ok(answer, 200, `login ${username}`);
      return (answer.body as { token: string }).token;
    };
    const ordersByPlacer = (placer: string) => server.server.services.get(ORDERS).listOrders(systemCaller(), { placerOrderNumber: placer });

    before(async () => {
      database = dialect === 'postgres' ? await createTestDatabase() : undefined;
      server = await startListeningServer({ YUNYING_HL7_PORT: '0', YUNYING_HL7_MAX_MESSAGE_BYTES: '65536', ...(database ? { YUNYING_DATABASE_URL: database.url } : {}) });
      hl7Port = server.server.services.get(HL7).listeningPort()!;
      his = await startHisReceiver();
      tokens.admin = await login('admin', TEST_ADMIN_PASSWORD);
      for (const institution of [
        { id: 'ks-county', name: '昆山市第一人民医院', tier: 'county', grade: 3 },
        { id: 'ks-t1', name: '周市镇卫生院', tier: 'township', grade: 1, parentId: 'ks-county' },
        { id: 'ks-t2', name: '陆家镇卫生院', tier: 'township', grade: 1, parentId: 'ks-county' },
      ]) ok(await as('admin', 'POST', '/api/v1/institutions', institution), 201, institution.id);
      for (const member of ['ks-t1', 'ks-t2']) ok(await as('admin', 'PUT', `/api/v1/institutions/ks-county/members/${member}`), 204, member);
      for (const [username, role, institutionId] of [
        ['tech1', 'technologist', 'ks-t1'],
        ['rad1', 'radiologist', 'ks-county'],
        ['rev', 'reviewing-radiologist', 'ks-county'],
      ] as const) {
        ok(await as('admin', 'POST', '/api/v1/users', { username, password: PASSWORD, role, institutionId, displayName: username === 'rev' ? '孙主任' : username }), 201, username);
        tokens[username] = await login(username);
      }
    });

    after(async () => {
      await his?.close();
      await server?.close();
      await database?.drop();
    });

    test('administrators map a facility to one institution and set the ORU destinations; others may not', async () => {
      ok(await as('tech1', 'PUT', '/api/v1/hl7/facilities/KSZSWSY', { institutionId: 'ks-t1' }), 403, 'technologist mapping');
      ok(await as('admin', 'PUT', '/api/v1/hl7/facilities/KSZSWSY', { institutionId: 'no-such' }), 404, 'unknown institution');
      ok(await as('admin', 'PUT', '/api/v1/hl7/facilities/KSZSWSY', { institutionId: 'ks-t2' }), 200, 'map');
      // a facility maps to one institution only: mapping it again moves it
      ok(await as('admin', 'PUT', '/api/v1/hl7/facilities/KSZSWSY', { institutionId: 'ks-t1' }), 200, 'remap');
      const facilities = await as('admin', 'GET', '/api/v1/hl7/facilities');
      assert.deepEqual((facilities.body as Array<{ facility: string; institutionId: string }>).map((f) => [f.facility, f.institutionId]), [['KSZSWSY', 'ks-t1']]);
      ok(await as('admin', 'PUT', '/api/v1/hl7/destinations/ks-t1', { destinations: [{ host: '127.0.0.1', port: his.port, receivingApplication: 'HIS', receivingFacility: 'KSZSWSY' }] }), 200, 'destinations');
      ok(await as('tech1', 'GET', '/api/v1/hl7/destinations'), 403, 'technologist reading destinations');
    });

    test('ORM^O01 in: the order exists at the facility institution, with the hanzi name, and is on the modality worklist', async () => {
      const { acks } = await hisSend(hl7Port, [frame(orm({ placer: 'ORD-1001', accession: 'ACC1001', controlId: `C1001-${dialect}` }))]);
      assert.equal(fields(acks[0]!, 'MSA')[1], 'AA', acks[0]);
      assert.equal(fields(acks[0]!, 'MSA')[2], `C1001-${dialect}`);
      const [order] = await ordersByPlacer('ORD-1001');
      assert.ok(order, 'the order was created');
      assert.equal(order.institutionId, 'ks-t1');
      assert.equal(order.source, 'hl7');
      assert.equal(order.accessionNumber, 'ACC1001');
      assert.equal(order.patient.patientId, 'P-HL7-001');
      assert.equal(order.patient.issuerOfPatientId, 'KSZSWSY');
      assert.match(order.patient.name, /^Zhang\^San=张\^三/);
      assert.equal(order.requestedProcedure.description, '胸部CT平扫');
      assert.equal(order.requestedProcedure.modality, 'CT');
      assert.equal(order.status, 'scheduled');

      // a resend of the same message (its ACK was lost) is acknowledged again, not a second order
      const resent = await hisSend(hl7Port, [frame(orm({ placer: 'ORD-1001', accession: 'ACC1001', controlId: `C1001-${dialect}` }))]);
      assert.equal(fields(resent.acks[0]!, 'MSA')[1], 'AA');
      assert.match(fields(resent.acks[0]!, 'MSA')[3]!, /already accepted/);
      assert.equal((await ordersByPlacer('ORD-1001')).length, 1);

      // the township's modality finds it on the worklist (dcmtk findscu -W)
      const worklist = await runTool('findscu', ['-W', '-aet', 'CT01', '-aec', 'YUNYING', '-k', 'AccessionNumber=ACC1001', '-k', 'PatientName', '-k', 'PatientID', '-k', 'ScheduledProcedureStepSequence[0].Modality', '127.0.0.1', String(server.dicomPort)]);
      assert.equal(worklist.code, 0, worklist.stderr);
      assert.match(worklist.stderr + worklist.stdout, /P-HL7-001/);
      assert.match(worklist.stderr + worklist.stdout, /ACC1001/);
    });

    test('GB 18030 (MSH-18) is read as GB 18030', async () => {
      const bytes = iconv.encode(orm({ placer: 'ORD-GB', accession: 'ACCGB', patientId: 'P-HL7-GB', name: '王^小东', charset: 'GB 18030' }), 'gb18030');
      const { acks } = await hisSend(hl7Port, [frame(bytes)]);
      assert.equal(fields(acks[0]!, 'MSA')[1], 'AA', acks[0]);
      const [order] = await ordersByPlacer('ORD-GB');
      assert.match(order!.patient.name, /王\^小东/);
    });

    test('bad input is answered AR with the reason, and the listener carries on', async () => {
      const reject = async (payload: Buffer) => {
        const { acks } = await hisSend(hl7Port, [payload]);
        const msa = fields(acks[0]!, 'MSA');
        return { code: msa[1], text: msa[3] ?? '', err: fields(acks[0]!, 'ERR')[3] ?? '' };
      };
      const notHl7 = await reject(frame('hello, this is not HL7'));
      assert.equal(notHl7.code, 'AR');
      assert.match(notHl7.text, /not a readable HL7 v2 message/);
      const noPid = await reject(frame(orm({ placer: 'ORD-X1', withoutPid: true })));
      assert.deepEqual([noPid.code, noPid.err.split('^')[0]], ['AR', '100']);
      assert.match(noPid.text, /PID segment is missing/);
      const unknownFacility = await reject(frame(orm({ placer: 'ORD-X2', facility: 'UNKNOWNHOSP' })));
      assert.equal(unknownFacility.code, 'AR');
      assert.match(unknownFacility.text, /sending facility UNKNOWNHOSP \(MSH-4\) is not mapped/);
      const adt = await reject(frame(orm({ placer: 'ORD-X3', type: 'ADT^A01^ADT_A01' })));
      assert.deepEqual([adt.code, adt.err.split('^')[0]], ['AR', '200']);
      const duplicate = await reject(frame(orm({ placer: 'ORD-X4', accession: 'ACC1001' })));
      assert.deepEqual([duplicate.code, duplicate.err.split('^')[0]], ['AR', '205']);
      assert.match(duplicate.text, /ORDER_EXISTS/);
      const noProcedure = await reject(frame(orm({ placer: 'ORD-X5', procedure: '' })));
      assert.match(noProcedure.text, /OBR-4/);
      assert.equal((await ordersByPlacer('ORD-X4')).length + (await ordersByPlacer('ORD-X2')).length, 0);

      // not MLLP at all: an AR, then the connection is closed
      const http = await hisSend(hl7Port, [Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n')]);
      assert.equal(fields(http.acks[0]!, 'MSA')[1], 'AR');
      assert.match(fields(http.acks[0]!, 'MSA')[3]!, /outside an MLLP frame/);
      assert.equal(http.closed, true);
      // larger than YUNYING_HL7_MAX_MESSAGE_BYTES (64 KiB here)
      const huge = await hisSend(hl7Port, [frame(orm({ placer: 'ORD-X6' }).replace('PV1|1|O', `PV1|1|O|${'x'.repeat(70_000)}`))]);
      assert.match(fields(huge.acks[0]!, 'MSA')[3]!, /larger than 65536 bytes/);
      assert.equal(huge.closed, true);

      // two good messages on one connection, answered in order
      const both = await hisSend(hl7Port, [frame(orm({ placer: 'ORD-1002', controlId: 'TWO-1' })), frame(orm({ placer: 'ORD-1003', controlId: 'TWO-2' }))]);
      assert.deepEqual(both.acks.map((ack) => [fields(ack, 'MSA')[1], fields(ack, 'MSA')[2]]), [['AA', 'TWO-1'], ['AA', 'TWO-2']]);
      const inbound = await as('admin', 'GET', '/api/v1/hl7/inbound?limit=50');
      ok(inbound, 200, 'inbound');
      assert.ok((inbound.body as Array<{ ackCode: string }>).some((row) => row.ackCode === 'AR'));
    });

    test('ORC-1 CA cancels the order of that placer number', async () => {
      const { acks } = await hisSend(hl7Port, [frame(orm({ control: 'CA', placer: 'ORD-1003' }))]);
      assert.equal(fields(acks[0]!, 'MSA')[1], 'AA', acks[0]);
      assert.equal((await ordersByPlacer('ORD-1003'))[0]!.status, 'cancelled');
      const unknown = await hisSend(hl7Port, [frame(orm({ control: 'CA', placer: 'ORD-NONE' }))]);
      assert.equal(fields(unknown.acks[0]!, 'MSA')[1], 'AR');
    });

    test('a signed report goes to the HIS as ORU^R01, again until it answers AA; an addendum as C', async () => {
      const [order] = await ordersByPlacer('ORD-1001');
      // the modality stores the images with what the worklist gave it
      const instance = makeSyntheticInstance({ modality: 'CT', studyInstanceUid: order!.studyInstanceUid, patientId: 'P-HL7-001', patientName: 'Zhang^San=张^三', accessionNumber: 'ACC1001', studyDate: '20261204' });
      const { payload, contentType } = stowBody([instance.bytes]);
      ok(await callHttp(server.baseUrl, 'POST', '/dicom-web/studies', { token: tokens.tech1, raw: payload, headers: { 'content-type': contentType, accept: 'application/dicom+json' } }), 200, 'stow');
      await server.feedHandled();
      let requestId = (await ordersByPlacer('ORD-1001'))[0]!.readingRequestId;
      if (!requestId) {
        const created = await as('tech1', 'POST', '/api/v1/reading-requests', { studyInstanceUid: instance.studyInstanceUid, readingInstitutionId: 'ks-county', imagesComplete: true });
        ok(created, 201, 'request');
        requestId = (created.body as { id: string }).id;
      } else {
        // the order became the reading request; the township says the images are all there
        ok(await as('tech1', 'POST', `/api/v1/reading-requests/${requestId}/images-complete`), 200, 'images complete');
      }
      ok(await as('rad1', 'POST', `/api/v1/reading-requests/${requestId}/claim`), 200, 'claim');
      const draft = await as('rad1', 'PUT', `/api/v1/reading-requests/${requestId}/report`, { findings: '右肺上叶见结节，大小约 8^9 mm | 边界清。\n纵隔未见肿大淋巴结。', impression: '右肺上叶结节，建议随访。', positive: true });
      ok(draft, 200, 'draft');
      const reportId = (draft.body as { id: string }).id;
      ok(await as('rad1', 'POST', `/api/v1/reports/${reportId}/submit`), 200, 'submit');
      his.script.push('AE');
      const before = his.received.length;
      ok(await as('rev', 'POST', `/api/v1/reports/${reportId}/sign`, { password: PASSWORD }), 200, 'sign');

      // AE first, then the same message again (after the feed's 1 s pause), acknowledged AA
      await his.waitFor(before + 2);
      const [first, second] = his.received.slice(before);
      assert.equal(fields(first!, 'MSH')[10], fields(second!, 'MSH')[10], 'a resend keeps MSH-10');
      const oru = second!;
      assert.equal(fields(oru, 'MSH')[9], 'ORU^R01^ORU_R01');
      assert.equal(fields(oru, 'MSH')[6], 'KSZSWSY');
      assert.equal(fields(oru, 'MSH')[18], 'UNICODE UTF-8');
      assert.equal(fields(oru, 'PID')[3], 'P-HL7-001^^^KSZSWSY^MR');
      assert.match(fields(oru, 'PID')[5]!, /张\^三/);
      assert.equal(fields(oru, 'OBR')[2], 'ORD-1001');
      assert.equal(fields(oru, 'OBR')[3], 'ACC1001');
      assert.equal(fields(oru, 'OBR')[4], 'CT0101^胸部CT平扫^99KSZSWSY');
      assert.equal(fields(oru, 'OBR')[25], 'F');
      assert.equal(fields(oru, 'OBR')[32], '孙主任');
      assert.equal(fields(oru, 'OBX', 0)[2], 'FT');
      assert.equal(fields(oru, 'OBX', 0)[3], '59776-5^Procedure findings^LN^^影像所见');
      assert.equal(fields(oru, 'OBX', 0)[5], '右肺上叶见结节，大小约 8\\S\\9 mm \\F\\ 边界清。\\.br\\纵隔未见肿大淋巴结。');
      assert.equal(fields(oru, 'OBX', 1)[5], '右肺上叶结节，建议随访。');
      assert.equal(fields(oru, 'OBX', 1)[11], 'F');

      // the state is visible: acknowledged after two attempts
      let row: { status: string; attempts: number; lastAckCode: string } | undefined;
      for (let waited = 0; waited < 5000; waited += 50) {
        const outbound = await as('admin', 'GET', `/api/v1/hl7/outbound?reportId=${reportId}`);
        ok(outbound, 200, 'outbound');
        row = (outbound.body as Array<{ status: string; attempts: number; lastAckCode: string }>)[0];
        if (row?.status === 'acknowledged') break;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      assert.deepEqual(row && { status: row.status, attempts: row.attempts, lastAckCode: row.lastAckCode }, { status: 'acknowledged', attempts: 2, lastAckCode: 'AA' });
      ok(await as('tech1', 'GET', '/api/v1/hl7/outbound'), 403, 'technologist reading the outbound state');
      // the report left the platform twice (refused, then taken): both on the audit trail
      const audit = await as('admin', 'GET', '/api/v1/audit-events?action=hl7.report-sent&limit=50');
      ok(audit, 200, 'audit');
      const events = ((audit.body as { events?: unknown[] }).events ?? (audit.body as unknown[])) as Array<{ outcome: string; object_id: string; patient_id: string; details: { reportId: string } }>;
      const mine = events.filter((event) => event.details.reportId === reportId);
      assert.deepEqual(mine.map((event) => event.outcome).sort(), ['failure', 'success']);
      assert.ok(mine.every((event) => event.object_id === instance.studyInstanceUid && event.patient_id === 'P-HL7-001'), JSON.stringify(mine));

      // an addendum: a corrected result (C) with the addendum's text
      ok(await as('rev', 'POST', `/api/v1/reports/${reportId}/addenda`, { text: '补充：与前片对比无明显变化。' }), 200, 'addendum');
      await his.waitFor(before + 3);
      const corrected = his.received.at(-1)!;
      assert.equal(fields(corrected, 'OBR')[25], 'C');
      assert.equal(fields(corrected, 'OBX', 2)[5], '补充：与前片对比无明显变化。');
      assert.notEqual(fields(corrected, 'MSH')[10], fields(oru, 'MSH')[10]);
    });
  });
}

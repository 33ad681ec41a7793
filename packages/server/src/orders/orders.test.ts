/**
 * Orders and the Modality Worklist end to end (issue 15 item 7), on SQLite and PostgreSQL,
 * against the whole server over real sockets: orders through REST and FHIR ServiceRequest
 * (fhir-kit-client); dcmtk's `findscu -W` as the township's modality (its AE registered to
 * the township), in UTF-8 and in GB18030; MPPS N-CREATE/N-SET through our own
 * @yunying/dimse SCU (dcmtk has no MPPS SCU tool); the images arriving (storescu) link the
 * order to its study and make it a reading request. Scope: another township's AE sees none
 * of it, and an order links only within its own institution.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Client } from 'fhir-kit-client';
import { buildPart10, encodeDataset, parseDicom, toDicomJson, type DicomJsonDataset } from '@yunying/dicom';
import { COMMAND, DATASET_PRESENT, MODALITY_WORKLIST_FIND, MPPS_SOP_CLASS, openAssociation } from '@yunying/dimse';
import { runTool } from '@yunying/testing/dcmtk';
import { startListeningServer, type ListeningServer } from '../test-support/listening-server.ts';
import { TEST_ADMIN_PASSWORD } from '../test-support/admin-auth.ts';
import { makeSyntheticInstance, newUid } from '../test-support/synthetic-dicom.ts';
import { stowBody } from '../dicomweb/test-support.ts';
import { callHttp, loginForToken, stowOptions, type HttpAnswer } from '../test-support/http-client.ts';
import { createTestDatabase, type TestDatabase } from '../test-support/postgres.ts';
import { zonedParts } from '../zoned-time.ts';
import type { OrderView } from './order-model.ts';

const PASSWORD = 'Correct-Horse-9';
const EXPLICIT_LE = '1.2.840.10008.1.2.1';
type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const today = zonedParts(new Date(), 'Asia/Shanghai')!.date;
const todayDa = today.replace(/-/g, '');

function tagValue(ds: DicomJsonDataset, tag: string): unknown {
  return ds[tag]?.Value?.[0];
}

function spsOf(ds: DicomJsonDataset): DicomJsonDataset {
  return (ds['00400100']!.Value as DicomJsonDataset[])[0]!;
}

/** A worklist query as a file for findscu: the keys encoded in the character set given (the modality's). */
async function queryFile(dir: string, keys: DicomJsonDataset, charset?: string): Promise<string> {
  const dataset = encodeDataset({ ...(charset ? { '00080005': { vr: 'CS', Value: [charset] } } : {}), ...keys }, EXPLICIT_LE, { specificCharacterSet: charset });
  const file = path.join(dir, `query-${newUid()}.dcm`);
  await writeFile(file, buildPart10(dataset, { transferSyntaxUid: EXPLICIT_LE, sopClassUid: MODALITY_WORKLIST_FIND, sopInstanceUid: newUid() }));
  return file;
}

/** The return keys a modality asks for, with an SPS item of matching keys. */
function worklistKeys(name: unknown, sps: DicomJsonDataset): DicomJsonDataset {
  return {
    '00080050': { vr: 'SH' },
    '00080090': { vr: 'PN' },
    '00100010': name === undefined ? { vr: 'PN' } : { vr: 'PN', Value: [name] },
    '00100020': { vr: 'LO' },
    '00100021': { vr: 'LO' },
    '00100030': { vr: 'DA' },
    '00100040': { vr: 'CS' },
    '0020000D': { vr: 'UI' },
    '00321060': { vr: 'LO' },
    '00321064': { vr: 'SQ', Value: [] },
    '00401001': { vr: 'SH' },
    '00101010': { vr: 'AS' },
    '00400100': { vr: 'SQ', Value: [{ '00080060': { vr: 'CS' }, '00400001': { vr: 'AE' }, '00400002': { vr: 'DA' }, '00400003': { vr: 'TM' }, '00400009': { vr: 'SH' }, '00400007': { vr: 'LO' }, '00400006': { vr: 'PN' }, ...sps }] },
  };
}

for (const backend of ['sqlite', 'postgres'] as const) {
  describe(`${backend}: orders, Modality Worklist (findscu -W), MPPS, ServiceRequest`, () => {
    let server: ListeningServer;
    let database: TestDatabase | undefined;
    let work: string;
    const tokens: Record<string, string> = {};
    let order: OrderView;

    const as = (who: string, method: string, url: string, body?: unknown): Promise<HttpAnswer> => callHttp(server.baseUrl, method, url, { token: tokens[who], body });
    const ok = (answer: HttpAnswer, status: number, what: string) => assert.equal(answer.status, status, `${what}: ${answer.text}`);

    /** findscu -W as a calling AE, with the query file; the responses parsed, and their raw bytes. */
    const findscu = async (aeTitle: string, file: string): Promise<Array<{ ds: DicomJsonDataset; bytes: Buffer }>> => {
      const out = await mkdtemp(path.join(work, 'rsp-'));
      const run = await runTool('findscu', ['-W', '-aet', aeTitle, '-aec', 'YUNYING', '-X', '-od', out, '127.0.0.1', String(server.dicomPort), file]);
      assert.equal(run.code, 0, `findscu: ${run.stderr}`);
      const files = (await readdir(out)).filter((name) => name.startsWith('rsp')).sort();
      return Promise.all(files.map(async (name) => {
        const bytes = await readFile(path.join(out, name));
        return { ds: toDicomJson(parseDicom(bytes)), bytes };
      }));
    };

    const mppsClient = (aeTitle: string) => openAssociation({ host: '127.0.0.1', port: server.dicomPort, callingAeTitle: aeTitle, calledAeTitle: 'YUNYING', presentationContexts: [{ abstractSyntax: MPPS_SOP_CLASS, transferSyntaxes: [EXPLICIT_LE] }] });

    before(async () => {
      work = await mkdtemp(path.join(tmpdir(), 'orders-'));
      database = backend === 'postgres' ? await createTestDatabase() : undefined;
      // requests awaiting images stay so for the test (the sweep would promote them after 30 s)
      server = await startListeningServer({ YUNYING_STUDY_STABLE_SECONDS: '3600', ...(database ? { YUNYING_DATABASE_URL: database.url } : {}) });
      tokens.admin = await loginForToken(server.baseUrl, 'admin', TEST_ADMIN_PASSWORD);
      for (const institution of [
        { id: 'or-county', name: '昆山市第一人民医院', tier: 'county', grade: 3 },
        { id: 'or-t1', name: '周市镇卫生院', tier: 'township', grade: 1, parentId: 'or-county' },
        { id: 'or-t2', name: '陆家镇卫生院', tier: 'township', grade: 1, parentId: 'or-county' },
      ]) ok(await as('admin', 'POST', '/api/v1/institutions', institution), 201, institution.id);
      for (const member of ['or-t1', 'or-t2']) ok(await as('admin', 'PUT', `/api/v1/institutions/or-county/members/${member}`), 204, member);
      for (const [username, role, institutionId] of [
        ['tech1', 'technologist', 'or-t1'],
        ['his1', 'clinician', 'or-t1'],
        ['tech2', 'technologist', 'or-t2'],
        ['rad1', 'radiologist', 'or-county'],
      ] as const) {
        ok(await as('admin', 'POST', '/api/v1/users', { username, password: PASSWORD, role, institutionId }), 201, username);
        tokens[username] = await loginForToken(server.baseUrl, username, PASSWORD);
      }
      // the townships' modalities: their AE titles are registered to them
      ok(await as('admin', 'PUT', '/api/v1/application-entities/T1CT', { institutionId: 'or-t1', description: 'CT 周市' }), 200, 'AE T1CT');
      ok(await as('admin', 'PUT', '/api/v1/application-entities/T2DR', { institutionId: 'or-t2', description: 'DR 陆家' }), 200, 'AE T2DR');
    });

    after(async () => {
      await server?.close();
      await database?.drop();
      if (work) await rm(work, { recursive: true, force: true });
    });

    test('REST: a technologist orders for the own institution; accession generated, Study Instance UID pre-assigned, pinyin added', async () => {
      const created = await as('tech1', 'POST', '/api/v1/orders', {
        patient: { patientId: 'OR-P001', name: '张三', sex: 'M', birthDate: '1961-03-15', nationalId: '320583196103150010' },
        requestedProcedure: { description: '胸部CT平扫', modality: 'ct', bodyPart: 'chest', code: { value: 'CT-CHEST', meaning: '胸部CT平扫' } },
        steps: [{ stationAeTitle: 'T1CT', startDateTime: `${today}T09:30:00` }],
        referringPhysician: '李^医生',
        priority: 'urgent',
        reason: '咳嗽两周',
      });
      ok(created, 201, 'order');
      order = created.body as OrderView;
      assert.equal(order.institutionId, 'or-t1');
      assert.equal(order.status, 'scheduled');
      assert.match(order.accessionNumber, new RegExp(`^${todayDa}\\d{6}$`));
      assert.match(order.studyInstanceUid, /^2\.25\.\d+$/);
      assert.equal(order.patient.name, 'ZHANG^SAN=张^三');
      assert.equal(order.patient.birthDate, '19610315');
      assert.equal(order.requestedProcedure.modality, 'CT');
      assert.equal(order.steps.length, 1);
      assert.equal(order.steps[0]!.stationAeTitle, 'T1CT');
      // 09:30 in Shanghai is 01:30 UTC
      assert.equal(order.steps[0]!.startDateTime, `${today}T01:30:00.000Z`);

      const again = await as('his1', 'POST', '/api/v1/orders', { accessionNumber: order.accessionNumber, patient: { patientId: 'X', name: '李四' }, requestedProcedure: { description: 'DR', modality: 'DX' } });
      ok(again, 409, 'same accession at the institution');
      assert.equal((again.body as { code: string }).code, 'ORDER_EXISTS');
      // the same accession number at another township is another examination
      ok(await as('tech2', 'POST', '/api/v1/orders', { accessionNumber: order.accessionNumber, patient: { patientId: 'OR-P001', name: '王五' }, requestedProcedure: { description: '胸部正位', modality: 'DX' } }), 201, 'same accession elsewhere');
      const invalid = await as('tech1', 'POST', '/api/v1/orders', { patient: { patientId: 'X', name: '李四', birthDate: '1961-02-30' }, requestedProcedure: { description: 'DR', modality: 'DX' } });
      ok(invalid, 400, 'impossible birth date');
      assert.equal((invalid.body as { code: string }).code, 'ORDER_INVALID');
      ok(await as('tech1', 'POST', '/api/v1/orders', { institutionId: 'or-t2', patient: { patientId: 'X', name: '李四' }, requestedProcedure: { description: 'DR', modality: 'DX' } }), 403, 'ordering for another institution');
      ok(await as('rad1', 'POST', '/api/v1/orders', { patient: { patientId: 'X', name: '李四' }, requestedProcedure: { description: 'DR', modality: 'DX' } }), 403, 'a radiologist does not order');
    });

    test('REST: read and list are the institution\'s own', async () => {
      ok(await as('his1', 'GET', `/api/v1/orders/${order.id}`), 200, 'clinician of the institution');
      ok(await as('tech2', 'GET', `/api/v1/orders/${order.id}`), 404, 'another township');
      const listed = await as('tech1', 'GET', `/api/v1/orders?status=scheduled&patientId=OR-P001`);
      ok(listed, 200, 'list');
      assert.deepEqual((listed.body as OrderView[]).map((row) => row.id), [order.id]);
      const other = await as('tech2', 'GET', '/api/v1/orders');
      assert.ok((other.body as OrderView[]).every((row) => row.institutionId === 'or-t2'));
      const all = await as('admin', 'GET', '/api/v1/orders?institutionId=or-t1');
      assert.ok((all.body as OrderView[]).some((row) => row.id === order.id));
    });

    test('findscu -W (UTF-8): the township CT finds its order by 张* and today\'s date, with every return key filled', async () => {
      const file = await queryFile(work, worklistKeys('张*', { '00080060': { vr: 'CS', Value: ['CT'] }, '00400002': { vr: 'DA', Value: [`${todayDa}-${todayDa}`] } }), 'ISO_IR 192');
      const answers = await findscu('T1CT', file);
      assert.equal(answers.length, 1, 'one scheduled step');
      const { ds } = answers[0]!;
      assert.deepEqual(tagValue(ds, '00080005'), 'ISO_IR 192');
      assert.deepEqual(tagValue(ds, '00100010'), { Alphabetic: 'ZHANG^SAN', Ideographic: '张^三' });
      assert.equal(tagValue(ds, '00100020'), 'OR-P001');
      assert.equal(tagValue(ds, '00100021'), 'or-t1');
      assert.equal(tagValue(ds, '00100030'), '19610315');
      assert.equal(tagValue(ds, '00100040'), 'M');
      assert.equal(tagValue(ds, '00080050'), order.accessionNumber);
      assert.equal(tagValue(ds, '0020000D'), order.studyInstanceUid);
      assert.equal(tagValue(ds, '00321060'), '胸部CT平扫');
      assert.equal(tagValue(ds, '00401001'), order.accessionNumber);
      assert.deepEqual(tagValue(ds, '00080090'), { Alphabetic: '李^医生' });
      const code = (ds['00321064']!.Value as DicomJsonDataset[])[0]!;
      assert.equal(tagValue(code, '00080100'), 'CT-CHEST');
      // asked for and unknown here: present, empty, with its VR (not UN)
      assert.equal(ds['00101010']?.vr, 'AS');
      assert.equal(ds['00101010']?.Value, undefined);
      const sps = spsOf(ds);
      assert.equal(tagValue(sps, '00080060'), 'CT');
      assert.equal(tagValue(sps, '00400001'), 'T1CT');
      assert.equal(tagValue(sps, '00400002'), todayDa);
      assert.equal(tagValue(sps, '00400003'), '093000');
      assert.equal(tagValue(sps, '00400009'), order.steps[0]!.id);

      // the same query: other modality, other day, other name find nothing
      for (const [name, sps2] of [
        ['张*', { '00080060': { vr: 'CS', Value: ['MR'] } }],
        ['张*', { '00400002': { vr: 'DA', Value: ['20200101-20200131'] } }],
        ['李*', {}],
        ['zhang*', { '00400001': { vr: 'AE', Value: ['OTHERAE'] } }],
      ] as const) {
        assert.equal((await findscu('T1CT', await queryFile(work, worklistKeys(name, sps2 as DicomJsonDataset), 'ISO_IR 192'))).length, 0, JSON.stringify(sps2));
      }
      // pinyin (the alphabetic group the order added), case-insensitive, and the name without its caret
      assert.equal((await findscu('T1CT', await queryFile(work, worklistKeys('zhang*', {})))).length, 1, 'zhang*');
      assert.equal((await findscu('T1CT', await queryFile(work, worklistKeys('张三', {}), 'ISO_IR 192'))).length, 1, '张三');
    });

    test('findscu -W in GB18030 is answered in GB18030', async () => {
      const answers = await findscu('T1CT', await queryFile(work, worklistKeys({ Ideographic: '张*' }, { '00080060': { vr: 'CS', Value: ['CT'] } }), 'GB18030'));
      assert.equal(answers.length, 1);
      const { ds, bytes } = answers[0]!;
      assert.equal(tagValue(ds, '00080005'), 'GB18030');
      assert.ok(bytes.includes(Buffer.from([0xd5, 0xc5, 0x5e, 0xc8, 0xfd])), '张^三 in GB18030 bytes');
      assert.ok(!bytes.includes(Buffer.from('张', 'utf8')), 'no UTF-8 in a GB18030 answer');
      assert.deepEqual(tagValue(ds, '00100010'), { Alphabetic: 'ZHANG^SAN', Ideographic: '张^三' });
      assert.equal(tagValue(ds, '00321060'), '胸部CT平扫');
    });

    test('scope: another township\'s modality sees only its own worklist', async () => {
      const answers = await findscu('T2DR', await queryFile(work, worklistKeys(undefined, {})));
      assert.ok(answers.length >= 1, 'its own order');
      for (const { ds } of answers) assert.equal(tagValue(ds, '00100021'), 'or-t2');
      assert.ok(!answers.some(({ ds }) => tagValue(ds, '0020000D') === order.studyInstanceUid));
    });

    test('a reading request awaiting images is on its township\'s worklist', async () => {
      const instance = makeSyntheticInstance({ modality: 'DX', patientId: 'OR-P-RR', patientName: 'Li^Si=李^四', accessionNumber: `RR${Date.now()}`.slice(0, 16) });
      ok(await callHttp(server.baseUrl, 'POST', '/dicom-web/studies', stowOptions(stowBody([instance.bytes]), tokens.tech1)), 200, 'stow');
      const request = await as('tech1', 'POST', '/api/v1/reading-requests', { studyInstanceUid: instance.studyInstanceUid, readingInstitutionId: 'or-county', priority: 'routine', examItems: ['胸部正位'] });
      ok(request, 201, 'request');
      await server.feedHandled();
      const answers = await findscu('T1CT', await queryFile(work, worklistKeys('李*', {}), 'ISO_IR 192'));
      const entry = answers.find(({ ds }) => tagValue(ds, '0020000D') === instance.studyInstanceUid);
      assert.ok(entry, 'the request\'s study on the worklist');
      assert.equal(tagValue(entry.ds, '00100020'), 'OR-P-RR');
      assert.equal(tagValue(spsOf(entry.ds), '00080060'), 'DX');
      assert.equal(tagValue(entry.ds, '00321060'), '胸部正位');
      assert.match(String(tagValue(spsOf(entry.ds), '00400009')), /^RR[0-9A-F]{14}$/);
      assert.equal((await findscu('T2DR', await queryFile(work, worklistKeys('李*', {}), 'ISO_IR 192'))).filter(({ ds }) => tagValue(ds, '0020000D') === instance.studyInstanceUid).length, 0);
    });

    test('MPPS (our SCU; dcmtk has no MPPS client): N-CREATE marks the step in progress, N-SET COMPLETED completes it', async () => {
      const mppsUid = newUid();
      const reference = { '0020000D': { vr: 'UI', Value: [order.studyInstanceUid] }, '00080050': { vr: 'SH', Value: [order.accessionNumber] }, '00400009': { vr: 'SH', Value: [order.steps[0]!.id] }, '00401001': { vr: 'SH', Value: [order.accessionNumber] } };
      const inProgress: DicomJsonDataset = {
        '00080005': { vr: 'CS', Value: ['ISO_IR 192'] },
        '00080060': { vr: 'CS', Value: ['CT'] },
        '00100010': { vr: 'PN', Value: [{ Alphabetic: 'ZHANG^SAN', Ideographic: '张^三' }] },
        '00100020': { vr: 'LO', Value: ['OR-P001'] },
        '00400241': { vr: 'AE', Value: ['T1CT'] },
        '00400244': { vr: 'DA', Value: [todayDa] },
        '00400245': { vr: 'TM', Value: ['093512'] },
        '00400252': { vr: 'CS', Value: ['IN PROGRESS'] },
        '00400253': { vr: 'SH', Value: ['PPS-1'] },
        '00400270': { vr: 'SQ', Value: [reference] },
      };
      // another township's modality cannot report on it
      const stranger = await mppsClient('T2DR');
      const client = await mppsClient('T1CT');
      try {
        const pc = client.findContext(MPPS_SOP_CLASS)!;
        const created = await client.request(pc.id, { commandField: COMMAND.N_CREATE_RQ, affectedSopClassUid: MPPS_SOP_CLASS, affectedSopInstanceUid: mppsUid, commandDataSetType: DATASET_PRESENT }, encodeDataset(inProgress, EXPLICIT_LE));
        assert.equal(created.status, 0x0000, created.errorComment);
        let view = (await as('tech1', 'GET', `/api/v1/orders/${order.id}`)).body as OrderView;
        assert.equal(view.status, 'in-progress');
        assert.equal(view.steps[0]!.status, 'in-progress');
        assert.equal(view.steps[0]!.mppsInstanceUid, mppsUid);
        const duplicate = await client.request(pc.id, { commandField: COMMAND.N_CREATE_RQ, affectedSopClassUid: MPPS_SOP_CLASS, affectedSopInstanceUid: mppsUid, commandDataSetType: DATASET_PRESENT }, encodeDataset(inProgress, EXPLICIT_LE));
        assert.equal(duplicate.status, 0x0111);
        const completedNotOnCreate = await client.request(pc.id, { commandField: COMMAND.N_CREATE_RQ, affectedSopClassUid: MPPS_SOP_CLASS, affectedSopInstanceUid: newUid(), commandDataSetType: DATASET_PRESENT }, encodeDataset({ ...inProgress, '00400252': { vr: 'CS', Value: ['COMPLETED'] } }, EXPLICIT_LE));
        assert.equal(completedNotOnCreate.status, 0x0106);

        const completed = encodeDataset({ '00400252': { vr: 'CS', Value: ['COMPLETED'] }, '00400250': { vr: 'DA', Value: [todayDa] }, '00400251': { vr: 'TM', Value: ['094500'] } }, EXPLICIT_LE);
        const strangerPc = stranger.findContext(MPPS_SOP_CLASS)!;
        const refused = await stranger.request(strangerPc.id, { commandField: COMMAND.N_SET_RQ, requestedSopClassUid: MPPS_SOP_CLASS, requestedSopInstanceUid: mppsUid, commandDataSetType: DATASET_PRESENT }, completed);
        assert.equal(refused.status, 0x0112, 'another institution\'s MPPS is no instance for it');
        const set = await client.request(pc.id, { commandField: COMMAND.N_SET_RQ, requestedSopClassUid: MPPS_SOP_CLASS, requestedSopInstanceUid: mppsUid, commandDataSetType: DATASET_PRESENT }, completed);
        assert.equal(set.status, 0x0000, set.errorComment);
        view = (await as('tech1', 'GET', `/api/v1/orders/${order.id}`)).body as OrderView;
        assert.equal(view.steps[0]!.status, 'completed');
        assert.equal(view.status, 'completed');
        const late = await client.request(pc.id, { commandField: COMMAND.N_SET_RQ, requestedSopClassUid: MPPS_SOP_CLASS, requestedSopInstanceUid: mppsUid, commandDataSetType: DATASET_PRESENT }, completed);
        assert.equal(late.status, 0x0110, 'a completed step may no longer be updated');
        // a completed order is off the worklist
        assert.equal((await findscu('T1CT', await queryFile(work, worklistKeys('张*', {}), 'ISO_IR 192'))).length, 0);
      } finally {
        await client.release();
        await stranger.release();
      }
    });

    test('images arrive: the pre-assigned Study Instance UID links the order, which becomes a reading request', async () => {
      const instance = makeSyntheticInstance({ studyInstanceUid: order.studyInstanceUid, modality: 'CT', patientId: 'OR-P001', patientName: 'ZHANG^SAN=张^三', accessionNumber: order.accessionNumber });
      const file = path.join(work, 'order-ct.dcm');
      await writeFile(file, instance.bytes);
      const sent = await runTool('storescu', ['-aet', 'T1CT', '-aec', 'YUNYING', '127.0.0.1', String(server.dicomPort), file]);
      assert.equal(sent.code, 0, sent.stderr);
      await server.feedHandled();
      const view = (await as('tech1', 'GET', `/api/v1/orders/${order.id}`)).body as OrderView;
      assert.equal(view.linkedStudyInstanceUid, order.studyInstanceUid);
      assert.ok(view.readingRequestId, 'a reading request');
      const request = await as('rad1', 'GET', `/api/v1/reading-requests/${view.readingRequestId}`);
      ok(request, 200, 'the reading centre sees the request');
      const body = request.body as { studyInstanceUid: string; priority: string; readingInstitutionId: string };
      assert.equal(body.studyInstanceUid, order.studyInstanceUid);
      assert.equal(body.priority, 'urgent');
      assert.equal(body.readingInstitutionId, 'or-county');
    });

    test('a modality that ignored the UID: linked by accession number and Patient ID, within the institution only', async () => {
      const placed = (await as('tech1', 'POST', '/api/v1/orders', { patient: { patientId: 'OR-P002', name: '王芳', sex: 'F' }, requestedProcedure: { description: '腹部超声', modality: 'US' } })).body as OrderView;
      // another patient's images under that accession number, and another township's, link nothing
      const wrongPatient = makeSyntheticInstance({ modality: 'US', patientId: 'OR-P999', patientName: 'Other', accessionNumber: placed.accessionNumber });
      const otherTownship = makeSyntheticInstance({ modality: 'US', patientId: 'OR-P002', patientName: 'Wang^Fang', accessionNumber: placed.accessionNumber });
      ok(await callHttp(server.baseUrl, 'POST', '/dicom-web/studies', stowOptions(stowBody([wrongPatient.bytes]), tokens.tech1)), 200, 'stow wrong patient');
      ok(await callHttp(server.baseUrl, 'POST', '/dicom-web/studies', stowOptions(stowBody([otherTownship.bytes]), tokens.tech2)), 200, 'stow other township');
      await server.feedHandled();
      assert.equal(((await as('tech1', 'GET', `/api/v1/orders/${placed.id}`)).body as OrderView).linkedStudyInstanceUid, null);
      const right = makeSyntheticInstance({ modality: 'US', patientId: 'OR-P002', patientName: 'Wang^Fang=王^芳', accessionNumber: placed.accessionNumber });
      ok(await callHttp(server.baseUrl, 'POST', '/dicom-web/studies', stowOptions(stowBody([right.bytes]), tokens.tech1)), 200, 'stow right');
      await server.feedHandled();
      const view = (await as('tech1', 'GET', `/api/v1/orders/${placed.id}`)).body as OrderView;
      assert.equal(view.linkedStudyInstanceUid, right.studyInstanceUid);
      assert.ok(view.readingRequestId);
      assert.equal(view.status, 'in-progress');
    });

    test('cancel: off the worklist; cancelling again or a completed order is refused', async () => {
      const placed = (await as('tech1', 'POST', '/api/v1/orders', { patient: { patientId: 'OR-P003', name: '赵六' }, requestedProcedure: { description: '头颅CT', modality: 'CT' } })).body as OrderView;
      assert.equal((await findscu('T1CT', await queryFile(work, worklistKeys('赵*', {}), 'ISO_IR 192'))).length, 1);
      ok(await as('tech2', 'POST', `/api/v1/orders/${placed.id}/cancel`, { reason: 'x' }), 404, 'another township');
      const cancelled = await as('his1', 'POST', `/api/v1/orders/${placed.id}/cancel`, { reason: '患者未到' });
      ok(cancelled, 200, 'cancel');
      assert.equal((cancelled.body as OrderView).status, 'cancelled');
      assert.equal((cancelled.body as OrderView).steps[0]!.status, 'discontinued');
      assert.equal((await findscu('T1CT', await queryFile(work, worklistKeys('赵*', {}), 'ISO_IR 192'))).length, 0);
      const again = await as('his1', 'POST', `/api/v1/orders/${placed.id}/cancel`, {});
      ok(again, 409, 'again');
      assert.equal((again.body as { code: string }).code, 'ORDER_NOT_CANCELLABLE');
      ok(await as('tech1', 'POST', `/api/v1/orders/${order.id}/cancel`, {}), 409, 'completed');
    });

    test('FHIR ServiceRequest (fhir-kit-client): read, search by patient, identifier and status; create makes an order on the worklist', async () => {
      const fhir = new Client({ baseUrl: `${server.baseUrl}/fhir/r4`, bearerToken: tokens.his1 });
      const statement = await new Client({ baseUrl: `${server.baseUrl}/fhir/r4` }).capabilityStatement() as Json;
      const entry = statement.rest[0].resource.find((resource: Json) => resource.type === 'ServiceRequest');
      assert.ok(entry, 'ServiceRequest in the CapabilityStatement');
      assert.deepEqual(entry.interaction.map((i: Json) => i.code).sort(), ['create', 'read', 'search-type']);
      for (const name of ['patient', 'identifier', 'status']) assert.ok(entry.searchParam.some((p: Json) => p.name === name), name);

      const read = await fhir.read({ resourceType: 'ServiceRequest', id: `o-${order.id}` }) as Json;
      assert.equal(read.status, 'completed');
      assert.equal(read.intent, 'order');
      assert.equal(read.priority, 'urgent');
      assert.equal(read.code.text, '胸部CT平扫');
      assert.equal(read.subject.display, '张三');
      const accession = read.identifier.find((identifier: Json) => identifier.type?.coding?.[0]?.code === 'ACSN');
      assert.equal(accession.system, 'urn:yunying:institution:or-t1:accession');
      const patientRef: string = read.subject.reference;

      const byIdentifier = await fhir.search({ resourceType: 'ServiceRequest', searchParams: { identifier: `${accession.system}|${accession.value}` } }) as Json;
      assert.equal(byIdentifier.total, 1);
      assert.equal(byIdentifier.entry[0].resource.id, `o-${order.id}`);
      const byPatient = await fhir.search({ resourceType: 'ServiceRequest', searchParams: { patient: patientRef } }) as Json;
      assert.ok(byPatient.entry.some((e: Json) => e.resource.id === `o-${order.id}`));
      assert.ok(byPatient.entry.every((e: Json) => e.resource.subject.reference === patientRef));
      const active = await fhir.search({ resourceType: 'ServiceRequest', searchParams: { status: 'active' } }) as Json;
      assert.ok(active.entry.every((e: Json) => e.resource.status === 'active'));
      assert.ok(active.entry.some((e: Json) => String(e.resource.id).startsWith('r-')), 'reading requests are ServiceRequests too');
      // another township's HIS finds none of it
      const other = new Client({ baseUrl: `${server.baseUrl}/fhir/r4`, bearerToken: tokens.tech2 });
      const hidden = await other.search({ resourceType: 'ServiceRequest', searchParams: { identifier: `${accession.system}|${accession.value}` } }) as Json;
      assert.equal(hidden.total, 0);
      await assert.rejects(other.read({ resourceType: 'ServiceRequest', id: `o-${order.id}` }), (error: unknown) => (error as { response?: { status: number } }).response?.status === 404);

      const created = await fhir.create({
        resourceType: 'ServiceRequest',
        body: {
          resourceType: 'ServiceRequest',
          status: 'active',
          intent: 'order',
          priority: 'routine',
          contained: [{ resourceType: 'Patient', id: 'p', identifier: [{ value: 'OR-P010' }], name: [{ family: '孙', given: ['七'] }], gender: 'female', birthDate: '1975-06-01' }],
          subject: { reference: '#p' },
          identifier: [{ type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0203', code: 'PLAC' }] }, system: 'urn:yunying:institution:or-t1:placer-order', value: 'HIS-0001' }],
          code: { text: '腰椎正侧位' },
          orderDetail: [{ coding: [{ system: 'http://dicom.nema.org/resources/ontology/DCM', code: 'DX' }] }],
          occurrenceDateTime: `${today}T10:00:00+08:00`,
        },
      }) as Json;
      assert.match(created.id, /^o-/);
      assert.equal(created.subject.display, '孙七');
      const answers = await findscu('T1CT', await queryFile(work, worklistKeys('sun*', { '00080060': { vr: 'CS', Value: ['DX'] } })));
      assert.equal(answers.length, 1, 'the FHIR order on the worklist');
      assert.equal(tagValue(answers[0]!.ds, '00100020'), 'OR-P010');
      assert.equal(tagValue(answers[0]!.ds, '00100040'), 'F');
      assert.equal(tagValue(spsOf(answers[0]!.ds), '00400003'), '100000');
      // the placer order number is unique at the institution
      await assert.rejects(fhir.create({ resourceType: 'ServiceRequest', body: { resourceType: 'ServiceRequest', intent: 'order', subject: { identifier: { value: 'OR-P011' }, display: '周八' }, identifier: [{ system: 'urn:yunying:institution:or-t1:placer-order', value: 'HIS-0001' }], code: { text: 'DR' }, orderDetail: [{ coding: [{ system: 'http://dicom.nema.org/resources/ontology/DCM', code: 'DX' }] }] } }), (error: unknown) => (error as { response?: { status: number } }).response?.status === 409);
      await assert.rejects(fhir.create({ resourceType: 'ServiceRequest', body: { resourceType: 'ServiceRequest', intent: 'order', subject: { display: '无编号' }, code: { text: 'DR' } } }), (error: unknown) => (error as { response?: { status: number } }).response?.status === 400);
    });

    test('the audit trail has the order, the worklist query and the MPPS', async () => {
      const audit = await as('admin', 'GET', '/api/v1/audit-events?limit=500');
      ok(audit, 200, 'audit');
      const actions = new Set(((audit.body as { events?: Json[] }).events ?? (audit.body as Json[])).map((event: Json) => event.action));
      for (const action of ['order.created', 'order.cancelled', 'order.linked', 'worklist.queried', 'mpps.created', 'mpps.completed']) assert.ok(actions.has(action), action);
    });
  });
}

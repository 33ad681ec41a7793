/**
 * Mutual recognition (issue 17) end to end over real sockets, on SQLite and PostgreSQL:
 * studies stored by STOW-RS at three townships join the regional patient index through the
 * change feed; clinicians search, see the timeline, ask for access, record recognitions.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startListeningServer, type ListeningServer } from '../test-support/listening-server.ts';
import { TEST_ADMIN_PASSWORD } from '../test-support/admin-auth.ts';
import { createTestDatabase, type TestDatabase } from '../test-support/postgres.ts';
import { callHttp, loginForToken, stowOptions, type HttpAnswer } from '../test-support/http-client.ts';
import { makeSyntheticInstance, newUid } from '../test-support/synthetic-dicom.ts';
import { residentId } from '../test-support/resident-ids.ts';
import { stowBody } from '../dicomweb/test-support.ts';
import type { PersonView, TimelineEntry } from './patient-lookup.ts';
import type { DuplicateMatch } from './recognition-records.ts';

const PASSWORD = 'Correct-Horse-9';
const RID = residentId('32058319800101123'); // born 1980-01-01, male
const INVALID_RID = `${RID.slice(0, 17)}${RID[17] === '0' ? '1' : '0'}`;

function daysAgo(days: number): string {
  return new Date(Date.now() - days * 86_400_000).toISOString().slice(0, 10).replace(/-/g, '');
}

const text = (vr: string, value: string) => ({ vr, Value: [value] });

interface StudyOptions {
  patientId: string;
  name: string;
  birthDate: string;
  sex: string;
  modality?: string;
  bodyPart?: string;
  studyDate?: string;
  otherNationalId?: string;
  studyInstanceUid?: string;
}

function studyInstance(options: StudyOptions) {
  return makeSyntheticInstance({
    ...(options.studyInstanceUid ? { studyInstanceUid: options.studyInstanceUid } : {}),
    patientId: options.patientId,
    patientName: options.name,
    patientBirthDate: options.birthDate,
    modality: options.modality ?? 'CT',
    studyDate: options.studyDate ?? daysAgo(1),
    attributes: {
      '00080005': text('CS', 'ISO_IR 192'),
      '00100040': text('CS', options.sex),
      '00180015': text('CS', options.bodyPart ?? 'CHEST'),
      ...(options.otherNationalId ? { '00101002': { vr: 'SQ', Value: [{ '00100020': text('LO', options.otherNationalId), '00100021': text('LO', 'CN-RID') }] } } : {}),
    },
  });
}

for (const dialect of ['sqlite', 'postgres'] as const) {
  describe(`mutual recognition (检查结果互认) on ${dialect}`, () => {
    let server: ListeningServer;
    let database: TestDatabase | undefined;
    const tokens: Record<string, string> = {};
    const studies: Record<string, string> = {};

    const as = (who: string, method: string, url: string, body?: unknown): Promise<HttpAnswer> => callHttp(server.baseUrl, method, url, { token: tokens[who], body });
    const ok = (answer: HttpAnswer, status: number, what: string) => assert.equal(answer.status, status, `${what}: ${answer.text}`);
    const store = async (who: string, options: StudyOptions): Promise<string> => {
      const instance = studyInstance(options);
      ok(await callHttp(server.baseUrl, 'POST', '/dicom-web/studies', stowOptions(stowBody([instance.bytes]), tokens[who])), 200, `STOW by ${who}`);
      return instance.studyInstanceUid;
    };
    const searchRid = async (who = 'c1', id = RID): Promise<PersonView[]> => {
      const answer = await as(who, 'GET', `/api/v1/patients?nationalId=${id}`);
      ok(answer, 200, 'search by resident ID');
      return answer.body as PersonView[];
    };
    const timeline = async (who: string, personId: string): Promise<TimelineEntry[]> => {
      const answer = await as(who, 'GET', `/api/v1/patients/${personId}/timeline`);
      ok(answer, 200, 'timeline');
      return (answer.body as { entries: TimelineEntry[] }).entries;
    };

    before(async () => {
      database = dialect === 'postgres' ? await createTestDatabase() : undefined;
      server = await startListeningServer({ ...(process.env.DEBUG_LOG ? { YUNYING_LOG_LEVEL: 'error' } : {}), ...(database ? { YUNYING_DATABASE_URL: database.url } : {}) });
      tokens.admin = await loginForToken(server.baseUrl, 'admin', TEST_ADMIN_PASSWORD);
      for (const institution of [
        { id: 'rc-county', name: '昆山市第一人民医院', tier: 'county', grade: 3, regionCode: '320583' },
        { id: 'rc-t1', name: '周市镇卫生院', tier: 'township', grade: 1, regionCode: '320583', parentId: 'rc-county' },
        { id: 'rc-t2', name: '陆家镇卫生院', tier: 'township', grade: 1, regionCode: '320583', parentId: 'rc-county' },
        { id: 'rc-t3', name: '张浦镇卫生院', tier: 'township', grade: 1, regionCode: '320583', parentId: 'rc-county' },
      ]) ok(await as('admin', 'POST', '/api/v1/institutions', institution), 201, institution.id);
      for (const member of ['rc-t1', 'rc-t2', 'rc-t3']) ok(await as('admin', 'PUT', `/api/v1/institutions/rc-county/members/${member}`), 204, member);
      for (const [username, role, institutionId] of [
        ['tech1', 'technologist', 'rc-t1'],
        ['tech2', 'technologist', 'rc-t2'],
        ['tech3', 'technologist', 'rc-t3'],
        ['c1', 'clinician', 'rc-t1'],
        ['c2', 'clinician', 'rc-t1'],
        ['analyst', 'commission-analyst', 'rc-county'],
      ] as const) {
        ok(await as('admin', 'POST', '/api/v1/users', { username, password: PASSWORD, role, institutionId }), 201, username);
        tokens[username] = await loginForToken(server.baseUrl, username, PASSWORD);
      }
      const zhang = { name: '张^伟', birthDate: '19800101', sex: 'M' };
      // the resident ID as PatientID (t1, 40 days ago), as OtherPatientIDsSequence (t2, 10 days ago), absent (t3)
      studies.t1 = await store('tech1', { ...zhang, patientId: RID, studyDate: daysAgo(40) });
      studies.t2 = await store('tech2', { ...zhang, patientId: 'MRN-001', otherNationalId: RID, studyDate: daysAgo(10) });
      studies.t3 = await store('tech3', { ...zhang, name: 'Zhang^Wei', patientId: 'MRN-777', modality: 'DX', studyDate: daysAgo(5) });
      // another person under t2's MRN at t1, and one invalid resident ID at two townships
      studies.other = await store('tech1', { patientId: 'MRN-001', name: '李^娜', birthDate: '19900505', sex: 'F' });
      studies.invalid1 = await store('tech1', { patientId: INVALID_RID, name: '王^芳', birthDate: '19800101', sex: 'F' });
      studies.invalid2 = await store('tech2', { patientId: INVALID_RID, name: '赵^敏', birthDate: '19800101', sex: 'F' });
      await server.feedHandled();
    });
    after(async () => {
      await server?.close();
      await database?.drop();
    });

    test('the resident ID links t1 and t2 definitively; t3 by name, birth date and sex is a candidate only; the same MRN elsewhere never', async () => {
      const [person, ...more] = await searchRid();
      assert.equal(more.length, 0);
      assert.ok(person);
      assert.equal(person.nationalId, `3205**********${RID.slice(-4)}`);
      assert.deepEqual(person.identifiers.map((identifier) => [identifier.institutionId, identifier.linkKind]).sort(), [['rc-t1', 'national-id'], ['rc-t2', 'national-id']]);
      assert.ok(person.identifiers.every((identifier) => !identifier.value.includes(RID)), 'the resident ID is never shown in full');
      assert.deepEqual(person.candidates.map((candidate) => [candidate.institutionId, candidate.matchedOn.join(',')]), [['rc-t3', 'name,birthDate,sex']]);
      const byName = await as('c1', 'GET', `/api/v1/patients?name=${encodeURIComponent('张伟')}&birthDate=19800101`);
      ok(byName, 200, 'search by name');
      assert.equal((byName.body as PersonView[]).length, 2, 'the linked person and the unconfirmed t3 record');
      const other = (await as('c1', 'GET', `/api/v1/patients?name=${encodeURIComponent('李娜')}&birthDate=19900505`)).body as PersonView[];
      assert.equal(other.length, 1);
      assert.deepEqual(other[0]!.identifiers.map((identifier) => identifier.institutionId), ['rc-t1'], 'MRN-001 at t1 is not MRN-001 at t2');

      // FHIR: one Patient for the person, with every identifier and a link to each record's own Patient
      const fhir = await callHttp(server.baseUrl, 'GET', `/fhir/r4/Patient/${person.id}`, { token: tokens.c1 });
      ok(fhir, 200, 'FHIR Patient of the person');
      const patient = fhir.body as { identifier: Array<{ system: string; value: string }>; link: Array<{ type: string; other: { reference: string } }>; birthDate: string; gender: string };
      assert.deepEqual(patient.identifier.map((identifier) => identifier.value).sort(), [`3205**********${RID.slice(-4)}`, `3205**********${RID.slice(-4)}`, 'MRN-001'].sort());
      assert.ok(patient.identifier.some((identifier) => identifier.system === 'urn:yunying:institution:rc-t2:patient-id'));
      assert.deepEqual(patient.link.map((link) => link.type), ['seealso', 'seealso']);
      assert.equal(patient.birthDate, '1980-01-01');
      assert.equal(patient.gender, 'male');
      const ownRecord = await callHttp(server.baseUrl, 'GET', `/fhir/r4/${patient.link[0]!.other.reference}`, { token: tokens.c1 });
      ok(ownRecord, 200, 'the linked per-identity Patient');
      ok(await callHttp(server.baseUrl, 'GET', `/fhir/r4/Patient/psn-00000000-0000-0000-0000-000000000000`, { token: tokens.c1 }), 404, 'no such person');
    });

    test('an invalid resident ID never links, and is refused as a search key', async () => {
      ok(await as('c1', 'GET', `/api/v1/patients?nationalId=${INVALID_RID}`), 400, 'invalid search');
      ok(await as('c1', 'GET', `/api/v1/patients?nationalId=${RID.slice(0, 17)}`), 400, 'too short');
      for (const name of ['王芳', '赵敏']) {
        const persons = (await as('c1', 'GET', `/api/v1/patients?name=${encodeURIComponent(name)}&birthDate=19800101`)).body as PersonView[];
        assert.equal(persons.length, 1, name);
        assert.equal(persons[0]!.identifiers.length, 1, `${name} alone`);
        assert.equal(persons[0]!.nationalId, null);
      }
    });

    test('duplicate check: the CT chest 10 days ago at another township is found within 30 days, the one 40 days ago is not', async () => {
      const check = async (body: unknown) => {
        const answer = await as('c1', 'POST', '/api/v1/duplicate-checks', body);
        ok(answer, 200, 'duplicate check');
        return (answer.body as { matches: DuplicateMatch[] }).matches;
      };
      const matches = await check({ patient: { nationalId: RID }, modality: 'CT', bodyPart: 'CHEST' });
      assert.deepEqual(matches.map((match) => match.studyInstanceUid), [studies.t2]);
      assert.equal(matches[0]!.institutionId, 'rc-t2');
      assert.equal(matches[0]!.recognisable, false, 'the default rule asks for a signed report');
      assert.match(matches[0]!.reason, /not signed/);
      // by the local identity at t1, a wider window finds both
      assert.equal((await check({ patient: { patientId: RID, institutionId: 'rc-t1' }, modality: 'CT', bodyPart: 'CHEST', withinDays: 60 })).length, 2);
      assert.equal((await check({ patient: { nationalId: RID }, modality: 'CT', bodyPart: 'HEAD' })).length, 0, 'another body part');
      assert.equal((await check({ patient: { patientId: 'MRN-001', institutionId: 'rc-t1' }, modality: 'CT', bodyPart: 'CHEST' })).length, 1, 'MRN-001 at t1 is 李娜: her own study only');
      // an item of the catalogue that does not ask for a signed report
      ok(await as('admin', 'PUT', '/api/v1/recognition-items/CT-CHEST-Q', { region: '320583', name: '胸部CT（急诊）', modality: 'CT', bodyPart: 'CHEST', windowDays: 30, requireSignedReport: false, referencePriceYuan: 150 }), 200, 'put item');
      const byItem = await check({ patient: { nationalId: RID }, modality: 'CT', bodyPart: 'CHEST', examItem: 'CT-CHEST-Q' });
      assert.equal(byItem.length, 1);
      assert.equal(byItem[0]!.recognisable, true, byItem[0]!.reason);
      const items = (await as('c1', 'GET', '/api/v1/recognition-items?region=320583')).body as Array<{ code: string }>;
      assert.deepEqual(items.map((item) => item.code), ['CT-CHEST-Q']);
      ok(await as('c1', 'PUT', '/api/v1/recognition-items/X', { name: 'x', modality: 'CT', windowDays: 1, requireSignedReport: true }), 403, 'clinicians do not edit the catalogue');
    });

    test('scope: another institution’s exam opens to the asking clinician alone, after an access request, and the trail shows it', async () => {
      const [person] = await searchRid();
      const entries = await timeline('c1', person!.id);
      const t2 = entries.find((entry) => entry.studyInstanceUid === studies.t2)!;
      assert.equal(t2.access, 'request-needed');
      assert.equal(entries.find((entry) => entry.studyInstanceUid === studies.t1)!.access, 'visible');
      assert.deepEqual(t2.modalities, ['CT']);
      assert.deepEqual(t2.bodyParts, ['CHEST']);
      const metadata = (who: string) => callHttp(server.baseUrl, 'GET', `/dicom-web/studies/${studies.t2}/metadata`, { token: tokens[who] });
      ok(await metadata('c1'), 404, 'before the request');
      ok(await as('c1', 'POST', `/api/v1/patients/${person!.id}/access-requests`, { studyInstanceUid: studies.t2, reason: '' }), 400, 'no reason');
      const granted = await as('c1', 'POST', `/api/v1/patients/${person!.id}/access-requests`, { studyInstanceUid: studies.t2, reason: '门诊复诊，调阅前次胸部CT' });
      ok(granted, 201, 'access request');
      const hours = (Date.parse((granted.body as { expiresAt: string }).expiresAt) - Date.now()) / 3_600_000;
      assert.ok(hours > 23 && hours <= 24, `24 h, got ${hours}`);
      ok(await metadata('c1'), 200, 'after the request');
      ok(await metadata('c2'), 404, 'a colleague at the same township still may not');
      assert.equal((await timeline('c1', person!.id)).find((entry) => entry.studyInstanceUid === studies.t2)!.access, 'granted');
      assert.equal((await timeline('c2', person!.id)).find((entry) => entry.studyInstanceUid === studies.t2)!.access, 'request-needed');
      ok(await as('c1', 'POST', `/api/v1/patients/${person!.id}/access-requests`, { studyInstanceUid: studies.t1, reason: 'own' }), 409, 'already visible');
      const glass = await as('c2', 'POST', `/api/v1/patients/${person!.id}/access-requests`, { studyInstanceUid: studies.t2, reason: '急诊，患者昏迷', emergency: true });
      ok(glass, 201, 'break-glass');
      assert.ok(Date.parse((glass.body as { expiresAt: string }).expiresAt) - Date.now() <= 4 * 3_600_000);
      ok(await metadata('c2'), 200, 'after break-glass');
      const trail = async (action: string) => ((await as('admin', 'GET', `/api/v1/audit-events?action=${action}&objectId=${studies.t2}`)).body as Array<Record<string, unknown>>);
      const requests = await trail('study.access-granted');
      assert.equal(requests.length, 1);
      assert.equal(requests[0]!.actor_name, 'c1');
      assert.equal((await trail('study.break-glass'))[0]!.actor_name, 'c2');
      assert.ok(!JSON.stringify(await trail('study.access-granted')).includes(RID), 'the resident ID stays out of the trail');
    });

    test('recognition records: on the timeline and in the statistics with the money avoided', async () => {
      const [person] = await searchRid();
      ok(await as('c2', 'POST', '/api/v1/recognitions', { studyInstanceUid: studies.t3, decision: 'recognised', reason: 'x' }), 404, 'a study the clinician may not see');
      const recorded = await as('c1', 'POST', '/api/v1/recognitions', { studyInstanceUid: studies.t2, decision: 'recognised', reason: '10天内胸部CT，结果可互认', avoidedExamItem: 'CT-CHEST', avoidedBodyParts: ['CHEST'] });
      ok(recorded, 201, 'recognition');
      const entry = (await timeline('c1', person!.id)).find((candidate) => candidate.studyInstanceUid === studies.t2)!;
      assert.deepEqual(entry.recognitions.map((recognition) => recognition.decision), ['recognised']);
      ok(await as('c1', 'GET', '/api/v1/statistics/recognitions?groupBy=institution'), 403, 'clinicians see no statistics');
      const statistics = await as('analyst', 'GET', '/api/v1/statistics/recognitions?groupBy=institution');
      ok(statistics, 200, 'statistics');
      assert.deepEqual((statistics.body as { rows: unknown[] }).rows, [{ key: 'rc-t1', label: '周市镇卫生院', recognised: 1, notRecognised: 0, duplicatesAvoided: 1, moneyAvoidedYuan: 180 }]);
      const byMonth = await as('admin', 'GET', '/api/v1/statistics/recognitions?groupBy=month');
      assert.equal((byMonth.body as { rows: Array<{ key: string }> }).rows[0]!.key, new Date().toISOString().slice(0, 7));
    });

    test('a probable link confirmed joins t3; the merge is undone; an unlinked identity stays out when its study arrives again', async () => {
      const [person] = await searchRid();
      const candidate = person!.candidates[0]!;
      ok(await as('tech1', 'POST', `/api/v1/patients/${person!.id}/candidates/${candidate.id}/confirm`, {}), 403, 'technologists do not link');
      const confirmed = await as('c1', 'POST', `/api/v1/patients/${person!.id}/candidates/${candidate.id}/confirm`, { reason: '核对身份证' });
      ok(confirmed, 200, 'confirm');
      const joined = confirmed.body as PersonView;
      assert.equal(joined.id, person!.id);
      assert.deepEqual(joined.identifiers.map((identifier) => identifier.institutionId).sort(), ['rc-t1', 'rc-t2', 'rc-t3']);
      assert.equal(joined.candidates.length, 0);
      assert.ok((await timeline('c1', person!.id)).some((entry) => entry.studyInstanceUid === studies.t3), 't3 on the timeline');
      ok(await as('c1', 'POST', `/api/v1/patients/${person!.id}/unmerge`, { personId: candidate.personId, reason: 'x' }), 403, 'clinicians do not unmerge');
      const undone = await as('admin', 'POST', `/api/v1/patients/${person!.id}/unmerge`, { personId: candidate.personId, reason: '误确认' });
      ok(undone, 200, 'unmerge');
      assert.deepEqual((undone.body as PersonView).identifiers.map((identifier) => identifier.institutionId).sort(), ['rc-t1', 'rc-t2']);
      ok(await as('admin', 'GET', `/api/v1/patients/${candidate.personId}`), 200, 'the t3 person is back');

      const t2Identity = (undone.body as PersonView).identifiers.find((identifier) => identifier.institutionId === 'rc-t2')!;
      const unlinked = await as('admin', 'POST', `/api/v1/patients/${person!.id}/unlink`, { identityId: t2Identity.id, reason: '信息录入错误' });
      ok(unlinked, 200, 'unlink');
      assert.deepEqual((unlinked.body as PersonView).identifiers.map((identifier) => identifier.institutionId), ['rc-t1']);
      studies.t2again = await store('tech2', { patientId: 'MRN-001', name: '张^伟', birthDate: '19800101', sex: 'M', otherNationalId: RID, studyInstanceUid: newUid() });
      await server.feedHandled();
      assert.deepEqual((await searchRid())[0]!.identifiers.map((identifier) => identifier.institutionId), ['rc-t1'], 'the pinned identity is not linked again');
      const sameName = (await as('admin', 'GET', `/api/v1/patients?name=${encodeURIComponent('张伟')}&birthDate=19800101`)).body as PersonView[];
      const t2Person = sameName.find((candidatePerson) => candidatePerson.identifiers.some((identifier) => identifier.institutionId === 'rc-t2'))!;
      const merged = await as('admin', 'POST', `/api/v1/patients/${person!.id}/merge`, { personId: t2Person.id, reason: '核实为同一人' });
      ok(merged, 200, 'merge back');
      const mergedPatient = (await callHttp(server.baseUrl, 'GET', `/fhir/r4/Patient/${t2Person.id}`, { token: tokens.c1 })).body as { active: boolean; link: Array<{ type: string; other: { reference: string } }> };
      assert.equal(mergedPatient.active, false);
      assert.deepEqual(mergedPatient.link.map((link) => `${link.type} ${link.other.reference}`), [`replaced-by Patient/${person!.id}`]);
      const survivorPatient = (await callHttp(server.baseUrl, 'GET', `/fhir/r4/Patient/${person!.id}`, { token: tokens.c1 })).body as { link: Array<{ type: string; other: { reference: string } }> };
      assert.ok(survivorPatient.link.some((link) => link.type === 'replaces' && link.other.reference === `Patient/${t2Person.id}`));
      assert.deepEqual((merged.body as PersonView).identifiers.map((identifier) => identifier.institutionId).sort(), ['rc-t1', 'rc-t2']);
      const trail = (await as('admin', 'GET', '/api/v1/audit-events?action=patient.merged')).body as unknown[];
      assert.ok(trail.length >= 2, 'confirmations and merges are in the trail');
    });

    test('an order with a resident ID warns of the recent CT chest elsewhere and links its patient; a reading request’s resident ID links its study', async () => {
      const order = await as('tech3', 'POST', '/api/v1/orders', { patient: { patientId: 'MRN-999', name: '张伟', sex: 'M', birthDate: '19800101', nationalId: RID }, requestedProcedure: { description: '胸部CT平扫', modality: 'CT', bodyPart: 'CHEST' } });
      ok(order, 201, 'order');
      // yesterday's and the one 10 days ago at t2 (newest first); not t1's of 40 days ago
      assert.deepEqual((order.body as { duplicateWarnings: DuplicateMatch[] }).duplicateWarnings.map((match) => match.studyInstanceUid), [studies.t2again, studies.t2]);
      ok(await as('tech3', 'POST', '/api/v1/orders', { patient: { patientId: 'MRN-998', name: '张伟', nationalId: INVALID_RID }, requestedProcedure: { description: '胸部CT平扫', modality: 'CT' } }), 400, 'an invalid resident ID');
      ok(await as('tech3', 'POST', '/api/v1/reading-requests', { studyInstanceUid: studies.t3, readingInstitutionId: 'rc-county', priority: 'routine', imagesComplete: true, nationalId: INVALID_RID }), 400, 'an invalid resident ID on a request');
      const request = await as('tech3', 'POST', '/api/v1/reading-requests', { studyInstanceUid: studies.t3, readingInstitutionId: 'rc-county', priority: 'routine', imagesComplete: true, bodyParts: ['CHEST'], nationalId: RID });
      ok(request, 201, 'reading request');
      assert.deepEqual((request.body as { duplicateWarnings: DuplicateMatch[] }).duplicateWarnings, [], 'no DX chest before, and never the request’s own study');
      await server.feedHandled();
      const [person] = await searchRid();
      const identities = person!.identifiers.map((identifier) => `${identifier.institutionId}:${identifier.patientId}`).sort();
      assert.deepEqual(identities, ['rc-t1:3205**********' + RID.slice(-4), 'rc-t2:MRN-001', 'rc-t3:MRN-777', 'rc-t3:MRN-999']);
    });

    test('the cloud film shows the patient’s own exams that the patient’s links cover, and which staff accessed them', async () => {
      const issue = async (who: string, studyInstanceUid: string) => {
        const answer = await as(who, 'POST', '/api/v1/share-links', { studyInstanceUid, accessCode: false });
        ok(answer, 201, 'share link');
        return new URL((answer.body as { url: string }).url).pathname;
      };
      const t2Film = await issue('tech2', studies.t2);
      await issue('tech1', studies.t1);
      const data = await callHttp(server.baseUrl, 'GET', `${t2Film}/data.json`);
      ok(data, 200, 'film data');
      const timeline = (data.body as { timeline: Array<{ studyDate: string; institutionName: string; current: boolean; accesses: Array<{ action: string; actorRole: string; institutionName: string }> }> }).timeline;
      assert.deepEqual(timeline.map((entry) => [entry.institutionName, entry.current]), [['陆家镇卫生院', true], ['周市镇卫生院', false]], 't3 has no link of the patient: not shown');
      const actions = timeline[0]!.accesses.map((access) => `${access.action} ${access.actorRole} ${access.institutionName}`);
      assert.ok(actions.includes('study.access-granted clinician 周市镇卫生院'), actions.join('; '));
      assert.ok(actions.includes('study.break-glass clinician 周市镇卫生院'), actions.join('; '));
      assert.ok(!JSON.stringify(timeline).includes('c1'), 'staff by role and institution, never by name');
    });
  });
}

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import iconv from 'iconv-lite';
import { openArchive, type Archive } from '../archive/archive.ts';
import { DEFAULT_INSTITUTION_ID, systemCaller, type Caller } from '../access/caller.ts';
import { HOLDING_INSTITUTION_KEY } from '../archive/archive-service.ts';
import { unauthorized } from '../errors.ts';
import { readSample } from '@yunying/testing/samples';
import { makeSyntheticInstance, newUid } from '../test-support/synthetic-dicom.ts';
import { toHumanNames, NAME_REPRESENTATION_EXTENSION } from './human-name.ts';
import { toFhirDateTime } from './imaging-study.ts';
import { decodePatientId, encodePatientId, identifierSystem, parseIdentifierSystem, refersTo, type PatientIdentity } from './patient-id.ts';
import { toFhirDate, toGender, toPatient } from './patient.ts';
import { registerFhir } from './index.ts';

/* eslint-disable @typescript-eslint/no-explicit-any -- FHIR JSON is read loosely in assertions */
type Json = any;

const user = (name: string, role: Caller['role'], visibleInstitutionIds: Caller['visibleInstitutionIds'], institutionId = 'default'): Caller => ({
  kind: 'user', name, institutionId, role, visibleInstitutionIds, via: 'rest',
});

/** Bearer tokens of the test: who each one is. */
const CALLERS: Record<string, Caller> = {
  admin: systemCaller('fhir-test'),
  other: user('other-clinician', 'clinician', ['other'], 'other'),
  analyst: user('analyst', 'commission-analyst', ['default']),
};

/** The identity of a Patient ID in a study the test stores (as the system: the default institution, no issuer). */
const held = (patientId: string): PatientIdentity => ({ patientId, institutionId: DEFAULT_INSTITUTION_ID });

const CHINESE_SAMPLE = 'charset/chrX2.dcm'; // GB18030: Wang^XiaoDong=王^小东=

describe('FHIR R4 façade over a real archive', () => {
  let app: FastifyInstance;
  let archive: Archive;
  let dataDir: string;
  const run = randomBytes(4).toString('hex');
  const patientId = `P-${run}/1`; // a "/" and a "-": the id must encode them
  const study = { uid: newUid(), series: [newUid(), newUid()], instances: [newUid(), newUid(), newUid()] };
  const laterStudyUid = newUid();

  const get = (url: string, token: string | null = 'admin', headers: Record<string, string> = {}) =>
    app.inject({ method: 'GET', url, headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers } });

  const ingest = (bytes: Buffer) => archive.ingest(systemCaller(), { kind: 'part10', bytes });

  before(async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), 'yunying-fhir-'));
    archive = await openArchive({ dataDir, fsync: false });
    app = Fastify({ logger: false });
    await registerFhir(app, {
      archive,
      async resolveCaller(request) {
        const token = /^Bearer (.+)$/.exec(request.headers.authorization ?? '')?.[1];
        const caller = token ? CALLERS[token] : undefined;
        if (!caller) throw unauthorized();
        return caller;
      },
    });
    await app.ready();
    const common = { studyInstanceUid: study.uid, patientId, patientName: 'LI^SI', studyDate: '20261123', accessionNumber: `A${run}` };
    await ingest(makeSyntheticInstance({ ...common, seriesInstanceUid: study.series[0], sopInstanceUid: study.instances[1], instanceNumber: 2 }).bytes);
    await ingest(makeSyntheticInstance({ ...common, seriesInstanceUid: study.series[0], sopInstanceUid: study.instances[0], instanceNumber: 1 }).bytes);
    await ingest(makeSyntheticInstance({ ...common, seriesInstanceUid: study.series[1], sopInstanceUid: study.instances[2], modality: 'MR' }).bytes);
    await ingest(makeSyntheticInstance({ studyInstanceUid: laterStudyUid, patientId, patientName: 'LI^SI', studyDate: '20261201', modality: 'DX' }).bytes);
    await ingest(readSample(CHINESE_SAMPLE));
  });

  after(async () => {
    await app.close();
    await archive.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  const outcomeOf = (body: Json) => {
    assert.equal(body.resourceType, 'OperationOutcome');
    return body.issue[0];
  };

  test('metadata: a CapabilityStatement without authentication', async () => {
    const res = await get('/fhir/r4/metadata', null);
    assert.equal(res.statusCode, 200, res.body);
    assert.match(String(res.headers['content-type']), /^application\/fhir\+json/);
    const body = res.json();
    assert.equal(body.resourceType, 'CapabilityStatement');
    assert.equal(body.fhirVersion, '4.0.1');
    const types = body.rest[0].resource.map((r: Json) => r.type);
    assert.deepEqual(types, ['ImagingStudy', 'Patient']);
    assert.ok(body.rest[0].resource[0].searchParam.some((p: Json) => p.name === 'started' && p.type === 'date'));
  });

  test('unauthenticated: 401 OperationOutcome with a challenge', async () => {
    for (const url of ['/fhir/r4/ImagingStudy', `/fhir/r4/ImagingStudy/${study.uid}`, '/fhir/r4/Patient', '/fhir/r4/DiagnosticReport']) {
      const res = await get(url, null);
      assert.equal(res.statusCode, 401, url);
      assert.equal(outcomeOf(res.json()).code, 'login');
      assert.match(String(res.headers['www-authenticate']), /^Bearer/);
    }
    assert.equal((await get('/fhir/r4/Patient', 'nobody')).statusCode, 401);
  });

  test('Patient search by identifier, then ImagingStudy search by that patient', async () => {
    const patients = await get(`/fhir/r4/Patient?identifier=${encodeURIComponent(patientId)}`);
    assert.equal(patients.statusCode, 200, patients.body);
    const bundle = patients.json();
    assert.equal(bundle.resourceType, 'Bundle');
    assert.equal(bundle.type, 'searchset');
    assert.equal(bundle.entry.length, 1);
    const patient = bundle.entry[0].resource;
    assert.equal(patient.id, encodePatientId(held(patientId)));
    assert.match(patient.id, /^[A-Za-z0-9.-]{1,64}$/);
    assert.equal(patient.identifier[0].value, patientId);
    assert.equal(bundle.entry[0].fullUrl, `http://localhost:80/fhir/r4/Patient/${patient.id}`);

    const studies = await get(`/fhir/r4/ImagingStudy?patient=Patient/${patient.id}`);
    assert.equal(studies.statusCode, 200, studies.body);
    const found = studies.json().entry.map((e: Json) => e.resource.id);
    // newest first, as the archive orders studies
    assert.deepEqual(found, [laterStudyUid, study.uid]);
    const bare = await get(`/fhir/r4/ImagingStudy?subject=${patient.id}`);
    assert.deepEqual(bare.json().entry.map((e: Json) => e.resource.id), found);
  });

  test('ImagingStudy read: identifiers, subject, counts, series with instances, endpoint', async () => {
    const res = await get(`/fhir/r4/ImagingStudy/${study.uid}`);
    assert.equal(res.statusCode, 200, res.body);
    const resource = res.json();
    assert.equal(resource.resourceType, 'ImagingStudy');
    assert.equal(resource.id, study.uid);
    assert.deepEqual(resource.identifier[0], { use: 'official', system: 'urn:dicom:uid', value: `urn:oid:${study.uid}` });
    assert.equal(resource.identifier[1].value, `A${run}`);
    assert.equal(resource.identifier[1].type.coding[0].code, 'ACSN');
    assert.equal(resource.status, 'available');
    assert.equal(resource.subject.reference, `Patient/${encodePatientId(held(patientId))}`);
    assert.equal(resource.started, '2026-11-23T09:30:00+08:00');
    assert.equal(resource.numberOfSeries, 2);
    assert.equal(resource.numberOfInstances, 3);
    assert.deepEqual(resource.modality.map((m: Json) => m.code).sort(), ['CT', 'MR']);
    assert.equal(resource.modality[0].system, 'http://dicom.nema.org/resources/ontology/DCM');
    const ct = resource.series.find((s: Json) => s.uid === study.series[0]);
    assert.equal(ct.modality.code, 'CT');
    assert.equal(ct.numberOfInstances, 2);
    assert.deepEqual(ct.instance.map((i: Json) => [i.uid, i.number]), [[study.instances[0], 1], [study.instances[1], 2]]);
    assert.deepEqual(ct.instance[0].sopClass, { system: 'urn:ietf:rfc:3986', code: 'urn:oid:1.2.840.10008.5.1.4.1.1.2' });
    assert.equal(resource.series.find((s: Json) => s.uid === study.series[1]).modality.code, 'MR');
    assert.deepEqual(resource.endpoint, [{ reference: '#dicomweb' }]);
    assert.equal(resource.contained[0].resourceType, 'Endpoint');
    assert.equal(resource.contained[0].address, 'http://localhost:80/dicom-web');
  });

  test('ImagingStudy search by identifier (UID with and without system, accession), started and modality', async () => {
    const ids = async (query: string) => {
      const res = await get(`/fhir/r4/ImagingStudy?${query}`);
      assert.equal(res.statusCode, 200, `${query}: ${res.body}`);
      return (res.json().entry as Json[]).map((e) => e.resource.id);
    };
    assert.deepEqual(await ids(`identifier=urn:dicom:uid|urn:oid:${study.uid}`), [study.uid]);
    assert.deepEqual(await ids(`identifier=${study.uid}`), [study.uid]);
    assert.deepEqual(await ids(`identifier=A${run}`), [study.uid]);
    assert.deepEqual(await ids(`_id=${study.uid},${laterStudyUid}`), [laterStudyUid, study.uid]);
    const patient = `patient=${encodePatientId(held(patientId))}`;
    assert.deepEqual(await ids(`${patient}&started=2026-11-23`), [study.uid]);
    assert.deepEqual(await ids(`${patient}&started=ge2026-11-24`), [laterStudyUid]);
    assert.deepEqual(await ids(`${patient}&started=gt2026-11&started=lt2027`), [laterStudyUid]);
    assert.deepEqual(await ids(`${patient}&started=lt2026-11-23`), []);
    assert.deepEqual(await ids(`${patient}&started=ge2026-12-01&started=le2026-11-30`), []);
    assert.deepEqual(await ids(`${patient}&modality=MR`), [study.uid]);
    assert.deepEqual(await ids(`${patient}&modality=http://dicom.nema.org/resources/ontology/DCM|DX,MR`), [laterStudyUid, study.uid]);
    assert.deepEqual(await ids(`identifier=urn:dicom:uid|${newUid()}`), []);
  });

  test('paging: _count and a next link with _offset', async () => {
    const first = await get(`/fhir/r4/ImagingStudy?patient=${encodePatientId(held(patientId))}&_count=1`);
    const page = first.json();
    assert.equal(page.entry.length, 1);
    const next = page.link.find((l: Json) => l.relation === 'next');
    assert.ok(next, 'a next link');
    const second = await get(new URL(next.url).pathname + new URL(next.url).search);
    const rest = second.json();
    assert.deepEqual(rest.entry.map((e: Json) => e.resource.id), [study.uid]);
    assert.equal(rest.link.find((l: Json) => l.relation === 'next'), undefined);
  });

  test('Chinese names: alphabetic, ideographic (text in Chinese) and searches by either script', async () => {
    for (const name of ['王', 'wang', 'XiaoDong', '王小东']) {
      const res = await get(`/fhir/r4/Patient?name=${encodeURIComponent(name)}`);
      assert.equal(res.statusCode, 200, res.body);
      const entries = res.json().entry as Json[];
      assert.equal(entries.length, 1, `name=${name}`);
      const names = entries[0].resource.name as Json[];
      const ideographic = names.find((n) => n.extension[0].valueCode === 'IDE');
      assert.deepEqual(ideographic, { extension: [{ url: NAME_REPRESENTATION_EXTENSION, valueCode: 'IDE' }], use: 'official', text: '王小东', family: '王', given: ['小东'] });
      const alphabetic = names.find((n) => n.extension[0].valueCode === 'ABC');
      assert.equal(alphabetic.family, 'Wang');
      assert.deepEqual(alphabetic.given, ['XiaoDong']);
    }
    const patient = (await get('/fhir/r4/Patient?name=%E7%8E%8B')).json().entry[0].resource;
    const read = await get(`/fhir/r4/Patient/${patient.id}`);
    assert.equal(read.statusCode, 200);
    assert.deepEqual(read.json(), patient);
    const studies = (await get(`/fhir/r4/ImagingStudy?patient=Patient/${patient.id}`)).json();
    assert.equal(studies.entry[0].resource.subject.display, '王小东');
  });

  test('a synthetic GB18030 name arrives as UTF-8 in the HumanName', async () => {
    const id = `GB-${run}`;
    await ingest(makeSyntheticInstance({ patientId: id, encodedPatientName: { specificCharacterSet: 'GB18030', bytes: iconv.encode('Zhang^San=张^三=', 'gb18030') } }).bytes);
    const patient = (await get(`/fhir/r4/Patient/${encodePatientId(held(id))}`)).json();
    assert.deepEqual(patient.name.map((n: Json) => n.text ?? n.family), ['Zhang', '张三']);
  });

  test('out of scope answers exactly like unknown: 404 with the same body', async () => {
    const hidden = await get(`/fhir/r4/ImagingStudy/${study.uid}`, 'other');
    const unknown = await get(`/fhir/r4/ImagingStudy/${newUid()}`, 'admin');
    const notAUid = await get('/fhir/r4/ImagingStudy/not-a-uid', 'admin');
    assert.equal(hidden.statusCode, 404);
    assert.equal(unknown.statusCode, 404);
    assert.equal(hidden.body, unknown.body);
    assert.equal(notAUid.body, unknown.body);
    assert.equal(outcomeOf(hidden.json()).code, 'not-found');

    const hiddenPatient = await get(`/fhir/r4/Patient/${encodePatientId(held(patientId))}`, 'other');
    const unknownPatient = await get(`/fhir/r4/Patient/${encodePatientId(held(`nobody-${run}`))}`, 'admin');
    assert.equal(hiddenPatient.statusCode, 404);
    assert.equal(hiddenPatient.body, unknownPatient.body);

    const search = await get(`/fhir/r4/ImagingStudy?patient=${encodePatientId(held(patientId))}`, 'other');
    assert.equal(search.statusCode, 200);
    assert.deepEqual(search.json().entry, []);
    assert.deepEqual((await get(`/fhir/r4/Patient?identifier=${encodeURIComponent(patientId)}`, 'other')).json().entry, []);
  });

  test('a role without images:read gets 403', async () => {
    for (const url of ['/fhir/r4/ImagingStudy', `/fhir/r4/ImagingStudy/${study.uid}`, `/fhir/r4/ImagingStudy/${newUid()}`, '/fhir/r4/Patient?name=LI']) {
      const res = await get(url, 'analyst');
      assert.equal(res.statusCode, 403, url);
      assert.equal(outcomeOf(res.json()).code, 'forbidden');
    }
  });

  test('unsupported or malformed search parameters: 400 OperationOutcome', async () => {
    for (const query of [
      'ImagingStudy?foo=bar', 'ImagingStudy?patient:missing=true', 'ImagingStudy?started=yesterday', 'ImagingStudy?started=sa2026-01-01',
      'ImagingStudy?started=2026-02-30', 'ImagingStudy?started=2026-01-01T10:00', 'ImagingStudy?modality=http://snomed.info/sct|CT',
      'ImagingStudy?_count=-1', 'ImagingStudy?identifier=http://example.org|1', 'ImagingStudy?patient=Observation/1',
      'Patient?birthdate=2000-01-01', 'Patient?name=wa*', 'Patient?identifier=urn:oid:1.2|P1', 'Patient?_sort=name',
    ]) {
      const res = await get(`/fhir/r4/${query}`);
      assert.equal(res.statusCode, 400, `${query}: ${res.body}`);
      assert.equal(outcomeOf(res.json()).code, 'invalid');
    }
    assert.equal((await get('/fhir/r4/ImagingStudy/a_b')).statusCode, 400);
  });

  test('media types: fhir+json by default, json when asked, _format=json, 406 for XML', async () => {
    const url = `/fhir/r4/ImagingStudy/${study.uid}`;
    assert.match(String((await get(url)).headers['content-type']), /^application\/fhir\+json; charset=utf-8/);
    assert.match(String((await get(url, 'admin', { accept: 'application/json' })).headers['content-type']), /^application\/json/);
    assert.equal((await get(`${url}?_format=json`, 'admin', { accept: 'application/xml' })).statusCode, 200);
    assert.equal((await get(`${url}?_format=application/fhir+json`)).statusCode, 200);
    const xml = await get(url, 'admin', { accept: 'application/fhir+xml' });
    assert.equal(xml.statusCode, 406);
    assert.equal(outcomeOf(xml.json()).code, 'not-supported');
    assert.equal((await get(`${url}?_format=xml`)).statusCode, 406);
  });

  test('DiagnosticReport and writes: 501 NOT_IMPLEMENTED; unknown resource types: 404', async () => {
    for (const url of ['/fhir/r4/DiagnosticReport', `/fhir/r4/DiagnosticReport?subject=Patient/${encodePatientId(held(patientId))}`, '/fhir/r4/DiagnosticReport/1']) {
      const res = await get(url);
      assert.equal(res.statusCode, 501, url);
      assert.equal(outcomeOf(res.json()).details.coding[0].code, 'NOT_IMPLEMENTED');
    }
    const write = await app.inject({ method: 'POST', url: '/fhir/r4/ImagingStudy', headers: { authorization: 'Bearer admin', 'content-type': 'application/fhir+json' }, payload: '{"resourceType":"ImagingStudy"}' });
    assert.equal(write.statusCode, 501, write.body);
    const unknown = await get('/fhir/r4/Observation');
    assert.equal(unknown.statusCode, 404);
    assert.equal(outcomeOf(unknown.json()).code, 'not-found');
  });
});

describe('FHIR mappings', () => {
  test('Patient ids name one identity and are valid FHIR ids', () => {
    for (const id of ['PID0001', 'P 1/2', '张三-001', '??>', '~~~', 'a'.repeat(39)]) {
      const identity = { patientId: id, issuerOfPatientId: '县医院', institutionId: 'ks-t1' };
      const encoded = encodePatientId(identity);
      assert.match(encoded, /^[A-Za-z0-9.-]{1,64}$/, id);
      assert.equal(encodePatientId(identity), encoded, 'deterministic');
      const reference = decodePatientId(encoded)!;
      assert.equal(reference.patientId, id);
      assert.ok(refersTo(reference, identity));
      // the same number under another issuer, no issuer, or issued by another institution: another patient
      for (const other of [{ ...identity, issuerOfPatientId: 'X' }, { patientId: id, institutionId: 'ks-t1' }, { ...identity, institutionId: 'ks-t2' }]) {
        assert.notEqual(encodePatientId(other), encoded);
        assert.ok(!refersTo(reference, other));
      }
      assert.ok(!encoded.includes('ks-t1') && !encoded.includes(Buffer.from('县医院').toString('base64url')), 'issuer and institution are not spelled out');
    }
    assert.equal(decodePatientId('not_valid'), undefined);
    assert.equal(decodePatientId('UElE'), undefined, 'too short to carry the identity tag');
    const pid = encodePatientId(held('PID'));
    assert.equal(decodePatientId(pid)?.patientId, 'PID');
    assert.equal(decodePatientId(`${pid}A`), undefined, 'a non-canonical encoding is no id of ours');
  });

  test('Patient identifier systems: institution and issuer, round trip', () => {
    assert.equal(identifierSystem({ institutionId: 'ks-t1' }), 'urn:yunying:institution:ks-t1:patient-id');
    assert.equal(identifierSystem({ institutionId: 'ks-t1', issuerOfPatientId: '县医院 体检' }), 'urn:yunying:institution:ks-t1:patient-id:%E5%8E%BF%E5%8C%BB%E9%99%A2%20%E4%BD%93%E6%A3%80');
    assert.deepEqual(parseIdentifierSystem(identifierSystem({ institutionId: 'ks-t1', issuerOfPatientId: '县医院 体检' })), { institutionId: 'ks-t1', issuerOfPatientId: '县医院 体检' });
    assert.deepEqual(parseIdentifierSystem('urn:yunying:institution:ks-t1:patient-id'), { institutionId: 'ks-t1' });
    for (const other of ['urn:oid:1.2', 'urn:yunying:institution::patient-id', 'urn:yunying:institution:ks-t1:patient-id:%E5']) assert.equal(parseIdentifierSystem(other), undefined, other);
  });

  test('gender and birth date', () => {
    assert.deepEqual(['M', 'F', 'O', 'm', '', undefined, '男'].map(toGender), ['male', 'female', 'other', 'male', 'unknown', 'unknown', 'unknown']);
    assert.equal(toFhirDate('19800229'), '1980-02-29');
    assert.equal(toFhirDate('19810229'), undefined);
    assert.equal(toFhirDate('1980'), undefined);
    const patient = toPatient({ '00100020': { vr: 'LO', Value: ['X1'] }, '00100040': { vr: 'CS', Value: ['F'] }, '00100030': { vr: 'DA', Value: ['19700101'] }, '00100021': { vr: 'LO', Value: ['县医院'] }, [HOLDING_INSTITUTION_KEY]: { vr: 'LO', Value: ['ks-t1'] } });
    assert.equal(patient?.gender, 'female');
    assert.equal(patient?.birthDate, '1970-01-01');
    assert.deepEqual(patient?.identifier[0].assigner, { display: '县医院' });
    assert.equal(patient?.identifier[0].system, identifierSystem({ institutionId: 'ks-t1', issuerOfPatientId: '县医院' }));
    assert.equal(patient?.id, encodePatientId({ patientId: 'X1', issuerOfPatientId: '县医院', institutionId: 'ks-t1' }));
    assert.equal(toPatient({ '00100010': { vr: 'PN', Value: [{ Alphabetic: 'NO^ID' }] } }), undefined);
  });

  test('person names: all three groups, middle names, prefix and suffix', () => {
    const names = toHumanNames({ Alphabetic: 'Yamada^Tarou^Jirou^Dr^Jr', Ideographic: '山田^太郎', Phonetic: 'やまだ^たろう' });
    assert.deepEqual(names.map((n) => n.extension?.[0]?.valueCode), ['ABC', 'IDE', 'SYL']);
    assert.deepEqual(names[0], { extension: [{ url: NAME_REPRESENTATION_EXTENSION, valueCode: 'ABC' }], use: 'official', family: 'Yamada', given: ['Tarou', 'Jirou'], prefix: ['Dr'], suffix: ['Jr'] });
    assert.equal(names[1]!.text, '山田太郎');
    assert.deepEqual(toHumanNames(undefined), []);
  });

  test('study date and time with the platform offset', () => {
    assert.equal(toFhirDateTime('20261123', '093015.5', '+08:00'), '2026-11-23T09:30:15.5+08:00');
    assert.equal(toFhirDateTime('20261123', '0930', '+08:00'), '2026-11-23T09:30:00+08:00');
    assert.equal(toFhirDateTime('20261123', undefined, '+08:00'), '2026-11-23');
    assert.equal(toFhirDateTime('20261123', '2561', '+08:00'), '2026-11-23');
    assert.equal(toFhirDateTime(undefined, '0930', '+08:00'), undefined);
  });
});

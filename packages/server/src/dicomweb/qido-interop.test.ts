/**
 * QIDO-RS as viewers and DICOMweb clients use it (issue 15, item 3): what OHIF's study list
 * needs, multi-value ModalitiesInStudy, PN matching on every PN attribute, pinyin fuzzy
 * matching, sequence matching, truncation headers and application/dicom+xml.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { buildPart10, encodeDataset, TRANSFER_SYNTAX, type DicomJsonDataset } from '@yunying/dicom';
import { newUid } from '../test-support/synthetic-dicom.ts';
import { systemCaller } from '../access/caller.ts';
import { createTestDatabase, type TestDatabase } from '../test-support/postgres.ts';
import type { AddressInfo } from 'node:net';
import { api } from 'dicomweb-client';
import { BASIC_AUTH, createTestApp, FetchXMLHttpRequest, readMultipart, type TestApp } from './test-support.ts';

type Json = DicomJsonDataset;
const CT_IMAGE_STORAGE = '1.2.840.10008.5.1.4.1.1.2';
const text = (vr: string, ...values: string[]) => ({ vr, Value: values });

/** A small CT instance whose attributes the test chooses; `extra` adds or overrides elements; text in `charset`. */
function instance(extra: Json, charset = 'ISO_IR 192'): { bytes: Buffer; study: string } {
  const sop = newUid();
  const dataset: Json = {
    '00080005': text('CS', charset),
    '00080016': text('UI', CT_IMAGE_STORAGE),
    '00080018': text('UI', sop),
    '00080020': text('DA', '20261201'),
    '00080060': text('CS', 'CT'),
    '00100010': { vr: 'PN', Value: [{ Alphabetic: 'TEST^PATIENT' }] },
    '00100020': text('LO', 'PID'),
    '0020000D': text('UI', newUid()),
    '0020000E': text('UI', newUid()),
    '00280002': { vr: 'US', Value: [1] },
    '00280004': text('CS', 'MONOCHROME2'),
    '00280010': { vr: 'US', Value: [2] },
    '00280011': { vr: 'US', Value: [2] },
    '00280100': { vr: 'US', Value: [16] },
    '00280101': { vr: 'US', Value: [12] },
    '00280102': { vr: 'US', Value: [11] },
    '00280103': { vr: 'US', Value: [0] },
    '7FE00010': { vr: 'OW', InlineBinary: Buffer.alloc(8).toString('base64') },
    ...extra,
  };
  for (const [tag, element] of Object.entries(dataset)) if (element === undefined) delete dataset[tag];
  const body = encodeDataset(dataset, TRANSFER_SYNTAX.EXPLICIT_LE, { specificCharacterSet: charset });
  const bytes = buildPart10(body, { transferSyntaxUid: TRANSFER_SYNTAX.EXPLICIT_LE, sopClassUid: CT_IMAGE_STORAGE, sopInstanceUid: sop });
  return { bytes, study: dataset['0020000D']!.Value![0] as string };
}

for (const backend of ['sqlite', 'postgres'] as const) describe(`QIDO-RS for viewers and clients on ${backend}`, () => {
  let t: TestApp;
  let database: TestDatabase | undefined;
  const run = `Q${Date.now() % 1_000_000}`;
  const studies: Record<string, string> = {};
  const referencedStudy = newUid();
  const DETACHED_STUDY = '1.2.840.10008.3.1.2.3.1';

  const store = async (name: string, extra: Json, charset?: string) => {
    const made = instance({ '00080050': text('SH', `${run}-${name}`), '00200010': text('SH', run), ...extra }, charset);
    const stored = await t.archive.ingest(systemCaller(), { kind: 'part10', bytes: made.bytes });
    assert.equal(stored.outcome, 'stored');
    studies[name] = made.study;
    return made.study;
  };
  const qido = async (query: string, headers: Record<string, string> = {}) =>
    t.app.inject({ method: 'GET', url: `/dicom-web/studies?StudyID=${run}&${query}`, headers: { authorization: BASIC_AUTH, ...headers } });
  const accessions = (body: Json[]) => body.map((ds) => String(ds['00080050']?.Value?.[0]).replace(`${run}-`, '')).sort();

  before(async () => {
    database = backend === 'postgres' ? await createTestDatabase() : undefined;
    t = await createTestApp({ databaseUrl: database?.url });
    // Modality present but empty: the series has no modality, the study no modality list.
    await store('no-modality', { '00080060': { vr: 'CS' } });
    for (const modality of ['MG', 'SEG', 'CT']) await store(modality.toLowerCase(), { '00080060': text('CS', modality) });
    const pn = (name: { Alphabetic?: string; Ideographic?: string }) => ({ vr: 'PN', Value: [name] });
    await store('liu', { '00080090': pn({ Alphabetic: 'LIU^QIANG', Ideographic: '刘^强' }) });
    await store('chen-gb18030', { '00080090': pn({ Alphabetic: 'Chen^Jing', Ideographic: '陈^静' }), '00100010': pn({ Alphabetic: 'Wang^Fang', Ideographic: '王^芳' }) }, 'GB18030');
    await store('zhang-hanzi', { '00100010': pn({ Ideographic: '张^三' }) });
    await store('zhang-latin', { '00100010': pn({ Alphabetic: 'Zhang^San' }) });
    await store('lv', { '00100010': pn({ Alphabetic: 'Lv^Bu', Ideographic: '吕^布' }) });
    await store('sequences', {
      '00081060': pn({ Alphabetic: 'ZHOU^MIN', Ideographic: '周^敏' }),
      '00081070': pn({ Ideographic: '孙^丽' }),
      '00081110': { vr: 'SQ', Value: [{ '00081150': text('UI', DETACHED_STUDY), '00081155': text('UI', referencedStudy) }] },
      '00400275': { vr: 'SQ', Value: [{ '00401001': text('SH', 'RP1'), '00400009': text('SH', 'SPS1') }, { '00401001': text('SH', 'RP2'), '00400009': text('SH', 'SPS2') }] },
    });
  });

  after(async () => {
    await t.close();
    await database?.drop();
  });

  test('a study without modalities has no ModalitiesInStudy element at all (OHIF iterates its Value)', async () => {
    const res = await qido('AccessionNumber=' + encodeURIComponent(`${run}-no-modality`));
    assert.equal(res.statusCode, 200, res.body);
    const [study] = res.json() as Json[];
    assert.ok(study, 'the study is found');
    assert.equal(study['0020000D']?.Value?.[0], studies['no-modality']);
    assert.equal('00080061' in study, false, 'no value-less ModalitiesInStudy');
    const series = await t.app.inject({ method: 'GET', url: `/dicom-web/studies/${studies['no-modality']}/series`, headers: { authorization: BASIC_AUTH } });
    const [one] = series.json() as Json[];
    assert.ok(one);
    assert.equal('00080060' in one, false, 'no value-less Modality either');
  });

  test('ModalitiesInStudy with several values matches studies with any of them: MG\\SEG, MG,SEG, repeated', async () => {
    for (const query of ['ModalitiesInStudy=MG%5CSEG', 'ModalitiesInStudy=MG,SEG', 'ModalitiesInStudy=MG&ModalitiesInStudy=SEG', '00080061=SEG%5CMG']) {
      const res = await qido(query);
      assert.equal(res.statusCode, 200, `${query}: ${res.body}`);
      assert.deepEqual(accessions(res.json() as Json[]), ['mg', 'seg'], query);
    }
    const single = await qido('ModalitiesInStudy=SEG');
    assert.deepEqual(accessions(single.json() as Json[]), ['seg']);
    const again = await qido('PatientID=PID&PatientID=OTHER');
    assert.equal(again.statusCode, 400, 'other attributes still refuse a repeat');
  });

  test('every indexed PN attribute matches case-insensitively in each component group: ReferringPhysicianName 刘* finds LIU^QIANG=刘^强', async () => {
    const cases: Array<[string, string[]]> = [
      ['ReferringPhysicianName=' + encodeURIComponent('刘*'), ['liu']],
      ['ReferringPhysicianName=liu%5Eqiang', ['liu']],
      ['ReferringPhysicianName=' + encodeURIComponent('刘强'), ['liu']],
      ['ReferringPhysicianName=' + encodeURIComponent('*强'), ['liu']],
      ['ReferringPhysicianName=' + encodeURIComponent('陈静'), ['chen-gb18030']],
      ['00080090=chen*', ['chen-gb18030']],
      ['PatientName=' + encodeURIComponent('王*'), ['chen-gb18030']],
    ];
    for (const [query, expected] of cases) {
      const res = await qido(query);
      assert.equal(res.statusCode, 200, `${query}: ${res.body}`);
      assert.deepEqual(accessions(res.json() as Json[]), expected, query);
    }
    const [liu] = (await qido('ReferringPhysicianName=' + encodeURIComponent('刘*'))).json() as Json[];
    assert.deepEqual(liu!['00080090']?.Value, [{ Alphabetic: 'LIU^QIANG', Ideographic: '刘^强' }], 'the name comes back as stored');
    const [chen] = (await qido('ReferringPhysicianName=' + encodeURIComponent('陈*'))).json() as Json[];
    assert.deepEqual(chen!['00080090']?.Value, [{ Alphabetic: 'Chen^Jing', Ideographic: '陈^静' }], 'GB18030 comes back as UTF-8');
  });

  test('fuzzymatching=true: pinyin and hanzi find each other (zhang* finds 张^三, 张三 finds Zhang^San); without it matching is literal', async () => {
    const literal = await qido('PatientName=zhang*');
    assert.deepEqual(accessions(literal.json() as Json[]), ['zhang-latin']);
    const cases: Array<[string, string[]]> = [
      ['PatientName=zhang*', ['zhang-hanzi', 'zhang-latin']],
      ['PatientName=' + encodeURIComponent('张三'), ['zhang-hanzi', 'zhang-latin']],
      ['PatientName=' + encodeURIComponent('张*'), ['zhang-hanzi', 'zhang-latin']],
      ['PatientName=zhang%5Esan', ['zhang-hanzi', 'zhang-latin']],
      ['PatientName=lu%5Ebu', ['lv']],
      ['ReferringPhysicianName=chen*', ['chen-gb18030']],
      ['ReferringPhysicianName=liuqiang', ['liu']],
      ['PatientName=wang*', ['chen-gb18030']],
    ];
    for (const [query, expected] of cases) {
      const res = await qido(`${query}&fuzzymatching=true`);
      assert.equal(res.statusCode, 200, `${query}: ${res.body}`);
      assert.deepEqual(accessions(res.json() as Json[]), expected, `${query} fuzzy`);
      assert.equal(res.headers.warning, undefined, 'fuzzy matching was performed');
    }
  });

  test('sequence matching (PS3.4 C.2.2.2.6): keys in the one item match an item that has them all', async () => {
    const cases: Array<[string, string[]]> = [
      [`00081110.00081155=${referencedStudy}`, ['sequences']],
      [`00081110.00081150=${DETACHED_STUDY}`, ['sequences']],
      [`ReferencedStudySequence.ReferencedSOPInstanceUID=${referencedStudy}`, ['sequences']],
      [`ReferencedStudySequence.ReferencedSOPInstanceUID=${newUid()}`, []],
      ['RequestAttributesSequence.RequestedProcedureID=RP2', ['sequences']],
      ['RequestAttributesSequence.RequestedProcedureID=RP*', ['sequences']],
      ['RequestAttributesSequence.RequestedProcedureID=RP3', []],
      ['RequestAttributesSequence.RequestedProcedureID=RP2&RequestAttributesSequence.ScheduledProcedureStepID=SPS2', ['sequences']],
      // Both keys are in one item: no stored item has RP2 with SPS1.
      ['RequestAttributesSequence.RequestedProcedureID=RP2&RequestAttributesSequence.ScheduledProcedureStepID=SPS1', []],
    ];
    for (const [query, expected] of cases) {
      const res = await qido(query);
      assert.equal(res.statusCode, 200, `${query}: ${res.body}`);
      assert.deepEqual(accessions(res.json() as Json[]), expected, query);
    }
    const [found] = (await qido(`00081110.00081155=${referencedStudy}`)).json() as Json[];
    const items = found!['00081110']?.Value as Json[];
    assert.equal(items?.[0]?.['00081155']?.Value?.[0], referencedStudy, 'the sequence comes back');
    const series = await t.app.inject({ method: 'GET', url: `/dicom-web/series?StudyID=${run}&RequestAttributesSequence.RequestedProcedureID=RP1`, headers: { authorization: BASIC_AUTH } });
    assert.equal(series.statusCode, 200, series.body);
    assert.deepEqual((series.json() as Json[]).map((s) => s['0020000D']?.Value?.[0]), [studies['sequences']]);
    const unsupported = await qido('ReferencedImageSequence.ReferencedSOPInstanceUID=1.2.3');
    assert.equal(unsupported.statusCode, 400, 'a sequence the archive does not keep is refused, not ignored');
  });

  test('PN attributes without a column match the same way: NameOfPhysiciansReadingStudy 周*, OperatorsName fuzzy sun* finds 孙^丽', async () => {
    assert.deepEqual(accessions((await qido('NameOfPhysiciansReadingStudy=' + encodeURIComponent('周*'))).json() as Json[]), ['sequences']);
    assert.deepEqual(accessions((await qido('NameOfPhysiciansReadingStudy=zhou%5Emin')).json() as Json[]), ['sequences']);
    assert.deepEqual(accessions((await qido('OperatorsName=sun*')).json() as Json[]), [], 'literal: 孙^丽 has no alphabetic group');
    assert.deepEqual(accessions((await qido('OperatorsName=sun*&fuzzymatching=true')).json() as Json[]), ['sequences']);
    assert.deepEqual(accessions((await qido('OperatorsName=sunli&fuzzymatching=true')).json() as Json[]), ['sequences']);
    assert.deepEqual(accessions((await qido('NameOfPhysiciansReadingStudy=' + encodeURIComponent('周敏') + '&limit=1')).json() as Json[]), ['sequences']);
  });

  test('a limit that truncates: Warning 299 and X-Total-Count with the total; none when all fit', async () => {
    const all = await qido('');
    const total = (all.json() as Json[]).length;
    assert.ok(total >= 5);
    assert.equal(all.headers['x-total-count'], String(total));
    assert.equal(all.headers.warning, undefined);
    const page = await qido('limit=2&offset=1');
    assert.equal((page.json() as Json[]).length, 2);
    assert.equal(page.headers['x-total-count'], String(total));
    assert.match(String(page.headers.warning), /^299 .*Additional results can be requested/);
    const last = await qido(`limit=2&offset=${total - 2}`);
    assert.equal(last.headers['x-total-count'], String(total));
    assert.equal(last.headers.warning, undefined, 'the last page is not truncated');
    const beyond = await qido(`limit=2&offset=${total + 5}`);
    assert.deepEqual(beyond.json(), []);
    assert.equal(beyond.headers['x-total-count'], String(total));
    const series = await t.app.inject({ method: 'GET', url: `/dicom-web/series?StudyID=${run}&limit=1`, headers: { authorization: BASIC_AUTH } });
    assert.equal(series.headers['x-total-count'], String(total), 'one series a study here');
    const instances = await t.app.inject({ method: 'GET', url: `/dicom-web/instances?StudyID=${run}&limit=3`, headers: { authorization: BASIC_AUTH } });
    assert.equal(instances.headers['x-total-count'], String(total), 'one instance a study here');
    assert.match(String(instances.headers.warning), /^299 /);
    // Keys matched on stored attributes page after the filter.
    const filtered = await qido('RequestAttributesSequence.RequestedProcedureID=RP*&limit=0');
    assert.deepEqual(filtered.json(), []);
    assert.equal(filtered.headers['x-total-count'], '1');
    assert.match(String(filtered.headers.warning), /^299 /);
  });

  test('application/dicom+xml: multipart/related, one PS3.19 Native DICOM Model document per result', async () => {
    for (const accept of ['multipart/related; type="application/dicom+xml"', 'application/dicom+xml', 'multipart/related; type=application/dicom+xml, application/dicom+json;q=0.5']) {
      const res = await qido('ReferringPhysicianName=' + encodeURIComponent('刘*'), { accept });
      assert.equal(res.statusCode, 200, `${accept}: ${res.body}`);
      assert.match(String(res.headers['content-type']), /^multipart\/related; type="application\/dicom\+xml"; boundary=/);
      const parts = readMultipart(res.headers['content-type'] as string, res.rawPayload);
      assert.equal(parts.length, 1, accept);
      assert.equal(parts[0]!.headers['content-type'], 'application/dicom+xml');
      const xml = parts[0]!.body.toString('utf8');
      assert.match(xml, /^<\?xml version="1.0" encoding="UTF-8"\?>\n<NativeDicomModel xmlns="http:\/\/dicom.nema.org\/PS3.19\/models\/NativeDICOM"/);
      assert.match(xml, /<DicomAttribute tag="00080090" vr="PN" keyword="ReferringPhysicianName"><PersonName number="1"><Alphabetic><FamilyName>LIU<\/FamilyName><GivenName>QIANG<\/GivenName><\/Alphabetic><Ideographic><FamilyName>刘<\/FamilyName><GivenName>强<\/GivenName><\/Ideographic><\/PersonName><\/DicomAttribute>/);
      assert.match(xml, new RegExp(`<DicomAttribute tag="0020000D" vr="UI" keyword="StudyInstanceUID"><Value number="1">${studies['liu']!.replace(/\./g, '\\.')}</Value></DicomAttribute>`));
      assert.match(xml, /<DicomAttribute tag="00201208" vr="IS" keyword="NumberOfStudyRelatedInstances"><Value number="1">1<\/Value><\/DicomAttribute>/);
      assert.match(xml, /<\/NativeDicomModel>\n$/);
    }
    const sequence = await qido(`00081110.00081155=${referencedStudy}`, { accept: 'multipart/related; type="application/dicom+xml"' });
    const [part] = readMultipart(sequence.headers['content-type'] as string, sequence.rawPayload);
    assert.match(part!.body.toString('utf8'), new RegExp(`<DicomAttribute tag="00081110" vr="SQ" keyword="ReferencedStudySequence"><Item number="1"><DicomAttribute tag="00081150" vr="UI" keyword="ReferencedSOPClassUID"><Value number="1">${DETACHED_STUDY.replace(/\./g, '\\.')}</Value></DicomAttribute>`));
    const none = await qido(`ReferencedStudySequence.ReferencedSOPInstanceUID=${newUid()}`, { accept: 'application/dicom+xml' });
    assert.equal(none.statusCode, 200);
    assert.equal(readMultipart(none.headers['content-type'] as string, none.rawPayload).length, 0);
    assert.equal((await qido('', { accept: 'text/xml' })).statusCode, 406);
  });

  test('WADO-RS metadata as application/dicom+xml: the same attributes, Pixel Data as a BulkData reference', async () => {
    const url = `/dicom-web/studies/${studies['liu']}/metadata`;
    const xml = await t.app.inject({ method: 'GET', url, headers: { authorization: BASIC_AUTH, accept: 'multipart/related; type="application/dicom+xml"' } });
    assert.equal(xml.statusCode, 200, xml.body);
    const parts = readMultipart(xml.headers['content-type'] as string, xml.rawPayload);
    assert.equal(parts.length, 1);
    const text = parts[0]!.body.toString('utf8');
    assert.match(text, /<DicomAttribute tag="00080090" vr="PN" keyword="ReferringPhysicianName"><PersonName number="1"><Alphabetic><FamilyName>LIU<\/FamilyName>/);
    assert.match(text, /<DicomAttribute tag="7FE00010" vr="OW" keyword="PixelData"><BulkData uri="[^"]+\/bulkdata\/7FE00010"\/><\/DicomAttribute>/);
    const json = await t.app.inject({ method: 'GET', url, headers: { authorization: BASIC_AUTH, accept: 'application/dicom+json' } });
    assert.equal(json.statusCode, 200);
    assert.equal(Object.keys((json.json() as Json[])[0]!).length, (text.match(/<DicomAttribute tag="[0-9A-F]{8}"/g) ?? []).length, 'as many top-level attributes as the JSON (none nested here)');
  });

  test('dicomweb-client (OHIF\'s library) searchForStudies: several modalities, fuzzy pinyin, ReferringPhysicianName', async () => {
    (globalThis as Record<string, unknown>).XMLHttpRequest = FetchXMLHttpRequest;
    await t.app.listen({ host: '127.0.0.1', port: 0 });
    const url = `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}/dicom-web`;
    const client = new api.DICOMwebClient({ url, headers: { Authorization: BASIC_AUTH } } as unknown as ConstructorParameters<typeof api.DICOMwebClient>[0]) as unknown as { searchForStudies(o: { queryParams: Record<string, string> }): Promise<Json[]> };
    assert.deepEqual(accessions(await client.searchForStudies({ queryParams: { StudyID: run, ModalitiesInStudy: 'MG\\SEG' } })), ['mg', 'seg']);
    assert.deepEqual(accessions(await client.searchForStudies({ queryParams: { StudyID: run, PatientName: 'zhang*', fuzzymatching: 'true' } })), ['zhang-hanzi', 'zhang-latin']);
    assert.deepEqual(accessions(await client.searchForStudies({ queryParams: { StudyID: run, ReferringPhysicianName: '刘*' } })), ['liu']);
    const noModality = await client.searchForStudies({ queryParams: { StudyID: run, AccessionNumber: `${run}-no-modality` } });
    assert.equal(noModality.length, 1);
    assert.equal('00080061' in noModality[0]!, false);
  });
});

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseDicom, readIndexAttributes, splitPart10, toDicomJson, TRANSFER_SYNTAX, type DicomJsonDataset } from '@yunying/dicom';
import { openArchive, type Archive } from '../archive/archive.ts';
import { systemCaller } from '../access/caller.ts';
import { makeSyntheticInstance, newUid } from '../test-support/synthetic-dicom.ts';
import type { ReportDocument } from './report-document.ts';
import { BASIC_TEXT_SR, buildReportSr, dicomDateTime, type ReportSrStudy } from './report-sr.ts';

const FINDINGS = '双肺纹理清晰，右肺上叶尖段见一磨玻璃密度结节，大小约8毫米×6毫米。\n纵隔结构居中，未见肿大淋巴结。';
const IMPRESSION = '右肺上叶磨玻璃结节，建议3个月后复查。';

function report(studyInstanceUid: string, overrides: Partial<ReportDocument> = {}): ReportDocument {
  return {
    reportId: 'rpt-0001',
    version: 2,
    status: 'amended',
    studyInstanceUid,
    accessionNumber: 'A20261123001',
    patient: { id: 'P-sr-1', name: 'Wang^XiaoDong=王^小东=', sex: 'M', birthDate: '19800315' },
    studyDate: '20261123',
    studyTime: '093015',
    modality: 'CT',
    bodyParts: ['CHEST'],
    findings: FINDINGS,
    impression: IMPRESSION,
    positive: true,
    requestingInstitution: { id: 'ks-t1', name: '周市镇卫生院' },
    readingInstitution: { id: 'ks-county', name: '昆山市第一人民医院' },
    author: { username: 'dr.li', displayName: '李明' },
    reviewer: { username: 'dr.zhou', displayName: '周建华' },
    signedAt: '2026-11-23T02:25:00.000Z',
    addenda: [{ text: '复阅前片，结节较前无明显变化。', author: { username: 'dr.zhou', displayName: '周建华' }, at: '2026-11-24T01:00:00.000Z' }],
    ...overrides,
  };
}

/* eslint-disable @typescript-eslint/no-explicit-any -- DICOM JSON is read loosely in assertions */
const first = (dataset: DicomJsonDataset | undefined, tag: string): any => dataset?.[tag]?.Value?.[0];
const items = (dataset: DicomJsonDataset | undefined, tag: string): DicomJsonDataset[] => (dataset?.[tag]?.Value ?? []) as DicomJsonDataset[];
const conceptOf = (item: DicomJsonDataset) => first(first(item, '0040A043'), '00080100') as string;

describe('report as DICOM Basic Text SR', () => {
  test('dicomDateTime: the zone\'s date, time and offset', () => {
    assert.deepEqual(dicomDateTime('2026-11-23T18:25:07Z', 'Asia/Shanghai'), { date: '20261124', time: '022507', dateTime: '20261124022507+0800', offset: '+0800' });
    assert.deepEqual(dicomDateTime('2026-11-23T18:25:07Z', 'UTC'), { date: '20261123', time: '182507', dateTime: '20261123182507+0000', offset: '+0000' });
  });

  test('refuses a study that is not the report\'s', () => {
    assert.throws(() => buildReportSr(report(newUid()), { studyInstanceUid: newUid() }), /belongs to study/);
  });

  test('Part 10, explicit VR LE, UTF-8; header, verification and the content tree round-trip', () => {
    const studyInstanceUid = newUid();
    const study: ReportSrStudy = { studyInstanceUid, patientId: 'P-sr-1', patientName: 'Wang^XiaoDong=王^小东=', patientBirthDate: '19800315', patientSex: 'M', accessionNumber: 'A20261123001', studyDate: '20261123', studyTime: '093015', studyId: 'S1', referringPhysicianName: 'Zhang^Wei=张^伟' };
    const previous = { sopInstanceUid: newUid(), seriesInstanceUid: newUid() };
    const sr = buildReportSr(report(studyInstanceUid), study, { predecessor: previous });
    assert.match(sr.sopInstanceUid, /^2\.25\.\d{1,39}$/);
    assert.match(sr.seriesInstanceUid, /^2\.25\.\d{1,39}$/);
    assert.ok(sr.sopInstanceUid.length <= 64 && sr.seriesInstanceUid.length <= 64);
    assert.notEqual(sr.sopInstanceUid, sr.seriesInstanceUid);

    const header = splitPart10(sr.bytes);
    assert.equal(header.transferSyntaxUid, TRANSFER_SYNTAX.EXPLICIT_LE);
    assert.equal(header.sopClassUid, BASIC_TEXT_SR);
    assert.equal(header.sopInstanceUid, sr.sopInstanceUid);

    const parsed = parseDicom(sr.bytes);
    const index = readIndexAttributes(parsed);
    assert.equal(index.sopClassUid, BASIC_TEXT_SR);
    assert.equal(index.studyInstanceUid, studyInstanceUid);
    assert.equal(index.seriesInstanceUid, sr.seriesInstanceUid);
    assert.equal(index.patientName, 'Wang^XiaoDong=王^小东');
    assert.equal(index.modality, 'SR');
    assert.equal(index.instanceNumber, 2);
    assert.equal(index.contentDate, '20261123');
    assert.equal(index.contentTime, '102500');

    const json = toDicomJson(parsed);
    assert.deepEqual(json['00080005']?.Value, ['ISO_IR 192']);
    assert.deepEqual(first(json, '00100010'), { Alphabetic: 'Wang^XiaoDong', Ideographic: '王^小东' });
    assert.deepEqual(first(json, '00080090'), { Alphabetic: 'Zhang^Wei', Ideographic: '张^伟' });
    assert.equal(first(json, '00100020'), 'P-sr-1');
    assert.equal(first(json, '00080050'), 'A20261123001');
    assert.equal(first(json, '0040A491'), 'COMPLETE');
    assert.equal(first(json, '0040A493'), 'VERIFIED');
    assert.equal(first(json, '0040A040'), 'CONTAINER');
    assert.deepEqual([first(first(json, '0040A043'), '00080100'), first(first(json, '0040A043'), '00080102')], ['18748-4', 'LN']);

    const verifier = first(json, '0040A073') as DicomJsonDataset;
    assert.deepEqual(first(verifier, '0040A075'), { Ideographic: '周建华' });
    assert.equal(first(verifier, '0040A027'), '昆山市第一人民医院');
    assert.equal(first(verifier, '0040A030'), '20261123102500+0800');

    const predecessor = first(json, '0040A360') as DicomJsonDataset;
    assert.equal(first(predecessor, '0020000D'), studyInstanceUid);
    const referencedSeries = first(predecessor, '00081115') as DicomJsonDataset;
    assert.equal(first(referencedSeries, '0020000E'), previous.seriesInstanceUid);
    assert.equal(first(first(referencedSeries, '00081199'), '00081155'), previous.sopInstanceUid);

    const content = items(json, '0040A730');
    const findings = content.find((item) => conceptOf(item) === '121070')!;
    const finding = items(findings, '0040A730')[0]!;
    assert.equal(conceptOf(finding), '121071');
    assert.equal(first(finding, '0040A040'), 'TEXT');
    assert.equal(first(finding, '0040A160'), FINDINGS.replace('\n', '\r\n'));
    const impressions = items(content.find((item) => conceptOf(item) === '121072'), '0040A730');
    assert.deepEqual(impressions.map((item) => [conceptOf(item), first(item, '0040A160')]), [['121073', IMPRESSION], ['121073', '阳性']]);
    const comments = content.filter((item) => conceptOf(item) === '121106');
    assert.equal(comments.length, 1);
    assert.equal(first(comments[0], '0040A160'), '补充报告（2026-11-24 09:00，周建华）：复阅前片，结节较前无明显变化。');
    const author = content.find((item) => conceptOf(item) === '121008')!;
    assert.deepEqual(first(author, '0040A123'), { Ideographic: '李明' });
  });

  test('dsrdump reads it and prints the findings', async (t) => {
    if (spawnSync('dsrdump', ['--version'], { stdio: 'ignore' }).error) {
      t.skip('dsrdump (dcmtk) is not installed');
      return;
    }
    const studyInstanceUid = newUid();
    const sr = buildReportSr(report(studyInstanceUid, { reviewer: undefined, addenda: [], version: 1, status: 'signed' }), { studyInstanceUid });
    const dir = await mkdtemp(path.join(tmpdir(), 'yunying-sr-'));
    try {
      const file = path.join(dir, 'report.dcm');
      await writeFile(file, sr.bytes);
      const run = spawnSync('dsrdump', ['+Pl', '+Pc', file], { encoding: 'utf8' });
      assert.equal(run.status, 0, run.stderr);
      assert.doesNotMatch(run.stderr, /error/i);
      assert.match(run.stdout, /Basic Text SR Document/);
      assert.ok(run.stdout.includes('双肺纹理清晰，右肺上叶尖段见一磨玻璃密度结节，大小约8毫米×6毫米。'), run.stdout);
      assert.ok(run.stdout.includes(IMPRESSION));
      assert.match(run.stdout, /Verification Flag\s+: VERIFIED/);
      assert.match(run.stdout, /18748-4,LN,"Diagnostic Imaging Report"/);
      assert.match(run.stdout, /121071,DCM,"Finding"/);
      // no reviewer: the author verified it
      assert.match(run.stdout, /Verifying Observers : 2026-11-23 10:25:00 \+08:00, =李明, 昆山市第一人民医院/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  describe('the archive takes it into the study', () => {
    let archive: Archive;
    let dataDir: string;
    before(async () => {
      dataDir = await mkdtemp(path.join(tmpdir(), 'yunying-sr-archive-'));
      archive = await openArchive({ dataDir, fsync: false });
    });
    after(async () => {
      await archive.close();
      await rm(dataDir, { recursive: true, force: true });
    });

    test('ingested as a new SR series of the same study', async () => {
      const image = makeSyntheticInstance({ patientId: 'P-sr-1', patientName: 'Wang^XiaoDong', studyDate: '20261123', accessionNumber: 'A20261123001' });
      await archive.ingest(systemCaller(), { kind: 'part10', bytes: image.bytes });
      const studyAttributes = readIndexAttributes(parseDicom(image.bytes));
      const sr = buildReportSr(report(image.studyInstanceUid), { ...studyAttributes, studyInstanceUid: image.studyInstanceUid });
      const result = await archive.ingest(systemCaller(), { kind: 'part10', bytes: sr.bytes });
      assert.equal(result.outcome, 'stored');
      assert.equal(result.studyInstanceUid, image.studyInstanceUid);
      assert.equal(result.seriesInstanceUid, sr.seriesInstanceUid);
      assert.equal(result.sopClassUid, BASIC_TEXT_SR);

      const studies = await archive.query(systemCaller(), { level: 'STUDY', keys: { '0020000D': { vr: 'UI', Value: [image.studyInstanceUid] }, '00080061': { vr: 'CS' }, '00201206': { vr: 'IS' }, '00201208': { vr: 'IS' } } });
      assert.equal(studies.length, 1);
      assert.deepEqual([...(studies[0]!['00080061']?.Value ?? [])].sort(), ['CT', 'SR']);
      assert.equal(Number(first(studies[0], '00201206')), 2);
      assert.equal(Number(first(studies[0], '00201208')), 2);

      const [stored] = await archive.findInstances(systemCaller(), { sopInstanceUids: [sr.sopInstanceUid] });
      assert.ok(stored);
      assert.ok((await archive.readInstance(stored)).equals(sr.bytes));
      // the same report again is an idempotent resend
      assert.equal((await archive.ingest(systemCaller(), { kind: 'part10', bytes: sr.bytes })).outcome, 'duplicate');
    });
  });
});

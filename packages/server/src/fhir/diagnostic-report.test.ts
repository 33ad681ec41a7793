import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ReportDocument } from '../reports/report-document.ts';
import { escapeXhtml, LOINC_SYSTEM, toDiagnosticReport, V2_0074_SYSTEM } from './diagnostic-report.ts';
import { decodePatientId, encodePatientId } from './patient-id.ts';

function report(overrides: Partial<ReportDocument> = {}): ReportDocument {
  return {
    reportId: 'rpt-0001',
    version: 1,
    status: 'signed',
    studyInstanceUid: '2.25.123456789012345678901234567890',
    accessionNumber: 'A20261123001',
    patient: { id: 'P 001/张', issuerOfPatientId: '周市镇卫生院', institutionId: 'ks-t1', name: 'Wang^XiaoDong=王^小东=', sex: 'M', birthDate: '19800315' },
    studyDate: '20261123',
    studyTime: '093015',
    modality: 'CT',
    bodyParts: ['胸部'],
    clinicalHistory: '咳嗽两周',
    findings: '右肺上叶见一结节 <8mm & "边界清楚"\n纵隔居中。',
    impression: '右肺上叶结节，建议复查。',
    positive: true,
    requestingInstitution: { id: 'ks-t1', name: '周市镇卫生院' },
    readingInstitution: { id: 'ks-county', name: '昆山市第一人民医院' },
    author: { username: 'dr.li', displayName: '李明' },
    reviewer: { username: 'dr.zhou', displayName: '周建华' },
    submittedAt: '2026-11-23T02:10:00.000Z',
    signedAt: '2026-11-23T02:25:00.000Z',
    addenda: [],
    ...overrides,
  };
}

describe('FHIR DiagnosticReport from a report', () => {
  test('a signed report: final, radiology, LOINC 18748-4, references, the PDF, the narrative', () => {
    const resource = toDiagnosticReport(report(), 'https://yun.example.cn/');
    assert.equal(resource.resourceType, 'DiagnosticReport');
    assert.equal(resource.id, 'rpt-0001');
    assert.deepEqual(resource.meta, { versionId: '1', lastUpdated: '2026-11-23T02:25:00.000Z' });
    assert.equal(resource.status, 'final');
    assert.deepEqual(resource.category, [{ coding: [{ system: V2_0074_SYSTEM, code: 'RAD', display: 'Radiology' }] }]);
    assert.deepEqual(resource.code.coding, [{ system: LOINC_SYSTEM, code: '18748-4', display: 'Diagnostic imaging study' }]);
    assert.equal(resource.subject?.display, '王小东');
    const patientRef = /^Patient\/(.+)$/.exec(resource.subject?.reference ?? '');
    assert.ok(patientRef, resource.subject?.reference);
    assert.equal(patientRef[1], encodePatientId({ patientId: 'P 001/张', issuerOfPatientId: '周市镇卫生院', institutionId: 'ks-t1' }), "the study's patient identity");
    assert.equal(decodePatientId(patientRef[1]!)?.patientId, 'P 001/张');
    assert.deepEqual(resource.imagingStudy, [{ reference: 'ImagingStudy/2.25.123456789012345678901234567890' }]);
    assert.equal(resource.issued, '2026-11-23T02:25:00.000Z');
    assert.equal(resource.effectiveDateTime, '2026-11-23T09:30:15+08:00');
    assert.deepEqual(resource.performer, [{ type: 'Organization', identifier: { system: 'https://yun.example.cn/api/v1/institutions', value: 'ks-county' }, display: '昆山市第一人民医院' }]);
    assert.deepEqual(resource.resultsInterpreter, [{ type: 'Practitioner', identifier: { system: 'https://yun.example.cn/api/v1/users', value: 'dr.li' }, display: '李明' }]);
    assert.equal(resource.conclusion, '右肺上叶结节，建议复查。');
    assert.ok(!('conclusionCode' in resource));
    assert.deepEqual(resource.presentedForm, [{
      contentType: 'application/pdf', language: 'zh-CN', url: 'https://yun.example.cn/fhir/r4/DiagnosticReport/rpt-0001/pdf', title: '昆山市第一人民医院 远程影像诊断报告', creation: '2026-11-23T02:25:00.000Z',
    }]);
    assert.equal(resource.identifier[0]?.value, 'rpt-0001');
    assert.equal(resource.identifier.length, 1, 'no report number before one is given');
    const numbered = toDiagnosticReport(report({ reportNumber: 'KS-COUNTY-2026-000123' }), 'https://yun.example.cn/');
    assert.deepEqual(numbered.identifier[1], { use: 'usual', system: 'https://yun.example.cn/report-numbers', value: 'KS-COUNTY-2026-000123', type: { text: '报告编号' } });
    assert.match(numbered.text.div, /报告编号：<\/b>KS-COUNTY-2026-000123/);

    assert.equal(resource.text.status, 'generated');
    const div = resource.text.div;
    assert.match(div, /^<div xmlns="http:\/\/www\.w3\.org\/1999\/xhtml">.*<\/div>$/s);
    assert.ok(div.includes('右肺上叶见一结节 &lt;8mm &amp; &quot;边界清楚&quot;<br/>纵隔居中。'), div);
    assert.ok(div.includes('<h4>诊断意见</h4><p>右肺上叶结节，建议复查。</p>'));
    assert.ok(div.includes('阳性'));
    assert.ok(div.includes('周建华'));
    assert.ok(!div.includes('补充报告'));
    // the only markup is the narrative's own
    const tags = [...div.matchAll(/<\/?([a-z0-9]+)/g)].map((m) => m[1]);
    assert.deepEqual([...new Set(tags)].sort(), ['b', 'br', 'div', 'h3', 'h4', 'p']);
  });

  test('addenda make it amended, with the latest change as lastUpdated', () => {
    const resource = toDiagnosticReport(report({
      version: 2,
      status: 'amended',
      addenda: [{ text: '复阅前片，结节无变化。', author: { username: 'dr.zhou', displayName: '周建华' }, at: '2026-11-24T01:00:00Z' }],
    }), 'http://127.0.0.1:8080');
    assert.equal(resource.status, 'amended');
    assert.deepEqual(resource.meta, { versionId: '2', lastUpdated: '2026-11-24T01:00:00.000Z' });
    assert.equal(resource.issued, '2026-11-23T02:25:00.000Z');
    assert.equal(resource.presentedForm[0]?.url, 'http://127.0.0.1:8080/fhir/r4/DiagnosticReport/rpt-0001/pdf');
    assert.ok(resource.text.div.includes('<h4>补充报告</h4><p>复阅前片，结节无变化。</p>'));
    // addenda alone (status not yet updated) also mean amended
    assert.equal(toDiagnosticReport(report({ addenda: [{ text: 'x', author: { username: 'a' }, at: '2026-11-24T01:00:00Z' }] }), '').status, 'amended');
  });

  test('sparse report: no patient id, alphabetic name, no study time, no reviewer', () => {
    const resource = toDiagnosticReport(report({ patient: { name: 'Doe^John' }, studyTime: undefined, reviewer: undefined, author: { username: 'dr.li' } }), 'http://h', { timeZoneOffset: '+00:00' });
    assert.deepEqual(resource.subject, { display: 'Doe John' });
    assert.equal(resource.effectiveDateTime, '2026-11-23');
    assert.equal(resource.resultsInterpreter[0]?.display, 'dr.li');
    assert.ok(!resource.text.div.includes('审核医师'));
    const none = toDiagnosticReport(report({ patient: {}, studyDate: undefined }), 'http://h');
    assert.ok(!('subject' in none));
    assert.ok(!('effectiveDateTime' in none));
  });

  test('escapeXhtml', () => {
    assert.equal(escapeXhtml(`a<b>&"c'\r\nd\u0001e`), 'a&lt;b&gt;&amp;&quot;c&#39;<br/>de');
  });
});

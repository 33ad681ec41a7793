import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { inflateSync } from 'node:zlib';
import type { ReportDocument } from './report-document.ts';
import { ACCESS_CODE_NOTE, ageOrBirthDate, formatInstant, patientDisplayName, renderReportPdf, sexLabel } from './report-pdf.ts';
import { signaturePng } from '../test-support/signature-png.ts';
import { validateSignaturePng } from './signatures.ts';

const FINDING_SENTENCE = '双肺纹理清晰，走行自然，右肺上叶尖段见一磨玻璃密度结节，大小约8毫米×6毫米，边界清楚，其内未见明显实性成分；';

function report(overrides: Partial<ReportDocument> = {}): ReportDocument {
  return {
    reportId: 'rpt-0001',
    version: 2,
    status: 'amended',
    studyInstanceUid: '2.25.1234567890',
    accessionNumber: 'A20261123001',
    patient: { id: 'P-001/张', name: 'Wang^XiaoDong=王^小东=', sex: 'M', birthDate: '19800315' },
    studyDate: '20261123',
    studyTime: '093015',
    modality: 'CT',
    studyDescription: '胸部CT平扫',
    bodyParts: ['CHEST', '胸部'],
    clinicalHistory: '咳嗽两周，伴低热，既往体健。',
    findings: `${FINDING_SENTENCE.repeat(40)}\n纵隔结构居中，未见肿大淋巴结。心影不大。`,
    impression: '1. 右肺上叶磨玻璃结节，建议3个月后复查。\n2. 余胸部CT平扫未见明显异常。',
    positive: true,
    requestingInstitution: { id: 'ks-t1', name: '周市镇卫生院' },
    readingInstitution: { id: 'ks-county', name: '昆山市第一人民医院' },
    author: { username: 'dr.li', displayName: '李明' },
    reviewer: { username: 'dr.zhou', displayName: '周建华' },
    submittedAt: '2026-11-23T02:10:00.000Z',
    signedAt: '2026-11-23T02:25:00.000Z',
    addenda: [{ text: '补充：复阅前片，结节较前无明显变化。', author: { username: 'dr.zhou', displayName: '周建华' }, at: '2026-11-24T01:00:00.000Z' }],
    shareUrl: 'https://film.example.cn/s/abc123',
    ...overrides,
  };
}

function hasTool(name: string): boolean {
  return spawnSync(name, ['-v'], { stdio: 'ignore' }).error === undefined;
}

/** Text of every FlateDecode stream, to read the font objects PDFKit compresses. */
function pdfObjectsText(pdf: Buffer): string {
  const latin = pdf.toString('latin1');
  const parts = [latin];
  const streamPattern = /stream\r?\n/g;
  let match: RegExpExecArray | null;
  while ((match = streamPattern.exec(latin))) {
    const start = match.index + match[0].length;
    const end = latin.indexOf('endstream', start);
    if (end < 0) break;
    try {
      parts.push(inflateSync(pdf.subarray(start, end)).toString('latin1'));
    } catch {
      // not deflated, or a partial read: the raw text is already included
    }
  }
  return parts.join('\n');
}

describe('report PDF', () => {
  test('helpers: names, sex, age, times', () => {
    assert.equal(patientDisplayName('Wang^XiaoDong=王^小东='), '王小东');
    assert.equal(patientDisplayName('Wang^XiaoDong'), 'Wang XiaoDong');
    assert.equal(patientDisplayName(undefined), undefined);
    assert.equal(sexLabel('F'), '女');
    assert.equal(sexLabel('O'), '其他');
    assert.equal(sexLabel(undefined), '未知');
    assert.equal(ageOrBirthDate('19800315', '20261123'), '46岁（1980-03-15）');
    assert.equal(ageOrBirthDate('19800315', undefined), '1980-03-15');
    assert.equal(ageOrBirthDate('20260301', '20261123'), '8月（2026-03-01）');
    assert.equal(ageOrBirthDate('20261101', '20261123'), '22天（2026-11-01）');
    assert.equal(formatInstant('2026-11-23T02:25:00.000Z', 'Asia/Shanghai'), '2026-11-23 10:25');
  });

  test('A4, two pages, the Chinese font embedded as a subset, the text extractable', async (t) => {
    // handed in, returned, handed in again, signed and amended: stored version 5, issued 第 2 版
    const pdf = await renderReportPdf(report({ reportNumber: 'KS-COUNTY-2026-000123', version: 5, issuedVersion: 2 }));
    assert.equal(pdf.subarray(0, 5).toString('latin1'), '%PDF-');
    const objects = pdfObjectsText(pdf);
    assert.match(objects, /\/FontFile2|\/FontFile3/);
    assert.match(objects, /\/BaseFont \/[A-Z]{6}\+NotoSansSC-Regular/);
    assert.match(objects, /\/BaseFont \/[A-Z]{6}\+NotoSansSC-Bold/);
    assert.match(objects, /\/MediaBox \[0 0 595\.28 841\.89\]/);
    assert.ok(pdf.length < 1_000_000, `a subset, not the whole 10 MB font: ${pdf.length} bytes`);

    if (!hasTool('pdftotext')) {
      t.skip('pdftotext (poppler-utils) is not installed: text extraction not checked');
      return;
    }
    const dir = await mkdtemp(path.join(tmpdir(), 'yunying-pdf-'));
    try {
      const file = path.join(dir, 'report.pdf');
      await writeFile(file, pdf);
      const info = execFileSync('pdfinfo', [file], { encoding: 'utf8' });
      assert.match(info, /Pages:\s+2\b/);
      // Wrapped lines put line breaks inside sentences: compare without whitespace.
      const text = execFileSync('pdftotext', ['-enc', 'UTF-8', file, '-'], { encoding: 'utf8' }).replace(/\s+/g, '');
      for (const expected of ['昆山市第一人民医院', '远程影像诊断报告', '王小东', '男', '46岁', 'P-001/张', 'A20261123001', '周市镇卫生院',
        '胸部', '咳嗽两周，伴低热', '影像所见', FINDING_SENTENCE, '纵隔结构居中', '诊断意见', '右肺上叶磨玻璃结节，建议3个月后复查', '阳性',
        '报告医师', '李明', '审核医师', '周建华', '2026-11-2310:25', '补充报告', '结节较前无明显变化', '扫码查看云胶片', '本报告仅供临床参考', '第1页/共2页', '第2页/共2页', '报告编号KS-COUNTY-2026-000123', '第2版']) {
        assert.ok(text.includes(expected.replace(/\s+/g, '')), `PDF text lacks ${expected}`);
      }
      assert.ok(!text.includes('rpt-0001'), 'the readable number, not the report id');
      assert.ok(!text.includes('第5版'), 'issued versions are counted, not the drafts handed in');
      if (process.env.YUNYING_KEEP_PDF) {
        execFileSync('pdftoppm', ['-png', '-r', '80', file, path.join(process.env.YUNYING_KEEP_PDF, 'report')]);
        await writeFile(path.join(process.env.YUNYING_KEEP_PDF, 'report.pdf'), pdf);
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('no share link yet: a placeholder QR and caption; negative, no reviewer, no addenda', async (t) => {
    const pdf = await renderReportPdf(report({ shareUrl: undefined, positive: false, reviewer: undefined, addenda: [], status: 'signed', findings: '颅内未见异常密度影。', patient: { name: 'Doe^John' } }));
    assert.equal(pdf.subarray(0, 5).toString('latin1'), '%PDF-');
    if (!hasTool('pdftotext')) {
      t.skip('pdftotext (poppler-utils) is not installed: text extraction not checked');
      return;
    }
    const dir = await mkdtemp(path.join(tmpdir(), 'yunying-pdf-'));
    try {
      const file = path.join(dir, 'report.pdf');
      await writeFile(file, pdf);
      const raw = execFileSync('pdftotext', ['-enc', 'UTF-8', file, '-'], { encoding: 'utf8' });
      assert.match(raw, /Doe John/);
      const text = raw.replace(/\s+/g, '');
      for (const expected of ['云胶片链接待生成', '阴性', '颅内未见异常密度影', '第1页/共1页']) assert.ok(text.includes(expected), `PDF text lacks ${expected}`);
      assert.ok(!text.includes('补充报告'));
      assert.ok(!text.includes('扫码查看云胶片'));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  /** The PDF through pdftotext (whitespace removed) and pdfimages -list (one line per image, masks left out). */
  async function readBack(pdf: Buffer): Promise<{ text: string; images: string[] }> {
    const dir = await mkdtemp(path.join(tmpdir(), 'yunying-pdf-'));
    try {
      const file = path.join(dir, 'report.pdf');
      await writeFile(file, pdf);
      const text = execFileSync('pdftotext', ['-enc', 'UTF-8', file, '-'], { encoding: 'utf8' }).replace(/\s+/g, '');
      const images = execFileSync('pdfimages', ['-list', file], { encoding: 'utf8' }).split('\n').slice(2).filter((line) => /^\s*\d+\s+\d+\s+image\b/.test(line)); // not the QR code's soft mask
      return { text, images };
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  test('body parts in Chinese: CHEST prints 胸部, once beside 胸部; unknown terms as they came', async (t) => {
    if (!hasTool('pdftotext')) return t.skip('pdftotext (poppler-utils) is not installed');
    const { text } = await readBack(await renderReportPdf(report({ bodyParts: ['CHEST', '胸部', 'LSPINE', 'KNEE', '左侧腕部'], addenda: [], findings: '未见异常。' })));
    assert.ok(text.includes('检查部位：胸部、腰椎、膝关节、左侧腕部'), text);
    assert.ok(!text.includes('CHEST'));
    assert.ok(!text.includes('LSPINE'));
  });

  test('a link with an access code: the PDF says a code is needed and given separately, never a code', async (t) => {
    if (!hasTool('pdftotext')) return t.skip('pdftotext (poppler-utils) is not installed');
    const note = ACCESS_CODE_NOTE.join('');
    assert.equal(note, '凭访问码查看（访问码另行告知）');
    const withCode = await readBack(await renderReportPdf(report({ shareAccessCodeRequired: true, addenda: [], findings: '未见异常。' })));
    assert.ok(withCode.text.includes('扫码查看云胶片'));
    assert.ok(withCode.text.includes(note), withCode.text);
    const withoutCode = await readBack(await renderReportPdf(report({ addenda: [], findings: '未见异常。' })));
    assert.ok(!withoutCode.text.includes('访问码'));
    const pending = await readBack(await renderReportPdf(report({ shareUrl: undefined, shareAccessCodeRequired: true, addenda: [], findings: '未见异常。' })));
    assert.ok(!pending.text.includes('访问码'), 'no link, no code line');
  });

  test('a configured signature image is drawn beside the signer; without one only the QR code is an image', async (t) => {
    if (!hasTool('pdfimages')) return t.skip('pdfimages (poppler-utils) is not installed');
    const png = signaturePng();
    assert.deepEqual(validateSignaturePng(png), { width: 120, height: 40 });
    const plain = await readBack(await renderReportPdf(report({ addenda: [], findings: '未见异常。' })));
    assert.equal(plain.images.length, 1, plain.images.join('\n'));
    const signed = await readBack(await renderReportPdf(report({ addenda: [], findings: '未见异常。' }), { signatures: new Map([['dr.zhou', png]]) }));
    assert.equal(signed.images.length, 2, signed.images.join('\n'));
    // pdfimages -list: page num type width height color …: the signature at its own size, grey
    assert.ok(signed.images.some((line) => /^\s*1\s+\d+\s+image\s+120\s+40\s+gray\b/.test(line)), signed.images.join('\n'));
    assert.ok(signed.text.includes('周建华'), 'the name stays beside the image');
    const both = await readBack(await renderReportPdf(report({ addenda: [], findings: '未见异常。' }), { signatures: new Map([['dr.zhou', png], ['dr.li', png]]) }));
    assert.equal(both.images.length, 3);
  });
});

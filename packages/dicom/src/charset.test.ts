import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeText, encodeText } from './charset.ts';
import { parseDicom } from './parse.ts';
import { readIndexAttributes } from './index-attributes.ts';
import { toDicomJson } from './dicom-json.ts';
import { readSample } from '@yunying/testing/samples';

const patientName = (path: string) => readIndexAttributes(parseDicom(readSample(path), { untilPixelData: true })).patientName;

describe('charset: sample files', () => {
  const expected: [string, string][] = [
    ['charset/chrX2.dcm', 'Wang^XiaoDong=王^小东='], // GB18030
    ['charset/chrX1.dcm', 'Wang^XiaoDong=王^小東='], // ISO_IR 192
    ['charset/chrGB2312.dcm', 'Zhang^XiaoDong=张^小东='], // ISO 2022 IR 58
    ['charset/chrH31.dcm', 'Yamada^Tarou=山田^太郎=やまだ^たろう'], // ISO 2022 IR 87
    ['charset/chrH32.dcm', 'ﾔﾏﾀﾞ^ﾀﾛｳ=山田^太郎=やまだ^たろう'], // ISO 2022 IR 13 + IR 87
    ['charset/chrI2.dcm', 'Hong^Gildong=洪^吉洞=홍^길동'], // ISO 2022 IR 149
    ['charset/chrKoreanMulti.dcm', '김희중'],
    ['charset/chrJapMulti.dcm', 'やまだ^たろう'], // empty value 1: default repertoire initially
    ['charset/chrJapMultiExplicitIR6.dcm', 'やまだ^たろう'], // ISO 2022 IR 6 spelled out
    ['charset/chrFren.dcm', 'Buc^Jérôme'], // ISO_IR 100
    ['charset/chrGerm.dcm', 'Äneas^Rüdiger'],
    ['charset/chrGreek.dcm', 'Διονυσιος'], // ISO_IR 126
    ['charset/chrRuss.dcm', 'Люкceмбypг'], // ISO_IR 144 (the sample mixes Latin letters in)
    ['charset/chrArab.dcm', 'قباني^لنزار'], // ISO_IR 127
    ['charset/chrHbrw.dcm', 'שרון^דבורה'], // ISO_IR 138
  ];
  for (const [path, name] of expected) {
    it(`${path} → ${name}`, () => assert.equal(patientName(path), name));
  }

  it('decodes a non-conformant GB18030 CS value (Patient Sex 男) instead of failing', () => {
    const attributes = readIndexAttributes(parseDicom(readSample('charset/chrX2_GB18030_patientsex_chinese.dcm')));
    assert.equal(attributes.patientSex, '男');
    assert.equal(attributes.patientName, 'Wang^XiaoDong=王^小东=');
  });

  it('applies a sequence item\'s own Specific Character Set inside that item only', () => {
    const json = toDicomJson(parseDicom(readSample('charset/chrSQEncoding.dcm')));
    const item = (json['00321064']!.Value as Record<string, { Value?: unknown[] }>[])[0]!;
    assert.deepEqual(item['00100010']!.Value, [{ Alphabetic: 'ﾔﾏﾀﾞ^ﾀﾛｳ', Ideographic: '山田^太郎', Phonetic: 'やまだ^たろう' }]);
    assert.deepEqual(json['00321032']!.Value, [{ Alphabetic: 'Doctor^Who^^MD' }]);
  });

  it('inherits the data set character set in items without their own (chrSQEncoding1)', () => {
    const json = toDicomJson(parseDicom(readSample('charset/chrSQEncoding1.dcm')));
    const item = (json['00321064']!.Value as Record<string, { Value?: unknown[] }>[])[0]!;
    assert.deepEqual(item['00100010']!.Value, [{ Alphabetic: 'ﾔﾏﾀﾞ^ﾀﾛｳ', Ideographic: '山田^太郎', Phonetic: 'やまだ^たろう' }]);
  });
});

describe('charset: decodeText', () => {
  const ESC = 0x1b;
  it('ASCII for absent, empty and ISO_IR 6', () => {
    for (const cs of [undefined, [], ['ISO_IR 6'], ['']]) assert.equal(decodeText(Buffer.from('Doe^John'), cs), 'Doe^John');
  });

  it('switches JIS X 0208 in and out of G0 with escapes (ISO 2022 IR 87)', () => {
    const yamada = [0x3b, 0x33, 0x45, 0x44];
    const taro = [0x42, 0x40, 0x4f, 0x3a];
    const bytes = Buffer.from([ESC, 0x24, 0x42, ...yamada, ESC, 0x28, 0x42, 0x5e, ESC, 0x24, 0x42, ...taro, ESC, 0x28, 0x42]);
    assert.equal(decodeText(bytes, ['', 'ISO 2022 IR 87']), '山田^太郎');
  });

  it('resets G1 to the value-1 set at a delimiter (PS3.5 6.1.2.5.3)', () => {
    // ESC - L puts Cyrillic in G1: 0xC0 is "а"; after "^" G1 is Latin-1 again and 0xE9 is "é".
    const bytes = Buffer.from([ESC, 0x2d, 0x4c, 0xd0, 0x5e, 0xe9]);
    assert.equal(decodeText(bytes, ['ISO 2022 IR 100', 'ISO 2022 IR 144']), 'а^é');
  });

  it('GB2312 via ISO 2022 IR 58 with high-bit bytes in G1', () => {
    const zhang = [0xd5, 0xc5];
    const bytes = Buffer.from([0x5a, 0x3d, ESC, 0x24, 0x29, 0x41, ...zhang]);
    assert.equal(decodeText(bytes, ['', 'ISO 2022 IR 58']), 'Z=张');
  });

  it('undeclared non-ASCII: valid UTF-8 is kept, anything else read as Latin-1', () => {
    assert.equal(decodeText(Buffer.from('王', 'utf8'), undefined), '王');
    assert.equal(decodeText(Buffer.from([0x4a, 0xe9]), undefined), 'Jé');
  });
});

describe('charset: encodeText', () => {
  it('GB18030 round-trips 张三 and a 4-byte character (U+20000)', () => {
    for (const text of ['张三', '𠀀', 'Wang^XiaoDong=王^小东=']) {
      const bytes = encodeText(text, ['GB18030']);
      assert.equal(decodeText(bytes, ['GB18030']), text);
    }
    assert.deepEqual([...encodeText('张三', ['GB18030'])], [0xd5, 0xc5, 0xc8, 0xfd]);
    assert.equal(encodeText('𠀀', ['GB18030']).length, 4);
  });

  it('GBK, UTF-8, Latin-1 and ASCII', () => {
    assert.equal(decodeText(encodeText('张三', ['GBK']), ['GBK']), '张三');
    assert.equal(encodeText('王^小東', ['ISO_IR 192']).toString('utf8'), '王^小東');
    assert.deepEqual([...encodeText('é', ['ISO_IR 100'])], [0xe9]);
    assert.equal(encodeText('Doe', undefined).toString(), 'Doe');
  });

  it('throws explicit errors for unrepresentable text and unsupported sets', () => {
    assert.throws(() => encodeText('张', undefined), /not ASCII/);
    assert.throws(() => encodeText('张', ['ISO_IR 100']), /cannot be represented/);
    assert.throws(() => encodeText('山', ['', 'ISO 2022 IR 87']), /unsupported/);
  });
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { INDEXED_BY_TAG } from './attribute-catalog.ts';
import { likeLiteral, literalBigrams, personNameBigrams, personNameSearchGroups, personNameSearchText, searchTextPattern, toMatchCondition, wildcardToLike } from './matching.ts';
import { YunyingError } from '../errors.ts';

const attribute = (tag: string) => {
  const found = INDEXED_BY_TAG.get(tag);
  assert.ok(found, tag);
  return found;
};

test('an empty value or "*" is universal matching', () => {
  assert.equal(toMatchCondition(attribute('00100020'), { vr: 'LO' }), undefined);
  assert.equal(toMatchCondition(attribute('00100020'), { vr: 'LO', Value: ['*'] }), undefined);
});

test('wildcards become an escaped LIKE pattern', () => {
  assert.equal(wildcardToLike('AB*C?_%!'), 'AB%C_!_!%!!');
  assert.deepEqual(toMatchCondition(attribute('00080050'), { vr: 'SH', Value: ['A1*'] }), { kind: 'like', attribute: attribute('00080050'), pattern: 'A1%' });
});

test('a list of UIDs matches any of them; a wildcard in a UID is refused', () => {
  const condition = toMatchCondition(attribute('0020000D'), { vr: 'UI', Value: ['1.2.3\\1.2.4'] });
  assert.deepEqual(condition, { kind: 'in', attribute: attribute('0020000D'), values: ['1.2.3', '1.2.4'] });
  assert.throws(() => toMatchCondition(attribute('0020000D'), { vr: 'UI', Value: ['1.2.*'] }), YunyingError);
});

test('date ranges: closed, open start, open end, and ISO dates', () => {
  const studyDate = attribute('00080020');
  assert.deepEqual(toMatchCondition(studyDate, { vr: 'DA', Value: ['20240101-20240131'] }), { kind: 'range', attribute: studyDate, from: '20240101', to: '20240131' });
  assert.deepEqual(toMatchCondition(studyDate, { vr: 'DA', Value: ['-20240131'] }), { kind: 'range', attribute: studyDate, from: undefined, to: '20240131' });
  assert.deepEqual(toMatchCondition(studyDate, { vr: 'DA', Value: ['20240101-'] }), { kind: 'range', attribute: studyDate, from: '20240101', to: undefined });
  assert.deepEqual(toMatchCondition(studyDate, { vr: 'DA', Value: ['2024-01-05'] }), { kind: 'equals', attribute: studyDate, value: '20240105' });
  assert.throws(() => toMatchCondition(studyDate, { vr: 'DA', Value: ['2024013'] }), /not a valid DA/);
});

test('time ranges include the whole end minute or second', () => {
  const studyTime = attribute('00080030');
  assert.deepEqual(toMatchCondition(studyTime, { vr: 'TM', Value: ['0800-1200'] }), { kind: 'range', attribute: studyTime, from: '0800', to: '1200~' });
  assert.deepEqual(toMatchCondition(studyTime, { vr: 'TM', Value: ['0930'] }), { kind: 'range', attribute: studyTime, from: '0930', to: '0930~' });
});

test('person names match case-insensitively, by component group unless the key has "="', () => {
  const patientName = attribute('00100010');
  assert.deepEqual(toMatchCondition(patientName, { vr: 'PN', Value: [{ Alphabetic: 'zhang*' }] }), { kind: 'personName', attribute: patientName, pattern: 'ZHANG%', wholeName: false });
  assert.deepEqual(toMatchCondition(patientName, { vr: 'PN', Value: [{ Alphabetic: 'Wang^XiaoDong', Ideographic: '王^小东' }] }), {
    kind: 'personName', attribute: patientName, pattern: 'WANG^XIAODONG=王^小东', wholeName: true,
  });
  assert.deepEqual(personNameSearchGroups('Wang^XiaoDong=王^小东='), { alphabetic: 'WANG^XIAODONG', ideographic: '王^小东', phonetic: null });
});

test('several values of one key match any of them', () => {
  const modality = attribute('00080060');
  const condition = toMatchCondition(modality, { vr: 'CS', Value: ['CT', 'MR'] });
  assert.equal(condition?.kind, 'anyOf');
});

test('a "contains" name search uses one search text holding every form of the name', () => {
  assert.equal(personNameSearchText(personNameSearchGroups('Zhang^San=张^三=')), '|ZHANG^SAN|ZHANGSAN|张^三|张三|');
  assert.equal(personNameSearchText(personNameSearchGroups(undefined)), null);
  assert.equal(searchTextPattern('%罗%'), '%罗%');
  assert.equal(searchTextPattern('ZHANG%'), '%|ZHANG%');
  assert.equal(searchTextPattern('ZHANG^SAN'), '%|ZHANG^SAN|%');
  assert.equal(searchTextPattern('%SAN'), '%SAN|%');
  assert.equal(searchTextPattern('ZH%SAN'), undefined, 'an inner % could span two forms');
  assert.equal(searchTextPattern('ZHANG_SAN'), undefined, 'a _ could match the separator');
  assert.equal(searchTextPattern('100!%'), '%|100!%|%', 'an escaped % is a literal');
});

test('name bigrams: every character pair of the search text that holds a non-ASCII character', () => {
  assert.deepEqual(personNameBigrams('|WANG^XIAODONG|WANGXIAODONG|王^小东|王小东|')?.sort(), ['|王', '王^', '^小', '小东', '东|', '王小'].sort());
  assert.equal(personNameBigrams('|LI^SI|LISI|'), null, 'pinyin goes through the trigram index');
  assert.equal(personNameBigrams(null), null);
  assert.deepEqual(personNameBigrams('|𠀋𠀌|'), ['|𠀋', '𠀋𠀌', '𠀌|'], 'characters beyond the BMP count as one, as in PostgreSQL');
  assert.deepEqual(literalBigrams('A王小'), ['A王', '王小']);
  assert.deepEqual(literalBigrams('王'), []);
});

test('the fixed text of a name pattern, and whether it is anchored at both ends', () => {
  assert.deepEqual(likeLiteral('%王小%'), { literal: '王小', exact: false });
  assert.deepEqual(likeLiteral('王小%'), { literal: '王小', exact: false });
  assert.deepEqual(likeLiteral('ZHANG^WEI'), { literal: 'ZHANG^WEI', exact: true });
  assert.deepEqual(likeLiteral('100!%'), { literal: '100%', exact: true }, 'an escaped % is a literal');
  assert.deepEqual(likeLiteral('%A!_B%'), { literal: 'A_B', exact: false });
  assert.equal(likeLiteral('王%东'), undefined);
  assert.equal(likeLiteral('王_东'), undefined);
  assert.equal(likeLiteral('%%'), undefined);
});

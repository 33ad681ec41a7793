import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BODY_PARTS, bodyPartName, bodyPartNames } from './body-parts.ts';

test('defined terms of Body Part Examined are named in Chinese and English', () => {
  assert.equal(bodyPartName('CHEST'), '胸部');
  assert.equal(bodyPartName('HEAD', 'zh'), '头部');
  assert.equal(bodyPartName('ABDOMEN'), '腹部');
  assert.equal(bodyPartName('PELVIS'), '盆腔');
  assert.equal(bodyPartName('SPINE'), '脊柱');
  assert.equal(bodyPartName('CSPINE'), '颈椎');
  assert.equal(bodyPartName('LSPINE'), '腰椎');
  assert.equal(bodyPartName('KNEE'), '膝关节');
  assert.equal(bodyPartName('CHEST', 'en'), 'Chest');
  assert.equal(bodyPartName('LSPINE', 'en'), 'Lumbar spine');
});

test('case, spaces and dashes as modalities send them; unknown values kept as they came', () => {
  assert.equal(bodyPartName(' chest '), '胸部');
  assert.equal(bodyPartName('L-SPINE'), '腰椎');
  assert.equal(bodyPartName('胸部'), '胸部');
  assert.equal(bodyPartName('LOCALTERM', 'en'), 'LOCALTERM');
});

test('a list is named once per name, empty values dropped', () => {
  assert.deepEqual(bodyPartNames(['CHEST', '胸部', '', 'ABDOMEN']), ['胸部', '腹部']);
  assert.deepEqual(bodyPartNames(['CHEST', 'ABDOMEN'], 'en'), ['Chest', 'Abdomen']);
});

test('every entry has both names', () => {
  for (const [term, name] of Object.entries(BODY_PARTS)) {
    assert.match(term, /^[A-Z]+$/);
    assert.ok(name.zh && name.en, term);
  }
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { residentId } from '../test-support/resident-ids.ts';
import { birthDateOfResidentId, maskResidentId, normalizeResidentId, residentIdCheckCharacter, sexOfResidentId } from './resident-id.ts';

test('the GB 11643 check character: the standard example 11010519491231002X', () => {
  assert.equal(residentIdCheckCharacter('11010519491231002'), 'X');
  assert.equal(normalizeResidentId('11010519491231002x'), '11010519491231002X');
  assert.equal(normalizeResidentId(' 11010519491231002X '), '11010519491231002X');
});

test('a wrong check character, a wrong length, letters or an impossible birth date never validate', () => {
  const valid = residentId('32010219800101123');
  assert.equal(normalizeResidentId(valid), valid);
  const wrongCheck = valid.slice(0, 17) + (valid[17] === '0' ? '1' : '0');
  assert.equal(normalizeResidentId(wrongCheck), undefined);
  assert.equal(normalizeResidentId(valid.slice(0, 17)), undefined, '17 characters');
  assert.equal(normalizeResidentId(`${valid}0`), undefined, '19 characters');
  assert.equal(normalizeResidentId('3201021980010112AB'), undefined);
  assert.equal(normalizeResidentId(residentId('32010219800231123')), undefined, '31 February');
  assert.equal(normalizeResidentId(residentId('32010230000101123')), undefined, 'born in the future');
  assert.equal(normalizeResidentId(''), undefined);
  assert.equal(normalizeResidentId(undefined), undefined);
});

test('masked as the screens show it, with birth date and sex read from the ID', () => {
  const id = residentId('32010219800101123');
  assert.equal(maskResidentId(id), `3201**********${id.slice(-4)}`);
  assert.equal(maskResidentId(id).length, 18);
  assert.equal(birthDateOfResidentId(id), '19800101');
  assert.equal(sexOfResidentId(id), 'M');
  assert.equal(sexOfResidentId(residentId('32010219800101124')), 'F');
});

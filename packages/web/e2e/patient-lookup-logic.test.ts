/**
 * The patient screen's pure parts (issue 17): the resident ID check of the search form and
 * which identity the duplicate check asks about. A unit test: no browser, no server.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { checkedResidentId } from '../src/app/resident-id.ts';
import { duplicateCheckPatient } from '../src/screens/patients/duplicate-check-patient.ts';
import type { PersonIdentifier } from '../src/api/recognition-types.ts';

describe('resident ID check (GB 11643, ISO 7064 MOD 11-2)', () => {
  test('a valid ID passes, upper-cased and trimmed; the check character X is accepted in either case', () => {
    assert.equal(checkedResidentId('11010519491231002X'), '11010519491231002X');
    assert.equal(checkedResidentId(' 11010519491231002x '), '11010519491231002X');
    assert.equal(checkedResidentId('320583198503120012'), '320583198503120012');
  });
  test('a wrong check character, a wrong length or other characters fail', () => {
    assert.equal(checkedResidentId('110105194912310021'), undefined);
    assert.equal(checkedResidentId('32058319850312001'), undefined);
    assert.equal(checkedResidentId('3205831985031200123'), undefined);
    assert.equal(checkedResidentId('32058319850312001A'), undefined);
    assert.equal(checkedResidentId(''), undefined);
  });
});

describe('whom the duplicate check asks about', () => {
  const identifier = (patientId: string, issuerOfPatientId: string | null, institutionId: string): PersonIdentifier => ({ id: `pid-${patientId}`, system: 'local', value: patientId, patientId, issuerOfPatientId, institutionId, institutionName: null, linkKind: 'own' });
  test('the resident ID searched by, when there is one', () => {
    assert.deepEqual(duplicateCheckPatient({ identifiers: [identifier('MRN-1', null, 'ks-t1')] }, '320583198503120012'), { nationalId: '320583198503120012' });
  });
  test('else the first local identity whose Patient ID is not masked, with its issuer when it has one', () => {
    const person = { identifiers: [identifier('3205**********0012', null, 'ks-t1'), identifier('MRN-7', 'KS-T2', 'ks-t2')] };
    assert.deepEqual(duplicateCheckPatient(person, undefined), { patientId: 'MRN-7', issuerOfPatientId: 'KS-T2', institutionId: 'ks-t2' });
    assert.deepEqual(duplicateCheckPatient({ identifiers: [identifier('MRN-8', null, 'ks-t3')] }, undefined), { patientId: 'MRN-8', institutionId: 'ks-t3' });
  });
  test('nothing to ask with when every Patient ID is a masked resident ID', () => {
    assert.equal(duplicateCheckPatient({ identifiers: [identifier('3205**********0012', null, 'ks-t1')] }, undefined), undefined);
  });
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { residentId } from '../test-support/resident-ids.ts';
import { NationalIdVault } from './national-id-vault.ts';

test('a sealed ID: its hash is stable under one key and differs under another, its cipher opens only with the key', () => {
  const id = residentId('32010219800101123');
  const secret = randomBytes(32);
  const vault = new NationalIdVault(secret);
  const sealed = vault.seal(id);
  assert.equal(sealed.hash, vault.hash(id));
  assert.equal(sealed.hash, new NationalIdVault(secret).hash(id));
  assert.notEqual(sealed.hash, new NationalIdVault(randomBytes(32)).hash(id));
  assert.equal(sealed.masked, `3201**********${id.slice(-4)}`);
  assert.ok(!sealed.cipher.includes(id) && !sealed.hash.includes(id.slice(6, 14)));
  assert.notEqual(vault.seal(id).cipher, sealed.cipher, 'a fresh IV per seal');
  assert.equal(vault.open(sealed.cipher), id);
  assert.throws(() => new NationalIdVault(randomBytes(32)).open(sealed.cipher));
});

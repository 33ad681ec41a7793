import { test } from 'node:test';
import assert from 'node:assert/strict';
import { primaryImageModality } from './modalities.ts';

test('the primary modality of a study is its first image modality, not the report stored with it', () => {
  assert.equal(primaryImageModality('SR\\US'), 'US');
  assert.equal(primaryImageModality('CT\\SR'), 'CT');
  assert.equal(primaryImageModality('KO\\PR\\MR'), 'MR');
  assert.equal(primaryImageModality('SR'), 'SR', 'a study of reports only keeps what it has');
  assert.equal(primaryImageModality(''), null);
  assert.equal(primaryImageModality(null), null);
});

/**
 * The cloud film's JPEG zip (issue 13 item 10): a frame that cannot be rendered is left out of
 * the zip, never written as text under a `.jpg` name, and the zip carries a note saying which
 * images are missing and why (they are in the DICOM download).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { TEST_ADMIN_PASSWORD } from '../test-support/admin-auth.ts';
import { makeSyntheticInstance, newUid } from '../test-support/synthetic-dicom.ts';
import { Client, readZip, startShareServer, storeAs, type ShareTestServer } from './share-test-support.ts';

let app: ShareTestServer;
let client: Client;
const study = newUid();
const series = newUid();

before(async () => {
  // a 4 KiB frame budget: 32×32 16-bit (2 KiB) renders, 64×64 16-bit (8 KiB) answers FRAME_TOO_LARGE
  app = await startShareServer({ env: { YUNYING_RENDER_MAX_FRAME_BYTES: '4096' } });
  client = new Client(app.baseUrl);
  await client.login('admin', TEST_ADMIN_PASSWORD);
  const small = makeSyntheticInstance({ studyInstanceUid: study, seriesInstanceUid: series, instanceNumber: 1, size: 32 });
  const big = makeSyntheticInstance({ studyInstanceUid: study, seriesInstanceUid: series, instanceNumber: 2, size: 64 });
  await storeAs(app.server, client.tokens.admin!, [small.bytes, big.bytes]);
});

after(async () => {
  await app?.close();
});

test('the JPEG zip holds only real JPEGs; an image that cannot be rendered is listed in a note with its reason', async () => {
  const created = await client.call<{ url: string }>('admin', 'POST', '/api/v1/share-links', { studyInstanceUid: study, accessCode: false });
  assert.equal(created.status, 201, created.text);
  const answer = await client.call(undefined, 'GET', `${new URL(created.body.url).pathname}/download/jpeg.zip`);
  assert.equal(answer.status, 200, answer.text.slice(0, 200));
  const entries = readZip(answer.raw);
  const jpegs = [...entries].filter(([name]) => name.endsWith('.jpg'));
  assert.equal(jpegs.length, 1, `one renderable image: ${[...entries.keys()].join(', ')}`);
  for (const [name, bytes] of jpegs) assert.deepEqual([...bytes.subarray(0, 3)], [0xff, 0xd8, 0xff], `${name} is a JPEG`);
  const notes = [...entries].filter(([name]) => name.endsWith('.txt'));
  assert.equal(notes.length, 1, 'one note about the images left out');
  const note = notes[0]![1].toString('utf8');
  assert.match(note, /FRAME_TOO_LARGE/);
  assert.match(note, /DICOM/);
  assert.doesNotMatch(note, /NAME|PLACEHOLDER/, 'no patient data in the note');
});

/**
 * Logs never contain passwords, tokens or patient names (issue 4), even at debug level: the
 * real server process is driven through logins (right and wrong), bearer tokens, HTTP Basic,
 * STOW-RS, QIDO-RS with a name in the query string, C-STORE and C-FIND, the patient's
 * cloud-film pages, images and downloads under /s/{token} (issue 12), and everything it
 * wrote to stdout and stderr is then searched for those secrets.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { TEST_ADMIN_PASSWORD } from '../test-support/admin-auth.ts';
import { startServerProcess, type ServerProcess } from '../test-support/server-process.ts';
import { makeSyntheticInstance } from '../test-support/synthetic-dicom.ts';
import { runTool } from '../dimse/dimse-test-support.ts';
import { stowBody } from '../dicomweb/test-support.ts';

const USER_PASSWORD = 'Tech-Secret-Pw-8841';
const WRONG_PASSWORD = 'Wrong-Guess-Pw-5519';
const WRONG_BASIC_PASSWORD = 'Wrong-Basic-Pw-7730';
const STOWED = { alphabetic: 'Secret^Patient', ideographic: '秘^密', patientId: 'PID-LOG-STOW-4242' };
const STORED = { alphabetic: 'Hidden^Person', ideographic: '隐^私', patientId: 'PID-LOG-DIMSE-4343' };

async function request(server: ServerProcess, method: string, url: string, headers: Record<string, string> = {}, body?: string | Buffer): Promise<{ status: number; text: string }> {
  const response = await fetch(`${server.baseUrl}${url}`, { method, headers, body });
  return { status: response.status, text: await response.text() };
}

async function login(server: ServerProcess, username: string, password: string): Promise<{ status: number; token?: string }> {
  const response = await request(server, 'POST', '/api/v1/auth/login', { 'content-type': 'application/json' }, JSON.stringify({ username, password }));
  return { status: response.status, token: response.status === 200 ? (JSON.parse(response.text) as { token: string }).token : undefined };
}

test('at debug level the server logs no password, token, Authorization header or patient name', { timeout: 120_000 }, async () => {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'yunying-log-secrecy-'));
  const server = await startServerProcess(dataDir, { YUNYING_LOG_LEVEL: 'debug', YUNYING_FSYNC: 'false' });
  let stopped = false;
  const secrets: Record<string, string> = {
    'admin password': TEST_ADMIN_PASSWORD,
    'user password': USER_PASSWORD,
    'wrong password': WRONG_PASSWORD,
    'wrong Basic password': WRONG_BASIC_PASSWORD,
    'stowed patient (alphabetic)': STOWED.alphabetic,
    'stowed patient (ideographic)': STOWED.ideographic,
    'stored patient (alphabetic)': STORED.alphabetic,
    'stored patient (ideographic)': STORED.ideographic,
    // the name parts on their own, and the query's wildcard prefix
    'stowed family name': 'Secret',
    'stored family name': 'Hidden',
    'stowed ideographic family name': '秘',
    'stored ideographic family name': '隐',
    // not names, but patient data all the same: the audit trail has them, the log need not
    'stowed patient ID': STOWED.patientId,
    'stored patient ID': STORED.patientId,
  };
  try {
    // the audit chain's HMAC key (created on first start) is never logged either
    secrets['audit key'] = (await readFile(path.join(dataDir, 'audit-key'), 'utf8')).trim();
    const admin = await login(server, 'admin', TEST_ADMIN_PASSWORD);
    assert.equal(admin.status, 200);
    secrets['admin token'] = admin.token!;
    const adminAuth = { authorization: `Bearer ${admin.token}`, 'content-type': 'application/json' };
    const created = await request(server, 'POST', '/api/v1/users', adminAuth, JSON.stringify({ username: 'logtech', password: USER_PASSWORD, role: 'technologist', institutionId: 'default' }));
    assert.equal(created.status, 201, created.text);

    assert.equal((await login(server, 'logtech', WRONG_PASSWORD)).status, 401);
    const user = await login(server, 'logtech', USER_PASSWORD);
    assert.equal(user.status, 200);
    secrets['user token'] = user.token!;
    const bearer = { authorization: `Bearer ${user.token}` };

    // HTTP Basic on DICOMweb, right and wrong
    const basic = `Basic ${Buffer.from(`logtech:${USER_PASSWORD}`).toString('base64')}`;
    const wrongBasic = `Basic ${Buffer.from(`logtech:${WRONG_BASIC_PASSWORD}`).toString('base64')}`;
    secrets['Basic header value'] = basic.slice('Basic '.length);
    secrets['wrong Basic header value'] = wrongBasic.slice('Basic '.length);
    assert.equal((await request(server, 'GET', '/dicom-web/studies', { authorization: basic })).status, 200);
    assert.equal((await request(server, 'GET', '/dicom-web/studies', { authorization: wrongBasic })).status, 401);
    // a forged token is refused; it is no secret, but the header must not be logged either
    assert.equal((await request(server, 'GET', '/dicom-web/studies', { authorization: `Bearer ${'F'.repeat(43)}` })).status, 401);

    // STOW-RS with the bearer token
    const stowed = makeSyntheticInstance({ patientName: `${STOWED.alphabetic}=${STOWED.ideographic}`, patientId: STOWED.patientId });
    const { payload, contentType } = stowBody([stowed.bytes]);
    const stow = await request(server, 'POST', '/dicom-web/studies', { ...bearer, 'content-type': contentType, accept: 'application/dicom+json' }, payload);
    assert.equal(stow.status, 200, stow.text);

    // a refused STOW-RS instance (its SOP Instance UID is taken in another study) is logged with its reason
    const conflicting = makeSyntheticInstance({ sopInstanceUid: stowed.sopInstanceUid, patientName: `${STOWED.alphabetic}=${STOWED.ideographic}`, patientId: STOWED.patientId, instanceNumber: 2 });
    const refused = stowBody([conflicting.bytes]);
    const conflict = await request(server, 'POST', '/dicom-web/studies', { ...bearer, 'content-type': refused.contentType, accept: 'application/dicom+json' }, refused.payload);
    assert.ok(conflict.status === 409 || conflict.status === 202 || conflict.status === 400, `${conflict.status} ${conflict.text}`);

    // Cloud film (issue 12, finding 11): the token in /s/{token}/… is the patient's secret,
    // as is the access code; every page, image, download and unlock path is visited.
    const film = await request(server, 'POST', '/api/v1/share-links', { ...bearer, 'content-type': 'application/json' }, JSON.stringify({ studyInstanceUid: stowed.studyInstanceUid, accessCode: true, codeLength: 6 }));
    assert.equal(film.status, 201, film.text);
    const { url: filmUrl, accessCode } = JSON.parse(film.text) as { url: string; accessCode: string };
    const filmToken = filmUrl.split('/s/')[1]!;
    secrets['cloud-film token'] = filmToken;
    secrets['cloud-film access code'] = accessCode;
    assert.equal((await request(server, 'GET', `/s/${filmToken}`)).status, 200);
    assert.equal((await request(server, 'POST', `/s/${filmToken}/unlock`, { 'content-type': 'application/x-www-form-urlencoded' }, 'code=000000')).status, 401);
    const unlocked = await fetch(`${server.baseUrl}/s/${filmToken}/unlock`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `code=${accessCode}`, redirect: 'manual' });
    assert.equal(unlocked.status, 303);
    const cookie = unlocked.headers.get('set-cookie')!.split(';')[0]!;
    secrets['cloud-film unlock cookie'] = cookie.split('=')[1]!;
    const filmHeaders = { cookie };
    assert.equal((await request(server, 'GET', `/s/${filmToken}`, filmHeaders)).status, 200);
    const filmData = await request(server, 'GET', `/s/${filmToken}/data.json`, filmHeaders);
    assert.equal(filmData.status, 200, filmData.text);
    const filmSeries = stowed.seriesInstanceUid;
    assert.equal((await request(server, 'GET', `/s/${filmToken}/series/${filmSeries}/thumbnail.jpg`, filmHeaders)).status, 200);
    assert.equal((await request(server, 'GET', `/s/${filmToken}/images/${filmSeries}/${stowed.sopInstanceUid}.jpg?fidelity=full&download=1`, filmHeaders)).status, 200);
    assert.equal((await request(server, 'GET', `/s/${filmToken}/download/dicom.zip`, filmHeaders)).status, 200);
    assert.equal((await request(server, 'GET', `/s/${filmToken}/download/jpeg.zip`, filmHeaders)).status, 200);
    assert.equal((await request(server, 'GET', `/s/${filmToken}/accesses`, filmHeaders)).status, 200);
    assert.equal((await request(server, 'GET', `/s/${filmToken}/no-such-page`, filmHeaders)).status, 404);
    // a token that is not (or no longer) a link is as secret as one that is: it may be a typo of one
    const guessed = `${filmToken.slice(0, -1)}${filmToken.endsWith('A') ? 'B' : 'A'}`;
    secrets['guessed cloud-film token'] = guessed;
    assert.equal((await request(server, 'GET', `/s/${guessed}/data.json`)).status, 404);

    // QIDO-RS with the name in the query string, by token and by Basic
    for (const authorization of [bearer.authorization, basic]) {
      const qido = await request(server, 'GET', `/dicom-web/studies?PatientName=Secret*&PatientID=${STOWED.patientId}&includefield=00100010`, { authorization });
      assert.equal(qido.status, 200, qido.text);
      assert.ok(qido.text.includes(stowed.studyInstanceUid), 'the query found the study');
      assert.ok(qido.text.includes(STOWED.ideographic), 'the answer carries the name (to the caller, not to the log)');
    }
    const ideographicQuery = await request(server, 'GET', `/dicom-web/studies?PatientName=${encodeURIComponent('秘*')}`, bearer);
    assert.equal(ideographicQuery.status, 200, ideographicQuery.text);
    // metadata and WADO-URI: the name travels in the response bodies
    assert.equal((await request(server, 'GET', `/dicom-web/studies/${stowed.studyInstanceUid}/metadata`, bearer)).status, 200);
    const wado = await request(server, 'GET', `/wado?requestType=WADO&studyUID=${stowed.studyInstanceUid}&seriesUID=${stowed.seriesInstanceUid}&objectUID=${stowed.sopInstanceUid}&contentType=application/dicom`, { authorization: basic });
    assert.equal(wado.status, 200);

    // C-STORE of a second instance (an unknown AE on loopback) and a C-FIND by name
    const dir = await mkdtemp(path.join(tmpdir(), 'yunying-log-secrecy-dcm-'));
    try {
      const storedInstance = makeSyntheticInstance({ patientName: `${STORED.alphabetic}=${STORED.ideographic}`, patientId: STORED.patientId });
      const file = path.join(dir, 'stored.dcm');
      await writeFile(file, storedInstance.bytes);
      const store = await runTool('storescu', ['-aet', 'LOGSCU', '-aec', 'YUNYING', '127.0.0.1', String(server.dicomPort), file]);
      assert.equal(store.code, 0, store.stderr);
      const find = await runTool('findscu', ['-S', '-aet', 'LOGSCU', '-aec', 'YUNYING', '-k', 'QueryRetrieveLevel=STUDY', '-k', 'PatientName=Hidden*', '-k', 'StudyInstanceUID', '127.0.0.1', String(server.dicomPort)]);
      assert.equal(find.code, 0, find.stderr);
      assert.ok(`${find.stdout}${find.stderr}`.includes(storedInstance.studyInstanceUid), 'the C-FIND found the stored study');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }

    // a password change and a logout carry passwords and tokens too
    assert.equal((await request(server, 'POST', '/api/v1/auth/logout', bearer)).status, 204);
    assert.equal((await request(server, 'GET', '/dicom-web/studies', bearer)).status, 401);

    await server.stop();
    stopped = true;
    const output = server.output();
    // the log is not vacuously clean: debug lines of the requests and associations are there
    assert.match(output, /"level":20/, 'debug lines were written');
    assert.ok(output.includes('/dicom-web/studies'), 'requests were logged');
    assert.ok(output.includes('DIMSE connection'), 'associations were logged');
    assert.ok(output.includes('STOW-RS: instance rejected'), 'the refused instance was logged');
    const leaks = Object.entries(secrets).filter(([, secret]) => output.includes(secret)).map(([what]) => what);
    assert.deepEqual(leaks, [], `secrets in the log:\n${output.slice(0, 20_000)}`);
    assert.ok(!/authorization"?\s*:\s*"(Bearer|Basic) /i.test(output), 'no Authorization header in the log');
    assert.ok(output.includes('/s/[token]/download/dicom.zip'), 'cloud-film requests were logged, without their token');
    assert.match(output, /"auditHead":"\d+:[0-9a-f]{64}","msg":"audit trail head"/, 'the audit head is logged at start');
  } finally {
    if (!stopped) await server.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
});

/**
 * CORS (issue 15, item 5) over a real socket: none by default; with YUNYING_CORS_ORIGINS the
 * preflight is answered before authentication on DICOMweb, WADO-URI, FHIR and the REST API,
 * the answers (errors and the streamed WADO-RS one too) name the allowed origin and expose
 * what DICOMweb clients read, and a disallowed origin gets no CORS header at all.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig, ConfigError } from '../config.ts';
import { startListeningServer, type ListeningServer } from '../test-support/listening-server.ts';
import { ADMIN_AUTH } from '../test-support/admin-auth.ts';
import { makeSyntheticInstance } from '../test-support/synthetic-dicom.ts';
import { stowBody } from '../dicomweb/test-support.ts';

const VIEWER = 'https://viewer.example.org';
const OTHER = 'https://evil.example.net';
const PATHS = ['/dicom-web/studies', '/dicom-web', '/wado?requestType=WADO', '/fhir/r4/ImagingStudy', '/api/v1/auth/me'];

function corsHeadersOf(response: Response): Record<string, string> {
  return Object.fromEntries([...response.headers].filter(([name]) => name.startsWith('access-control-')));
}

async function preflight(baseUrl: string, path: string, origin: string, method = 'GET'): Promise<Response> {
  return fetch(`${baseUrl}${path}`, { method: 'OPTIONS', headers: { origin, 'access-control-request-method': method, 'access-control-request-headers': 'authorization, accept' } });
}

describe('CORS: none unless configured', () => {
  let server: ListeningServer;
  before(async () => (server = await startListeningServer()));
  after(async () => server?.close());

  test('no origin configured: no CORS header on any answer, preflight or not', async () => {
    for (const path of PATHS) {
      const answer = await preflight(server.baseUrl, path, VIEWER);
      assert.deepEqual(corsHeadersOf(answer), {}, path);
      assert.equal(answer.headers.get('vary'), null, path);
      const get = await fetch(`${server.baseUrl}${path}`, { headers: { origin: VIEWER, authorization: ADMIN_AUTH } });
      assert.deepEqual(corsHeadersOf(get), {}, path);
    }
  });
});

describe('CORS with YUNYING_CORS_ORIGINS', () => {
  let server: ListeningServer;
  let studyUid: string;
  before(async () => {
    server = await startListeningServer({ YUNYING_CORS_ORIGINS: `${VIEWER}, http://localhost:3000` });
    const instance = makeSyntheticInstance({ modality: 'CT' });
    studyUid = instance.studyInstanceUid;
    const { payload, contentType } = stowBody([instance.bytes]);
    const stored = await fetch(`${server.baseUrl}/dicom-web/studies`, { method: 'POST', headers: { authorization: ADMIN_AUTH, 'content-type': contentType, accept: 'application/dicom+json' }, body: payload });
    assert.equal(stored.status, 200, await stored.text());
  });
  after(async () => server?.close());

  test('a preflight from an allowed origin is answered 204 without credentials, on every interface', async () => {
    for (const path of PATHS) {
      const answer = await preflight(server.baseUrl, path, VIEWER, path.startsWith('/dicom-web/studies') ? 'POST' : 'GET');
      assert.equal(answer.status, 204, `${path}: ${await answer.text()}`);
      assert.equal(answer.headers.get('access-control-allow-origin'), VIEWER, path);
      const allowedHeaders = (answer.headers.get('access-control-allow-headers') ?? '').toLowerCase().split(/,\s*/);
      for (const header of ['authorization', 'accept', 'content-type']) assert.ok(allowedHeaders.includes(header), `${path}: ${header} not allowed`);
      assert.match(answer.headers.get('access-control-allow-methods') ?? '', /\bPOST\b/);
      assert.equal(answer.headers.get('access-control-allow-credentials'), null, 'never credentials');
      assert.match(answer.headers.get('vary') ?? '', /Origin/);
    }
  });

  test('a disallowed origin gets no CORS header, on the preflight or the request', async () => {
    for (const path of PATHS) {
      const answer = await preflight(server.baseUrl, path, OTHER);
      assert.deepEqual(corsHeadersOf(answer), {}, path);
      const get = await fetch(`${server.baseUrl}${path}`, { headers: { origin: OTHER, authorization: ADMIN_AUTH } });
      assert.deepEqual(corsHeadersOf(get), {}, path);
    }
    // an origin is compared whole: no prefix or suffix match
    const lookalike = await preflight(server.baseUrl, '/dicom-web/studies', `${VIEWER}.evil.example.net`);
    assert.deepEqual(corsHeadersOf(lookalike), {});
  });

  test('answers to an allowed origin name it and expose what DICOMweb clients read; a 401 too', async () => {
    const query = await fetch(`${server.baseUrl}/dicom-web/studies?StudyInstanceUID=${studyUid}`, { headers: { origin: VIEWER, authorization: ADMIN_AUTH, accept: 'application/dicom+json' } });
    assert.equal(query.status, 200);
    assert.equal(query.headers.get('access-control-allow-origin'), VIEWER);
    const exposed = (query.headers.get('access-control-expose-headers') ?? '').toLowerCase().split(/,\s*/);
    for (const header of ['content-type', 'content-length', 'warning', 'x-total-count', 'location', 'www-authenticate']) assert.ok(exposed.includes(header), `${header} not exposed`);
    const refused = await fetch(`${server.baseUrl}/dicom-web/studies`, { headers: { origin: VIEWER } });
    assert.equal(refused.status, 401);
    assert.equal(refused.headers.get('access-control-allow-origin'), VIEWER, 'the viewer must be able to read the 401 to ask for a login');
  });

  test('the streamed WADO-RS answer (written past Fastify) carries the headers too', async () => {
    const retrieve = await fetch(`${server.baseUrl}/dicom-web/studies/${studyUid}`, { headers: { origin: 'http://localhost:3000', authorization: ADMIN_AUTH, accept: 'multipart/related; type="application/dicom"; transfer-syntax=*' } });
    assert.equal(retrieve.status, 200);
    await retrieve.arrayBuffer();
    assert.equal(retrieve.headers.get('access-control-allow-origin'), 'http://localhost:3000');
  });

  test('the cloud film, the web app and other paths stay same-origin only', async () => {
    for (const path of ['/s/some-token', '/', '/healthz', '/ohif/']) {
      const get = await fetch(`${server.baseUrl}${path}`, { headers: { origin: VIEWER } });
      await get.arrayBuffer();
      assert.deepEqual(corsHeadersOf(get), {}, path);
    }
  });

  test('the preflight reaches no authentication: nothing recorded as a failed login or a denial', async () => {
    const trail = async () => (await (await fetch(`${server.baseUrl}/api/v1/audit-events?limit=1000`, { headers: { authorization: `Bearer ${await adminToken(server)}` } })).json()) as Array<{ action: string }>;
    const count = (await trail()).length;
    await preflight(server.baseUrl, '/dicom-web/studies', VIEWER);
    await preflight(server.baseUrl, '/fhir/r4/Patient', OTHER);
    // the only new records are this test's own logins and searches
    assert.deepEqual((await trail()).slice(count).map((row) => row.action).filter((action) => action !== 'user.logged-in' && action !== 'audit.searched'), []);
  });
});

async function adminToken(server: ListeningServer): Promise<string> {
  const { TEST_ADMIN_PASSWORD } = await import('../test-support/admin-auth.ts');
  const answer = await fetch(`${server.baseUrl}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'admin', password: TEST_ADMIN_PASSWORD }) });
  return ((await answer.json()) as { token: string }).token;
}

test('YUNYING_CORS_ORIGINS: origins are checked at start', () => {
  assert.deepEqual(loadConfig({ YUNYING_CORS_ORIGINS: 'https://Viewer.Example.org:443/, http://10.0.0.5:3000' }).corsOrigins, ['https://viewer.example.org', 'http://10.0.0.5:3000']);
  assert.deepEqual(loadConfig({}).corsOrigins, []);
  assert.deepEqual(loadConfig({ YUNYING_CORS_ORIGINS: '*' }).corsOrigins, ['*']);
  assert.throws(() => loadConfig({ YUNYING_CORS_ORIGINS: 'https://viewer.example.org/ohif' }), ConfigError);
  assert.throws(() => loadConfig({ YUNYING_CORS_ORIGINS: 'viewer.example.org' }), ConfigError);
  assert.throws(() => loadConfig({ YUNYING_CORS_ORIGINS: '*, https://viewer.example.org' }), ConfigError);
});

/**
 * Issue 12, findings 18 and 19, over real sockets:
 * - with YUNYING_PUBLIC_BASE_URL set, DICOMweb and FHIR build every absolute URL from it,
 *   whatever Host header the client sends;
 * - every answer with patient data says Cache-Control: no-store, rendered images included;
 * - /metrics is for administrators and /api/openapi.json for anyone signed in, unless
 *   YUNYING_METRICS_PUBLIC / YUNYING_OPENAPI_PUBLIC say otherwise.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { startListeningServer, type ListeningServer } from '../test-support/listening-server.ts';
import { ADMIN_AUTH, TEST_ADMIN_PASSWORD } from '../test-support/admin-auth.ts';
import { makeSyntheticInstance, type SyntheticInstance } from '../test-support/synthetic-dicom.ts';
import { stowBody } from '../dicomweb/test-support.ts';

const PUBLIC_BASE = 'https://pacs.example.org';
const FORGED_HOST = 'attacker.example:4444';
const PASSWORD = 'Correct-Horse-9';

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  text: string;
}

/** node:http, so that the Host header is exactly the one given. */
function request(server: ListeningServer, method: string, path: string, headers: Record<string, string> = {}, body?: Buffer): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const outgoing = http.request({ host: '127.0.0.1', port: server.httpPort, method, path, headers: { ...(body ? { 'content-length': String(body.length) } : {}), ...headers } }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => {
        const all = Buffer.concat(chunks);
        resolve({ status: response.statusCode ?? 0, headers: response.headers, body: all, text: all.toString('utf8') });
      });
      response.on('error', reject);
    });
    outgoing.on('error', reject);
    outgoing.end(body);
  });
}

async function loginToken(server: ListeningServer, username: string, password: string): Promise<string> {
  const answer = await request(server, 'POST', '/api/v1/auth/login', { 'content-type': 'application/json' }, Buffer.from(JSON.stringify({ username, password })));
  assert.equal(answer.status, 200, answer.text);
  return (JSON.parse(answer.text) as { token: string }).token;
}

async function stow(server: ListeningServer, instance: SyntheticInstance, headers: Record<string, string> = {}): Promise<Answer> {
  const { payload, contentType } = stowBody([instance.bytes]);
  const answer = await request(server, 'POST', '/dicom-web/studies', { authorization: ADMIN_AUTH, 'content-type': contentType, accept: 'application/dicom+json', ...headers }, payload);
  assert.equal(answer.status, 200, answer.text);
  return answer;
}

/** Every string in a JSON document that looks like an absolute URL. */
function absoluteUrls(json: unknown): string[] {
  const found: string[] = [];
  const walk = (value: unknown): void => {
    if (typeof value === 'string') {
      if (/^https?:\/\//.test(value)) found.push(value);
    } else if (Array.isArray(value)) value.forEach(walk);
    else if (value && typeof value === 'object') Object.values(value).forEach(walk);
  };
  walk(json);
  return found;
}

describe('YUNYING_PUBLIC_BASE_URL set: absolute URLs come from it, never from Host', () => {
  let server: ListeningServer;
  let instance: SyntheticInstance;
  before(async () => {
    server = await startListeningServer({ YUNYING_PUBLIC_BASE_URL: `${PUBLIC_BASE}/` });
    instance = makeSyntheticInstance({ patientId: 'URL-1' });
  });
  after(async () => {
    await server?.close();
  });

  test('STOW-RS, QIDO-RS, metadata BulkDataURIs, FHIR bundles, ImagingStudy endpoints and the capability statement', async () => {
    const host = { host: FORGED_HOST };
    const { studyInstanceUid: study, seriesInstanceUid: series, sopInstanceUid: sop } = instance;
    const answers: Array<[string, Answer]> = [['STOW-RS', await stow(server, instance, host)]];
    const dicomWeb = { authorization: ADMIN_AUTH, accept: 'application/dicom+json', ...host };
    const fhir = { authorization: ADMIN_AUTH, accept: 'application/fhir+json', ...host };
    for (const [what, path, headers] of [
      ['QIDO-RS studies', '/dicom-web/studies?PatientID=URL-1', dicomWeb],
      ['QIDO-RS instances', `/dicom-web/studies/${study}/instances`, dicomWeb],
      ['metadata', `/dicom-web/studies/${study}/series/${series}/instances/${sop}/metadata`, dicomWeb],
      ['FHIR ImagingStudy search', '/fhir/r4/ImagingStudy?_count=1', fhir],
      ['FHIR ImagingStudy read', `/fhir/r4/ImagingStudy/${study}`, fhir],
      ['FHIR Patient search', '/fhir/r4/Patient?_count=1', fhir],
      ['FHIR metadata', '/fhir/r4/metadata', fhir],
    ] as const) {
      const answer = await request(server, 'GET', path, headers);
      assert.equal(answer.status, 200, `${what}: ${answer.text.slice(0, 300)}`);
      answers.push([what, answer]);
    }
    for (const [what, answer] of answers) {
      const urls = absoluteUrls(JSON.parse(answer.text));
      assert.ok(urls.length > 0, `${what} carries absolute URLs`);
      for (const url of urls) {
        if (url.startsWith('http://hl7.org/') || url.startsWith('http://dicom.nema.org/') || url.startsWith('http://terminology.hl7.org/') || url.startsWith('urn:')) continue;
        assert.ok(url.startsWith(`${PUBLIC_BASE}/`), `${what}: ${url}`);
      }
      assert.ok(!answer.text.includes('attacker.example'), `${what} names the forged host`);
    }
    const metadata = JSON.parse(answers.find(([what]) => what === 'metadata')![1].text) as Array<Record<string, { BulkDataURI?: string }>>;
    assert.equal(metadata[0]!['7FE00010']!.BulkDataURI, `${PUBLIC_BASE}/dicom-web/studies/${study}/series/${series}/instances/${sop}/bulkdata/7FE00010`);
  });
});

describe('Cache-Control and who may read /metrics and the API description', () => {
  let server: ListeningServer;
  let instance: SyntheticInstance;
  let adminToken: string;
  let techToken: string;
  before(async () => {
    server = await startListeningServer();
    instance = makeSyntheticInstance({ patientId: 'CACHE-1' });
    await stow(server, instance);
    adminToken = await loginToken(server, 'admin', TEST_ADMIN_PASSWORD);
    const created = await request(server, 'POST', '/api/v1/users', { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' }, Buffer.from(JSON.stringify({ username: 'cache-tech', password: PASSWORD, role: 'technologist', institutionId: 'default' })));
    assert.equal(created.status, 201, created.text);
    techToken = await loginToken(server, 'cache-tech', PASSWORD);
  });
  after(async () => {
    await server?.close();
  });

  test('every interface answers patient data (and refusals) with no-store', async () => {
    const { studyInstanceUid: study, seriesInstanceUid: series, sopInstanceUid: sop } = instance;
    const instancePath = `/dicom-web/studies/${study}/series/${series}/instances/${sop}`;
    const basic = { authorization: ADMIN_AUTH };
    const bearer = { authorization: `Bearer ${adminToken}` };
    const checks: Array<[string, string, Record<string, string>, number]> = [
      ['QIDO-RS', '/dicom-web/studies?PatientID=CACHE-1', { ...basic, accept: 'application/dicom+json' }, 200],
      ['WADO-RS study (multipart, streamed)', `/dicom-web/studies/${study}`, { ...basic, accept: 'multipart/related; type="application/dicom"' }, 200],
      ['WADO-RS instance', instancePath, { ...basic, accept: 'application/dicom' }, 200],
      ['metadata', `${instancePath}/metadata`, { ...basic, accept: 'application/dicom+json' }, 200],
      ['frames', `${instancePath}/frames/1`, { ...basic, accept: 'multipart/related; type="application/octet-stream"' }, 200],
      ['rendered', `${instancePath}/rendered`, { ...basic, accept: 'image/jpeg' }, 200],
      ['thumbnail', `${instancePath}/thumbnail`, { ...basic, accept: 'image/jpeg' }, 200],
      ['frame rendered', `${instancePath}/frames/1/rendered`, { ...basic, accept: 'image/png' }, 200],
      ['series thumbnail', `/dicom-web/studies/${study}/series/${series}/thumbnail`, { ...basic, accept: 'image/jpeg' }, 200],
      ['WADO-URI', `/wado?requestType=WADO&studyUID=${study}&seriesUID=${series}&objectUID=${sop}&contentType=image/jpeg`, basic, 200],
      ['WADO-URI DICOM', `/wado?requestType=WADO&studyUID=${study}&seriesUID=${series}&objectUID=${sop}&contentType=application/dicom`, basic, 200],
      ['FHIR ImagingStudy', `/fhir/r4/ImagingStudy/${study}`, basic, 200],
      ['FHIR Patient search', '/fhir/r4/Patient?identifier=CACHE-1', basic, 200],
      ['REST users', '/api/v1/users', bearer, 200],
      ['REST reading requests', '/api/v1/reading-requests', bearer, 200],
      ['REST audit events', '/api/v1/audit-events', bearer, 200],
      ['DICOMweb without credentials', '/dicom-web/studies', {}, 401],
      ['DICOMweb unknown study', `/dicom-web/studies/1.2.3.4.5/metadata`, { ...basic, accept: 'application/dicom+json' }, 404],
      ['FHIR without credentials', `/fhir/r4/ImagingStudy/${study}`, {}, 401],
      ['REST without credentials', '/api/v1/reading-requests', {}, 401],
    ];
    for (const [what, path, headers, status] of checks) {
      const answer = await request(server, 'GET', path, headers);
      assert.equal(answer.status, status, `${what}: ${answer.status} ${answer.text.slice(0, 200)}`);
      assert.equal(answer.headers['cache-control'], 'no-store', `${what}: Cache-Control ${answer.headers['cache-control']}`);
    }
  });

  test('/metrics: administrators only (Bearer or Basic); /api/openapi.json: anyone signed in', async () => {
    assert.equal((await request(server, 'GET', '/metrics')).status, 401);
    assert.equal((await request(server, 'GET', '/metrics', { authorization: `Bearer ${techToken}` })).status, 403);
    const bearer = await request(server, 'GET', '/metrics', { authorization: `Bearer ${adminToken}` });
    assert.equal(bearer.status, 200);
    assert.match(bearer.text, /^# (HELP|TYPE) /m);
    assert.equal(bearer.headers['cache-control'], 'no-store');
    assert.equal((await request(server, 'GET', '/metrics', { authorization: ADMIN_AUTH })).status, 200);

    assert.equal((await request(server, 'GET', '/api/openapi.json')).status, 401);
    const openapi = await request(server, 'GET', '/api/openapi.json', { authorization: `Bearer ${techToken}` });
    assert.equal(openapi.status, 200);
    assert.ok((JSON.parse(openapi.text) as { paths: Record<string, unknown> }).paths['/api/v1/auth/login']);
  });

  test('YUNYING_METRICS_PUBLIC and YUNYING_OPENAPI_PUBLIC open them without credentials', async () => {
    const open = await startListeningServer({ YUNYING_METRICS_PUBLIC: 'true', YUNYING_OPENAPI_PUBLIC: 'true' });
    try {
      assert.equal((await request(open, 'GET', '/metrics')).status, 200);
      assert.equal((await request(open, 'GET', '/api/openapi.json')).status, 200);
    } finally {
      await open.close();
    }
  });
});

/**
 * PS3.18 8.9 Retrieve Capabilities over a real socket: OPTIONS /dicom-web answers a WADL
 * document (Annex H) listing exactly the served routes, each with its transaction; OPTIONS on
 * a resource answers that resource and its children; JSON on request, 406 for what it
 * cannot give; authenticated like the rest of DICOMweb; and a CORS preflight is not it.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startListeningServer, type ListeningServer } from '../test-support/listening-server.ts';
import { ADMIN_AUTH } from '../test-support/admin-auth.ts';
import { routePermissions } from '../access/route-permission.ts';
import { TRANSACTIONS, WADL_MEDIA_TYPE } from './capabilities.ts';

let server: ListeningServer;
before(async () => (server = await startListeningServer({ YUNYING_CORS_ORIGINS: 'https://viewer.example.org' })));
after(async () => server?.close());

const options = (path: string, headers: Record<string, string> = {}) => fetch(`${server.baseUrl}${path}`, { method: 'OPTIONS', headers: { authorization: ADMIN_AUTH, ...headers } });

/** `METHOD /path` of every DICOMweb route the server registered (Fastify's form, without /dicom-web) */
function servedRoutes(): string[] {
  return [...routePermissions(server.server.http).keys()]
    .filter((key) => /^(GET|POST|PUT|DELETE|PATCH) \/dicom-web\/./.test(key))
    .map((key) => key.replace(' /dicom-web/', ' /'));
}

describe('OPTIONS /dicom-web (PS3.18 8.9, Annex H)', () => {
  test('every served DICOMweb route has its transaction in the description, and the description names no other', () => {
    const served = servedRoutes();
    assert.ok(served.length > 20, `routes: ${served.join(', ')}`);
    assert.deepEqual(served.filter((route) => !(route in TRANSACTIONS)), [], 'served but not described: add them to TRANSACTIONS');
    assert.deepEqual(Object.keys(TRANSACTIONS).filter((route) => !served.includes(route)), [], 'described but not served');
  });

  test('a WADL document: one application, resources based at the service, the resource tree with methods', async () => {
    const answer = await options('/dicom-web');
    assert.equal(answer.status, 200, await answer.clone().text());
    assert.match(answer.headers.get('content-type') ?? '', /^application\/vnd\.sun\.wadl\+xml/);
    const wadl = await answer.text();
    assert.match(wadl, /^<\?xml version="1\.0" encoding="UTF-8"\?>\n<application xmlns="http:\/\/wadl\.dev\.java\.net\/2009\/02"/);
    assert.equal(wadl.match(/<application /g)?.length, 1);
    assert.equal(wadl.match(/<resources /g)?.length, 1);
    assert.match(wadl, new RegExp(`<resources base="${server.baseUrl.replace(/[.]/g, '\\.')}/dicom-web/">`));
    for (const id of ['SearchForStudies', 'StoreInstances', 'RetrieveStudy', 'RetrieveSeriesMetadata', 'RetrieveFrames', 'RetrieveRenderedInstance', 'RetrieveBulkdata', 'SearchForStudySeriesInstances']) assert.match(wadl, new RegExp(`<method name="(GET|POST)" id="${id}">`), id);
    assert.match(wadl, /<resource path="studies">\n\s+<method name="GET" id="SearchForStudies">/);
    assert.match(wadl, /<resource path="\{StudyInstanceUID\}">\n\s+<param name="StudyInstanceUID" style="template"/);
    assert.match(wadl, /<param name="Accept" style="header" default="application\/dicom\+json">/);
    assert.match(wadl, /<param name="fuzzymatching" style="query" type="xsd:boolean"\/>/);
    assert.match(answer.headers.get('allow') ?? '', /OPTIONS/);
    // well-formed enough for a strict parser's first checks: every opened element is closed
    const opened = [...wadl.matchAll(/<(resource|method|request|response|param|resources|application)[\s>]/g)].length;
    const closed = [...wadl.matchAll(/<\/(resource|method|request|response|param|resources|application)>/g)].length + [...wadl.matchAll(/<(param|representation|option)[^>]*\/>/g)].filter((m) => m[1] === 'param').length;
    assert.equal(opened, closed);
  });

  test('OPTIONS on a resource describes that resource and its children', async () => {
    const answer = await options('/dicom-web/studies/1.2.3/series', { accept: WADL_MEDIA_TYPE });
    assert.equal(answer.status, 200);
    const wadl = await answer.text();
    assert.match(wadl, /<resource path="studies\/\{StudyInstanceUID\}\/series">/);
    assert.match(wadl, /id="SearchForStudySeries"/);
    assert.match(wadl, /id="RetrieveSeries"/);
    assert.doesNotMatch(wadl, /id="SearchForStudies"/, 'not the parent');
    assert.equal(answer.headers.get('allow'), 'OPTIONS, GET, HEAD');
    const frames = await options('/dicom-web/studies/1.2.3/series/4.5/instances/6.7/frames/1,2');
    assert.match(await frames.text(), /id="RetrieveFrames"/);
    const unknown = await options('/dicom-web/patients');
    assert.equal(unknown.status, 404);
  });

  test('application/json on request; 406 for a type it cannot give', async () => {
    const answer = await options('/dicom-web', { accept: 'application/json' });
    assert.equal(answer.status, 200);
    const body = (await answer.json()) as { application: { resources: { base: string; resources: Array<{ path: string; methods: Array<{ id?: string }> }> } } };
    assert.equal(body.application.resources.base, `${server.baseUrl}/dicom-web/`);
    const studies = body.application.resources.resources.find((resource) => resource.path === 'studies');
    assert.deepEqual(studies?.methods.map((method) => method.id).sort(), ['SearchForStudies', 'StoreInstances']);
    const refused = await options('/dicom-web', { accept: 'image/png' });
    assert.equal(refused.status, 406);
  });

  test('authenticated like every DICOMweb resource; a CORS preflight is answered before and is not the description', async () => {
    const anonymous = await fetch(`${server.baseUrl}/dicom-web`, { method: 'OPTIONS' });
    assert.equal(anonymous.status, 401);
    assert.match(anonymous.headers.get('www-authenticate') ?? '', /Basic/);
    const preflight = await fetch(`${server.baseUrl}/dicom-web`, { method: 'OPTIONS', headers: { origin: 'https://viewer.example.org', 'access-control-request-method': 'GET' } });
    assert.equal(preflight.status, 204);
    assert.equal(await preflight.text(), '');
    assert.equal(routePermissions(server.server.http).get('OPTIONS /dicom-web/*'), 'images:read');
  });
});

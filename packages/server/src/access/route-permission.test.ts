/**
 * Every route of the REST API, FHIR and DICOMweb declares its permission (config.permission),
 * but the few every signed-in caller may use; the role × route matrix (route-matrix.test.ts)
 * says which roles get through.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startListeningServer, type ListeningServer } from '../test-support/listening-server.ts';
import { routePermissions } from './route-permission.ts';

/** Routes open to any signed-in caller (or before signing in): they check the caller or nothing. */
const OPEN = new Set([
  'POST /api/v1/auth/login',
  'POST /api/v1/auth/logout',
  'GET /api/v1/auth/me',
  'POST /api/v1/auth/password',
  'GET /api/v1/report-templates',
  'GET /api/openapi.json',
  'GET /fhir/r4/metadata',
]);

let platform: ListeningServer;
before(async () => {
  platform = await startListeningServer();
});
after(async () => platform?.close());

test('every API, FHIR and DICOMweb route declares the permission it needs', () => {
  const declared = routePermissions(platform.server.http);
  const checked = [...declared].filter(([key]) => / \/(api|fhir|dicom-web|wado)\b/.test(key) && !key.startsWith('HEAD ') && !key.startsWith('OPTIONS '));
  assert.ok(checked.length > 60, `only ${checked.length} routes seen`);
  // FHIR writes are refused (501) for anyone signed in: no permission to declare
  const undeclared = checked.filter(([key, permission]) => permission === undefined && !OPEN.has(key) && !/^(POST|PUT|PATCH|DELETE) \/fhir\/r4\/:type/.test(key)).map(([key]) => key);
  assert.deepEqual(undeclared, []);
  assert.equal(declared.get('POST /api/v1/reports/:id/sign'), 'patients:read');
  assert.equal(declared.get('POST /api/v1/share-links'), 'share:issue');
  assert.equal(declared.get('POST /dicom-web/studies'), 'images:write');
  assert.equal(declared.get('GET /dicom-web/studies'), 'images:read');
});

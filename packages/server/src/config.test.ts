import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import type { ConfigError} from './config.ts';
import { isKnownConfigName, loadConfig } from './config.ts';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';

test('the embedded defaults are the public contract', () => {
  const config = loadConfig({});
  assert.equal(config.httpHost, '127.0.0.1');
  assert.equal(config.httpPort, 8080);
  assert.equal(config.dicomPort, 11112);
  assert.equal(config.aeTitle, 'YUNYING');
  assert.match(config.dataDir, /data$/);
  assert.equal(config.acceptUnknownAe, true, 'loopback-only DICOM port accepts local tools');
  assert.equal(config.fsync, true);
});

test('unknown AEs are refused by default once the DICOM port leaves loopback, unless overridden', () => {
  assert.equal(loadConfig({ YUNYING_DICOM_HOST: '0.0.0.0' }).acceptUnknownAe, false);
  assert.equal(loadConfig({ YUNYING_DICOM_HOST: '0.0.0.0', YUNYING_DICOM_ACCEPT_UNKNOWN_AE: 'true' }).acceptUnknownAe, true);
  assert.equal(loadConfig({ YUNYING_DICOM_ACCEPT_UNKNOWN_AE: 'false' }).acceptUnknownAe, false);
});

test('bad values are refused with the variable named', () => {
  assert.throws(() => loadConfig({ YUNYING_HTTP_PORT: '70000' }), (error: ConfigError) => /YUNYING_HTTP_PORT/.test(error.message));
  assert.throws(() => loadConfig({ YUNYING_DICOM_PORT: 'abc' }), /YUNYING_DICOM_PORT/);
  assert.throws(() => loadConfig({ YUNYING_AE_TITLE: 'A\\B' }), /YUNYING_AE_TITLE/);
  assert.throws(() => loadConfig({ YUNYING_FSYNC: 'maybe' }), /YUNYING_FSYNC/);
  assert.throws(() => loadConfig({ YUNYING_CONFIG: '/nonexistent/yunying.json' }), /cannot read config file/);
});

test('YUNYING_TRUST_PROXY names proxies; "true" is refused because any client could forge its address', () => {
  assert.equal(loadConfig({}).trustProxy, undefined);
  assert.equal(loadConfig({ YUNYING_TRUST_PROXY: 'loopback' }).trustProxy, 'loopback');
  assert.deepEqual(loadConfig({ YUNYING_TRUST_PROXY: '10.0.0.5, 10.0.0.6' }).trustProxy, ['10.0.0.5', '10.0.0.6']);
  assert.throws(() => loadConfig({ YUNYING_TRUST_PROXY: 'true' }), /forge/);
  assert.throws(() => loadConfig({ YUNYING_TIME_ZONE: 'Mars/Olympus' }), /IANA/);
});

test('the audit key: at least 32 characters, never echoed; the key file defaults to the data directory', () => {
  assert.throws(() => loadConfig({ YUNYING_AUDIT_KEY: 'short-secret' }), (error: Error) => /YUNYING_AUDIT_KEY must be at least 32/.test(error.message) && !error.message.includes('short-secret'));
  assert.equal(loadConfig({ YUNYING_DATA_DIR: '/srv/yunying' }).auditKeyFile, path.resolve('/srv/yunying/audit-key'));
  assert.equal(loadConfig({ YUNYING_AUDIT_KEY_FILE: '/etc/yunying/audit-key' }).auditKeyFile, '/etc/yunying/audit-key');
  assert.equal(loadConfig({ YUNYING_AUDIT_KEY: 'k'.repeat(32) }).auditKey, 'k'.repeat(32));
});

test('DIMSE association limits and idle timeout: defaults, overrides, and nonsense refused', () => {
  assert.deepEqual(loadConfig({}).dicomAssociations, { total: 512, perCallingAe: 16, perAddress: 32, idleSeconds: 60 });
  const small = loadConfig({ YUNYING_DICOM_MAX_ASSOCIATIONS: '64', YUNYING_DICOM_MAX_ASSOCIATIONS_PER_AE: '2', YUNYING_DICOM_MAX_ASSOCIATIONS_PER_ADDRESS: '4', YUNYING_DICOM_IDLE_SECONDS: '5' });
  assert.deepEqual(small.dicomAssociations, { total: 64, perCallingAe: 2, perAddress: 4, idleSeconds: 5 });
  assert.throws(() => loadConfig({ YUNYING_DICOM_IDLE_SECONDS: '0' }), /YUNYING_DICOM_IDLE_SECONDS/);
  assert.throws(() => loadConfig({ YUNYING_DICOM_MAX_ASSOCIATIONS_PER_AE: 'many' }), /YUNYING_DICOM_MAX_ASSOCIATIONS_PER_AE/);
});

// Issue 13, item 8: one schema of every YUNYING_* name, checked once at start.
test('an unknown YUNYING_* name is an error naming it and the closest known name', () => {
  assert.throws(() => loadConfig({ YUNYING_HTTP_PROT: '8080' }), (error: Error) => /YUNYING_HTTP_PROT/.test(error.message) && /YUNYING_HTTP_PORT/.test(error.message));
  // names of other programs sharing the environment are not the server's to judge
  assert.doesNotThrow(() => loadConfig({ YUNYING_GATEWAY_CLOUD_URL: 'http://x', YUNYING_TEST_POSTGRES_URL: 'postgres://x', PATH: '/bin' }));
});

test('a JSON config file takes natural JSON types; a wrong type or unknown key names the key', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'yunying-config-'));
  const file = path.join(dir, 'yunying.json');
  await writeFile(file, JSON.stringify({ YUNYING_FSYNC: false, YUNYING_HTTP_PORT: 9090, YUNYING_SHARE_AUTO: true }));
  const config = loadConfig({ YUNYING_CONFIG: file });
  assert.equal(config.fsync, false);
  assert.equal(config.httpPort, 9090);
  assert.equal(config.share.autoCreateOnSign, true);
  await writeFile(file, JSON.stringify({ YUNYING_HTTP_PORT: 'abc', YUNYING_FSYNK: false }));
  assert.throws(() => loadConfig({ YUNYING_CONFIG: file }), (error: Error) => /YUNYING_HTTP_PORT/.test(error.message) && /YUNYING_FSYNK/.test(error.message));
  await writeFile(file, JSON.stringify({ YUNYING_FSYNC: 3 }));
  assert.throws(() => loadConfig({ YUNYING_CONFIG: file }), /YUNYING_FSYNC/);
  await rm(dir, { recursive: true, force: true });
});

test('the log level and the database URL scheme are checked at start', () => {
  assert.throws(() => loadConfig({ YUNYING_LOG_LEVEL: 'verbose' }), /YUNYING_LOG_LEVEL/);
  assert.equal(loadConfig({ YUNYING_LOG_LEVEL: 'silent' }).logLevel, 'silent');
  assert.throws(() => loadConfig({ YUNYING_DATABASE_URL: 'mysql://db/yunying' }), /YUNYING_DATABASE_URL/);
  assert.equal(loadConfig({ YUNYING_DATABASE_URL: 'postgresql://db/yunying' }).databaseUrl, 'postgresql://db/yunying');
  assert.throws(() => loadConfig({ YUNYING_LOG_LEVEL: 'verbose', YUNYING_DATABASE_URL: 'mysql://db' }), (error: Error) => /YUNYING_LOG_LEVEL/.test(error.message) && /YUNYING_DATABASE_URL/.test(error.message));
});

test('every YUNYING_* name in the README is a known server name (or another program\'s)', async () => {
  const readme = await readFile(path.resolve(import.meta.dirname, '../../../README.md'), 'utf8');
  // YUNYING_GW is the gateway's default AE title, not a variable
  const names = new Set([...readme.matchAll(/YUNYING_[A-Z0-9_]+/g)].map((match) => match[0]).filter((name) => name !== 'YUNYING_GW'));
  for (const name of names) assert.ok(isKnownConfigName(name), `${name} is in the README but not in the config schema`);
});

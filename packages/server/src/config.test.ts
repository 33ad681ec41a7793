import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import type { ConfigError} from './config.ts';
import { loadConfig } from './config.ts';

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

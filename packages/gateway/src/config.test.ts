import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { GatewayConfigError, loadGatewayConfig, parseByteSize } from './config.ts';

const REQUIRED = { YUNYING_GATEWAY_CLOUD_URL: 'https://cloud.example/', YUNYING_GATEWAY_USERNAME: 'gw', YUNYING_GATEWAY_PASSWORD: 'pw' };

test('defaults as issue 8 names them', () => {
  const c = loadGatewayConfig(REQUIRED);
  assert.equal(c.dataDir, path.resolve('./gateway-data'));
  assert.equal(c.dicomPort, 11113);
  assert.equal(c.aeTitle, 'YUNYING_GW');
  assert.equal(c.httpPort, 8081);
  assert.equal(c.httpHost, '127.0.0.1');
  assert.equal(c.cloudUrl, 'https://cloud.example');
  assert.equal(c.maxBytesPerSecond, 0);
  assert.equal(c.fsync, true);
});

test('bandwidth, sizes and nodes are parsed; errors name every variable', () => {
  const c = loadGatewayConfig({ ...REQUIRED, YUNYING_GATEWAY_MAX_MBPS: '100', YUNYING_GATEWAY_CACHE_MAX_BYTES: '2GiB', YUNYING_GATEWAY_MOVE_DESTINATIONS: 'VIEWER@10.0.0.5:104, WS2@10.0.0.6:11112' });
  assert.equal(c.maxBytesPerSecond, 12_500_000);
  assert.equal(c.cacheMaxBytes, 2 * 1024 ** 3);
  assert.deepEqual(c.moveDestinations.map((n) => n.aeTitle), ['VIEWER', 'WS2']);
  assert.equal(parseByteSize('500MB'), 500_000_000);
  assert.equal(parseByteSize('lots'), undefined);
  assert.throws(() => loadGatewayConfig({ YUNYING_GATEWAY_DICOM_PORT: '70000', YUNYING_GATEWAY_RETRY_MIN_MS: '5000', YUNYING_GATEWAY_RETRY_MAX_MS: '1000', YUNYING_GATEWAY_PACS: 'nonsense' }), (error: unknown) => {
    assert.ok(error instanceof GatewayConfigError);
    for (const name of ['CLOUD_URL', 'USERNAME', 'PASSWORD', 'DICOM_PORT', 'RETRY_MAX_MS', 'YUNYING_GATEWAY_PACS']) assert.match(error.message, new RegExp(name));
    return true;
  });
});

test('a JSON file adds to the environment, which wins', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'yunying-gateway-config-'));
  try {
    const file = path.join(dir, 'gateway.json');
    await writeFile(file, JSON.stringify({ ...REQUIRED, YUNYING_GATEWAY_AE_TITLE: 'FROM_FILE', YUNYING_GATEWAY_CONCURRENCY: 4 }));
    const c = loadGatewayConfig({ YUNYING_GATEWAY_CONFIG: file, YUNYING_GATEWAY_AE_TITLE: 'FROM_ENV' });
    assert.equal(c.aeTitle, 'FROM_ENV');
    assert.equal(c.concurrency, 4);
    await writeFile(file, JSON.stringify({ YUNYING_GATEWAY_TYPO: 1 }));
    assert.throws(() => loadGatewayConfig({ YUNYING_GATEWAY_CONFIG: file }), /unknown name YUNYING_GATEWAY_TYPO/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

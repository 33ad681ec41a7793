import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { buildServer, MODULES } from '../app.ts';
import { systemCaller } from '../access/caller.ts';
import { loadConfig } from '../config.ts';
import { makeSyntheticInstance } from '../test-support/synthetic-dicom.ts';
import { webAppModule } from '../web-app/module.ts';
import type { YunyingModule } from '../modules/module.ts';
import type { FeedChange } from './change.ts';

test('the server runs the modules\u2019 feed consumers on what ingest appends, and /metrics shows every group', async () => {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'yunying-feed-wiring-'));
  const handled: FeedChange[] = [];
  const watcher: YunyingModule = { name: 'feed-watcher', consumers: () => [{ group: 'feed-watcher', types: ['instance.stored'], handle: async (change) => void handled.push(change) }] };
  const modules = MODULES.flatMap((module) => (module === webAppModule ? [watcher, module] : [module]));
  const server = await buildServer(loadConfig({ YUNYING_DATA_DIR: dataDir, YUNYING_LOG_LEVEL: 'silent', YUNYING_ADMIN_PASSWORD: 's3cret-Passw0rd', YUNYING_METRICS_PUBLIC: 'true' }), { modules });
  try {
    assert.deepEqual([...server.feed.groups].sort(), ['feed-watcher', 'fhir-subscriptions', 'hl7-oru', 'order-linking', 'patient-index', 'patient-index-orders', 'report-delivery', 'routing', 'study-arrival']);
    const instance = makeSyntheticInstance();
    await server.archive.ingest(systemCaller(), { kind: 'part10', bytes: instance.bytes });
    const deadline = Date.now() + 10_000;
    while (handled.length === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5));
    assert.equal(handled.length, 1, 'the watcher got the stored instance');
    assert.equal(handled[0]!.type, 'instance.stored');
    assert.equal(handled[0]!.payload.studyInstanceUid, instance.studyInstanceUid);
    await server.feed.caughtUp(handled[0]!.seq);

    // The figures refresh with the leases (every third of one): wait for the scrape to show the groups.
    let metrics = '';
    while (Date.now() < deadline) {
      metrics = (await server.http.inject({ method: 'GET', url: '/metrics' })).body;
      if (/yunying_feed_handled_total\{group="feed-watcher"\} 1/.test(metrics)) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    for (const group of ['routing', 'report-delivery', 'study-arrival', 'feed-watcher']) {
      assert.match(metrics, new RegExp(`yunying_feed_lag_changes\\{group="${group}"\\} 0`));
      assert.match(metrics, new RegExp(`yunying_feed_dead_letters\\{group="${group}"\\} 0`));
      assert.match(metrics, new RegExp(`yunying_feed_lease_held\\{group="${group}"\\} 1`));
    }
  } finally {
    await server.close();
    await rm(dataDir, { recursive: true, force: true });
  }
});

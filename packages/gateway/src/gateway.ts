/**
 * The edge gateway (前置机): its own local cache (cache.ts: SQLite index + files, acknowledged
 * only when durable: docs/adr/0003), @yunying/dimse's SCP over it for the clinic's modalities
 * and viewers, the durable forwarding queue beside the index, the forwarder, cache eviction,
 * PACS import and the status page. It imports nothing of the server (issue 13, item 6).
 */
import { mkdir } from 'node:fs/promises';
import { pino, type Logger } from 'pino';
import { DIMSE_STATUS, DimseStatusError, startDimseServer, type DimseServer, type MoveDestination } from '@yunying/dimse';
import { LocalCache, type CachedInstance, type InstanceScope } from './cache.ts';
import { queryCache } from './cache-query.ts';
import type { DicomNodeConfig, GatewayConfig } from './config.ts';
import { cacheUsage, evictForwardedStudies } from './eviction.ts';
import { Forwarder } from './forwarder.ts';
import { PacsImporter } from './pacs-import.ts';
import { GatewayQueue } from './queue-store.ts';
import { startStatusServer, type GatewayStatus } from './status-server.ts';

export interface Gateway {
  config: GatewayConfig;
  cache: LocalCache;
  queue: GatewayQueue;
  forwarder: Forwarder;
  importer: PacsImporter;
  logger: Logger;
  dicomPort: number;
  httpPort: number;
  status(): Promise<GatewayStatus>;
  /** one eviction pass now (also run every evictionIntervalMs) */
  evict(): Promise<{ studies: number; instances: number; bytes: number }>;
  close(): Promise<void>;
}

export async function startGateway(config: GatewayConfig, logger: Logger = pino({ level: config.logLevel, redact: ['*.password'] })): Promise<Gateway> {
  await mkdir(config.dataDir, { recursive: true });
  // Queue inserts run in the order the cache stored the instances.
  let enqueued: Promise<void> = Promise.resolve();
  let onInstanceStored: (sopInstanceUid: string) => void = () => undefined;
  const cache = await LocalCache.open({
    dataDir: config.dataDir,
    fsync: config.fsync,
    onStored: (result) => onInstanceStored(result.sopInstanceUid),
  });
  const queue = new GatewayQueue(cache.database.db);
  await queue.migrate();
  // Closes the window between an index commit and its queue row (a crash in between).
  const reconciled = await queue.reconcile();
  if (reconciled > 0) logger.info({ instances: reconciled }, 'queued cached instances that had no queue row');

  const forwarder = new Forwarder({
    queue,
    readBlob: (key) => cache.blobs.get(key),
    cloudUrl: config.cloudUrl,
    username: config.username,
    password: config.password,
    concurrency: config.concurrency,
    batchMaxBytes: config.batchMaxBytes,
    batchMaxInstances: config.batchMaxInstances,
    retryMinMs: config.retryMinMs,
    retryMaxMs: config.retryMaxMs,
    requestTimeoutMs: config.requestTimeoutMs,
    maxBytesPerSecond: config.maxBytesPerSecond,
    logger: logger.child({ component: 'forwarder' }),
  });
  onInstanceStored = (sopInstanceUid) => {
    enqueued = enqueued
      .then(() => queue.enqueueStored(sopInstanceUid))
      .then(
        () => forwarder.wake(),
        (error: unknown) => logger.error({ err: error, sopInstanceUid }, 'queue insert failed; the next start queues it'),
      );
  };
  forwarder.start();

  const dimse = await startCacheScp(config, cache, logger.child({ component: 'dimse' }));

  const importer = new PacsImporter({ aeTitle: config.aeTitle, defaultPacs: config.pacs, queue, db: cache.database.db, logger: logger.child({ component: 'import' }) });
  await importer.open();
  const evicted = { studies: 0, bytes: 0 };
  let evicting: Promise<{ studies: number; instances: number; bytes: number }> | undefined;
  const evict = () => {
    evicting ??= evictForwardedStudies({ db: cache.database.db, deleteBlob: (key) => cache.blobs.delete(key), logger: logger.child({ component: 'eviction' }) }, { maxAgeSeconds: config.cacheMaxAgeSeconds, maxBytes: config.cacheMaxBytes })
      .then((r) => {
        evicted.studies += r.studies;
        evicted.bytes += r.bytes;
        return r;
      })
      .finally(() => (evicting = undefined));
    return evicting;
  };
  const evictionTimer = setInterval(() => void evict().catch((error: unknown) => logger.warn({ err: error }, 'eviction failed')), config.evictionIntervalMs);
  evictionTimer.unref();

  const status = async (): Promise<GatewayStatus> => {
    const [stats, usage, imports] = await Promise.all([queue.stats(), cacheUsage(cache.database.db), Promise.all(importer.list().map((job) => importer.describe(job)))]);
    const f = forwarder.status();
    return {
      aeTitle: config.aeTitle,
      dicomPort: dimse.port,
      queued: stats.queued,
      queuedBytes: stats.queuedBytes,
      failed: stats.failed,
      sent: stats.sent,
      studiesWaiting: stats.studiesWaiting,
      oldestWaiting: stats.oldestWaiting ?? null,
      lastError: f.lastError,
      throughput: f.throughput,
      cloud: f.cloud,
      forwarding: { activeStudies: f.activeStudies, concurrency: config.concurrency, bandwidthCapMbps: f.bandwidthCapBytesPerSecond ? (f.bandwidthCapBytesPerSecond * 8) / 1e6 : null },
      failedInstances: (await queue.failedRows(10)).map((r) => ({ sopInstanceUid: r.sop_instance_uid, studyInstanceUid: r.study_instance_uid, error: r.last_error })),
      cache: { ...usage, maxBytes: config.cacheMaxBytes || null, maxAgeHours: config.cacheMaxAgeSeconds ? config.cacheMaxAgeSeconds / 3600 : null, evictedStudies: evicted.studies, evictedBytes: evicted.bytes },
      imports,
    };
  };

  const http = await startStatusServer({ status, importer, retryFailed: async () => {
    const n = await queue.retryFailed();
    forwarder.wake();
    return n;
  } }, config.httpHost, config.httpPort);

  // After the SCP listens: a resumed C-MOVE sends its instances to it.
  const resumedImports = importer.resume();

  // threadPoolSize: what libuv read at its first task (bin/yunying-gateway.js sets it; default 4)
  logger.info({ dicom: `${config.aeTitle}@${config.dicomHost}:${dimse.port}`, status: `http://${config.httpHost}:${http.port}/`, cloud: config.cloudUrl, dataDir: config.dataDir, reconciled, resumedImports, threadPoolSize: Number(process.env.UV_THREADPOOL_SIZE ?? 4) }, 'yunying-gateway started');

  return {
    config,
    cache,
    queue,
    forwarder,
    importer,
    logger,
    dicomPort: dimse.port,
    httpPort: http.port,
    status,
    evict,
    async close() {
      clearInterval(evictionTimer);
      await importer.close();
      await dimse.close();
      await http.close();
      await forwarder.stop();
      await enqueued;
      await evicting?.catch(() => undefined);
      await cache.close();
    },
  };
}

/** The unique keys of a C-MOVE/C-GET identifier at its level (one UID or a list). */
function scopeOf(level: string, keys: Record<string, { Value?: unknown[] }>): InstanceScope {
  const values = (tag: string): string[] => (keys[tag]?.Value ?? []).flatMap((v) => String(v ?? '').split('\\')).map((v) => v.trim()).filter(Boolean);
  const need = (tag: string, name: string): string[] => {
    const found = values(tag);
    if (found.length === 0) throw new DimseStatusError(DIMSE_STATUS.IDENTIFIER_DOES_NOT_MATCH_SOP_CLASS, `${name} missing at ${level} level`);
    return found;
  };
  if (level === 'PATIENT') return { patientIds: need('00100020', 'PatientID') };
  if (level === 'STUDY') return { studyInstanceUids: need('0020000D', 'StudyInstanceUID') };
  if (level === 'SERIES') return { seriesInstanceUids: need('0020000E', 'SeriesInstanceUID') };
  return { sopInstanceUids: need('00080018', 'SOPInstanceUID') };
}

/**
 * The SCP over the cache: every calling AE on the clinic's network may store, query and
 * retrieve (the cache is the clinic's own); C-MOVE sends only to the configured viewers
 * (YUNYING_GATEWAY_MOVE_DESTINATIONS).
 */
function startCacheScp(config: GatewayConfig, cache: LocalCache, logger: Logger): Promise<DimseServer> {
  const destinations = new Map<string, DicomNodeConfig>(config.moveDestinations.map((node) => [node.aeTitle, node]));
  return startDimseServer<string>({
    aeTitle: config.aeTitle,
    host: config.dicomHost,
    port: config.dicomPort,
    logger,
    aePolicy: { admit: async ({ callingAeTitle }) => (callingAeTitle.length > 0 ? callingAeTitle : undefined) },
    store: {
      async store(callingAeTitle, request) {
        await cache.ingest({ kind: 'dataset', bytes: await request.dataset.read(), transferSyntaxUid: request.transferSyntaxUid, sopClassUid: request.sopClassUid, sopInstanceUid: request.sopInstanceUid, sourceAeTitle: callingAeTitle });
        return {};
      },
    },
    find: { find: (_peer, query) => queryCache(cache, query.level, query.keys) },
    retrieve: {
      async moveDestination(_peer, aeTitle): Promise<{ destination: MoveDestination } | { refused: string }> {
        const node = destinations.get(aeTitle);
        return node ? { destination: { aeTitle: node.aeTitle, host: node.host, port: node.port } } : { refused: 'unknown-destination' };
      },
      instances: (_peer, query) => cache.findInstances(scopeOf(query.level, query.keys)),
      read: (_peer, instance: CachedInstance) => cache.readInstance(instance),
    },
  });
}

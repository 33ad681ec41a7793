import Fastify, { type FastifyInstance } from 'fastify';
import swagger from '@fastify/swagger';
import { pino, type Logger } from 'pino';
import { AccessService } from './access/access-service.ts';
import { configurePasswordHashing } from './access/passwords.ts';
import { requirePermission, type Caller } from './access/caller.ts';
import { auditDenial, createHttpCallerResolver } from './access/http-caller.ts';
import { enforceRoutePermissions } from './access/route-permission.ts';
import { registerCors } from './access/cors.ts';
import { registerResponseCompression } from './dicomweb/response-compression.ts';
import { definePermissions } from './access/permissions.ts';
import { startAuditHeadLog } from './access/audit-head-log.ts';
import type { ShareServices } from './share/share-services.ts';
import { openArchive, type Archive } from './archive/archive.ts';
import type { Config } from './config.ts';
import { dicomTlsOptions, startDimseServer } from './dimse/scp.ts';
import { errorBody, yunyingErrorHandler } from './errors/http-errors.ts';
import { createMetrics } from './metrics.ts';
import { ChangeFeed } from './feed/change-feed.ts';
import type { ModuleConsumer, ModuleContext, PermissionDeclaration, ServiceRegistry, YunyingModule } from './modules/module.ts';
import { createServiceRegistry, moduleMigrations, modulePermissions, registerModules } from './modules/registry.ts';
import { accessModule } from './access/module.ts';
import { archiveModule } from './archive/module.ts';
import { criticalFindingsModule } from './critical-findings/module.ts';
import { ORDERS_DIMSE, ordersModule } from './orders/module.ts';
import { dicomwebModule } from './dicomweb/module.ts';
import { eventsModule } from './events/module.ts';
import { fhirModule } from './fhir/module.ts';
import { hl7Module } from './hl7/module.ts';
import { insightModule } from './insight/module.ts';
import { readingModule } from './reading/module.ts';
import { recognitionModule } from './recognition/module.ts';
import { consultModule } from './consult/module.ts';
import { reportsModule } from './reports/module.ts';
import { productivityModule } from './productivity/module.ts';
import { SHARES, shareModule } from './share/module.ts';
import { settingsModule } from './settings/module.ts';
import { ohifModule } from './ohif/module.ts';
import { webAppModule } from './web-app/module.ts';

/**
 * The modules, in registration order: a module uses the services of those listed before it
 * (ctx.services), and the web app's catch-all comes last. Adding a module is its folder
 * with a module.ts, and a line here (docs/architecture.md, "Adding a module").
 */
export const MODULES: readonly YunyingModule[] = [
  dicomwebModule,
  accessModule,
  archiveModule,
  settingsModule,
  eventsModule,
  shareModule,
  reportsModule,
  productivityModule,
  readingModule,
  criticalFindingsModule,
  ordersModule,
  hl7Module,
  recognitionModule,
  consultModule,
  fhirModule,
  insightModule,
  ohifModule,
  webAppModule,
];

export interface YunyingServer {
  config: Config;
  http: FastifyInstance;
  archive: Archive;
  access: AccessService;
  /** cloud film: links, the patient page */
  shares: ShareServices;
  logger: Logger;
  /** the permissions the listed modules declare */
  permissions: readonly PermissionDeclaration[];
  /** what the modules provide each other (e.g. `services.get(READING)`), for tests that drive a module directly */
  services: ServiceRegistry;
  /** the listed modules' change-feed consumers */
  feedConsumers: readonly ModuleConsumer[];
  /** the change-feed runner every consumer group runs in (feed/change-feed.ts) */
  feed: ChangeFeed;
  /** starts the DIMSE SCP; resolves to the port it listens on */
  startDicom(): Promise<number>;
  close(): Promise<void>;
}

/**
 * Builds the platform without listening (design.md "Build, then listen"): tests inject
 * HTTP requests or call listen on port 0; main.ts listens on the configured ports.
 */
export async function buildServer(config: Config, options: { modules?: readonly YunyingModule[] } = {}): Promise<YunyingServer> {
  const modules = options.modules ?? MODULES;
  const permissions = modulePermissions(modules);
  // The modules' permissions join the catalog and the role table (access/permissions.ts).
  definePermissions(permissions);
  const logger = pino({
    level: config.logLevel,
    // Credentials never reach the logs.
    // Query strings carry matching keys such as PatientName: log the path only, and that
    // without a cloud-film token.
    serializers: {
      req: (request: { method?: string; url?: string; ip?: string }) => ({ method: request.method, path: loggedPath(String(request.url ?? '')), remoteAddress: request.ip }),
    },
    redact: { paths: ['req.headers.authorization', 'req.headers.cookie', '*.password', '*.token'], censor: '[redacted]' },
  });
  const metrics = createMetrics();
  const archive = await openArchive({
    dataDir: config.dataDir,
    databaseUrl: config.databaseUrl,
    storageUrl: config.storageUrl,
    awsEnv: config.awsEnv,
    fsync: config.fsync,
    auditKey: config.auditKey,
    auditKeyFile: config.auditKeyFile,
    moduleMigrations: moduleMigrations(modules),
    // Routing rules look at every newly stored study as a change-feed consumer (routingConsumer below).
    onStored: (result) => metrics.countStored(result.outcome),
  });
  const http = Fastify({
    loggerInstance: logger,
    // JSON bodies of the REST API are small; STOW-RS has its own limit (maxUploadBytes).
    bodyLimit: 1024 * 1024,
    // A property a schema does not allow is an error, not silently dropped.
    ajv: { customOptions: { removeAdditional: false } },
    // On shutdown, a viewer that stopped reading a study must not hold the process open.
    forceCloseConnections: true,
    // Only named proxies may set the client address (audit trail, login throttle).
    trustProxy: config.trustProxy ?? false,
  }) as unknown as FastifyInstance; // pino's Logger type is narrower than Fastify's base logger type

  http.setErrorHandler(yunyingErrorHandler);
  // Viewers on another origin (YUNYING_CORS_ORIGINS): the preflight is answered here, before
  // any module's authentication and the permission hook (access/cors.ts).
  registerCors(http, { origins: config.corsOrigins });
  // DICOM and FHIR JSON answers compressed for clients that accept it (township links are slow).
  await registerResponseCompression(http);
  http.setNotFoundHandler((_request, reply) => reply.status(404).send(errorBody({ code: 'NOT_FOUND', message: 'no such resource' })));
  // Every interface's refusals (403) and lookups that found nothing the caller may see (404)
  // reach the trail before the answer goes out (issue 12); at the root, so DICOMweb's and
  // FHIR's own error handlers are covered too.
  http.addHook('onSend', async (request, reply) => auditDenial(archive.audit, request, reply.statusCode));
  // Patient data stays in no browser or proxy cache (issue 12, finding 19): every answer is
  // no-store unless its route chose otherwise (the web app's static files set their own, on
  // the raw response). The streamed WADO-RS answer sets it itself.
  http.addHook('onSend', async (_request, reply) => {
    if (!reply.hasHeader('cache-control') && !reply.raw.hasHeader('cache-control')) reply.header('Cache-Control', 'no-store');
  });

  // The REST API documents itself from its route schemas (design.md: /api/openapi.json).
  await http.register(swagger, {
    openapi: {
      info: { title: 'Yunying 云影 REST API', version: '1' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'the token from POST /api/v1/auth/login' } } },
    },
    transform: ({ schema, url }) => ({ schema: url.startsWith('/api/') ? schema : { ...schema, hide: true }, url }),
  });

  configurePasswordHashing(config.passwordHashing);
  const access = new AccessService(archive.accessStore, archive.audit, { tokenTtlSeconds: config.tokenTtlSeconds, unitOfWork: archive.unitOfWork });
  try {
    // A process with another audit key than the chain's stops here, not at its first record.
    await archive.audit.ensureKeyed();
    await access.ensureFirstAdministrator(config.adminPassword, config.dataDir, logger);
  } catch (error) {
    await archive.close();
    throw error;
  }
  const restCaller = createHttpCallerResolver(access, 'rest', { allowBasic: false });
  enforceRoutePermissions(http, restCaller); // each route's `config.permission`, for every route registered below
  http.get('/healthz', async () => ({ status: 'ok' }));
  // Like every other route, unless configured public (issue 12, finding 19): the metrics
  // (administrators; Basic too, as scrapers send it) and the API description (anyone signed in).
  const metricsCaller = createHttpCallerResolver(access, 'rest', { allowBasic: true });
  http.get('/metrics', async (request, reply) => {
    if (!config.metricsPublic) requirePermission(await metricsCaller(request), 'platform:manage');
    return reply.type('text/plain; version=0.0.4').send(metrics.render());
  });
  http.get('/api/openapi.json', { schema: { hide: true } }, async (request) => {
    if (!config.openApiPublic) await restCaller(request);
    return http.swagger();
  });
  // Absolute URLs in DICOMweb and FHIR answers: from YUNYING_PUBLIC_BASE_URL when it is set,
  // else from the request's Host, which the client chooses (issue 12, finding 18).
  const configuredPublicBaseUrl = config.publicBaseUrlConfigured ? config.publicBaseUrl : undefined;

  const services = createServiceRegistry();
  const moduleClosers: Array<() => Promise<void> | void> = [];
  const moduleContext: ModuleContext = {
    config,
    logger,
    http,
    archive,
    access,
    metrics,
    callers: {
      rest: restCaller,
      dicomweb: createHttpCallerResolver(access, 'dicomweb', { allowBasic: true }),
      wadoUri: createHttpCallerResolver(access, 'wado-uri', { allowBasic: true }),
      fhir: createHttpCallerResolver(access, 'fhir', { allowBasic: true }),
    },
    configuredPublicBaseUrl,
    services,
    onClose: (close) => void moduleClosers.push(close),
  };
  const closeModules = async () => {
    for (const close of moduleClosers.splice(0).reverse()) await close();
  };
  let feedConsumers: ModuleConsumer[];
  try {
    feedConsumers = await registerModules(modules, moduleContext);
  } catch (error) {
    await closeModules();
    await http.close();
    await archive.close();
    throw error;
  }
  // The change feed's consumer groups, the modules' (one process per group at a time).
  const feed = new ChangeFeed(archive.stores.changeFeed, { onError: (error, where) => logger.warn({ err: error, ...where }, 'change feed') });
  for (const consumer of feedConsumers) feed.subscribe(consumer, { startAt: consumer.startAt });
  metrics.addSection(() => feed.metricLines());
  await feed.start();
  const auditHeadLog = startAuditHeadLog(archive.audit, logger);
  await auditHeadLog.logNow();

  let dicom: { port: number; close(): Promise<void> } | undefined;
  return {
    config,
    http,
    archive,
    access,
    shares: services.get(SHARES),
    logger,
    permissions,
    services,
    feedConsumers,
    feed,
    async startDicom() {
      const started = await startDimseServer({
        archive,
        nodes: archive,
        aeTitle: config.aeTitle,
        host: config.dicomHost,
        port: config.dicomPort,
        acceptUnknownAe: config.acceptUnknownAe,
        // Registered AEs act for their institution; unknown ones only under the loopback rule.
        resolveCaller: (callingAeTitle: string, remoteAddress: string): Promise<Caller | undefined> => access.callerForAe(callingAeTitle, remoteAddress),
        logger: logger.child({ component: 'dimse' }),
        limits: { total: config.dicomAssociations.total, perCallingAe: config.dicomAssociations.perCallingAe, perAddress: config.dicomAssociations.perAddress },
        idleTimeoutMs: config.dicomAssociations.idleSeconds * 1000,
        // large data sets to files in the blob store's staging directory, the too large refused (issue 13, item 7)
        datasetBounds: { spillBytes: config.dimseDatasets.spillBytes, maxBytes: config.dimseDatasets.maxMessageBytes, spillDir: archive.blobs.stagingDirectory },
        tls: config.dicomTls ? await dicomTlsOptions(config.dicomTls) : undefined,
        // a township's nodes and its serving centre's; platform administrators anywhere (issue 12, finding 14)
        moveDestinationPermitted: (caller, destination) => access.mayMoveTo(caller, destination.institutionId),
        audit: archive.audit,
        // the modality worklist and MPPS, when the orders module is listed
        ...(services.has(ORDERS_DIMSE) ? services.get(ORDERS_DIMSE) : {}),
      });
      dicom = started;
      return started.port;
    },
    async close() {
      auditHeadLog.stop();
      await dicom?.close();
      await http.close();
      await feed.close();
      await closeModules();
      await auditHeadLog.idle();
      await archive.close();
    },
  };
}

/**
 * A request path as the log shows it: no query string (matching keys such as PatientName),
 * and the token of a cloud-film path (/s/{token}/…) replaced, since whoever reads the log
 * could otherwise open the patient's images (issue 12, finding 11). Also when the prefix
 * is percent-encoded or doubled, which routing may still resolve.
 */
export function loggedPath(url: string): string {
  return url.split('?')[0]!.replace(/^\/+(?:s|%73)\/[^/]*/i, '/s/[token]');
}

/**
 * Module registration (issue 13, item 4). Each module under packages/server/src/<module>/
 * exports ONE registration from its module.ts: its permissions, its migrations, its routes
 * and services, and its change-feed consumers. app.ts lists the modules; adding one is a
 * folder and a line in that list (docs/architecture.md, "Adding a module").
 */
import type { FastifyInstance } from 'fastify';
import type { Migration } from 'kysely';
import type { Logger } from 'pino';
import type { AccessService } from '../access/access-service.ts';
import type { HttpCallerResolver } from '../access/http-caller.ts';
import type { PermissionDeclaration } from '../access/permissions.ts';
import type { Archive } from '../archive/archive.ts';
import type { Config } from '../config.ts';
import type { FeedConsumer } from '../feed/change.ts';
import type { SubscribeOptions } from '../feed/change-feed.ts';
import type { createMetrics } from '../metrics.ts';
import type { SqlDialectName } from '../store/database.ts';

export interface YunyingModule {
  /** the module's folder name, e.g. 'reading' */
  name: string;
  /**
   * the fine-grained permissions the module's routes check, with the roles that hold them
   * (they join access/permissions.ts's catalog and role table at start)
   */
  permissions?: readonly PermissionDeclaration[];
  /**
   * Its migrations, run with the core list (store/migrations.ts) as one set sorted by name:
   * the next free number after the core list's and the other modules' ('0020-quality-…'). A function of the
   * dialect where the SQL differs between SQLite and PostgreSQL.
   */
  migrations?: ModuleMigrations;
  /** routes (on ctx.http) and services (ctx.services.provide) */
  register?(ctx: ModuleContext): Promise<void> | void;
  /** its change-feed consumers, asked for after every module registered */
  consumers?(ctx: ModuleContext): ModuleConsumer[];
}

/**
 * A consumer group of a module. `startAt` is where its cursor starts the first time the
 * group runs: the feed's first change ['beginning'], or 'latest' for a consumer that only
 * reacts to what happens from now on (a module added to a platform with a long history).
 */
export type ModuleConsumer = FeedConsumer & SubscribeOptions;

/** the process counters /metrics renders */
export type Metrics = ReturnType<typeof createMetrics>;

export type { PermissionDeclaration };

export type MigrationSet = Readonly<Record<string, Migration>>;
export type ModuleMigrations = MigrationSet | ((dialect: SqlDialectName) => MigrationSet);

/** The platform core, as every module sees it. */
export interface ModuleContext {
  readonly config: Config;
  readonly logger: Logger;
  /** the one Fastify instance: routes, hooks, scoped plugins */
  readonly http: FastifyInstance;
  readonly archive: Archive;
  readonly access: AccessService;
  readonly metrics: Metrics;
  /** who is calling, per interface (the audit trail records the interface) */
  readonly callers: ModuleCallers;
  /** YUNYING_PUBLIC_BASE_URL when it is set: absolute URLs are never built from the Host a client chose */
  readonly configuredPublicBaseUrl: string | undefined;
  /** what modules provide to the modules listed after them */
  readonly services: ServiceRegistry;
  /**
   * Work to end when the server closes (timers, streams, background loops): run after the
   * HTTP server stopped, in reverse order of registration, before the archive closes.
   */
  onClose(close: () => Promise<void> | void): void;
}

export interface ModuleCallers {
  /** REST API: Bearer tokens only */
  rest: HttpCallerResolver;
  /** DICOMweb: Bearer or Basic (DICOM tools) */
  dicomweb: HttpCallerResolver;
  wadoUri: HttpCallerResolver;
  fhir: HttpCallerResolver;
}

/**
 * A typed name for a service one module provides and others use, declared next to the
 * module that provides it (e.g. `export const READING = serviceKey<ReadingService>('reading')`
 * in reading/module.ts), so a dependency between modules is an import of that key.
 */
export interface ServiceKey<T> {
  readonly name: string;
  /** carries T only for the type checker */
  readonly type?: T;
}

export function serviceKey<T>(name: string): ServiceKey<T> {
  return { name };
}

export interface ServiceRegistry {
  provide<T>(key: ServiceKey<T>, service: T): void;
  /** the service, or an error naming the key: its module is missing or listed after the caller */
  get<T>(key: ServiceKey<T>): T;
  has(key: ServiceKey<unknown>): boolean;
}

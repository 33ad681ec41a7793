/**
 * Compression on ingest (issue 15 item 1), an administrator's choice per institution (with a
 * platform default), kept in admin_settings as 'ingest-compression'. Off unless chosen: the
 * archive keeps every object byte-exact as received. When on, ingest stores new uncompressed
 * images losslessly compressed (JPEG 2000 or HTJ2K, checked by decoding back) and records
 * the received transfer syntax on the instance (archive/ingest-compression.ts).
 */
import type { FastifyInstance } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import { actsForEveryInstitution, canSeeInstitution, requirePermission, type Caller } from '../access/caller.ts';
import type { HttpCallerResolver } from '../access/http-caller.ts';
import type { IngestCompression } from '../archive/ingest-compression.ts';
import { notFound, YunyingError } from '../errors.ts';
import type { AccessStore } from '../store/access-store.ts';
import type { UnitOfWork } from '../store/unit-of-work.ts';
import { compressPart10, HTJ2K_LOSSLESS, J2K_LOSSLESS } from '../transcoding/compressor.ts';
import { openSettingsStore, PLATFORM_SCOPE, type SettingsStore } from './settings-store.ts';

export const INGEST_COMPRESSION = 'ingest-compression';

/** What an administrator chooses, and the transfer syntax each stores. */
export const COMPRESSION_MODES = { off: undefined, 'jpeg2000-lossless': J2K_LOSSLESS, 'htj2k-lossless': HTJ2K_LOSSLESS } as const;
export type CompressionMode = keyof typeof COMPRESSION_MODES;

export interface IngestCompressionView {
  /** the institution asked about, or '*' for the platform default */
  institutionId: string;
  compression: CompressionMode;
  /** the transfer syntax new uncompressed images are stored in; absent when off */
  transferSyntaxUid?: string;
  /** the institution's own choice, the platform default, or the built-in one (off) */
  source: 'institution' | 'platform' | 'default';
  updatedAt?: string;
  updatedBy?: string;
}

export interface IngestCompressionDependencies {
  store: SettingsStore;
  access: Pick<AccessStore, 'findInstitution'>;
  unitOfWork: UnitOfWork;
  /** how long ingest trusts a value it read before reading it again (other processes' writes) [10 s] */
  cacheMs?: number;
}

const isMode = (value: unknown): value is CompressionMode => typeof value === 'string' && Object.hasOwn(COMPRESSION_MODES, value);

function readMode(value: unknown): CompressionMode | undefined {
  const mode = (value as { compression?: unknown } | null)?.compression;
  return isMode(mode) ? mode : undefined;
}

export class IngestCompressionSettings implements IngestCompression {
  private readonly deps: IngestCompressionDependencies;
  private readonly cacheMs: number;
  private readonly cache = new Map<string, { syntax: string | undefined; at: number }>();

  constructor(deps: IngestCompressionDependencies) {
    this.deps = deps;
    this.cacheMs = deps.cacheMs ?? 10_000;
  }

  /** The administrator's choice for an institution (its own, else the platform default, else off). */
  async view(caller: Caller, institutionId: string = caller.institutionId): Promise<IngestCompressionView> {
    requirePermission(caller, 'platform:manage');
    if (institutionId !== PLATFORM_SCOPE) await this.requireVisibleInstitution(caller, institutionId);
    return this.resolve(institutionId);
  }

  async set(caller: Caller, institutionId: string | undefined, compression: CompressionMode): Promise<IngestCompressionView> {
    requirePermission(caller, 'platform:manage');
    if (!isMode(compression)) throw new YunyingError('INVALID_BODY', `compression must be one of ${Object.keys(COMPRESSION_MODES).join(', ')}`);
    const scope = await this.writableScope(caller, institutionId);
    const before = await this.deps.store.get(scope, INGEST_COMPRESSION);
    await this.deps.unitOfWork.run(async (tx) => {
      await tx.open(openSettingsStore).put(scope, INGEST_COMPRESSION, { compression }, caller.name);
      tx.audit.record({ action: 'settings.updated', caller, objectType: 'institution', objectId: scope, details: { setting: INGEST_COMPRESSION, before: before?.value ?? null, after: { compression } } });
    });
    this.cache.clear();
    return this.resolve(scope);
  }

  /** IngestCompression: the syntax an institution's new instances are compressed to (cached briefly; ingest is hot). */
  async syntaxFor(institutionId: string): Promise<string | undefined> {
    const cached = this.cache.get(institutionId);
    if (cached && Date.now() - cached.at < this.cacheMs) return cached.syntax;
    const syntax = (await this.resolve(institutionId)).transferSyntaxUid;
    this.cache.set(institutionId, { syntax, at: Date.now() });
    return syntax;
  }

  compress(part10: Buffer, syntax: string): Promise<Buffer | undefined> {
    return compressPart10(part10, syntax);
  }

  private async resolve(institutionId: string): Promise<IngestCompressionView> {
    const own = institutionId === PLATFORM_SCOPE ? undefined : await this.deps.store.get(institutionId, INGEST_COMPRESSION);
    const setting = own ?? (await this.deps.store.get(PLATFORM_SCOPE, INGEST_COMPRESSION));
    const mode = setting ? readMode(setting.value) : undefined;
    if (!setting || !mode) return { institutionId, compression: 'off', source: 'default' };
    const syntax = COMPRESSION_MODES[mode];
    return { institutionId, compression: mode, ...(syntax ? { transferSyntaxUid: syntax } : {}), source: own ? 'institution' : 'platform', updatedAt: setting.updatedAt, updatedBy: setting.updatedBy };
  }

  private async writableScope(caller: Caller, institutionId: string | undefined): Promise<string> {
    if (institutionId === undefined || institutionId === PLATFORM_SCOPE) {
      if (!actsForEveryInstitution(caller)) throw new YunyingError('FORBIDDEN', 'the platform default is a platform setting');
      return PLATFORM_SCOPE;
    }
    await this.requireVisibleInstitution(caller, institutionId);
    return institutionId;
  }

  /** 404 alike for an institution that does not exist and one outside the caller's scope. */
  private async requireVisibleInstitution(caller: Caller, institutionId: string): Promise<void> {
    if (!canSeeInstitution(caller, institutionId) || !(await this.deps.access.findInstitution(institutionId))) throw notFound(`institution ${institutionId}`);
  }
}

/** an institution id, or '*' for the platform default */
const SCOPE = '^(\\*|[A-Za-z0-9][A-Za-z0-9._-]{0,63})$';
const Query = Type.Object({ institutionId: Type.Optional(Type.String({ pattern: SCOPE })) }, { additionalProperties: false });
const Body = Type.Object(
  {
    institutionId: Type.Optional(Type.String({ pattern: SCOPE, description: "the institution this applies to; omitted or '*': the platform default" })),
    compression: Type.Union([Type.Literal('off'), Type.Literal('jpeg2000-lossless'), Type.Literal('htj2k-lossless')], { description: 'off (default): stored byte-exact as received' }),
  },
  { additionalProperties: false },
);
const tags = { tags: ['administration'], security: [{ bearer: [] }] };

/** GET/PUT /api/v1/settings/ingest-compression: administrators only (platform:manage). */
export async function registerIngestCompressionRoutes(app: FastifyInstance, options: { settings: IngestCompressionSettings; resolveCaller: HttpCallerResolver }): Promise<void> {
  const { settings, resolveCaller } = options;
  app.get('/api/v1/settings/ingest-compression', { config: { permission: 'platform:manage' }, schema: { ...tags, querystring: Query } }, async (request) =>
    settings.view(await resolveCaller(request), (request.query as Static<typeof Query>).institutionId),
  );
  app.put('/api/v1/settings/ingest-compression', { config: { permission: 'platform:manage' }, schema: { ...tags, body: Body } }, async (request) => {
    const { institutionId, compression } = request.body as Static<typeof Body>;
    return settings.set(await resolveCaller(request), institutionId, compression);
  });
}

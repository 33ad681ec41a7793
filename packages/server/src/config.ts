import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Type, type TSchema } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';

/** Everything the server reads from its environment, validated once at start and passed down. */
export interface Config {
  httpHost: string;
  httpPort: number;
  dicomHost: string;
  dicomPort: number;
  aeTitle: string;
  dataDir: string;
  /** unset: SQLite in dataDir; postgres://… for PostgreSQL */
  databaseUrl?: string;
  /** unset: files in dataDir; s3://bucket/prefix */
  storageUrl?: string;
  /** the standard AWS_* variables, for the S3 client (credentials, region, endpoint) */
  awsEnv: Record<string, string | undefined>;
  adminPassword?: string;
  /**
   * The audit chain's HMAC key, outside the database (YUNYING_AUDIT_KEY, at least 32
   * characters); unset: the file auditKeyFile, created on first start with mode 0600.
   * Every server process on one database needs the same key.
   */
  auditKey?: string;
  /** YUNYING_AUDIT_KEY_FILE [DATA_DIR/audit-key] */
  auditKeyFile: string;
  /** accept unknown calling AEs as the default institution's administrator; default: only while the DICOM port is on loopback */
  acceptUnknownAe: boolean;
  /**
   * DIMSE associations at once (issue 12, finding 9): over all peers
   * (YUNYING_DICOM_MAX_ASSOCIATIONS [512]), per calling AE title (…_PER_AE [16]) and per
   * remote address (…_PER_ADDRESS [32]; every unknown tool on a loopback port is one
   * address); an association silent for YUNYING_DICOM_IDLE_SECONDS [60] is aborted
   */
  dicomAssociations: { total: number; perCallingAe: number; perAddress: number; idleSeconds: number };
  /**
   * DIMSE ingest bounds (issue 13, item 7): a received data set over
   * YUNYING_DIMSE_SPILL_BYTES [8 MiB] goes to a temporary file in the blob store's staging directory as it
   * arrives instead of memory; one over YUNYING_DIMSE_MAX_MESSAGE_BYTES [2 GiB] is read to its
   * end, dropped and refused with A700 (out of resources)
   */
  dimseDatasets: { spillBytes: number; maxMessageBytes: number };
  /**
   * DICOM over TLS on the DICOM port (PS3.15 B.1): YUNYING_DICOM_TLS_CERT_FILE and
   * YUNYING_DICOM_TLS_KEY_FILE (PEM); with YUNYING_DICOM_TLS_CA_FILE only peers with a
   * certificate that CA signed may connect. Unset: plain TCP
   */
  dicomTls?: { certFile: string; keyFile: string; caFile?: string };
  /** fsync blobs and the directory before acknowledging (durable across power loss, not only process crashes) */
  fsync: boolean;
  /** largest STOW-RS request body in bytes */
  maxUploadBytes: number;
  /** most parts one STOW-RS request may carry [10000]: a 3000-slice CT goes in one request, 200,000 tiny parts do not */
  stowMaxParts: number;
  /**
   * STOW-RS requests that read and store their bodies at once (YUNYING_STOW_CONCURRENCY [4]);
   * up to YUNYING_STOW_QUEUE [64] more wait unread for a slot, and beyond that a request is
   * answered 503 UPLOADS_BUSY with Retry-After. Each request holds at most 32 MiB of parts
   * in memory and stages the rest in DATA_DIR/staging.
   */
  stowConcurrency: number;
  stowQueue: number;
  /** largest decoded frame rendered to JPEG/PNG, bytes [128 MiB]: a 4096×4096 16-bit RGB frame fits, a 25000×25000 one does not */
  renderMaxFrameBytes: number;
  /** lifetime of a bearer token from POST /api/v1/auth/login */
  tokenTtlSeconds: number;
  /** reading SLA per priority, minutes from images complete to a signed report */
  slaMinutes: { emergency: number; urgent: number; routine: number };
  /** a study that has received nothing for this long counts as complete for its reading request */
  studyStableSeconds: number;
  /** IANA time zone of routing rules' time windows and of printed report times */
  timeZone: string;
  /**
   * Fastify's trustProxy: which reverse proxies may set X-Forwarded-For, so that the audit
   * trail and the per-client login throttle see the real client, not the proxy [unset: none].
   * "loopback" or a comma-separated list of addresses/CIDRs.
   */
  trustProxy?: string | string[];
  /** where patients and outside tools reach the server, e.g. https://film.example.org; printed in QR codes [http://HTTP_HOST:HTTP_PORT] */
  publicBaseUrl: string;
  /**
   * YUNYING_PUBLIC_BASE_URL was set: DICOMweb (RetrieveURL, BulkDataURI) and FHIR (fullUrl,
   * links, endpoint addresses) build absolute URLs from it instead of the request's Host
   * header, which any client chooses (issue 12, finding 18)
   */
  publicBaseUrlConfigured: boolean;
  /** GET /metrics without authentication (a scraper on a trusted network) [false: administrators only] */
  metricsPublic: boolean;
  /** GET /api/openapi.json without authentication [false: any signed-in user] */
  openApiPublic: boolean;
  /** cloud film: lifetime of a patient link in days, one per signed report automatically, longest onward link */
  share: { ttlDays: number; autoCreateOnSign: boolean; onwardMaxDays: number };
  /**
   * password hashing (access/passwords.ts): worker threads of its own and how many hashes may
   * wait for them before logins are refused with 503 [2 at most, 16]; costLog2 is scrypt's
   * log2 N [17], lowered only by test suites (YUNYING_PASSWORD_HASH_COST_LOG2)
   */
  passwordHashing: { threads?: number; maxQueued: number; costLog2: number };
  /**
   * critical findings (危急值, critical-findings/): an alert nobody at the requesting
   * institution acknowledged is escalated after YUNYING_CRITICAL_ESCALATE_MINUTES [15; a
   * decimal such as 0.05 is allowed, for tests], again after as long each time, at most
   * YUNYING_CRITICAL_ESCALATE_MAX [3] times
   */
  critical: { escalateMinutes: number; maxEscalations: number };
  /**
   * mutual recognition (检查结果互认, recognition/): OtherPatientIDsSequence items under
   * YUNYING_NATIONAL_ID_ISSUER [CN-RID] carry the resident ID; a clinician's access request
   * opens another institution's exam to them for YUNYING_RECOGNITION_ACCESS_HOURS [24], a
   * break-glass for YUNYING_BREAK_GLASS_HOURS [4]
   */
  recognition: { nationalIdIssuer: string; accessHours: number; breakGlassHours: number };
  /**
   * consultation (会诊, consult/): the time to the signed conclusion per type,
   * YUNYING_CONSULT_SLA_EMERGENCY_MINUTES [30], _DIFFICULT_ [1440], _ROUTINE_ [2880]
   */
  consultSlaMinutes: { emergency: number; difficult: number; routine: number };
  /**
   * HL7 v2 over MLLP (hl7/): off unless YUNYING_HL7_PORT is set (0: any free port, for
   * tests); on YUNYING_HL7_HOST [127.0.0.1]; a message larger than
   * YUNYING_HL7_MAX_MESSAGE_BYTES [1 MiB] is refused
   */
  hl7: { host: string; port?: number; maxMessageBytes: number };
  /** the built web app [packages/web/dist] */
  webDistDir?: string;
  /**
   * Browser origins allowed to call /dicom-web, /wado, /fhir/r4 and /api from another origin
   * (YUNYING_CORS_ORIGINS, comma-separated, e.g. https://viewer.example.org; "*" any origin;
   * unset: none, and no CORS headers at all). Credentials stay explicit (a token), never cookies.
   */
  corsOrigins: readonly string[];
  /**
   * OHIF (the built viewer of @ohif/app) at /ohif/ (YUNYING_OHIF [false]), from
   * YUNYING_OHIF_DIST [node_modules/.cache/ohif-app-3.12.0/dist, what scripts/fetch-ohif.ts writes]
   */
  ohif: { enabled: boolean; distDir?: string };
  logLevel: string;
}

type Env = Record<string, string | undefined>;

export class ConfigError extends Error {}

/**
 * Reads the configuration from the environment, optionally merged over a JSON file named by
 * YUNYING_CONFIG (keys are the same environment variable names; the environment wins).
 */
export function loadConfig(env: Env = process.env): Config {
  const file = readConfigFile(env.YUNYING_CONFIG);
  const problems = [...checkEnvironment(env), ...checkConfigFile(file, env.YUNYING_CONFIG ?? '')];
  if (problems.length > 0) throw new ConfigError(problems.join('\n'));
  const merged: Env = { ...asStrings(file), ...definedOnly(env) };
  const dicomHost = merged.YUNYING_DICOM_HOST ?? '127.0.0.1';
  return {
    httpHost: merged.YUNYING_HTTP_HOST ?? '127.0.0.1',
    httpPort: readPort(merged, 'YUNYING_HTTP_PORT', 8080),
    dicomHost,
    dicomPort: readPort(merged, 'YUNYING_DICOM_PORT', 11112),
    aeTitle: readAeTitle(merged.YUNYING_AE_TITLE ?? 'YUNYING'),
    dataDir: path.resolve(merged.YUNYING_DATA_DIR ?? './data'),
    databaseUrl: merged.YUNYING_DATABASE_URL || undefined,
    storageUrl: readStorageUrl(merged.YUNYING_STORAGE_URL),
    awsEnv: Object.fromEntries(Object.entries(merged).filter(([name]) => name.startsWith('AWS_'))),
    adminPassword: merged.YUNYING_ADMIN_PASSWORD || undefined,
    auditKey: readAuditKey(merged.YUNYING_AUDIT_KEY),
    auditKeyFile: path.resolve(merged.YUNYING_AUDIT_KEY_FILE || path.join(merged.YUNYING_DATA_DIR ?? './data', 'audit-key')),
    acceptUnknownAe: readBoolean(merged, 'YUNYING_DICOM_ACCEPT_UNKNOWN_AE', isLoopback(dicomHost)),
    dicomAssociations: {
      total: readBounded(merged, 'YUNYING_DICOM_MAX_ASSOCIATIONS', 512, 1, 100_000),
      perCallingAe: readBounded(merged, 'YUNYING_DICOM_MAX_ASSOCIATIONS_PER_AE', 16, 1, 100_000),
      perAddress: readBounded(merged, 'YUNYING_DICOM_MAX_ASSOCIATIONS_PER_ADDRESS', 32, 1, 100_000),
      idleSeconds: readBounded(merged, 'YUNYING_DICOM_IDLE_SECONDS', 60, 1, 86_400),
    },
    dicomTls: readDicomTls(merged),
    dimseDatasets: {
      spillBytes: readBounded(merged, 'YUNYING_DIMSE_SPILL_BYTES', 8 * 1024 ** 2, 0, 4 * 1024 ** 3),
      maxMessageBytes: readBounded(merged, 'YUNYING_DIMSE_MAX_MESSAGE_BYTES', 2 * 1024 ** 3, 1024, 4 * 1024 ** 3),
    },
    fsync: readBoolean(merged, 'YUNYING_FSYNC', true),
    maxUploadBytes: readInteger(merged, 'YUNYING_MAX_UPLOAD_BYTES', 2 * 1024 ** 3),
    stowMaxParts: readBounded(merged, 'YUNYING_STOW_MAX_PARTS', 10_000, 1, 1_000_000),
    stowConcurrency: readBounded(merged, 'YUNYING_STOW_CONCURRENCY', 4, 1, 1024),
    stowQueue: readBounded(merged, 'YUNYING_STOW_QUEUE', 64, 0, 100_000),
    renderMaxFrameBytes: readBounded(merged, 'YUNYING_RENDER_MAX_FRAME_BYTES', 128 * 1024 ** 2, 1024, 2 * 1024 ** 3),
    tokenTtlSeconds: readInteger(merged, 'YUNYING_TOKEN_TTL_MINUTES', 12 * 60) * 60,
    slaMinutes: {
      emergency: readInteger(merged, 'YUNYING_SLA_EMERGENCY_MINUTES', 30),
      urgent: readInteger(merged, 'YUNYING_SLA_URGENT_MINUTES', 60),
      routine: readInteger(merged, 'YUNYING_SLA_ROUTINE_MINUTES', 120),
    },
    studyStableSeconds: readInteger(merged, 'YUNYING_STUDY_STABLE_SECONDS', 30),
    critical: { escalateMinutes: readMinutes(merged, 'YUNYING_CRITICAL_ESCALATE_MINUTES', 15), maxEscalations: readInteger(merged, 'YUNYING_CRITICAL_ESCALATE_MAX', 3) },
    recognition: { nationalIdIssuer: merged.YUNYING_NATIONAL_ID_ISSUER?.trim() || 'CN-RID', accessHours: readHours(merged, 'YUNYING_RECOGNITION_ACCESS_HOURS', 24), breakGlassHours: readHours(merged, 'YUNYING_BREAK_GLASS_HOURS', 4) },
    consultSlaMinutes: { emergency: readMinutes(merged, 'YUNYING_CONSULT_SLA_EMERGENCY_MINUTES', 30), difficult: readMinutes(merged, 'YUNYING_CONSULT_SLA_DIFFICULT_MINUTES', 1440), routine: readMinutes(merged, 'YUNYING_CONSULT_SLA_ROUTINE_MINUTES', 2880) },
    hl7: {
      host: merged.YUNYING_HL7_HOST ?? '127.0.0.1',
      port: merged.YUNYING_HL7_PORT ? readPort(merged, 'YUNYING_HL7_PORT', 0) : undefined,
      maxMessageBytes: readBounded(merged, 'YUNYING_HL7_MAX_MESSAGE_BYTES', 1024 ** 2, 1024, 64 * 1024 ** 2),
    },
    timeZone: readTimeZone(merged.YUNYING_TIME_ZONE ?? 'Asia/Shanghai'),
    trustProxy: readTrustProxy(merged.YUNYING_TRUST_PROXY),
    publicBaseUrl: readPublicBaseUrl(merged.YUNYING_PUBLIC_BASE_URL, merged.YUNYING_HTTP_HOST ?? '127.0.0.1', readPort(merged, 'YUNYING_HTTP_PORT', 8080)),
    publicBaseUrlConfigured: Boolean(merged.YUNYING_PUBLIC_BASE_URL),
    metricsPublic: readBoolean(merged, 'YUNYING_METRICS_PUBLIC', false),
    openApiPublic: readBoolean(merged, 'YUNYING_OPENAPI_PUBLIC', false),
    share: {
      ttlDays: readBounded(merged, 'YUNYING_SHARE_TTL_DAYS', 30, 1, 365),
      autoCreateOnSign: readBoolean(merged, 'YUNYING_SHARE_AUTO', true),
      onwardMaxDays: readBounded(merged, 'YUNYING_SHARE_ONWARD_MAX_DAYS', 7, 1, 90),
    },
    passwordHashing: {
      threads: merged.YUNYING_PASSWORD_HASH_THREADS ? readBounded(merged, 'YUNYING_PASSWORD_HASH_THREADS', 1, 1, 16) : undefined,
      maxQueued: readBounded(merged, 'YUNYING_PASSWORD_HASH_QUEUE', 16, 0, 10_000),
      costLog2: readBounded(merged, 'YUNYING_PASSWORD_HASH_COST_LOG2', 17, 12, 20),
    },
    webDistDir: merged.YUNYING_WEB_DIST ? path.resolve(merged.YUNYING_WEB_DIST) : undefined,
    corsOrigins: readCorsOrigins(merged.YUNYING_CORS_ORIGINS),
    ohif: { enabled: readBoolean(merged, 'YUNYING_OHIF', false), distDir: merged.YUNYING_OHIF_DIST ? path.resolve(merged.YUNYING_OHIF_DIST) : undefined },
    logLevel: merged.YUNYING_LOG_LEVEL ?? 'info',
  };
}

function readAuditKey(key: string | undefined): string | undefined {
  if (!key) return undefined;
  // Not the value in the message: it is a secret.
  if (key.length < 32) throw new ConfigError(`YUNYING_AUDIT_KEY must be at least 32 characters (it has ${key.length})`);
  return key;
}

/** Origins as browsers send them (scheme://host[:port], no path), or "*" alone. */
function readCorsOrigins(raw: string | undefined): string[] {
  const origins = (raw ?? '').split(',').map((origin) => origin.trim().replace(/\/+$/, '')).filter(Boolean);
  for (const origin of origins) {
    if (origin !== '*' && !/^https?:\/\/[^/?#\s*]+$/i.test(origin)) throw new ConfigError(`YUNYING_CORS_ORIGINS must be comma-separated origins such as https://viewer.example.org (scheme and host, no path) or *, got "${origin}"`);
  }
  if (origins.includes('*') && origins.length > 1) throw new ConfigError('YUNYING_CORS_ORIGINS: "*" (any origin) stands alone');
  return origins.map((origin) => (origin === '*' ? origin : new URL(origin).origin));
}

function readStorageUrl(url: string | undefined): string | undefined {
  if (!url) return undefined;
  if (!/^s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](\/.*)?$/.test(url)) throw new ConfigError(`YUNYING_STORAGE_URL must be s3://bucket/prefix or unset, got "${url}"`);
  return url;
}

function readConfigFile(file: string | undefined): Record<string, unknown> {
  if (!file) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new ConfigError(`cannot read config file ${file}: ${(error as Error).message}`);
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new ConfigError(`config file ${file} must hold one JSON object of YUNYING_* names`);
  return parsed as Record<string, unknown>;
}

// The schema of every name the server reads (issue 13, item 8). Environment values are always
// strings; a JSON config file may also give a flag as a boolean and a number as a number.
// The readers in loadConfig then check ranges and formats.
const text = Type.String();
const flag = Type.Union([Type.Boolean(), Type.String({ pattern: '^\\s*([Tt][Rr][Uu][Ee]|[Ff][Aa][Ll][Ss][Ee]|[Yy][Ee][Ss]|[Nn][Oo]|[Oo][Nn]|[Oo][Ff][Ff]|1|0)?\\s*$' })]);
const count = Type.Union([Type.Integer({ minimum: 0 }), Type.String({ pattern: '^\\s*\\d*\\s*$' })]);
/** pino's levels */
const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];
const CONFIG_SCHEMA: Record<string, TSchema> = {
  YUNYING_CONFIG: text,
  YUNYING_HTTP_HOST: text,
  YUNYING_HTTP_PORT: count,
  YUNYING_DICOM_HOST: text,
  YUNYING_DICOM_PORT: count,
  YUNYING_AE_TITLE: text,
  YUNYING_DATA_DIR: text,
  YUNYING_DATABASE_URL: Type.String({ pattern: '^(|postgres://.*|postgresql://.*)$' }),
  YUNYING_STORAGE_URL: text,
  YUNYING_ADMIN_PASSWORD: text,
  YUNYING_AUDIT_KEY: text,
  YUNYING_AUDIT_KEY_FILE: text,
  YUNYING_DICOM_ACCEPT_UNKNOWN_AE: flag,
  YUNYING_DICOM_MAX_ASSOCIATIONS: count,
  YUNYING_DICOM_MAX_ASSOCIATIONS_PER_AE: count,
  YUNYING_DICOM_MAX_ASSOCIATIONS_PER_ADDRESS: count,
  YUNYING_DICOM_IDLE_SECONDS: count,
  YUNYING_DIMSE_SPILL_BYTES: count,
  YUNYING_DICOM_TLS_CERT_FILE: text,
  YUNYING_DICOM_TLS_KEY_FILE: text,
  YUNYING_DICOM_TLS_CA_FILE: text,
  YUNYING_DIMSE_MAX_MESSAGE_BYTES: count,
  YUNYING_FSYNC: flag,
  YUNYING_MAX_UPLOAD_BYTES: count,
  YUNYING_STOW_MAX_PARTS: count,
  YUNYING_STOW_CONCURRENCY: count,
  YUNYING_STOW_QUEUE: count,
  YUNYING_RENDER_MAX_FRAME_BYTES: count,
  YUNYING_TOKEN_TTL_MINUTES: count,
  YUNYING_SLA_EMERGENCY_MINUTES: count,
  YUNYING_SLA_URGENT_MINUTES: count,
  YUNYING_SLA_ROUTINE_MINUTES: count,
  YUNYING_STUDY_STABLE_SECONDS: count,
  YUNYING_CRITICAL_ESCALATE_MINUTES: Type.Union([Type.Number({ exclusiveMinimum: 0 }), Type.String({ pattern: '^\\s*(\\d+(\\.\\d*)?|\\.\\d+)?\\s*$' })]),
  YUNYING_CRITICAL_ESCALATE_MAX: count,
  YUNYING_NATIONAL_ID_ISSUER: text,
  YUNYING_RECOGNITION_ACCESS_HOURS: count,
  YUNYING_BREAK_GLASS_HOURS: count,
  YUNYING_CONSULT_SLA_EMERGENCY_MINUTES: count,
  YUNYING_CONSULT_SLA_DIFFICULT_MINUTES: count,
  YUNYING_CONSULT_SLA_ROUTINE_MINUTES: count,
  YUNYING_HL7_HOST: text,
  YUNYING_HL7_PORT: count,
  YUNYING_HL7_MAX_MESSAGE_BYTES: count,
  YUNYING_TIME_ZONE: text,
  YUNYING_TRUST_PROXY: text,
  YUNYING_PUBLIC_BASE_URL: text,
  YUNYING_METRICS_PUBLIC: flag,
  YUNYING_OPENAPI_PUBLIC: flag,
  YUNYING_SHARE_TTL_DAYS: count,
  YUNYING_SHARE_AUTO: flag,
  YUNYING_SHARE_ONWARD_MAX_DAYS: count,
  YUNYING_PASSWORD_HASH_THREADS: count,
  YUNYING_PASSWORD_HASH_QUEUE: count,
  YUNYING_PASSWORD_HASH_COST_LOG2: count,
  YUNYING_WEB_DIST: text,
  YUNYING_CORS_ORIGINS: text,
  YUNYING_OHIF: flag,
  YUNYING_OHIF_DIST: text,
  YUNYING_LOG_LEVEL: Type.Union(LOG_LEVELS.map((level) => Type.Literal(level))),
};

/**
 * YUNYING_* names that belong to other programs sharing an environment with the server: the
 * edge gateway (YUNYING_GATEWAY_*) and the test suites. They are neither read nor rejected.
 */
function belongsToAnotherProgram(name: string): boolean {
  return name.startsWith('YUNYING_GATEWAY_') || name.startsWith('YUNYING_TEST_') || ['YUNYING_DICOM_SAMPLES', 'YUNYING_KEEP_PDF', 'YUNYING_UPDATE_SCREENSHOTS'].includes(name);
}

/** A name the server reads, or one it knowingly leaves to another program. */
export function isKnownConfigName(name: string): boolean {
  return Object.hasOwn(CONFIG_SCHEMA, name) || belongsToAnotherProgram(name);
}

function checkEnvironment(env: Env): string[] {
  const problems: string[] = [];
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith('YUNYING_') || value === undefined) continue;
    problems.push(...checkValue(name, value, 'in the environment'));
  }
  return problems;
}

function checkConfigFile(file: Record<string, unknown>, fileName: string): string[] {
  const problems: string[] = [];
  for (const [name, value] of Object.entries(file)) {
    if (name.startsWith('AWS_')) {
      if (typeof value !== 'string') problems.push(`${name} in ${fileName} must be a string`);
      continue;
    }
    problems.push(...checkValue(name, value, `in ${fileName}`));
  }
  return problems;
}

function checkValue(name: string, value: unknown, where: string): string[] {
  const schema = CONFIG_SCHEMA[name];
  if (!schema) {
    if (belongsToAnotherProgram(name)) return [];
    const closest = closestKnownName(name);
    return [`${name} ${where} is not a known setting${closest ? ` (did you mean ${closest}?)` : ''}`];
  }
  if (Value.Check(schema, value)) return [];
  if (name === 'YUNYING_LOG_LEVEL') return [`YUNYING_LOG_LEVEL ${where} must be one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(value)}`];
  if (name === 'YUNYING_DATABASE_URL') return [`YUNYING_DATABASE_URL ${where} must be postgres://… or postgresql://… (unset: SQLite in the data directory), got a ${String(value).split(':')[0]}: URL`];
  const expected = schema === flag ? 'true or false' : schema === count ? 'a non-negative integer' : 'a string';
  return [`${name} ${where} must be ${expected}, got ${JSON.stringify(value)}`];
}

function closestKnownName(name: string): string | undefined {
  let best: { name: string; distance: number } | undefined;
  for (const known of Object.keys(CONFIG_SCHEMA)) {
    const distance = editDistance(name, known);
    if (!best || distance < best.distance) best = { name: known, distance };
  }
  return best && best.distance <= 3 ? best.name : undefined;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, index) => index);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) current[j] = Math.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    previous = current;
  }
  return previous[b.length];
}

/** A config file's booleans and numbers as the strings the environment would carry. */
function asStrings(file: Record<string, unknown>): Env {
  return Object.fromEntries(Object.entries(file).map(([name, value]) => [name, String(value)]));
}

function definedOnly(env: Env): Env {
  return Object.fromEntries(Object.entries(env).filter(([, value]) => value !== undefined));
}

function readInteger(env: Env, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0) throw new ConfigError(`${name} must be a non-negative integer, got "${raw}"`);
  return value;
}

/** A whole number of hours, at least one (a grant of no hours would end as it began). */
function readHours(env: Env, name: string, fallback: number): number {
  const hours = readInteger(env, name, fallback);
  if (hours < 1) throw new ConfigError(`${name} must be at least 1 hour`);
  return hours;
}

/** A positive number of minutes, fractions allowed (0.05 = 3 s, for tests). */
function readMinutes(env: Env, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0) throw new ConfigError(`${name} must be a positive number of minutes, got "${raw}"`);
  return value;
}

function readPort(env: Env, name: string, fallback: number): number {
  const port = readInteger(env, name, fallback);
  if (port > 65535) throw new ConfigError(`${name} must be a TCP port (0-65535), got ${port}`);
  return port;
}

function readBoolean(env: Env, name: string, fallback: boolean): boolean {
  const raw = env[name]?.toLowerCase();
  if (raw === undefined || raw === '') return fallback;
  if (['1', 'true', 'yes', 'on'].includes(raw)) return true;
  if (['0', 'false', 'no', 'off'].includes(raw)) return false;
  throw new ConfigError(`${name} must be true or false, got "${env[name]}"`);
}

function readAeTitle(aeTitle: string): string {
  if (!/^[\x20-\x5b\x5d-\x7e]{1,16}$/.test(aeTitle) || aeTitle.trim() === '') {
    throw new ConfigError(`YUNYING_AE_TITLE must be 1-16 printable characters without backslash, got "${aeTitle}"`);
  }
  return aeTitle.trim();
}

function readPublicBaseUrl(raw: string | undefined, httpHost: string, httpPort: number): string {
  const base = (raw || `http://${httpHost.includes(':') ? `[${httpHost}]` : httpHost}:${httpPort}`).replace(/\/+$/, '');
  if (!/^https?:\/\/[^/?#\s]+(\/[^?#\s]*)?$/.test(base)) throw new ConfigError(`YUNYING_PUBLIC_BASE_URL must be an http(s) URL, got "${raw}"`);
  return base;
}

function readDicomTls(env: Env): Config['dicomTls'] {
  const certFile = env.YUNYING_DICOM_TLS_CERT_FILE || undefined;
  const keyFile = env.YUNYING_DICOM_TLS_KEY_FILE || undefined;
  const caFile = env.YUNYING_DICOM_TLS_CA_FILE || undefined;
  if (!certFile && !keyFile && !caFile) return undefined;
  if (!certFile || !keyFile) throw new ConfigError('YUNYING_DICOM_TLS_CERT_FILE and YUNYING_DICOM_TLS_KEY_FILE go together (YUNYING_DICOM_TLS_CA_FILE needs both)');
  return { certFile: path.resolve(certFile), keyFile: path.resolve(keyFile), ...(caFile ? { caFile: path.resolve(caFile) } : {}) };
}

function readBounded(env: Env, name: string, fallback: number, min: number, max: number): number {
  const value = readInteger(env, name, fallback);
  if (value < min || value > max) throw new ConfigError(`${name} must be between ${min} and ${max}, got ${value}`);
  return value;
}

function readTrustProxy(raw: string | undefined): string | string[] | undefined {
  if (!raw) return undefined;
  if (raw.includes(',')) return raw.split(',').map((entry) => entry.trim()).filter(Boolean);
  if (raw === 'true') throw new ConfigError('YUNYING_TRUST_PROXY=true would let any client forge its address; name the proxies (e.g. loopback or 10.0.0.5)');
  return raw;
}

function readTimeZone(zone: string): string {
  try {
    new Intl.DateTimeFormat('en', { timeZone: zone });
  } catch {
    throw new ConfigError(`YUNYING_TIME_ZONE must be an IANA time zone such as Asia/Shanghai, got "${zone}"`);
  }
  return zone;
}

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host.startsWith('127.');
}

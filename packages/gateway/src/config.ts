/**
 * The gateway's configuration: environment variables, optionally added to by a JSON file
 * named by YUNYING_GATEWAY_CONFIG holding the same names (the environment wins). Read and
 * validated once at start (design.md "Build, then listen"); every error names the variable.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';

export class GatewayConfigError extends Error {}

export interface DicomNodeConfig {
  aeTitle: string;
  host: string;
  port: number;
}

export interface GatewayConfig {
  dataDir: string;
  aeTitle: string;
  dicomHost: string;
  dicomPort: number;
  httpHost: string;
  httpPort: number;
  /** the cloud server's base URL, without a trailing slash */
  cloudUrl: string;
  username: string;
  password: string;
  /** bytes per second on the way to the cloud; 0 = no cap */
  maxBytesPerSecond: number;
  /** studies forwarded at the same time */
  concurrency: number;
  /** one STOW-RS request carries at most this many bytes / instances of one study */
  batchMaxBytes: number;
  batchMaxInstances: number;
  retryMinMs: number;
  retryMaxMs: number;
  /** a request silent this long is abandoned and retried */
  requestTimeoutMs: number;
  /** forwarded studies older than this are evicted from the cache; 0 = never by age */
  cacheMaxAgeSeconds: number;
  /** forwarded studies are evicted, oldest first, while the cache holds more; 0 = no limit */
  cacheMaxBytes: number;
  evictionIntervalMs: number;
  fsync: boolean;
  /** local viewers the cache may C-MOVE to */
  moveDestinations: DicomNodeConfig[];
  /** the hospital PACS imports query by default, if any */
  pacs?: DicomNodeConfig;
  logLevel: string;
}

type Source = Record<string, string | undefined>;

/** Every name the gateway reads; a file naming anything else is refused (a typo would otherwise be silent). */
export const GATEWAY_VARIABLES: ReadonlySet<string> = new Set(
  ['DATA_DIR', 'AE_TITLE', 'DICOM_HOST', 'DICOM_PORT', 'HTTP_HOST', 'HTTP_PORT', 'CLOUD_URL', 'USERNAME', 'PASSWORD', 'MAX_MBPS', 'CONCURRENCY', 'BATCH_BYTES', 'BATCH_INSTANCES', 'RETRY_MIN_MS', 'RETRY_MAX_MS', 'REQUEST_TIMEOUT_MS', 'CACHE_MAX_AGE_HOURS', 'CACHE_MAX_BYTES', 'EVICTION_INTERVAL_SECONDS', 'FSYNC', 'MOVE_DESTINATIONS', 'PACS', 'LOG_LEVEL'].map((n) => `YUNYING_GATEWAY_${n}`),
);

const LOG_LEVELS = new Set(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']);

/** Reads the configuration from the environment (and the file it names). Throws GatewayConfigError. */
export function loadGatewayConfig(env: Source = process.env): GatewayConfig {
  const source: Source = { ...readConfigFile(env.YUNYING_GATEWAY_CONFIG), ...definedOnly(env) };
  const errors: string[] = [];
  const get = (name: string): string | undefined => {
    const value = source[name];
    return value === undefined || value.trim() === '' ? undefined : value.trim();
  };
  const integer = (name: string, fallback: number, min: number, max: number): number => {
    const raw = get(name);
    if (raw === undefined) return fallback;
    if (!/^[0-9]+$/.test(raw) || Number(raw) < min || Number(raw) > max) {
      errors.push(`${name} must be an integer from ${min} to ${max} (got "${raw}")`);
      return fallback;
    }
    return Number(raw);
  };
  const decimal = (name: string, fallback: number): number => {
    const raw = get(name);
    if (raw === undefined) return fallback;
    if (!/^[0-9]+(\.[0-9]+)?$/.test(raw)) {
      errors.push(`${name} must be a non-negative number (got "${raw}")`);
      return fallback;
    }
    return Number(raw);
  };
  const bytes = (name: string, fallback: number): number => {
    const raw = get(name);
    if (raw === undefined) return fallback;
    const parsed = parseByteSize(raw);
    if (parsed === undefined) errors.push(`${name} must be a size such as 500000000, 500MB or 2GiB (got "${raw}")`);
    return parsed ?? fallback;
  };
  const aeTitle = (name: string, fallback: string): string => {
    const value = get(name) ?? fallback;
    if (!/^[\x21-\x5b\x5d-\x7e]([\x20-\x5b\x5d-\x7e]{0,14}[\x21-\x5b\x5d-\x7e])?$/.test(value)) errors.push(`${name} must be 1 to 16 printable ASCII characters without backslash (got "${value}")`);
    return value;
  };
  const nodes = (name: string): DicomNodeConfig[] => {
    const raw = get(name);
    if (raw === undefined) return [];
    const out: DicomNodeConfig[] = [];
    for (const item of raw.split(',').map((s) => s.trim()).filter(Boolean)) {
      const node = parseNode(item);
      if (!node) errors.push(`${name}: "${item}" is not AE_TITLE@host:port`);
      else out.push(node);
    }
    return out;
  };

  const cloudRaw = get('YUNYING_GATEWAY_CLOUD_URL');
  let cloudUrl = '';
  if (cloudRaw === undefined) errors.push('YUNYING_GATEWAY_CLOUD_URL is required: the cloud server\'s base URL, e.g. https://yunying.example.org');
  else {
    try {
      const url = new URL(cloudRaw);
      if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('scheme');
      if (url.username || url.password) errors.push('YUNYING_GATEWAY_CLOUD_URL must not carry credentials: use YUNYING_GATEWAY_USERNAME and YUNYING_GATEWAY_PASSWORD');
      cloudUrl = url.toString().replace(/\/+$/, '');
    } catch {
      errors.push(`YUNYING_GATEWAY_CLOUD_URL must be an http:// or https:// URL (got "${cloudRaw}")`);
    }
  }
  const username = get('YUNYING_GATEWAY_USERNAME') ?? '';
  if (!username) errors.push("YUNYING_GATEWAY_USERNAME is required: the gateway's account on the cloud (role gateway)");
  const password = source.YUNYING_GATEWAY_PASSWORD ?? '';
  if (!password) errors.push('YUNYING_GATEWAY_PASSWORD is required');

  const maxMbps = decimal('YUNYING_GATEWAY_MAX_MBPS', 0);
  const retryMinMs = integer('YUNYING_GATEWAY_RETRY_MIN_MS', 1000, 10, 3_600_000);
  const retryMaxMs = integer('YUNYING_GATEWAY_RETRY_MAX_MS', 300_000, 10, 86_400_000);
  if (retryMaxMs < retryMinMs) errors.push('YUNYING_GATEWAY_RETRY_MAX_MS must not be below YUNYING_GATEWAY_RETRY_MIN_MS');
  const fsyncRaw = (get('YUNYING_GATEWAY_FSYNC') ?? 'true').toLowerCase();
  if (!['true', 'false', '1', '0'].includes(fsyncRaw)) errors.push(`YUNYING_GATEWAY_FSYNC must be true or false (got "${fsyncRaw}")`);
  const logLevel = get('YUNYING_GATEWAY_LOG_LEVEL') ?? 'info';
  if (!LOG_LEVELS.has(logLevel)) errors.push(`YUNYING_GATEWAY_LOG_LEVEL must be one of ${[...LOG_LEVELS].join(', ')}`);
  const pacs = nodes('YUNYING_GATEWAY_PACS');
  if (pacs.length > 1) errors.push('YUNYING_GATEWAY_PACS names one PACS');

  const config: GatewayConfig = {
    dataDir: path.resolve(get('YUNYING_GATEWAY_DATA_DIR') ?? './gateway-data'),
    aeTitle: aeTitle('YUNYING_GATEWAY_AE_TITLE', 'YUNYING_GW'),
    dicomHost: get('YUNYING_GATEWAY_DICOM_HOST') ?? '0.0.0.0',
    dicomPort: integer('YUNYING_GATEWAY_DICOM_PORT', 11113, 0, 65535),
    httpHost: get('YUNYING_GATEWAY_HTTP_HOST') ?? '127.0.0.1',
    httpPort: integer('YUNYING_GATEWAY_HTTP_PORT', 8081, 0, 65535),
    cloudUrl,
    username,
    password,
    maxBytesPerSecond: Math.round((maxMbps * 1_000_000) / 8),
    concurrency: integer('YUNYING_GATEWAY_CONCURRENCY', 2, 1, 64),
    batchMaxBytes: bytes('YUNYING_GATEWAY_BATCH_BYTES', 8 * 1024 * 1024),
    batchMaxInstances: integer('YUNYING_GATEWAY_BATCH_INSTANCES', 100, 1, 10_000),
    retryMinMs,
    retryMaxMs,
    requestTimeoutMs: integer('YUNYING_GATEWAY_REQUEST_TIMEOUT_MS', 120_000, 100, 3_600_000),
    cacheMaxAgeSeconds: Math.round(decimal('YUNYING_GATEWAY_CACHE_MAX_AGE_HOURS', 7 * 24) * 3600),
    cacheMaxBytes: bytes('YUNYING_GATEWAY_CACHE_MAX_BYTES', 0),
    evictionIntervalMs: integer('YUNYING_GATEWAY_EVICTION_INTERVAL_SECONDS', 60, 1, 86_400) * 1000,
    fsync: fsyncRaw === 'true' || fsyncRaw === '1',
    moveDestinations: nodes('YUNYING_GATEWAY_MOVE_DESTINATIONS'),
    pacs: pacs[0],
    logLevel,
  };
  if (config.batchMaxBytes < 1) errors.push('YUNYING_GATEWAY_BATCH_BYTES must be positive');
  if (errors.length > 0) throw new GatewayConfigError(`invalid configuration:\n  ${errors.join('\n  ')}`);
  return config;
}

function definedOnly(env: Source): Source {
  const out: Source = {};
  for (const [key, value] of Object.entries(env)) if (key.startsWith('YUNYING_GATEWAY_') && value !== undefined) out[key] = value;
  return out;
}

function readConfigFile(file: string | undefined): Source {
  if (!file) return {};
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new GatewayConfigError(`YUNYING_GATEWAY_CONFIG: cannot read ${file}: ${(error as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new GatewayConfigError(`YUNYING_GATEWAY_CONFIG: ${file} is not JSON: ${(error as Error).message}`);
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new GatewayConfigError(`YUNYING_GATEWAY_CONFIG: ${file} must hold one JSON object of YUNYING_GATEWAY_* names`);
  const out: Source = {};
  for (const [key, value] of Object.entries(parsed)) {
    if (!GATEWAY_VARIABLES.has(key)) throw new GatewayConfigError(`YUNYING_GATEWAY_CONFIG: unknown name ${key} in ${file}`);
    if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') throw new GatewayConfigError(`YUNYING_GATEWAY_CONFIG: ${key} must be a string, number or boolean`);
    out[key] = String(value);
  }
  return out;
}

const UNITS: Record<string, number> = { '': 1, B: 1, KB: 1e3, MB: 1e6, GB: 1e9, TB: 1e12, KIB: 1024, MIB: 1024 ** 2, GIB: 1024 ** 3, TIB: 1024 ** 4 };

/** "500000000", "500MB", "2GiB" → bytes. */
export function parseByteSize(raw: string): number | undefined {
  const match = /^([0-9]+(?:\.[0-9]+)?)\s*([a-zA-Z]*)$/.exec(raw.trim());
  if (!match) return undefined;
  const unit = UNITS[match[2]!.toUpperCase()];
  if (unit === undefined) return undefined;
  return Math.round(Number(match[1]) * unit);
}

/** "AE@host:port" */
export function parseNode(text: string): DicomNodeConfig | undefined {
  const match = /^([^@\\]{1,16})@([^:@]+):([0-9]{1,5})$/.exec(text.trim());
  if (!match || Number(match[3]) > 65535 || Number(match[3]) < 1) return undefined;
  return { aeTitle: match[1]!, host: match[2]!, port: Number(match[3]) };
}

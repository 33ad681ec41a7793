/**
 * Test support: the gateway as a real process (`npx yunying-gateway`, i.e. the package's
 * bin), and the cloud server as a real process with a township and a gateway account.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { TEST_ADMIN_PASSWORD } from '@yunying/testing/admin-auth';
import { findFreePort } from '@yunying/testing/ports';
import { startServerProcess, type ServerProcess } from '@yunying/testing/server-process';

const BIN = fileURLToPath(new URL('../../bin/yunying-gateway.js', import.meta.url));

export const GATEWAY_USER = 'gw-t1';
export const GATEWAY_PASSWORD = 'Gateway-Passw0rd-1';
export const TOWNSHIP_ID = 'ks-t1';
export const ADMIN_BASIC = `Basic ${Buffer.from(`admin:${TEST_ADMIN_PASSWORD}`).toString('base64')}`;

export interface GatewayProcess {
  child: ChildProcess;
  dicomPort: number;
  httpPort: number;
  statusUrl: string;
  status(): Promise<GatewayStatusJson>;
  output(): string;
  kill(): Promise<void>;
  stop(): Promise<void>;
}

export interface GatewayStatusJson {
  queued: number;
  sent: number;
  failed: number;
  lastError: { message: string } | null;
  oldestWaiting: { studyInstanceUid: string } | null;
  cloud: { reachable: boolean | null };
  throughput: { sentInstances: number; megabitsPerSecond: number };
  cache: { studies: number; instances: number; bytes: number };
  imports: Array<{ id: string; state: string; forwarded: number; studies: Array<{ completed: number; state: string }> }>;
  [key: string]: unknown;
}

export interface GatewayPorts {
  dicomPort: number;
  httpPort: number;
}

export async function freeGatewayPorts(): Promise<GatewayPorts> {
  return { dicomPort: await findFreePort(), httpPort: await findFreePort() };
}

/** Starts the gateway's bin as a process and resolves once it listens. */
export async function startGatewayProcess(dataDir: string, cloudUrl: string, ports: GatewayPorts, env: Record<string, string> = {}): Promise<GatewayProcess> {
  const child = spawn(process.execPath, [BIN], {
    env: {
      ...process.env,
      YUNYING_GATEWAY_DATA_DIR: dataDir,
      YUNYING_GATEWAY_DICOM_HOST: '127.0.0.1',
      YUNYING_GATEWAY_DICOM_PORT: String(ports.dicomPort),
      YUNYING_GATEWAY_HTTP_PORT: String(ports.httpPort),
      YUNYING_GATEWAY_CLOUD_URL: cloudUrl,
      YUNYING_GATEWAY_USERNAME: GATEWAY_USER,
      YUNYING_GATEWAY_PASSWORD: GATEWAY_PASSWORD,
      YUNYING_GATEWAY_FSYNC: 'false',
      YUNYING_GATEWAY_RETRY_MIN_MS: '200',
      YUNYING_GATEWAY_RETRY_MAX_MS: '1000',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  await new Promise<void>((resolve, reject) => {
    child.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('yunying-gateway started')) resolve();
    });
    child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('exit', (code, signal) => reject(new Error(`gateway exited (${code ?? signal}) before it was ready:\n${output}`)));
  });
  const exited = once(child, 'exit');
  const statusUrl = `http://127.0.0.1:${ports.httpPort}/status`;
  return {
    child,
    ...ports,
    statusUrl,
    async status() {
      const response = await fetch(statusUrl);
      if (response.status !== 200) throw new Error(`status answered ${response.status}`);
      return (await response.json()) as GatewayStatusJson;
    },
    output: () => output,
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

/** Polls `check` until it returns a value (not undefined) or the deadline passes. */
export async function waitUntil<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? ` (last error: ${(last as Error).message})` : ''}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** The cloud server process (fsync off for speed; process-crash durability holds). */
export function startCloud(dataDir: string, ports?: { httpPort: number; dicomPort: number }): Promise<ServerProcess> {
  return startServerProcess(dataDir, { YUNYING_FSYNC: 'false' }, ports);
}

/** Writes Part 10 files into a fresh directory of their own (for storescu +sd). */
export async function writeInstanceFiles(dir: string, instances: readonly { sopInstanceUid: string; bytes: Buffer }[]): Promise<string> {
  await mkdir(dir, { recursive: true });
  let i = 0;
  for (const instance of instances) await writeFile(path.join(dir, `i${String(++i).padStart(5, '0')}.dcm`), instance.bytes);
  return dir;
}

async function api(baseUrl: string, method: string, path: string, token: string | undefined, body?: unknown): Promise<{ status: number; json: unknown }> {
  const response = await fetch(`${baseUrl}${path}`, {
    method,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  let json: unknown = text;
  try {
    json = JSON.parse(text);
  } catch {
    // not JSON
  }
  return { status: response.status, json };
}

/** On the cloud: the township and the gateway's account (role gateway) registered to it, through the REST API. */
export async function provisionGatewayAccount(baseUrl: string): Promise<void> {
  const login = await api(baseUrl, 'POST', '/api/v1/auth/login', undefined, { username: 'admin', password: TEST_ADMIN_PASSWORD });
  if (login.status !== 200) throw new Error(`admin login failed: ${JSON.stringify(login.json)}`);
  const token = (login.json as { token: string }).token;
  for (const institution of [
    { id: 'ks-county', name: '昆山市第一人民医院', tier: 'county', grade: 3 },
    { id: TOWNSHIP_ID, name: '周市镇卫生院', tier: 'township', grade: 1, parentId: 'ks-county' },
  ]) {
    const created = await api(baseUrl, 'POST', '/api/v1/institutions', token, institution);
    if (created.status !== 201) throw new Error(`institution: ${created.status} ${JSON.stringify(created.json)}`);
  }
  const user = await api(baseUrl, 'POST', '/api/v1/users', token, { username: GATEWAY_USER, password: GATEWAY_PASSWORD, role: 'gateway', institutionId: TOWNSHIP_ID });
  if (user.status !== 201) throw new Error(`user: ${user.status} ${JSON.stringify(user.json)}`);
}

/** SOP Instance UIDs the cloud holds for a study (QIDO-RS as the administrator). */
export async function cloudInstanceUids(baseUrl: string, studyInstanceUid: string): Promise<string[]> {
  const response = await fetch(`${baseUrl}/dicom-web/studies/${studyInstanceUid}/instances?limit=100000`, { headers: { authorization: ADMIN_BASIC, accept: 'application/dicom+json' } });
  if (response.status === 204) return [];
  if (response.status !== 200) throw new Error(`QIDO answered ${response.status}: ${await response.text()}`);
  const body = (await response.json()) as Array<Record<string, { Value?: string[] }>>;
  return body.map((item) => item['00080018']!.Value![0]!);
}

/** The object the cloud stores (WADO-URI, application/dicom), as the administrator. */
export async function cloudInstanceBytes(baseUrl: string, ids: { studyInstanceUid: string; seriesInstanceUid: string; sopInstanceUid: string }): Promise<Buffer> {
  const url = `${baseUrl}/wado?requestType=WADO&studyUID=${ids.studyInstanceUid}&seriesUID=${ids.seriesInstanceUid}&objectUID=${ids.sopInstanceUid}&contentType=application%2Fdicom`;
  const response = await fetch(url, { headers: { authorization: ADMIN_BASIC } });
  if (response.status !== 200) throw new Error(`WADO-URI answered ${response.status}`);
  return Buffer.from(await response.arrayBuffer());
}

import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { TEST_ADMIN_PASSWORD, TEST_PASSWORD_HASH_COST_LOG2 } from './admin-auth.ts';
import { findFreePort } from './ports.ts';

/** what `npm start` runs: it sizes libuv's thread pool, then loads main.ts */
// by its path, not an import: this package imports no server code
const LAUNCHER = fileURLToPath(new URL('../../server/bin/yunying-server.cjs', import.meta.url));

export interface ServerProcess {
  child: ChildProcess;
  httpPort: number;
  dicomPort: number;
  baseUrl: string;
  /** output so far, for failure messages */
  output(): string;
  /** SIGKILL and wait for the exit */
  kill(): Promise<void>;
  /** SIGTERM and wait for the exit */
  stop(): Promise<void>;
}

export interface ServerProcessOptions {
  /** flags for node before the launcher, e.g. ['--max-old-space-size=256'] */
  nodeArgs?: readonly string[];
}

/** Starts the server as a real process, as `npm start` does, and resolves once it listens. */
export async function startServerProcess(dataDir: string, env: Record<string, string> = {}, ports?: { httpPort: number; dicomPort: number }, options: ServerProcessOptions = {}): Promise<ServerProcess> {
  const httpPort = ports?.httpPort ?? (await findFreePort());
  const dicomPort = ports?.dicomPort ?? (await findFreePort());
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), LAUNCHER], {
    env: { ...process.env, YUNYING_DATA_DIR: dataDir, YUNYING_HTTP_PORT: String(httpPort), YUNYING_DICOM_PORT: String(dicomPort), YUNYING_LOG_LEVEL: 'info', YUNYING_ADMIN_PASSWORD: TEST_ADMIN_PASSWORD, YUNYING_PASSWORD_HASH_COST_LOG2: TEST_PASSWORD_HASH_COST_LOG2, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const ready = new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('yunying started')) resolve();
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('exit', (code, signal) => reject(new Error(`server exited (${code ?? signal}) before it was ready:\n${output}`)));
  });
  // A server that never says it started (a log level above info, a hang) fails the test instead of stalling it.
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`server did not start within 60 s (it must log at info to be seen starting):\n${output}`)), 60_000);
  });
  try {
    await Promise.race([ready, timeout]);
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  } finally {
    clearTimeout(timer);
  }
  const exited = once(child, 'exit');
  return {
    child,
    httpPort,
    dicomPort,
    baseUrl: `http://127.0.0.1:${httpPort}`,
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

import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const BIN = fileURLToPath(new URL('../../bin/yunying.js', import.meta.url));

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs the real `yunying …` console tool on a data directory; `stdin` is written and closed.
 * Only the test's configuration reaches it: no YUNYING_* of the surrounding shell (a
 * database URL, say), then `env` on top.
 */
export function runYunyingCli(dataDir: string, args: string[], stdin = '', env: Record<string, string> = {}): Promise<CliResult> {
  const childEnv: Record<string, string> = {};
  for (const [name, value] of Object.entries(process.env)) if (!name.startsWith('YUNYING_') && value !== undefined) childEnv[name] = value;
  Object.assign(childEnv, { YUNYING_DATA_DIR: dataDir, YUNYING_LOG_LEVEL: 'silent' }, env);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: childEnv, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(stdin);
  });
}

/** Helpers for the DIMSE socket tests: spawn dcmtk tools, find free ports, wait for listeners. */
import { spawn } from 'node:child_process';
import { connect } from 'node:net';

/** pino-compatible, as @yunying/dimse's DimseLogger (structural: this package depends on none of ours) */
export interface TestLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
  debug(obj: object, msg?: string): void;
}

export interface ToolResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion (no shell). */
export function runTool(command: string, args: string[], timeoutMs = 60_000): Promise<ToolResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** A port that was free a moment ago (listen on 0, close). */
export { findFreePort as freePort } from './ports.ts';

/** Resolves once something accepts TCP connections on the port (retries on each refusal). */
export function waitForListener(port: number, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const attempt = (): void => {
      const socket = connect({ host: '127.0.0.1', port });
      socket.once('connect', () => {
        socket.destroy();
        resolve();
      });
      socket.once('error', () => {
        socket.destroy();
        if (Date.now() > deadline) reject(new Error(`nothing listens on ${port}`));
        else setImmediate(attempt);
      });
    };
    attempt();
  });
}

export interface SpawnedProcess {
  stop(): Promise<void>;
  output(): string;
}

/** Starts a long-running tool (storescp) and returns once its port accepts connections. */
export async function startListeningTool(command: string, args: string[], port: number): Promise<SpawnedProcess> {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await Promise.race([
    waitForListener(port),
    exited.then(() => {
      throw new Error(`${command} exited early: ${out}`);
    }),
  ]);
  return {
    output: () => out,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        await exited;
      }
    },
  };
}

/** Collects log lines; handy to assert on and to print when a test fails. */
export function memoryLogger(): TestLogger & { lines: { level: string; obj: object; msg?: string }[] } {
  const lines: { level: string; obj: object; msg?: string }[] = [];
  const at = (level: string) => (obj: object, msg?: string): void => {
    lines.push({ level, obj, msg });
    if (process.env.DIMSE_TEST_LOG) console.log(level, msg, JSON.stringify(obj));
  };
  return { lines, info: at('info'), warn: at('warn'), error: at('error'), debug: at('debug') };
}

/**
 * A storescu/getscu association profile (`-xf file PROFILE`) proposing one presentation
 * context per (SOP class, transfer syntax), so dcmtk sends each file in its own syntax.
 */
export function storescuConfig(pairs: { sopClassUid: string; transferSyntaxUid: string }[]): string {
  const syntaxes = [...new Set(pairs.map((p) => p.transferSyntaxUid))];
  const unique = [...new Map(pairs.map((p) => [`${p.sopClassUid}|${p.transferSyntaxUid}`, p])).values()];
  const lines = ['[[TransferSyntaxes]]'];
  syntaxes.forEach((ts, i) => lines.push(`[TS${i}]`, `TransferSyntax1 = ${ts}`));
  lines.push('[[PresentationContexts]]', '[PCS]');
  unique.forEach((p, i) => lines.push(`PresentationContext${i + 1} = ${p.sopClassUid}\\TS${syntaxes.indexOf(p.transferSyntaxUid)}`));
  lines.push('[[Profiles]]', '[PROFILE]', 'PresentationContexts = PCS', '');
  return lines.join('\n');
}

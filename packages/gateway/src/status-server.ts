/**
 * The local status page (127.0.0.1 only by default; no authentication, like a router's
 * console on loopback): GET /status as JSON, GET / a small human page (简体中文 with
 * English), and the import API: POST /api/imports, GET /api/imports[/{id}],
 * POST /api/queue/retry-failed.
 */
import http from 'node:http';
import { ImportError, type PacsImporter } from './pacs-import.ts';

export interface StatusSource {
  status(): Promise<GatewayStatus>;
  importer: PacsImporter;
  retryFailed(): Promise<number>;
}

export interface GatewayStatus {
  aeTitle: string;
  dicomPort: number;
  queued: number;
  queuedBytes: number;
  failed: number;
  sent: number;
  studiesWaiting: number;
  oldestWaiting: unknown;
  lastError: { message: string; at: string; studyInstanceUid?: string } | null;
  throughput: { instancesPerSecond: number; megabitsPerSecond: number; bytesPerSecond: number; sentInstances: number; sentBytes: number; windowSeconds: number; wireBytes: number };
  cloud: { url: string; reachable: boolean | null; lastContactAt: string | null; lastFailureAt: string | null };
  cache: { studies: number; instances: number; bytes: number; maxBytes: number | null; maxAgeHours: number | null; evictedStudies: number; evictedBytes: number };
  imports: unknown[];
  [key: string]: unknown;
}

export async function startStatusServer(source: StatusSource, host: string, port: number): Promise<{ port: number; close(): Promise<void> }> {
  const server = http.createServer((request, response) => {
    handle(source, request, response).catch((error: unknown) => sendError(response, 'INTERNAL_ERROR', (error as Error).message));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  return {
    port: typeof address === 'object' && address ? address.port : port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/**
 * The gateway's error codes: a subset of the server's error catalog (docs/errors.md), same
 * names and statuses, kept here because the gateway does not depend on the server.
 */
const GATEWAY_ERRORS = { BAD_REQUEST: 400, NOT_FOUND: 404, INTERNAL_ERROR: 500 } as const;

function sendError(response: http.ServerResponse, code: keyof typeof GATEWAY_ERRORS, message: string): void {
  send(response, GATEWAY_ERRORS[code], { code, message });
}

function send(response: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body, null, 2);
  response.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
  response.end(text);
}

async function readJson(request: http.IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > 64 * 1024) throw new ImportError('body too large');
    chunks.push(chunk as Buffer);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}');
  } catch {
    throw new ImportError('the body must be JSON');
  }
}

async function handle(source: StatusSource, request: http.IncomingMessage, response: http.ServerResponse): Promise<void> {
  const url = new URL(request.url ?? '/', 'http://gateway');
  const route = `${request.method} ${url.pathname}`;
  if (route === 'GET /status') return send(response, 200, await source.status());
  if (route === 'GET /') {
    response.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
    response.end(renderPage(await source.status()));
    return;
  }
  if (route === 'GET /api/imports') return send(response, 200, await Promise.all(source.importer.list().map((job) => source.importer.describe(job))));
  if (route === 'POST /api/imports') {
    try {
      const body = (await readJson(request)) as { pacs?: { aeTitle: string; host: string; port: number }; query?: Record<string, string> };
      const job = source.importer.start({ pacs: body.pacs, query: body.query ?? {} });
      return send(response, 202, job);
    } catch (error) {
      if (error instanceof ImportError) return sendError(response, 'BAD_REQUEST', error.message);
      throw error;
    }
  }
  const importMatch = /^\/api\/imports\/([0-9a-f-]{36})$/.exec(url.pathname);
  if (request.method === 'GET' && importMatch) {
    const job = source.importer.get(importMatch[1]!);
    return job ? send(response, 200, await source.importer.describe(job)) : sendError(response, 'NOT_FOUND', 'no such import');
  }
  if (route === 'POST /api/queue/retry-failed') return send(response, 200, { requeued: await source.retryFailed() });
  return sendError(response, 'NOT_FOUND', 'no such resource');
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

function megabytes(bytes: number): string {
  return `${(bytes / 1e6).toFixed(1)} MB`;
}

function renderPage(s: GatewayStatus): string {
  const reachable = s.cloud.reachable === null ? '未知 unknown' : s.cloud.reachable ? '在线 reachable' : '离线 unreachable';
  const oldest = s.oldestWaiting as { studyInstanceUid: string; waitingSeconds: number; attempts: number } | undefined;
  const rows: Array<[string, string]> = [
    ['云端 Cloud', `${escapeHtml(s.cloud.url)} — ${reachable}`],
    ['待上传 Queued', `${s.queued} 个实例 instances (${megabytes(s.queuedBytes)}), ${s.studiesWaiting} 个检查 studies`],
    ['最早等待 Oldest waiting', oldest ? `${escapeHtml(oldest.studyInstanceUid)} — ${oldest.waitingSeconds} s, ${oldest.attempts} 次尝试 attempts` : '无 none'],
    ['已上传 Forwarded', `${s.sent} 个实例 instances`],
    ['失败 Failed', `${s.failed}`],
    ['速率 Throughput', `${s.throughput.megabitsPerSecond} Mbit/s, ${s.throughput.instancesPerSecond} 实例/秒 instances/s`],
    ['最近错误 Last error', s.lastError ? `${escapeHtml(s.lastError.at)} ${escapeHtml(s.lastError.message)}` : '无 none'],
    ['本地缓存 Local cache', `${s.cache.studies} 个检查 studies, ${s.cache.instances} 个实例 instances, ${megabytes(s.cache.bytes)}`],
    ['DICOM', `${escapeHtml(s.aeTitle)} : ${s.dicomPort}`],
  ];
  const imports = (s.imports as Array<{ id: string; pacs: { aeTitle: string }; state: string; studies: Array<{ completed: number; expectedInstances?: number }>; forwarded: number }>).map((job) => {
    const moved = job.studies.reduce((n, st) => n + st.completed, 0);
    const expected = job.studies.reduce((n, st) => n + (st.expectedInstances ?? 0), 0);
    return `<tr><td>${escapeHtml(job.pacs.aeTitle)}</td><td>${escapeHtml(job.state)}</td><td>${job.studies.length}</td><td>${moved}${expected ? ` / ${expected}` : ''}</td><td>${job.forwarded}</td></tr>`;
  });
  return `<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><meta http-equiv="refresh" content="5">
<title>云影前置机 Yunying edge gateway</title>
<style>body{font-family:system-ui,"Noto Sans SC",sans-serif;margin:2em;color:#222}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left}th{background:#f4f4f4}.down{color:#b00}</style>
</head><body>
<h1>云影前置机 <small>Yunying edge gateway</small></h1>
<table>${rows.map(([k, v]) => `<tr><th>${k}</th><td${k.startsWith('云端') && s.cloud.reachable === false ? ' class="down"' : ''}>${v}</td></tr>`).join('')}</table>
<h2>PACS 导入 <small>PACS imports</small></h2>
${imports.length ? `<table><tr><th>PACS</th><th>状态 state</th><th>检查 studies</th><th>已接收 received</th><th>已上传 forwarded</th></tr>${imports.join('')}</table>` : '<p>无 none</p>'}
<p><a href="/status">/status</a> (JSON)</p>
</body></html>`;
}

/**
 * Test support for the DICOMweb tests (not a test file itself): an app over a real
 * archive in a temporary directory, sample files, a multipart reader and an
 * XMLHttpRequest shim over fetch so dicomweb-client runs in Node.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { openArchive, type Archive } from '../archive/archive.ts';
import { systemCaller, type Caller } from '../access/caller.ts';
import { unauthorized } from '../errors.ts';
import { registerDicomWeb } from './index.ts';
import { parseMediaType } from './media-types.ts';
import { readSample } from '@yunying/testing/samples';
import { splitMultipart } from '@yunying/dicom';

/** A shared DICOM sample (found by @yunying/testing/samples, which names a missing file). */
export const sample = async (relative: string): Promise<Buffer> => readSample(relative);

export const TEST_USER = 'dicomweb';
export const TEST_PASSWORD = 'secret';
export const BASIC_AUTH = `Basic ${Buffer.from(`${TEST_USER}:${TEST_PASSWORD}`).toString('base64')}`;

export interface TestApp {
  app: FastifyInstance;
  archive: Archive;
  close(): Promise<void>;
}

/** Fastify + registerDicomWeb over a fresh archive (SQLite, or the PostgreSQL database given); HTTP Basic dicomweb:secret is the only credential. */
export async function createTestApp(options: { caller?: Caller; databaseUrl?: string } = {}): Promise<TestApp> {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'yunying-dicomweb-'));
  const archive = await openArchive({ dataDir, fsync: false, databaseUrl: options.databaseUrl });
  const app = Fastify({ logger: false });
  await registerDicomWeb(app, {
    archive,
    stagingDirectory: archive.blobs.stagingDirectory,
    async resolveCaller(request) {
      // A stand-in authenticator with a code of its own: dicomweb.test.ts pins that DICOMweb
      // answers 401 with the code its resolver's error carries. The server's resolvers
      // (access/http-caller.ts) throw the catalog's UNAUTHORIZED.
      if (request.headers.authorization !== BASIC_AUTH) throw Object.assign(unauthorized(), { code: 'UNAUTHENTICATED' });
      return options.caller ?? systemCaller('dicomweb-test');
    },
  });
  await app.ready();
  return {
    app,
    archive,
    async close() {
      await app.close();
      await archive.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** A STOW-RS body the way dicomweb-client writes it (leading CRLF, quoted boundary). */
export function stowBody(files: readonly Uint8Array[], boundary = 'test-boundary-42'): { payload: Buffer; contentType: string } {
  const chunks: Buffer[] = [];
  for (const f of files) chunks.push(Buffer.from(`\r\n--${boundary}\r\nContent-Type: application/dicom\r\n\r\n`), Buffer.from(f));
  chunks.push(Buffer.from(`\r\n--${boundary}--`));
  return { payload: Buffer.concat(chunks), contentType: `multipart/related; type="application/dicom"; boundary="${boundary}"` };
}

/** The parts of a multipart response, each body a Buffer view into `body`. */
export function readMultipart(contentType: string | undefined, body: Buffer): Array<{ headers: Record<string, string>; body: Buffer }> {
  if (!contentType) throw new Error('no content type');
  const media = parseMediaType(contentType);
  if (media.type !== 'multipart/related') throw new Error(`not multipart: ${contentType}`);
  return splitMultipart(body, media.params.boundary!).map((part) => ({ headers: part.headers, body: Buffer.from(part.body.buffer, part.body.byteOffset, part.body.byteLength) }));
}

/** Minimal XMLHttpRequest over fetch: what dicomweb-client uses. */
export class FetchXMLHttpRequest {
  readyState = 0;
  status = 0;
  response: unknown = null;
  responseType = '';
  withCredentials = false;
  onreadystatechange: (() => void) | null = null;
  onloadstart: (() => void) | null = null;
  onloadend: (() => void) | null = null;
  onprogress: (() => void) | null = null;
  private method = 'GET';
  private url = '';
  private readonly requestHeaders: Record<string, string> = {};
  private responseHeaders = new Headers();

  open(method: string, url: string): void {
    this.method = method.toUpperCase();
    this.url = url;
    this.readyState = 1;
  }

  setRequestHeader(name: string, value: string): void {
    this.requestHeaders[name] = value;
  }

  getResponseHeader(name: string): string | null {
    return this.responseHeaders.get(name);
  }

  getAllResponseHeaders(): string {
    let text = '';
    this.responseHeaders.forEach((value, name) => {
      text += `${name}: ${value}\r\n`;
    });
    return text;
  }

  send(data?: ArrayBuffer | Uint8Array | string): void {
    this.onloadstart?.();
    const body = data instanceof ArrayBuffer ? new Uint8Array(data) : data;
    fetch(this.url, { method: this.method, headers: this.requestHeaders, body })
      .then(async (res) => {
        this.status = res.status;
        this.responseHeaders = res.headers;
        const bytes = await res.arrayBuffer();
        if (this.responseType === 'arraybuffer') this.response = bytes;
        else {
          const text = new TextDecoder().decode(bytes);
          if (this.responseType === 'json') {
            try {
              this.response = text ? JSON.parse(text) : null;
            } catch {
              this.response = null;
            }
          } else this.response = text;
        }
      })
      .catch(() => {
        this.status = 0;
      })
      .finally(() => {
        this.readyState = 4;
        this.onreadystatechange?.();
        this.onloadend?.();
      });
  }
}

/**
 * STOW-RS to the cloud: POST {cloud}/dicom-web/studies, multipart/related;
 * type="application/dicom", HTTP Basic with the gateway's account. The body is written in
 * chunks through the bandwidth cap, with the socket's backpressure respected; the stored
 * Part 10 bytes go out unchanged (no transcoding: see ../DESIGN.md).
 */
import http from 'node:http';
import https from 'node:https';
import { multipartContentType, multipartPieces, newBoundary } from '@yunying/dicom';
import type { TokenBucket } from './token-bucket.ts';

const CHUNK = 64 * 1024;

export interface StowTarget {
  cloudUrl: string;
  username: string;
  password: string;
  timeoutMs: number;
  agent?: http.Agent;
  bucket?: TokenBucket;
  /** told of every chunk written, for throughput */
  onBytes?: (bytes: number) => void;
}

/** The per-instance answer of the cloud. */
export type InstanceOutcome = { kind: 'ok'; warning?: number } | { kind: 'failed'; reason: number; permanent: boolean };

export interface StowResult {
  httpStatus: number;
  outcomes: Map<string, InstanceOutcome>;
}

/** Thrown when the cloud could not be reached or did not answer (network, timeout, 5xx, 401…). */
export class ForwardError extends Error {
  readonly transport: boolean;
  readonly httpStatus?: number;
  constructor(
    message: string,
    /** the cloud is unreachable (rather than answering with an error) */
    transport: boolean,
    httpStatus?: number,
  ) {
    super(message);
    this.transport = transport;
    this.httpStatus = httpStatus;
  }
}

/** Failure reasons worth retrying: the cloud's trouble, not the object's (PS3.4 status classes A7xx, 0110, 0124 transient). */
function isTransientFailure(reason: number): boolean {
  return (reason & 0xff00) === 0xa700 || reason === 0x0110;
}

export async function stowInstances(target: StowTarget, instances: readonly Buffer[]): Promise<StowResult> {
  return startStow(target, instances).result;
}

/** A STOW-RS request under way: its body fully written to the socket, then the cloud's answer. */
export interface StowRequest {
  /** resolves once the last body byte is written (also when the request fails: never rejects) */
  bodySent: Promise<void>;
  result: Promise<StowResult>;
}

/**
 * Starts one STOW-RS request. `bodySent` lets the caller start the next request of the
 * same study while this one's answer is pending: the bytes on the wire stay in order.
 */
export function startStow(target: StowTarget, instances: readonly Buffer[]): StowRequest {
  const boundary = newBoundary('yunying-gw');
  // the stored bytes themselves go out as the parts' bodies (no copy)
  const pieces = multipartPieces(boundary, instances.map((body) => ({ contentType: 'application/dicom', body })), { contentLength: false });
  const length = pieces.reduce((n, p) => n + p.length, 0);

  const url = new URL(`${target.cloudUrl}/dicom-web/studies`);
  const transport = url.protocol === 'https:' ? https : http;
  const auth = `Basic ${Buffer.from(`${target.username}:${target.password}`).toString('base64')}`;

  let bodyDone: () => void = () => undefined;
  const bodySent = new Promise<void>((resolve) => (bodyDone = resolve));
  const result = new Promise<StowResult>((resolve, reject) => {
    let settled = false;
    const fail = (error: ForwardError) => {
      bodyDone();
      if (settled) return;
      settled = true;
      request.destroy();
      reject(error);
    };
    const request = transport.request(url, {
      method: 'POST',
      agent: target.agent,
      headers: { 'content-type': multipartContentType(boundary, 'application/dicom'), 'content-length': String(length), accept: 'application/dicom+json', authorization: auth },
    });
    request.setTimeout(target.timeoutMs, () => fail(new ForwardError(`no answer from the cloud within ${target.timeoutMs} ms`, true)));
    request.on('error', (error) => fail(new ForwardError(`cloud unreachable: ${error.message}`, true)));
    request.on('response', (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (c: Buffer) => chunks.push(c));
      response.on('error', (error) => fail(new ForwardError(`cloud answer broken off: ${error.message}`, true)));
      response.on('end', () => {
        if (settled) return;
        const status = response.statusCode ?? 0;
        const text = Buffer.concat(chunks).toString('utf8');
        if (status === 200 || status === 202 || status === 409) {
          try {
            settled = true;
            resolve({ httpStatus: status, outcomes: parseStowResponse(text) });
          } catch (error) {
            settled = false;
            fail(new ForwardError(`cloud answered ${status} with an unreadable body: ${(error as Error).message}`, false, status));
          }
          return;
        }
        const detail = text.slice(0, 200).replace(/\s+/g, ' ');
        // 502/503/504 are the proxy's or the cloud's trouble: as good as unreachable.
        fail(new ForwardError(`cloud answered ${status}: ${detail}`, status >= 502 && status <= 504, status));
      });
    });
    void writeBody(request, pieces, target).then(
      () => request.end(() => bodyDone()),
      (error: unknown) => fail(new ForwardError(`sending to the cloud failed: ${(error as Error).message}`, true)),
    );
  });
  result.then(bodyDone, bodyDone);
  return { bodySent, result };
}

async function writeBody(request: http.ClientRequest, pieces: readonly Uint8Array[], target: StowTarget): Promise<void> {
  for (const piece of pieces) {
    for (let at = 0; at < piece.length; at += CHUNK) {
      const chunk = piece.subarray(at, Math.min(piece.length, at + CHUNK));
      if (target.bucket) await target.bucket.take(chunk.length);
      if (request.destroyed) throw new Error('request closed');
      target.onBytes?.(chunk.length);
      if (!request.write(chunk)) {
        await new Promise<void>((resolve, reject) => {
          const onDrain = () => {
            request.off('close', onClose);
            resolve();
          };
          const onClose = () => {
            request.off('drain', onDrain);
            reject(new Error('request closed'));
          };
          request.once('drain', onDrain);
          request.once('close', onClose);
        });
      }
    }
  }
}

interface DicomJsonElement {
  vr?: string;
  Value?: unknown[];
}

/** The STOW-RS response (PS3.18 10.5.3): referenced and failed SOP sequences. */
export function parseStowResponse(text: string): Map<string, InstanceOutcome> {
  const body = JSON.parse(text) as Record<string, DicomJsonElement> | Array<Record<string, DicomJsonElement>>;
  const root = Array.isArray(body) ? body[0] ?? {} : body;
  const outcomes = new Map<string, InstanceOutcome>();
  const items = (tag: string) => (root[tag]?.Value ?? []) as Array<Record<string, DicomJsonElement>>;
  const uidOf = (item: Record<string, DicomJsonElement>) => String(item['00081155']?.Value?.[0] ?? '');
  for (const item of items('00081199')) {
    const warning = item['00081196']?.Value?.[0];
    outcomes.set(uidOf(item), { kind: 'ok', ...(typeof warning === 'number' ? { warning } : {}) });
  }
  for (const item of items('00081198')) {
    const reason = Number(item['00081197']?.Value?.[0] ?? 0x0110);
    outcomes.set(uidOf(item), { kind: 'failed', reason, permanent: !isTransientFailure(reason) });
  }
  return outcomes;
}

/** GET {cloud}/healthz: does the cloud answer at all? */
export function probeCloud(cloudUrl: string, timeoutMs: number, agent?: http.Agent): Promise<boolean> {
  const url = new URL(`${cloudUrl}/healthz`);
  const transport = url.protocol === 'https:' ? https : http;
  return new Promise((resolve) => {
    const request = transport.get(url, { agent, timeout: timeoutMs }, (response) => {
      response.resume();
      response.on('end', () => resolve((response.statusCode ?? 0) > 0 && (response.statusCode ?? 0) < 500));
      response.on('error', () => resolve(false));
    });
    request.on('timeout', () => request.destroy(new Error('timeout')));
    request.on('error', () => resolve(false));
  });
}

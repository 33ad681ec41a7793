/**
 * What the DICOMweb routes share: options, the caller of a request (resolved once in an
 * onRequest hook), URLs and scoped instance look-ups.
 */
import type { FastifyRequest } from 'fastify';
import { parseDicom, type ParsedDicom } from '@yunying/dicom';
import type { ArchiveService, InstanceRecord, InstanceScope, RetrievalAction } from '../archive/archive-service.ts';
import type { Caller } from '../access/caller.ts';
import { notFound, unauthorized, YunyingError } from '../errors.ts';

export interface DicomWebOptions {
  archive: ArchiveService;
  /** throws YunyingError (401) when the request is not authenticated */
  resolveCaller(request: FastifyRequest): Promise<Caller>;
  /** the same for /wado (the audit trail tells the interfaces apart); default: resolveCaller */
  resolveWadoUriCaller?(request: FastifyRequest): Promise<Caller>;
  /** largest STOW-RS request body, bytes [2 GiB] */
  maxStowBytes?: number;
  /** most parts one STOW-RS request may carry [10000] */
  maxStowParts?: number;
  /** STOW-RS requests read and stored at once [4]; more wait (YUNYING_STOW_CONCURRENCY) */
  stowConcurrency?: number;
  /** STOW-RS requests that may wait for a slot [64]; more are refused with 503 (YUNYING_STOW_QUEUE) */
  stowQueue?: number;
  /** where STOW-RS parts over a request's memory budget are staged: the blob store's stagingDirectory [the system's temporary directory] */
  stagingDirectory?: string;
  /** largest decoded frame the rendered/thumbnail resources and WADO-URI render, bytes [128 MiB] */
  maxRenderFrameBytes?: number;
  /** e.g. "https://pacs.example.org"; RetrieveURL and BulkDataURI are built from it; default: from the request's Host */
  publicBaseUrl?: string;
  /** longest side of thumbnails, px [128] */
  thumbnailSize?: number;
  /** binary elements above this size get a BulkDataURI in metadata [1024]; Pixel Data always does */
  inlineBinaryMaxBytes?: number;
  /** bytes of parsed instances kept for frame/rendered/bulkdata requests [256 MiB] */
  parsedCacheBytes?: number;
  /** characters of instance metadata JSON kept for metadata requests [32 Mi, ~5 KB an instance] */
  metadataCacheChars?: number;
}

export const DEFAULT_MAX_STOW_BYTES = 2 * 1024 * 1024 * 1024;

export interface StudyPath { study: string }
export interface SeriesPath extends StudyPath { series: string }
export interface InstancePath extends SeriesPath { instance: string }

/** A small LRU of parsed instances bounded by their byte size. */
class ParsedCache {
  private readonly entries = new Map<string, ParsedDicom>();
  private bytes = 0;
  private readonly maxBytes: number;
  constructor(maxBytes: number) {
    this.maxBytes = maxBytes;
  }
  get(key: string): ParsedDicom | undefined {
    const hit = this.entries.get(key);
    if (hit) {
      this.entries.delete(key);
      this.entries.set(key, hit);
    }
    return hit;
  }
  set(key: string, value: ParsedDicom): void {
    const size = value.bytes.byteLength;
    if (size > this.maxBytes / 4) return;
    const old = this.entries.get(key);
    if (old) {
      this.bytes -= old.bytes.byteLength;
      this.entries.delete(key);
    }
    this.entries.set(key, value);
    this.bytes += size;
    for (const [k, v] of this.entries) {
      if (this.bytes <= this.maxBytes) break;
      this.entries.delete(k);
      this.bytes -= v.bytes.byteLength;
    }
  }
}

/** Metadata JSON texts by key, LRU, bounded by their total length. */
class TextCache {
  private readonly entries = new Map<string, string>();
  private chars = 0;
  private readonly maxChars: number;
  constructor(maxChars: number) {
    this.maxChars = maxChars;
  }
  get(key: string): string | undefined {
    const hit = this.entries.get(key);
    if (hit !== undefined) {
      this.entries.delete(key);
      this.entries.set(key, hit);
    }
    return hit;
  }
  set(key: string, value: string): void {
    if (value.length > this.maxChars / 16) return;
    const old = this.entries.get(key);
    if (old !== undefined) {
      this.chars -= old.length;
      this.entries.delete(key);
    }
    this.entries.set(key, value);
    this.chars += value.length;
    for (const [k, v] of this.entries) {
      if (this.chars <= this.maxChars) break;
      this.entries.delete(k);
      this.chars -= v.length;
    }
  }
}

export class DicomWebContext {
  readonly archive: ArchiveService;
  private readonly callers = new WeakMap<FastifyRequest, Caller>();
  private readonly parsed: ParsedCache;
  private readonly metadata: TextCache;

  readonly options: DicomWebOptions;
  constructor(options: DicomWebOptions) {
    this.options = options;
    this.archive = options.archive;
    this.parsed = new ParsedCache(options.parsedCacheBytes ?? 256 * 1024 * 1024);
    this.metadata = new TextCache(options.metadataCacheChars ?? 32 * 1024 * 1024);
  }

  /**
   * Metadata JSON of an instance as last produced for this base URL. Keyed by blob key, SOP
   * Instance UID and size: a corrected or replaced instance is a new blob, so nothing stale
   * is served.
   */
  cachedMetadata(record: InstanceRecord, base: string): string | undefined {
    return this.metadata.get(`${record.blobKey}|${record.sopInstanceUid}|${record.size}|${base}`);
  }

  cacheMetadata(record: InstanceRecord, base: string, json: string): void {
    this.metadata.set(`${record.blobKey}|${record.sopInstanceUid}|${record.size}|${base}`, json);
  }

  async authenticate(request: FastifyRequest): Promise<void> {
    this.callers.set(request, await this.options.resolveCaller(request));
  }

  async authenticateWadoUri(request: FastifyRequest): Promise<void> {
    this.callers.set(request, await (this.options.resolveWadoUriCaller ?? this.options.resolveCaller)(request));
  }

  callerOf(request: FastifyRequest): Caller {
    const caller = this.callers.get(request);
    if (!caller) throw unauthorized();
    return caller;
  }

  /** "http://host:port/dicom-web" */
  dicomWebBase(request: FastifyRequest): string {
    const origin = this.options.publicBaseUrl?.replace(/\/+$/, '') ?? `${request.protocol}://${request.host}`;
    return `${origin}/dicom-web`;
  }

  studyUrl(request: FastifyRequest, study: string): string {
    return `${this.dicomWebBase(request)}/studies/${study}`;
  }

  instanceUrl(request: FastifyRequest, study: string, series: string, instance: string): string {
    return `${this.dicomWebBase(request)}/studies/${study}/series/${series}/instances/${instance}`;
  }

  /** Instances in scope for the caller; 404 when none (unknown and invisible look the same). */
  /**
   * `action` is what the audit trail records: viewing (metadata, frames, rendered) unless
   * the DICOM objects themselves are sent.
   */
  async findInstances(request: FastifyRequest, path: Partial<InstancePath> & StudyPath, action: RetrievalAction = 'study.viewed'): Promise<InstanceRecord[]> {
    const scope: InstanceScope = { studyInstanceUids: [path.study] };
    if (path.series !== undefined) scope.seriesInstanceUids = [path.series];
    if (path.instance !== undefined) scope.sopInstanceUids = [path.instance];
    // The scope's UID lists are ANDed: only instances on exactly this path come back.
    const records = await this.archive.findInstances(this.callerOf(request), scope, action, { resource: request.routeOptions.url });
    if (records.length === 0) {
      throw notFound(path.instance !== undefined ? `instance ${path.instance}` : path.series !== undefined ? `series ${path.series}` : `study ${path.study}`);
    }
    return records;
  }

  async findInstance(request: FastifyRequest, path: InstancePath, action: RetrievalAction = 'study.viewed'): Promise<InstanceRecord> {
    const records = await this.findInstances(request, path, action);
    return records[0]!;
  }

  /** The whole instance parsed (pixel data located, never decoded), cached by blob. */
  async readParsed(record: InstanceRecord): Promise<ParsedDicom> {
    const key = `${record.blobKey}|${record.sopInstanceUid}|${record.size}`;
    const hit = this.parsed.get(key);
    if (hit) return hit;
    const bytes = await this.archive.readInstance(record);
    let parsed: ParsedDicom;
    try {
      parsed = parseDicom(bytes);
    } catch (error) {
      throw new YunyingError('STORED_INSTANCE_UNREADABLE', `stored instance ${record.sopInstanceUid} cannot be parsed: ${(error as Error).message}`);
    }
    this.parsed.set(key, parsed);
    return parsed;
  }
}

/**
 * DICOMweb for the viewer: QIDO-RS for series and instances, WADO-RS metadata, and the
 * Cornerstone3D set-up that turns them into `wadors:` image ids whose frames the
 * dicom-image-loader fetches (every request with the caller's Authorization header) and
 * decodes in its web workers (JPEG baseline/lossless, JPEG-LS, JPEG 2000 and RLE from the
 * wasm codecs shipped in the npm packages).
 *
 * The first image must not wait for the whole series' metadata: the stack is built from
 * QIDO (instance numbers, frame counts), the instance shown first gets its own metadata
 * request, and the series metadata follows for the rest. Until an instance's metadata is
 * known, a load of one of its frames waits for it (the `wadors` loader is wrapped).
 */
import { Enums as CoreEnums, imageLoader, init as initCore, isCornerstoneInitialized, type Types } from '@cornerstonejs/core';
import { init as initDicomImageLoader, wadors } from '@cornerstonejs/dicom-image-loader';
import { init as initTools } from '@cornerstonejs/tools';
import { readAll, readMultipart } from '@yunying/dicom/multipart';
import { TAG, numberValue, numberValues, stringValue, type DicomJsonDataset } from './dicom-json.ts';

export type AuthorizationProvider = () => string;

// ---------------------------------------------------------------- authorization

/** Absolute DICOMweb roots → the header provider of the viewer that uses it. */
const authorizationByRoot = new Map<string, AuthorizationProvider>();

function authorizationFor(url: string): string | undefined {
  let best: { root: string; provider: AuthorizationProvider } | undefined;
  for (const [root, provider] of authorizationByRoot) {
    if (url.startsWith(root) && (!best || root.length > best.root.length)) best = { root, provider };
  }
  return best?.provider();
}

/** `/dicom-web` → `http://host/dicom-web` (no trailing slash). */
export function absoluteRoot(dicomWebRoot: string): string {
  const base = typeof location !== 'undefined' ? location.href : 'http://localhost/';
  return new URL(dicomWebRoot.replace(/\/+$/, ''), base).toString().replace(/\/+$/, '');
}

/** Registers the header provider for a root; returns the function that removes it again. */
export function registerAuthorization(root: string, provider: AuthorizationProvider): () => void {
  authorizationByRoot.set(root, provider);
  return () => {
    if (authorizationByRoot.get(root) === provider) authorizationByRoot.delete(root);
  };
}

// ---------------------------------------------------------------- Cornerstone set-up

let initialized: Promise<void> | undefined;

/** Metadata requests in flight, by instance URI (…/instances/{uid}); loads of their frames wait. */
const pendingMetadata = new Map<string, Promise<void>>();

function instanceKey(uri: string): string {
  const at = uri.indexOf('/frames/');
  return at >= 0 ? uri.slice(0, at) : uri;
}

function uriOf(imageId: string): string {
  return imageId.slice(imageId.indexOf(':') + 1);
}

/** Once per page: Cornerstone core, tools and the DICOM image loader with authorized requests. */
export function initCornerstone(): Promise<void> {
  initialized ??= (async () => {
    if (!isCornerstoneInitialized()) initCore();
    initTools();
    const cores = typeof navigator !== 'undefined' && navigator.hardwareConcurrency ? navigator.hardwareConcurrency : 2;
    initDicomImageLoader({
      maxWebWorkers: Math.max(1, Math.min(4, cores - 1)),
      beforeSend: (_xhr, imageId, _defaultHeaders, params): Record<string, string> => {
        const url = params?.url ?? uriOf(imageId ?? '');
        const authorization = authorizationFor(url);
        return authorization ? { Authorization: authorization } : {};
      },
    });
    // Wrap the wadors loader: a frame whose instance metadata is still on its way waits for it.
    const loadWadors = wadors.loadImage;
    imageLoader.registerImageLoader('wadors', (imageId: string, options?: Record<string, unknown>) => {
      const pending = wadors.metaDataManager.get(imageId) ? undefined : pendingMetadata.get(instanceKey(uriOf(imageId)));
      if (!pending) return loadWadors(imageId, options);
      return { promise: pending.then(() => loadWadors(imageId, options).promise) } as Types.IImageLoadObject;
    });
  })();
  return initialized;
}

// ---------------------------------------------------------------- DICOMweb requests

export class DicomWebError extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
    this.name = 'DicomWebError';
  }
}

export interface SeriesSummary {
  seriesInstanceUid: string;
  modality: string;
  seriesNumber?: number;
  description?: string;
  instanceCount?: number;
  /** of the series' first instance, for the hanging protocols (hanging-protocols.ts) */
  imageOrientation?: number[];
  imageType?: string[];
  viewPosition?: string;
}

/** What the series query asks for beyond its default attributes: the hanging protocols' inputs (first instance of each series). */
const SERIES_INCLUDE_FIELDS = [TAG.ImageOrientationPatient, TAG.ImageType, TAG.ViewPosition];

export interface InstanceSummary {
  sopInstanceUid: string;
  sopClassUid?: string;
  instanceNumber?: number;
  numberOfFrames: number;
  rows?: number;
}

/** Image ids of one series in display order, and what the viewer needs to know about them. */
export interface SeriesStack {
  series: SeriesSummary;
  imageIds: string[];
  /** instance metadata by image id (the instance's for every frame of a multi-frame instance) */
  metadataFor(imageId: string): DicomJsonDataset | undefined;
  /** one multi-frame instance: scroll through frames, cine available */
  multiframe: boolean;
  /** the index to show first */
  initialIndex: number;
  /** resolves once the first image's metadata is registered */
  firstReady: Promise<void>;
  /** resolves with the stack order by patient position (may equal imageIds) once all metadata is in */
  allReady: Promise<string[]>;
}

export class DicomWebClient {
  readonly root: string;
  private readonly unregister: () => void;

  constructor(
    dicomWebRoot: string,
    private readonly authorization: AuthorizationProvider,
  ) {
    this.root = absoluteRoot(dicomWebRoot);
    this.unregister = registerAuthorization(this.root, authorization);
  }

  dispose(): void {
    this.unregister();
  }

  private async get(path: string, accept: string, signal?: AbortSignal): Promise<Response> {
    const response = await fetch(`${this.root}${path}`, { headers: { Accept: accept, Authorization: this.authorization() }, signal });
    if (!response.ok) throw new DicomWebError(`GET ${path}: HTTP ${response.status}`, response.status);
    return response;
  }

  async getJson(path: string, signal?: AbortSignal): Promise<DicomJsonDataset[]> {
    const response = await this.get(path, 'application/dicom+json', signal);
    if (response.status === 204) return [];
    const text = await response.text();
    return text.trim() === '' ? [] : (JSON.parse(text) as DicomJsonDataset[]);
  }

  async searchSeries(studyUid: string, signal?: AbortSignal): Promise<SeriesSummary[]> {
    const include = SERIES_INCLUDE_FIELDS.map((tag) => `includefield=${tag}`).join('&');
    const rows = await this.getJson(`/studies/${encodeURIComponent(studyUid)}/series?${include}`, signal);
    return rows
      .map((row) => ({
        seriesInstanceUid: stringValue(row, TAG.SeriesInstanceUID) ?? '',
        modality: stringValue(row, TAG.Modality) ?? '',
        seriesNumber: numberValue(row, TAG.SeriesNumber),
        description: stringValue(row, TAG.SeriesDescription),
        instanceCount: numberValue(row, TAG.NumberOfSeriesRelatedInstances),
        imageOrientation: numberValues(row, TAG.ImageOrientationPatient),
        imageType: row[TAG.ImageType]?.Value?.map((v) => String(v)),
        viewPosition: stringValue(row, TAG.ViewPosition),
      }))
      .filter((s) => s.seriesInstanceUid !== '')
      .sort((a, b) => (a.seriesNumber ?? Number.MAX_SAFE_INTEGER) - (b.seriesNumber ?? Number.MAX_SAFE_INTEGER));
  }

  async searchInstances(studyUid: string, seriesUid: string, signal?: AbortSignal): Promise<InstanceSummary[]> {
    const rows = await this.getJson(`/studies/${encodeURIComponent(studyUid)}/series/${encodeURIComponent(seriesUid)}/instances`, signal);
    return rows.map(instanceSummary).filter((i) => i.sopInstanceUid !== '');
  }

  /** Every instance of a study in one query, by series. */
  async searchStudyInstances(studyUid: string, signal?: AbortSignal): Promise<Map<string, InstanceSummary[]>> {
    const rows = await this.getJson(`/studies/${encodeURIComponent(studyUid)}/instances`, signal);
    const bySeries = new Map<string, InstanceSummary[]>();
    for (const row of rows) {
      const seriesUid = stringValue(row, TAG.SeriesInstanceUID);
      const instance = instanceSummary(row);
      if (!seriesUid || !instance.sopInstanceUid) continue;
      let list = bySeries.get(seriesUid);
      if (!list) bySeries.set(seriesUid, (list = []));
      list.push(instance);
    }
    return bySeries;
  }

  seriesPath(studyUid: string, seriesUid: string): string {
    return `/studies/${encodeURIComponent(studyUid)}/series/${encodeURIComponent(seriesUid)}`;
  }

  /** Thumbnail of a series as an object URL (the caller revokes it). */
  async seriesThumbnailUrl(studyUid: string, seriesUid: string, signal?: AbortSignal): Promise<string> {
    const response = await this.get(`${this.seriesPath(studyUid, seriesUid)}/thumbnail`, 'image/jpeg', signal);
    return URL.createObjectURL(await response.blob());
  }

  /**
   * Palette colour lookup tables as numbers in `Value`, which is where the image loader
   * reads them: the server sends tables over its inline limit as bulk data.
   */
  private async inlinePaletteData(dataset: DicomJsonDataset, signal?: AbortSignal): Promise<void> {
    await Promise.all(
      PALETTE_DATA_TAGS.map(async (tag) => {
        const element = dataset[tag];
        if (!element || element.Value) return;
        let bytes: Uint8Array | undefined;
        if (element.InlineBinary) bytes = Uint8Array.from(atob(element.InlineBinary), (c) => c.charCodeAt(0));
        else if (element.BulkDataURI) {
          const response = await fetch(element.BulkDataURI, { headers: { Accept: 'multipart/related; type="application/octet-stream"; transfer-syntax=*', Authorization: this.authorization() }, signal });
          if (!response.ok) throw new DicomWebError(`GET ${element.BulkDataURI}: HTTP ${response.status}`, response.status);
          bytes = await firstMultipartBody(response);
        }
        if (!bytes) return;
        const words = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
        const values: number[] = [];
        for (let i = 0; i + 1 < bytes.byteLength; i += 2) values.push(words.getUint16(i, true));
        dataset[tag] = { vr: element.vr, Value: values };
      }),
    );
  }

  frameImageId(studyUid: string, seriesUid: string, sopInstanceUid: string, frame: number): string {
    return `wadors:${this.root}${this.seriesPath(studyUid, seriesUid)}/instances/${encodeURIComponent(sopInstanceUid)}/frames/${frame}`;
  }

  /**
   * The stack of a series: image ids from QIDO at once, the first image's metadata in its
   * own request, the rest from the series metadata once `restAfter` settles.
   */
  async loadSeriesStack(
    studyUid: string,
    series: SeriesSummary,
    options: { signal?: AbortSignal; restAfter?: Promise<unknown>; instances?: Promise<InstanceSummary[]> } = {},
  ): Promise<SeriesStack> {
    const { signal, restAfter = Promise.resolve() } = options;
    const known = options.instances ? await options.instances.catch(() => []) : [];
    // the study-level answer unless it is short of the series' count (a server limit)
    const complete = known.length > 0 && (series.instanceCount === undefined || known.length >= series.instanceCount);
    const instances = (complete ? [...known] : await this.searchInstances(studyUid, series.seriesInstanceUid, signal))
      // images only (no SR, KO, PR: QIDO gives Rows for images)
      .filter((i) => i.rows === undefined || i.rows > 0)
      .sort((a, b) => (a.instanceNumber ?? 0) - (b.instanceNumber ?? 0) || a.sopInstanceUid.localeCompare(b.sopInstanceUid));
    const imageIds: string[] = [];
    const instanceOf = new Map<string, string>();
    for (const instance of instances) {
      for (let frame = 1; frame <= instance.numberOfFrames; frame++) {
        const id = this.frameImageId(studyUid, series.seriesInstanceUid, instance.sopInstanceUid, frame);
        imageIds.push(id);
        instanceOf.set(id, instance.sopInstanceUid);
      }
    }
    const multiframe = instances.length === 1 && instances[0]!.numberOfFrames > 1;
    // every stack opens at its first slice (hanging-protocols.ts), a cine at its first frame; the
    // instance-number order is the position order's direction (sortByPosition keeps it)
    const initialIndex = 0;
    const metadataByInstance = new Map<string, DicomJsonDataset>();
    const seriesPath = this.seriesPath(studyUid, series.seriesInstanceUid);

    const registerAll = async (rows: DicomJsonDataset[]) => {
      await Promise.all(rows.map((row) => this.inlinePaletteData(row, signal)));
      rows.forEach(register);
    };
    const register = (dataset: DicomJsonDataset) => {
      const uid = stringValue(dataset, TAG.SOPInstanceUID);
      if (!uid || metadataByInstance.has(uid)) return;
      metadataByInstance.set(uid, dataset);
      // multi-frame instances are registered under frame 1; the loader derives the other frames
      wadors.metaDataManager.add(this.frameImageId(studyUid, series.seriesInstanceUid, uid, 1), dataset as unknown as Parameters<typeof wadors.metaDataManager.add>[1]);
    };

    const firstUid = imageIds.length > 0 ? instanceOf.get(imageIds[initialIndex]!)! : undefined;
    const firstReady = firstUid
      ? this.getJson(`${seriesPath}/instances/${encodeURIComponent(firstUid)}/metadata`, signal).then(registerAll)
      : Promise.resolve();
    // the series metadata (the server reads every instance for it) waits until the first image is drawn
    const allMetadata =
      instances.length <= 1
        ? firstReady
        : Promise.all([firstReady, restAfter.catch(() => undefined)]).then(async () => registerAll(await this.getJson(`${seriesPath}/metadata`, signal)));
    const keyOf = (uid: string) => instanceKey(uriOf(this.frameImageId(studyUid, series.seriesInstanceUid, uid, 1)));
    for (const instance of instances) {
      pendingMetadata.set(keyOf(instance.sopInstanceUid), instance.sopInstanceUid === firstUid ? firstReady : allMetadata);
    }
    const settle = () => instances.forEach((i) => pendingMetadata.delete(keyOf(i.sopInstanceUid)));
    allMetadata.then(settle, settle);
    firstReady.catch(() => undefined);

    const allReady = allMetadata.then(() => {
      if (multiframe) return imageIds;
      return sortByPosition(imageIds, (id) => metadataByInstance.get(instanceOf.get(id)!));
    });
    allReady.catch(() => undefined);

    return {
      series,
      imageIds,
      metadataFor: (imageId) => metadataByInstance.get(instanceOf.get(imageId) ?? ''),
      multiframe,
      initialIndex,
      firstReady: firstReady.then(() => undefined),
      allReady,
    };
  }
}

function instanceSummary(row: DicomJsonDataset): InstanceSummary {
  return {
    sopInstanceUid: stringValue(row, TAG.SOPInstanceUID) ?? '',
    sopClassUid: stringValue(row, TAG.SOPClassUID),
    instanceNumber: numberValue(row, TAG.InstanceNumber),
    numberOfFrames: Math.max(1, numberValue(row, TAG.NumberOfFrames) ?? 1),
    rows: numberValue(row, TAG.Rows),
  };
}

/** Red, green and blue palette colour lookup table data (PS3.3 C.7.6.3). */
const PALETTE_DATA_TAGS = ['00281201', '00281202', '00281203'];

/**
 * The body of the first part of a multipart/related response (the whole body when it is not
 * multipart), read as it streams: the rest of the response is not fetched.
 */
export async function firstMultipartBody(response: Response): Promise<Uint8Array> {
  const boundary = /boundary="?([^";]+)"?/i.exec(response.headers.get('content-type') ?? '')?.[1];
  if (!boundary || !response.body) return new Uint8Array(await response.arrayBuffer());
  for await (const part of readMultipart(response.body, boundary)) return readAll(part.body);
  return new Uint8Array(0);
}

/** Frames per second of a cine from its metadata. */
export function framesPerSecondOf(ds: DicomJsonDataset | undefined): number {
  const frameTime = numberValue(ds, TAG.FrameTime);
  if (frameTime && frameTime > 0) return Math.min(60, Math.max(1, 1000 / frameTime));
  const rate = numberValue(ds, TAG.CineRate) ?? numberValue(ds, TAG.RecommendedDisplayFrameRate);
  if (rate && rate > 0) return Math.min(60, rate);
  return 25;
}

/**
 * Slices ordered along the normal of their orientation, head first as the instance
 * numbers had them; the given order when any slice lacks position or orientation.
 */
export function sortByPosition(imageIds: string[], metadataOf: (imageId: string) => DicomJsonDataset | undefined): string[] {
  const keyed: Array<{ id: string; distance: number }> = [];
  let normal: [number, number, number] | undefined;
  for (const id of imageIds) {
    const ds = metadataOf(id);
    const position = numberValues(ds, TAG.ImagePositionPatient);
    const orientation = numberValues(ds, TAG.ImageOrientationPatient);
    if (!position || position.length !== 3 || !orientation || orientation.length !== 6) return imageIds;
    if (!normal) {
      const [r1, r2, r3, c1, c2, c3] = orientation as [number, number, number, number, number, number];
      normal = [r2 * c3 - r3 * c2, r3 * c1 - r1 * c3, r1 * c2 - r2 * c1];
    }
    keyed.push({ id, distance: position[0]! * normal[0] + position[1]! * normal[1] + position[2]! * normal[2] });
  }
  if (keyed.length < 2) return imageIds;
  const sorted = [...keyed].sort((a, b) => a.distance - b.distance);
  // keep the direction the instance numbers went in (most scanners number head to feet)
  if (keyed[0]!.distance > keyed[keyed.length - 1]!.distance) sorted.reverse();
  return sorted.map((k) => k.id);
}

export const RequestType = CoreEnums.RequestType;

/**
 * The imperative side of one StudyViewer: a Cornerstone3D rendering engine with one stack
 * viewport per layout slot, the tool group, progressive loading (the first image of each
 * displayed series, then the rest prefetched nearest-first with a bounded concurrency),
 * cine, window presets, and a snapshot of it all for React to render (state, slices,
 * window, overlay text).
 */
import { Enums as CoreEnums, RenderingEngine, eventTarget, imageLoader, imageRetrievalPoolManager, utilities as coreUtilities, type Types } from '@cornerstonejs/core';
import { Enums as ToolEnums, utilities as toolUtilities } from '@cornerstonejs/tools';
import { TAG, numberValues, stringValue } from './dicom-json.ts';
import { DicomWebClient, framesPerSecondOf, initCornerstone, type InstanceSummary, type SeriesStack, type SeriesSummary } from './dicomweb-loader.ts';
import { chooseHanging } from './hanging-protocols.ts';
import type { ViewerLabels } from './labels.ts';
import { computeOverlay, type OverlayCorners } from './overlay.ts';
import { markersFor, type OrientationMarkers, type Vec3 } from './orientation.ts';
import { CT_WINDOW_PRESETS, presetForKey, toVoiRange, toWindow, type WindowPresetId } from './presets.ts';
import { scrollSync } from './scroll-sync.ts';
import type { SyncStackGeometry } from './slice-sync.ts';
import { ViewerTools, countMeasurements, type PrimaryTool } from './tools.ts';

export type Layout = '1x1' | '1x2' | '2x2';
export const LAYOUT_SLOTS: Record<Layout, number> = { '1x1': 1, '1x2': 2, '2x2': 4 };
export type ViewerState = 'loading' | 'first-image' | 'loaded' | 'error';

/** Modalities without images to stack (reports, key objects, presentation states, RT plans…). */
const NON_IMAGE_MODALITIES = new Set(['SR', 'KO', 'PR', 'DOC', 'RTPLAN', 'RTSTRUCT', 'RTRECORD', 'REG', 'FID']);

/** Frames fetched at once in the background (the first images of each viewport come first). */
const PREFETCH_CONCURRENCY = 6;

/** The first image of a viewport must be drawn within this, or the viewer says it failed. */
const FIRST_IMAGE_TIMEOUT_MS = 20_000;

export interface ViewportSnapshot {
  seriesInstanceUid?: string;
  /** 1-based; 0 while nothing is shown */
  currentSlice: number;
  sliceCount: number;
  cachedCount: number;
  window?: { width: number; center: number };
  zoom?: number;
  invert: boolean;
  multiframe: boolean;
  cinePlaying: boolean;
  overlay: OverlayCorners;
  /** the series' modality (window presets and the probe's unit depend on it) */
  modality?: string;
  /** A/P/L/R/H/F at the four edges, as the image is shown (rotation and flips included) */
  orientation?: OrientationMarkers;
  /** degrees clockwise as Cornerstone reports it, and the flips */
  rotation?: number;
  flipHorizontal?: boolean;
  flipVertical?: boolean;
  /** the VOI range as Cornerstone holds it (unrounded) */
  voi?: { lower: number; upper: number };
}

/** The pixel value under the cursor (HU for CT), while the probe is on. */
export interface ProbeReading {
  slot: number;
  /** CSS pixels within the viewport element */
  x: number;
  y: number;
  value: number;
  unit?: string;
  modality?: string;
}

export interface ViewerSnapshot {
  state: ViewerState;
  error?: string;
  series: SeriesSummary[];
  layout: Layout;
  activeSlot: number;
  primaryTool: PrimaryTool;
  viewports: ViewportSnapshot[];
  measurements: number;
  /** the hanging protocol the study opened with (hanging-protocols.ts) */
  protocol?: string;
  probeEnabled: boolean;
  probe?: ProbeReading;
  syncScroll: boolean;
}

export interface ViewerControllerOptions {
  studyInstanceUid: string;
  dicomWebRoot: string;
  authorizationHeader: () => string;
  labels: ViewerLabels;
  onChange: (snapshot: ViewerSnapshot) => void;
}

interface Slot {
  element?: HTMLDivElement;
  viewportId: string;
  enabled: boolean;
  seriesUid?: string;
  stack?: SeriesStack;
  /** increments on every assignment, so a late stack does not replace a newer one */
  generation: number;
  /** the image this slot opens at when not the stack's first (a hanging protocol that shows two images of one series) */
  initialIndex?: number;
  cinePlaying: boolean;
  cleanup: Array<() => void>;
}

let viewerCount = 0;

/** What one viewport draws, in CSS pixels on screen (see ViewerController.geometry). */
export interface ViewportGeometry {
  slot: number;
  /** the viewport element's CSS box */
  cssWidth: number;
  cssHeight: number;
  /** the canvas's backing store; must be the CSS box × devicePixelRatio */
  canvasWidth: number;
  canvasHeight: number;
  devicePixelRatio: number;
  columns: number;
  rows: number;
  /** columns × column spacing and rows × row spacing, as Cornerstone holds them */
  imageWidthMm: number;
  imageHeightMm: number;
  /** the image's edges projected through the camera and stretched as the browser shows the canvas */
  drawnWidth: number;
  drawnHeight: number;
  zoom: number;
}

/** Test hook: the live viewers of the page, by id (browser tests read their geometry). */
interface ViewerRegistry {
  __yunyingViewers?: Record<string, { studyInstanceUid: string; geometry: () => ViewportGeometry[]; snapshot: () => ViewerSnapshot }>;
}
const registry = (): NonNullable<ViewerRegistry['__yunyingViewers']> => ((globalThis as ViewerRegistry).__yunyingViewers ??= {});

const EMPTY_OVERLAY: OverlayCorners = { topLeft: [], topRight: [], bottomLeft: [], bottomRight: [] };

export class ViewerController {
  private readonly id = `yunying-viewer-${++viewerCount}`;
  private readonly startedAt = performance.now();
  private readonly client: DicomWebClient;
  private readonly abort = new AbortController();
  private engine?: RenderingEngine;
  private tools?: ViewerTools;
  private series: SeriesSummary[] = [];
  private readonly stacks = new Map<string, Promise<SeriesStack>>();
  private readonly slots: Slot[] = [];
  private layout: Layout = '1x1';
  private activeSlot = 0;
  private state: ViewerState = 'loading';
  private error?: string;
  private destroyed = false;
  private firstImageAt?: number;
  private allLoadedFired = false;
  private scheduled = false;
  private readonly loaded = new Set<string>();
  private readonly failed = new Set<string>();
  private readonly inFlight = new Set<string>();
  private readonly thumbnails = new Map<string, Promise<string>>();
  private ready?: Promise<void>;
  private studyInstances?: Promise<Map<string, InstanceSummary[]>>;
  /** settles when the first frame is loaded (or could not be): the rest of the traffic waits for it */
  private readonly firstImageDrawn: Promise<void>;
  private settleFirstImage!: () => void;
  /**
   * Watches every viewport element: a layout change resizes the panes but not the grid, and
   * Cornerstone draws into a canvas of the size it last measured, so a pane that shrank
   * without telling it shows the old canvas squeezed into the new box.
   */
  private readonly resizeObserver = new ResizeObserver(() => this.resize());
  /** series UIDs in the hanging protocol's order (slot 0 first) */
  private order: string[] = [];
  private protocol?: string;
  private probeEnabled = false;
  private probe?: ProbeReading;
  private readonly unsubscribeSync: () => void;

  constructor(private readonly options: ViewerControllerOptions) {
    this.client = new DicomWebClient(options.dicomWebRoot, options.authorizationHeader);
    this.firstImageDrawn = new Promise<void>((resolve) => (this.settleFirstImage = resolve));
    for (let i = 0; i < 4; i++) this.slots.push({ viewportId: `${this.id}-vp${i}`, enabled: false, generation: 0, cinePlaying: false, cleanup: [] });
    registry()[this.id] = { studyInstanceUid: options.studyInstanceUid, geometry: () => this.geometry(), snapshot: () => this.snapshot() };
    this.unsubscribeSync = scrollSync.subscribe(() => this.emit());
  }

  get studyInstanceUid(): string {
    return this.options.studyInstanceUid;
  }

  // ------------------------------------------------------------ life cycle

  start(): Promise<void> {
    this.ready ??= this.run();
    return this.ready;
  }

  private async run(): Promise<void> {
    try {
      // the queries go out while Cornerstone starts; instances of the whole study in one query
      const study = this.options.studyInstanceUid;
      const seriesQuery = this.client.searchSeries(study, this.abort.signal);
      this.studyInstances = this.client.searchStudyInstances(study, this.abort.signal);
      this.studyInstances.catch(() => undefined);
      seriesQuery.catch(() => undefined);
      await initCornerstone();
      if (this.destroyed) return;
      this.engine = new RenderingEngine(this.id);
      this.tools = new ViewerTools(this.id, this.options.labels);
      imageRetrievalPoolManager.setMaxSimultaneousRequests(CoreEnums.RequestType.Prefetch, PREFETCH_CONCURRENCY);
      const all = await seriesQuery;
      if (this.destroyed) return;
      this.series = all.filter((s) => !NON_IMAGE_MODALITIES.has(s.modality.toUpperCase()));
      if (this.series.length === 0) return this.fail(this.options.labels.noImages);
      const hanging = chooseHanging(this.series);
      this.order = hanging.order;
      this.protocol = hanging.protocol;
      this.layout = hanging.layout;
      this.assignInOrder();
      hanging.slotImages?.forEach(({ seriesInstanceUid, index }, i) => {
        const slot = this.slots[i]!;
        slot.seriesUid = seriesInstanceUid;
        slot.initialIndex = index;
      });
      this.emit();
      for (let i = 0; i < LAYOUT_SLOTS[this.layout]; i++) this.showSlot(i);
    } catch (err) {
      if (!this.destroyed) this.fail(err instanceof Error ? err.message : String(err));
    }
  }

  destroy(): void {
    this.destroyed = true;
    delete registry()[this.id];
    this.unsubscribeSync();
    for (const slot of this.slots) scrollSync.leave(slot.viewportId);
    this.resizeObserver.disconnect();
    this.abort.abort();
    this.settleFirstImage();
    for (const slot of this.slots) this.teardownSlot(slot);
    this.tools?.destroy();
    this.engine?.destroy();
    this.client.dispose();
    for (const url of this.thumbnails.values()) url.then((u) => URL.revokeObjectURL(u), () => undefined);
  }

  private fail(message: string): void {
    this.settleFirstImage();
    this.state = 'error';
    this.error = message;
    this.emit();
  }

  // ------------------------------------------------------------ slots and series

  private assignInOrder(): void {
    const n = LAYOUT_SLOTS[this.layout];
    const order = this.order.length > 0 ? this.order : this.series.map((s) => s.seriesInstanceUid);
    const first = this.slots[0]!.seriesUid ?? order[0];
    const rest = order.filter((uid) => uid !== first);
    for (let i = 0; i < 4; i++) {
      const uid = i === 0 ? first : i < n ? rest[i - 1] : undefined;
      const slot = this.slots[i]!;
      if (slot.seriesUid !== uid) {
        slot.seriesUid = uid;
        slot.initialIndex = undefined;
        slot.stack = undefined;
        slot.generation += 1;
      }
    }
  }

  /** React hands each pane's element over (null when the pane goes). */
  attachElement(index: number, element: HTMLDivElement | null): void {
    const slot = this.slots[index];
    if (!slot || slot.element === (element ?? undefined)) return;
    if (slot.element) {
      this.resizeObserver.unobserve(slot.element);
      this.teardownSlot(slot);
    }
    slot.element = element ?? undefined;
    if (element) {
      this.resizeObserver.observe(element);
      slot.generation += 1;
      slot.stack = undefined;
      this.showSlot(index);
    }
  }

  private teardownSlot(slot: Slot): void {
    if (slot.cinePlaying && slot.element) toolUtilities.cine.stopClip(slot.element);
    slot.cinePlaying = false;
    scrollSync.leave(slot.viewportId);
    if (this.probe && this.slots.indexOf(slot) === this.probe.slot) this.probe = undefined;
    for (const undo of slot.cleanup.splice(0)) undo();
    if (slot.enabled && this.engine) {
      this.tools?.removeViewport(slot.viewportId, this.engine.id);
      this.engine.disableElement(slot.viewportId);
    }
    slot.enabled = false;
  }

  private viewportOf(slot: Slot): Types.IStackViewport | undefined {
    if (!slot.enabled || !this.engine) return undefined;
    return this.engine.getViewport(slot.viewportId) as Types.IStackViewport | undefined;
  }

  private stackFor(series: SeriesSummary): Promise<SeriesStack> {
    let stack = this.stacks.get(series.seriesInstanceUid);
    if (!stack) {
      const instances = this.studyInstances?.then((bySeries) => bySeries.get(series.seriesInstanceUid) ?? []);
      stack = this.client.loadSeriesStack(this.options.studyInstanceUid, series, { signal: this.abort.signal, restAfter: this.firstImageDrawn, instances });
      this.stacks.set(series.seriesInstanceUid, stack);
      stack.catch(() => this.stacks.delete(series.seriesInstanceUid));
    }
    return stack;
  }

  private showSlot(index: number): void {
    const slot = this.slots[index]!;
    if (!slot.element || !this.engine || index >= LAYOUT_SLOTS[this.layout]) return;
    const series = this.series.find((s) => s.seriesInstanceUid === slot.seriesUid);
    if (!series) return;
    const generation = slot.generation;
    void this.displayInSlot(slot, series, generation).catch((err: unknown) => {
      if (this.destroyed || slot.generation !== generation) return;
      // a series that cannot be shown is an error only when nothing else shows
      if (this.firstImageAt === undefined) this.fail(err instanceof Error ? err.message : String(err));
    });
  }

  private async displayInSlot(slot: Slot, series: SeriesSummary, generation: number): Promise<void> {
    const stack = await this.stackFor(series);
    if (this.destroyed || slot.generation !== generation || !slot.element) return;
    if (stack.imageIds.length === 0) throw new Error(this.options.labels.noImages);
    const engine = this.engine!;
    if (!slot.enabled) {
      engine.enableElement({ viewportId: slot.viewportId, element: slot.element, type: CoreEnums.ViewportType.STACK, defaultOptions: { background: [0, 0, 0] } });
      this.tools!.addViewport(slot.viewportId, engine.id);
      slot.enabled = true;
      this.listen(slot);
    }
    slot.stack = stack;
    await stack.firstReady;
    if (this.destroyed || slot.generation !== generation) return;
    const viewport = this.viewportOf(slot)!;
    // a frame that cannot be decoded or drawn may leave setStack pending for good
    let watchdog: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      watchdog = setTimeout(() => reject(new Error(`${this.options.labels.loadFailed} (${FIRST_IMAGE_TIMEOUT_MS / 1000} s)`)), FIRST_IMAGE_TIMEOUT_MS);
    });
    try {
      const first = slot.initialIndex !== undefined && slot.initialIndex < stack.imageIds.length ? slot.initialIndex : stack.initialIndex;
      await Promise.race([viewport.setStack(stack.imageIds, first), timeout]);
    } finally {
      clearTimeout(watchdog);
    }
    if (this.destroyed || slot.generation !== generation) return;
    // the first frame is in: the series metadata and thumbnails may go now
    this.settleFirstImage();
    viewport.render();
    this.joinSync(slot);
    this.emit();
    // the rest of the series in the background
    this.pumpPrefetch();
    const order = await stack.allReady;
    if (this.destroyed || slot.generation !== generation) return;
    if (order.some((id, i) => id !== stack.imageIds[i])) await this.reorder(slot, stack, order);
    if (this.destroyed || slot.generation !== generation) return;
    // the positions of every slice are known now: pair again (an offset between two frames of reference needs them)
    this.joinSync(slot);
    this.pumpPrefetch();
  }

  /** Slices turned out to be numbered out of position order: same image, new order. */
  private async reorder(slot: Slot, stack: SeriesStack, order: string[]): Promise<void> {
    const viewport = this.viewportOf(slot);
    if (!viewport) return;
    const current = viewport.getCurrentImageId();
    // a stack the reader has not scrolled yet still opens at its first slice (of the position order)
    const untouched = viewport.getCurrentImageIdIndex() === stack.initialIndex;
    const properties = viewport.getProperties();
    const camera = viewport.getCamera();
    stack.imageIds.splice(0, stack.imageIds.length, ...order);
    await viewport.setStack(stack.imageIds, untouched ? stack.initialIndex : Math.max(0, stack.imageIds.indexOf(current)));
    viewport.setProperties(properties);
    viewport.setCamera(camera);
    viewport.render();
    this.emit();
  }

  private listen(slot: Slot): void {
    const element = slot.element!;
    const onRendered = () => {
      if (this.firstImageAt === undefined && this.viewportOf(slot)?.getCornerstoneImage?.()) this.onFirstImage();
      this.scheduleEmit();
    };
    const onChange = () => this.scheduleEmit();
    const events = [CoreEnums.Events.STACK_NEW_IMAGE, CoreEnums.Events.VOI_MODIFIED, CoreEnums.Events.CAMERA_MODIFIED];
    element.addEventListener(CoreEnums.Events.IMAGE_RENDERED, onRendered);
    for (const type of events) element.addEventListener(type, onChange);
    const onMove = (event: MouseEvent) => {
      if (!this.probeEnabled) return;
      this.probe = this.probeAt(slot, event);
      this.scheduleEmit();
    };
    const onLeave = () => {
      if (!this.probe) return;
      this.probe = undefined;
      this.scheduleEmit();
    };
    element.addEventListener('mousemove', onMove);
    element.addEventListener('mouseleave', onLeave);
    slot.cleanup.push(() => {
      element.removeEventListener('mousemove', onMove);
      element.removeEventListener('mouseleave', onLeave);
    });
    // annotation events go to Cornerstone's global event target
    const measurementEvents = [ToolEnums.Events.ANNOTATION_COMPLETED, ToolEnums.Events.ANNOTATION_REMOVED];
    for (const type of measurementEvents) eventTarget.addEventListener(type, onChange);
    slot.cleanup.push(() => {
      element.removeEventListener(CoreEnums.Events.IMAGE_RENDERED, onRendered);
      for (const type of events) element.removeEventListener(type, onChange);
      for (const type of measurementEvents) eventTarget.removeEventListener(type, onChange);
    });
  }

  private onFirstImage(): void {
    this.firstImageAt = performance.now();
    this.settleFirstImage();
    if (this.state === 'loading') this.state = 'first-image';
    window.dispatchEvent(new CustomEvent('yunying:first-image', { detail: { studyInstanceUid: this.options.studyInstanceUid, ms: Math.round(this.firstImageAt - this.startedAt) } }));
    this.emit();
    // the prefetch may have finished before the first frame was drawn (one-image series)
    this.checkAllLoaded();
  }

  // ------------------------------------------------------------ progressive loading

  private displayedStacks(): Array<{ stack: SeriesStack; current: number }> {
    const result: Array<{ stack: SeriesStack; current: number }> = [];
    for (let i = 0; i < LAYOUT_SLOTS[this.layout]; i++) {
      const slot = this.slots[i]!;
      const viewport = this.viewportOf(slot);
      if (!slot.stack || !viewport) continue;
      result.push({ stack: slot.stack, current: viewport.getCurrentImageIdIndex() });
    }
    return result;
  }

  /** The not yet loaded image nearest to a viewport's current slice, viewports taking turns. */
  private nextToPrefetch(): string | undefined {
    const displayed = this.displayedStacks();
    let best: { id: string; distance: number } | undefined;
    for (const { stack, current } of displayed) {
      const ids = stack.imageIds;
      for (let d = 0; d < ids.length; d++) {
        if (best && d >= best.distance) break;
        const candidates = d === 0 ? [current] : [current + d, current - d];
        const found = candidates.map((i) => ids[i]).find((id) => id !== undefined && !this.loaded.has(id) && !this.failed.has(id) && !this.inFlight.has(id));
        if (found) {
          best = { id: found, distance: d };
          break;
        }
      }
    }
    return best?.id;
  }

  private pumpPrefetch(): void {
    if (this.destroyed) return;
    while (this.inFlight.size < PREFETCH_CONCURRENCY) {
      const id = this.nextToPrefetch();
      if (!id) break;
      this.inFlight.add(id);
      imageLoader
        .loadAndCacheImage(id, { priority: 0, requestType: CoreEnums.RequestType.Prefetch })
        .then(
          () => this.loaded.add(id),
          () => this.failed.add(id),
        )
        .finally(() => {
          this.inFlight.delete(id);
          if (this.destroyed) return;
          this.checkAllLoaded();
          this.scheduleEmit();
          this.pumpPrefetch();
        });
    }
    this.checkAllLoaded();
  }

  private checkAllLoaded(): void {
    if (this.allLoadedFired || this.firstImageAt === undefined) return;
    const displayed = this.displayedStacks();
    if (displayed.length === 0) return;
    // series metadata must be in (the order may still change until then)
    if (this.slots.some((s, i) => i < LAYOUT_SLOTS[this.layout] && s.seriesUid && !s.stack)) return;
    let images = 0;
    for (const { stack } of displayed) {
      for (const id of stack.imageIds) {
        if (!this.loaded.has(id) && !this.failed.has(id)) return;
        if (this.loaded.has(id)) images += 1;
      }
    }
    this.allLoadedFired = true;
    this.state = images > 0 ? 'loaded' : 'error';
    if (images === 0) this.error = this.options.labels.loadFailed;
    window.dispatchEvent(
      new CustomEvent('yunying:all-loaded', { detail: { studyInstanceUid: this.options.studyInstanceUid, ms: Math.round(performance.now() - this.startedAt), images } }),
    );
    this.emit();
  }

  // ------------------------------------------------------------ commands

  private activeViewport(): Types.IStackViewport | undefined {
    return this.viewportOf(this.slots[this.activeSlot]!);
  }

  setActiveSlot(index: number): void {
    if (index === this.activeSlot || index >= LAYOUT_SLOTS[this.layout]) return;
    this.activeSlot = index;
    this.emit();
  }

  setLayout(layout: Layout): void {
    if (layout === this.layout) return;
    const before = LAYOUT_SLOTS[this.layout];
    this.layout = layout;
    this.assignInOrder();
    if (this.activeSlot >= LAYOUT_SLOTS[layout]) this.activeSlot = 0;
    // slots that stay keep their viewport; new ones show when React attaches their element
    for (let i = LAYOUT_SLOTS[layout]; i < before; i++) this.teardownSlot(this.slots[i]!);
    for (let i = 0; i < LAYOUT_SLOTS[layout]; i++) if (this.slots[i]!.element && !this.slots[i]!.stack) this.showSlot(i);
    // the panes change size when React applies the new grid: the resize observer follows then
    this.emit();
  }

  /** Shows a series (thumbnail click) in the active viewport. */
  showSeries(seriesUid: string, index = this.activeSlot): void {
    const slot = this.slots[index];
    if (!slot || slot.seriesUid === seriesUid) return;
    if (slot.cinePlaying && slot.element) toolUtilities.cine.stopClip(slot.element);
    slot.cinePlaying = false;
    slot.seriesUid = seriesUid;
    slot.initialIndex = undefined;
    slot.stack = undefined;
    slot.generation += 1;
    this.emit();
    this.showSlot(index);
  }

  setPrimaryTool(tool: PrimaryTool): void {
    this.tools?.setPrimary(tool);
    this.emit();
  }

  /** A CT window preset (the toolbar offers them for CT only). */
  applyPreset(id: WindowPresetId): void {
    const preset = CT_WINDOW_PRESETS.find((p) => p.id === id);
    const viewport = this.activeViewport();
    if (!preset || !viewport) return;
    viewport.setProperties({ voiRange: toVoiRange(preset.width, preset.center) });
    viewport.render();
    this.emit();
  }

  /** Number keys 1–9: the preset of that number for the active viewport's modality; nothing where none fits. */
  applyPresetKey(key: string): boolean {
    const preset = presetForKey(this.activeModality(), key);
    if (!preset) return false;
    this.applyPreset(preset.id);
    return true;
  }

  /** The image's own window (its VOI from the header, else the loader's full range): 默认窗, key 0. */
  applyDefaultWindow(): void {
    const viewport = this.activeViewport();
    if (!viewport) return;
    const invert = viewport.getProperties().invert;
    viewport.resetProperties();
    if (invert) viewport.setProperties({ invert });
    viewport.render();
    this.emit();
  }

  private activeModality(): string | undefined {
    const uid = this.slots[this.activeSlot]?.seriesUid;
    return this.series.find((s) => s.seriesInstanceUid === uid)?.modality;
  }

  /** Turns the active image 90° clockwise (orientation markers follow). */
  rotate(): void {
    const viewport = this.activeViewport();
    if (!viewport) return;
    const { rotation = 0 } = viewport.getViewPresentation({ rotation: true });
    viewport.setViewPresentation({ rotation: (rotation + 90) % 360 });
    viewport.render();
    this.emit();
  }

  flip(direction: 'horizontal' | 'vertical'): void {
    const viewport = this.activeViewport();
    if (!viewport) return;
    const current = viewport.getViewPresentation({ flipHorizontal: true, flipVertical: true });
    viewport.setViewPresentation(direction === 'horizontal' ? { flipHorizontal: !current.flipHorizontal } : { flipVertical: !current.flipVertical });
    viewport.render();
    this.emit();
  }

  /** The value under the cursor (HU for CT) on or off. */
  toggleProbe(): void {
    this.probeEnabled = !this.probeEnabled;
    if (!this.probeEnabled) this.probe = undefined;
    this.emit();
  }

  /** Synchronised scrolling by position with the other viewers of the page (a prior) on or off. */
  toggleSyncScroll(): void {
    scrollSync.setEnabled(!scrollSync.enabled);
  }

  private joinSync(slot: Slot): void {
    const stack = slot.stack;
    const engine = this.engine;
    if (!stack || !engine || stack.multiframe) return;
    scrollSync.join({
      viewportId: slot.viewportId,
      renderingEngineId: engine.id,
      viewport: () => (slot.stack === stack ? this.viewportOf(slot) : undefined),
      geometry: () => (slot.stack === stack ? syncGeometryOf(stack) : undefined),
    });
  }

  private probeAt(slot: Slot, event: MouseEvent): ProbeReading | undefined {
    const viewport = this.viewportOf(slot);
    const image = viewport?.getCornerstoneImage?.();
    if (!viewport || !image || !slot.element || image.color) return undefined;
    const box = slot.element.getBoundingClientRect();
    const x = event.clientX - box.left;
    const y = event.clientY - box.top;
    const world = viewport.canvasToWorld([x, y]);
    const [column, row] = coreUtilities.worldToImageCoords(viewport.getCurrentImageId(), world) ?? [];
    if (column === undefined || row === undefined) return undefined;
    const i = Math.floor(column);
    const j = Math.floor(row);
    if (i < 0 || j < 0 || i >= image.columns || j >= image.rows) return undefined;
    const stored = image.getPixelData()[j * image.columns + i];
    if (stored === undefined) return undefined;
    // the loader usually applies Rescale Slope/Intercept when it decodes (preScale); if not, here
    const scaled = image.preScale?.scaled ? stored : stored * (image.slope ?? 1) + (image.intercept ?? 0);
    const modality = this.series.find((s) => s.seriesInstanceUid === slot.seriesUid)?.modality;
    const value = Math.abs(scaled) >= 100 ? Math.round(scaled) : Math.round(scaled * 10) / 10;
    return { slot: this.slots.indexOf(slot), x, y, value, unit: modality?.toUpperCase() === 'CT' ? 'HU' : undefined, modality };
  }

  setWindow(width: number, center: number): void {
    const viewport = this.activeViewport();
    if (!viewport) return;
    viewport.setProperties({ voiRange: toVoiRange(width, center) });
    viewport.render();
    this.emit();
  }

  toggleInvert(): void {
    const viewport = this.activeViewport();
    if (!viewport) return;
    viewport.setProperties({ invert: !viewport.getProperties().invert });
    viewport.render();
    this.emit();
  }

  reset(): void {
    const viewport = this.activeViewport();
    if (!viewport) return;
    viewport.resetProperties();
    viewport.setViewPresentation({ rotation: 0, flipHorizontal: false, flipVertical: false });
    viewport.resetCamera();
    viewport.render();
    this.emit();
  }

  scroll(delta: number): void {
    const viewport = this.activeViewport();
    if (!viewport) return;
    const count = viewport.getImageIds().length;
    const target = Math.min(count - 1, Math.max(0, viewport.getCurrentImageIdIndex() + delta));
    if (target !== viewport.getCurrentImageIdIndex()) void viewport.setImageIdIndex(target);
  }

  scrollTo(index: number): void {
    const viewport = this.activeViewport();
    if (!viewport) return;
    const count = viewport.getImageIds().length;
    void viewport.setImageIdIndex(Math.min(count - 1, Math.max(0, index)));
  }

  toggleCine(): void {
    const slot = this.slots[this.activeSlot]!;
    if (!slot.element || !slot.stack || slot.stack.imageIds.length < 2) return;
    if (slot.cinePlaying) {
      toolUtilities.cine.stopClip(slot.element);
      slot.cinePlaying = false;
    } else {
      const fps = framesPerSecondOf(slot.stack.metadataFor(slot.stack.imageIds[0]!));
      toolUtilities.cine.playClip(slot.element, { framesPerSecond: fps, loop: true });
      slot.cinePlaying = true;
    }
    this.emit();
  }

  /**
   * Fits every canvas to its element after a size change. Each viewport keeps its zoom
   * relative to the fitted image and its pan, not its absolute camera: a camera kept from a
   * wider pane crops the image in a narrower one (and a narrower pane's stretches it back).
   */
  resize(): void {
    if (!this.engine || this.destroyed) return;
    const views: Array<{ viewport: Types.IStackViewport; zoom: number; pan: Types.Point2; turned: Types.ViewPresentation }> = [];
    for (const slot of this.slots) {
      const viewport = this.viewportOf(slot);
      if (!viewport?.getCornerstoneImage?.()) continue;
      views.push({ viewport, zoom: viewport.getZoom(), pan: viewport.getPan(), turned: viewport.getViewPresentation({ rotation: true, flipHorizontal: true, flipVertical: true }) });
    }
    this.engine.resize(true, false);
    for (const { viewport, zoom, pan, turned } of views) {
      // the resize resets the camera: rotation and flips first, then the zoom and pan
      if (turned.flipHorizontal || turned.flipVertical || turned.rotation) {
        viewport.setViewPresentation({ flipHorizontal: !!turned.flipHorizontal, flipVertical: !!turned.flipVertical, rotation: turned.rotation ?? 0 });
      }
      viewport.setZoom(zoom);
      viewport.setPan(pan);
      viewport.render();
    }
  }

  thumbnailUrl(seriesUid: string): Promise<string> {
    let url = this.thumbnails.get(seriesUid);
    if (!url) {
      // thumbnails are rendered by the server: after the first image
      url = this.firstImageDrawn.then(() => this.client.seriesThumbnailUrl(this.options.studyInstanceUid, seriesUid, this.abort.signal));
      url.catch(() => undefined);
      this.thumbnails.set(seriesUid, url);
    }
    return url;
  }

  /** Where each shown image lands on screen: the aspect-ratio browser test compares it with the image's. */
  geometry(): ViewportGeometry[] {
    const result: ViewportGeometry[] = [];
    for (let i = 0; i < LAYOUT_SLOTS[this.layout]; i++) {
      const slot = this.slots[i]!;
      const viewport = this.viewportOf(slot);
      const canvas = slot.element?.querySelector('canvas');
      if (!viewport || !canvas || !slot.element || !viewport.getCornerstoneImage?.()) continue;
      const box = slot.element.getBoundingClientRect();
      const dpr = window.devicePixelRatio || 1;
      const { dimensions, spacing, origin, direction } = viewport.getImageData();
      const [columns, rows] = dimensions;
      const along = (axis: number, length: number): Types.Point3 => [0, 1, 2].map((k) => origin[k]! + direction[axis * 3 + k]! * length) as Types.Point3;
      const topLeft = viewport.worldToCanvas(origin as Types.Point3);
      const topRight = viewport.worldToCanvas(along(0, columns * spacing[0]));
      const bottomLeft = viewport.worldToCanvas(along(1, rows * spacing[1]));
      // Cornerstone's canvas units are backing-store pixels / dpr; the browser stretches them to the CSS box
      const sx = box.width / (canvas.width / dpr);
      const sy = box.height / (canvas.height / dpr);
      const onScreen = (a: Types.Point2, b: Types.Point2) => Math.hypot((b[0] - a[0]) * sx, (b[1] - a[1]) * sy);
      result.push({
        slot: i,
        cssWidth: box.width,
        cssHeight: box.height,
        canvasWidth: canvas.width,
        canvasHeight: canvas.height,
        devicePixelRatio: dpr,
        columns,
        rows,
        imageWidthMm: columns * spacing[0],
        imageHeightMm: rows * spacing[1],
        drawnWidth: onScreen(topLeft, topRight),
        drawnHeight: onScreen(topLeft, bottomLeft),
        zoom: viewport.getZoom(),
      });
    }
    return result;
  }

  // ------------------------------------------------------------ report aids (measurements.ts)

  /** The elements of the shown viewports, the active one first: their annotations are the measurements. */
  measurementElements(): HTMLDivElement[] {
    const elements: HTMLDivElement[] = [];
    for (const slot of [this.slots[this.activeSlot], ...this.slots.slice(0, LAYOUT_SLOTS[this.layout])]) {
      if (slot?.element && slot.enabled && !elements.includes(slot.element)) elements.push(slot.element);
    }
    return elements;
  }

  /** The image the active viewport shows (a wadors: image id). */
  currentImageId(): string | undefined {
    return this.activeViewport()?.getCurrentImageId();
  }

  /** Series number and Instance Number of an image on screen, for "序列 2，图像 45". */
  describeImage(imageId: string): { seriesNumber?: number; instanceNumber?: number } {
    for (const slot of this.slots) {
      if (!slot.stack?.imageIds.includes(imageId)) continue;
      const instanceNumber = Number(slot.stack.metadataFor(imageId)?.['00200013']?.Value?.[0]);
      const seriesNumber = this.series.find((s) => s.seriesInstanceUid === slot.seriesUid)?.seriesNumber;
      return { seriesNumber, instanceNumber: Number.isFinite(instanceNumber) ? instanceNumber : undefined };
    }
    return {};
  }

  /**
   * Shows one image in the active viewport (a key image the reviewer clicks): its series,
   * then that instance's frame. False when the study has no such image.
   */
  async showImage(seriesUid: string, sopInstanceUid: string, frame = 1): Promise<boolean> {
    await this.start();
    const series = this.series.find((s) => s.seriesInstanceUid === seriesUid);
    if (!series || this.destroyed) return false;
    const slot = this.slots[this.activeSlot]!;
    this.showSeries(seriesUid);
    const stack = await this.stackFor(series);
    const suffix = `/instances/${encodeURIComponent(sopInstanceUid)}/frames/${frame}`;
    const index = stack.imageIds.findIndex((id) => id.endsWith(suffix));
    if (index < 0) return false;
    // the slot takes the stack once its first image is drawn
    for (let waited = 0; waited < 20_000 && !this.destroyed; waited += 50) {
      const viewport = this.viewportOf(slot);
      if (slot.seriesUid !== seriesUid) return false;
      if (slot.stack === stack && viewport?.getCornerstoneImage?.() && viewport.getImageIds().length === stack.imageIds.length) {
        await viewport.setImageIdIndex(index);
        this.emit();
        return true;
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    return false;
  }

  // ------------------------------------------------------------ snapshot

  private scheduleEmit(): void {
    if (this.scheduled || this.destroyed) return;
    this.scheduled = true;
    requestAnimationFrame(() => {
      this.scheduled = false;
      this.emit();
    });
  }

  /** The UI language changed: the overlay, ROI statistics and messages use these labels from now on. */
  setLabels(labels: ViewerLabels): void {
    this.options.labels = labels;
    this.tools?.setLabels(labels);
    this.engine?.render();
    this.emit();
  }

  private emit(): void {
    if (this.destroyed) return;
    this.options.onChange(this.snapshot());
  }

  snapshot(): ViewerSnapshot {
    const n = LAYOUT_SLOTS[this.layout];
    const viewports: ViewportSnapshot[] = [];
    const elements: HTMLDivElement[] = [];
    for (let i = 0; i < n; i++) {
      const slot = this.slots[i]!;
      if (slot.element && slot.enabled) elements.push(slot.element);
      viewports.push(this.viewportSnapshot(slot));
    }
    return {
      state: this.state,
      error: this.error,
      series: this.series,
      layout: this.layout,
      activeSlot: this.activeSlot,
      primaryTool: this.tools?.primaryTool ?? 'windowLevel',
      viewports,
      measurements: countMeasurements(elements),
      protocol: this.protocol,
      probeEnabled: this.probeEnabled,
      probe: this.probe,
      syncScroll: scrollSync.enabled,
    };
  }

  private viewportSnapshot(slot: Slot): ViewportSnapshot {
    const stack = slot.stack;
    const viewport = this.viewportOf(slot);
    const base: ViewportSnapshot = {
      seriesInstanceUid: slot.seriesUid,
      currentSlice: 0,
      sliceCount: stack?.imageIds.length ?? 0,
      cachedCount: stack ? stack.imageIds.filter((id) => this.loaded.has(id)).length : 0,
      invert: false,
      multiframe: stack?.multiframe ?? false,
      cinePlaying: slot.cinePlaying,
      overlay: EMPTY_OVERLAY,
      modality: this.series.find((s) => s.seriesInstanceUid === slot.seriesUid)?.modality,
    };
    if (!stack || !viewport || !viewport.getCornerstoneImage?.()) return base;
    const index = viewport.getCurrentImageIdIndex();
    const properties = viewport.getProperties();
    const window = properties.voiRange ? toWindow(properties.voiRange) : undefined;
    let zoom: number | undefined;
    try {
      zoom = viewport.getZoom();
    } catch {
      zoom = undefined;
    }
    const imageId = stack.imageIds[index];
    const metadata = imageId ? stack.metadataFor(imageId) : undefined;
    const frame = stack.multiframe ? index + 1 : undefined;
    const overlay = computeOverlay(metadata, { imageIndex: index + 1, imageCount: stack.imageIds.length, frame, window, zoom }, this.options.labels);
    const presentation = viewport.getViewPresentation({ rotation: true, flipHorizontal: true, flipVertical: true });
    return {
      ...base,
      currentSlice: index + 1,
      window,
      voi: properties.voiRange ? { lower: properties.voiRange.lower, upper: properties.voiRange.upper } : undefined,
      zoom,
      invert: properties.invert ?? false,
      overlay,
      orientation: metadata && numberValues(metadata, TAG.ImageOrientationPatient) ? screenMarkers(viewport) : undefined,
      rotation: presentation.rotation,
      flipHorizontal: presentation.flipHorizontal,
      flipVertical: presentation.flipVertical,
    };
  }
}

/** The orientation markers of what the viewport shows: the world directions of the canvas's right and down. */
function screenMarkers(viewport: Types.IStackViewport): OrientationMarkers | undefined {
  try {
    const origin = viewport.canvasToWorld([0, 0]);
    const right = viewport.canvasToWorld([100, 0]);
    const down = viewport.canvasToWorld([0, 100]);
    const minus = (a: Types.Point3, b: Types.Point3): Vec3 => [a[0] - b[0], a[1] - b[1], a[2] - b[2]];
    return markersFor(minus(right, origin), minus(down, origin));
  } catch {
    return undefined;
  }
}

/** Positions, orientation and frame of reference of a stack's slices, from their metadata. */
function syncGeometryOf(stack: SeriesStack): SyncStackGeometry {
  let orientation: number[] | undefined;
  let frameOfReferenceUid: string | undefined;
  const positions = stack.imageIds.map((id) => {
    const ds = stack.metadataFor(id);
    if (!ds) return undefined;
    orientation ??= numberValues(ds, TAG.ImageOrientationPatient);
    frameOfReferenceUid ??= stringValue(ds, TAG.FrameOfReferenceUID);
    const position = numberValues(ds, TAG.ImagePositionPatient);
    return position && position.length === 3 ? position : undefined;
  });
  return { orientation, frameOfReferenceUid, positions };
}

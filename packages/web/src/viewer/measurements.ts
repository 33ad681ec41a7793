/**
 * Measurements and the current image, out of the viewer for the report (issue 14, item 7):
 * the Cornerstone3D annotation state of the viewer's viewports (length, angle, rectangle and
 * ellipse ROI) with the image each was drawn on, and the image the radiologist marks as a key
 * image. The image is named by its UIDs and frame (parsed from the wadors: image id) and by
 * series and instance number for the text ("序列 2，图像 45").
 */
import { AngleTool, EllipticalROITool, LengthTool, RectangleROITool, annotation } from '@cornerstonejs/tools';
import type { ViewerController } from './viewer-controller.ts';

export type MeasurementKind = 'length' | 'angle' | 'rectangleRoi' | 'ellipseRoi';

export interface ViewerImageRef {
  studyInstanceUid: string;
  seriesInstanceUid: string;
  sopInstanceUid: string;
  frame: number;
  seriesNumber: number | null;
  instanceNumber: number | null;
}

export interface ViewerMeasurement extends ViewerImageRef {
  /** the annotation's UID: the same measurement is inserted once */
  uid: string;
  tool: MeasurementKind;
  /** length in its unit (mm where the image has a pixel spacing), angle in degrees, ROI area */
  value: number;
  unit: string;
  /** ROIs: the mean pixel value and its unit (HU on CT) */
  mean?: number;
  meanUnit?: string;
}

const TOOLS: Array<[string, MeasurementKind]> = [
  [LengthTool.toolName, 'length'],
  [AngleTool.toolName, 'angle'],
  [RectangleROITool.toolName, 'rectangleRoi'],
  [EllipticalROITool.toolName, 'ellipseRoi'],
];

const IMAGE_ID = /\/studies\/([^/]+)\/series\/([^/]+)\/instances\/([^/]+)\/frames\/(\d+)/;

/** Study, series, instance and frame of a wadors: image id; undefined for another kind of id. */
export function parseImageId(imageId: string | undefined): Omit<ViewerImageRef, 'seriesNumber' | 'instanceNumber'> | undefined {
  const match = imageId ? IMAGE_ID.exec(imageId) : null;
  if (!match) return undefined;
  const [, study, series, instance, frame] = match;
  return { studyInstanceUid: decodeURIComponent(study!), seriesInstanceUid: decodeURIComponent(series!), sopInstanceUid: decodeURIComponent(instance!), frame: Number(frame) };
}

function imageRef(controller: ViewerController, imageId: string | undefined): ViewerImageRef | undefined {
  const parsed = parseImageId(imageId);
  if (!parsed || !imageId) return undefined;
  const { seriesNumber, instanceNumber } = controller.describeImage(imageId);
  return { ...parsed, seriesNumber: seriesNumber ?? null, instanceNumber: instanceNumber ?? null };
}

interface CachedStats {
  length?: number;
  unit?: string;
  angle?: number;
  area?: number;
  areaUnit?: string;
  mean?: number;
  modalityUnit?: string;
}

/** The measurements drawn in the viewer, in the order they were drawn (each once). */
export function readMeasurements(controller: ViewerController | undefined): ViewerMeasurement[] {
  if (!controller) return [];
  const seen = new Set<string>();
  const out: ViewerMeasurement[] = [];
  for (const element of controller.measurementElements()) {
    for (const [toolName, tool] of TOOLS) {
      for (const item of annotation.state.getAnnotations(toolName, element) ?? []) {
        const uid = item.annotationUID;
        if (!uid || seen.has(uid)) continue;
        const ref = imageRef(controller, item.metadata?.referencedImageId);
        const stats = Object.values((item.data as { cachedStats?: Record<string, CachedStats> }).cachedStats ?? {})[0];
        if (!ref || !stats) continue;
        const measured = valueOf(tool, stats);
        if (!measured) continue;
        seen.add(uid);
        out.push({ uid, tool, ...ref, ...measured });
      }
    }
  }
  return out;
}

/**
 * Reports write millimetres: Cornerstone measures an ultrasound image through its calibrated
 * region in centimetres ("cm US Region"), a projection image "mm PRJ", one without spacing in px.
 */
export function toMillimetres(value: number, unit: string | undefined, power: 1 | 2 = 1): { value: number; unit: string } {
  const plain = (unit ?? 'mm').replace(/\s+(US Region|PRJ|ERMF|ERR|Est|Aspect|Calibrated|Unknown)\b.*$/i, '').replace(/2$/, '²').trim() || 'mm';
  if (plain === 'cm' || plain === 'cm²') return { value: value * (power === 2 ? 100 : 10), unit: power === 2 ? 'mm²' : 'mm' };
  return { value, unit: plain };
}

function valueOf(tool: MeasurementKind, stats: CachedStats): Pick<ViewerMeasurement, 'value' | 'unit' | 'mean' | 'meanUnit'> | undefined {
  const finite = (value: number | undefined): value is number => typeof value === 'number' && Number.isFinite(value);
  if (tool === 'length') return finite(stats.length) ? toMillimetres(stats.length, stats.unit) : undefined;
  if (tool === 'angle') return finite(stats.angle) ? { value: stats.angle, unit: '°' } : undefined;
  if (!finite(stats.area)) return undefined;
  return { ...toMillimetres(stats.area, stats.areaUnit ?? 'mm²', 2), ...(finite(stats.mean) ? { mean: stats.mean, meanUnit: stats.modalityUnit ?? '' } : {}) };
}

/** The image the active viewport shows: the radiologist's key image. */
export function currentImage(controller: ViewerController | undefined): ViewerImageRef | undefined {
  return controller ? imageRef(controller, controller.currentImageId()) : undefined;
}

/** One decimal, as reports write measurements (23.4 mm, 35.2°). */
export function roundMeasurement(value: number): string {
  return (Math.round(value * 10) / 10).toFixed(1);
}

/**
 * Cornerstone3D tools of one viewer: a tool group over its viewports with the mouse
 * bindings radiologists expect — the chosen tool on the left button, zoom on the right,
 * pan on the middle, stack scroll on the wheel.
 */
import {
  AngleTool,
  EllipticalROITool,
  Enums as ToolEnums,
  LengthTool,
  MagnifyTool,
  PanTool,
  RectangleROITool,
  StackScrollTool,
  ToolGroupManager,
  WindowLevelTool,
  ZoomTool,
  addTool,
  annotation,
  type Types as ToolTypes,
} from '@cornerstonejs/tools';
import type { ViewerLabels } from './labels.ts';

export type PrimaryTool = 'windowLevel' | 'pan' | 'zoom' | 'scroll' | 'magnify' | 'length' | 'angle' | 'rectangleRoi' | 'ellipseRoi';

export const PRIMARY_TOOLS: readonly PrimaryTool[] = ['windowLevel', 'pan', 'zoom', 'scroll', 'magnify', 'length', 'angle', 'rectangleRoi', 'ellipseRoi'];

const TOOL_NAMES: Record<PrimaryTool, string> = {
  windowLevel: WindowLevelTool.toolName,
  pan: PanTool.toolName,
  zoom: ZoomTool.toolName,
  scroll: StackScrollTool.toolName,
  magnify: MagnifyTool.toolName,
  length: LengthTool.toolName,
  angle: AngleTool.toolName,
  rectangleRoi: RectangleROITool.toolName,
  ellipseRoi: EllipticalROITool.toolName,
};

const MEASUREMENT_TOOLS = [LengthTool.toolName, AngleTool.toolName, RectangleROITool.toolName, EllipticalROITool.toolName];

const ROI_TOOLS = [RectangleROITool.toolName, EllipticalROITool.toolName];

/** What cornerstone caches per target for a rectangle or ellipse ROI. */
interface RoiStats {
  area?: number;
  mean?: number;
  max?: number;
  min?: number;
  stdDev?: number;
  isEmptyArea?: boolean;
  areaUnit?: string;
  modalityUnit?: string;
}

const round = (value: number) => (Math.abs(value) >= 100 ? value.toFixed(0) : value.toFixed(2).replace(/\.?0+$/, ''));

/** ROI statistics lines in the viewer's language (cornerstone's own are English). */
export function roiTextLines(stats: RoiStats | undefined, labels: ViewerLabels): string[] {
  if (!stats) return [];
  const lines: string[] = [];
  const unit = stats.modalityUnit ? ` ${stats.modalityUnit}` : '';
  if (typeof stats.area === 'number') lines.push(stats.isEmptyArea ? `${labels.roiArea}: ${labels.roiOblique}` : `${labels.roiArea}: ${round(stats.area)} ${stats.areaUnit ?? ''}`.trimEnd());
  if (typeof stats.mean === 'number') lines.push(`${labels.roiMean}: ${round(stats.mean)}${unit}`);
  if (typeof stats.max === 'number') lines.push(`${labels.roiMax}: ${round(stats.max)}${unit}`);
  if (typeof stats.min === 'number') lines.push(`${labels.roiMin}: ${round(stats.min)}${unit}`);
  if (typeof stats.stdDev === 'number') lines.push(`${labels.roiStdDev}: ${round(stats.stdDev)}${unit}`);
  return lines;
}

let registered = false;

function registerTools(): void {
  if (registered) return;
  for (const tool of [WindowLevelTool, PanTool, ZoomTool, StackScrollTool, MagnifyTool, LengthTool, AngleTool, RectangleROITool, EllipticalROITool]) addTool(tool);
  registered = true;
}

const { MouseBindings } = ToolEnums;

export class ViewerTools {
  readonly group: ToolTypes.IToolGroup;
  private primary: PrimaryTool = 'windowLevel';

  private labels: ViewerLabels | undefined;

  constructor(readonly groupId: string, labels?: ViewerLabels) {
    this.labels = labels;
    registerTools();
    const group = ToolGroupManager.createToolGroup(groupId);
    if (!group) throw new Error(`tool group ${groupId} exists already`);
    this.group = group;
    for (const name of Object.values(TOOL_NAMES)) group.addTool(name);
    // wheel scrolls the stack whatever the left button does
    group.addToolInstance('WheelScroll', StackScrollTool.toolName);
    group.setToolActive('WheelScroll', { bindings: [{ mouseButton: MouseBindings.Wheel }] });
    // right button zooms and middle button pans whatever the left button does
    group.setToolActive(ZoomTool.toolName, { bindings: [{ mouseButton: MouseBindings.Secondary }] });
    group.setToolActive(PanTool.toolName, { bindings: [{ mouseButton: MouseBindings.Auxiliary }] });
    for (const measurement of MEASUREMENT_TOOLS) group.setToolPassive(measurement);
    group.setToolActive(TOOL_NAMES.windowLevel, { bindings: [{ mouseButton: MouseBindings.Primary }] });
    // ROI statistics read the current labels each time they are drawn, so a language switch
    // relabels the ROIs already on the image at their next render
    for (const name of ROI_TOOLS) {
      group.setToolConfiguration(name, { getTextLines: (data: { cachedStats: Record<string, RoiStats> }, targetId: string) => (this.labels ? roiTextLines(data.cachedStats[targetId], this.labels) : undefined) });
    }
  }

  /** The viewer's language changed. */
  setLabels(labels: ViewerLabels): void {
    this.labels = labels;
  }

  get primaryTool(): PrimaryTool {
    return this.primary;
  }

  setPrimary(tool: PrimaryTool): void {
    if (tool === this.primary) return;
    // passive takes the left button away and keeps the other bindings (zoom, pan), and
    // measurements stay visible and editable
    this.group.setToolPassive(TOOL_NAMES[this.primary]);
    this.primary = tool;
    this.group.setToolActive(TOOL_NAMES[tool], { bindings: [{ mouseButton: MouseBindings.Primary }] });
  }

  addViewport(viewportId: string, renderingEngineId: string): void {
    this.group.addViewport(viewportId, renderingEngineId);
  }

  removeViewport(viewportId: string, renderingEngineId: string): void {
    this.group.removeViewports(renderingEngineId, viewportId);
  }

  destroy(): void {
    ToolGroupManager.destroyToolGroup(this.groupId);
  }
}

/** Measurements drawn in the given viewport elements (all annotations of the measurement tools). */
export function countMeasurements(elements: HTMLDivElement[]): number {
  // annotations are kept by frame of reference: viewports that share one see the same ones
  const uids = new Set<string>();
  for (const element of elements) {
    for (const name of MEASUREMENT_TOOLS) {
      for (const item of annotation.state.getAnnotations(name, element) ?? []) uids.add(item.annotationUID ?? `${uids.size}`);
    }
  }
  return uids.size;
}

export function removeAllMeasurements(): void {
  annotation.state.removeAllAnnotations();
}

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

export type PrimaryTool = 'windowLevel' | 'pan' | 'zoom' | 'scroll' | 'length' | 'angle' | 'rectangleRoi' | 'ellipseRoi';

export const PRIMARY_TOOLS: readonly PrimaryTool[] = ['windowLevel', 'pan', 'zoom', 'scroll', 'length', 'angle', 'rectangleRoi', 'ellipseRoi'];

const TOOL_NAMES: Record<PrimaryTool, string> = {
  windowLevel: WindowLevelTool.toolName,
  pan: PanTool.toolName,
  zoom: ZoomTool.toolName,
  scroll: StackScrollTool.toolName,
  length: LengthTool.toolName,
  angle: AngleTool.toolName,
  rectangleRoi: RectangleROITool.toolName,
  ellipseRoi: EllipticalROITool.toolName,
};

const MEASUREMENT_TOOLS = [LengthTool.toolName, AngleTool.toolName, RectangleROITool.toolName, EllipticalROITool.toolName];

let registered = false;

function registerTools(): void {
  if (registered) return;
  for (const tool of [WindowLevelTool, PanTool, ZoomTool, StackScrollTool, LengthTool, AngleTool, RectangleROITool, EllipticalROITool]) addTool(tool);
  registered = true;
}

const { MouseBindings } = ToolEnums;

export class ViewerTools {
  readonly group: ToolTypes.IToolGroup;
  private primary: PrimaryTool = 'windowLevel';

  constructor(readonly groupId: string) {
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

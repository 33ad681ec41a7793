/**
 * The diagnostic viewer the app embeds: series thumbnails, 1×1/1×2/2×2 hanging by series,
 * stack scroll (wheel, drag, arrow keys), cine for multi-frame, window/level with presets,
 * zoom/pan, length/angle/ROI measurements, invert, reset and overlay text, on Cornerstone3D
 * reading from our DICOMweb. See viewer-controller.ts for the imperative side.
 *
 * DOM contract for tests: the root has data-testid="study-viewer", data-state
 * (loading|first-image|loaded|error), data-current-slice (1-based, active viewport),
 * data-window ("W/C" of the active viewport) and data-measurements (count); window events
 * 'yunying:first-image' and 'yunying:all-loaded'.
 */
import { useEffect, useMemo, useRef, useState, type KeyboardEvent, type JSX } from 'react';
import { AimOutlined, LinkOutlined, RotateRightOutlined, SwapOutlined } from '@ant-design/icons';
import { Button, ConfigProvider, Segmented, Space, Tooltip, theme } from 'antd';
import { resolveLabels, type ViewerLabels } from './labels.ts';
import { presetsFor } from './presets.ts';
import { PRIMARY_TOOLS, type PrimaryTool } from './tools.ts';
import { LAYOUT_SLOTS, ViewerController, type Layout, type ProbeReading, type ViewerSnapshot, type ViewportSnapshot } from './viewer-controller.ts';
import type { SeriesSummary } from './dicomweb-loader.ts';
import './viewer.css';

export interface StudyViewerProps {
  studyInstanceUid: string;
  /** e.g. '/dicom-web' */
  dicomWebRoot: string;
  /** adds the Authorization header to every request the viewer makes */
  authorizationHeader: () => string;
  /** compact layout for a side-by-side prior */
  compact?: boolean;
  /** labels from the app's i18n (any subset); 简体中文 by default */
  labels?: Partial<ViewerLabels>;
  /** 'en' for the English defaults */
  locale?: string;
  /** the page gets the viewer's controller (measurements and key images for the report: measurements.ts) */
  onController?: (controller: ViewerController | undefined) => void;
}

const INITIAL: ViewerSnapshot = { state: 'loading', series: [], layout: '1x1', activeSlot: 0, primaryTool: 'windowLevel', viewports: [], measurements: 0, probeEnabled: false, syncScroll: false };

/** Keyboard shortcuts of the viewer (shown in the toolbar's tooltips); digits 1–9 are the modality's window presets, 0 the default window. */
export const SHORTCUTS = {
  rotate: 'R',
  flipHorizontal: 'H',
  flipVertical: 'V',
  magnify: 'M',
  probe: 'U',
  syncScroll: 'S',
  invert: 'I',
  defaultWindow: '0',
} as const;

/** "label (key)" for a tooltip. */
const withKey = (label: string, key: string) => `${label} (${key})`;

const TOOL_LABEL: Record<PrimaryTool, keyof ViewerLabels> = {
  windowLevel: 'windowLevel',
  pan: 'pan',
  zoom: 'zoom',
  scroll: 'scroll',
  magnify: 'magnify',
  length: 'length',
  angle: 'angle',
  rectangleRoi: 'rectangleRoi',
  ellipseRoi: 'ellipseRoi',
};

const LAYOUTS: Layout[] = ['1x1', '1x2', '2x2'];

export function StudyViewer(props: StudyViewerProps): JSX.Element {
  const { studyInstanceUid, dicomWebRoot, compact = false } = props;
  const labels = useMemo(() => resolveLabels(props.locale, props.labels), [props.locale, props.labels]);
  const labelsRef = useRef(labels);
  labelsRef.current = labels;
  const authorizationRef = useRef(props.authorizationHeader);
  authorizationRef.current = props.authorizationHeader;
  const [controller, setController] = useState<ViewerController>();
  const [snapshot, setSnapshot] = useState<ViewerSnapshot>(INITIAL);

  useEffect(() => {
    const created = new ViewerController({
      studyInstanceUid,
      dicomWebRoot,
      authorizationHeader: () => authorizationRef.current(),
      labels: labelsRef.current,
      onChange: setSnapshot,
    });
    setSnapshot(INITIAL);
    setController(created);
    void created.start();
    return () => created.destroy();
  }, [studyInstanceUid, dicomWebRoot]);

  // a language switch relabels a viewer that is already open (overlay, ROI statistics)
  useEffect(() => controller?.setLabels(labels), [controller, labels]);

  // the report editor around the viewer reads measurements and the current image through the controller
  const onControllerRef = useRef(props.onController);
  onControllerRef.current = props.onController;
  useEffect(() => {
    onControllerRef.current?.(controller);
    return () => onControllerRef.current?.(undefined);
  }, [controller]);

  // one stable ref callback per pane and controller (a new function each render would detach and re-attach)
  const paneRefs = useMemo(() => [0, 1, 2, 3].map((i) => (element: HTMLDivElement | null) => controller?.attachElement(i, element)), [controller]);

  // each viewport element's size is watched by the controller (layout changes resize panes, not the grid)

  const active: ViewportSnapshot | undefined = snapshot.viewports[snapshot.activeSlot];
  const onKeyDown = (event: KeyboardEvent<HTMLDivElement>) => {
    if (!controller) return;
    const steps: Record<string, number> = { ArrowUp: -1, ArrowLeft: -1, ArrowDown: 1, ArrowRight: 1, PageUp: -10, PageDown: 10 };
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    const key = event.key.length === 1 ? event.key.toUpperCase() : event.key;
    if (event.key in steps) controller.scroll(steps[event.key]!);
    else if (event.key === 'Home') controller.scrollTo(0);
    else if (event.key === 'End') controller.scrollTo(Number.MAX_SAFE_INTEGER);
    else if (/^[1-9]$/.test(key)) controller.applyPresetKey(key);
    else if (key === SHORTCUTS.defaultWindow) controller.applyDefaultWindow();
    else if (key === SHORTCUTS.rotate) controller.rotate();
    else if (key === SHORTCUTS.flipHorizontal) controller.flip('horizontal');
    else if (key === SHORTCUTS.flipVertical) controller.flip('vertical');
    else if (key === SHORTCUTS.magnify) controller.setPrimaryTool(snapshot.primaryTool === 'magnify' ? 'windowLevel' : 'magnify');
    else if (key === SHORTCUTS.probe) controller.toggleProbe();
    else if (key === SHORTCUTS.syncScroll) controller.toggleSyncScroll();
    else if (key === SHORTCUTS.invert) controller.toggleInvert();
    else return;
    event.preventDefault();
  };

  const slots = LAYOUT_SLOTS[snapshot.layout];
  const windowText = active?.window ? `${active.window.width}/${active.window.center}` : '';

  return (
    <ConfigProvider theme={{ algorithm: theme.darkAlgorithm }}>
      <div
        className={`yy-viewer${compact ? ' yy-viewer--compact' : ''}`}
        data-testid="study-viewer"
        data-state={snapshot.state}
        data-current-slice={active?.currentSlice ?? 0}
        data-slice-count={active?.sliceCount ?? 0}
        data-window={windowText}
        data-measurements={snapshot.measurements}
        data-layout={snapshot.layout}
        data-protocol={snapshot.protocol ?? ''}
        data-modality={active?.modality ?? ''}
        data-sync-scroll={snapshot.syncScroll ? 'on' : 'off'}
        tabIndex={0}
        onKeyDown={onKeyDown}
      >
        <Toolbar controller={controller} snapshot={snapshot} labels={labels} compact={compact} />
        <div className="yy-viewer__body">
          {!compact && <ThumbnailStrip controller={controller} series={snapshot.series} activeSeries={active?.seriesInstanceUid} labels={labels} />}
          <div className={`yy-viewer__grid yy-viewer__grid--${snapshot.layout}`}>
            {Array.from({ length: slots }, (_, i) => (
              <Pane
                key={i}
                index={i}
                refCallback={paneRefs[i]!}
                viewport={snapshot.viewports[i]}
                active={i === snapshot.activeSlot && slots > 1}
                onActivate={() => controller?.setActiveSlot(i)}
                probe={snapshot.probe?.slot === i ? snapshot.probe : undefined}
                labels={labels}
              />
            ))}
            {snapshot.state === 'loading' && <div className="yy-viewer__message">{labels.loading}</div>}
            {snapshot.state === 'error' && (
              <div className="yy-viewer__message yy-viewer__message--error" role="alert">
                {labels.loadFailed}
                {snapshot.error ? `: ${snapshot.error}` : ''}
              </div>
            )}
          </div>
        </div>
      </div>
    </ConfigProvider>
  );
}

function Toolbar({ controller, snapshot, labels, compact }: { controller?: ViewerController; snapshot: ViewerSnapshot; labels: ViewerLabels; compact: boolean }) {
  const active = snapshot.viewports[snapshot.activeSlot];
  const size = compact ? 'small' : 'middle';
  const presets = presetsFor(active?.modality);
  const iconButton = (testId: string, label: string, key: string, icon: JSX.Element, onClick: () => void, pressed?: boolean) => (
    <Tooltip title={withKey(label, key)}>
      <Button size={size} data-testid={testId} aria-label={label} aria-pressed={pressed} type={pressed ? 'primary' : 'default'} icon={icon} onClick={onClick} />
    </Tooltip>
  );
  return (
    <div className="yy-viewer__toolbar" role="toolbar">
      <Space wrap size={4}>
        {PRIMARY_TOOLS.map((tool) => {
          const button = (
            <Button
              key={tool}
              size={size}
              type={snapshot.primaryTool === tool ? 'primary' : 'default'}
              data-testid={`viewer-tool-${tool}`}
              aria-pressed={snapshot.primaryTool === tool}
              onClick={() => controller?.setPrimaryTool(tool)}
            >
              {labels[TOOL_LABEL[tool]]}
            </Button>
          );
          return tool === 'magnify' ? (
            <Tooltip key={tool} title={withKey(labels.magnify, SHORTCUTS.magnify)}>
              {button}
            </Tooltip>
          ) : (
            button
          );
        })}
      </Space>
      <Space wrap size={4} data-testid="viewer-presets">
        {presets.map((preset, i) => (
          <Tooltip key={preset.id} title={`${withKey(labels[preset.id], String(i + 1))} ${preset.width}/${preset.center}`}>
            <Button size={size} data-testid={`viewer-preset-${preset.id}`} onClick={() => controller?.applyPreset(preset.id)}>
              {labels[preset.id]}
            </Button>
          </Tooltip>
        ))}
        <Tooltip title={withKey(labels.defaultWindow, SHORTCUTS.defaultWindow)}>
          <Button size={size} data-testid="viewer-preset-default" onClick={() => controller?.applyDefaultWindow()}>
            {labels.defaultWindow}
          </Button>
        </Tooltip>
      </Space>
      <Space wrap size={4}>
        {iconButton('viewer-rotate', labels.rotate, SHORTCUTS.rotate, <RotateRightOutlined />, () => controller?.rotate())}
        {iconButton('viewer-flip-h', labels.flipHorizontal, SHORTCUTS.flipHorizontal, <SwapOutlined />, () => controller?.flip('horizontal'), active?.flipHorizontal)}
        {iconButton('viewer-flip-v', labels.flipVertical, SHORTCUTS.flipVertical, <SwapOutlined rotate={90} />, () => controller?.flip('vertical'), active?.flipVertical)}
        {iconButton('viewer-probe', labels.probe, SHORTCUTS.probe, <AimOutlined />, () => controller?.toggleProbe(), snapshot.probeEnabled)}
        {iconButton('viewer-sync-scroll', labels.syncScroll, SHORTCUTS.syncScroll, <LinkOutlined />, () => controller?.toggleSyncScroll(), snapshot.syncScroll)}
      </Space>
      <Space wrap size={4}>
        <Tooltip title={withKey(labels.invert, SHORTCUTS.invert)}>
          <Button size={size} data-testid="viewer-invert" type={active?.invert ? 'primary' : 'default'} onClick={() => controller?.toggleInvert()}>
            {labels.invert}
          </Button>
        </Tooltip>
        <Button size={size} data-testid="viewer-reset" onClick={() => controller?.reset()}>
          {labels.reset}
        </Button>
        {active?.multiframe && (
          <Button size={size} data-testid="viewer-cine" type={active.cinePlaying ? 'primary' : 'default'} onClick={() => controller?.toggleCine()}>
            {active.cinePlaying ? labels.cineStop : labels.cinePlay}
          </Button>
        )}
        <Segmented
          size={compact ? 'small' : 'middle'}
          aria-label={labels.layout}
          value={snapshot.layout}
          options={LAYOUTS.map((layout) => ({ value: layout, label: <span data-testid={`viewer-layout-${layout}`}>{layout.replace('x', '×')}</span> }))}
          onChange={(value) => controller?.setLayout(value as Layout)}
        />
      </Space>
    </div>
  );
}

function ThumbnailStrip({ controller, series, activeSeries, labels }: { controller?: ViewerController; series: SeriesSummary[]; activeSeries?: string; labels: ViewerLabels }) {
  return (
    <div className="yy-viewer__thumbnails" data-testid="viewer-thumbnails">
      {series.map((s) => (
        <button
          key={s.seriesInstanceUid}
          type="button"
          className={`yy-viewer__thumbnail${s.seriesInstanceUid === activeSeries ? ' yy-viewer__thumbnail--active' : ''}`}
          data-testid="viewer-thumbnail"
          data-series-uid={s.seriesInstanceUid}
          onClick={() => controller?.showSeries(s.seriesInstanceUid)}
        >
          <Thumbnail controller={controller} seriesUid={s.seriesInstanceUid} fallback={s.modality} />
          <span className="yy-viewer__thumbnail-text">
            {s.modality} {s.seriesNumber !== undefined ? `#${s.seriesNumber}` : ''} {s.instanceCount !== undefined ? `${s.instanceCount} ${labels.images}` : ''}
          </span>
          {s.description && <span className="yy-viewer__thumbnail-text">{s.description}</span>}
        </button>
      ))}
    </div>
  );
}

/** The server's rendering of the series; its modality where the server cannot render it (e.g. a syntax it does not decode). */
function Thumbnail({ controller, seriesUid, fallback }: { controller?: ViewerController; seriesUid: string; fallback: string }) {
  const [src, setSrc] = useState<string>();
  const [failed, setFailed] = useState(false);
  useEffect(() => {
    let live = true;
    controller?.thumbnailUrl(seriesUid).then(
      (url) => live && setSrc(url),
      () => live && setFailed(true),
    );
    return () => {
      live = false;
    };
  }, [controller, seriesUid]);
  if (src) return <img className="yy-viewer__thumbnail-image" src={src} alt="" />;
  return <span className="yy-viewer__thumbnail-image yy-viewer__thumbnail-image--text">{failed ? fallback : ''}</span>;
}

function Pane({
  index,
  refCallback,
  viewport,
  active,
  onActivate,
  probe,
  labels,
}: {
  index: number;
  refCallback: (el: HTMLDivElement | null) => void;
  viewport?: ViewportSnapshot;
  active: boolean;
  onActivate: () => void;
  probe?: ProbeReading;
  labels: ViewerLabels;
}) {
  const overlay = viewport?.overlay;
  const orientation = viewport?.orientation;
  return (
    <div className={`yy-viewer__pane${active ? ' yy-viewer__pane--active' : ''}`} data-testid="viewer-pane" data-slot={index} onMouseDownCapture={onActivate} onContextMenu={(e) => e.preventDefault()}>
      <div ref={refCallback} className="yy-viewer__element" data-testid="viewer-element" />
      {overlay && (
        <>
          <Corner className="yy-viewer__corner--tl" lines={overlay.topLeft} />
          <Corner className="yy-viewer__corner--tr" lines={overlay.topRight} />
          <Corner className="yy-viewer__corner--bl" lines={overlay.bottomLeft} />
          <Corner className="yy-viewer__corner--br" lines={overlay.bottomRight} />
        </>
      )}
      {orientation &&
        (['top', 'right', 'bottom', 'left'] as const).map((edge) => (
          // A/P/L/R/H/F are the radiological letters in Chinese PACS as well: shown verbatim
          <div key={edge} className={`yy-viewer__orientation yy-viewer__orientation--${edge}`} data-testid={`viewer-orientation-${edge}`} data-identifier="" aria-label={labels.orientation}>
            {orientation[edge]}
          </div>
        ))}
      {probe && (
        <div className="yy-viewer__probe" data-testid="viewer-probe-value" data-value={probe.value} style={{ left: probe.x + 12, top: probe.y + 12 }}>
          {`${probe.unit === 'HU' ? labels.ctValue : labels.pixelValue}: ${probe.value}${probe.unit ? ` ${probe.unit}` : ''}`}
        </div>
      )}
      {viewport && viewport.sliceCount > 1 && viewport.cachedCount < viewport.sliceCount && (
        <div className="yy-viewer__progress" style={{ width: `${(100 * viewport.cachedCount) / viewport.sliceCount}%` }} />
      )}
    </div>
  );
}

function Corner({ className, lines }: { className: string; lines: string[] }) {
  return (
    <div className={`yy-viewer__corner ${className}`} data-testid="viewer-overlay">
      {lines.map((line, i) => (
        <div key={i}>{line}</div>
      ))}
    </div>
  );
}

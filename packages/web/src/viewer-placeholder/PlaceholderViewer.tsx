import { useEffect, useRef, useState, type PointerEvent as ReactPointerEvent, type WheelEvent as ReactWheelEvent } from 'react';
import { useT } from '../i18n/i18n.tsx';
import { dicomString, dicomValue } from '../app/format.ts';

/** The viewer contract (packages/web/src/viewer/StudyViewer.tsx implements it with Cornerstone3D). */
export interface StudyViewerProps {
  studyInstanceUid: string;
  /** e.g. '/dicom-web' */
  dicomWebRoot: string;
  /** adds the Authorization header to every request the viewer makes */
  authorizationHeader: () => string;
  /** compact layout for a side-by-side prior */
  compact?: boolean;
}

type Dataset = Record<string, { Value?: unknown[] } | undefined>;
type State = 'loading' | 'first-image' | 'loaded' | 'error';

/**
 * Stand-in for the Cornerstone3D viewer while it is being built: the same props and DOM
 * contract, drawing server-rendered frames (WADO-RS /rendered with a window) of the first
 * image series; mouse wheel scrolls, dragging changes window/level.
 */
export function PlaceholderViewer({ studyInstanceUid, dicomWebRoot, authorizationHeader, compact }: StudyViewerProps) {
  const t = useT();
  const [state, setState] = useState<State>('loading');
  const [instances, setInstances] = useState<Array<{ series: string; sop: string }>>([]);
  const [slice, setSlice] = useState(1);
  const [windowLevel, setWindowLevel] = useState({ width: 400, center: 40 });
  const [src, setSrc] = useState<string>();
  const started = useRef(performance.now());
  const drag = useRef<{ x: number; y: number; width: number; center: number }>(undefined);

  useEffect(() => {
    let cancelled = false;
    started.current = performance.now();
    setState('loading');
    const get = async (path: string): Promise<Dataset[]> => {
      const response = await fetch(`${dicomWebRoot}${path}`, { headers: { authorization: authorizationHeader(), accept: 'application/dicom+json' } });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      const text = await response.text();
      return text ? (JSON.parse(text) as Dataset[]) : [];
    };
    void (async () => {
      const series = (await get(`/studies/${studyInstanceUid}/series`)).filter((s) => !['SR', 'PR', 'KO'].includes(dicomString(s, '00080060')));
      const first = series[0];
      if (!first) throw new Error('no image series');
      const seriesUid = dicomString(first, '0020000E');
      const rows = await get(`/studies/${studyInstanceUid}/series/${seriesUid}/instances`);
      rows.sort((a, b) => Number(dicomValue(a, '00200013') ?? 0) - Number(dicomValue(b, '00200013') ?? 0));
      if (!cancelled) setInstances(rows.map((row) => ({ series: seriesUid, sop: dicomString(row, '00080018') })));
    })().catch(() => !cancelled && setState('error'));
    return () => {
      cancelled = true;
    };
  }, [studyInstanceUid, dicomWebRoot, authorizationHeader]);

  const current = instances[slice - 1];
  useEffect(() => {
    if (!current) return;
    let cancelled = false;
    let url: string | undefined;
    const timer = setTimeout(() => {
      void fetch(`${dicomWebRoot}/studies/${studyInstanceUid}/series/${current.series}/instances/${current.sop}/rendered?window=${windowLevel.center},${windowLevel.width}`, { headers: { authorization: authorizationHeader(), accept: 'image/png' } })
        .then(async (response) => {
          if (!response.ok) throw new Error(`HTTP ${response.status}`);
          url = URL.createObjectURL(await response.blob());
          if (!cancelled) setSrc(url);
        })
        .catch(() => !cancelled && setState('error'));
    }, 30);
    return () => {
      cancelled = true;
      clearTimeout(timer);
    };
  }, [current, windowLevel, dicomWebRoot, studyInstanceUid, authorizationHeader]);

  const onLoad = () => {
    if (state === 'loading') {
      setState(instances.length > 1 ? 'first-image' : 'loaded');
      window.dispatchEvent(new CustomEvent('yunying:first-image', { detail: { studyInstanceUid, ms: Math.round(performance.now() - started.current) } }));
      if (instances.length > 1) setTimeout(() => setState('loaded'), 0);
    }
  };

  const onWheel = (event: ReactWheelEvent) => {
    if (instances.length === 0) return;
    const step = event.deltaY > 0 ? 1 : -1;
    setSlice((n) => Math.min(instances.length, Math.max(1, n + step)));
  };
  const onPointerDown = (event: ReactPointerEvent) => {
    drag.current = { x: event.clientX, y: event.clientY, ...windowLevel };
    (event.target as Element).setPointerCapture?.(event.pointerId);
  };
  const onPointerMove = (event: ReactPointerEvent) => {
    const start = drag.current;
    if (!start) return;
    setWindowLevel({ width: Math.max(1, Math.round(start.width + (event.clientX - start.x) * 4)), center: Math.round(start.center + (event.clientY - start.y) * 2) });
  };

  return (
    <div
      data-testid="study-viewer"
      data-state={state}
      data-current-slice={slice}
      data-window={`${windowLevel.width}/${windowLevel.center}`}
      onWheel={onWheel}
      onPointerDown={onPointerDown}
      onPointerMove={onPointerMove}
      onPointerUp={() => (drag.current = undefined)}
      style={{ position: 'relative', background: '#000', color: '#ddd', height: '100%', minHeight: compact ? 240 : 400, overflow: 'hidden', userSelect: 'none', touchAction: 'none' }}
    >
      {src && <img src={src} alt="" onLoad={onLoad} draggable={false} style={{ width: '100%', height: '100%', objectFit: 'contain', display: 'block' }} />}
      <div style={{ position: 'absolute', top: 6, left: 8, fontSize: 12, pointerEvents: 'none' }}>
        {state === 'error' ? t('viewer.error') : state === 'loading' ? t('viewer.loading') : t('viewer.slice', { current: slice, total: instances.length })}
      </div>
      <div style={{ position: 'absolute', bottom: 6, right: 8, fontSize: 12, pointerEvents: 'none' }}>
        {t('viewer.window')} {windowLevel.width}/{windowLevel.center}
      </div>
    </div>
  );
}

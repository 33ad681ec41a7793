/**
 * Hanging protocols: which series a study opens with and in which layout, chosen by modality
 * from what the series query says about each series (its first instance's attributes, asked
 * for with includefield: ImageOrientationPatient, ImageType, ViewPosition).
 *
 * - DR/CR/DX with a frontal (PA/AP) and a lateral view: both side by side (1×2), frontal left;
 *   a projection study of one series with two images (the two views in one series): its
 *   images 1 and 2 side by side.
 * - CT: the axial series with the most slices that is not a localizer (scout, topogram),
 *   alone (1×1). Other modalities: their first series that is not a localizer.
 * - Every stack opens at its first slice (the first of the stack sorted by position).
 * - A prior opened on the reading page is hung beside the current study (ReadingPage lays the
 *   two viewers out side by side) and gets the same protocol, so the two show the same kind of
 *   series; synchronised scrolling (scroll-sync.ts) pairs them by position.
 *
 * Pure: unit-tested in packages/web/e2e/viewer-logic.test.ts.
 */
import { planeOf } from './orientation.ts';

export type ProtocolLayout = '1x1' | '1x2' | '2x2';

export interface ProtocolSeries {
  seriesInstanceUid: string;
  modality: string;
  seriesNumber?: number;
  description?: string;
  instanceCount?: number;
  /** (0020,0037) of the series' first instance */
  imageOrientation?: number[];
  /** (0008,0008) values, e.g. ORIGINAL, PRIMARY, LOCALIZER */
  imageType?: string[];
  /** (0018,5101), e.g. PA, AP, LL, RL, LATERAL */
  viewPosition?: string;
}

export interface HangingChoice {
  /** the protocol's name, for tests and the notes */
  protocol: 'projection-frontal-lateral' | 'ct-axial' | 'default';
  layout: ProtocolLayout;
  /** series UIDs in slot order; every series of the study, the protocol's first */
  order: string[];
  /** 0-based index each stack opens at */
  initialIndex: 0;
  /** when one series fills several slots: the image each slot opens at (slot → index) */
  slotImages?: Array<{ seriesInstanceUid: string; index: number }>;
}

const PROJECTION = new Set(['DR', 'CR', 'DX']);

const LOCALIZER_WORDS = /\b(localizer|localiser|scout|topogram|surview|scanogram|survey)\b|定位/i;

export function isLocalizer(series: ProtocolSeries): boolean {
  if (series.imageType?.some((value) => value.trim().toUpperCase() === 'LOCALIZER')) return true;
  return LOCALIZER_WORDS.test(series.description ?? '');
}

export type ViewKind = 'frontal' | 'lateral' | undefined;

/** Frontal (PA/AP) or lateral from ViewPosition, else from the series description. */
export function viewKindOf(series: ProtocolSeries): ViewKind {
  const position = series.viewPosition?.trim().toUpperCase();
  if (position === 'PA' || position === 'AP') return 'frontal';
  if (position && /^(LL|RL|LAT|LATERAL|LLD|RLD|LLO|RLO)$/.test(position)) return 'lateral';
  const text = series.description ?? '';
  if (/\blat(eral)?\b|侧位/i.test(text)) return 'lateral';
  if (/\b(pa|ap|frontal)\b|正位|后前位|前后位/i.test(text)) return 'frontal';
  return undefined;
}

export function chooseHanging(series: readonly ProtocolSeries[]): HangingChoice {
  const all = series.map((s) => s.seriesInstanceUid);
  const withFirst = (first: string[], protocol: HangingChoice['protocol'], layout: ProtocolLayout): HangingChoice => ({
    protocol,
    layout,
    order: [...first, ...all.filter((uid) => !first.includes(uid))],
    initialIndex: 0,
  });

  const projection = series.filter((s) => PROJECTION.has(s.modality.trim().toUpperCase()));
  if (projection.length >= 2) {
    const frontal = projection.find((s) => viewKindOf(s) === 'frontal');
    const lateral = projection.find((s) => viewKindOf(s) === 'lateral');
    if (frontal && lateral) return withFirst([frontal.seriesInstanceUid, lateral.seriesInstanceUid], 'projection-frontal-lateral', '1x2');
  }
  if (projection.length === 1 && series.length === 1 && projection[0]!.instanceCount === 2) {
    const uid = projection[0]!.seriesInstanceUid;
    return {
      ...withFirst([uid], 'projection-frontal-lateral', '1x2'),
      slotImages: [
        { seriesInstanceUid: uid, index: 0 },
        { seriesInstanceUid: uid, index: 1 },
      ],
    };
  }

  const ct = series.filter((s) => s.modality.trim().toUpperCase() === 'CT' && !isLocalizer(s));
  if (ct.length > 0) {
    const axial = ct.filter((s) => planeOf(s.imageOrientation) === 'axial');
    const pool = axial.length > 0 ? axial : ct;
    // most slices; the lower series number on a tie (the order of the study)
    const best = pool.reduce((a, b) => ((b.instanceCount ?? 0) > (a.instanceCount ?? 0) ? b : a));
    return withFirst([best.seriesInstanceUid], 'ct-axial', '1x1');
  }

  const first = series.find((s) => !isLocalizer(s)) ?? series[0];
  return withFirst(first ? [first.seriesInstanceUid] : [], 'default', '1x1');
}

/**
 * Synchronised scrolling by position, the arithmetic: where a slice is along its stack's
 * normal (ImagePositionPatient · normal) and which slice of another stack is nearest the
 * same place. Two stacks of one frame of reference are paired by their positions as they
 * are; stacks of different frames (a prior from another day) by an offset taken when the
 * pair is formed, from the slices each shows then (the reader lines them up, then links them).
 * Pure: unit-tested in packages/web/e2e/viewer-logic.test.ts.
 */
import { planeNormal, type Vec3 } from './orientation.ts';

export interface SyncStackGeometry {
  frameOfReferenceUid?: string;
  /** ImageOrientationPatient of the stack (its first image with one) */
  orientation?: readonly number[];
  /** ImagePositionPatient per slice (undefined while a slice's metadata is not in) */
  positions: ReadonlyArray<readonly number[] | undefined>;
}

const dot = (a: Vec3, b: readonly number[]) => a[0] * b[0]! + a[1] * b[1]! + a[2] * b[2]!;

/** Two stacks can be synchronised when their planes are parallel within ~25°. */
export function coplanar(a: SyncStackGeometry, b: SyncStackGeometry): boolean {
  const na = planeNormal(a.orientation);
  const nb = planeNormal(b.orientation);
  return !!na && !!nb && Math.abs(dot(na, nb)) >= 0.9;
}

/** The place of a slice along the normal of the given orientation, in mm. */
export function positionAlong(orientation: readonly number[] | undefined, position: readonly number[] | undefined): number | undefined {
  const normal = planeNormal(orientation);
  if (!normal || !position || position.length !== 3) return undefined;
  return dot(normal, position);
}

/**
 * The offset (mm along the target's normal) that pairs the source's slice `sourceIndex` with
 * the target's `targetIndex`: 0 within one frame of reference, else what lines the two up.
 */
export function pairOffset(source: SyncStackGeometry, sourceIndex: number, target: SyncStackGeometry, targetIndex: number): number | undefined {
  if (source.frameOfReferenceUid && source.frameOfReferenceUid === target.frameOfReferenceUid) return 0;
  const s = positionAlong(target.orientation, source.positions[sourceIndex]);
  const t = positionAlong(target.orientation, target.positions[targetIndex]);
  return s === undefined || t === undefined ? undefined : t - s;
}

/** The target slice nearest the source's slice (plus the pair's offset); undefined when none can be placed. */
export function matchingSlice(source: SyncStackGeometry, sourceIndex: number, target: SyncStackGeometry, offset: number): number | undefined {
  if (!coplanar(source, target)) return undefined;
  const wanted = positionAlong(target.orientation, source.positions[sourceIndex]);
  if (wanted === undefined) return undefined;
  let best: { index: number; distance: number } | undefined;
  target.positions.forEach((position, index) => {
    const place = positionAlong(target.orientation, position);
    if (place === undefined) return;
    const distance = Math.abs(place - (wanted + offset));
    if (!best || distance < best.distance) best = { index, distance };
  });
  return best?.index;
}

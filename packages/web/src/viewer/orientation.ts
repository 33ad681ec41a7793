/**
 * Orientation markers (A/P/L/R/H/F) at the edges of a viewport, from the patient directions
 * of the screen's axes. DICOM patient coordinates (PS3.3 C.7.6.2.1.1): +x towards the
 * patient's left, +y posterior, +z head. The viewer measures the screen's right and down
 * directions through the camera (canvas → world), so rotation and flips are whatever is on
 * screen; `screenAxes` gives the same from ImageOrientationPatient and a rotation/flip for
 * the tests. Pure: unit-tested in packages/web/e2e/viewer-logic.test.ts.
 */
export type Vec3 = readonly [number, number, number];

export interface OrientationMarkers {
  top: string;
  right: string;
  bottom: string;
  left: string;
}

/** The letters of a direction, strongest first (an axis counts from 0.25 of the vector): [1,0,0] → "L", [0.7,0.7,0] → "LP". */
export function orientationLabel(vector: Vec3): string {
  const length = Math.hypot(vector[0], vector[1], vector[2]);
  if (!(length > 0)) return '';
  const letters: Array<{ weight: number; letter: string }> = [
    { weight: Math.abs(vector[0]) / length, letter: vector[0] > 0 ? 'L' : 'R' },
    { weight: Math.abs(vector[1]) / length, letter: vector[1] > 0 ? 'P' : 'A' },
    { weight: Math.abs(vector[2]) / length, letter: vector[2] > 0 ? 'H' : 'F' },
  ];
  return letters
    .filter((l) => l.weight >= 0.25)
    .sort((a, b) => b.weight - a.weight)
    .slice(0, 2)
    .map((l) => l.letter)
    .join('');
}

const negate = (v: Vec3): Vec3 => [-v[0], -v[1], -v[2]];

/** The four edge markers from the world directions of the screen's right and down. */
export function markersFor(right: Vec3, down: Vec3): OrientationMarkers {
  return { right: orientationLabel(right), left: orientationLabel(negate(right)), bottom: orientationLabel(down), top: orientationLabel(negate(down)) };
}

/**
 * The screen's right and down as world directions for an image of the given
 * ImageOrientationPatient (row direction, column direction) turned `rotation` degrees
 * clockwise (a multiple of 90) after an optional horizontal and vertical flip.
 */
export function screenAxes(orientation: readonly number[], transform: { rotation?: number; flipHorizontal?: boolean; flipVertical?: boolean } = {}): { right: Vec3; down: Vec3 } {
  let right: Vec3 = [orientation[0] ?? 1, orientation[1] ?? 0, orientation[2] ?? 0];
  let down: Vec3 = [orientation[3] ?? 0, orientation[4] ?? 1, orientation[5] ?? 0];
  if (transform.flipHorizontal) right = negate(right);
  if (transform.flipVertical) down = negate(down);
  const quarterTurns = ((Math.round((transform.rotation ?? 0) / 90) % 4) + 4) % 4;
  for (let i = 0; i < quarterTurns; i++) {
    // turning the picture clockwise: what was up is now on the right, what was right is now down
    [right, down] = [negate(down), right];
  }
  return { right, down };
}

/** The normal of an image plane (row × column); undefined for a missing or degenerate orientation. */
export function planeNormal(orientation: readonly number[] | undefined): Vec3 | undefined {
  if (!orientation || orientation.length !== 6) return undefined;
  const [r1, r2, r3, c1, c2, c3] = orientation as [number, number, number, number, number, number];
  const n: Vec3 = [r2 * c3 - r3 * c2, r3 * c1 - r1 * c3, r1 * c2 - r2 * c1];
  const length = Math.hypot(...n);
  return length > 0.5 ? [n[0] / length, n[1] / length, n[2] / length] : undefined;
}

export type PlaneName = 'axial' | 'coronal' | 'sagittal' | 'oblique';

/** Axial, coronal or sagittal when the normal is within ~25° of an axis. */
export function planeOf(orientation: readonly number[] | undefined): PlaneName | undefined {
  const n = planeNormal(orientation);
  if (!n) return undefined;
  const [x, y, z] = n.map(Math.abs) as [number, number, number];
  if (z >= 0.9) return 'axial';
  if (y >= 0.9) return 'coronal';
  if (x >= 0.9) return 'sagittal';
  return 'oblique';
}

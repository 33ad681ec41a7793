/** Window/level presets (width/centre in the modality's output units, HU for CT). */
export interface WindowPreset {
  id: 'lung' | 'mediastinum' | 'bone' | 'brain';
  width: number;
  center: number;
}

export const WINDOW_PRESETS: readonly WindowPreset[] = [
  { id: 'lung', width: 1500, center: -600 },
  { id: 'mediastinum', width: 350, center: 40 },
  { id: 'bone', width: 2000, center: 500 },
  { id: 'brain', width: 80, center: 40 },
];

/** width/centre → the lower/upper bounds Cornerstone calls a VOI range (linear VOI LUT). */
export function toVoiRange(width: number, center: number): { lower: number; upper: number } {
  return { lower: center - width / 2, upper: center + width / 2 };
}

/** lower/upper → width/centre, rounded the way the overlay shows them. */
export function toWindow(range: { lower: number; upper: number }): { width: number; center: number } {
  return { width: Math.round(range.upper - range.lower), center: Math.round((range.upper + range.lower) / 2) };
}

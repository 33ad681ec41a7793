/**
 * Window/level presets (width/centre in the modality's output units, HU for CT) and which of
 * them fit a modality: HU presets only for CT; projection radiographs, MR, ultrasound and the
 * rest have no fixed output scale, so they get the image's own window (默认窗) only.
 * Pure: unit-tested in packages/web/e2e/viewer-logic.test.ts.
 */
export type WindowPresetId = 'lung' | 'mediastinum' | 'bone' | 'brain' | 'abdomen' | 'liver' | 'subdural';

export interface WindowPreset {
  id: WindowPresetId;
  width: number;
  center: number;
}

/** CT presets in the order of their number keys (1 = lung, 2 = mediastinum, …). */
export const CT_WINDOW_PRESETS: readonly WindowPreset[] = [
  { id: 'lung', width: 1500, center: -600 },
  { id: 'mediastinum', width: 350, center: 40 },
  { id: 'bone', width: 2000, center: 500 },
  { id: 'brain', width: 80, center: 40 },
  { id: 'abdomen', width: 400, center: 50 },
  { id: 'liver', width: 150, center: 30 },
  { id: 'subdural', width: 200, center: 75 },
];

/** The presets that fit the modality, in number-key order (key n = presetsFor(m)[n - 1]). */
export function presetsFor(modality: string | undefined): readonly WindowPreset[] {
  return modality?.trim().toUpperCase() === 'CT' ? CT_WINDOW_PRESETS : [];
}

/** The preset a number key (1–9) selects for the modality; undefined when none fits. */
export function presetForKey(modality: string | undefined, key: string): WindowPreset | undefined {
  if (!/^[1-9]$/.test(key)) return undefined;
  return presetsFor(modality)[Number(key) - 1];
}

/** width/centre → the lower/upper bounds Cornerstone calls a VOI range (linear VOI LUT). */
export function toVoiRange(width: number, center: number): { lower: number; upper: number } {
  return { lower: center - width / 2, upper: center + width / 2 };
}

/** lower/upper → width/centre, rounded the way the overlay shows them. */
export function toWindow(range: { lower: number; upper: number }): { width: number; center: number } {
  return { width: Math.round(range.upper - range.lower), center: Math.round((range.upper + range.lower) / 2) };
}

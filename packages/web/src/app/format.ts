/** Display helpers shared by the screens (no UI text here: that is in the dictionaries). */

/** A DICOM person name "Zhang^San=张^三": the ideographic form when there is one, else the alphabetic. */
export function formatPersonName(name: string | null | undefined): string {
  if (!name) return '';
  const groups = name.split('=');
  const chosen = groups[1]?.trim() ? groups[1] : groups[0] ?? '';
  const parts = chosen.split('^').filter(Boolean);
  // Chinese names are written family then given name without a space.
  return /[\u4e00-\u9fff]/.test(chosen) ? parts.join('') : parts.join(' ');
}

/** "20240131" → "2024-01-31". */
export function formatDicomDate(value: string | null | undefined): string {
  if (!value || value.length !== 8) return value ?? '';
  return `${value.slice(0, 4)}-${value.slice(4, 6)}-${value.slice(6, 8)}`;
}

export function formatDateTime(iso: string | null | undefined): string {
  if (!iso) return '';
  const date = new Date(iso);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ${pad(date.getHours())}:${pad(date.getMinutes())}`;
}

/** Seconds as h:mm:ss or m:ss (absolute value). */
export function formatDuration(seconds: number): string {
  const total = Math.floor(Math.abs(seconds));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const pad = (n: number) => String(n).padStart(2, '0');
  return h > 0 ? `${h}:${pad(m)}:${pad(s)}` : `${m}:${pad(s)}`;
}

/** Today as a DICOM date (local time). */
export function dicomDateOf(date: Date): string {
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${date.getFullYear()}${pad(date.getMonth() + 1)}${pad(date.getDate())}`;
}

/** A DICOM JSON attribute's first value. */
export function dicomValue(dataset: Record<string, { Value?: unknown[] } | undefined>, tag: string): unknown {
  return dataset[tag]?.Value?.[0];
}

export function dicomString(dataset: Record<string, { Value?: unknown[] } | undefined>, tag: string): string {
  const value = dicomValue(dataset, tag);
  if (value === undefined || value === null) return '';
  if (typeof value === 'object' && value !== null) {
    const name = value as { Alphabetic?: string; Ideographic?: string };
    return [name.Alphabetic, name.Ideographic].filter(Boolean).join('=');
  }
  return String(value);
}

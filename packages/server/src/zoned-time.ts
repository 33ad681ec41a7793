/**
 * Instants as a person in the deployment's zone (config.timeZone, YUNYING_TIME_ZONE) reads
 * them. The database and the JSON APIs keep ISO 8601 in UTC; pages and exports a person reads
 * show the wall-clock time of the zone, and exports name the zone and its offset, so that a
 * time written down from a screen matches the clinic's clock.
 */
const formatters = new Map<string, Intl.DateTimeFormat>();

function formatterOf(timeZone: string): Intl.DateTimeFormat {
  let formatter = formatters.get(timeZone);
  if (!formatter) {
    // hourCycle h23: midnight is 00, never 24
    formatter = new Intl.DateTimeFormat('en-US', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23', timeZoneName: 'longOffset' });
    formatters.set(timeZone, formatter);
  }
  return formatter;
}

export interface ZonedParts {
  date: string;
  minutes: string;
  seconds: string;
  /** +08:00; UTC is +00:00 */
  offset: string;
}

/** The wall-clock parts of an instant in a zone; undefined for a value that is not a date. */
export function zonedParts(at: string | Date, timeZone: string): ZonedParts | undefined {
  const instant = typeof at === 'string' ? new Date(at) : at;
  if (Number.isNaN(instant.getTime())) return undefined;
  const parts = Object.fromEntries(formatterOf(timeZone).formatToParts(instant).map((part) => [part.type, part.value]));
  const gmt = parts.timeZoneName ?? 'GMT';
  const date = `${parts.year}-${parts.month}-${parts.day}`;
  const minutes = `${parts.hour}:${parts.minute}`;
  return { date, minutes, seconds: `${minutes}:${parts.second}`, offset: gmt === 'GMT' ? '+00:00' : gmt.slice(3) };
}

/** 2026-12-03 22:15:04 +08:00 (exports: seconds and the offset). */
export function zonedDateTime(at: string | Date, timeZone: string): string {
  const parts = zonedParts(at, timeZone);
  return parts ? `${parts.date} ${parts.seconds} ${parts.offset}` : String(at);
}

/** 2026-12-03 22:15 (pages: the zone is named once on the page). */
export function zonedMinutes(at: string | Date, timeZone: string): string {
  const parts = zonedParts(at, timeZone);
  return parts ? `${parts.date} ${parts.minutes}` : String(at);
}

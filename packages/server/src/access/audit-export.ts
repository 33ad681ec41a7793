import type { AuditRow, AuditSearch } from '../store/audit-store.ts';
import { zonedDateTime } from '../zoned-time.ts';
import type { AuditTrail } from './audit-trail.ts';

/** Every column of a record, in the order the API's CSV export writes them. */
export const AUDIT_CSV_COLUMNS: ReadonlyArray<keyof AuditRow> = ['seq', 'occurred_at', 'action', 'outcome', 'actor_kind', 'actor_name', 'actor_role', 'actor_institution_id', 'remote_address', 'via', 'object_type', 'object_id', 'patient_id', 'details', 'prev_hash', 'hash'];

export interface AuditExportOptions {
  filter?: Omit<AuditSearch, 'limit'>;
  format: 'csv' | 'ndjson';
  columns?: ReadonlyArray<keyof AuditRow>;
  /** a UTF-8 byte-order mark before the CSV header, so that Excel reads Chinese text right */
  byteOrderMark?: boolean;
  /**
   * CSV for a person (the REST export, config.timeZone): occurred_at as the wall-clock time of
   * this IANA zone with its offset (2026-12-03 22:15:04 +08:00), and two more columns at the
   * end, time_zone (the zone's name) and occurred_at_utc (the stored ISO instant, which the
   * hash chain covers). Without it the CSV has the stored ISO instants in UTC (…Z) and only
   * the record's columns (the CLI's). NDJSON always keeps the stored ISO instants.
   */
  timeZone?: string;
}

/** The columns the CSV adds after the record's own: the zone named on every row, and the exact stored instant. */
export const AUDIT_CSV_TIME_COLUMNS = ['time_zone', 'occurred_at_utc'] as const;

/** A record as the API and the exports show it: details as JSON, not a string. */
export function publicAuditRow(row: AuditRow): Record<string, unknown> {
  return { ...row, details: JSON.parse(row.details) as unknown };
}

/** Streams the matching records page by page (REST export and `yunying audit export`); the whole trail never sits in memory. */
export async function* auditExportLines(audit: AuditTrail, options: AuditExportOptions): AsyncGenerator<string> {
  const columns = options.columns ?? AUDIT_CSV_COLUMNS;
  const { timeZone } = options;
  if (options.format === 'csv') yield `${options.byteOrderMark ? '\uFEFF' : ''}${[...columns, ...(timeZone ? AUDIT_CSV_TIME_COLUMNS : [])].join(',')}\n`;
  let afterSeq = options.filter?.afterSeq ?? 0;
  for (;;) {
    const rows = await audit.search({ ...options.filter, afterSeq, limit: 1000 });
    if (rows.length === 0) return;
    for (const row of rows) yield options.format === 'csv' ? `${csvRow(row, columns, timeZone)}\n` : `${JSON.stringify(publicAuditRow(row))}\n`;
    afterSeq = rows[rows.length - 1]!.seq;
  }
}

function csvRow(row: AuditRow, columns: ReadonlyArray<keyof AuditRow>, timeZone: string | undefined): string {
  if (!timeZone) return columns.map((column) => csvCell(row[column])).join(',');
  const cells = columns.map((column) => (column === 'occurred_at' ? zonedDateTime(row.occurred_at, timeZone) : row[column]));
  return [...cells, timeZone, row.occurred_at].map(csvCell).join(',');
}

function csvCell(value: unknown): string {
  if (value === null || value === undefined) return '';
  const text = String(value);
  // A cell a spreadsheet would run as a formula gets a leading apostrophe (OWASP CSV
  // injection): = + - @ first, or after TAB, CR or spaces, which Excel skips; also the
  // full-width signs a Chinese input method types, which Excel reads as formulas too.
  const safe = /^[\s]*[=+\-@\uFF1D\uFF0B\uFF0D\uFF20]|^[\t\r]/.test(text) ? `'${text}` : text;
  return /[",\n\r]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

import type { AuditRow, AuditSearch } from '../store/audit-store.ts';
import type { AuditTrail } from './audit-trail.ts';

/** Every column of a record, in the order the API's CSV export writes them. */
export const AUDIT_CSV_COLUMNS: ReadonlyArray<keyof AuditRow> = ['seq', 'occurred_at', 'action', 'outcome', 'actor_kind', 'actor_name', 'actor_role', 'actor_institution_id', 'remote_address', 'via', 'object_type', 'object_id', 'patient_id', 'details', 'prev_hash', 'hash'];

export interface AuditExportOptions {
  filter?: Omit<AuditSearch, 'limit'>;
  format: 'csv' | 'ndjson';
  columns?: ReadonlyArray<keyof AuditRow>;
  /** a UTF-8 byte-order mark before the CSV header, so that Excel reads Chinese text right */
  byteOrderMark?: boolean;
}

/** A record as the API and the exports show it: details as JSON, not a string. */
export function publicAuditRow(row: AuditRow): Record<string, unknown> {
  return { ...row, details: JSON.parse(row.details) as unknown };
}

/** Streams the matching records page by page (REST export and `yunying audit export`); the whole trail never sits in memory. */
export async function* auditExportLines(audit: AuditTrail, options: AuditExportOptions): AsyncGenerator<string> {
  const columns = options.columns ?? AUDIT_CSV_COLUMNS;
  if (options.format === 'csv') yield `${options.byteOrderMark ? '\uFEFF' : ''}${columns.join(',')}\n`;
  let afterSeq = options.filter?.afterSeq ?? 0;
  for (;;) {
    const rows = await audit.search({ ...options.filter, afterSeq, limit: 1000 });
    if (rows.length === 0) return;
    for (const row of rows) yield options.format === 'csv' ? `${columns.map((column) => csvCell(row[column])).join(',')}\n` : `${JSON.stringify(publicAuditRow(row))}\n`;
    afterSeq = rows[rows.length - 1]!.seq;
  }
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

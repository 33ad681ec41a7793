/**
 * 报告编号: the readable number a signed report carries on every copy (the reading page, the
 * township's report view, the patient's cloud-film page, the PDF, the FHIR DiagnosticReport),
 * e.g. KS-COUNTY-2026-000123: the reading institution's ID in capitals, the year of the
 * signature in the deployment's zone (YUNYING_TIME_ZONE), and the institution's running
 * number for that year (six digits, more once a year passes 999,999).
 *
 * Given at signing, the first issue, not at the first draft: a hospital's 报告编号 names an
 * issued report, and a draft that is never signed (cancelled, retaken, deleted with its study)
 * must not leave a hole. The number is taken in the signing transaction, so the numbers
 * among signed reports are gapless per institution and year (store/report-number-store.ts);
 * addenda keep the report's number. Reports signed before migration 0019 were numbered by it
 * in the order of their signature.
 */
import type { TransactionPorts } from '../store/unit-of-work.ts';
import { reportNumberStore } from '../store/report-number-store.ts';
import { zonedParts } from '../zoned-time.ts';

/** ks-t1 → KS-T1; dots and underscores (allowed in institution IDs) become dashes. */
export function reportNumberPrefix(institutionId: string): string {
  return institutionId.toUpperCase().replace(/[._]/g, '-');
}

export function formatReportNumber(institutionId: string, year: number, sequence: number): string {
  return `${reportNumberPrefix(institutionId)}-${year}-${String(sequence).padStart(6, '0')}`;
}

/** The calendar year of an instant in the zone (a report signed at 2027-01-01 00:30 in Shanghai is a 2027 report). */
export function reportNumberYear(at: string, timeZone: string): number {
  const parts = zonedParts(at, timeZone);
  return Number(parts?.date.slice(0, 4) ?? new Date(at).getUTCFullYear());
}

/**
 * Gives the report its number, in the transaction that signs it; a report that has one keeps
 * it (returns the one it has).
 */
export async function assignReportNumber(tx: Pick<TransactionPorts, 'open'>, reportId: string, readingInstitutionId: string, signedAt: string, timeZone: string): Promise<string> {
  const numbers = tx.open(reportNumberStore);
  const existing = await numbers.numberOf(reportId);
  if (existing) return existing;
  const year = reportNumberYear(signedAt, timeZone);
  const number = formatReportNumber(readingInstitutionId, year, await numbers.next(readingInstitutionId, year));
  if (!(await numbers.assign(reportId, number))) throw new Error(`report ${reportId} was numbered meanwhile`);
  return number;
}

/**
 * 第 N 版 as a reader of the report counts: the signature is the first issued version, each
 * addendum (or amendment) the next. The stored version counter also counts the submissions
 * and returns before the signature, which no reader saw; that history is kept, unnumbered.
 * 0 for a report not issued yet.
 */
export function issuedVersionOf(versions: ReadonlyArray<{ kind: string; version: number }>, upTo = Number.POSITIVE_INFINITY): number {
  return versions.filter((v) => ISSUED_KINDS.has(v.kind) && v.version <= upTo).length;
}

/** the version kinds that issue the report to its readers */
export const ISSUED_KINDS: ReadonlySet<string> = new Set(['signed', 'addendum', 'amended']);

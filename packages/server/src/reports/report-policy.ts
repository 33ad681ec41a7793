import type { Caller } from '../access/caller.ts';
import type { Role } from '../access/roles.ts';
import { forbidden } from '../errors.ts';

/**
 * The case a report is written for: a reading request today, a consultation later. The
 * report lifecycle needs only who asked, who reads, and who holds the case now.
 * ReadingRequestRow has these columns.
 */
export interface ReportCase {
  id: string;
  study_instance_uid: string;
  requesting_institution_id: string;
  reading_institution_id: string;
  claimed_by: string | null;
}

export const READERS: readonly Role[] = ['radiologist', 'reviewing-radiologist', 'expert'];
export const REVIEWERS: readonly Role[] = ['reviewing-radiologist'];

/** Administrators, the reading centre and the requesting institution see a case and its report. */
export function mayView(caller: Caller, row: ReportCase): boolean {
  return caller.role === 'administrator' || caller.institutionId === row.reading_institution_id || caller.institutionId === row.requesting_institution_id;
}

export function requireRole(caller: Caller, roles: readonly Role[], what: string): void {
  if (!roles.includes(caller.role)) throw forbidden(`the role ${caller.role} may not ${what}`);
}

export function requireReaderAt(caller: Caller, row: ReportCase): void {
  if (!READERS.includes(caller.role) || caller.institutionId !== row.reading_institution_id) throw forbidden('only radiologists of the reading centre may do this');
}

export function requireReviewerAt(caller: Caller, row: ReportCase): void {
  if (!REVIEWERS.includes(caller.role) || caller.institutionId !== row.reading_institution_id) throw forbidden('only reviewing radiologists of the reading centre may sign or return a report');
}

export function requireClaimer(caller: Caller, row: ReportCase): void {
  requireReaderAt(caller, row);
  if (row.claimed_by !== caller.name) throw forbidden(row.claimed_by ? `the request is claimed by ${row.claimed_by}` : 'claim the request first');
}

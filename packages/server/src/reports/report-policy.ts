import { actsForEveryInstitution, hasPermission, type Caller } from '../access/caller.ts';
import type { Permission } from '../access/permissions.ts';
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

/** What a reader of the reading centre does to a case: claim or send it back, write its report, see its priors. */
export type ReadingPermission = Extract<Permission, 'request:claim' | 'report:write' | 'priors:read'>;

/** Platform administrators, the reading centre and the requesting institution see a case and its report. */
export function mayView(caller: Caller, row: ReportCase): boolean {
  return actsForEveryInstitution(caller) || caller.institutionId === row.reading_institution_id || caller.institutionId === row.requesting_institution_id;
}

/** The permission, at the case's reading centre. */
export function requireReaderAt(caller: Caller, row: ReportCase, permission: ReadingPermission): void {
  if (!hasPermission(caller, permission) || caller.institutionId !== row.reading_institution_id) throw forbidden('only radiologists of the reading centre may do this');
}

/** report:sign (sign or return), at the case's reading centre. */
export function requireReviewerAt(caller: Caller, row: ReportCase): void {
  if (!hasPermission(caller, 'report:sign') || caller.institutionId !== row.reading_institution_id) throw forbidden('only reviewing radiologists of the reading centre may sign or return a report');
}

/** The permission at the reading centre, and the case claimed by the caller. */
export function requireClaimer(caller: Caller, row: ReportCase, permission: ReadingPermission): void {
  requireReaderAt(caller, row, permission);
  if (row.claimed_by !== caller.name) throw forbidden(row.claimed_by ? `the request is claimed by ${row.claimed_by}` : 'claim the request first');
}

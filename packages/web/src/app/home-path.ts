import type { Role } from '../api/types.ts';

/** Where each role lands after login. */
export function homePathOf(role: Role): string {
  switch (role) {
    case 'radiologist':
    case 'expert':
      return '/worklist';
    case 'reviewing-radiologist':
      return '/review';
    case 'technologist':
      return '/township';
    case 'administrator':
      return '/admin';
    case 'commission-analyst':
      return '/statistics';
    case 'insurance-auditor':
      return '/audit';
    case 'clinician':
      return '/patients';
    case 'qc-officer':
      return '/consult-statistics';
    default:
      return '/none';
  }
}

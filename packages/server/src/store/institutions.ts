/**
 * The institution every installation starts with (its first administrator, unknown local
 * AEs). In store/ because the migrations seed it; access/caller.ts re-exports it.
 */
export const DEFAULT_INSTITUTION_ID = 'default';

/**
 * Query/retrieve information model level (PS3.4 C.6). QIDO's studies/series/instances map to
 * STUDY/SERIES/IMAGE. In store/ because the index queries by it; archive-service.ts re-exports it.
 */
export type QueryLevel = 'PATIENT' | 'STUDY' | 'SERIES' | 'IMAGE';

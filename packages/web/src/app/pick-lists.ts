/**
 * The administrator's modality and body-part pick lists (GET /api/v1/settings/pick-lists):
 * the caller's institution's own, else the platform default, else the built-in lists. The
 * township request form and template management offer these; a value outside them (what a
 * modality recorded) still shows and may still be chosen.
 */
import { useEffect, useState } from 'react';
import { BODY_PARTS } from '@yunying/dicom/body-parts';
import { api } from '../api/client.ts';

export interface PickLists {
  institutionId: string;
  source: 'institution' | 'platform' | 'default';
  modalities: string[];
  bodyParts: string[];
  updatedAt?: string;
  updatedBy?: string;
}

export const DEFAULT_MODALITIES: readonly string[] = ['DX', 'CR', 'CT', 'MR', 'US', 'MG', 'XA', 'RF', 'NM', 'PT', 'ES'];
export const DEFAULT_BODY_PARTS: readonly string[] = Object.keys(BODY_PARTS);

/** The lists for an institution (the caller's by default); the built-in ones until they arrive or when the call fails. */
export function usePickLists(institutionId?: string): PickLists {
  const [lists, setLists] = useState<PickLists>({ institutionId: institutionId ?? '', source: 'default', modalities: [...DEFAULT_MODALITIES], bodyParts: [...DEFAULT_BODY_PARTS] });
  useEffect(() => {
    let live = true;
    api
      .get<PickLists>('/api/v1/settings/pick-lists', { institutionId })
      .then((answer) => live && setLists(answer))
      .catch(() => undefined);
    return () => {
      live = false;
    };
  }, [institutionId]);
  return lists;
}

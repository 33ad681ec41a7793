/**
 * Searchset Bundles (R4 §3.1.1.4.2). `total` is the number of matches across all pages when
 * the search counted them (every search here does, unless a study search matched more than
 * the archive scan bound, see imaging-study-routes.ts). Paging is by offset; the links follow
 * from total: `first`, `previous` when the page does not start at 0, `next` while matches are
 * left, `last` when total is known. Without a total, `next` appears when one more match exists.
 */
import type { FastifyRequest } from 'fastify';
import type { FhirContext } from './fhir-context.ts';
import type { ParsedSearch } from './search-params.ts';

export interface Resource {
  resourceType: string;
  id: string;
}

type Relation = 'self' | 'first' | 'previous' | 'next' | 'last';

export interface Bundle {
  resourceType: 'Bundle';
  type: 'searchset';
  total?: number;
  link: Array<{ relation: Relation; url: string }>;
  entry: Array<{ fullUrl: string; resource: Resource; search: { mode: 'match' } }>;
}

export interface Paging {
  /** matches across all pages */
  total?: number;
  /** without a total: at least one match beyond this page */
  hasMore?: boolean;
}

export function searchsetBundle(ctx: FhirContext, request: FastifyRequest, resources: readonly Resource[], search: ParsedSearch, paging: Paging = {}): Bundle {
  const origin = ctx.origin(request);
  const self = new URL(request.url, origin);
  const base = ctx.fhirBase(request);
  const at = (offset: number) => {
    const url = new URL(self);
    url.searchParams.set('_offset', String(offset));
    url.searchParams.set('_count', String(search.count));
    return `${origin}${url.pathname}${url.search}`;
  };
  const link: Bundle['link'] = [{ relation: 'self', url: `${origin}${self.pathname}${self.search}` }];
  const { total } = paging;
  const step = Math.max(1, search.count);
  const hasMore = total !== undefined ? search.count > 0 && search.offset + search.count < total : Boolean(paging.hasMore);
  if (search.count > 0) link.push({ relation: 'first', url: at(0) });
  if (search.offset > 0 && search.count > 0) link.push({ relation: 'previous', url: at(Math.max(0, search.offset - search.count)) });
  if (hasMore) link.push({ relation: 'next', url: at(search.offset + search.count) });
  if (total !== undefined && search.count > 0) link.push({ relation: 'last', url: at(total === 0 ? 0 : Math.floor((total - 1) / step) * step) });
  return {
    resourceType: 'Bundle',
    type: 'searchset',
    ...(total !== undefined ? { total } : {}),
    link,
    entry: resources.map((resource) => ({ fullUrl: `${base}/${resource.resourceType}/${resource.id}`, resource, search: { mode: 'match' } })),
  };
}

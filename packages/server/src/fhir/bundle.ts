/**
 * Searchset Bundles (R4 §3.1.1.4.2). No total: counting every match would cost a second
 * query per search, and total is optional. Paging is by offset: a `next` link appears when
 * the page is full and at least one more match exists.
 */
import type { FastifyRequest } from 'fastify';
import type { FhirContext } from './fhir-context.ts';
import type { ParsedSearch } from './search-params.ts';

export interface Resource {
  resourceType: string;
  id: string;
}

export interface Bundle {
  resourceType: 'Bundle';
  type: 'searchset';
  link: Array<{ relation: 'self' | 'next'; url: string }>;
  entry: Array<{ fullUrl: string; resource: Resource; search: { mode: 'match' } }>;
}

export function searchsetBundle(ctx: FhirContext, request: FastifyRequest, resources: readonly Resource[], search: ParsedSearch, hasMore: boolean): Bundle {
  const self = new URL(request.url, ctx.origin(request));
  const base = ctx.fhirBase(request);
  const link: Bundle['link'] = [{ relation: 'self', url: `${ctx.origin(request)}${self.pathname}${self.search}` }];
  if (hasMore) {
    const next = new URL(self);
    next.searchParams.set('_offset', String(search.offset + search.count));
    next.searchParams.set('_count', String(search.count));
    link.push({ relation: 'next', url: `${ctx.origin(request)}${next.pathname}${next.search}` });
  }
  return {
    resourceType: 'Bundle',
    type: 'searchset',
    link,
    entry: resources.map((resource) => ({ fullUrl: `${base}/${resource.resourceType}/${resource.id}`, resource, search: { mode: 'match' } })),
  };
}

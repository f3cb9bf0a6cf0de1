import type { RoutePolicy } from '../policy/route-policy.resolver.js';
import { EntryBuilder } from './entry-builder.js';
import type { Lookup } from './lookup.js';

const policy = (over: Partial<RoutePolicy> = {}): RoutePolicy => ({
  routeId: 'Catalog/product',
  cacheable: true,
  ttlMs: 60_000,
  graceMs: 0,
  staleIfErrorMs: 0,
  varyBy: [],
  query: undefined,
  tags: undefined,
  allowAuthenticated: false,
  keyHeaders: new Set(['host']),
  ...over,
});
const lookup = (p: RoutePolicy) =>
  ({ key: 'k', path: '/p/1', policy: p, req: {}, res: {}, refresh: false }) as unknown as Lookup;
const page = (text: string) => ({ body: Buffer.from(text), holes: [] });

describe('EntryBuilder', () => {
  const builder = new EntryBuilder();

  it('derives lifetimes from the policy: grace and stale-if-error keep the entry longer', () => {
    const entry = builder.build({
      lookup: lookup(policy({ graceMs: 30_000, staleIfErrorMs: 600_000 })),
      status: 200,
      page: page('<p>x</p>'),
      headers: {},
      tags: ['route:Catalog/product'],
      renderedAt: 7,
    });
    expect(entry.expiresAt - entry.createdAt).toBe(60_000);
    expect(entry.graceUntil! - entry.expiresAt).toBe(30_000);
    expect(entry.retainUntil! - entry.expiresAt).toBe(600_000);
    expect(entry.renderedAt).toBe(7);
    expect(entry.variants).toEqual({}); // too small to compress: settled once
  });

  it('leaves variants to the first hit for text worth compressing', () => {
    const entry = builder.build({
      lookup: lookup(policy()),
      status: 200,
      page: page('lorem ipsum '.repeat(200)),
      headers: { 'content-type': 'text/html; charset=utf-8' },
      tags: [],
    });
    expect(entry.variants).toBeUndefined();
    expect(entry.graceUntil).toBeUndefined();
    expect(entry.renderedAt).toBeUndefined();
  });

  it('tags an entry with its route, the route options and what the page announced', () => {
    const ctx = { tags: new Set(['Product:1', 'Product:*']) } as never;
    const tags = builder.tagsOf({ q: 1 }, policy({ tags: (req: any) => [`q:${req.q}`] }), ctx);
    expect(tags).toEqual(['route:Catalog/product', 'q:1', 'Product:1', 'Product:*']);
  });
});

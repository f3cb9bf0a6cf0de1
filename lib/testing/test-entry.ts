import type { CacheEntry } from '../stores/cache-entry.js';

let sequence = 0;

/**
 * A page entry for store tests: a unique key, path and tag each call, fresh for a minute, with a
 * multi-valued header; `overrides` replace any field.
 *
 * @example
 * ```ts
 * await store.set(makeTestEntry({ tags: ['Product:1'], path: '/products/1' }));
 * ```
 */
export function makeTestEntry(overrides: Partial<CacheEntry> = {}): CacheEntry {
  const n = ++sequence;
  const now = Date.now();
  return {
    key: `https://shop.example/p/${n}?#Pages%2Fpage|`,
    status: 200,
    headers: { 'content-type': 'text/html; charset=utf-8', 'x-multi': ['a', 'b'] },
    body: Buffer.from(`<p>entry ${n}</p>`),
    tags: ['route:Pages/page', `Product:${n}`],
    path: `/p/${n}`,
    routeId: 'Pages/page',
    createdAt: now,
    expiresAt: now + 60_000,
    ...overrides,
  };
}

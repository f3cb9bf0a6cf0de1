import { ROUTE_TAG_PREFIX } from '../output-cache.constants.js';
import type { CacheEntry } from '../stores/cache-entry.js';

/**
 * The header of a vary record that lists its names. A vary record is the first step of the
 * two-step lookup of a `varyBy: 'auto'` route, as HTTP `Vary` is in a shared cache: an entry
 * with an empty body under {@link varyRecordKey}, whose header lists the vary-by names the URL's
 * renders read. Its key ends in `|`, which no page's key does, so it is never served.
 */
export const VARY_RECORD_HEADER = 'x-oc-vary-names';

/** The tag every vary record carries (listings leave them out by it). */
export const VARY_RECORD_TAG = 'oc:vary-record';

/** Whether a stored entry (or its summary) is a vary record, not a page. */
export function isVaryRecord(entry: { tags: readonly string[] }): boolean {
  return entry.tags.includes(VARY_RECORD_TAG);
}

/** The record's names that are registered vary-by names, sorted; undefined if it is none. */
export function varyRecordNames(
  entry: CacheEntry | undefined,
  registered: Readonly<Record<string, unknown>>,
): string[] | undefined {
  const listed = entry?.headers[VARY_RECORD_HEADER];
  if (typeof listed !== 'string') return undefined;
  return listed
    .split(',')
    .filter((name) => name !== '' && Object.hasOwn(registered, name))
    .sort();
}

/**
 * The record to store for a URL of `page`'s route: `names`, with `lifetimes` (the route's full
 * ones, so that the record outlives every variant it finds: a kept copy of a page is always found
 * through it) and the route's tag (evicting the route evicts it too).
 */
export function varyRecordEntry(
  key: string,
  names: readonly string[],
  page: CacheEntry,
  lifetimes: Pick<CacheEntry, 'expiresAt' | 'graceUntil' | 'retainUntil'>,
): CacheEntry {
  return {
    key,
    status: 200,
    headers: { [VARY_RECORD_HEADER]: [...names].sort().join(',') },
    body: Buffer.alloc(0),
    tags: [ROUTE_TAG_PREFIX + page.routeId, VARY_RECORD_TAG],
    path: page.path,
    routeId: page.routeId,
    createdAt: page.createdAt,
    ...lifetimes,
    // The page's clock reading too: to a store with an eviction clock, the record is exactly as
    // current as the page it was written with.
    ...(page.renderedAt === undefined ? {} : { renderedAt: page.renderedAt }),
  };
}

/** The sorted union of two lists of names. */
export function unionOfNames(a: readonly string[], b: Iterable<string>): string[] {
  const all = new Set(a);
  for (const name of b) all.add(name);
  return [...all].sort();
}

/** Response headers as stored with an entry: lower-case names. */
export type StoredHeaders = Record<string, string | string[]>;

/** A hole of a stored page: where it goes in the body, and which component fills it. */
export interface HoleRef {
  /** Byte offset into the entry's body. */
  at: number;
  /** Component name (`MiniCart`, `Blog/BlogSummary`). */
  name: string;
  /** The component's arguments as JSON. */
  args: string;
  /** The hole sits inside a JSON string: its output is escaped as JSON string content. */
  json?: boolean;
}

/** One cached response, as a store keeps it. */
export interface CacheEntry {
  /** The full cache key the entry is stored under. */
  key: string;
  /** HTTP status (always 200 today). */
  status: number;
  /** The headers the route set (content type and safe headers), lower-case names. */
  headers: StoredHeaders;
  /** The body as sent, before any transfer encoding; with holes, its static bytes. */
  body: Buffer;
  /** Holes rendered on every hit, in body order (none for pages without components). */
  holes?: HoleRef[];
  /** Eviction tags: `route:{routeId}`, announced entity tags, route tags. */
  tags: string[];
  /** The normalised request path (used by prefix eviction and listings). */
  path: string;
  /** Route id of the page (`Catalog/category`). */
  routeId: string;
  /** When the entry was rendered, in epoch milliseconds. */
  createdAt: number;
  /** When the entry stops being fresh, in epoch milliseconds. */
  expiresAt: number;
  /** Until when a stale entry is served while one background render refreshes it (grace). */
  graceUntil?: number;
  /** Until when the store keeps it (grace, or stale-if-error); defaults to `expiresAt`. */
  retainUntil?: number;
  /**
   * The store's eviction clock when the render began (stores with an eviction clock): an entry
   * is never kept if something it carries was evicted after that, by any instance.
   */
  renderedAt?: number;
  /** Strong ETag of the identity body (pages without holes). */
  etag?: string;
  /**
   * The body precompressed, made on the entry's first hit (text of 1 KB or more, pages without
   * holes); `{}` once settled that no variant is worth keeping.
   */
  variants?: { gzip?: Buffer; br?: Buffer };
}

/** Until when a store keeps an entry. */
export function retainUntil(entry: CacheEntry): number {
  return entry.retainUntil ?? entry.expiresAt;
}

/**
 * A copy of an entry made stale now (soft eviction): it keeps its grace, counted from now, so it
 * is served stale while one refresh runs. `undefined` when the entry has no grace to be served
 * stale in (`graceUntil` missing or equal to `expiresAt`, the default): a stale copy of it would
 * be a miss at best, so the caller deletes it instead, and the eviction takes effect either way.
 * An entry that is already stale is returned as it is.
 *
 * @example
 * ```ts
 * const stale = staleCopy(entry);
 * if (stale) await store.set(stale);
 * else await store.delete(entry.key);
 * ```
 */
export function staleCopy(entry: CacheEntry, now = Date.now()): CacheEntry | undefined {
  if (entry.expiresAt <= now) return entry;
  const grace = (entry.graceUntil ?? entry.expiresAt) - entry.expiresAt;
  if (grace <= 0) return undefined;
  // Kept at least through its grace, even when `retainUntil` was left out.
  const keep = Math.max(grace, retainUntil(entry) - entry.expiresAt);
  return { ...entry, expiresAt: now, graceUntil: now + grace, retainUntil: now + keep };
}

/** What listings show of an entry: everything but the body and headers. */
export interface CacheEntrySummary {
  key: string;
  path: string;
  routeId: string;
  tags: string[];
  status: number;
  size: number;
  createdAt: number;
  /** When the entry stops being fresh. */
  expiresAt: number;
  /** Until when a stale entry is served while it is refreshed (grace), when it has one. */
  graceUntil?: number;
  /** Until when the store keeps the entry (grace, stale-if-error), when it is set apart. */
  retainUntil?: number;
  /** The store's eviction clock when the render began (stores with an eviction clock). */
  renderedAt?: number;
}

/** Approximate bytes an entry occupies, for memory bounds. */
export function entrySize(entry: CacheEntry): number {
  // 640: the entry, headers and tags objects, the LRU's node and the key's index slots.
  let size = entry.body.length + entry.key.length * 2 + entry.path.length * 2 + 640;
  size += (entry.variants?.gzip?.length ?? 0) + (entry.variants?.br?.length ?? 0);
  for (const [name, value] of Object.entries(entry.headers)) {
    size += name.length + (Array.isArray(value) ? value.join('').length : value.length);
  }
  for (const tag of entry.tags) size += tag.length * 2 + 48;
  for (const hole of entry.holes ?? []) size += hole.name.length * 2 + hole.args.length * 2 + 64;
  return size;
}

export function summarize(entry: CacheEntry): CacheEntrySummary {
  return {
    key: entry.key,
    path: entry.path,
    routeId: entry.routeId,
    tags: entry.tags,
    status: entry.status,
    size: entry.body.length,
    createdAt: entry.createdAt,
    expiresAt: entry.expiresAt,
    ...(entry.graceUntil === undefined ? {} : { graceUntil: entry.graceUntil }),
    ...(entry.retainUntil === undefined ? {} : { retainUntil: entry.retainUntil }),
    ...(entry.renderedAt === undefined ? {} : { renderedAt: entry.renderedAt }),
  };
}

/**
 * Where an entry stands at `now`: `fresh` (a hit), `grace` (served stale while one refresh
 * runs), `kept` (past its grace, kept only to answer a failed render: stale-if-error).
 */
export function freshnessOf(entry: CacheEntry, now: number): 'fresh' | 'grace' | 'kept' {
  if (now < entry.expiresAt) return 'fresh';
  if (now < (entry.graceUntil ?? 0)) return 'grace';
  return 'kept';
}

/** Response headers as stored with an entry: lower-case names. */
export type StoredHeaders = Record<string, string | string[]>;

/** One cached response, as a store keeps it. */
export interface CacheEntry {
  /** The full cache key the entry is stored under. */
  key: string;
  /** HTTP status (always 200 today). */
  status: number;
  /** The headers the route set (content type and safe headers), lower-case names. */
  headers: StoredHeaders;
  /** The body as sent, before any transfer encoding. */
  body: Buffer;
  /** Eviction tags: `route:{routeId}`, announced entity tags, route tags. */
  tags: string[];
  /** The normalised request path (used by prefix eviction and listings). */
  path: string;
  /** Route id of the page (`Catalog/category`). */
  routeId: string;
  /** When the entry was rendered, in epoch milliseconds. */
  createdAt: number;
  /** When the entry stops being served, in epoch milliseconds. */
  expiresAt: number;
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
  expiresAt: number;
}

/** Approximate bytes an entry occupies, for memory bounds. */
export function entrySize(entry: CacheEntry): number {
  let size = entry.body.length + entry.key.length * 2 + entry.path.length * 2 + 256;
  for (const [name, value] of Object.entries(entry.headers)) {
    size += name.length + (Array.isArray(value) ? value.join('').length : value.length);
  }
  for (const tag of entry.tags) size += tag.length * 2 + 48;
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
  };
}

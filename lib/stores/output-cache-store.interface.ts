import type { CacheEntry, CacheEntrySummary } from './cache-entry.js';

/**
 * The contract every store implements (memory today; TypeORM and Redis build on it).
 * Every method may reject: the cache treats a failed call as a miss and keeps serving.
 *
 * @example
 * ```ts
 * OutputCacheModule.forRoot({ store: new MemoryOutputCacheStore({ maxEntries: 5000 }) })
 * ```
 */
export interface OutputCacheStore {
  /** The live entry under `key`, or `undefined` (missing, expired or unreadable). */
  get(key: string): Promise<CacheEntry | undefined>;
  /** Stores `entry` under `entry.key` until `entry.expiresAt`, replacing any older one. */
  set(entry: CacheEntry): Promise<void>;
  /** Removes one entry; resolves whether it existed. */
  delete(key: string): Promise<boolean>;
  /** Removes every entry carrying any of `tags`; resolves how many went. */
  evictTags(tags: readonly string[]): Promise<number>;
  /** Removes every entry whose path starts with `pathPrefix`; resolves how many went. */
  evictPrefix(pathPrefix: string): Promise<number>;
  /** Removes every entry; resolves how many went. */
  clear(): Promise<number>;
  /** How many live entries the store holds. */
  count(): Promise<number>;
  /** A page of live entries, most recently used first where the store knows it. */
  list(options: { skip: number; take: number }): Promise<CacheEntrySummary[]>;
  /**
   * Optional: a render lock shared by every instance (`distributedLock` option). Resolves a
   * release function, or undefined when another instance holds the lock.
   */
  acquireLock?(key: string, ttlMs: number): Promise<(() => Promise<void>) | undefined>;
  /**
   * Optional: evictions made by other instances (a shared store with a bus), so that renders
   * under way here are not stored with data older than the eviction.
   */
  onRemoteEviction?(listener: (eviction: RemoteEviction) => void): void;
  /**
   * Optional: soft eviction. The selected entries become stale now instead of going (their
   * grace still applies); resolves how many. A store without it evicts hard.
   */
  markStale?(selector: StaleSelector): Promise<number>;
}

/** Which entries a soft eviction marks stale. */
export type StaleSelector =
  { tags: readonly string[] } | { prefix: string } | { key: string } | { all: true };

/** An eviction another instance made, as the bus reports it. */
export type RemoteEviction =
  | { kind: 'tags'; tags: string[] }
  | { kind: 'prefix'; prefix: string }
  | { kind: 'key'; key: string }
  | { kind: 'all' };

import type { CacheEntry, CacheEntrySummary } from './cache-entry.js';

/**
 * The contract every store implements: a small core over whole entries. Every method may
 * reject; the cache wraps the store (`ResilientStore`: a timeout and a circuit breaker), treats
 * a failed read as a miss and keeps serving. Optional abilities are separate interfaces
 * ({@link SyncReadableStore}, {@link LockingStore}, {@link SoftEvictingStore},
 * {@link EvictionBusStore}), each found with a type guard in `store-capabilities.ts`.
 *
 * @example
 * ```ts
 * OutputCacheModule.forRoot({ store: new MemoryOutputCacheStore({ maxEntries: 5000 }) })
 * ```
 */
export interface OutputCacheStore {
  /** The live entry under `key`, or `undefined` (missing, expired or unreadable). */
  get(key: string): Promise<CacheEntry | undefined>;
  /** Stores `entry` under `entry.key` until its `retainUntil` (or `expiresAt`), replacing any. */
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
}

/** A store that can answer a read synchronously (memory, the tiered store's L1). */
export interface SyncReadableStore extends OutputCacheStore {
  /** The live entry under `key` if it is at hand now, without any I/O. */
  getSync(key: string): CacheEntry | undefined;
}

/** A store with a render lock shared by every instance (the `distributedLock` option). */
export interface LockingStore extends OutputCacheStore {
  /** Resolves a release function, or undefined when another instance holds the lock. */
  acquireLock(key: string, ttlMs: number): Promise<(() => Promise<void>) | undefined>;
}

/** A store with soft eviction. */
export interface SoftEvictingStore extends OutputCacheStore {
  /**
   * The selected entries become stale now (served stale during their grace while one request
   * renders them anew); an entry with no grace to be served stale in is deleted. Resolves how
   * many entries were marked or deleted.
   */
  markStale(selector: StaleSelector): Promise<number>;
}

/** A store shared by instances that reports the evictions other instances make. */
export interface EvictionBusStore extends OutputCacheStore {
  /** Called for every eviction another instance made (and `all` after a lost bus). */
  onRemoteEviction(listener: (eviction: RemoteEviction) => void): void;
}

/**
 * A store that keeps an eviction clock shared by every instance using it: a logical counter in
 * the store itself (immune to the instances' clock skew), advanced by every eviction before it
 * deletes anything. A render notes the clock before it reads data; its entry is then written
 * with {@link EvictionClockStore.setIfCurrent}, which keeps it only if nothing it carries was
 * evicted since, wherever that eviction was made.
 */
export interface EvictionClockStore extends OutputCacheStore {
  /** The clock now. */
  clock(): Promise<number>;
  /**
   * Stores `entry` unless a tag of it, its key, a prefix of its path or everything was evicted
   * after `entry.renderedAt`; resolves whether it is stored.
   */
  setIfCurrent(entry: CacheEntry): Promise<boolean>;
}

/**
 * A store that holds local copies of shared entries (a tiered store's L1) and can hand one over
 * when the shared store cannot be read. Such a copy may have missed an eviction, so the cache uses
 * it only as a last resort: stale-if-error, when the render fails too.
 */
export interface LocalCopyStore extends OutputCacheStore {
  /** The local copy of `key`, if any, confirmed or not; synchronous, without I/O. */
  getLocalCopy(key: string): CacheEntry | undefined;
}

/** A store that can say how much it holds (memory; a tiered store's L1). */
export interface UsageReportingStore extends OutputCacheStore {
  /** Live entries and their bytes (as counted against the store's bound), now, without I/O. */
  usage(): { entries: number; bytes: number };
}

/** Why a store dropped an entry on its own: its bound (`lru`) or the entry's lifetime. */
export type StoreEvictionCause = 'lru' | 'expiry';

/** A store that reports the entries it drops on its own (the memory store's LRU and expiry). */
export interface EvictionReportingStore extends OutputCacheStore {
  /** Calls `listener` for each entry dropped by the bound or expiry; returns an unsubscribe. */
  onEvicted(listener: (cause: StoreEvictionCause, key: string) => void): () => void;
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

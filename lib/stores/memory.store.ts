import { LRUCache } from 'lru-cache';
import {
  type CacheEntry,
  type CacheEntrySummary,
  entrySize,
  retainUntil,
  staleCopy,
  summarize,
} from './cache-entry.js';
import type {
  EvictionReportingStore,
  SoftEvictingStore,
  StaleSelector,
  StoreEvictionCause,
  SyncReadableStore,
  UsageReportingStore,
} from './output-cache-store.interface.js';

/** Options of {@link MemoryOutputCacheStore}. */
export interface MemoryStoreOptions {
  /** Most entries kept (least recently used go first). Default 10,000. */
  maxEntries?: number;
  /** Most bytes kept: bodies, headers, keys and tags. Default 100 MiB. */
  maxBytes?: number;
}

/**
 * The default store: an in-process LRU (`lru-cache`) bounded by entries and bytes, with a tag
 * index so that evicting a tag touches only the entries that carry it.
 *
 * @example
 * ```ts
 * new MemoryOutputCacheStore({ maxEntries: 5_000, maxBytes: 64 * 1024 * 1024 })
 * ```
 */
export class MemoryOutputCacheStore
  implements SyncReadableStore, SoftEvictingStore, UsageReportingStore, EvictionReportingStore
{
  private readonly lru: LRUCache<string, CacheEntry>;
  private readonly tagIndex = new Map<string, Set<string>>();
  private evictedListeners: ((cause: StoreEvictionCause, key: string) => void)[] = [];

  constructor(options: MemoryStoreOptions = {}) {
    this.lru = new LRUCache<string, CacheEntry>({
      max: options.maxEntries ?? 10_000,
      maxSize: options.maxBytes ?? 100 * 1024 * 1024,
      sizeCalculation: (entry) => entrySize(entry),
      // The entry's own expiry decides; lru-cache drops it lazily on the next read.
      ttlAutopurge: false,
      dispose: (entry, key, reason) => {
        this.unindex(key, entry);
        // Only what the store drops on its own; deletes and replacements are the caller's.
        if (reason === 'evict') this.evicted('lru', key);
        else if (reason === 'expire') this.evicted('expiry', key);
      },
    });
  }

  /** Reports entries dropped by the bound (`lru`) or their lifetime (`expiry`). */
  onEvicted(listener: (cause: StoreEvictionCause, key: string) => void): () => void {
    this.evictedListeners = [...this.evictedListeners, listener];
    return () => {
      this.evictedListeners = this.evictedListeners.filter((l) => l !== listener);
    };
  }

  /** Entries held and their bytes (as counted against `maxBytes`). */
  usage(): { entries: number; bytes: number } {
    return { entries: this.lru.size, bytes: this.lru.calculatedSize };
  }

  async get(key: string): Promise<CacheEntry | undefined> {
    return this.getSync(key);
  }

  /** Synchronous read, for callers that can skip a microtask. */
  getSync(key: string): CacheEntry | undefined {
    const entry = this.lru.get(key);
    if (entry === undefined) return undefined;
    if (retainUntil(entry) <= Date.now()) {
      this.lru.delete(key);
      this.evicted('expiry', key);
      return undefined;
    }
    return entry;
  }

  async set(entry: CacheEntry): Promise<void> {
    const ttl = retainUntil(entry) - Date.now();
    if (ttl <= 0) return;
    // An entry larger than the whole store would be refused by lru-cache anyway.
    this.lru.set(entry.key, entry, { ttl });
    if (this.lru.peek(entry.key) !== entry) return;
    for (const tag of entry.tags) {
      let keys = this.tagIndex.get(tag);
      if (!keys) this.tagIndex.set(tag, (keys = new Set()));
      keys.add(entry.key);
    }
  }

  async delete(key: string): Promise<boolean> {
    return this.lru.delete(key);
  }

  async evictTags(tags: readonly string[]): Promise<number> {
    let removed = 0;
    for (const tag of tags) {
      const keys = this.tagIndex.get(tag);
      if (!keys) continue;
      for (const key of [...keys]) if (this.lru.delete(key)) removed++;
      this.tagIndex.delete(tag);
    }
    return removed;
  }

  async evictPrefix(pathPrefix: string): Promise<number> {
    let removed = 0;
    for (const [key, entry] of [...this.lru.entries()]) {
      if (entry.path.startsWith(pathPrefix) && this.lru.delete(key)) removed++;
    }
    return removed;
  }

  async clear(): Promise<number> {
    const removed = this.lru.size;
    this.lru.clear();
    this.tagIndex.clear();
    return removed;
  }

  async count(): Promise<number> {
    this.lru.purgeStale();
    return this.lru.size;
  }

  async list({ skip, take }: { skip: number; take: number }): Promise<CacheEntrySummary[]> {
    this.lru.purgeStale();
    const page: CacheEntrySummary[] = [];
    let index = 0;
    for (const entry of this.lru.values()) {
      if (index++ < skip) continue;
      if (page.length >= take) break;
      page.push(summarize(entry));
    }
    return page;
  }

  /**
   * Soft eviction: the selected fresh entries become stale now and are served stale through
   * their grace while one refresh runs; an entry without grace is deleted. Resolves how many
   * were marked or deleted.
   */
  async markStale(selector: StaleSelector): Promise<number> {
    const now = Date.now();
    let keys: Iterable<string>;
    if ('tags' in selector) {
      const found = new Set<string>();
      for (const tag of selector.tags)
        for (const key of this.tagIndex.get(tag) ?? []) found.add(key);
      keys = found;
    } else if ('prefix' in selector) {
      keys = [...this.lru.entries()]
        .filter(([, e]) => e.path.startsWith(selector.prefix))
        .map(([k]) => k);
    } else if ('key' in selector) {
      keys = [selector.key];
    } else {
      keys = [...this.lru.keys()];
    }
    let marked = 0;
    for (const key of [...keys]) {
      const entry = this.getSync(key);
      if (!entry || entry.expiresAt <= now) continue;
      const stale = staleCopy(entry, now);
      if (stale) await this.set(stale);
      else this.lru.delete(key);
      marked++;
    }
    return marked;
  }

  /** Bytes currently held, as counted against `maxBytes`. */
  get calculatedSize(): number {
    return this.lru.calculatedSize;
  }

  private evicted(cause: StoreEvictionCause, key: string): void {
    for (const listener of this.evictedListeners) {
      try {
        listener(cause, key);
      } catch {
        // A listener's failure never breaks the store.
      }
    }
  }

  private unindex(key: string, entry: CacheEntry): void {
    for (const tag of entry.tags) {
      const keys = this.tagIndex.get(tag);
      if (!keys) continue;
      keys.delete(key);
      if (keys.size === 0) this.tagIndex.delete(tag);
    }
  }
}

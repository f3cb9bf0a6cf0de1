import { Injectable, Logger } from '@nestjs/common';
import { ROUTE_TAG_PREFIX } from '../output-cache.constants.js';
import type { CacheEntrySummary } from '../stores/cache-entry.js';
import type { OutputCacheStore, StaleSelector } from '../stores/output-cache-store.interface.js';

/** Pause before an eviction that failed is tried again. */
const EVICTION_RETRY_MS = 200;
import { ResilientStore } from '../stores/resilient.store.js';
import { canSoftEvict, hasEvictionBus } from '../stores/store-capabilities.js';
import { EvictionLog } from './eviction-log.js';
import { OutputCacheStats, type OutputCacheStatsSnapshot } from './output-cache.stats.js';

/**
 * How an invalidation goes: hard (default) deletes entries; `soft: true` marks them stale, so
 * that they are still served during their grace while one request renders them anew. An entry
 * without grace, or a store without soft eviction (TypeORM), is evicted hard: an eviction always
 * takes effect.
 */
export interface InvalidateOptions {
  soft?: boolean;
}

/** Values, optionally followed by {@link InvalidateOptions}. */
export type InvalidateArgs = string[] | [...values: string[], options: InvalidateOptions];

function splitArgs(args: InvalidateArgs): { values: string[]; soft: boolean } {
  const last = args[args.length - 1];
  if (last !== undefined && typeof last === 'object') {
    return { values: args.slice(0, -1) as string[], soft: last.soft === true };
  }
  return { values: args as string[], soft: false };
}

/**
 * Programmatic access to the cache (as Smartstore's `IOutputCacheProvider`): eviction by route,
 * tag, path prefix or key, and listing. Every invalidation resolves how many entries it took
 * (deleted, or marked stale; on the Redis store with `sweep: 'background'`, its default, how many
 * entries carried the tags or were under the prefix: they are never served again, and deleted in
 * the background). Every call is bounded by `operationTimeout` and refused at once while the
 * store's circuit breaker is open: it then rejects with an error that says so (an eviction that
 * did not happen is never reported as done).
 *
 * @example
 * ```ts
 * constructor(private readonly outputCache: OutputCacheProvider) {}
 * await this.outputCache.invalidateByTag(`Product:${id}`);
 * await this.outputCache.invalidateByRoute('Catalog/category');
 * ```
 */
@Injectable()
export class OutputCacheProvider {
  private readonly logger = new Logger('OutputCache');

  constructor(
    private readonly store: ResilientStore,
    private readonly stats_: OutputCacheStats,
    private readonly evictions: EvictionLog,
  ) {
    // Evictions made by other instances also stop renders under way here from being stored.
    if (!hasEvictionBus(store.store)) return;
    store.store.onRemoteEviction((eviction) => {
      if (eviction.kind === 'tags') this.evictions.evictedTags(eviction.tags);
      else if (eviction.kind === 'prefix') this.evictions.evictedPrefix(eviction.prefix);
      else if (eviction.kind === 'key') this.evictions.evictedKey(eviction.key);
      else this.evictions.evictedAll();
    });
  }

  /**
   * Evicts every entry of the given route ids (`Catalog/category`, `vc:MiniCart`). A last
   * argument `{ soft: true }` marks them stale instead (see {@link InvalidateOptions}).
   */
  invalidateByRoute(...args: InvalidateArgs): Promise<number> {
    const { values, soft } = splitArgs(args);
    return this.byTags(
      values.map((id) => ROUTE_TAG_PREFIX + id),
      soft,
    );
  }

  /**
   * Evicts every entry carrying any of the tags; `invalidateByTag('a', 'b', { soft: true })`
   * marks them stale instead.
   */
  invalidateByTag(...args: InvalidateArgs): Promise<number> {
    const { values, soft } = splitArgs(args);
    return this.byTags(values, soft);
  }

  /** Evicts every entry whose normalised path starts with `pathPrefix` (e.g. `/blog`). */
  async invalidateByPrefix(pathPrefix: string, options: InvalidateOptions = {}): Promise<number> {
    if (typeof pathPrefix !== 'string' || !pathPrefix.startsWith('/')) {
      throw new TypeError(`invalidateByPrefix: a path prefix starts with "/", got "${pathPrefix}"`);
    }
    if (options.soft && this.softly) return this.markStale({ prefix: pathPrefix });
    this.evictions.evictedPrefix(pathPrefix);
    return this.evict(`prefix ${pathPrefix}`, 'evictPrefix', (store) =>
      store.evictPrefix(pathPrefix),
    );
  }

  /** Evicts everything (or, with `{ soft: true }`, marks everything stale). */
  invalidateAll(options: InvalidateOptions = {}): Promise<number> {
    if (options.soft && this.softly) return this.markStale({ all: true });
    this.evictions.evictedAll();
    return this.evict('everything', 'clear', (store) => store.clear());
  }

  /** Removes one entry by its key (as shown by {@link list}); `{ soft: true }` marks it stale. */
  async remove(key: string, options: InvalidateOptions = {}): Promise<boolean> {
    if (options.soft && this.softly) return (await this.markStale({ key })) > 0;
    this.evictions.evictedKey(key);
    return this.evict(`key ${key}`, 'delete', (store) => store.delete(key));
  }

  private async byTags(tags: string[], soft: boolean): Promise<number> {
    if (tags.length === 0) return 0;
    if (soft && this.softly) {
      const marked = await this.markStale({ tags });
      this.logger.debug(`marked ${marked} stale by tag ${tags.join(', ')}`);
      return marked;
    }
    this.evictions.evictedTags(tags);
    const removed = await this.evict(`tag ${tags.join(', ')}`, 'evictTags', (store) =>
      store.evictTags(tags),
    );
    this.logger.debug(`evicted ${removed} by tag ${tags.join(', ')}`);
    return removed;
  }

  /** Whether the store evicts softly on request. */
  private get softly(): boolean {
    return canSoftEvict(this.store.store);
  }

  private markStale(selector: StaleSelector): Promise<number> {
    return this.evict(`${JSON.stringify(selector)} softly`, 'markStale', (store) =>
      canSoftEvict(store) ? store.markStale(selector) : Promise.resolve(0),
    );
  }

  /**
   * An eviction through the resilient store, retried once after a short pause when it fails;
   * a second failure is logged as an error and rejects: an eviction is never dropped silently.
   */
  private async evict<T>(
    what: string,
    operation: string,
    run: (store: OutputCacheStore) => Promise<T>,
  ): Promise<T> {
    try {
      return await this.store.call(operation, run);
    } catch (first) {
      this.logger.warn(`eviction of ${what} failed (${String(first)}); retrying once`);
      await new Promise((resolve) => setTimeout(resolve, EVICTION_RETRY_MS));
      try {
        return await this.store.call(operation, run);
      } catch (error) {
        this.logger.error(
          `eviction of ${what} failed twice (${String(error)}): the pages it covers may be served until they expire; evict again once the store is back`,
        );
        throw error;
      }
    }
  }

  /** How many entries are cached. */
  count(): Promise<number> {
    return this.store.call('count', (store) => store.count());
  }

  /** A page of cached entries (no bodies). */
  list(options: { skip?: number; take?: number } = {}): Promise<CacheEntrySummary[]> {
    const skip = Math.max(0, options.skip ?? 0);
    const take = Math.min(1000, Math.max(0, options.take ?? 50));
    return this.store.call('list', (store) => store.list({ skip, take }));
  }

  /** Hits, misses, bypasses and not-stored reasons since start. */
  stats(): OutputCacheStatsSnapshot {
    return this.stats_.snapshot();
  }
}

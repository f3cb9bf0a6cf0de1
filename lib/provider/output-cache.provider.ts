import { Inject, Injectable, Logger } from '@nestjs/common';
import { ROUTE_TAG_PREFIX } from '../output-cache.constants.js';
import type { CacheEntrySummary } from '../stores/cache-entry.js';
import type {
  OutputCacheStore,
  RemoteEviction,
  StaleSelector,
} from '../stores/output-cache-store.interface.js';

/** Pause before an eviction that failed is tried again. */
const EVICTION_RETRY_MS = 200;
import { ResilientStore } from '../stores/resilient.store.js';
import { canSoftEvict, hasEvictionBus, reportsEvictions } from '../stores/store-capabilities.js';
import { type EvictionCause, OutputCacheEvents } from '../observability/output-cache-events.js';
import { EvictionLog } from './eviction-log.js';
import { EvictionReplay } from './eviction-replay.js';
import { OutputCacheStats, type OutputCacheStatsSnapshot } from './output-cache.stats.js';
import { WarmUp, type WarmUpOptions, type WarmUpReport } from './warm-up.js';

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
  /** Renders pages ahead of requests (a property, so the constructor stays the stores'). */
  @Inject(WarmUp) private readonly warmUp!: WarmUp;
  /** Evictions the store refused, made again once it answers. */
  @Inject(EvictionReplay) private readonly replay!: EvictionReplay;

  constructor(
    private readonly store: ResilientStore,
    private readonly stats_: OutputCacheStats,
    private readonly evictions: EvictionLog,
    private readonly events: OutputCacheEvents,
  ) {
    // Entries the store drops on its own (its bound, their lifetime) are evictions too.
    if (reportsEvictions(store.store)) {
      store.store.onEvicted((cause, key) => events.eviction({ cause, values: [key], count: 1 }));
    }
    // Evictions made by other instances also stop renders under way here from being stored.
    if (!hasEvictionBus(store.store)) return;
    store.store.onRemoteEviction((eviction) => {
      if (eviction.kind === 'tags') this.evictions.evictedTags(eviction.tags);
      else if (eviction.kind === 'prefix') this.evictions.evictedPrefix(eviction.prefix);
      else if (eviction.kind === 'key') this.evictions.evictedKey(eviction.key);
      else this.evictions.evictedAll();
      events.eviction({ ...describeRemote(eviction), remote: true });
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
      'route',
      values,
    );
  }

  /**
   * Evicts every entry carrying any of the tags; `invalidateByTag('a', 'b', { soft: true })`
   * marks them stale instead.
   */
  invalidateByTag(...args: InvalidateArgs): Promise<number> {
    const { values, soft } = splitArgs(args);
    return this.byTags(values, soft, 'tag', values);
  }

  /** Evicts every entry whose normalised path starts with `pathPrefix` (e.g. `/blog`). */
  async invalidateByPrefix(pathPrefix: string, options: InvalidateOptions = {}): Promise<number> {
    if (typeof pathPrefix !== 'string' || !pathPrefix.startsWith('/')) {
      throw new TypeError(`invalidateByPrefix: a path prefix starts with "/", got "${pathPrefix}"`);
    }
    if (options.soft && this.softly) {
      return this.report('prefix', [pathPrefix], true, (replayed) =>
        this.markStale({ prefix: pathPrefix }, replayed),
      );
    }
    this.evictions.evictedPrefix(pathPrefix);
    return this.report('prefix', [pathPrefix], false, (replayed) =>
      this.evict(
        `prefix ${pathPrefix}`,
        'evictPrefix',
        (store) => store.evictPrefix(pathPrefix),
        replayed,
      ),
    );
  }

  /** Evicts everything (or, with `{ soft: true }`, marks everything stale). */
  invalidateAll(options: InvalidateOptions = {}): Promise<number> {
    if (options.soft && this.softly)
      return this.report('all', [], true, (replayed) => this.markStale({ all: true }, replayed));
    this.evictions.evictedAll();
    return this.report('all', [], false, (replayed) =>
      this.evict('everything', 'clear', (store) => store.clear(), replayed),
    );
  }

  /** Removes one entry by its key (as shown by {@link list}); `{ soft: true }` marks it stale. */
  async remove(key: string, options: InvalidateOptions = {}): Promise<boolean> {
    if (options.soft && this.softly) {
      return (
        (await this.report('key', [key], true, (replayed) => this.markStale({ key }, replayed))) > 0
      );
    }
    this.evictions.evictedKey(key);
    const emit = (removed: boolean) =>
      this.events.eviction({ cause: 'key', values: [key], count: removed ? 1 : 0 });
    const removed = await this.evict(`key ${key}`, 'delete', (store) => store.delete(key), emit);
    emit(removed);
    return removed;
  }

  private async byTags(
    tags: string[],
    soft: boolean,
    cause: EvictionCause,
    values: string[],
  ): Promise<number> {
    if (tags.length === 0) return 0;
    if (soft && this.softly) {
      return this.report(cause, values, true, (replayed) => this.markStale({ tags }, replayed));
    }
    this.evictions.evictedTags(tags);
    return this.report(cause, values, false, (replayed) =>
      this.evict(`tag ${tags.join(', ')}`, 'evictTags', (store) => store.evictTags(tags), replayed),
    );
  }

  /** Reports an eviction to the hub once the store answered how many entries it took. */
  private async report(
    cause: EvictionCause,
    values: string[],
    soft: boolean,
    done: (replayed: (count: number) => void) => Promise<number>,
  ): Promise<number> {
    const emit = (count: number) =>
      this.events.eviction(soft ? { cause, values, count, soft: true } : { cause, values, count });
    const count = await done(emit);
    emit(count);
    return count;
  }

  /** Whether the store evicts softly on request. */
  private get softly(): boolean {
    return canSoftEvict(this.store.store);
  }

  private markStale(selector: StaleSelector, replayed: (count: number) => void): Promise<number> {
    return this.evict(
      `${JSON.stringify(selector)} softly`,
      'markStale',
      (store) => (canSoftEvict(store) ? store.markStale(selector) : Promise.resolve(0)),
      replayed,
    );
  }

  /**
   * An eviction through the resilient store, retried once after a short pause when it fails; a
   * second failure is logged as an error and rejects (the caller learns it did not happen now),
   * and the eviction is queued in {@link EvictionReplay}, made again once the store answers
   * (`replayed` then reports it): an eviction is never dropped.
   */
  private async evict<T>(
    what: string,
    operation: string,
    run: (store: OutputCacheStore) => Promise<T>,
    replayed: (result: T) => void,
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
          `eviction of ${what} failed twice (${String(error)}): queued, made again once the store answers`,
        );
        this.replay.defer({
          what,
          operation,
          run,
          done: (result) => replayed(result as T),
        });
        throw error;
      }
    }
  }

  /**
   * Renders pages through the app, in this process and without any network, so that they are
   * cached before the first client asks: at most `concurrency` at a time (default 4). Resolves
   * with one report per distinct URL (`stored`, `hit` when it already was, `not-stored` or
   * `bypass` with the reason, `failed` with the error); it never rejects for a page.
   *
   * A warm-up request is a GET with only the given `headers` (never cookies): it stores the
   * variant those headers select, the default variant when none are given. Paths take the
   * `Host` of `headers.host`, else `localhost:<port>` of the app's server; the host is part of
   * the key, so give the one clients use (or absolute URLs). Call it once the app has started
   * (`app.init()` or `app.listen()`).
   *
   * @example
   * ```ts
   * await app.listen(3000);
   * const report = await app.get(OutputCacheProvider).warm(['/', '/category/1'], {
   *   concurrency: 2,
   *   headers: { host: 'shop.example.com' },
   * });
   * ```
   */
  warm(urls: readonly string[], options: WarmUpOptions = {}): Promise<WarmUpReport[]> {
    return this.warmUp.warm(urls, options);
  }

  /** How many evictions the store refused wait to be made again (see {@link EvictionReplay}). */
  get pendingEvictions(): number {
    return this.replay.pending;
  }

  /** Makes the evictions that wait now, without waiting for the next try. */
  replayEvictions(): Promise<void> {
    return this.replay.flush();
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

  /**
   * The counters since start (or `OutputCacheStats.reset()`): hits, misses, bypasses and
   * not-stored reasons, in total and by route id, evictions by cause, the breaker's state and what
   * the store holds (see {@link OutputCacheStatsSnapshot}).
   */
  stats(): OutputCacheStatsSnapshot {
    return this.stats_.snapshot();
  }
}

/** An eviction received over the bus, as the hub reports it (route tags as route ids). */
function describeRemote(eviction: RemoteEviction): { cause: EvictionCause; values: string[] } {
  switch (eviction.kind) {
    case 'tags':
      return eviction.tags.every((tag) => tag.startsWith(ROUTE_TAG_PREFIX))
        ? { cause: 'route', values: eviction.tags.map((t) => t.slice(ROUTE_TAG_PREFIX.length)) }
        : { cause: 'tag', values: eviction.tags };
    case 'prefix':
      return { cause: 'prefix', values: [eviction.prefix] };
    case 'key':
      return { cause: 'key', values: [eviction.key] };
    default:
      return { cause: 'all', values: [] };
  }
}

import { Injectable, type OnModuleDestroy } from '@nestjs/common';
import type {
  CacheDecision,
  CacheEviction,
  EvictionCause,
} from '../observability/output-cache-events.js';
import { OutputCacheEvents } from '../observability/output-cache-events.js';

/** The counters of one route id (or of the whole cache), as the snapshot shows them. */
export interface OutputCacheRouteStats {
  /**
   * Responses served from the cache, whatever the freshness: `hit`, `stale`, `stale-if-error`,
   * `collapsed` and `not-modified` (304) all count here.
   */
  hits: number;
  /** Renders of the route's page by the handler (a request, or a background refresh). */
  misses: number;
  /** Rendered pages written to the store. */
  stored: number;
  /** Requests that waited for a concurrent render of the same key and got its entry. */
  collapsed: number;
  /** Stale entries served while a background render refreshed them (grace). */
  stale: number;
  /** Stale entries served because the render failed (stale-if-error). */
  staleIfError: number;
  /** Conditional requests answered 304 from the cache. */
  notModified: number;
  /** Entries read but unservable (deleted, and the page rendered anew). */
  unservable: number;
  /** Requests that did not use the cache, by reason (`session`, `authenticated`, ...). */
  bypassed: Record<string, number>;
  /** Rendered responses that were not stored, by reason (`set-cookie`, `status`, ...). */
  notStored: Record<string, number>;
  /** `hits / (hits + misses)`, 0 before the first of either. */
  hitRatio: number;
}

/** Evictions since start (or `reset()`), by {@link EvictionCause}. */
export interface OutputCacheEvictionStats {
  /** Entries evicted, every cause together. */
  total: number;
  /**
   * Entries evicted by cause: what the store answered (`count`) or, when it did not say (an
   * eviction received over the bus), one a value evicted. `overtaken` counts renders not stored.
   */
  byCause: Record<EvictionCause, number>;
  /** Eviction calls by cause (one `invalidateByTag('a', 'b')` is one call). */
  calls: Record<EvictionCause, number>;
}

/**
 * A snapshot of the cache's counters since start (or since {@link OutputCacheStats.reset}), as
 * `OutputCacheProvider.stats()` returns it. The top-level counters are the whole cache's; the
 * same counters by route id are under `routes`.
 *
 * @example
 * ```ts
 * const { hits, misses, hitRatio, routes } = outputCache.stats();
 * console.log(routes['Catalog/category']?.hitRatio);
 * ```
 */
export interface OutputCacheStatsSnapshot extends OutputCacheRouteStats {
  /** Store calls that failed (served uncached). */
  storeErrors: number;
  /** Store calls not made because the circuit breaker was open (served uncached). */
  storeSkipped: number;
  /** When counting began: start-up or the last `reset()` (epoch milliseconds). */
  since: number;
  /** The same counters by route id (`Catalog/category`, `vc:MiniCart`). */
  routes: Record<string, OutputCacheRouteStats>;
  /**
   * Evictions by cause, in total only: a tag, prefix or `all` eviction takes entries of any
   * number of routes with one count, so none is charged to a route.
   */
  evictions: OutputCacheEvictionStats;
  /** The store's circuit breaker: `open` while calls are refused, `half-open` while probing. */
  breaker: { state: BreakerState };
  /** Entries and bytes the store holds, when it can tell (memory; a tiered store's L1). */
  usage?: { entries: number; bytes: number };
}

/** A circuit breaker's state. */
export type BreakerState = 'closed' | 'open' | 'half-open';

/** What the stats read from the store side, wired by the module (see `output-cache.module.ts`). */
export interface StatsSources {
  breaker(): BreakerState;
  usage(): { entries: number; bytes: number } | undefined;
}

const CAUSES: readonly EvictionCause[] = [
  'tag',
  'route',
  'prefix',
  'key',
  'all',
  'lru',
  'expiry',
  'overtaken',
];

/** Mutable counters of one route (or of the total). */
class Counters {
  hits = 0;
  misses = 0;
  stored = 0;
  collapsed = 0;
  stale = 0;
  staleIfError = 0;
  notModified = 0;
  unservable = 0;
  readonly bypassed = new Map<string, number>();
  readonly notStored = new Map<string, number>();

  count(decision: CacheDecision): void {
    switch (decision.result) {
      case 'hit':
        this.hits++;
        break;
      case 'stale':
        this.hits++;
        this.stale++;
        break;
      case 'stale-if-error':
        this.hits++;
        this.staleIfError++;
        break;
      case 'collapsed':
        this.hits++;
        this.collapsed++;
        break;
      case 'not-modified':
        // A 304 is a hit of what it validated; `reason` says which (see CacheDecision).
        this.hits++;
        this.notModified++;
        if (decision.reason === 'stale') this.stale++;
        else if (decision.reason === 'collapsed') this.collapsed++;
        else if (decision.reason === 'stale-if-error') this.staleIfError++;
        break;
      case 'miss':
        this.misses++;
        break;
      case 'stored':
        this.stored++;
        break;
      case 'not-stored':
        add(this.notStored, decision.reason ?? 'unknown');
        break;
      case 'bypass':
        add(this.bypassed, decision.reason ?? 'unknown');
        break;
      case 'unservable':
        this.unservable++;
        break;
    }
  }

  snapshot(): OutputCacheRouteStats {
    const served = this.hits + this.misses;
    return {
      hits: this.hits,
      misses: this.misses,
      stored: this.stored,
      collapsed: this.collapsed,
      stale: this.stale,
      staleIfError: this.staleIfError,
      notModified: this.notModified,
      unservable: this.unservable,
      bypassed: Object.fromEntries(this.bypassed),
      notStored: Object.fromEntries(this.notStored),
      hitRatio: served === 0 ? 0 : this.hits / served,
    };
  }
}

function add(map: Map<string, number>, reason: string, by = 1): void {
  map.set(reason, (map.get(reason) ?? 0) + by);
}

function zeroes(): Record<EvictionCause, number> {
  return Object.fromEntries(CAUSES.map((cause) => [cause, 0])) as Record<EvictionCause, number>;
}

/**
 * The cache's counters, kept by listening to {@link OutputCacheEvents}: every decision of the
 * request pipeline and every eviction, in total and by route id. Read them through
 * `OutputCacheProvider.stats()` (or `snapshot()` here); `reset()` starts counting anew.
 *
 * @example
 * ```ts
 * constructor(private readonly stats: OutputCacheStats) {}
 * afterEach(() => stats.reset());
 * ```
 */
@Injectable()
export class OutputCacheStats implements OnModuleDestroy {
  /** Store calls that failed (counted by the resilient store). */
  storeErrors = 0;
  /** Store calls refused by the open circuit breaker (counted by the resilient store). */
  storeSkipped = 0;
  private total = new Counters();
  private routes = new Map<string, Counters>();
  private evictedBy = zeroes();
  private evictionCalls = zeroes();
  private since = Date.now();
  private sources: StatsSources | undefined;
  private readonly unlisten: () => void;

  constructor(events: OutputCacheEvents) {
    this.unlisten = events.listen({
      decision: (decision) => this.decision(decision),
      eviction: (eviction) => this.eviction(eviction),
    });
  }

  /** Where the breaker state and the store's usage come from (set by the module). */
  useSources(sources: StatsSources): void {
    this.sources = sources;
  }

  /** Entries and bytes the store holds now, when it can tell (memory; a tiered store's L1). */
  usage(): { entries: number; bytes: number } | undefined {
    return this.sources?.usage();
  }

  /** The store's circuit breaker now. */
  breakerState(): BreakerState {
    return this.sources?.breaker() ?? 'closed';
  }

  /** Counts one decision (the hub calls it). */
  decision(decision: CacheDecision): void {
    this.total.count(decision);
    let route = this.routes.get(decision.route);
    if (route === undefined) this.routes.set(decision.route, (route = new Counters()));
    route.count(decision);
  }

  /** Counts one eviction (the hub calls it). */
  eviction(eviction: CacheEviction): void {
    this.evictionCalls[eviction.cause]++;
    this.evictedBy[eviction.cause] += eviction.count ?? Math.max(1, eviction.values.length);
  }

  /** Zeroes every counter; `since` becomes now. */
  reset(): void {
    this.total = new Counters();
    this.routes = new Map();
    this.evictedBy = zeroes();
    this.evictionCalls = zeroes();
    this.storeErrors = 0;
    this.storeSkipped = 0;
    this.since = Date.now();
  }

  snapshot(): OutputCacheStatsSnapshot {
    const routes: Record<string, OutputCacheRouteStats> = {};
    for (const [id, counters] of this.routes) routes[id] = counters.snapshot();
    const usage = this.usage();
    return {
      ...this.total.snapshot(),
      storeErrors: this.storeErrors,
      storeSkipped: this.storeSkipped,
      since: this.since,
      routes,
      evictions: {
        total: CAUSES.reduce((sum, cause) => sum + this.evictedBy[cause], 0),
        byCause: { ...this.evictedBy },
        calls: { ...this.evictionCalls },
      },
      breaker: { state: this.breakerState() },
      ...(usage ? { usage } : {}),
    };
  }

  onModuleDestroy(): void {
    this.unlisten();
  }
}

import {
  Inject,
  Injectable,
  type OnModuleDestroy,
  ServiceUnavailableException,
} from '@nestjs/common';
import { OUTPUT_CACHE_STORE } from '../output-cache.constants.js';
import { RESOLVED_OPTIONS } from '../output-cache.module-definition.js';
import type { ResolvedOutputCacheOptions } from '../output-cache.options.js';
import { OutputCacheEvents } from '../observability/output-cache-events.js';
import { OutputCacheProvider } from '../provider/output-cache.provider.js';
import type { OutputCacheStatsSnapshot } from '../provider/output-cache.stats.js';
import { type CacheEntry, type CacheEntrySummary, summarize } from '../stores/cache-entry.js';
import type { OutputCacheStore } from '../stores/output-cache-store.interface.js';
import { AdminActivity, type MinuteActivity } from './admin-activity.recorder.js';
import type { EntriesQuery, PurgeRequest } from './admin-request.parser.js';
import { isVaryRecord } from '../http/vary-record.js';
import { varyValuesOfKey } from './cache-key-parts.js';
import { OUTPUT_CACHE_ADMIN_OPTIONS } from './output-cache-admin.constants.js';
import type { ResolvedOutputCacheAdminOptions } from './output-cache-admin.options.js';

/** One entry as the admin endpoints show it. */
export interface AdminEntryView {
  key: string;
  routeId: string;
  path: string;
  /**
   * Vary-by values by name, read from the key (a list for a set of values); `null` for a key
   * stored as a digest.
   */
  vary: Record<string, string | string[]> | null;
  status: number;
  /** Body bytes. */
  size: number;
  tags: string[];
  createdAt: number;
  expiresAt: number;
  graceUntil?: number;
  /** Whole seconds since the render. */
  ageSeconds: number;
  /** Whole seconds it stays fresh (0 once stale). */
  ttlSeconds: number;
  /** `fresh`, `grace` (served stale while refreshed) or `kept` (only for stale-if-error). */
  state: 'fresh' | 'grace' | 'kept';
  /** Responses served from it since this process tracked it. */
  hits: number;
}

/** A page of entries. */
export interface AdminEntriesPage {
  items: AdminEntryView[];
  skip: number;
  take: number;
  /** Entries matching (exact when `complete`; without filters, the store's count). */
  total: number;
  /** Whether `total` counts every match (a filtered listing reads at most `scanLimit` entries). */
  complete: boolean;
  filters: { route?: string; tag?: string; prefix?: string };
}

/** The store's health, as `GET <path>/health` reports it. */
export interface AdminHealth {
  ok: boolean;
  /** The store's class name (`MemoryOutputCacheStore`, `RedisOutputCacheStore`, ...). */
  store: string;
  breaker: 'closed' | 'open' | 'half-open';
  /** A read of an absent key made now, bounded by `operationTimeout`. */
  ping: { ok: boolean; ms: number; error?: string };
  checkedAt: number;
}

/** The stats snapshot, plus the timeline of the last hour. */
export type AdminStats = OutputCacheStatsSnapshot;

/** Key read by the health check (never written). */
const PING_KEY = 'output-cache-admin:ping';

/** Entries read per store call while a filtered listing scans. */
const SCAN_BATCH = 500;

/**
 * What the admin endpoints and the dashboard do: listings with filters, one entry, purges
 * through {@link OutputCacheProvider}, stats, the store's health, hits per entry and per minute.
 *
 * @example
 * ```ts
 * const page = await admin.entries({ tag: 'Product:42', skip: 0, take: 20 });
 * await admin.purge({ by: 'tag', values: ['Product:42'], soft: false });
 * ```
 */
@Injectable()
export class OutputCacheAdminService implements OnModuleDestroy {
  readonly activity: AdminActivity;
  private readonly unlisten: () => void;

  constructor(
    private readonly provider: OutputCacheProvider,
    events: OutputCacheEvents,
    @Inject(OUTPUT_CACHE_STORE) private readonly store: OutputCacheStore,
    @Inject(RESOLVED_OPTIONS) private readonly cacheOptions: ResolvedOutputCacheOptions,
    @Inject(OUTPUT_CACHE_ADMIN_OPTIONS) readonly options: ResolvedOutputCacheAdminOptions,
  ) {
    this.activity = new AdminActivity(options.trackedKeys);
    this.unlisten = events.listen({ decision: (decision) => this.activity.record(decision) });
  }

  onModuleDestroy(): void {
    this.unlisten();
  }

  /** A page of entries, filtered by route id, tag and path prefix. */
  async entries(query: EntriesQuery, now = Date.now()): Promise<AdminEntriesPage> {
    const filters = { route: query.route, tag: query.tag, prefix: query.prefix };
    const { skip, take } = query;
    if (!query.route && !query.tag && !query.prefix) {
      const [items, total] = await this.storeCall(() =>
        Promise.all([this.provider.list({ skip, take }), this.provider.count()]),
      );
      return {
        // A URL's vary record (`varyBy: 'auto'`) is not a page.
        items: items.filter((s) => !isVaryRecord(s)).map((s) => this.view(s, now)),
        skip,
        take,
        total,
        complete: true,
        filters,
      };
    }
    // The store lists without filters: read it in batches, keep the matches of the page, count
    // the rest, and stop at scanLimit.
    const matches = (s: CacheEntrySummary) =>
      (!query.route || s.routeId === query.route) &&
      (!query.tag || s.tags.includes(query.tag)) &&
      (!query.prefix || s.path.startsWith(query.prefix));
    const items: AdminEntryView[] = [];
    let matched = 0;
    let scanned = 0;
    let complete = false;
    while (scanned < this.options.scanLimit) {
      const batch = await this.storeCall(() =>
        this.provider.list({
          skip: scanned,
          take: Math.min(SCAN_BATCH, this.options.scanLimit - scanned),
        }),
      );
      for (const summary of batch) {
        if (isVaryRecord(summary) || !matches(summary)) continue;
        if (matched >= skip && items.length < take) items.push(this.view(summary, now));
        matched++;
      }
      scanned += batch.length;
      if (batch.length < SCAN_BATCH) {
        complete = true;
        break;
      }
    }
    return { items, skip, take, total: matched, complete, filters };
  }

  /** One entry with its headers, or undefined. */
  async entry(
    key: string,
    now = Date.now(),
  ): Promise<
    (AdminEntryView & { headers: CacheEntry['headers']; holes: number; etag?: string }) | undefined
  > {
    const entry = await this.storeCall(() =>
      bounded(this.store.get(key), this.cacheOptions.operationTimeout * 1000),
    );
    if (!entry) return undefined;
    return {
      ...this.view(summarize(entry), now),
      headers: entry.headers,
      holes: entry.holes?.length ?? 0,
      ...(entry.etag ? { etag: entry.etag } : {}),
    };
  }

  /** Purges through {@link OutputCacheProvider}; resolves how many entries it took. */
  async purge(request: PurgeRequest): Promise<number> {
    const options = { soft: request.soft };
    return this.storeCall(async () => {
      switch (request.by) {
        case 'key': {
          const removed = await this.provider.remove(request.values[0], options);
          if (removed && !request.soft) this.activity.forget(request.values[0]);
          return removed ? 1 : 0;
        }
        case 'route':
          return this.provider.invalidateByRoute(...request.values, options);
        case 'tag':
          return this.provider.invalidateByTag(...request.values, options);
        case 'prefix':
          return this.provider.invalidateByPrefix(request.values[0], options);
        default:
          return this.provider.invalidateAll(options);
      }
    });
  }

  /** The cache's counters (`OutputCacheProvider.stats()`). */
  stats(): AdminStats {
    return this.provider.stats();
  }

  /** Hits and misses per minute, the last hour. */
  timeline(now = Date.now()): MinuteActivity[] {
    return this.activity.timeline(now);
  }

  /** The store's type, breaker state and a timed read of an absent key. */
  async health(): Promise<AdminHealth> {
    const started = performance.now();
    let ping: AdminHealth['ping'];
    try {
      // Straight to the store, not through the breaker: the check must see the store itself,
      // also while the circuit is open.
      await bounded(this.store.get(PING_KEY), this.cacheOptions.operationTimeout * 1000);
      ping = { ok: true, ms: elapsed(started) };
    } catch (error) {
      ping = { ok: false, ms: elapsed(started), error: String(error) };
    }
    const breaker = this.provider.stats().breaker?.state ?? 'closed';
    return {
      ok: ping.ok && breaker === 'closed',
      store: this.store.constructor.name,
      breaker,
      ping,
      checkedAt: Date.now(),
    };
  }

  private view(summary: CacheEntrySummary, now: number): AdminEntryView {
    const grace = summary.graceUntil;
    return {
      key: summary.key,
      routeId: summary.routeId,
      path: summary.path,
      vary: varyValuesOfKey(summary.key) ?? null,
      status: summary.status,
      size: summary.size,
      tags: summary.tags,
      createdAt: summary.createdAt,
      expiresAt: summary.expiresAt,
      ...(grace === undefined ? {} : { graceUntil: grace }),
      ageSeconds: Math.max(0, Math.floor((now - summary.createdAt) / 1000)),
      ttlSeconds: Math.max(0, Math.ceil((summary.expiresAt - now) / 1000)),
      state: now < summary.expiresAt ? 'fresh' : now < (grace ?? 0) ? 'grace' : 'kept',
      hits: this.activity.hitsOf(summary.key),
    };
  }

  /** A store call whose failure answers 503 with what went wrong. */
  private async storeCall<T>(call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (error) {
      throw new ServiceUnavailableException(`the cache store did not answer: ${String(error)}`);
    }
  }
}

function elapsed(started: number): number {
  return Math.round((performance.now() - started) * 10) / 10;
}

/** Bounds a call; a late rejection of the abandoned call is swallowed. */
function bounded<T>(call: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
    timer.unref();
  });
  call.catch(() => undefined);
  return Promise.race([call, timeout]).finally(() => clearTimeout(timer));
}

import {
  Inject,
  Injectable,
  type OnApplicationShutdown,
  type OnModuleDestroy,
  type OnModuleInit,
} from '@nestjs/common';
import type { Counter, Gauge, Metric, Registry } from 'prom-client';
import { OutputCacheConfigError } from '../errors/output-cache-config.error.js';
import { OutputCacheStats } from '../provider/output-cache.stats.js';
import {
  type CacheDecision,
  type CacheDecisionResult,
  type CacheEviction,
  OutputCacheEvents,
} from './output-cache-events.js';
import { DurationHistogram } from './duration-histogram.js';
import {
  DEFAULT_DURATION_BUCKETS,
  OUTPUT_CACHE_METRICS_OPTIONS,
  type OutputCacheMetricsOptions,
} from './output-cache-metrics.options.js';

type PromClient = typeof import('prom-client');

/** The results `output_cache_requests_total` counts: one a request. */
const REQUEST_RESULTS = [
  'hit',
  'stale',
  'stale-if-error',
  'not-modified',
  'collapsed',
  'miss',
  'bypass',
] as const satisfies readonly CacheDecisionResult[];

/** Index of a result in {@link REQUEST_RESULTS}, or -1 when it is not a request's result. */
const RESULT_INDEX: Record<CacheDecisionResult, number> = {
  hit: 0,
  stale: 1,
  'stale-if-error': 2,
  'not-modified': 3,
  collapsed: 4,
  miss: 5,
  bypass: 6,
  stored: -1,
  'not-stored': -1,
  unservable: -1,
};

/**
 * Prometheus metrics of the cache (`nestjs-output-cache/prometheus`), on the app's default
 * registry or a given one. prom-client is loaded when the module starts; the counters are plain
 * numbers bumped on the request path and handed to prom-client when the registry is scraped
 * (the histogram too: {@link DurationHistogram}), so a hit costs a map lookup, a bucket search
 * and a few increments.
 *
 * | metric | type | labels |
 * | --- | --- | --- |
 * | `output_cache_requests_total` | counter | `route`, `result` |
 * | `output_cache_bypass_total` | counter | `reason` |
 * | `output_cache_not_stored_total` | counter | `reason` |
 * | `output_cache_evictions_total` | counter | `cause` |
 * | `output_cache_store_errors_total` | counter | |
 * | `output_cache_store_skipped_total` | counter | |
 * | `output_cache_breaker_open` | gauge | |
 * | `output_cache_entries`, `output_cache_bytes` | gauge | |
 * | `output_cache_request_duration_seconds` | histogram | `result` |
 *
 * @example
 * ```ts
 * @Controller('metrics')
 * export class MetricsController {
 *   constructor(private readonly metrics: OutputCacheMetrics) {}
 *   @Get() async scrape(@Res() res: Response) {
 *     res.type(this.metrics.registry.contentType).send(await this.metrics.registry.metrics());
 *   }
 * }
 * ```
 */
@Injectable()
export class OutputCacheMetrics implements OnModuleInit, OnModuleDestroy, OnApplicationShutdown {
  private registry_: Registry | undefined;
  private registered: Metric[] = [];
  private unlisten: (() => void) | undefined;
  /** Requests by route id: counts indexed like {@link REQUEST_RESULTS}. */
  private readonly requests = new Map<string, number[]>();
  private readonly bypassed = new Map<string, number>();
  private readonly notStored = new Map<string, number>();
  private readonly evicted = new Map<string, number>();
  private durations: DurationHistogram | undefined;

  constructor(
    @Inject(OUTPUT_CACHE_METRICS_OPTIONS) private readonly options: OutputCacheMetricsOptions,
    private readonly events: OutputCacheEvents,
    private readonly stats: OutputCacheStats,
  ) {}

  /** The registry the metrics are in (scrape it with `registry.metrics()`). */
  get registry(): Registry {
    if (!this.registry_) {
      throw new Error('OutputCacheMetrics: the registry is known once the module has started');
    }
    return this.registry_;
  }

  async onModuleInit(): Promise<void> {
    const prom = await loadPromClient();
    const registry = this.options.registry ?? prom.register;
    const metrics = this.create(prom);
    for (const metric of metrics) {
      const name = (metric as unknown as { name: string }).name;
      if (registry.getSingleMetric(name)) {
        throw new OutputCacheConfigError(
          `OutputCacheMetricsModule: the registry already has a metric named ${name} (another app in this process, or the module imported twice); give each app its own registry (forRoot({ registry: new Registry() })) or a prefix`,
        );
      }
    }
    for (const metric of metrics) registry.registerMetric(metric);
    this.registry_ = registry;
    this.registered = metrics;
    this.unlisten = this.events.listen({
      decision: (decision) => this.decision(decision),
      eviction: (eviction) => this.eviction(eviction),
    });
  }

  onModuleDestroy(): void {
    this.release();
  }

  onApplicationShutdown(): void {
    this.release();
  }

  private release(): void {
    this.unlisten?.();
    this.unlisten = undefined;
    for (const metric of this.registered) {
      this.registry_?.removeSingleMetric((metric as unknown as { name: string }).name);
    }
    this.registered = [];
  }

  private decision(decision: CacheDecision): void {
    const index = RESULT_INDEX[decision.result];
    if (index >= 0) {
      let counts = this.requests.get(decision.route);
      if (counts === undefined) {
        counts = REQUEST_RESULTS.map(() => 0);
        this.requests.set(decision.route, counts);
      }
      counts[index]++;
      if (decision.durationMs !== undefined) {
        this.durations?.observe(index, decision.durationMs / 1000);
      }
    }
    if (decision.result === 'bypass') add(this.bypassed, decision.reason ?? 'unknown', 1);
    else if (decision.result === 'not-stored') add(this.notStored, decision.reason ?? 'unknown', 1);
  }

  private eviction(eviction: CacheEviction): void {
    add(this.evicted, eviction.cause, eviction.count ?? Math.max(1, eviction.values.length));
  }

  /** The metrics, each filled from the counters here (or the stats) when scraped. */
  private create(prom: PromClient): Metric[] {
    const name = (base: string) => `${this.options.prefix ?? ''}output_cache_${base}`;
    // prom-client calls collect() with the metric as `this`: the counters are read from here.
    const { requests, bypassed, notStored, evicted, stats } = this;
    const byLabel = (
      counter: Counter<string>,
      label: string,
      values: Map<string, number>,
    ): void => {
      counter.reset();
      for (const [value, count] of values) counter.inc({ [label]: value }, count);
    };
    const metrics: Metric[] = [
      new prom.Counter({
        name: name('requests_total'),
        help: 'Requests to cacheable routes, by route id and result (hit, stale, stale-if-error, not-modified, collapsed, miss, bypass).',
        labelNames: ['route', 'result'],
        registers: [],
        collect() {
          this.reset();
          for (const [route, counts] of requests) {
            counts.forEach((count, i) => {
              if (count > 0) this.inc({ route, result: REQUEST_RESULTS[i] }, count);
            });
          }
        },
      }),
      new prom.Counter({
        name: name('bypass_total'),
        help: 'Requests that did not use the cache, by reason.',
        labelNames: ['reason'],
        registers: [],
        collect() {
          byLabel(this, 'reason', bypassed);
        },
      }),
      new prom.Counter({
        name: name('not_stored_total'),
        help: 'Rendered responses that were not stored, by reason.',
        labelNames: ['reason'],
        registers: [],
        collect() {
          byLabel(this, 'reason', notStored);
        },
      }),
      new prom.Counter({
        name: name('evictions_total'),
        help: 'Entries evicted, by cause (tag, route, prefix, key, all, lru, expiry, overtaken).',
        labelNames: ['cause'],
        registers: [],
        collect() {
          byLabel(this, 'cause', evicted);
        },
      }),
      new prom.Counter({
        name: name('store_errors_total'),
        help: 'Store calls that failed (the request was served uncached).',
        registers: [],
        collect() {
          this.reset();
          this.inc(stats.storeErrors);
        },
      }),
      new prom.Counter({
        name: name('store_skipped_total'),
        help: 'Store calls not made because the circuit breaker was open.',
        registers: [],
        collect() {
          this.reset();
          this.inc(stats.storeSkipped);
        },
      }),
      new prom.Gauge({
        name: name('breaker_open'),
        help: "1 while the store's circuit breaker is open or probing, else 0.",
        registers: [],
        collect() {
          this.set(stats.breakerState() === 'closed' ? 0 : 1);
        },
      }),
    ];
    // Only stores that can tell what they hold (memory, a tiered store's L1) have these.
    if (this.stats.usage() !== undefined) {
      const usageGauge = (base: string, help: string, pick: 'entries' | 'bytes'): Gauge =>
        new prom.Gauge({
          name: name(base),
          help,
          registers: [],
          collect() {
            this.set(stats.usage()?.[pick] ?? 0);
          },
        });
      metrics.push(
        usageGauge('entries', 'Entries the store holds (a tiered store: its L1).', 'entries'),
        usageGauge('bytes', 'Bytes the store holds (a tiered store: its L1).', 'bytes'),
      );
    }
    this.durations = new DurationHistogram(
      name('request_duration_seconds'),
      'Time from the cache seeing a request to its response written (hits) or ended (misses).',
      this.options.buckets ?? DEFAULT_DURATION_BUCKETS,
      'result',
      REQUEST_RESULTS,
    );
    // What the registry reads of a metric (see DurationHistogram), not one of prom-client's.
    metrics.push(this.durations as unknown as Metric);
    return metrics;
  }
}

function add(map: Map<string, number>, key: string, by: number): void {
  map.set(key, (map.get(key) ?? 0) + by);
}

/** prom-client, loaded when asked for: an app without metrics never loads it. */
async function loadPromClient(): Promise<PromClient> {
  try {
    const loaded = (await import('prom-client')) as PromClient & { default?: PromClient };
    return loaded.default ?? loaded;
  } catch (error) {
    throw new OutputCacheConfigError(
      `OutputCacheMetricsModule needs the prom-client package, which could not be loaded (${String(error)}); install it: npm install prom-client`,
    );
  }
}

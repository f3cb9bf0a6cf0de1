import type { AntiforgeryOptions } from './components/antiforgery-token.component.js';
import type { SettingsSource } from './invalidation/entity-change.js';
import type { CircuitBreakerOptions } from './stores/circuit-breaker.js';
import type { OutputCacheStore } from './stores/output-cache-store.interface.js';

/** What a vary-by resolver may return: one value, several (order does not matter), or nothing. */
export type VaryByValue = string | number | boolean | null | undefined | readonly string[];

/**
 * Resolves one vary-by value from the request: a function of the (Express) request, or
 * `{ header: 'accept-language' }`, which reads that request header and also declares it part of
 * the key, so that a response `Vary` naming it is still cacheable.
 */
export type VaryByResolver =
  ((req: any) => VaryByValue | Promise<VaryByValue>) | { header: string };

/**
 * Options of {@link OutputCacheModule}. Every duration is a number of seconds.
 *
 * | option | default |
 * | --- | --- |
 * | `enabled` | `true` |
 * | `defaultTtl` | `60` |
 * | `grace` | `0` |
 * | `staleIfError` | `0` |
 * | `hitForMiss` | `10` |
 * | `precompress` | `true` |
 * | `store` | a memory store bounded by `maxEntries` and `maxBytes` |
 * | `maxEntries` | `10000` |
 * | `maxBytes` | `104857600` (100 MiB) |
 * | `maxEntryBytes` | `8388608` (8 MiB) |
 * | `varyBy` | `{}` |
 * | `routes` | `[]` |
 * | `appVersion` | `''` |
 * | `exclude` | `[]` |
 * | `sessionCookie` | `[]` |
 * | `headers` | `true` |
 * | `collapseTimeout` | `10` |
 * | `storeTimeout` | `0.25` |
 * | `componentTimeout` | `2` |
 * | `maxComponentDepth` | `5` |
 * | `csrf` | none |
 * | `invalidation` | `true` |
 * | `dataSources` | `[]` |
 * | `settings` | none |
 * | `circuitBreaker` | `{ failures: 3, openFor: 5 }` |
 * | `distributedLock` | `false` |
 * | `lockTimeout` | `5` |
 */
export interface OutputCacheModuleOptions {
  /** Turns the whole cache on or off; off, every route renders as if the module were absent. */
  enabled?: boolean;
  /** Time to live of an entry whose route sets no `ttl`, in seconds. */
  defaultTtl?: number;
  /**
   * Grace: seconds after the TTL during which a stale entry is served (`X-Cache: STALE`) while
   * exactly one background render refreshes it. Routes override it in `@Cacheable`.
   */
  grace?: number;
  /**
   * Seconds after the TTL during which a render that throws or answers 5xx is replaced by the
   * old entry (stale-if-error). Routes override it in `@Cacheable`.
   */
  staleIfError?: number;
  /**
   * Seconds to remember that a key answered uncacheable, so that its requests render side by
   * side instead of queueing behind each other (hit-for-miss). 0 turns it off.
   */
  hitForMiss?: number;
  /** Store text bodies of at least 1 KB with gzip and brotli variants made once, at store time. */
  precompress?: boolean;
  /** The store; defaults to a {@link MemoryOutputCacheStore} sized by `maxEntries`/`maxBytes`. */
  store?: OutputCacheStore;
  /** Most entries the default memory store keeps. */
  maxEntries?: number;
  /** Most bytes (bodies, headers, keys) the default memory store keeps. */
  maxBytes?: number;
  /** A body larger than this is never stored. */
  maxEntryBytes?: number;
  /**
   * Named vary-by values: each splits a page into one entry per value. The built-in names
   * `language`, `currency`, `store`, `theme` and `roles` are ordinary names whose resolvers the
   * app supplies; a route uses all registered names unless its `varyBy` lists some.
   */
  varyBy?: Record<string, VaryByResolver>;
  /** Route ids (`Catalog/category`, `Blog/Blog/list`) made cacheable without a decorator. */
  routes?: string[];
  /** Part of every key: a deploy with a new version never serves the old version's pages. */
  appVersion?: string;
  /** Path patterns (picomatch globs such as `/admin/**`) that are never cached. */
  exclude?: string[];
  /** Cookie names whose presence means a signed-in user (such requests bypass the cache). */
  sessionCookie?: string | string[];
  /** Emit `X-Cache` and `Age` response headers. */
  headers?: boolean;
  /** How long a request waits for a concurrent render of the same key before rendering itself. */
  collapseTimeout?: number;
  /**
   * Longest wait for a store read or write; a slower or failing store is a miss and the page is
   * served uncached (never a 500, never a hung request).
   */
  storeTimeout?: number;
  /** Longest render of a view component whose own `timeout` is not set; then its fallback shows. */
  componentTimeout?: number;
  /** Deepest nesting of components inside components; deeper ones render empty (logged once). */
  maxComponentDepth?: number;
  /**
   * The built-in CSRF hole (`{{{antiforgeryField}}}`, component `AntiForgeryToken`): how to get
   * the request's token. Without it the component is not registered.
   */
  csrf?: AntiforgeryOptions;
  /**
   * Evict pages when TypeORM entities change: the invalidation observer is hooked into every
   * `DataSource` provider of the app (`@nestjs/typeorm`) and those in `dataSources`.
   */
  invalidation?: boolean;
  /** DataSources to observe besides those found among the app's providers. */
  dataSources?: unknown[];
  /** The settings entity, for `InvalidationObserver.observeSetting()`. */
  settings?: SettingsSource;
  /**
   * When a store (other than memory) fails this many times in a row, leave it alone for a while
   * and render uncached. Default `{ failures: 3, openFor: 5 }`.
   */
  circuitBreaker?: CircuitBreakerOptions;
  /**
   * With a store that offers a render lock (Redis, tiered): a cold page is rendered once across
   * all instances; the others poll the store and give up after `lockTimeout`. Default false.
   */
  distributedLock?: boolean;
  /** How long an instance waits for another instance's render of the same key. Default 5. */
  lockTimeout?: number;
}

/** Options with every default applied. */
export interface ResolvedOutputCacheOptions extends Required<
  Omit<OutputCacheModuleOptions, 'store' | 'sessionCookie' | 'csrf' | 'settings' | 'circuitBreaker'>
> {
  circuitBreaker?: CircuitBreakerOptions;
  store?: OutputCacheStore;
  csrf?: AntiforgeryOptions;
  settings?: SettingsSource;
  sessionCookie: string[];
}

export const OUTPUT_CACHE_DEFAULTS = {
  enabled: true,
  defaultTtl: 60,
  grace: 0,
  staleIfError: 0,
  hitForMiss: 10,
  precompress: true,
  maxEntries: 10_000,
  maxBytes: 100 * 1024 * 1024,
  maxEntryBytes: 8 * 1024 * 1024,
  appVersion: '',
  headers: true,
  collapseTimeout: 10,
  storeTimeout: 0.25,
  componentTimeout: 2,
  maxComponentDepth: 5,
  invalidation: true,
  distributedLock: false,
  lockTimeout: 5,
} as const;

/** Applies defaults and checks values, throwing an error that says which option is wrong. */
export function resolveOutputCacheOptions(
  options: OutputCacheModuleOptions = {},
): ResolvedOutputCacheOptions {
  const resolved: ResolvedOutputCacheOptions = {
    ...OUTPUT_CACHE_DEFAULTS,
    varyBy: {},
    routes: [],
    exclude: [],
    dataSources: [],
    ...stripUndefined(options),
    sessionCookie:
      options.sessionCookie === undefined
        ? []
        : Array.isArray(options.sessionCookie)
          ? options.sessionCookie
          : [options.sessionCookie as string],
  };
  for (const name of [
    'defaultTtl',
    'maxEntries',
    'maxBytes',
    'maxEntryBytes',
    'collapseTimeout',
    'storeTimeout',
    'componentTimeout',
    'maxComponentDepth',
  ]) {
    const value = (resolved as any)[name];
    if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
      throw new TypeError(
        `OutputCacheModule: option "${name}" must be a positive number, got ${String(value)}`,
      );
    }
  }
  for (const [name, resolver] of Object.entries(resolved.varyBy)) {
    const ok =
      typeof resolver === 'function' ||
      (typeof resolver === 'object' && resolver !== null && typeof resolver.header === 'string');
    if (!ok) {
      throw new TypeError(
        `OutputCacheModule: varyBy "${name}" must be a function (req) => value or { header: 'name' }`,
      );
    }
  }
  return resolved;
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

import picomatch from 'picomatch';
import type { AntiforgeryOptions } from './components/antiforgery-token.component.js';
import { OutputCacheConfigError } from './errors/output-cache-config.error.js';
import type { SettingsSource } from './invalidation/entity-change.js';
import { type CdnOptions, type ResolvedCdnOptions, resolveCdnOptions } from './cdn/cdn.options.js';
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
 * | `defaultVaryBy` | `'all'` |
 * | `routes` | `[]` |
 * | `appVersion` | `''` |
 * | `exclude` | `[]` |
 * | `sessionCookie` | `[]` |
 * | `headers` | `true` |
 * | `reasonHeader` | `false` |
 * | `fastLaneHeaders` | `{}` |
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
 * | `operationTimeout` | `5` |
 * | `shutdownTimeout` | `2` |
 * | `cdn` | none (no CDN headers, no purges; see {@link CdnOptions}) |
 * | `refreshAhead` | `false` (`{ top: 100, concurrency: 2 }` when given as `true` or `{}`) |
 * | `streamHoles` | `false` (every response written whole, with `Content-Length`) |
 * | `cspNonce` | none (inline scripts of streamed holes carry no `nonce`) |
 *
 * Every option is checked when the module is created: a wrong one stops the app's start-up
 * with an {@link OutputCacheConfigError} naming it, never a failure per request.
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
  /**
   * Give text bodies of at least 1 KB gzip and brotli variants, made once on an entry's first hit
   * (off the event loop) and stored with it; hits then compress nothing.
   */
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
  /**
   * The vary-by names of a route whose `@Cacheable` lists none: `'all'` (every registered name:
   * safe whatever the page reads, but a page that reads no currency is still stored once per
   * currency) or `'auto'` (learned: each page is keyed by the names its render and its cacheable
   * components read through `DisplayControl.vary()` or declare in `@ViewComponent({ varyBy })`).
   * Choose `'auto'` only when every read goes through those: a value read straight from the
   * request is not seen. Default `'all'`.
   */
  defaultVaryBy?: 'all' | 'auto';
  /** Route ids (`Catalog/category`, `Blog/Blog/list`) made cacheable without a decorator. */
  routes?: string[];
  /** Part of every key: a deploy with a new version never serves the old version's pages. */
  appVersion?: string;
  /**
   * Path patterns (picomatch globs such as `/admin/**`) that are never cached; matched without
   * case, as Express routes by default.
   */
  exclude?: string[];
  /** Cookie names whose presence means a signed-in user (such requests bypass the cache). */
  sessionCookie?: string | string[];
  /** Emit `X-Cache` and `Age` response headers. */
  headers?: boolean;
  /**
   * Emit `X-Cache-Reason`: why the cache answered as it did (`hit`, `stale`, `miss`,
   * `bypass: session`, `not-stored: set-cookie`...; see the README, "Observability"). For
   * debugging and tests; it tells clients how the cache decides. Default false.
   */
  reasonHeader?: boolean;
  /**
   * Headers set on every fast-lane hit (`@Cacheable({ fastLane: true })`), where no middleware
   * runs: the static headers a middleware such as `helmet` sets on every response, e.g.
   * `{ 'X-Content-Type-Options': 'nosniff', 'Strict-Transport-Security': 'max-age=31536000' }`.
   * Stored headers of the page win over them. Default `{}`.
   */
  fastLaneHeaders?: Record<string, string>;
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
  /**
   * Longest wait, in seconds, of one {@link OutputCacheProvider} call that reaches the store
   * (`invalidate*`, `count`, `list`, `remove`): a slower store makes the call reject instead of
   * hanging the caller. Default 5.
   */
  operationTimeout?: number;
  /**
   * Longest time, in seconds, the app's shutdown waits for the cache's background work (refresh
   * renders, variant compression, pending store writes); then the work still running is
   * cancelled. (Stores bound their own close.) Default 2.
   */
  shutdownTimeout?: number;
  /**
   * A CDN or Varnish in front: stored pages carry their tags in the header the shared cache reads
   * (`Surrogate-Key`, `Cache-Tag`), other pages of cacheable routes `Surrogate-Control: no-store`,
   * and the app's evictions are forwarded to `cdn.purger`. See {@link CdnOptions}.
   */
  cdn?: CdnOptions;
  /**
   * Refresh-ahead: right after an eviction, render again the `top` most-hit pages it took, at
   * most `concurrency` at a time, in this process and off the eviction's call, so the next
   * client finds them cached. Only pages whose vary-by values come from the request's host and
   * headers (not its cookies) are replayed; see `RefreshAhead`. Off by default; `true` means
   * `{ top: 100, concurrency: 2 }`.
   */
  refreshAhead?: boolean | RefreshAheadOptions;
  /**
   * Streamed holes: a page with holes (hit, or a miss being stored) goes out at once, each hole
   * as it finishes, instead of after its slowest hole. `'in-order'`: the page up to the first
   * hole at once, then each hole as soon as it and those before it are done (chunked, no
   * JavaScript). `'out-of-order'`: the whole page at once with a placeholder per hole, then each
   * hole, in whatever order they finish, with a tiny inline script that moves it into place; only
   * for clients that showed they run JavaScript (cookie `oc-js=1`, set by an inline script of the
   * first such page), the others get the in-order form. Routes override it in `@Cacheable`. Only
   * HTML pages of GET requests stream; see the README, "Streamed holes". Default `false`.
   *
   * @example
   * ```ts
   * OutputCacheModule.forRoot({ streamHoles: 'in-order' })
   * ```
   */
  streamHoles?: StreamHoles;
  /**
   * The CSP nonce of a response, for the inline scripts of streamed holes (`'out-of-order'`):
   * every one of them carries `nonce="..."` with this value. Return undefined for none.
   *
   * @example
   * ```ts
   * OutputCacheModule.forRoot({ streamHoles: 'out-of-order', cspNonce: (req, res) => res.locals.cspNonce })
   * ```
   */
  cspNonce?: (req: any, res: any) => string | undefined;
}

/**
 * How a page's holes go out (option `streamHoles`, and `@Cacheable({ streamHoles })`): `false`,
 * the whole page once every hole rendered; `'in-order'` or `'out-of-order'`, streamed.
 *
 * @example
 * ```ts
 * const mode: StreamHoles = process.env.STREAM_HOLES === 'on' ? 'in-order' : false;
 * OutputCacheModule.forRoot({ streamHoles: mode });
 * ```
 */
export type StreamHoles = false | 'in-order' | 'out-of-order';

/** The values of {@link StreamHoles}. @internal */
export const STREAM_HOLES_VALUES: readonly StreamHoles[] = [false, 'in-order', 'out-of-order'];

/**
 * What is wrong with `value` as a `streamHoles` option (`must be ..., got ...`), or undefined.
 * `write(v)` shows the option written with the value `v`.
 *
 * @internal Shared with the `@Cacheable` checks of the route policy resolver.
 * @example
 * ```ts
 * streamHolesProblem(true, (v) => `streamHoles: ${v}`);
 * // "must be false, 'in-order' or 'out-of-order', got true. Example: streamHoles: 'in-order'"
 * ```
 */
export function streamHolesProblem(
  value: unknown,
  write: (value: string) => string,
): string | undefined {
  if (STREAM_HOLES_VALUES.includes(value as StreamHoles)) return undefined;
  const fix =
    value === 'false'
      ? `; write it without quotes: ${write('false')}`
      : typeof value === 'string' &&
          STREAM_HOLES_VALUES.includes(value.trim().toLowerCase() as never)
        ? `; write ${write(`'${value.trim().toLowerCase()}'`)}`
        : `. Example: ${write("'in-order'")}`;
  return `must be false, 'in-order' or 'out-of-order', got ${describeValue(value)}${fix}`;
}

/** Options of refresh-ahead (`refreshAhead`). */
export interface RefreshAheadOptions {
  /** How many of the most-hit pages are rendered again after an eviction. Default 100. */
  top?: number;
  /** How many of them render at the same time. Default 2. */
  concurrency?: number;
}

/** Options with every default applied. */
export interface ResolvedOutputCacheOptions extends Required<
  Omit<
    OutputCacheModuleOptions,
    | 'store'
    | 'sessionCookie'
    | 'csrf'
    | 'settings'
    | 'circuitBreaker'
    | 'refreshAhead'
    | 'cdn'
    | 'cspNonce'
  >
> {
  /** The CDN in front, with its defaults applied; undefined when not set. */
  cdn?: ResolvedCdnOptions;
  /** Refresh-ahead, with its defaults applied; undefined when off. */
  refreshAhead?: Required<RefreshAheadOptions>;
  circuitBreaker?: CircuitBreakerOptions;
  store?: OutputCacheStore;
  csrf?: AntiforgeryOptions;
  settings?: SettingsSource;
  sessionCookie: string[];
  cspNonce?: (req: any, res: any) => string | undefined;
}

/**
 * The default of every scalar option (durations in seconds, sizes in bytes).
 *
 * @example
 * ```ts
 * OutputCacheModule.forRoot({ defaultTtl: OUTPUT_CACHE_DEFAULTS.defaultTtl * 5 })
 * ```
 */
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
  defaultVaryBy: 'all',
  headers: true,
  reasonHeader: false,
  collapseTimeout: 10,
  storeTimeout: 0.25,
  componentTimeout: 2,
  maxComponentDepth: 5,
  invalidation: true,
  distributedLock: false,
  lockTimeout: 5,
  operationTimeout: 5,
  shutdownTimeout: 2,
  streamHoles: false,
} as const;

/**
 * Checks every option and applies the defaults. A wrong option throws an
 * {@link OutputCacheConfigError} that names it and says how to write it, so that the app stops
 * at start-up instead of failing on requests.
 *
 * @example
 * ```ts
 * resolveOutputCacheOptions({ grace: 30 }).grace; // 30
 * resolveOutputCacheOptions({ grace: -5 });
 * // OutputCacheConfigError: OutputCacheModule: option "grace" must be a number of seconds, 0 or
 * // more (0 turns it off), got -5. Example: grace: 30
 * ```
 */
export function resolveOutputCacheOptions(
  options: OutputCacheModuleOptions = {},
): ResolvedOutputCacheOptions {
  if (!isObject(options)) {
    throw new OutputCacheConfigError(
      `OutputCacheModule: the options must be an object, got ${describeValue(options)}; ` +
        `pass forRoot({ ... }), or return the options from forRootAsync's useFactory`,
    );
  }
  const given = stripUndefined(options) as OutputCacheModuleOptions;
  for (const [name, value] of Object.entries(given)) {
    if (!Object.hasOwn(OPTION_CHECKS, name)) throw unknownOption(name);
    OPTION_CHECKS[name as keyof OutputCacheModuleOptions](value, name);
  }
  return {
    ...OUTPUT_CACHE_DEFAULTS,
    ...given,
    // Copies, so that changing the caller's object later cannot bypass these checks.
    varyBy: { ...given.varyBy },
    routes: [...(given.routes ?? [])],
    exclude: [...(given.exclude ?? [])],
    dataSources: [...(given.dataSources ?? [])],
    fastLaneHeaders: { ...given.fastLaneHeaders },
    refreshAhead: resolveRefreshAhead(given.refreshAhead),
    cdn: given.cdn === undefined ? undefined : checkCdn(given.cdn, 'cdn'),
    sessionCookie:
      given.sessionCookie === undefined
        ? []
        : typeof given.sessionCookie === 'string'
          ? [given.sessionCookie]
          : [...given.sessionCookie],
  };
}

/**
 * What `value` is, for an error message: `-5`, `the string 'abc'`, `the class RedisStore`.
 *
 * @internal Shared with the `@Cacheable` checks of the route policy resolver.
 * @example
 * ```ts
 * describeValue('redis'); // "the string 'redis'"
 * ```
 */
export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'undefined':
      return 'undefined';
    case 'string':
      return `the string '${value.length > 60 ? `${value.slice(0, 57)}...` : value}'`;
    case 'number':
      return Object.is(value, -0) ? '-0' : String(value);
    case 'bigint':
      return `the bigint ${value}n`;
    case 'boolean':
      return String(value);
    case 'symbol':
      return `the symbol ${String(value)}`;
    case 'function':
      if (isClass(value)) return `the class ${value.name || '(anonymous)'}`;
      return value.name ? `the function ${value.name}` : 'a function';
  }
  if (Array.isArray(value)) return value.length === 0 ? 'an empty array' : 'an array';
  if (typeof (value as { then?: unknown }).then === 'function') return 'a Promise';
  const type = (Object.getPrototypeOf(value) as { constructor?: Function } | null)?.constructor;
  return type && type !== Object && type.name ? `an instance of ${type.name}` : 'an object';
}

/**
 * ` Did you mean "grace"?` when `name` is a near miss of one of `known` (a typo, other casing,
 * or one name inside the other), else `''`.
 *
 * @internal Shared with the `@Cacheable` checks of the route policy resolver.
 * @example
 * ```ts
 * didYouMean('gracee', ['grace', 'ttl']); // ' Did you mean "grace"?'
 * ```
 */
export function didYouMean(name: string, known: readonly string[]): string {
  const lower = name.toLowerCase();
  const limit = lower.length <= 4 ? 1 : 2;
  const scored = known
    .map((candidate) => ({ candidate, distance: editDistance(lower, candidate.toLowerCase()) }))
    .filter(({ distance }) => distance <= limit)
    .sort((a, b) => a.distance - b.distance);
  let best = scored
    .filter(({ distance }) => distance === scored[0]?.distance)
    .map(({ candidate }) => candidate);
  if (best.length === 0 && lower.length >= 3) {
    best = known.filter((candidate) => {
      const other = candidate.toLowerCase();
      return other.length >= 4 && (other.includes(lower) || lower.includes(other));
    });
  }
  if (best.length === 0) return '';
  const quoted = best.map((candidate) => `"${candidate}"`);
  return quoted.length === 1
    ? ` Did you mean ${quoted[0]}?`
    : ` Did you mean one of ${quoted.join(', ')}?`;
}

/** How a number option may be: a duration or a size, and whether 0 (off) is allowed. */
export interface NumberRule {
  /** `count`s are whole numbers. */
  unit: 'seconds' | 'bytes' | 'count';
  /** 0 is allowed (it turns the feature off); otherwise the number must be greater than 0. */
  zero: boolean;
}

/**
 * What is wrong with `value` as a number under `rule` (`must be ..., got ...`), or undefined when
 * nothing is. `write(v)` shows the option written with the value `v`.
 *
 * @internal Shared with the `@Cacheable` checks of the route policy resolver.
 * @example
 * ```ts
 * numberProblem(-5, { unit: 'seconds', zero: true }, (v) => `grace: ${v}`, 30);
 * // 'must be a number of seconds, 0 or more (0 turns it off), got -5. Example: grace: 30'
 * ```
 */
export function numberProblem(
  value: unknown,
  rule: NumberRule,
  write: (value: string) => string,
  example: number,
): string | undefined {
  const fits = (n: number) =>
    Number.isFinite(n) &&
    (rule.zero ? n >= 0 : n > 0) &&
    (rule.unit !== 'count' || Number.isInteger(n));
  if (typeof value === 'number' && fits(value)) return undefined;
  const what =
    rule.unit === 'count'
      ? rule.zero
        ? 'a whole number, 0 or more (0 turns it off)'
        : 'a positive whole number'
      : rule.zero
        ? `a number of ${rule.unit}, 0 or more (0 turns it off)`
        : `a positive number of ${rule.unit}`;
  const asNumber = typeof value === 'string' && value.trim() !== '' ? Number(value) : NaN;
  const fix = fits(asNumber)
    ? `; write the number without quotes: ${write(String(asNumber))}`
    : `. Example: ${write(String(example))}`;
  return `must be ${what}, got ${describeValue(value)}${fix}`;
}

/** Checks one option's value; throws an {@link OutputCacheConfigError} when it is wrong. */
type OptionCheck = (value: unknown, name: string) => void;

const seconds =
  (zero: boolean, example: number): OptionCheck =>
  (value, name) =>
    checkNumber(value, name, { unit: 'seconds', zero }, example);

const bytes =
  (example: number): OptionCheck =>
  (value, name) =>
    checkNumber(value, name, { unit: 'bytes', zero: false }, example);

const count =
  (example: number): OptionCheck =>
  (value, name) =>
    checkNumber(value, name, { unit: 'count', zero: false }, example);

const flag =
  (example: boolean): OptionCheck =>
  (value, name) => {
    if (typeof value === 'boolean') return;
    const fix =
      value === 'true' || value === 'false'
        ? `; write it without quotes: ${name}: ${value}`
        : `. Example: ${name}: ${example}`;
    fail(name, `must be true or false, got ${describeValue(value)}${fix}`);
  };

const STORE_METHODS = [
  'get',
  'set',
  'delete',
  'evictTags',
  'evictPrefix',
  'clear',
  'count',
  'list',
] as const;

/** A cookie or header name (an RFC 9110 token). */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/**
 * One check for every option: the mapped type makes a new option without a check a compile
 * error, and its keys are the known option names.
 */
const OPTION_CHECKS: { readonly [K in keyof OutputCacheModuleOptions]-?: OptionCheck } = {
  enabled: flag(false),
  defaultTtl: seconds(false, 300),
  grace: seconds(true, 30),
  staleIfError: seconds(true, 600),
  hitForMiss: seconds(true, 10),
  precompress: flag(false),
  store: checkStore,
  maxEntries: count(OUTPUT_CACHE_DEFAULTS.maxEntries),
  maxBytes: count(OUTPUT_CACHE_DEFAULTS.maxBytes),
  maxEntryBytes: bytes(OUTPUT_CACHE_DEFAULTS.maxEntryBytes),
  varyBy: checkVaryBy,
  defaultVaryBy: (value, name) => {
    if (value === 'all' || value === 'auto') return;
    fail(name, `must be 'all' or 'auto', got ${describeValue(value)}. Example: ${name}: 'auto'`);
  },
  routes: checkRoutes,
  appVersion: (value, name) => {
    if (typeof value === 'string') return;
    const fix = typeof value === 'number' ? `; write it as a string: ${name}: '${value}'` : '';
    fail(name, `must be a string, got ${describeValue(value)}${fix}. Example: ${name}: '1.4.2'`);
  },
  exclude: checkExclude,
  sessionCookie: checkSessionCookie,
  headers: flag(false),
  reasonHeader: flag(true),
  fastLaneHeaders: checkFastLaneHeaders,
  collapseTimeout: seconds(false, OUTPUT_CACHE_DEFAULTS.collapseTimeout),
  storeTimeout: seconds(false, OUTPUT_CACHE_DEFAULTS.storeTimeout),
  componentTimeout: seconds(false, OUTPUT_CACHE_DEFAULTS.componentTimeout),
  maxComponentDepth: count(OUTPUT_CACHE_DEFAULTS.maxComponentDepth),
  csrf: checkCsrf,
  invalidation: flag(false),
  dataSources: checkDataSources,
  settings: checkSettings,
  circuitBreaker: checkCircuitBreaker,
  distributedLock: flag(true),
  lockTimeout: seconds(false, OUTPUT_CACHE_DEFAULTS.lockTimeout),
  operationTimeout: seconds(false, OUTPUT_CACHE_DEFAULTS.operationTimeout),
  shutdownTimeout: seconds(false, OUTPUT_CACHE_DEFAULTS.shutdownTimeout),
  refreshAhead: checkRefreshAhead,
  cdn: (value, name) => void checkCdn(value, name),
  streamHoles: (value, name) => {
    const problem = streamHolesProblem(value, (v) => `${name}: ${v}`);
    if (problem) fail(name, problem);
  },
  cspNonce: (value, name) => {
    if (typeof value === 'function') return;
    fail(
      name,
      `must be a function (req, res) => string | undefined returning the response's CSP nonce, got ${describeValue(value)}. Example: ${name}: (req, res) => res.locals.cspNonce`,
    );
  },
};

function checkFastLaneHeaders(value: unknown, name: string): void {
  const example = `${name}: { 'X-Content-Type-Options': 'nosniff' }`;
  if (!isObject(value)) {
    fail(
      name,
      `must be an object of header names to values, got ${describeValue(value)}. Example: ${example}`,
    );
  }
  for (const [header, v] of Object.entries(value)) {
    if (!TOKEN.test(header))
      fail(name, `has "${header}", which is not a header name. Example: ${example}`);
    if (typeof v !== 'string' || /[\r\n]/.test(v)) {
      fail(
        name,
        `must map "${header}" to a string without line breaks, got ${describeValue(v)}. Example: ${example}`,
      );
    }
  }
}

function checkCdn(value: unknown, name: string): ResolvedCdnOptions {
  const resolved = resolveCdnOptions(value);
  if ('problem' in resolved) fail(resolved.problem[0] || name, resolved.problem[1]);
  return resolved.ok;
}

/** The defaults of `refreshAhead: true` (or `{}`). */
const REFRESH_AHEAD_DEFAULTS: Required<RefreshAheadOptions> = { top: 100, concurrency: 2 };

function resolveRefreshAhead(
  value: boolean | RefreshAheadOptions | undefined,
): Required<RefreshAheadOptions> | undefined {
  if (value === undefined || value === false) return undefined;
  return { ...REFRESH_AHEAD_DEFAULTS, ...(value === true ? {} : stripUndefined(value)) };
}

function checkRefreshAhead(value: unknown, name: string): void {
  if (typeof value === 'boolean') return;
  if (!isObject(value)) {
    fail(
      name,
      `must be true, false or { top, concurrency }, got ${describeValue(value)}. Example: ${name}: { top: 100, concurrency: 2 }`,
    );
  }
  checkKeys(value, name, ['top', 'concurrency']);
  if (value.top !== undefined) {
    checkNumber(value.top, `${name}.top`, { unit: 'count', zero: false }, 100);
  }
  if (value.concurrency !== undefined) {
    checkNumber(value.concurrency, `${name}.concurrency`, { unit: 'count', zero: false }, 2);
  }
}

function checkNumber(value: unknown, name: string, rule: NumberRule, example: number): void {
  // `circuitBreaker.failures` is written `circuitBreaker: { failures: 5 }`.
  const [outer, inner] = name.split('.');
  const write = inner
    ? (v: string) => `${outer}: { ${inner}: ${v} }`
    : (v: string) => `${name}: ${v}`;
  const problem = numberProblem(value, rule, write, example);
  if (problem) fail(name, problem);
}

function checkStore(value: unknown, name: string): void {
  if (typeof value === 'function') {
    fail(
      name,
      isClass(value)
        ? `must be a store instance, got ${describeValue(value)}; create one: ${name}: new ${value.name}({ ... })`
        : `must be a store instance, got ${describeValue(value)}; pass the store it creates (use forRootAsync({ useFactory }) to create it asynchronously)`,
    );
  }
  if (!isObject(value)) {
    fail(
      name,
      `must be a store instance such as new RedisOutputCacheStore({...}), got ${describeValue(value)}. ` +
        `Create the store and pass it: ${name}: new RedisOutputCacheStore({ url: process.env.REDIS_URL }); ` +
        `leave ${name} out for the default MemoryOutputCacheStore`,
    );
  }
  const store = value as Record<string, unknown>;
  if (typeof store.then === 'function') {
    fail(
      name,
      `must be a store instance, got a Promise; create the store in forRootAsync: ` +
        `useFactory: async () => ({ ${name}: await createStore() })`,
    );
  }
  const missing = STORE_METHODS.filter((method) => typeof store[method] !== 'function');
  if (missing.length > 0) {
    fail(
      name,
      `must implement OutputCacheStore (${STORE_METHODS.join(', ')}), but ${describeValue(value)} ` +
        `has no ${missing.map((method) => `${method}()`).join(', ')}; pass a store such as ` +
        `new MemoryOutputCacheStore() or new RedisOutputCacheStore({...})`,
    );
  }
}

function checkVaryBy(value: unknown, name: string): void {
  const example = `${name}: { currency: (req) => req.cookies.currency, language: { header: 'accept-language' } }`;
  if (!isObject(value)) {
    fail(
      name,
      `must be an object of named resolvers, got ${describeValue(value)}. Example: ${example}`,
    );
  }
  for (const [key, resolver] of Object.entries(value)) {
    if (typeof resolver === 'function') continue;
    const wrong = `entry "${key}" must be a function (req) => value or { header: 'name' }`;
    if (!isObject(resolver)) fail(name, `${wrong}, got ${describeValue(resolver)}`);
    const unknown = Object.keys(resolver).filter((k) => k !== 'header');
    if (unknown.length > 0) {
      fail(
        name,
        `${wrong}; "${unknown[0]}" is not a key of it.${didYouMean(unknown[0]!, ['header'])}`,
      );
    }
    const header = (resolver as { header?: unknown }).header;
    if (typeof header !== 'string' || !TOKEN.test(header)) {
      fail(
        name,
        `${wrong}; its header must be a request header name such as 'accept-language', got ${describeValue(header)}`,
      );
    }
  }
}

function checkRoutes(value: unknown, name: string): void {
  const shapes =
    `'{Controller}/{handler}' ('Catalog/category'), '{Module}/{Controller}/{handler}' ` +
    `('Blog/Blog/list') or 'vc:{Component}'`;
  for (const id of stringList(value, name, 'route ids', "['Catalog/category']")) {
    if (id.startsWith('vc:') && id.length > 3) continue;
    const parts = id.split('/');
    if (parts.length < 2 || parts.some((part) => part.trim() === '')) {
      fail(name, `holds '${id}', which is not a route id; write ${shapes}`);
    }
    const controller = parts[parts.length - 2]!;
    if (controller.endsWith('Controller') && controller !== 'Controller') {
      parts[parts.length - 2] = controller.replace(/Controller$/, '');
      fail(
        name,
        `holds '${id}', which never matches: route ids drop the "Controller" suffix of the class name; write '${parts.join('/')}'`,
      );
    }
  }
}

function checkExclude(value: unknown, name: string): void {
  for (const pattern of stringList(value, name, 'path patterns', "['/admin/**']")) {
    if (pattern.trim() === '') fail(name, `holds an empty pattern; remove it`);
    if (/^[\w.-]/.test(pattern)) {
      // picomatch anchors a pattern at the start, and request paths start with '/'.
      fail(
        name,
        `holds '${pattern}', which never matches: request paths start with '/'; write '/${pattern.replace(/^\.?\//, '')}'`,
      );
    }
    try {
      picomatch(pattern, { dot: true });
    } catch (error) {
      fail(
        name,
        `holds '${pattern}', which is not a valid glob (${(error as Error).message}); see https://github.com/micromatch/picomatch`,
      );
    }
  }
}

function checkSessionCookie(value: unknown, name: string): void {
  const names = typeof value === 'string' ? [value] : value;
  if (!Array.isArray(names)) {
    fail(
      name,
      `must be a cookie name or an array of cookie names, got ${describeValue(value)}. Example: ${name}: 'sid'`,
    );
  }
  names.forEach((cookie: unknown, index) => {
    if (typeof cookie !== 'string' || !TOKEN.test(cookie)) {
      fail(
        name,
        `must hold cookie names (letters, digits and !#$%&'*+-.^_\`|~), got ${describeValue(cookie)}` +
          (typeof value === 'string' ? '' : ` at index ${index}`),
      );
    }
  });
}

function checkCsrf(value: unknown, name: string): void {
  const shape = `{ token: (req, res) => string, fieldName?: string }`;
  if (typeof value === 'function') {
    fail(
      name,
      `must be ${shape}, got ${describeValue(value)}; write ${name}: { token: ${value.name || 'yourTokenFunction'} }`,
    );
  }
  if (!isObject(value)) fail(name, `must be ${shape}, got ${describeValue(value)}`);
  checkKeys(value, name, ['token', 'fieldName']);
  if (typeof value.token !== 'function') {
    fail(
      `${name}.token`,
      `must be a function (req, res) => string returning the request's token (e.g. csrf-csrf's generateCsrfToken), got ${describeValue(value.token)}`,
    );
  }
  if (value.fieldName !== undefined && (typeof value.fieldName !== 'string' || !value.fieldName)) {
    fail(
      `${name}.fieldName`,
      `must be the name of the hidden form field, got ${describeValue(value.fieldName)}. Example: fieldName: '_csrf'`,
    );
  }
}

function checkDataSources(value: unknown, name: string): void {
  if (!Array.isArray(value)) {
    fail(
      name,
      `must be an array of TypeORM DataSource instances, got ${describeValue(value)}. Example: ${name}: [dataSource]`,
    );
  }
  value.forEach((dataSource: unknown, index) => {
    if (!isObject(dataSource)) {
      fail(
        name,
        `must hold TypeORM DataSource instances, got ${describeValue(dataSource)} at index ${index}` +
          (typeof dataSource === 'function'
            ? '; pass the DataSource you created, not its class'
            : ''),
      );
    }
  });
}

function checkSettings(value: unknown, name: string): void {
  const shape = `{ entity: SettingEntity, keyColumn?: 'key', valueColumn?: 'value' }`;
  if (!isObject(value)) fail(name, `must be ${shape}, got ${describeValue(value)}`);
  checkKeys(value, name, ['entity', 'keyColumn', 'valueColumn']);
  if (typeof value.entity !== 'function') {
    fail(
      `${name}.entity`,
      `must be the settings entity class, got ${describeValue(value.entity)}. Example: ${name}: ${shape}`,
    );
  }
  for (const column of ['keyColumn', 'valueColumn'] as const) {
    const given = value[column];
    if (given !== undefined && (typeof given !== 'string' || !given)) {
      fail(
        `${name}.${column}`,
        `must be a property name of the entity, got ${describeValue(given)}`,
      );
    }
  }
}

function checkCircuitBreaker(value: unknown, name: string): void {
  if (!isObject(value)) {
    fail(
      name,
      `must be { failures, openFor }, got ${describeValue(value)}. Example: ${name}: { failures: 3, openFor: 5 }`,
    );
  }
  checkKeys(value, name, ['failures', 'openFor']);
  if (value.failures !== undefined) {
    checkNumber(value.failures, `${name}.failures`, { unit: 'count', zero: false }, 3);
  }
  if (value.openFor !== undefined) {
    checkNumber(value.openFor, `${name}.openFor`, { unit: 'seconds', zero: false }, 5);
  }
}

/** `value` as an array of strings, or a failure that shows how to write it. */
function stringList(value: unknown, name: string, what: string, example: string): string[] {
  if (typeof value === 'string') {
    fail(
      name,
      `must be an array of ${what}, got ${describeValue(value)}; write ${name}: ['${value}']`,
    );
  }
  if (!Array.isArray(value)) {
    fail(
      name,
      `must be an array of ${what}, got ${describeValue(value)}. Example: ${name}: ${example}`,
    );
  }
  value.forEach((item: unknown, index) => {
    if (typeof item !== 'string') {
      fail(name, `must hold only strings (${what}), got ${describeValue(item)} at index ${index}`);
    }
  });
  return value as string[];
}

/** Rejects a key of an object option that is not one of `known`. */
function checkKeys(value: object, name: string, known: readonly string[]): void {
  for (const key of Object.keys(value)) {
    if (!known.includes(key) && (value as Record<string, unknown>)[key] !== undefined) {
      fail(
        name,
        `has an unknown key "${key}".${didYouMean(key, known) || ` Its keys are ${known.join(', ')}.`}`,
      );
    }
  }
}

function unknownOption(name: string): OutputCacheConfigError {
  if (name === 'isGlobal') {
    return new OutputCacheConfigError(
      `OutputCacheModule: "isGlobal" is not an option of the cache; it belongs next to ` +
        `useFactory: forRootAsync({ isGlobal: false, useFactory: () => ({ ... }) })`,
    );
  }
  const known = Object.keys(OPTION_CHECKS);
  const hint = didYouMean(name, known) || ` The options are ${known.join(', ')}.`;
  return new OutputCacheConfigError(`OutputCacheModule: unknown option "${name}".${hint}`);
}

function fail(name: string, problem: string): never {
  throw new OutputCacheConfigError(`OutputCacheModule: option "${name}" ${problem}`);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isClass(value: Function): boolean {
  return /^class[\s{]/.test(Function.prototype.toString.call(value));
}

/** Edit distance counting a swap of two neighbours as one edit (optimal string alignment). */
function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        d[i]![j] = Math.min(d[i]![j]!, d[i - 2]![j - 2]! + 1);
      }
    }
  }
  return d[a.length]![b.length]!;
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

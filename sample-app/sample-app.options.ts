import type { LoggerService, LogLevel } from '@nestjs/common';
import { randomBytes } from 'node:crypto';

/** Options of {@link createSampleApp} and `AppModule.forRoot`. */
export interface SampleAppOptions {
  /**
   * SQLite database file, or `':memory:'`. When omitted: PostgreSQL if `DATABASE_URL` is set,
   * else `sample-app.sqlite` in the working directory.
   */
  database?: string;
  /** Artificial latency of every data access, in ms (default `SAMPLE_DB_DELAY_MS` or 30). */
  dbDelayMs?: number;
  /**
   * Artificial latency of the mini cart, a hole (default `SAMPLE_HOLE_DELAY_MS`, else 0; try
   * 300): with streamed holes the rest of the page arrives at once, the cart when it is ready.
   */
  holeDelayMs?: number;
  /**
   * How hits and stored misses send their holes (default `SAMPLE_STREAM_HOLES`, else
   * `'in-order'`: the page up to the mini cart at once, the rest when it is ready, the same
   * bytes as unstreamed), `'off'`, or `'out-of-order'` (the whole page at once, the cart moved into place
   * when ready; see the README, Streamed holes).
   */
  streamHoles?: 'off' | 'in-order' | 'out-of-order';
  /** Nest logger setting, passed to `NestFactory.create`. */
  logger?: false | LogLevel[] | LoggerService;
  /**
   * The HTTP platform (default `SAMPLE_PLATFORM`, else `express`): `'fastify'` runs the shop on
   * `@nestjs/platform-fastify`, the same pages and cache.
   */
  platform?: SamplePlatform;
  /**
   * Secret that signs CSRF tokens (default `CSRF_SECRET`, else random per process: tokens then
   * stop validating after a restart, and several instances need one shared secret).
   */
  csrfSecret?: string;
  /** Where pages are cached (default `OUTPUT_CACHE_STORE`, else `memory`). */
  store?: CacheStoreKind;
  /**
   * Seconds every page lives in the cache (default `SAMPLE_CACHE_TTL` or 60). Edits evict the
   * pages that show them at once, so this is only the safety net for what no eviction covers.
   */
  cacheTtl?: number;
  /**
   * Seconds after the TTL during which an expired page is still served (`X-Cache: STALE`) while
   * one background render refreshes it (default `SAMPLE_CACHE_GRACE` or 30; 0 turns grace off).
   */
  cacheGrace?: number;
  /**
   * A shared cache in front of the shop (default `SAMPLE_CDN`, else `'off'`). `'varnish'` turns on
   * the output cache's `cdn` option: stored pages without holes (the JSON API under `/api`) carry
   * their tags in `Surrogate-Key` and `Surrogate-Control: max-age=<cacheTtl>`, and every eviction
   * is sent to Varnish as a ban (`docs/varnish/output-cache.vcl`).
   */
  cdn?: SampleCdnKind;
  /**
   * Where the bans go with `cdn: 'varnish'`: Varnish's HTTP address as the shop reaches it (default
   * `VARNISH_URL`, else `http://127.0.0.1:6081/`; the VCL accepts bans from its `purgers` ACL).
   */
  varnishUrl?: string;
}

/** The HTTP platforms the sample runs on (`SAMPLE_PLATFORM`). */
export type SamplePlatform = 'express' | 'fastify';

/** The shared caches the sample can run behind (`SAMPLE_CDN`). */
export type SampleCdnKind = 'off' | 'varnish';
const CDN_KINDS: SampleCdnKind[] = ['off', 'varnish'];

/** The stores the sample can run on (`OUTPUT_CACHE_STORE`). */
export type CacheStoreKind = 'memory' | 'redis' | 'typeorm' | 'tiered';
const STORE_KINDS: CacheStoreKind[] = ['memory', 'redis', 'typeorm', 'tiered'];

/** The sample's options with defaults applied, injectable anywhere in the app. */
export interface ResolvedSampleAppOptions {
  database: string | undefined;
  dbDelayMs: number;
  holeDelayMs: number;
  streamHoles: 'off' | 'in-order' | 'out-of-order';
  csrfSecret: string;
  store: CacheStoreKind;
  cacheTtl: number;
  cacheGrace: number;
  cdn: SampleCdnKind;
  /** Set when `cdn` is `'varnish'`. */
  varnishUrl: string | undefined;
}

export const SAMPLE_APP_OPTIONS = Symbol('SAMPLE_APP_OPTIONS');

export function resolveSampleAppOptions(options: SampleAppOptions = {}): ResolvedSampleAppOptions {
  const delayFromEnv = numberFromEnv('SAMPLE_DB_DELAY_MS');
  const dbDelayMs =
    options.dbDelayMs ?? (delayFromEnv !== undefined && delayFromEnv >= 0 ? delayFromEnv : 30);
  const holeDelayFromEnv = numberFromEnv('SAMPLE_HOLE_DELAY_MS');
  const holeDelayMs =
    options.holeDelayMs ??
    (holeDelayFromEnv !== undefined && holeDelayFromEnv >= 0 ? holeDelayFromEnv : 0);
  const streamHoles =
    options.streamHoles ??
    ((process.env.SAMPLE_STREAM_HOLES?.trim() ||
      'in-order') as ResolvedSampleAppOptions['streamHoles']);
  if (!['off', 'in-order', 'out-of-order'].includes(streamHoles)) {
    throw new Error(
      `SAMPLE_STREAM_HOLES must be one of off, in-order, out-of-order, got "${streamHoles}"`,
    );
  }
  const csrfSecret =
    options.csrfSecret ?? process.env.CSRF_SECRET ?? randomBytes(32).toString('hex');
  const store = options.store ?? (process.env.OUTPUT_CACHE_STORE as CacheStoreKind) ?? 'memory';
  if (!STORE_KINDS.includes(store)) {
    throw new Error(`OUTPUT_CACHE_STORE must be one of ${STORE_KINDS.join(', ')}, got "${store}"`);
  }
  const ttlFromEnv = numberFromEnv('SAMPLE_CACHE_TTL');
  const cacheTtl =
    options.cacheTtl ?? (ttlFromEnv !== undefined && ttlFromEnv > 0 ? ttlFromEnv : 60);
  if (!(cacheTtl > 0)) throw new Error(`cacheTtl must be a positive number, got ${cacheTtl}`);
  const graceFromEnv = numberFromEnv('SAMPLE_CACHE_GRACE');
  const cacheGrace =
    options.cacheGrace ?? (graceFromEnv !== undefined && graceFromEnv >= 0 ? graceFromEnv : 30);
  if (!(cacheGrace >= 0)) throw new Error(`cacheGrace must be 0 or more, got ${cacheGrace}`);
  const { cdn, varnishUrl } = resolveCdn(options);
  return {
    database: options.database,
    dbDelayMs,
    holeDelayMs,
    streamHoles,
    csrfSecret,
    store,
    cacheTtl,
    cacheGrace,
    cdn,
    varnishUrl,
  };
}

/** `SAMPLE_CDN` and `VARNISH_URL`, checked: a typo stops the start instead of running uncovered. */
function resolveCdn(
  options: SampleAppOptions,
): Pick<ResolvedSampleAppOptions, 'cdn' | 'varnishUrl'> {
  const fromEnv = process.env.SAMPLE_CDN?.trim();
  const cdn = options.cdn ?? ((fromEnv || 'off') as SampleCdnKind);
  if (!CDN_KINDS.includes(cdn)) {
    throw new Error(`SAMPLE_CDN must be off (the default) or varnish, got "${cdn}"`);
  }
  if (cdn === 'off') return { cdn, varnishUrl: undefined };
  const varnishUrl =
    options.varnishUrl ?? (process.env.VARNISH_URL?.trim() || 'http://127.0.0.1:6081/');
  let protocol: string | undefined;
  try {
    protocol = new URL(varnishUrl).protocol;
  } catch {
    protocol = undefined;
  }
  if (protocol !== 'http:' && protocol !== 'https:') {
    throw new Error(
      `VARNISH_URL must be Varnish's http:// address (where it listens, e.g. http://127.0.0.1:6081/), got "${varnishUrl}"`,
    );
  }
  return { cdn, varnishUrl };
}

/** A number from the environment, or undefined when unset or not a number. */
function numberFromEnv(name: string): number | undefined {
  const raw = process.env[name];
  const value = raw === undefined || raw.trim() === '' ? NaN : Number(raw);
  return Number.isFinite(value) ? value : undefined;
}

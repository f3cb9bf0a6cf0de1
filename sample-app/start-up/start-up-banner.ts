import type { LogLevel } from '@nestjs/common';
import { describeDatabase } from '../database.config.js';
import type { ResolvedSampleAppOptions } from '../sample-app.options.js';
import { describeRedisUrl, redisPrefix, redisUrl } from '../cache/cache-store.factory.js';

/**
 * Nest's log levels for the sample from `SAMPLE_LOG`: by default warnings and errors only (the
 * banner says what runs; Nest's ~55 lines of module and route mapping are noise to a first-time
 * user); `SAMPLE_LOG=log` brings them back, `SAMPLE_LOG=debug` adds the cache's decision log.
 *
 * @example
 * ```ts
 * NestFactory.create(AppModule, { logger: sampleLogLevels(process.env.SAMPLE_LOG) });
 * ```
 */
export function sampleLogLevels(setting = process.env.SAMPLE_LOG): LogLevel[] {
  switch ((setting ?? '').trim().toLowerCase()) {
    case 'debug':
    case 'verbose':
      return ['fatal', 'error', 'warn', 'log', 'debug', 'verbose'];
    case 'log':
    case 'info':
      return ['fatal', 'error', 'warn', 'log'];
    case '':
    case 'warn':
      return ['fatal', 'error', 'warn'];
    default:
      throw new Error(`SAMPLE_LOG must be warn (the default), log or debug, got "${setting}"`);
  }
}

/**
 * The block the sample prints once it listens: which platform, store, database and cache
 * lifetimes it runs with, and where. Its first line ends with the URL (scripts wait for
 * `sample shop: http://`).
 *
 * @example
 * ```ts
 * console.log(startUpBanner(options, 3000));
 * ```
 */
export function startUpBanner(options: ResolvedSampleAppOptions, port: number): string {
  const store =
    options.store === 'redis' || options.store === 'tiered'
      ? `${options.store} (${describeRedisUrl(redisUrl())}, prefix ${redisPrefix()})`
      : options.store === 'typeorm'
        ? 'typeorm (tables output_cache_*: in the shop database on PostgreSQL, else sample-cache.sqlite)'
        : 'memory (this process only)';
  const rows: [string, string][] = [
    [
      'platform',
      process.env.SAMPLE_PLATFORM === 'fastify'
        ? 'Fastify (@nestjs/platform-fastify, SAMPLE_PLATFORM)'
        : 'Express (@nestjs/platform-express)',
    ],
    ['store', store],
    ['database', describeDatabase(options)],
    [
      'cache',
      `TTL ${options.cacheTtl} s, grace ${options.cacheGrace} s (SAMPLE_CACHE_TTL, SAMPLE_CACHE_GRACE)`,
    ],
    ['logs', `${process.env.SAMPLE_LOG || 'warn'} (SAMPLE_LOG=log or debug for more)`],
  ];
  if (options.cdn === 'varnish') {
    // Shown only when on: the default banner stays as the README shows it.
    rows.splice(rows.length - 1, 0, [
      'cdn',
      `Varnish: /api pages tagged in Surrogate-Key, bans sent to ${options.varnishUrl} (SAMPLE_CDN, VARNISH_URL)`,
    ]);
  }
  return [
    `nestjs-output-cache sample shop: http://localhost:${port}`,
    ...rows.map(([name, value]) => `  ${name.padEnd(10)}${value}`),
  ].join('\n');
}

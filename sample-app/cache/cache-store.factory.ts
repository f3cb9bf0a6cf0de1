import type { DataSource } from 'typeorm';
import { type OutputCacheStore } from '../../lib/index.js';
import { RedisOutputCacheStore, TieredOutputCacheStore } from '../../lib/redis.js';
import { TypeOrmOutputCacheStore } from '../../lib/typeorm.js';
import type { CacheStoreKind } from '../sample-app.options.js';

/** The Redis the sample uses for `redis` and `tiered` (REDIS_URL). */
export const redisUrl = () => process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/**
 * Key prefix (and so bus channel) on Redis: `SAMPLE_REDIS_PREFIX`, default `shop:`. Tests give
 * each run its own, so that runs sharing one Redis never see each other's pages. The start-up
 * banner shows it.
 */
export const redisPrefix = () => process.env.SAMPLE_REDIS_PREFIX || 'shop:';

/** `SAMPLE_L1_REVALIDATE` (seconds), else the tiered store's default (2). */
const l1Revalidate = (): number | undefined => {
  const value = Number(process.env.SAMPLE_L1_REVALIDATE);
  return process.env.SAMPLE_L1_REVALIDATE && value > 0 ? value : undefined;
};

/** `url` without its password, for the banner and error messages. */
export function describeRedisUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return `"${url}"`;
  }
}

/**
 * The store behind `OUTPUT_CACHE_STORE`: undefined (the module's memory store), Redis, the
 * shop's own database through TypeORM, or memory + Redis tiers for several instances.
 */
export function createCacheStore(
  kind: CacheStoreKind,
  dataSource: DataSource,
): OutputCacheStore | undefined {
  switch (kind) {
    case 'memory':
      return undefined;
    case 'redis':
      return new RedisOutputCacheStore({ url: redisUrl(), prefix: redisPrefix() });
    case 'tiered':
      return new TieredOutputCacheStore({
        redis: { url: redisUrl(), prefix: redisPrefix() },
        l1Revalidate: l1Revalidate(),
      });
    case 'typeorm':
      // SQLite gives TypeORM a single shared connection: the cache gets a file of its own, so
      // its writes never interleave with the shop's transactions. PostgreSQL shares the pool.
      return dataSource.options.type === 'postgres'
        ? new TypeOrmOutputCacheStore({ dataSource, synchronize: true })
        : new TypeOrmOutputCacheStore({
            dataSourceOptions: { type: 'better-sqlite3', database: 'sample-cache.sqlite' },
            synchronize: true,
          });
  }
}

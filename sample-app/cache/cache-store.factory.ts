import type { DataSource } from 'typeorm';
import { type OutputCacheStore } from '../../lib/index.js';
import { RedisOutputCacheStore, TieredOutputCacheStore } from '../../lib/redis.js';
import { TypeOrmOutputCacheStore } from '../../lib/typeorm.js';
import type { CacheStoreKind } from '../sample-app.options.js';

/** The Redis the sample uses for `redis` and `tiered` (REDIS_URL). */
const redisUrl = () => process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

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
      return new RedisOutputCacheStore({ url: redisUrl(), prefix: 'shop:' });
    case 'tiered':
      return new TieredOutputCacheStore({ redis: { url: redisUrl(), prefix: 'shop:' } });
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

/**
 * `nestjs-output-cache/redis`: the stores on Redis (ioredis, an optional peer dependency). Kept
 * out of the main entry so that an app on the memory store never loads ioredis.
 */
export {
  FAIL_FAST_REDIS_OPTIONS,
  RedisOutputCacheStore,
  type RedisStoreOptions,
} from './stores/redis.store.js';
export { TieredOutputCacheStore, type TieredStoreOptions } from './stores/tiered.store.js';

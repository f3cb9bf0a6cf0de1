import 'reflect-metadata';
import { TieredOutputCacheStore } from '../lib/redis.js';
import { describeEvictionAcrossInstances } from './helpers/cross-instance.js';
import { clearRedisPrefix, REDIS_URL } from './helpers/redis.js';
import { uniqueName } from './helpers/unique-name.js';

// The bus channel is `{prefix}evictions`: unique with the prefix.
const prefix = `${uniqueName('oc_xtiered')}:`;

// With its bus, and each instance its own L1 in front of the shared Redis.
describeEvictionAcrossInstances(
  'eviction across instances on the tiered store (e2e, real Redis)',
  () =>
    new TieredOutputCacheStore({
      redis: { url: REDIS_URL, prefix, redis: { commandTimeout: 2000 } },
    }),
  { beforeAll: () => clearRedisPrefix(prefix), afterAll: () => clearRedisPrefix(prefix) },
);

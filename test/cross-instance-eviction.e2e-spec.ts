import 'reflect-metadata';
import { RedisOutputCacheStore } from '../lib/redis.js';
import { describeEvictionAcrossInstances } from './helpers/cross-instance.js';
import { clearRedisPrefix, REDIS_URL } from './helpers/redis.js';
import { uniqueName } from './helpers/unique-name.js';

const prefix = `${uniqueName('oc_xinst')}:`;

describeEvictionAcrossInstances(
  'eviction across instances on the Redis store, no bus (e2e, real Redis)',
  () => new RedisOutputCacheStore({ url: REDIS_URL, prefix, redis: { commandTimeout: 2000 } }),
  { beforeAll: () => clearRedisPrefix(prefix), afterAll: () => clearRedisPrefix(prefix) },
);

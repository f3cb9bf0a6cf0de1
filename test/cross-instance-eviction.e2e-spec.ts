import 'reflect-metadata';
import { RedisOutputCacheStore } from '../lib/redis.js';
import { describeEvictionAcrossInstances } from './helpers/cross-instance.js';
import { connectRedis, deletePrefix, REDIS_URL } from './helpers/redis.js';

const prefix = `oc-xinst:${process.pid}:`;

async function clean(): Promise<void> {
  const admin = await connectRedis();
  await deletePrefix(admin, prefix);
  admin.disconnect();
}

describeEvictionAcrossInstances(
  'eviction across instances on the Redis store, no bus (e2e, real Redis)',
  () => new RedisOutputCacheStore({ url: REDIS_URL, prefix, redis: { commandTimeout: 2000 } }),
  { beforeAll: clean, afterAll: clean },
);

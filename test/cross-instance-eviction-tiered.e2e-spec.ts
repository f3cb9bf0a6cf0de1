import 'reflect-metadata';
import { TieredOutputCacheStore } from '../lib/redis.js';
import { describeEvictionAcrossInstances } from './helpers/cross-instance.js';
import { connectRedis, deletePrefix, REDIS_URL } from './helpers/redis.js';

const prefix = `oc-xtiered:${process.pid}:`;

async function clean(): Promise<void> {
  const admin = await connectRedis();
  await deletePrefix(admin, prefix);
  admin.disconnect();
}

// With its bus, and each instance its own L1 in front of the shared Redis.
describeEvictionAcrossInstances(
  'eviction across instances on the tiered store (e2e, real Redis)',
  () =>
    new TieredOutputCacheStore({
      redis: { url: REDIS_URL, prefix, redis: { commandTimeout: 2000 } },
    }),
  { beforeAll: clean, afterAll: clean },
);

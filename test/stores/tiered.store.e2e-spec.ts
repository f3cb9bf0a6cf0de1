import { TieredOutputCacheStore, type RemoteEviction } from '../../lib/index.js';
import { connectRedis, deletePrefix, freePort, REDIS_URL, ScratchRedis } from '../helpers/redis.js';
import { describeStoreContract, makeEntry } from './store-contract.js';

const prefix = `oc-tiered:${process.pid}:`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describeStoreContract(
  'tiered (memory + redis)',
  async () => {
    const admin = await connectRedis();
    await deletePrefix(admin, prefix);
    // The contract checks behaviour, not fail-fast timing (the outage test does): a loaded CI
    // machine must not turn a slow command into a failure here.
    const store = new TieredOutputCacheStore({
      redis: { url: REDIS_URL, prefix, cleanupInterval: 0, redis: { commandTimeout: 5000 } },
    });
    return {
      store,
      close: async () => {
        await store.close();
        await deletePrefix(admin, prefix);
        admin.disconnect();
      },
    };
  },
  // Bytes live in L2 (the Redis store passes that part); L1 keeps objects.
  { keepsBytes: false },
);

describe('tiered store across instances', () => {
  it('an eviction on one instance evicts every instance’s L1, and the shared store once', async () => {
    const p = `${prefix}bus:`;
    const one = new TieredOutputCacheStore({ redis: { url: REDIS_URL, prefix: p } });
    const two = new TieredOutputCacheStore({ redis: { url: REDIS_URL, prefix: p } });
    const heard: RemoteEviction[] = [];
    two.onRemoteEviction((e) => heard.push(e));
    try {
      await Promise.all([one.start(), two.start()]);
      const entry = makeEntry({ tags: ['Product:7'] });
      await one.set(entry);
      expect(await two.get(entry.key)).toBeDefined(); // read through from Redis into two's L1
      expect(two.getSync(entry.key)).toBeDefined();
      expect(await one.evictTags(['Product:7'])).toBe(1); // the shared store, once
      await sleep(50);
      expect(two.getSync(entry.key)).toBeUndefined();
      expect(await two.get(entry.key)).toBeUndefined();
      expect(heard).toEqual([{ kind: 'tags', tags: ['Product:7'] }]);
    } finally {
      await one.clear();
      await Promise.all([one.close(), two.close()]);
    }
  });

  it('drops L1 when the bus comes back after a loss', async () => {
    const redis = new ScratchRedis(await freePort());
    await redis.start();
    const store = new TieredOutputCacheStore({ redis: { url: redis.url, prefix: 'bus:' } });
    const heard: RemoteEviction[] = [];
    store.onRemoteEviction((e) => heard.push(e));
    try {
      await store.start();
      const entry = makeEntry();
      await store.set(entry);
      expect(store.getSync(entry.key)).toBeDefined();
      await redis.kill();
      // Still served from L1 while Redis is away...
      expect(store.getSync(entry.key)).toBeDefined();
      await redis.start();
      for (let i = 0; i < 100 && store.getSync(entry.key); i++) await sleep(50);
      // ...and dropped once the bus is back: evictions may have been missed meanwhile.
      expect(store.getSync(entry.key)).toBeUndefined();
      expect(heard).toContainEqual({ kind: 'all' });
    } finally {
      await store.close();
      await redis.kill();
    }
  }, 20_000);
});

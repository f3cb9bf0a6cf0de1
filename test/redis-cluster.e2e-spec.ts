import 'reflect-metadata';
import type { Cluster } from 'ioredis';
import {
  RedisOutputCacheStore,
  type RedisStoreOptions,
  TieredOutputCacheStore,
} from '../lib/redis.js';
import { keyHash } from '../lib/stores/key-hash.js';
import { ScratchRedisCluster } from './helpers/redis-cluster.js';
import { describeEvictionAcrossInstances } from './helpers/cross-instance.js';
import { checkEvictionBus } from './stores/redis-connections.js';
import { checkEvictionClock, describeStoreContract, makeEntry } from './stores/store-contract.js';

/** A real three-master Redis Cluster, started for this file and stopped after it. */
const cluster = new ScratchRedisCluster();
beforeAll(() => cluster.start(), 30_000);
afterAll(() => cluster.stop());

/**
 * Store options on the cluster (the store opens its own cluster client). The contract checks
 * behaviour, not fail-fast timing: generous timeouts for a loaded machine.
 */
const onCluster = (prefix: string, commandTimeout = 5000): RedisStoreOptions => ({
  cluster: { nodes: cluster.nodes },
  prefix,
  cleanupInterval: 0,
  redis: { commandTimeout, connectTimeout: 5000 },
});

/** Every key of the cluster under `pattern`, with the port of the master that holds it. */
async function keysOnCluster(admin: Cluster, pattern: string) {
  const found: { key: string; port: number }[] = [];
  for (const node of admin.nodes('master')) {
    let cursor = '0';
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      cursor = next;
      for (const key of keys) found.push({ key, port: node.options.port! });
    } while (cursor !== '0');
  }
  return found;
}

describeStoreContract(
  'redis (on a Redis Cluster)',
  async () => {
    const admin = await cluster.connect();
    // The contract checks exact eviction counts: deletions inline.
    const store = new RedisOutputCacheStore({ ...onCluster('oc-contract:'), sweep: 'inline' });
    return {
      store,
      writeRaw: async (key, bytes) => {
        await admin.set(`${store.keyPrefix}e:${keyHash(key)}`, bytes, 'PX', 60_000);
      },
      close: async () => {
        await store.close();
        await admin.quit();
      },
    };
  },
  { keepsBytes: true, softEviction: true },
);

describeStoreContract(
  'tiered (memory + redis, on a Redis Cluster)',
  async () => {
    const store = new TieredOutputCacheStore({
      redis: { ...onCluster('oc-tiered:'), sweep: 'inline' },
    });
    return { store, close: () => store.close() };
  },
  { keepsBytes: false, softEviction: true },
);

describe('redis store on a Redis Cluster', () => {
  let admin: Cluster;
  beforeAll(async () => {
    admin = await cluster.connect();
  });
  afterAll(() => admin?.quit());

  it('wraps a prefix without a hash tag in one, and keeps one that has it', async () => {
    expect(new RedisOutputCacheStore({ client: admin, prefix: 'oc:' }).keyPrefix).toBe('{oc}:');
    expect(new RedisOutputCacheStore({ client: admin }).keyPrefix).toBe('{oc}:');
    expect(new RedisOutputCacheStore({ client: admin, prefix: 'shop:oc:' }).keyPrefix).toBe(
      '{shop:oc}:',
    );
    expect(new RedisOutputCacheStore({ client: admin, prefix: '{shop}:oc:' }).keyPrefix).toBe(
      '{shop}:oc:',
    );
    expect(new RedisOutputCacheStore(onCluster('oc-x:')).keyPrefix).toBe('{oc-x}:');
    // On a single Redis the prefix is the one given.
    expect(new RedisOutputCacheStore({ url: 'redis://127.0.0.1:1', prefix: 'oc:' }).keyPrefix).toBe(
      'oc:',
    );
    expect(() => new RedisOutputCacheStore({ client: admin, prefix: '' })).toThrow(/hash tag/);
    expect(
      () => new RedisOutputCacheStore({ client: admin, cluster: { nodes: cluster.nodes } }),
    ).toThrow(/one of `client`, `url` or `cluster`/);
  });

  it('uses a given Cluster client without closing it, and closes the one it opened', async () => {
    const shared = new RedisOutputCacheStore({ client: admin, prefix: 'oc-own:' });
    await shared.set(makeEntry());
    await shared.close();
    expect(await admin.ping()).toBe('PONG');

    const own = new RedisOutputCacheStore(onCluster('oc-own:'));
    await own.set(makeEntry());
    const connection = await own.redis();
    await own.close();
    // Quit cleanly: ended, not left disconnecting.
    expect(connection.status).toBe('end');
    await expect(own.get('k')).rejects.toThrow(/RedisOutputCacheStore is closed/);
  });

  it('keeps every key of the store in one slot, on one master', async () => {
    expect(admin.nodes('master')).toHaveLength(3);
    const store = new RedisOutputCacheStore({ client: admin, prefix: 'oc-slot:' });
    for (let i = 0; i < 20; i++) {
      await store.set(makeEntry({ tags: ['shared', `Product:${i}`], path: `/slot/${i}` }));
    }
    const release = await store.acquireLock('https://shop.example/slot', 5000);
    expect(await store.markStale({ tags: ['Product:1'] })).toBe(1);
    expect(await store.evictTags(['Product:2'])).toBe(1);
    expect(await store.evictPrefix('/slot/3')).toBe(1);
    expect(await store.delete(makeEntry({ key: 'k' }).key)).toBe(false);

    const keys = await keysOnCluster(admin, '{oc-slot}:*');
    // Entries, tag sets, indexes, lock and eviction clock: every kind of key is there.
    const kinds = new Set(keys.map(({ key }) => key.slice('{oc-slot}:'.length).split(':')[0]));
    expect([...kinds].sort()).toEqual(
      ['clock', 'e', 'gen', 'genp', 'gent', 'l', 'm', 'p', 'r', 't', 'x'].sort(),
    );
    const slots = new Set<number>();
    for (const { key } of keys) slots.add((await admin.cluster('KEYSLOT', key)) as number);
    expect(slots.size).toBe(1);
    expect(new Set(keys.map(({ port }) => port)).size).toBe(1);

    await release!();
    // clear() scans the masters and leaves only the eviction clock.
    await store.clear();
    const left = await keysOnCluster(admin, '{oc-slot}:*');
    expect(left.length).toBeGreaterThan(0);
    expect(left.every(({ key }) => store.evictionClock.owns(key))).toBe(true);
    expect(await store.count()).toBe(0);
  });

  it('keeps an eviction clock shared by instances: an overtaken entry is refused, a later one kept', async () => {
    const a = new RedisOutputCacheStore({ client: admin, prefix: 'oc-clock:' });
    const b = new RedisOutputCacheStore({ client: admin, prefix: 'oc-clock:' });
    await checkEvictionClock(a, b, { markOnly: (tags) => b.evictionClock.mark({ tags }) });
  });

  it('tiered: an eviction on one instance reaches every instance’s L1 over cluster pub/sub', async () => {
    const one = new TieredOutputCacheStore({ redis: onCluster('oc-bus:') });
    const two = new TieredOutputCacheStore({ redis: onCluster('oc-bus:') });
    await checkEvictionBus(one, two);
  });
});

describeEvictionAcrossInstances(
  'eviction across instances of an app on a Redis Cluster (e2e)',
  () => new RedisOutputCacheStore(onCluster('oc-app:', 2000)),
);

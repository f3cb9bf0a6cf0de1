import { type RemoteEviction } from '../../lib/index.js';
import { TieredOutputCacheStore } from '../../lib/redis.js';
import { connectRedis, deletePrefix, freePort, REDIS_URL, ScratchRedis } from '../helpers/redis.js';
import type { Redis } from 'ioredis';
import {
  connectionsNamed,
  countQuits,
  uniqueConnectionName,
  UNREACHABLE_REDIS_URL,
  waitFor,
  watchReconnects,
  callEveryMethod,
  redisContractLifecycle,
} from './redis-connections.js';
import { describeOutputCacheStore, makeTestEntry as makeEntry } from '../../lib/testing.js';
import { drainMicrotasks, until } from '../helpers/wait.js';

const prefix = `oc-tiered:${process.pid}:`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const contractPrefix = `${prefix}contract:`;
/** A store on the contract's keys and bus; the second one made is the peer (another instance). */
const contractStore = () =>
  new TieredOutputCacheStore({
    // The contract checks behaviour, not fail-fast timing (the outage test does): a loaded CI
    // machine must not turn a slow command into a failure here. Exact eviction counts: inline.
    redis: {
      url: REDIS_URL,
      prefix: contractPrefix,
      cleanupInterval: 0,
      redis: { commandTimeout: 5000 },
      sweep: 'inline',
    },
  });

const contract = redisContractLifecycle(contractPrefix, contractStore);

describeOutputCacheStore<TieredOutputCacheStore>('tiered (memory + redis)', {
  create: contract.create,
  createPeer: contract.createPeer,
  destroy: contract.destroy,

  // Bytes live in L2 (the Redis store's contract checks corrupt ones); L1 keeps objects.
  capabilities: ['syncRead', 'lock', 'softEviction', 'evictionBus', 'evictionClock'],
  // No `markOnly`: an eviction that reaches no L1 is the lost bus message, bounded by
  // `l1Revalidate` (tested below).
});

describe('tiered store across instances', () => {
  it('a lost bus message matters for l1Revalidate at most: the shared clock decides after that', async () => {
    const p = `${prefix}lost:`;
    // Different channels: `one` never hears `two`'s evictions (as if every message were lost).
    const one = new TieredOutputCacheStore({
      redis: { url: REDIS_URL, prefix: p },
      channel: `${p}one`,
      l1Revalidate: 0.2,
    });
    const two = new TieredOutputCacheStore({
      redis: { url: REDIS_URL, prefix: p },
      channel: `${p}two`,
    });
    try {
      const entry = makeEntry({ tags: ['Product:8'], renderedAt: await one.clock() });
      expect(await one.setIfCurrent(entry)).toBe(true);
      expect(one.getSync(entry.key)).toBeDefined();
      await two.evictTags(['Product:8']);
      // Within the bound the L1 copy may still answer; past it, the shared store is asked.
      await until(() => one.getSync(entry.key) === undefined, 'the L1 copy to need revalidation');
      expect(await one.get(entry.key)).toBeUndefined();
      expect(one.getSync(entry.key)).toBeUndefined();
      // An entry the shared store still holds is confirmed again.
      const other = makeEntry({ tags: ['Product:9'], renderedAt: await one.clock() });
      await one.setIfCurrent(other);
      await sleep(300);
      expect(one.getSync(other.key)).toBeUndefined();
      expect((await one.get(other.key))?.key).toBe(other.key);
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

/** The eviction bus connection of a tiered store (private: the tests look at its state). */
const busOf = (store: TieredOutputCacheStore) =>
  (store as unknown as { subscriber?: Redis }).subscriber;

describe('tiered store: closing', () => {
  it('closes within a bound when Redis is unreachable, while its bus is still subscribing', async () => {
    const store = new TieredOutputCacheStore({
      redis: { url: UNREACHABLE_REDIS_URL, prefix: `${prefix}down:` },
    });
    // A request storing its page while Redis is down: it waits for the bus, which waits for Redis.
    const storing = store.set(makeEntry()).then(
      () => 'stored',
      (error: Error) => error.message,
    );
    await waitFor(() => busOf(store) !== undefined, 10_000, 'the eviction bus');
    const bus = busOf(store)!;
    const main = await store.l2.redis();
    const started = Date.now();
    await store.close(); // what SIGTERM ends in (app.close())
    // About a second at most in fact; a wide margin for a busy machine.
    expect(Date.now() - started).toBeLessThan(5000);
    expect(await storing).not.toBe('stored');
    const reconnects = watchReconnects([bus, main]);
    await new Promise((r) => setTimeout(r, 1500)); // longer than the longest retry delay
    expect(reconnects.attempts).toBe(0);
    expect(busOf(store)).toBeUndefined();
  }, 20_000);

  it('closes within a bound when Redis is unreachable, after it started without it', async () => {
    const store = new TieredOutputCacheStore({
      redis: { url: UNREACHABLE_REDIS_URL, prefix: `${prefix}down:` },
    });
    // The bus is not subscribed, and the store goes on: calls fail fast, they do not hang.
    await store.start();
    await expect(store.set(makeEntry())).rejects.toThrow();
    const bus = busOf(store)!;
    const main = await store.l2.redis();
    expect(bus.status).not.toBe('ready');
    const started = Date.now();
    await store.close();
    expect(Date.now() - started).toBeLessThan(5000);
    const reconnects = watchReconnects([bus, main]);
    await new Promise((r) => setTimeout(r, 1500));
    expect(reconnects.attempts).toBe(0);
  }, 20_000);

  it('the close of a reachable store still quits cleanly, the bus too', async () => {
    const name = uniqueConnectionName('tiered-quit');
    const admin = await connectRedis();
    const store = new TieredOutputCacheStore({
      redis: { url: REDIS_URL, prefix: `${prefix}quit:`, redis: { connectionName: name } },
    });
    try {
      await store.set(makeEntry());
      const bus = busOf(store)!;
      const main = await store.l2.redis();
      const quits = [countQuits(bus), countQuits(main)];
      expect(await connectionsNamed(admin, name)).toBe(2);
      await store.close();
      expect(quits.map((q) => q.count)).toEqual([1, 1]);
      expect([bus.status, main.status]).toEqual(['end', 'end']);
      expect(await connectionsNamed(admin, name)).toBe(0);
    } finally {
      await deletePrefix(admin, `${prefix}quit:`);
      admin.disconnect();
    }
  });

  it('after close, a late call rejects at once and connects nothing again', async () => {
    const name = uniqueConnectionName('tiered-late');
    const admin = await connectRedis();
    const store = new TieredOutputCacheStore({
      redis: { url: REDIS_URL, prefix: `${prefix}late:`, redis: { connectionName: name } },
    });
    try {
      const entry = makeEntry();
      await store.set(entry);
      expect(store.getSync(entry.key)).toBeDefined();
      await store.close();
      expect(await connectionsNamed(admin, name)).toBe(0);

      // A late caller (a background compression storing a variant after app.close()).
      const calls: Promise<unknown>[] = [...callEveryMethod(store, entry), store.start()];
      // At once: settled within one turn of the event loop (no connection, no timer).
      let settled = false;
      void Promise.allSettled([...calls, store.l2.redis()]).then(() => (settled = true));
      await drainMicrotasks();
      expect(settled).toBe(true);
      for (const call of calls) {
        await expect(call).rejects.toThrow(/TieredOutputCacheStore is closed/);
      }
      await expect(store.l2.redis()).rejects.toThrow(/RedisOutputCacheStore is closed/);
      expect(store.getSync(entry.key)).toBeUndefined();
      await new Promise((r) => setTimeout(r, 300));
      expect(await connectionsNamed(admin, name)).toBe(0);
      expect(busOf(store)).toBeUndefined();
      await store.close(); // closing twice is harmless
    } finally {
      await deletePrefix(admin, `${prefix}late:`);
      admin.disconnect();
    }
  });
});

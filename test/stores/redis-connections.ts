import type { Cluster, Redis } from 'ioredis';
import type { CacheEntry, LockingStore, SoftEvictingStore } from '../../lib/index.js';
import type { TieredOutputCacheStore } from '../../lib/redis.js';
import { checkEvictionBus as checkBus } from '../../lib/testing.js';
import { connectRedis, deletePrefix } from '../helpers/redis.js';

/** A Redis nobody listens on: connections are refused at once, and retried. */
export const UNREACHABLE_REDIS_URL = 'redis://127.0.0.1:1';

/** A connection name no other test uses, to find a store's connections in CLIENT LIST. */
export function uniqueConnectionName(label: string): string {
  return `oc-${label}-${process.pid}-${Math.random().toString(36).slice(2, 10)}`;
}

/** How many connections the server holds under `name` (CLIENT LIST, seen from `admin`). */
export async function connectionsNamed(admin: Redis, name: string): Promise<number> {
  const list = (await admin.client('LIST')) as string;
  return list.split('\n').filter((line) => line.includes(` name=${name} `)).length;
}

/** Counts the QUIT commands sent through `client`. */
export function countQuits(client: Redis | Cluster): { count: number } {
  const counter = { count: 0 };
  const quit = client.quit.bind(client);
  client.quit = ((...args: Parameters<Redis['quit']>) => {
    counter.count++;
    return quit(...args);
  }) as Redis['quit'];
  return counter;
}

/** Records every attempt of `clients` to connect again from now on. */
export function watchReconnects(clients: (Redis | Cluster)[]): { attempts: number } {
  const seen = { attempts: 0 };
  for (const client of clients) {
    client.on('connecting', () => seen.attempts++);
    client.on('reconnecting', () => seen.attempts++);
  }
  return seen;
}

/** Resolves once `check()` holds, or throws after `timeoutMs`. */
export async function waitFor(check: () => boolean, timeoutMs: number, what: string) {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A late call to every method a closed Redis-backed store shares (each must reject at once). */
export function callEveryMethod(
  store: LockingStore & SoftEvictingStore,
  entry: CacheEntry,
): Promise<unknown>[] {
  return [
    store.set(entry),
    store.get(entry.key),
    store.delete(entry.key),
    store.evictTags(['x']),
    store.evictPrefix('/'),
    store.clear(),
    store.count(),
    store.list({ skip: 0, take: 10 }),
    store.markStale({ all: true }),
    store.acquireLock(entry.key, 1000),
  ];
}

/**
 * The tiered store's bus between two instances (the exported check: every kind of eviction made
 * on `one` reaches `two`, and not `one` itself). Closes both.
 */
export async function checkEvictionBus(
  one: TieredOutputCacheStore,
  two: TieredOutputCacheStore,
): Promise<void> {
  try {
    await Promise.all([one.start(), two.start()]);
    await checkBus(one, two);
  } finally {
    await one.clear();
    await Promise.all([one.close(), two.close()]);
  }
}

/**
 * The contract suite's lifecycle for a store on Redis keys under `prefix`: `create` empties the
 * prefix through an admin connection and makes the store, `createPeer` makes another instance,
 * `destroy` closes a store and (once, for the store and its peer) empties the prefix again.
 * `admin()` is that connection while the suite runs (to write raw entries).
 */
export function redisContractLifecycle<S extends { close(): Promise<void> }>(
  prefix: string,
  make: () => S,
) {
  let admin: Redis | undefined;
  return {
    admin: () => admin!,
    create: async () => {
      admin = await connectRedis();
      await deletePrefix(admin, prefix);
      return make();
    },
    createPeer: make,
    destroy: async (store: S) => {
      await store.close();
      const connection = admin;
      admin = undefined;
      if (connection) {
        await deletePrefix(connection, prefix);
        connection.disconnect();
      }
    },
  };
}

import fc from 'fast-check';
import {
  type CacheEntry,
  type EvictionClockStore,
  MemoryOutputCacheStore,
  type OutputCacheStore,
} from '../../lib/index.js';
import { RedisOutputCacheStore } from '../../lib/redis.js';
import { hasEvictionClock } from '../../lib/stores/store-capabilities.js';
import { assertEqualData, assertSameEntry } from '../../lib/testing.js';
import { TypeOrmOutputCacheStore } from '../../lib/typeorm.js';
import { connectRedis, deletePrefix, REDIS_URL } from '../helpers/redis.js';
import { cacheEntryArbitrary } from './cache-entry.arbitrary.js';
import { fuzzParameters } from './fuzz-parameters.js';

/**
 * Timestamps a store keeps: an hour to a day ahead (an entry past its retention is dropped; an
 * hour outlasts a slow run on a loaded machine).
 */
const now = Date.now();
const future = fc.integer({ min: now + 3_600_000, max: now + 86_400_000 });

/**
 * The entry as a store with an eviction clock must be given it: rendered at the clock now (an
 * older render time could be overtaken by an earlier run's eviction, and be refused).
 */
async function forStore(store: OutputCacheStore, entry: CacheEntry): Promise<CacheEntry> {
  if (entry.renderedAt === undefined || !hasEvictionClock(store)) return entry;
  return { ...entry, renderedAt: await (store as EvictionClockStore).clock() };
}

const prefix = `oc-fuzz:${process.pid}:${Date.now().toString(36)}:`;

const stores: [string, () => Promise<{ store: OutputCacheStore; close: () => Promise<void> }>][] = [
  ['memory', async () => ({ store: new MemoryOutputCacheStore(), close: async () => undefined })],
  [
    'redis',
    async () => {
      const admin = await connectRedis();
      const store = new RedisOutputCacheStore({
        url: REDIS_URL,
        prefix,
        cleanupInterval: 0,
        sweep: 'inline',
        redis: { commandTimeout: 5000 },
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
  ],
  [
    'typeorm (sqlite)',
    async () => {
      const store = new TypeOrmOutputCacheStore({
        dataSourceOptions: { type: 'better-sqlite3', database: ':memory:' },
        synchronize: true,
        pruneInterval: 0,
      });
      return { store, close: () => store.close() };
    },
  ],
];

describe.each(stores)('fuzz: an entry round-trips through the %s store', (name, open) => {
  let opened: Awaited<ReturnType<typeof open>>;
  beforeAll(async () => {
    opened = await open();
  });
  afterAll(() => opened?.close());

  it('set then get gives back every field, byte for byte', async () => {
    await fc.assert(
      fc.asyncProperty(cacheEntryArbitrary({ timestamps: future }), async (generated) => {
        // A failed run (while fast-check shrinks it) must not leave its entry to the next one;
        // deleted before the render time is read (on a clock store a delete is an eviction).
        await opened.store.delete(generated.key);
        const entry = await forStore(opened.store, generated);
        await opened.store.set(entry);
        assertSameEntry(await opened.store.get(entry.key), entry);
        // Listed as it was stored: what an admin page shows of it.
        const summary = (await opened.store.list({ skip: 0, take: 10 })).find(
          (listed) => listed.key === entry.key,
        )!;
        expect(summary).toBeDefined();
        assertEqualData(
          [summary.key, summary.path, summary.routeId, summary.tags, summary.status, summary.size],
          [entry.key, entry.path, entry.routeId, entry.tags, entry.status, entry.body.length],
        );
        assertEqualData([summary.createdAt, summary.expiresAt], [entry.createdAt, entry.expiresAt]);
        expect(await opened.store.delete(entry.key)).toBe(true);
      }),
      fuzzParameters(150),
    );
  }, 300_000);
});

import fc from 'fast-check';
import {
  type CacheEntry,
  type EvictionClockStore,
  MemoryOutputCacheStore,
  type OutputCacheStore,
} from '../../lib/index.js';
import { RedisOutputCacheStore } from '../../lib/redis.js';
import { retainUntil } from '../../lib/stores/cache-entry.js';
import { hasEvictionClock } from '../../lib/stores/store-capabilities.js';
import { assertEqualData, assertSameEntry } from '../../lib/testing.js';
import { TypeOrmOutputCacheStore } from '../../lib/typeorm.js';
import { connectRedis, deletePrefix, REDIS_URL } from '../helpers/redis.js';
import { cacheEntryArbitrary } from './cache-entry.arbitrary.js';
import { fuzzParameters } from './fuzz-parameters.js';

/** Timestamps a store keeps: from now to a day ahead (an entry past its retention is dropped). */
const now = Date.now();
const future = fc.integer({ min: now + 120_000, max: now + 86_400_000 });

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
        // A failed run (while fast-check shrinks it) leaves its entry behind.
        await opened.store.clear();
        const entry = await forStore(opened.store, generated);
        await opened.store.set(entry);
        assertSameEntry(await opened.store.get(entry.key), entry);
        // Listed as it was stored: what an admin page shows of it.
        const [summary, ...others] = await opened.store.list({ skip: 0, take: 10 });
        expect(others).toHaveLength(0);
        assertEqualData(
          [summary.key, summary.path, summary.routeId, summary.tags, summary.status, summary.size],
          [entry.key, entry.path, entry.routeId, entry.tags, entry.status, entry.body.length],
        );
        // The TypeORM store lists the row's retention as `expiresAt` (its column keeps no
        // freshness): a known divergence, see /work/notes/fuzz-findings.md.
        const listedExpiry = name.startsWith('typeorm') ? retainUntil(entry) : entry.expiresAt;
        assertEqualData([summary.createdAt, summary.expiresAt], [entry.createdAt, listedExpiry]);
        expect(await opened.store.delete(entry.key)).toBe(true);
      }),
      fuzzParameters(150),
    );
  }, 120_000);
});

import { TestClock } from '../../test/helpers/test-clock.js';
import type { CacheEntry } from './cache-entry.js';
import { MemoryOutputCacheStore } from './memory.store.js';

// Expiry is checked by moving the clock past a TTL: a 30 ms TTL read "still there" right after
// the write broke on a busy machine, and a sleep proves nothing a clock does not.
const clock = new TestClock();
beforeEach(() => clock.install());
afterEach(() => clock.restore());

const entry = (key: string, tags: string[], ttlMs = 60_000, size = 10): CacheEntry => ({
  key,
  status: 200,
  headers: { 'content-type': 'text/html; charset=utf-8' },
  body: Buffer.alloc(size, 'x'),
  tags,
  path: `/${key}`,
  routeId: 'Pages/page',
  createdAt: Date.now(),
  expiresAt: Date.now() + ttlMs,
});

describe('MemoryOutputCacheStore', () => {
  it('expires entries with their TTL', async () => {
    const store = new MemoryOutputCacheStore();
    await store.set(entry('a', [], 30_000));
    expect(await store.get('a')).toBeDefined();
    clock.advance(30_000);
    expect(await store.get('a')).toBeUndefined();
    expect(await store.count()).toBe(0);
  });

  it('evicts by tag and cleans the tag index when entries go', async () => {
    const store = new MemoryOutputCacheStore({ maxEntries: 2 });
    await store.set(entry('a', ['t1', 't2']));
    await store.set(entry('b', ['t2']));
    await store.set(entry('c', ['t3'])); // LRU drops a
    expect(await store.evictTags(['t1'])).toBe(0);
    expect(await store.evictTags(['t2'])).toBe(1);
    expect(await store.count()).toBe(1);
  });

  it('re-indexes tags when an entry is replaced', async () => {
    const store = new MemoryOutputCacheStore();
    await store.set(entry('a', ['old']));
    await store.set(entry('a', ['new']));
    expect(await store.evictTags(['old'])).toBe(0);
    expect(await store.evictTags(['new'])).toBe(1);
  });

  it('refuses an entry larger than maxBytes without losing others', async () => {
    const store = new MemoryOutputCacheStore({ maxBytes: 10_000 });
    await store.set(entry('small', ['t']));
    await store.set(entry('huge', ['t'], 60_000, 20_000));
    expect(await store.get('huge')).toBeUndefined();
    expect(await store.get('small')).toBeDefined();
  });

  it('lists pages and evicts by prefix', async () => {
    const store = new MemoryOutputCacheStore();
    for (const k of ['blog-a', 'blog-b', 'page']) await store.set(entry(k, []));
    expect(await store.list({ skip: 1, take: 1 })).toHaveLength(1);
    expect(await store.evictPrefix('/blog')).toBe(2);
    expect((await store.list({ skip: 0, take: 10 })).map((e) => e.key)).toEqual(['page']);
  });

  it('reports what it drops on its own (lru, expiry), not what callers delete or replace', async () => {
    const store = new MemoryOutputCacheStore({ maxEntries: 2 });
    const seen: string[] = [];
    const stop = store.onEvicted((cause, key) => seen.push(`${cause}:${key}`));
    await store.set(entry('a', ['t']));
    await store.set(entry('b', []));
    await store.set(entry('b', [])); // replaced
    await store.set(entry('c', [], 20_000)); // the bound drops a
    await store.delete('b');
    await store.evictTags(['t']);
    clock.advance(20_000);
    expect(await store.get('c')).toBeUndefined(); // expired, dropped on this read
    await store.set(entry('d', []));
    await store.clear();
    expect(seen).toEqual(['lru:a', 'expiry:c']);
    stop();
    await store.set(entry('e', [], 1_000));
    clock.advance(1_000);
    await store.get('e');
    expect(seen).toHaveLength(2);
  });

  it('says how many entries and bytes it holds', async () => {
    const store = new MemoryOutputCacheStore();
    expect(store.usage()).toEqual({ entries: 0, bytes: 0 });
    await store.set(entry('a', [], 60_000, 1000));
    expect(store.usage().entries).toBe(1);
    expect(store.usage().bytes).toBeGreaterThanOrEqual(1000);
  });
});

import type {
  CacheEntry,
  EvictionClockStore,
  OutputCacheStore,
  SoftEvictingStore,
  StaleSelector,
} from '../../lib/index.js';

/** What a store's test file gives the contract suite. */
export interface StoreUnderTest {
  store: OutputCacheStore;
  /** Writes raw bytes where the store keeps `key`'s entry (stores that keep bytes). */
  writeRaw?: (key: string, bytes: Buffer) => Promise<void>;
  /** Releases connections; the store's own close is tested here too. */
  close: () => Promise<void>;
}

let seq = 0;
export function makeEntry(overrides: Partial<CacheEntry> = {}): CacheEntry {
  const n = ++seq;
  const now = Date.now();
  return {
    key: `https://shop.example/p/${n}?#Pages%2Fpage|`,
    status: 200,
    headers: { 'content-type': 'text/html; charset=utf-8', 'x-multi': ['a', 'b'] },
    body: Buffer.from(`<p>entry ${n}</p>`),
    tags: ['route:Pages/page', `Product:${n}`],
    path: `/p/${n}`,
    routeId: 'Pages/page',
    createdAt: now,
    expiresAt: now + 60_000,
    ...overrides,
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** What the contract can do with a store. */
export interface StoreCapabilities {
  /** The store keeps bytes (it must give `writeRaw`): corrupt entries are tested. */
  keepsBytes: boolean;
  /** The store implements `markStale` (soft eviction): its rules are tested. */
  softEviction?: boolean;
}

/** The store's `markStale`, or a failure saying the store claimed it without implementing it. */
function softEvicting(
  name: string,
  store: OutputCacheStore,
): { markStale(selector: StaleSelector): Promise<number> } {
  const soft = store as { markStale?: (selector: StaleSelector) => Promise<number> };
  if (typeof soft.markStale !== 'function') {
    throw new Error(`${name}: a store tested for soft eviction must implement markStale`);
  }
  return soft as { markStale(selector: StaleSelector): Promise<number> };
}

/**
 * The contract every store passes (one suite, run against each store, as bentocache does):
 * reads and writes, expiry, tags, routes, prefixes, listing, binary and large bodies,
 * concurrency, unreadable entries as misses and, for stores that have it, soft eviction.
 */
export function describeStoreContract(
  name: string,
  open: () => Promise<StoreUnderTest>,
  capabilities: StoreCapabilities,
): void {
  describe(`${name} store contract`, () => {
    let sut: StoreUnderTest;
    let store: OutputCacheStore;

    beforeAll(async () => {
      sut = await open();
      store = sut.store;
    });
    afterAll(() => sut?.close());
    beforeEach(async () => {
      await store.clear();
    });

    it('gets what was set, every field intact', async () => {
      const entry = makeEntry({
        holes: [
          { at: 3, name: 'MiniCart', args: '{"a":1}' },
          { at: 5, name: 'Blog/Summary', args: '{}', json: true },
        ],
      });
      await store.set(entry);
      const got = await store.get(entry.key);
      expect(got).toBeDefined();
      expect({ ...got!, body: got!.body.toString() }).toEqual({
        ...entry,
        body: entry.body.toString(),
      });
      expect(Buffer.isBuffer(got!.body)).toBe(true);
      expect(await store.get('https://nope/')).toBeUndefined();
    });

    it('replaces an entry, and its tags with it', async () => {
      const entry = makeEntry({ tags: ['old'] });
      await store.set(entry);
      await store.set({ ...entry, body: Buffer.from('new'), tags: ['new'] });
      expect((await store.get(entry.key))!.body.toString()).toBe('new');
      expect(await store.evictTags(['old'])).toBe(0);
      expect(await store.evictTags(['new'])).toBe(1);
      expect(await store.get(entry.key)).toBeUndefined();
    });

    it('expires entries with their TTL', async () => {
      const now = Date.now();
      const short = makeEntry({ createdAt: now, expiresAt: now + 300 });
      const long = makeEntry();
      await store.set(short);
      await store.set(long);
      expect(await store.get(short.key)).toBeDefined();
      await sleep(450);
      expect(await store.get(short.key)).toBeUndefined();
      expect(await store.get(long.key)).toBeDefined();
      expect(await store.count()).toBe(1);
      expect((await store.list({ skip: 0, take: 10 })).map((e) => e.key)).toEqual([long.key]);
    });

    it('evicts by tag, returning how many went', async () => {
      const a = makeEntry({ tags: ['route:A/a', 'Product:1', 'Product'] });
      const b = makeEntry({ tags: ['route:A/a', 'Product:2', 'Product'] });
      const c = makeEntry({ tags: ['route:B/b', 'Category:1'] });
      for (const e of [a, b, c]) await store.set(e);
      expect(await store.evictTags(['Product:1'])).toBe(1);
      expect(await store.get(a.key)).toBeUndefined();
      expect(await store.get(b.key)).toBeDefined();
      expect(await store.evictTags(['Product', 'Category:1'])).toBe(2);
      expect(await store.count()).toBe(0);
      expect(await store.evictTags(['nothing'])).toBe(0);
    });

    it('evicts by route (its route: tag)', async () => {
      const a = makeEntry({ tags: ['route:Blog/Blog/post'] });
      const b = makeEntry({ tags: ['route:Blog/Blog/list'] });
      await store.set(a);
      await store.set(b);
      expect(await store.evictTags(['route:Blog/Blog/post'])).toBe(1);
      expect(await store.get(b.key)).toBeDefined();
    });

    it('evicts by path prefix', async () => {
      const a = makeEntry({ path: '/blog/a' });
      const b = makeEntry({ path: '/blog' });
      const c = makeEntry({ path: '/blogger' });
      const d = makeEntry({ path: '/shop/blog' });
      for (const e of [a, b, c, d]) await store.set(e);
      expect(await store.evictPrefix('/blog/')).toBe(1);
      expect(await store.evictPrefix('/blog')).toBe(2);
      expect(await store.get(d.key)).toBeDefined();
      expect(await store.evictPrefix("/x%'_")).toBe(0);
    });

    it('deletes one key, and clears everything', async () => {
      const a = makeEntry();
      const b = makeEntry();
      await store.set(a);
      await store.set(b);
      expect(await store.delete(a.key)).toBe(true);
      expect(await store.delete(a.key)).toBe(false);
      expect(await store.clear()).toBe(1);
      expect(await store.count()).toBe(0);
      expect(await store.get(b.key)).toBeUndefined();
    });

    it('counts and lists in pages', async () => {
      const entries = Array.from({ length: 7 }, () => makeEntry());
      for (const e of entries) await store.set(e);
      expect(await store.count()).toBe(7);
      const first = await store.list({ skip: 0, take: 4 });
      const rest = await store.list({ skip: 4, take: 4 });
      expect(first).toHaveLength(4);
      expect(rest).toHaveLength(3);
      const keys = new Set([...first, ...rest].map((e) => e.key));
      expect(keys).toEqual(new Set(entries.map((e) => e.key)));
      const summary = first[0];
      const source = entries.find((e) => e.key === summary.key)!;
      expect(summary).toMatchObject({
        path: source.path,
        routeId: source.routeId,
        status: 200,
        size: source.body.length,
        tags: source.tags,
      });
    });

    it('keeps binary bodies byte for byte', async () => {
      const body = Buffer.from(Array.from({ length: 1024 }, (_, i) => i % 256));
      const entry = makeEntry({ body, headers: { 'content-type': 'application/octet-stream' } });
      await store.set(entry);
      expect(Buffer.compare((await store.get(entry.key))!.body, body)).toBe(0);
    });

    it('keeps a body near maxEntryBytes (8 MiB)', async () => {
      const body = Buffer.alloc(8 * 1024 * 1024 - 1024, 'y');
      body[0] = 0;
      body[body.length - 1] = 255;
      const entry = makeEntry({ body });
      await store.set(entry);
      const got = await store.get(entry.key);
      expect(got!.body.length).toBe(body.length);
      expect(Buffer.compare(got!.body, body)).toBe(0);
    });

    it('leaves no tagged entry behind when sets and evictions of a tag run concurrently', async () => {
      const entries = Array.from({ length: 100 }, () => makeEntry({ tags: ['hot', 'route:X/x'] }));
      await Promise.all([
        ...entries.map((e) => store.set(e)),
        store.evictTags(['hot']),
        store.evictTags(['hot']),
      ]);
      await store.evictTags(['hot']);
      for (const e of entries) expect(await store.get(e.key)).toBeUndefined();
      expect(await store.count()).toBe(0);
    });

    // A store that keeps objects (memory, a tiered L1) has no bytes to corrupt: the test
    // exists only for stores that keep bytes.
    if (capabilities.keepsBytes)
      it('reads a corrupt or older-format entry as a miss', async () => {
        if (!sut.writeRaw) throw new Error(`${name}: a store that keeps bytes must give writeRaw`);
        const entry = makeEntry();
        await store.set(entry);
        await sut.writeRaw(entry.key, Buffer.from('garbage that is not an entry'));
        expect(await store.get(entry.key)).toBeUndefined();
        await store.set(entry);
        await sut.writeRaw(entry.key, Buffer.from([0x4f, 0x43, 0, 1, 2, 3])); // version 0
        expect(await store.get(entry.key)).toBeUndefined();
        await sut.writeRaw(entry.key, Buffer.from([0x4f, 0x43, 1, 0xc1, 0xff])); // bad msgpack
        expect(await store.get(entry.key)).toBeUndefined();
      });

    // An eviction always takes effect: soft, the entry is served stale through its grace while
    // one refresh runs; an entry with no grace to be served stale in goes, as in a hard one.
    if (capabilities.softEviction) {
      it('soft eviction of an entry without grace deletes it', async () => {
        const soft = softEvicting(name, store);
        const noGrace = makeEntry({ tags: ['soft', 'route:S/s'] });
        // Grace equal to expiry (no grace), though kept longer for stale-if-error.
        const zeroGrace = makeEntry({ tags: ['soft'] });
        zeroGrace.graceUntil = zeroGrace.expiresAt;
        zeroGrace.retainUntil = zeroGrace.expiresAt + 30_000;
        const byKey = makeEntry();
        const byPrefix = makeEntry({ path: '/soft/a' });
        const other = makeEntry({ tags: ['other'] });
        for (const e of [noGrace, zeroGrace, byKey, byPrefix, other]) await store.set(e);

        expect(await soft.markStale({ tags: ['soft'] })).toBe(2);
        expect(await store.get(noGrace.key)).toBeUndefined();
        expect(await store.get(zeroGrace.key)).toBeUndefined();
        expect(await soft.markStale({ key: byKey.key })).toBe(1);
        expect(await store.get(byKey.key)).toBeUndefined();
        expect(await soft.markStale({ prefix: '/soft/' })).toBe(1);
        expect(await store.get(byPrefix.key)).toBeUndefined();
        expect(await store.get(other.key)).toBeDefined();
        expect(await store.count()).toBe(1);
        expect(await soft.markStale({ all: true })).toBe(1);
        expect(await store.get(other.key)).toBeUndefined();
        expect(await store.count()).toBe(0);
        expect(await store.list({ skip: 0, take: 10 })).toEqual([]);
        expect(await soft.markStale({ key: 'https://nope/' })).toBe(0);
      });

      it('soft eviction of an entry with grace leaves it stale but readable until its grace ends', async () => {
        const soft = softEvicting(name, store);
        // Wide enough that a loaded machine still reads it within its grace.
        const graceMs = 2000;
        const now = Date.now();
        const entry = makeEntry({
          tags: ['soft-grace'],
          expiresAt: now + 60_000,
          graceUntil: now + 60_000 + graceMs,
          retainUntil: now + 60_000 + graceMs,
        });
        const fresh = makeEntry({ tags: ['untouched'] });
        await store.set(entry);
        await store.set(fresh);
        const before = Date.now();
        expect(await soft.markStale({ tags: ['soft-grace'] })).toBe(1);
        const after = Date.now();

        const stale = await store.get(entry.key);
        expect(stale).toBeDefined();
        expect(stale!.body.toString()).toBe(entry.body.toString());
        // Stale from the eviction on, with its grace counted from then.
        expect(stale!.expiresAt).toBeGreaterThanOrEqual(before);
        expect(stale!.expiresAt).toBeLessThanOrEqual(after);
        expect(stale!.graceUntil! - stale!.expiresAt).toBe(graceMs);
        expect(await store.count()).toBe(2);
        // Already stale: a second soft eviction neither counts it nor extends its grace.
        expect(await soft.markStale({ tags: ['soft-grace'] })).toBe(0);
        expect((await store.get(entry.key))!.graceUntil).toBe(stale!.graceUntil);
        expect((await store.get(fresh.key))!.expiresAt).toBe(fresh.expiresAt);

        await sleep(stale!.graceUntil! - Date.now() + 100);
        expect(await store.get(entry.key)).toBeUndefined();
        expect(await store.count()).toBe(1);
      });
    }
  });
}

/**
 * The eviction clock across two instances `a` and `b` of one shared store: an entry whose render
 * began before an eviction made on the other instance is refused and never read; one rendered
 * after it is kept and shared; `clear()` keeps the clock. `markOnly`, when the store can, marks
 * an eviction without deleting anything (an eviction cut short): it must still take effect.
 */
export async function checkEvictionClock(
  a: EvictionClockStore,
  b: EvictionClockStore & Partial<SoftEvictingStore>,
  options: { markOnly?: (tags: string[]) => Promise<unknown> } = {},
): Promise<void> {
  const cases: [string, () => Promise<unknown>][] = [
    ['a tag', () => b.evictTags(['Thing:1'])],
    ['its key', () => b.delete('k1')],
    ['a prefix of its path', () => b.evictPrefix('/thi')],
    ['everything', () => b.clear()],
  ];
  if (b.markStale) cases.push(['a tag, softly', () => b.markStale!({ tags: ['Thing:1'] })]);
  for (const [what, evict] of cases) {
    const renderedAt = await a.clock();
    await evict(); // on the other instance, after the render began
    const entry = makeEntry({ key: 'k1', path: '/things/1', tags: ['Thing:1'], renderedAt });
    expect({ what, kept: await a.setIfCurrent(entry) }).toEqual({ what, kept: false });
    expect(await a.get('k1')).toBeUndefined();
    // Rendered after the eviction: kept, and shared.
    const later = { ...entry, renderedAt: await a.clock() };
    expect({ what, kept: await a.setIfCurrent(later) }).toEqual({ what, kept: true });
    expect((await b.get('k1'))?.renderedAt).toBe(later.renderedAt);
    expect((await b.list({ skip: 0, take: 10 })).find((s) => s.key === 'k1')?.renderedAt).toBe(
      later.renderedAt,
    );
  }
  if (options.markOnly) {
    const cut = makeEntry({
      key: 'k2',
      path: '/cut',
      tags: ['Cut:1'],
      renderedAt: await a.clock(),
    });
    expect(await a.setIfCurrent(cut)).toBe(true);
    await options.markOnly(['Cut:1']); // and nothing else
    expect(await a.get('k2')).toBeUndefined();
  }
  // clear() keeps the clock: it never goes back.
  const before = await a.clock();
  await a.clear();
  expect(await b.clock()).toBeGreaterThan(before);
}

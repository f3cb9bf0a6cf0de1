import assert from 'node:assert/strict';
import type { CacheEntry } from '../stores/cache-entry.js';
import type { OutputCacheStore } from '../stores/output-cache-store.interface.js';
import { hasEvictionClock } from '../stores/store-capabilities.js';
import { assertEqualData, assertSameEntry } from './entry-assertions.js';
import type { StoreSuiteContext } from './store-suite-options.js';
import { makeTestEntry as makeEntry } from './test-entry.js';
import { waitUntil } from './wait-until.js';

/** What a page rendered now would carry on a store with an eviction clock: the clock now. */
async function renderedNow(store: OutputCacheStore): Promise<Partial<CacheEntry>> {
  return hasEvictionClock(store) ? { renderedAt: await store.clock() } : {};
}

/**
 * The core every store passes: reads and writes, expiry, evictions and their counts, listing,
 * bodies byte for byte, concurrency, unreadable entries as misses.
 */
export function describeCoreContract<S extends OutputCacheStore>(ctx: StoreSuiteContext<S>): void {
  const { it } = ctx;

  it('gets what was set, every field intact; a missing key is undefined', async () => {
    const store = ctx.store();
    const full = makeEntry({
      status: 203,
      headers: {
        'content-type': 'text/html; charset=utf-8',
        'x-multi': ['a', 'b', 'a'],
        'cache-control': 'public, max-age=60',
      },
      holes: [
        { at: 3, name: 'MiniCart', args: '{"a":1}' },
        { at: 5, name: 'Blog/Summary', args: '{}', json: true },
      ],
      etag: '"abc"',
      variants: { gzip: Buffer.from([0x1f, 0x8b, 0, 1]), br: Buffer.from([0xff, 0]) },
      ...(await renderedNow(store)),
    });
    const now = Date.now();
    full.graceUntil = full.expiresAt + 10_000;
    full.retainUntil = full.expiresAt + 20_000;
    // `{}`: tried, no variant worth keeping; it must not come back as "never tried".
    const settled = makeEntry({ variants: {} });
    const plain = makeEntry({ createdAt: now - 5000 });
    for (const entry of [full, settled, plain]) await store.set(entry);
    assertSameEntry(await store.get(full.key), full);
    assertSameEntry(await store.get(settled.key), settled);
    assertSameEntry(await store.get(plain.key), plain);
    assert.equal(await store.get('https://shop.example/never-set'), undefined);
  });

  it('replaces an entry, and its tags and path with it', async () => {
    const store = ctx.store();
    const entry = makeEntry({ tags: ['old'], path: '/old/1' });
    await store.set(entry);
    const replaced = { ...entry, body: Buffer.from('new'), tags: ['new'], path: '/new/1' };
    await store.set(replaced);
    assertSameEntry(await store.get(entry.key), replaced);
    assert.equal(await store.count(), 1);
    assert.equal(await store.evictTags(['old']), 0, 'the old tag no longer reaches it');
    assert.equal(await store.evictPrefix('/old/'), 0, 'the old path no longer reaches it');
    assert.equal(await store.evictTags(['new']), 1);
    assert.equal(await store.get(entry.key), undefined);
  });

  it('expires an entry at its expiry, never before, and drops it from count and list', async () => {
    const store = ctx.store();
    const now = Date.now();
    const short = makeEntry({ createdAt: now, expiresAt: now + 1000 });
    const long = makeEntry();
    await store.set(short);
    await store.set(long);
    const first = await store.get(short.key);
    // Only a read that ended before the expiry must find it: a loaded machine may be late.
    if (Date.now() < short.expiresAt) assertSameEntry(first, short);
    await waitUntil(async () => {
      const read = await store.get(short.key);
      if (read === undefined) {
        assert.ok(Date.now() >= short.expiresAt, 'expired before its expiresAt');
        return true;
      }
      return false;
    }, 'the short-lived entry to expire');
    assertSameEntry(await store.get(long.key), long);
    assert.equal(await store.count(), 1);
    const listed = await store.list({ skip: 0, take: 10 });
    assertEqualData(
      listed.map((e) => e.key),
      [long.key],
    );
  });

  it('keeps an entry until retainUntil when that is later than expiresAt', async () => {
    const store = ctx.store();
    const now = Date.now();
    // Stale already, kept (for grace and stale-if-error) for a minute more.
    const kept = makeEntry({ createdAt: now - 2000, expiresAt: now - 1000 });
    kept.graceUntil = now + 60_000;
    kept.retainUntil = now + 60_000;
    await store.set(kept);
    assertSameEntry(await store.get(kept.key), kept);
  });

  it('does not keep an entry set after its retention ended', async () => {
    const store = ctx.store();
    const gone = makeEntry({ createdAt: Date.now() - 5000, expiresAt: Date.now() - 1 });
    await store.set(gone);
    assert.equal(await store.get(gone.key), undefined);
    assert.equal(await store.count(), 0);
  });

  it('evicts by tag, returning how many went', async () => {
    const store = ctx.store();
    const a = makeEntry({ tags: ['route:A/a', 'Product:1', 'Product'] });
    const b = makeEntry({ tags: ['route:A/a', 'Product:2', 'Product'] });
    const c = makeEntry({ tags: ['route:B/b', 'Category:1'] });
    for (const e of [a, b, c]) await store.set(e);
    assert.equal(await store.evictTags(['Product:1']), 1);
    assert.equal(await store.get(a.key), undefined);
    assertSameEntry(await store.get(b.key), b);
    assert.equal(await store.evictTags(['Product', 'Category:1']), 2);
    assert.equal(await store.count(), 0);
    assert.equal(await store.evictTags(['nothing']), 0);
    assert.equal(await store.evictTags([]), 0);
  });

  it('evicts by route (its route: tag)', async () => {
    const store = ctx.store();
    const a = makeEntry({ tags: ['route:Blog/Blog/post'] });
    const b = makeEntry({ tags: ['route:Blog/Blog/list'] });
    await store.set(a);
    await store.set(b);
    assert.equal(await store.evictTags(['route:Blog/Blog/post']), 1);
    assert.equal(await store.get(a.key), undefined);
    assertSameEntry(await store.get(b.key), b);
  });

  it('evicts by path prefix, matched as plain text', async () => {
    const store = ctx.store();
    const a = makeEntry({ path: '/blog/a' });
    const b = makeEntry({ path: '/blog' });
    const c = makeEntry({ path: '/blogger' });
    const d = makeEntry({ path: '/shop/blog' });
    for (const e of [a, b, c, d]) await store.set(e);
    assert.equal(await store.evictPrefix('/blog/'), 1);
    assert.equal(await store.evictPrefix('/blog'), 2);
    assertSameEntry(await store.get(d.key), d);
    assert.equal(await store.evictPrefix("/x%'_"), 0);
  });

  it('matches tags and prefixes case-sensitively, and wildcards of SQL or globs literally', async () => {
    const store = ctx.store();
    const upper = makeEntry({ path: '/Blog/post', tags: ['Product:1'] });
    const lower = makeEntry({ path: '/blog/post', tags: ['product:1'] });
    const underscore = makeEntry({ path: '/a_c/1' });
    const letter = makeEntry({ path: '/abc/1' });
    const percent = makeEntry({ path: '/a%c/1' });
    const star = makeEntry({ path: '/s*[t]?/1' });
    const other = makeEntry({ path: '/st/1' });
    for (const e of [upper, lower, underscore, letter, percent, star, other]) await store.set(e);
    assert.equal(await store.evictTags(['Product:1']), 1);
    assertSameEntry(await store.get(lower.key), lower);
    assert.equal(await store.evictPrefix('/BLOG'), 0);
    assert.equal(await store.evictPrefix('/blog'), 1);
    assert.equal(await store.evictPrefix('/a_c'), 1);
    assert.equal(await store.evictPrefix('/a%'), 1);
    assertSameEntry(await store.get(letter.key), letter);
    assert.equal(await store.evictPrefix('/s*[t]?'), 1);
    assertSameEntry(await store.get(other.key), other);
  });

  it('deletes one key, and clears everything', async () => {
    const store = ctx.store();
    const a = makeEntry();
    const b = makeEntry();
    await store.set(a);
    await store.set(b);
    assert.equal(await store.delete(a.key), true);
    assert.equal(await store.delete(a.key), false);
    assert.equal(await store.get(a.key), undefined);
    assert.equal(await store.clear(), 1);
    assert.equal(await store.count(), 0);
    assert.equal(await store.get(b.key), undefined);
    assert.equal(await store.clear(), 0);
  });

  it('counts and lists in pages, with each entry summarised', async () => {
    const store = ctx.store();
    const entries = Array.from({ length: 7 }, () => makeEntry());
    for (const e of entries) await store.set(e);
    assert.equal(await store.count(), 7);
    const first = await store.list({ skip: 0, take: 4 });
    const rest = await store.list({ skip: 4, take: 4 });
    assert.equal(first.length, 4);
    assert.equal(rest.length, 3);
    assert.deepEqual(
      new Set([...first, ...rest].map((e) => e.key)),
      new Set(entries.map((e) => e.key)),
    );
    assertEqualData(await store.list({ skip: 0, take: 0 }), []);
    for (const summary of first) {
      const source = entries.find((e) => e.key === summary.key)!;
      assertEqualData(
        {
          path: summary.path,
          routeId: summary.routeId,
          status: summary.status,
          size: summary.size,
          tags: summary.tags,
          createdAt: summary.createdAt,
          expiresAt: summary.expiresAt,
        },
        {
          path: source.path,
          routeId: source.routeId,
          status: 200,
          size: source.body.length,
          tags: source.tags,
          createdAt: source.createdAt,
          expiresAt: source.expiresAt,
        },
      );
    }
  });

  it('keeps binary bodies byte for byte', async () => {
    const store = ctx.store();
    const body = Buffer.from(Array.from({ length: 1024 }, (_, i) => i % 256));
    const empty = makeEntry({ body: Buffer.alloc(0) });
    const entry = makeEntry({ body, headers: { 'content-type': 'application/octet-stream' } });
    await store.set(entry);
    await store.set(empty);
    assertSameEntry(await store.get(entry.key), entry);
    assertSameEntry(await store.get(empty.key), empty);
  });

  it('keeps a large body (near maxEntryBytes) byte for byte', async () => {
    const store = ctx.store();
    const body = Buffer.alloc(ctx.options.largeBodyBytes ?? 8 * 1024 * 1024 - 1024, 'y');
    body[0] = 0;
    body[body.length - 1] = 255;
    const entry = makeEntry({ body });
    await store.set(entry);
    const got = await store.get(entry.key);
    assert.ok(got, 'the large entry was not kept');
    assert.equal(got.body.length, body.length);
    assert.ok(got.body.equals(body), 'the large body came back different');
  });

  it('leaves no tagged entry behind when sets and evictions of a tag run concurrently', async () => {
    const store = ctx.store();
    const entries = Array.from({ length: 100 }, () => makeEntry({ tags: ['hot', 'route:X/x'] }));
    await Promise.all([
      ...entries.map((e) => store.set(e)),
      store.evictTags(['hot']),
      store.evictTags(['hot']),
    ]);
    await store.evictTags(['hot']);
    for (const e of entries) assert.equal(await store.get(e.key), undefined);
    assert.equal(await store.count(), 0);
  });

  if (ctx.options.writeRaw) {
    // A store that keeps objects has no bytes to corrupt: only stores that keep bytes give it.
    it('reads a corrupt or older-format entry as a miss, never an error', async () => {
      const store = ctx.store();
      const writeRaw = (key: string, bytes: Buffer) => ctx.options.writeRaw!(store, key, bytes);
      const entry = makeEntry();
      const cases: [string, Buffer][] = [
        ['bytes of another format', Buffer.from('garbage that is not an entry')],
        ['format version 0', Buffer.from([0x4f, 0x43, 0, 1, 2, 3])],
        ['a version from the future', Buffer.from([0x4f, 0x43, 0xff, 0x90, 0x90])],
        ['bad MessagePack', Buffer.from([0x4f, 0x43, 3, 0xc1, 0xff])],
        ['a cut entry', Buffer.from([0x4f, 0x43, 3, 0xdc, 0x00, 0x10, 0xa1])],
        ['nothing', Buffer.alloc(0)],
      ];
      for (const [what, bytes] of cases) {
        await store.set(entry);
        await writeRaw(entry.key, bytes);
        assert.equal(await store.get(entry.key), undefined, `${what} read as an entry`);
      }
    });
  }
}

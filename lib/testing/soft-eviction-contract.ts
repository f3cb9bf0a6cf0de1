import assert from 'node:assert/strict';
import type { OutputCacheStore } from '../stores/output-cache-store.interface.js';
import { canSoftEvict } from '../stores/store-capabilities.js';
import { assertEqualData, assertSameEntry } from './entry-assertions.js';
import type { StoreSuiteContext } from './store-suite-options.js';
import { makeTestEntry as makeEntry } from './test-entry.js';
import { waitUntil } from './wait-until.js';

/**
 * Soft eviction (`markStale`): an eviction always takes effect; an entry with grace is served
 * stale through its grace (counted from the eviction) while one refresh runs, and one without
 * grace goes, as in a hard eviction.
 */
export function describeSoftEvictionContract<S extends OutputCacheStore>(
  ctx: StoreSuiteContext<S>,
): void {
  const soft = () => {
    const store = ctx.store();
    if (!canSoftEvict(store)) throw new Error(`${ctx.name} declares soft eviction: no markStale`);
    return store;
  };

  ctx.itWhen('softEviction', 'an entry without grace is deleted, by any selector', async () => {
    const store = soft();
    const noGrace = makeEntry({ tags: ['soft', 'route:S/s'] });
    // Grace equal to expiry (no grace), though kept longer for stale-if-error.
    const zeroGrace = makeEntry({ tags: ['soft'] });
    zeroGrace.graceUntil = zeroGrace.expiresAt;
    zeroGrace.retainUntil = zeroGrace.expiresAt + 30_000;
    const byKey = makeEntry();
    const byPrefix = makeEntry({ path: '/soft/a' });
    const other = makeEntry({ tags: ['other'] });
    for (const e of [noGrace, zeroGrace, byKey, byPrefix, other]) await store.set(e);

    assert.equal(await store.markStale({ tags: ['soft'] }), 2);
    assert.equal(await store.get(noGrace.key), undefined);
    assert.equal(await store.get(zeroGrace.key), undefined);
    assert.equal(await store.markStale({ key: byKey.key }), 1);
    assert.equal(await store.get(byKey.key), undefined);
    assert.equal(await store.markStale({ prefix: '/soft/' }), 1);
    assert.equal(await store.get(byPrefix.key), undefined);
    assertSameEntry(await store.get(other.key), other);
    assert.equal(await store.count(), 1);
    assert.equal(await store.markStale({ all: true }), 1);
    assert.equal(await store.get(other.key), undefined);
    assert.equal(await store.count(), 0);
    assertEqualData(await store.list({ skip: 0, take: 10 }), []);
    assert.equal(await store.markStale({ key: 'https://nope/' }), 0);
  });

  ctx.itWhen(
    'softEviction',
    'an entry with grace stays readable, stale from the eviction, until its grace ends',
    async () => {
      const store = soft();
      // Long enough that a loaded machine still reads it within its grace.
      const graceMs = 3000;
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
      assert.equal(await store.markStale({ tags: ['soft-grace'] }), 1);
      const after = Date.now();

      const stale = await store.get(entry.key);
      const readAt = Date.now();
      assert.ok(stale, 'a soft-evicted entry with grace was not kept');
      assert.ok(stale.body.equals(entry.body));
      // Stale from the eviction on, with its grace counted from then.
      assert.ok(stale.expiresAt >= before && stale.expiresAt <= after, 'stale from the eviction');
      assert.equal(stale.graceUntil! - stale.expiresAt, graceMs);
      if (readAt < stale.graceUntil!) assert.equal(await store.count(), 2);
      // Already stale: a second soft eviction neither counts it nor extends its grace.
      assert.equal(await store.markStale({ tags: ['soft-grace'] }), 0);
      const again = await store.get(entry.key);
      if (again) assert.equal(again.graceUntil, stale.graceUntil);
      assertSameEntry(await store.get(fresh.key), fresh);

      await waitUntil(
        async () => (await store.get(entry.key)) === undefined,
        'the stale entry to go when its grace ended',
      );
      assert.ok(Date.now() >= stale.graceUntil!, 'the stale entry went before its grace ended');
      assert.equal(await store.count(), 1);
    },
  );
}

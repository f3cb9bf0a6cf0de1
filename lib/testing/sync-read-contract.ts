import assert from 'node:assert/strict';
import type {
  OutputCacheStore,
  SyncReadableStore,
} from '../stores/output-cache-store.interface.js';
import { canReadSync } from '../stores/store-capabilities.js';
import { assertSameEntry } from './entry-assertions.js';
import type { StoreSuiteContext } from './store-suite-options.js';
import { makeTestEntry as makeEntry } from './test-entry.js';
import { waitUntil } from './wait-until.js';

/**
 * Sync reads (`getSync`): an entry set on this instance is answered without a promise, and
 * `getSync` never answers what `get` would not (evicted, deleted, cleared or expired).
 */
export function describeSyncReadContract<S extends OutputCacheStore>(
  ctx: StoreSuiteContext<S>,
): void {
  const sync = (): SyncReadableStore => {
    const store = ctx.store();
    if (!canReadSync(store)) throw new Error(`${ctx.name} declares sync reads: no getSync`);
    return store;
  };

  ctx.itWhen('syncRead', 'answers at once, without a promise, what was set here', async () => {
    const store = sync();
    const entry = makeEntry();
    await store.set(entry);
    const read = store.getSync(entry.key);
    assert.ok(!(read instanceof Promise), 'getSync returned a promise');
    assertSameEntry(read, entry);
    assert.equal(store.getSync('https://shop.example/never-set'), undefined);
  });

  ctx.itWhen('syncRead', 'never answers an entry that was evicted or deleted', async () => {
    const store = sync();
    const byTag = makeEntry({ tags: ['sync:1'] });
    const byPrefix = makeEntry({ path: '/sync-prefix/1' });
    const byKey = makeEntry();
    const byClear = makeEntry();
    for (const e of [byTag, byPrefix, byKey, byClear]) await store.set(e);
    for (const e of [byTag, byPrefix, byKey, byClear]) assert.ok(store.getSync(e.key));
    await store.evictTags(['sync:1']);
    assert.equal(store.getSync(byTag.key), undefined, 'answered after evictTags');
    await store.evictPrefix('/sync-prefix/');
    assert.equal(store.getSync(byPrefix.key), undefined, 'answered after evictPrefix');
    await store.delete(byKey.key);
    assert.equal(store.getSync(byKey.key), undefined, 'answered after delete');
    await store.clear();
    assert.equal(store.getSync(byClear.key), undefined, 'answered after clear');
  });

  ctx.itWhen('syncRead', 'never answers an entry past its retention', async () => {
    const store = sync();
    const now = Date.now();
    const entry = makeEntry({ createdAt: now, expiresAt: now + 500 });
    await store.set(entry);
    await waitUntil(() => {
      if (store.getSync(entry.key) !== undefined) return false;
      assert.ok(Date.now() >= entry.expiresAt, 'gone before its expiry');
      return true;
    }, 'the entry to expire');
    assert.equal(await store.get(entry.key), undefined);
  });
}

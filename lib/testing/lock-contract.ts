import assert from 'node:assert/strict';
import type { LockingStore, OutputCacheStore } from '../stores/output-cache-store.interface.js';
import { canLock } from '../stores/store-capabilities.js';
import type { StoreSuiteContext } from './store-suite-options.js';
import { waitUntil } from './wait-until.js';

/**
 * The render lock (`acquireLock`): one holder per key at a time (across instances when a peer is
 * given), free again once released or once its time is up, and a late release of an expired
 * lock never frees the next holder's.
 */
export function describeLockContract<S extends OutputCacheStore>(ctx: StoreSuiteContext<S>): void {
  const locking = (store: OutputCacheStore): LockingStore => {
    if (!canLock(store)) throw new Error(`${ctx.name} declares a render lock: no acquireLock`);
    return store;
  };
  /** A second instance when the suite has one, else the same store (another caller). */
  const other = async (): Promise<LockingStore> =>
    locking(ctx.options.createPeer ? await ctx.peer() : ctx.store());
  let n = 0;
  const lockKey = () => `https://shop.example/lock/${process.pid}/${Date.now()}/${++n}`;

  ctx.itWhen('lock', 'is exclusive, per key, until released', async () => {
    const store = locking(ctx.store());
    const key = lockKey();
    const release = await store.acquireLock(key, 30_000);
    assert.equal(typeof release, 'function', 'a free lock was not granted');
    assert.equal(await store.acquireLock(key, 30_000), undefined, 'granted twice');
    assert.equal(await (await other()).acquireLock(key, 30_000), undefined, 'granted twice');
    const unrelated = await store.acquireLock(lockKey(), 30_000);
    assert.equal(typeof unrelated, 'function', 'a lock of another key was refused');
    await release!();
    const next = await (await other()).acquireLock(key, 30_000);
    assert.equal(typeof next, 'function', 'a released lock was not granted again');
    await next!();
    await unrelated!();
  });

  ctx.itWhen('lock', 'expires after its time when never released', async () => {
    const store = locking(ctx.store());
    const key = lockKey();
    const ttlMs = 300;
    const takenAt = Date.now();
    assert.equal(typeof (await store.acquireLock(key, ttlMs)), 'function');
    let again: (() => Promise<void>) | undefined;
    await waitUntil(async () => {
      again = await (await other()).acquireLock(key, ttlMs);
      // A grant that came back before the lock's time was up was not exclusive (a few ms of
      // slack for clock granularity).
      if (again) assert.ok(Date.now() >= takenAt + ttlMs - 5, 'granted again before it expired');
      return again !== undefined;
    }, 'the unreleased lock to expire');
    await again!();
  });

  ctx.itWhen(
    'lock',
    'a late release of an expired lock leaves the next holder’s alone',
    async () => {
      const store = locking(ctx.store());
      const key = lockKey();
      const first = await store.acquireLock(key, 200);
      assert.ok(first);
      let second: (() => Promise<void>) | undefined;
      await waitUntil(async () => {
        second = await (await other()).acquireLock(key, 30_000);
        return second !== undefined;
      }, 'the first lock to expire');
      await first(); // late: the lock is someone else's now
      assert.equal(await store.acquireLock(key, 30_000), undefined, 'the late release freed it');
      await second!();
    },
  );
}

import assert from 'node:assert/strict';
import type {
  EvictionBusStore,
  OutputCacheStore,
  RemoteEviction,
} from '../stores/output-cache-store.interface.js';
import { canReadSync, canSoftEvict, hasEvictionBus } from '../stores/store-capabilities.js';
import { assertEqualData } from './entry-assertions.js';
import type { StoreSuiteContext } from './store-suite-options.js';
import { makeTestEntry as makeEntry } from './test-entry.js';
import { waitUntil } from './wait-until.js';

let sentinels = 0;

/** What `listener` of `peer` heard from now on: earlier messages in flight are drained first. */
async function listenFromNow(
  one: EvictionBusStore,
  peer: EvictionBusStore,
): Promise<RemoteEviction[]> {
  const heard: RemoteEviction[] = [];
  peer.onRemoteEviction((eviction) => heard.push(eviction));
  // A bus delivers in order: once a fresh eviction arrives, everything sent before it (the
  // suite's own clear() before each test) has arrived too, and is dropped.
  const sentinel = `bus-sentinel:${process.pid}:${++sentinels}`;
  await one.evictTags([sentinel]);
  await waitUntil(
    () => heard.some((e) => e.kind === 'tags' && e.tags.includes(sentinel)),
    'the other instance to hear an eviction (is its bus subscribed once a call resolved?)',
  );
  heard.length = 0;
  return heard;
}

/**
 * Checks the eviction bus between two instances `one` and `peer` of a shared store: every kind
 * of eviction made on `one` reaches `peer`'s listeners, as it was made, and `peer` no longer
 * reads the entry (nor answers it synchronously); an instance does not hear its own evictions.
 * Both must have made a call first (a bus store hears evictions made after its first call).
 *
 * @example
 * ```ts
 * await Promise.all([one.get('warm-up'), two.get('warm-up')]);
 * await checkEvictionBus(one, two);
 * ```
 */
export async function checkEvictionBus(
  one: EvictionBusStore,
  peer: EvictionBusStore,
): Promise<void> {
  const heard = await listenFromNow(one, peer);
  const n = ++sentinels;
  const cases: [
    RemoteEviction,
    Partial<Parameters<typeof makeEntry>[0]>,
    () => Promise<unknown>,
  ][] = [
    [
      { kind: 'tags', tags: [`Bus:${n}`] },
      { tags: [`Bus:${n}`] },
      () => one.evictTags([`Bus:${n}`]),
    ],
    [
      { kind: 'prefix', prefix: `/bus/${n}/` },
      { path: `/bus/${n}/a` },
      () => one.evictPrefix(`/bus/${n}/`),
    ],
  ];
  const byKey = makeEntry();
  cases.push([{ kind: 'key', key: byKey.key }, { key: byKey.key }, () => one.delete(byKey.key)]);
  if (canSoftEvict(one)) {
    cases.push([
      { kind: 'tags', tags: [`BusSoft:${n}`] },
      { tags: [`BusSoft:${n}`] },
      () => one.markStale({ tags: [`BusSoft:${n}`] }),
    ]);
  }
  cases.push([{ kind: 'all' }, {}, () => one.clear()]);
  for (const [expected, fields, evict] of cases) {
    const entry = makeEntry(fields);
    await one.set(entry);
    assert.ok(
      await peer.get(entry.key),
      `the other instance does not read the entry (${expected.kind})`,
    );
    const before = heard.length;
    await evict();
    await waitUntil(() => heard.length > before, `the other instance to hear ${expected.kind}`);
    assertEqualData(heard.slice(before), [expected]);
    assert.equal(await peer.get(entry.key), undefined, `read after ${expected.kind}`);
    if (canReadSync(peer)) assert.equal(peer.getSync(entry.key), undefined);
  }

  // Its own evictions: not reported to itself. The bus delivers in order, so once `one` hears
  // the peer's eviction made after its own, its own would have arrived before.
  const own: RemoteEviction[] = [];
  one.onRemoteEviction((e) => own.push(e));
  await one.evictTags([`Own:${n}`]);
  await peer.evictTags([`Peer:${n}`]);
  await waitUntil(() => own.length > 0, 'the instance to hear the other one');
  assertEqualData(own, [{ kind: 'tags', tags: [`Peer:${n}`] }]);
}

/** The eviction bus (`onRemoteEviction`), across the store and its peer. */
export function describeEvictionBusContract<S extends OutputCacheStore>(
  ctx: StoreSuiteContext<S>,
): void {
  ctx.itWhen(
    'evictionBus',
    'another instance hears every eviction, as made, and not its own',
    async () => {
      const one = ctx.store();
      const peer = await ctx.peer();
      if (!hasEvictionBus(one) || !hasEvictionBus(peer)) {
        throw new Error(`${ctx.name} declares an eviction bus: no onRemoteEviction`);
      }
      // A bus store hears the evictions made after its first call resolved.
      await Promise.all([
        one.get('https://shop.example/warm-up'),
        peer.get('https://shop.example/warm-up'),
      ]);
      await checkEvictionBus(one, peer);
    },
  );
}
